/*
 * t_exitsig.c - _exit() from a signal handler, as a daemon's SIGTERM or
 * SIGALRM handler calls it, while the program's thread is anywhere in a
 * call on its connections: the process ends at once (an async-signal-safe
 * _exit never waits for the thread it interrupted).
 *
 *   dupclose  a child with 40 connections (each answered a PING) loops on
 *             close(dup(fd)) of one of them; a timer (3 to 40 ms) raises
 *             SIGALRM, whose handler calls _exit(0).  Through the shim
 *             the close of a TLS socket's number takes locks of its own;
 *             a handler that waits for a lock its own thread holds never
 *             returns.  20 children, each must be gone within 5 s.
 *   write     the same with the loop writing PINGs (their replies read now
 *             and then), so the handler lands inside the session's calls
 *
 * A child that does not end is killed, and the case fails.
 */
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "torture.h"

#define NCONN 40
#define CHILDREN 20

static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

static void child_loop(int writes, unsigned seed)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa;
	char buf[4096];
	int fds[NCONN];

	for (int i = 0; i < NCONN; i++) {
		fds[i] = t_connect();
		t_cmd_expect(fds[i], "+PONG\r\n", "PING", NULL);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die_errno("%s: sigaction", t_phase);
	it.it_value.tv_usec = 3000 + (long)(seed * 7919u % 37000u);
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die_errno("%s: setitimer", t_phase);
	for (unsigned n = 0;; n++) {
		if (!writes) {
			int d = dup(fds[n % NCONN]);

			if (d < 0 || close(d) < 0)
				die_errno("%s: close(dup())", t_phase);
			continue;
		}
		t_write_all(fds[0], "PING\r\n", 6);
		if (n % 64 == 63 && read(fds[0], buf, sizeof(buf)) <= 0)
			die_errno("%s: read", t_phase);
	}
}

/* The child's end within 5 s: 0, or -1 (it was killed). */
static int reap(pid_t pid)
{
	int st;

	for (int i = 0; i < 500; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				die("%s: a child failed (status 0x%x)", t_phase, st);
			return 0;
		}
		if (r < 0)
			die_errno("%s: waitpid", t_phase);
		t_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void run(const char *name, int writes)
{
	int hung = 0;

	t_phase = name;
	for (unsigned c = 0; c < CHILDREN; c++) {
		pid_t pid = fork();

		if (pid < 0)
			die_errno("%s: fork", name);
		if (pid == 0)
			child_loop(writes, c);
		hung -= reap(pid);
	}
	if (hung > 0)
		die("%s: %d of %d children did not end within 5 s of the "
		    "_exit() in their SIGALRM handler", name, hung, CHILDREN);
	t_checked();
	printf("%s: ok (%d children)\n", name, CHILDREN);
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_EXITSIG_CASE");

	t_init(argc, argv);
	if (only == NULL || strcmp(only, "dupclose") == 0)
		run("dupclose", 0);
	if (only == NULL || strcmp(only, "write") == 0)
		run("write", 1);
	t_done();
}
