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
 *   malloc    a child on one connection writes to a stalled server (a 1 s
 *             script on another connection) without blocking, so the
 *             session holds ciphertext the kernel has not taken, then
 *             loops on malloc() and free(); SIGALRM after 2 to 7 ms, and
 *             its handler's _exit(0).  Through the shim the exit waits
 *             for those bytes (up to 2 s), and must neither allocate
 *             (the handler may have interrupted malloc, whose lock it
 *             would wait for) nor wait for ever on the relay thread
 *             that does.  6 children.
 *   selfpipe  no _exit: the handler write()s a byte to a self-pipe, as
 *             event loops do, every 200 us, while the child connects,
 *             PINGs and closes a connection in a loop for 1.5 s.  The
 *             pipe's end has a number one of the shim's own descriptors
 *             had (before the loop the child opens 8 connections and
 *             closes them): every hook asks whether such a number is the
 *             shim's still, and must not wait there for the lock the
 *             interrupted close() holds.  4 children.
 *
 * A child that does not end is killed, and the case fails.
 */
#include <dirent.h>
#include <fcntl.h>
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

static void arm_alarm(long us)
{
	struct itimerval it = { { 0, 0 }, { 0, us } };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die_errno("%s: sigaction", t_phase);
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die_errno("%s: setitimer", t_phase);
}

/* malloc: connected before the stall (ctl says when it runs). */
static void child_malloc(const struct tbuf *b, int ctl, unsigned seed)
{
	int fd = t_connect();
	char c = 0;

	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	if (write(ctl, &c, 1) != 1 || read(ctl, &c, 1) != 1)
		_exit(3);
	t_set_nonblock(fd, 1);
	if (write(fd, b->p, b->len) <= 0)
		die_errno("%s: write to a stalled server", t_phase);
	arm_alarm(2000 + (long)seed * 1000);
	for (;;) {
		void *p[64];

		for (int i = 0; i < 64; i++)
			p[i] = malloc(100 + (size_t)i * 37);
		for (int i = 0; i < 64; i++)
			free(p[i]);
	}
}

static void child_loop(int writes, unsigned seed)
{
	char buf[4096];
	int fds[NCONN];

	for (int i = 0; i < NCONN; i++) {
		fds[i] = t_connect();
		t_cmd_expect(fds[i], "+PONG\r\n", "PING", NULL);
	}
	arm_alarm(3000 + (long)(seed * 7919u % 37000u));
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

static void run_malloc(void)
{
	struct tbuf one = { 0 }, b = { 0 };
	char key[128];
	int hung = 0, stall;

	t_phase = "malloc";
	resp_cmd(&one, "INCR", t_key(key, sizeof(key), "malloc"), NULL);
	while (b.len < (16u << 20))
		tbuf_add(&b, one.p, one.len);
	for (unsigned i = 0; i < 6; i++) {
		int sv[2];
		char c = 0;
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			die_errno("malloc: socketpair");
		pid = fork();
		if (pid < 0)
			die_errno("malloc: fork");
		if (pid == 0)
			child_malloc(&b, sv[1], i);
		if (read(sv[0], &c, 1) != 1)
			die("malloc: the child did not connect");
		stall = t_stall_server(1000000);
		if (write(sv[0], &c, 1) != 1)
			die_errno("malloc: write");
		hung -= reap(pid);
		t_expect_str(stall, "the stalling script", ":1\r\n");
		close(stall);
		close(sv[0]);
		close(sv[1]);
	}
	if (hung > 0)
		die("malloc: %d of 6 children did not end within 5 s of the "
		    "_exit() in their SIGALRM handler", hung);
	t_checked();
	stall = t_connect();
	t_cmd_expect(stall, ":1\r\n", "DEL", key, NULL);
	close(stall);
	tbuf_free(&one);
	tbuf_free(&b);
	printf("malloc: ok (6 children)\n");
}

static int selfpipe_fd = -1;
static volatile sig_atomic_t selfpipe_hits;

static void on_alarm_write(int sig)
{
	int e = errno;

	(void)sig;
	if (write(selfpipe_fd, "x", 1) == 1)
		selfpipe_hits = 1;
	errno = e;
}

/* The lowest number listed in /proc/self/fd that fcntl() calls closed
   (one of the shim's own), or -1 (none: without the shim). */
static int hidden_number(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int low = -1;

	if (d == NULL)
		die_errno("selfpipe: opendir /proc/self/fd");
	while ((e = readdir(d)) != NULL) {
		int n = atoi(e->d_name);

		if (n > 2 && n != dirfd(d) && fcntl(n, F_GETFD) < 0 &&
		    errno == EBADF && (low < 0 || n < low))
			low = n;
	}
	closedir(d);
	return low;
}

static void child_selfpipe(void)
{
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	struct sigaction sa;
	sigset_t al, old;
	int c[8], p[2], n;
	char buf[256];
	double end;

	for (int i = 0; i < 8; i++) {
		c[i] = t_connect();
		t_cmd_expect(c[i], "+PONG\r\n", "PING", NULL);
	}
	n = hidden_number();
	for (int i = 0; i < 8; i++)
		close(c[i]);
	if (pipe2(p, O_NONBLOCK) < 0)
		die_errno("selfpipe: pipe2");
	selfpipe_fd = p[1];
	if (n >= 0) {
		if (dup2(p[1], n) != n)
			die_errno("selfpipe: dup2(pipe, %d)", n);
		close(p[1]);
		selfpipe_fd = n;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm_write;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&al);
	sigaddset(&al, SIGALRM);
	if (sigaction(SIGALRM, &sa, NULL) < 0 ||
	    setitimer(ITIMER_REAL, &it, NULL) < 0)
		die_errno("selfpipe: sigaction/setitimer");
	end = t_now_ms() + 1500;
	while (t_now_ms() < end) {
		int fd;

		/* (a connect's handshake may end in EINTR: not this case) */
		sigprocmask(SIG_BLOCK, &al, &old);
		fd = t_connect();
		sigprocmask(SIG_SETMASK, &old, NULL);
		t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
		close(fd);
		while (read(p[0], buf, sizeof(buf)) > 0)
			;
	}
	if (!selfpipe_hits)
		die("selfpipe: the SIGALRM handler never wrote (premise)");
	_exit(0);
}

static void run_selfpipe(void)
{
	int hung = 0;

	t_phase = "selfpipe";
	for (unsigned c = 0; c < 4; c++) {
		pid_t pid = fork();

		if (pid < 0)
			die_errno("selfpipe: fork");
		if (pid == 0)
			child_selfpipe();
		hung -= reap(pid);
	}
	if (hung > 0)
		die("selfpipe: %d of 4 children did not end within 5 s (a "
		    "signal handler's write() to a self-pipe hung)", hung);
	t_checked();
	printf("selfpipe: ok (4 children)\n");
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_EXITSIG_CASE");

	t_init(argc, argv);
	if (only == NULL || strcmp(only, "dupclose") == 0)
		run("dupclose", 0);
	if (only == NULL || strcmp(only, "write") == 0)
		run("write", 1);
	if (only == NULL || strcmp(only, "malloc") == 0)
		run_malloc();
	if (only == NULL || strcmp(only, "selfpipe") == 0)
		run_selfpipe();
	t_done();
}
