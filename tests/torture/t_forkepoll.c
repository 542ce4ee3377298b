/*
 * t_forkepoll - fork() while another thread is inside epoll_ctl().
 *
 * One thread re-arms the connection in an epoll set without pause
 * (EPOLL_CTL_MOD); the main thread forks 200 children meanwhile, and each
 * child registers the descriptor it inherited in an epoll set of its own,
 * then exits.  A child that inherited a lock held by the other thread
 * would hang there (the watchdog ends the run).  Then the connection
 * still answers.
 *
 * Checks: every child exits 0 within 5 s, and the replies byte-exact.
 */
#include <sys/epoll.h>
#include <sys/wait.h>

#include "torture.h"

#define FORKS 200

static int g_fd, g_ep;
static volatile int g_stop;

static void *rearm(void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = g_fd };

	(void)arg;
	while (!g_stop) {
		ev.events ^= EPOLLOUT;
		if (epoll_ctl(g_ep, EPOLL_CTL_MOD, g_fd, &ev) < 0)
			die_errno("epoll_ctl(MOD)");
	}
	return NULL;
}

/* The child: its own epoll set with the inherited descriptor in it. */
static void child(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = g_fd };
	int ep = epoll_create1(0);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, g_fd, &ev) < 0)
		_exit(3);
	_exit(0);
}

static void await_child(pid_t pid, int i)
{
	double deadline = t_now_ms() + 5000;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			die_errno("waitpid");
		if (t_now_ms() > deadline) {
			kill(pid, SIGKILL);
			die("child %d of %d still running after 5 s: it hung in "
			    "epoll_ctl (a lock inherited held)", i, FORKS);
		}
		t_sleep_ms(1);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child %d: exit status %d", i, st);
	t_checked();
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t t;

	t_init(argc, argv);
	g_fd = t_connect();
	t_cmd_expect(g_fd, "+PONG\r\n", "PING", NULL);
	g_ep = epoll_create1(0);
	ev.data.fd = g_fd;
	if (g_ep < 0 || epoll_ctl(g_ep, EPOLL_CTL_ADD, g_fd, &ev) < 0)
		die_errno("epoll_ctl(ADD)");
	t_phase = "forks while another thread re-arms";
	if (pthread_create(&t, NULL, rearm, NULL) != 0)
		die("pthread_create failed");
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die_errno("fork");
		if (pid == 0)
			child();
		await_child(pid, i);
	}
	g_stop = 1;
	pthread_join(t, NULL);
	t_cmd_expect(g_fd, "+PONG\r\n", "PING", NULL);
	t_done();
}
