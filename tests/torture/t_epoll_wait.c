/*
 * t_epoll_wait - a thread waiting on an epoll set while the set, or a
 * descriptor in it, is changed: each case compared with what a kernel TCP
 * socket gives.  Every case runs on a fresh set and on a busy one
 * (t_busy_epoll_set: there the shim keeps deletions dormant).  Cases
 * report and go on (exit 1 if any failed).  T_EPOLL_WAIT_CASE=name runs one.
 *
 *   addwait    a thread blocks in epoll_wait on a set that holds a pipe
 *              (on a fresh set: no TLS socket yet); another adds a
 *              connection and sends a PING: the waiter's event carries
 *              the program's data, not the shim's tag;
 *   addwait-et the same, the connection added with EPOLLET;
 *   addwait-out, addwait-buffered  the same, the connection ready as it
 *              is when added: writable (EPOLLOUT), or readable (EPOLLIN)
 *              with a second reply unread after the first was read;
 *   addwait-buffered-et, addwait-both-et  the same, readable (and
 *              writable, EPOLLIN | EPOLLOUT), added with EPOLLET: one
 *              event, and a second wait (nothing read) hears none;
 *   readdwait  the same, the connection added and deleted before the
 *              wait;
 *   eintr      a wait interrupted by a signal while another thread
 *              deletes; the next wait: no event;
 *   pwait2     a thread waits in epoll_pwait2 while another deletes the
 *              connection and makes it readable: no event;
 *   oneshot    EPOLLONESHOT fired, DEL, ADD again (reply unread): reported
 *              again;
 *   dup2       DEL, dup2() of another connection over the number, ADD:
 *              only the new connection's reply is reported;
 *   dupep      the set waited on and changed through dup() of its
 *              number, and through the copy alone once the first number
 *              is closed: events with the program's data;
 *   closealias a thread waits on a dup of the set, which is closed; a
 *              connection added through the first number: its event;
 *   closerange numbers of a set closed by close_range (one then reused by
 *              a pipe), the first closed: the last one still works;
 *   badclose   close_range and dup3 that the kernel refuses (EINVAL) at
 *              the set or the connection: both go on as before;
 *   rawclose   the set's first number closed by a raw close and reused by
 *              a socket: the set goes on through its dup;
 *   closeep    a thread waits; another adds a connection, closes the
 *              set, sends a PING: the wait's events (natively, the
 *              connection's) carry the program's data, or it fails with
 *              EBADF (through the shim), never with the shim's tag;
 *   addtimeout a fresh connection added 800 ms into a 1000 ms wait: no
 *              event, and the wait ends with its timeout (within 1.5 s);
 *   forkwait   fork while a thread waits; the child adds, deletes and
 *              closes 20000 numbers of a connection: its heap grows by
 *              less than 512 KiB;
 *   closewait  a thread waits, again and again, on a writable connection
 *              (one-shot, re-armed: the kernel's event, every time),
 *              which another closes meanwhile (40 rounds, at random
 *              times): every event carries the program's data (one in
 *              progress at the close may still be reported, as
 *              natively), and a wait after the close reports none.
 *
 * Checks: the events (count and data) of each case.
 */
#include <malloc.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "torture.h"

#define TAG_SOCK 0x50c4e7f00dULL
#define TAG_PIPE 0x919e0000beefULL
#define TAG_DUP 0xd0d0d0d0ULL

static int busy, nfail;

#define FAIL(...)                                                        \
	do {                                                             \
		fprintf(stderr, "FAIL %s%s: ", t_phase, busy ? " (busy)" : ""); \
		fprintf(stderr, __VA_ARGS__);                            \
		fputc('\n', stderr);                                     \
		nfail++;                                                 \
	} while (0)

/* a fresh set, or a busy one (t_busy_epoll_set) */
static int new_set(int flags)
{
	return busy ? t_busy_epoll_set(flags) : epoll_create1(flags);
}

/* new_set() holding the read end of a new pipe p, with TAG_PIPE */
static int pipe_set(int p[2])
{
	int ep = new_set(EPOLL_CLOEXEC);

	if (pipe(p) < 0)
		die_errno("pipe");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, TAG_PIPE);
	return ep;
}

static int fresh_conn(void)
{
	int c = t_connect();

	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	return c;
}

struct waiter {
	int ep, n, err, ms, use_pwait2;
	pthread_t self;
	struct epoll_event ev[4];
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	if (w->use_pwait2) {
		struct timespec ts = { w->ms / 1000, (w->ms % 1000) * 1000000L };
		w->n = epoll_pwait2(w->ep, w->ev, 4, &ts, NULL);
	} else
		w->n = epoll_wait(w->ep, w->ev, 4, w->ms);
	w->err = w->n < 0 ? errno : 0;
	return NULL;
}

static void start_waiter(struct waiter *w, pthread_t *th)
{
	if (pthread_create(th, NULL, wait_thread, w) != 0)
		die("pthread_create");
}

static void check_events(struct waiter *w, uint64_t want, const char *what)
{
	if (w->n < 0) {
		FAIL("%s: epoll_wait: %s", what, strerror(w->err));
		return;
	}
	if (w->n == 0) {
		FAIL("%s: no event (natively one, data 0x%llx)", what,
		     (unsigned long long)want);
		return;
	}
	for (int i = 0; i < w->n; i++)
		if (w->ev[i].data.u64 != want)
			FAIL("%s: event %d: 0x%x data 0x%llx, not 0x%llx", what, i,
			     w->ev[i].events,
			     (unsigned long long)w->ev[i].data.u64,
			     (unsigned long long)want);
	t_checked();
}

/* One wait on ep of up to ms: natively one event, with `events` among
   its bits and data `want`. */
static void expect_one(int ep, int ms, uint32_t events, uint64_t want,
		       const char *what)
{
	struct epoll_event ev[4];
	int n = t_epoll_wait(ep, ev, 4, ms);

	if (n != 1 || ev[0].data.u64 != want || !(ev[0].events & events))
		FAIL("%s: %d events, 0x%x data 0x%llx (natively one, 0x%x, "
		     "data 0x%llx)", what, n, n > 0 ? ev[0].events : 0,
		     n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL, events,
		     (unsigned long long)want);
	else
		t_checked();
}

/* ---------------------------------------------------------------- */

/* readd: the connection was in the set before; et: EPOLLET (as tokio's
   mio registers, from any thread, while its driver waits) */
static void addwait(const char *name, int readd, uint32_t et)
{
	struct waiter w = { .ms = 2000 };
	pthread_t th;
	int p[2], c = fresh_conn();

	t_phase = name;
	w.ep = pipe_set(p);
	if (readd) {
		t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
		t_epoll_ctl(w.ep, EPOLL_CTL_DEL, c, 0, 0);
	}
	start_waiter(&w, &th);
	t_sleep_ms(100);
	t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, EPOLLIN | et, TAG_SOCK);
	t_write_all(c, "PING\r\n", 6);
	pthread_join(th, NULL);
	check_events(&w, TAG_SOCK, "the waiter's event");
	t_expect_str(c, "reply", "+PONG\r\n");
	close(c);
	close(p[0]);
	close(p[1]);
	close(w.ep);
}

static void case_addwait(void) { addwait("addwait", 0, 0); }
static void case_addwait_et(void) { addwait("addwait-et", 0, EPOLLET); }
static void case_readdwait(void) { addwait("readdwait", 1, 0); }

/* A thread waits; another adds a connection that is ready as it is:
   writable (EPOLLOUT), or (EPOLLIN) with the second of two replies left
   unread after reading the first: natively the ADD wakes the waiter. */
static void addready(const char *name, uint32_t events)
{
	struct waiter w = { .ms = 2000 };
	pthread_t th;
	int p[2], c = fresh_conn();

	t_phase = name;
	w.ep = pipe_set(p);
	if (events & EPOLLIN) {
		t_write_all(c, "PING\r\nPING\r\n", 12);
		t_wait_reply(c);
		t_expect_str(c, "the first reply", "+PONG\r\n");
	}
	start_waiter(&w, &th);
	t_sleep_ms(100);
	t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, events, TAG_SOCK);
	pthread_join(th, NULL);
	check_events(&w, TAG_SOCK, "the waiter's event");
	if (w.n > 0 && !(w.ev[0].events & events & ~(uint32_t)EPOLLET))
		FAIL("the waiter's event: 0x%x, not 0x%x", w.ev[0].events,
		     events);
	if (events & EPOLLET) {
		/* one edge: a second wait, nothing read, hears nothing */
		w.ms = 100;
		wait_thread(&w);
		if (w.n != 0)
			FAIL("a second wait, nothing read: %d event(s) (natively "
			     "none: one edge)", w.n);
		else
			t_checked();
	}
	if (events & EPOLLIN)
		t_expect_str(c, "the second reply", "+PONG\r\n");
	close(c);
	close(p[0]);
	close(p[1]);
	close(w.ep);
}

static void case_addwait_out(void) { addready("addwait-out", EPOLLOUT); }
static void case_addwait_buf(void) { addready("addwait-buffered", EPOLLIN); }
static void case_addwait_buf_et(void)
{
	addready("addwait-buffered-et", EPOLLIN | EPOLLET);
}
static void case_addwait_both_et(void)
{
	addready("addwait-both-et", EPOLLIN | EPOLLOUT | EPOLLET);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void case_eintr(void)
{
	struct waiter w = { .ms = 3000 };
	struct epoll_event ev[4];
	pthread_t th;
	int c = fresh_conn(), n;

	t_phase = "eintr";
	signal(SIGUSR1, on_usr1);
	w.ep = new_set(EPOLL_CLOEXEC);
	t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	start_waiter(&w, &th);
	t_sleep_ms(100);
	t_epoll_ctl(w.ep, EPOLL_CTL_DEL, c, 0, 0);
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	if (!(w.n < 0 && w.err == EINTR))
		FAIL("interrupted wait: %d (%s), not EINTR", w.n, strerror(w.err));
	t_write_all(c, "PING\r\n", 6);
	t_wait_reply(c);
	n = t_epoll_wait(w.ep, ev, 4, 100);
	if (n != 0)
		FAIL("after the deletion: %d event(s), data 0x%llx", n,
		     (unsigned long long)ev[0].data.u64);
	else
		t_checked();
	/* added back, its reply unread: reported */
	t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	n = t_epoll_wait(w.ep, ev, 4, 1000);
	if (n != 1 || ev[0].data.u64 != TAG_SOCK)
		FAIL("added back with its reply waiting: %d events, data 0x%llx", n,
		     (unsigned long long)ev[0].data.u64);
	t_expect_str(c, "reply", "+PONG\r\n");
	close(w.ep);
	close(c);
}

/* The set waited on by another number of it (dup, as a program that
   hands its loop's set to a library may): the same events, with the
   program's data; the connection changed through either number, and the
   set kept by the copy when the first number is closed. */
static void case_dupep(void)
{
	struct epoll_event ev[4];
	int c = fresh_conn(), ep, ep2, n;

	t_phase = "dupep";
	ep = new_set(EPOLL_CLOEXEC);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	ep2 = dup(ep);
	if (ep2 < 0)
		die_errno("dup");
	t_write_all(c, "PING\r\n", 6);
	t_wait_reply(c);
	expect_one(ep2, 1000, EPOLLIN, TAG_SOCK, "waited on dup(set)");
	t_expect_str(c, "reply", "+PONG\r\n");
	/* deleted through the other number: no event on either */
	t_epoll_ctl(ep2, EPOLL_CTL_DEL, c, 0, 0);
	t_write_all(c, "PING\r\n", 6);
	t_wait_reply(c);
	n = t_epoll_wait(ep, ev, 4, 100);
	if (n != 0)
		FAIL("deleted through dup(set), waited on the set: %d events, "
		     "data 0x%llx", n, (unsigned long long)ev[0].data.u64);
	else
		t_checked();
	t_expect_str(c, "reply", "+PONG\r\n");
	/* added through the copy, the first number closed: the set lives on
	   (as natively, until its last number goes), with the program's
	   data */
	t_epoll_ctl(ep2, EPOLL_CTL_ADD, c, EPOLLIN, TAG_DUP);
	close(ep);
	t_write_all(c, "PING\r\n", 6);
	t_wait_reply(c);
	expect_one(ep2, 1000, EPOLLIN, TAG_DUP,
		   "the first number closed, waited on the copy");
	t_expect_str(c, "reply", "+PONG\r\n");
	t_epoll_ctl(ep2, EPOLL_CTL_DEL, c, 0, 0);
	close(ep2);
	close(c);
}

/* A thread waits on a dup of the set; the dup is closed, a connection
   added through the set's first number and sent a PING: natively the
   wait (which holds the set) reports the connection's event. */
static void case_closealias(void)
{
	struct waiter w = { .ms = 1500 };
	pthread_t th;
	int p[2], c = fresh_conn(), ep;

	t_phase = "closealias";
	ep = pipe_set(p);
	w.ep = dup(ep);
	if (w.ep < 0)
		die_errno("dup");
	start_waiter(&w, &th);
	t_sleep_ms(100);
	close(w.ep);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	t_write_all(c, "PING\r\n", 6);
	pthread_join(th, NULL);
	check_events(&w, TAG_SOCK, "the wait on the closed dup");
	t_expect_str(c, "reply", "+PONG\r\n");
	close(c);
	close(ep);
	close(p[0]);
	close(p[1]);
}

/* Numbers of a set closed by close_range() (before the process has any
   TLS socket: nothing else tells the shim), the number reused by a pipe,
   then the set's first number closed: the set works through its last
   number, and nothing of the shim's goes to the pipe. */
static void case_closerange(void)
{
	struct epoll_event mod = { .events = EPOLLIN | EPOLLOUT,
				   .data.u64 = TAG_SOCK };
	int ep, last, gone, p[2], c;

	t_phase = "closerange";
	ep = epoll_create1(EPOLL_CLOEXEC);
	last = fcntl(ep, F_DUPFD_CLOEXEC, 40);
	gone = dup(ep);
	if (last < 0 || gone < 0)
		die_errno("dup");
	if (close_range((unsigned)gone, (unsigned)gone, 0) < 0)
		die_errno("close_range");
	if (pipe(p) < 0)
		die_errno("pipe");
	c = fresh_conn();
	t_epoll_ctl(last, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	close(ep);
	if (epoll_ctl(last, EPOLL_CTL_MOD, c, &mod) < 0)
		FAIL("MOD through the last number: %s", strerror(errno));
	expect_one(last, 1000, EPOLLOUT, TAG_SOCK, "through the last number");
	if (epoll_ctl(last, EPOLL_CTL_DEL, c, NULL) < 0)
		FAIL("DEL through the last number: %s", strerror(errno));
	else
		t_checked();
	close(c);
	close(last);
	close(p[0]);
	close(p[1]);
}

/* close_range() and dup3() that the kernel refuses (EINVAL: an unknown
   flag) close nothing: the set over whose number they were aimed, and the
   connection, go on as before (an event with the program's data). */
static void case_badclose(void)
{
	static const char *const what[] = {
		"close_range(set, set, bad flag)", "dup3(pipe, set, O_NONBLOCK)",
		"dup3(pipe, connection, O_NONBLOCK)",
		"close_range(3, ~0U, bad flag)",
	};

	for (int mode = 0; mode < 4; mode++) {
		int p[2], c = fresh_conn(), ep, rc;

		t_phase = what[mode];
		ep = pipe_set(p);
		t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
		if (mode == 0)
			rc = close_range((unsigned)ep, (unsigned)ep, 0x80000000U);
		else if (mode == 3)
			rc = close_range(3, ~0U, 0x80000000U);
		else
			rc = dup3(p[1], mode == 1 ? ep : c, O_NONBLOCK);
		if (rc != -1 || errno != EINVAL)
			FAIL("%d (%s), not EINVAL", rc, strerror(errno));
		t_write_all(c, "PING\r\n", 6);
		expect_one(ep, 2000, EPOLLIN, TAG_SOCK, "after the refused call");
		t_expect_str(c, "reply", "+PONG\r\n");
		close(c);
		close(ep);
		close(p[0]);
		close(p[1]);
	}
}

/* The set's first number closed past the hooks (a raw close) and reused
   by a new socket; its dup goes on: a connection added through it, and
   the one added before, report with the program's data. */
static void case_rawclose(void)
{
	int c = fresh_conn(), c2 = fresh_conn(), ep, ep2, s;

	t_phase = "rawclose";
	ep = new_set(EPOLL_CLOEXEC);
	ep2 = dup(ep);
	if (ep2 < 0)
		die_errno("dup");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	if (syscall(SYS_close, ep) != 0)
		die_errno("raw close");
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s != ep)
		fprintf(stderr, "# rawclose: the socket is %d, not %d\n", s, ep);
	t_epoll_ctl(ep2, EPOLL_CTL_ADD, c2, EPOLLIN, TAG_DUP);
	t_write_all(c2, "PING\r\n", 6);
	expect_one(ep2, 2000, EPOLLIN, TAG_DUP, "added through the dup");
	t_expect_str(c2, "reply", "+PONG\r\n");
	t_write_all(c, "PING\r\n", 6);
	expect_one(ep2, 2000, EPOLLIN, TAG_SOCK, "added before the raw close");
	t_expect_str(c, "reply", "+PONG\r\n");
	close(s);
	close(ep2);
	close(c);
	close(c2);
}

/* The set's number closed by another thread while one waits on it,
   just after it added a connection: natively the wait reports the
   connection's event (it holds the set).  Through the shim the wait may
   end in an error instead (EBADF), but an event it reports carries the
   program's data, never the shim's tag. */
static void case_closeep(void)
{
	struct waiter w = { .ms = 1500 };
	pthread_t th;
	int p[2], c = fresh_conn();

	t_phase = "closeep";
	w.ep = pipe_set(p);
	start_waiter(&w, &th);
	t_sleep_ms(100);
	t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	close(w.ep);
	t_write_all(c, "PING\r\n", 6);
	pthread_join(th, NULL);
	for (int i = 0; i < w.n; i++)
		if (w.ev[i].data.u64 != TAG_SOCK)
			FAIL("event %d: 0x%x data 0x%llx, not 0x%llx (the set "
			     "closed during the wait)", i, w.ev[i].events,
			     (unsigned long long)w.ev[i].data.u64,
			     (unsigned long long)TAG_SOCK);
	if (w.n < 0 && w.err != EBADF)
		FAIL("the set closed during the wait: %s, not EBADF",
		     strerror(w.err));
	t_checked();
	t_expect_str(c, "reply", "+PONG\r\n");
	close(c);
	close(p[0]);
	close(p[1]);
}

/* A connection added (its handshake's bytes, tickets, unread by the
   program: no event) while another thread waits 1 s on the set, by
   epoll_wait and by epoll_pwait2: the wait ends when its timeout does,
   with no event. */
static void case_addtimeout(void)
{
	for (int pw2 = 0; pw2 < 2; pw2++) {
		struct waiter w = { .ms = 1000, .use_pwait2 = pw2 };
		pthread_t th;
		int p[2], c;
		double t0, took;

		t_phase = pw2 ? "addtimeout (epoll_pwait2)" : "addtimeout";
		w.ep = pipe_set(p);
		t0 = t_now_ms();
		start_waiter(&w, &th);
		t_sleep_ms(800);
		c = t_connect();
		t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
		pthread_join(th, NULL);
		took = t_now_ms() - t0;
		if (w.n < 0 && w.err == ENOSYS)
			fprintf(stderr, "# addtimeout: epoll_pwait2: ENOSYS\n");
		else if (w.n != 0)
			FAIL("%d event(s), not the timeout's 0 (data 0x%llx)",
			     w.n, w.n > 0 ? (unsigned long long)w.ev[0].data.u64
					  : 0ULL);
		else if (took > 1500)
			FAIL("a 1000 ms wait took %.0f ms (the time already "
			     "waited waited again)", took);
		else
			t_checked();
		close(c);
		close(w.ep);
		close(p[0]);
		close(p[1]);
	}
}

/* A thread waits on the set when the process forks; the child (where
   no wait is under way) adds, deletes and closes 20000 numbers of a
   connection: its heap stays flat (nothing kept for a wait that is not
   its own). */
static void case_forkwait(void)
{
	struct waiter w = { .ms = 10000 };
	pthread_t th;
	int p[2], status, c = fresh_conn();
	pid_t pid;

	t_phase = "forkwait";
	w.ep = pipe_set(p);
	start_waiter(&w, &th);
	t_sleep_ms(100);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		struct mallinfo2 m0 = mallinfo2(), m1;

		for (int i = 0; i < 20000; i++) {
			int d = dup(c);

			if (d < 0)
				_exit(2);
			t_epoll_ctl(w.ep, EPOLL_CTL_ADD, d, EPOLLIN, TAG_DUP);
			t_epoll_ctl(w.ep, EPOLL_CTL_DEL, d, 0, 0);
			close(d);
		}
		m1 = mallinfo2();
		if (m1.uordblks > m0.uordblks + 512 * 1024) {
			fprintf(stderr, "FAIL forkwait%s: the child's heap grew "
				"by %zu bytes over 20000 ADD, DEL and close\n",
				busy ? " (busy)" : "", m1.uordblks - m0.uordblks);
			_exit(1);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		die_errno("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("the child: status 0x%x", status);
	else
		t_checked();
	t_write_all(p[1], "x", 1);
	pthread_join(th, NULL);
	check_events(&w, TAG_PIPE, "the parent's waiter, woken by its pipe");
	close(c);
	close(w.ep);
	close(p[0]);
	close(p[1]);
}

static void case_pwait2(void)
{
	struct waiter w = { .ms = 600, .use_pwait2 = 1 };
	pthread_t th;
	int c = fresh_conn();

	t_phase = "pwait2";
	w.ep = new_set(EPOLL_CLOEXEC);
	t_epoll_ctl(w.ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	start_waiter(&w, &th);
	t_sleep_ms(100);
	t_epoll_ctl(w.ep, EPOLL_CTL_DEL, c, 0, 0);
	t_write_all(c, "PING\r\n", 6);
	pthread_join(th, NULL);
	if (w.n < 0 && w.err == ENOSYS)
		fprintf(stderr, "# pwait2: ENOSYS\n");
	else if (w.n != 0)
		FAIL("pwait2 waiter: %d events (data 0x%llx) of a deleted socket",
		     w.n, (unsigned long long)w.ev[0].data.u64);
	else
		t_checked();
	t_expect_str(c, "reply", "+PONG\r\n");
	close(w.ep);
	close(c);
}

static void case_oneshot(void)
{
	struct epoll_event ev[4];
	int c = fresh_conn(), ep, n;

	t_phase = "oneshot";
	ep = new_set(EPOLL_CLOEXEC);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLONESHOT, TAG_SOCK);
	t_write_all(c, "PING\r\n", 6);
	t_wait_reply(c);
	n = t_epoll_wait(ep, ev, 4, 1000);
	if (n != 1 || ev[0].data.u64 != TAG_SOCK)
		FAIL("first: %d events", n);
	n = t_epoll_wait(ep, ev, 4, 50);
	if (n != 0)
		FAIL("disarmed: %d events", n);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, c, 0, 0);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLONESHOT, TAG_SOCK);
	expect_one(ep, 1000, EPOLLIN, TAG_SOCK, "re-added by ADD (reply unread)");
	n = t_epoll_wait(ep, ev, 4, 50);
	if (n != 0)
		FAIL("disarmed again: %d events", n);
	t_expect_str(c, "reply", "+PONG\r\n");
	/* DEL while disarmed, ADD level-triggered: a new reply reported */
	t_epoll_ctl(ep, EPOLL_CTL_DEL, c, 0, 0);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	t_write_all(c, "PING\r\n", 6);
	n = t_epoll_wait(ep, ev, 4, 2000);
	if (n != 1 || ev[0].data.u64 != TAG_SOCK)
		FAIL("level-triggered after the one-shot: %d events", n);
	t_expect_str(c, "reply", "+PONG\r\n");
	close(ep);
	close(c);
}

static void case_dup2(void)
{
	struct epoll_event ev[4];
	int c = fresh_conn(), c2 = fresh_conn(), ep, n;

	t_phase = "dup2";
	ep = new_set(EPOLL_CLOEXEC);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_SOCK);
	t_write_all(c, "PING\r\n", 6); /* the old connection's reply comes */
	t_wait_reply(c);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, c, 0, 0);
	if (dup2(c2, c) != c)
		die_errno("dup2");
	close(c2);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, TAG_DUP);
	n = t_epoll_wait(ep, ev, 4, 150);
	if (n != 0)
		FAIL("the new connection, idle: %d events (0x%x 0x%llx)", n,
		     ev[0].events, (unsigned long long)ev[0].data.u64);
	t_write_all(c, "ECHO abc\r\n", 10);
	expect_one(ep, 2000, EPOLLIN, TAG_DUP, "the new connection's reply");
	t_expect_str(c, "reply", "$3\r\nabc\r\n");
	close(ep);
	close(c);
}

#define CLOSE_ROUNDS 40

struct spinner {
	int ep, fd;
	volatile int stop;
	volatile long events;
	long foreign;
	uint64_t foreign_data;
	uint32_t foreign_events;
};

/* Waits on the set until told to stop, counting events (any whose data
   is not the connection's is foreign), and re-arms the one-shot
   registration after each (failing once the connection is closed). */
static void *spin_thread(void *arg)
{
	struct spinner *sp = arg;
	struct epoll_event ev[4];

	while (!sp->stop) {
		int n = epoll_wait(sp->ep, ev, 4, 20);

		for (int i = 0; i < n; i++) {
			sp->events++;
			if (ev[i].data.u64 != TAG_SOCK && sp->foreign++ == 0) {
				sp->foreign_data = ev[i].data.u64;
				sp->foreign_events = ev[i].events;
			}
		}
		if (n > 0) {
			struct epoll_event e = { EPOLLOUT | EPOLLONESHOT,
						 { .u64 = TAG_SOCK } };

			(void)epoll_ctl(sp->ep, EPOLL_CTL_MOD, sp->fd, &e);
		}
	}
	return NULL;
}

static void case_closewait(void)
{
	struct spinner sp = { 0 };
	struct epoll_event ev[4];
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	pthread_t th;
	int n;

	t_phase = "closewait";
	sp.ep = new_set(EPOLL_CLOEXEC);
	for (int round = 0; round < CLOSE_ROUNDS; round++) {
		int c = fresh_conn();
		long before;
		struct timespec ts = { 0, (long)(t_rand(&rng) % 300000) };

		sp.stop = 0;
		before = sp.events;
		sp.fd = c;
		t_epoll_ctl(sp.ep, EPOLL_CTL_ADD, c, EPOLLOUT | EPOLLONESHOT,
			    TAG_SOCK);
		if (pthread_create(&th, NULL, spin_thread, &sp) != 0)
			die("pthread_create");
		for (int ms = 0; sp.events == before; ms++) {
			if (ms == 2000)
				die("closewait: no event of a writable connection "
				    "in 2 s");
			t_sleep_ms(1);
		}
		nanosleep(&ts, NULL);
		close(c); /* while the thread waits, or holds an event of c */
		sp.stop = 1;
		pthread_join(th, NULL);
		n = t_epoll_wait(sp.ep, ev, 4, 0);
		if (n != 0)
			FAIL("round %d: a wait after the close: %d events (0x%x 0x%llx)",
			     round, n, ev[0].events,
			     (unsigned long long)ev[0].data.u64);
	}
	if (sp.foreign > 0)
		FAIL("%ld of %ld events not the connection's data (first: 0x%x "
		     "0x%llx)", sp.foreign, sp.events, sp.foreign_events,
		     (unsigned long long)sp.foreign_data);
	else
		t_checked();
	close(sp.ep);
}

/* ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	const char *only = getenv("T_EPOLL_WAIT_CASE");
	static const struct {
		const char *name;
		void (*run)(void);
	} cases[] = {
		{ "addwait", case_addwait },     { "addwait-et", case_addwait_et },
		{ "addwait-out", case_addwait_out },
		{ "addwait-buffered", case_addwait_buf },
		{ "addwait-buffered-et", case_addwait_buf_et },
		{ "addwait-both-et", case_addwait_both_et },
		{ "readdwait", case_readdwait }, { "eintr", case_eintr },
		{ "pwait2", case_pwait2 },       { "oneshot", case_oneshot },
		{ "dup2", case_dup2 },           { "dupep", case_dupep },
		{ "closeep", case_closeep },     { "addtimeout", case_addtimeout },
		{ "forkwait", case_forkwait },   { "closealias", case_closealias },
		{ "closerange", case_closerange }, { "badclose", case_badclose },
		{ "rawclose", case_rawclose },           { "closewait", case_closewait },
	};

	t_init(argc, argv);
	for (int pass = 0; pass < 2; pass++) {
		busy = pass;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			int before = nfail;

			if (only != NULL && strcmp(only, cases[i].name) != 0)
				continue;
			cases[i].run();
			printf("%s%s: %s\n", cases[i].name, busy ? " (busy)" : "",
			       nfail == before ? "ok" : "FAILED");
		}
	}
	if (nfail > 0) {
		printf("%d failure(s)\n", nfail);
		exit(1);
	}
	t_done();
}
