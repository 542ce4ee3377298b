/*
 * t_epoll_lazy - epoll patterns where a kernel registration that lags the
 * program's (a change not passed on, a deletion deferred, writability
 * known without asking) would show: each case compares with what a kernel
 * TCP socket does.
 *
 *   starve     a socket registered EPOLLIN|EPOLLOUT level-triggered (always
 *              writable) beside a readable pipe, epoll_wait(maxevents 1):
 *              the kernel's ready list goes round, so the pipe is reported
 *              within a few waits, and the socket's EPOLLIN once the reply
 *              to a PING has come;
 *   nested     an epoll set holding the socket for EPOLLOUT is readable for
 *              poll() and for an outer epoll set (the socket is writable);
 *   turns      three always-writable sockets, epoll_wait(maxevents 1):
 *              each is reported in turn;
 *   dup        EPOLL_CTL_DEL of the socket, then EPOLL_CTL_ADD of a dup of
 *              it with other data: succeeds (the first is gone);
 *   delpoll    a socket with a reply waiting, deleted from its set: poll()
 *              of the set reports nothing;
 *   rearm      EPOLL_CTL_MOD with the same mask re-arms a one-shot
 *              registration and gives an edge-triggered one a new edge;
 *   exclmod    MOD of an EPOLLEXCLUSIVE registration: EINVAL;
 *   delwait    a thread waits while another deletes the socket and makes
 *              it readable: no event;
 *   delrace    a thread waits, one event at a time, while another deletes
 *              and adds a writable connection (edge-triggered) 20000
 *              times: every event carries the program's own data;
 *   killed     the server closes a connection waited on for EPOLLOUT only
 *              (a write on each event): an error comes, no spinning;
 *   full       the send buffer full (the server busy in a 3 s script):
 *              no EPOLLOUT, no POLLOUT until the server reads, then the
 *              32 MiB SET completes;
 *   forkdel    the socket deleted, a fork child waits on the shared set,
 *              the parent adds the socket back: its EPOLLIN comes;
 *   reuse      a connection deleted and closed, a new one with its number
 *              and data added: no event before its reply;
 *   etmod      edge-triggered EPOLLIN, a reply read in part: MOD of the
 *              same mask gives a new edge;
 *   samedata   the socket and a readable pipe with the same data (0): the
 *              pipe's event comes;
 *   narrow     MOD from EPOLLIN|EPOLLOUT to EPOLLIN, with data readable:
 *              EPOLLIN only; back to EPOLLOUT only: EPOLLOUT only;
 *   timeout    an idle socket waited on for EPOLLIN: epoll_wait with 150 ms,
 *              and epoll_pwait2 with 150 ms (where the kernel has it),
 *              return 0 after the whole timeout, not before, not much
 *              after; a zero timeout returns 0 at once;
 *   revivefail a socket deleted, then added back with flags the kernel
 *              refuses (EPOLLEXCLUSIVE | EPOLLONESHOT): EINVAL; added
 *              back right: its reply is reported, and after a last
 *              EPOLL_CTL_DEL nothing is;
 *   relayswitch  (last: the connection stays relayed) the socket reported
 *              writable, then a PING written past the hooks (a raw
 *              syscall(SYS_write): through the shim it lands in the
 *              socketpair and the connection switches to relay mode) and
 *              an ECHO by write(), at once: both answered, in that order,
 *              the replies reported readable, the socket writable after.
 *
 * The cases that delete the socket from its set (dup, delpoll, delwait,
 * forkdel, reuse, revivefail) run twice: on a fresh set, and on a set whose
 * last wait returned two events (a readable pipe and a writable
 * connection, deleted and closed since: new_set).  Through the shim the
 * first passes the deletion to the kernel (but delwait's, made while
 * another thread waits), the second leaves the kernel registration
 * dormant until the socket is added back or the set is waited on
 * (shim/switchboard/ready_epoll.c); the program must see no difference.
 *
 * Checks: each case's reply byte-exact, and the events above.
 */
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "torture.h"

#define TAG_SOCK 0x50c4e7f00dULL
#define TAG_PIPE 0x919e0000beefULL
#define TAG_DUP 0xd0d0d0d0ULL

static int busy; /* new_set's sets have had a wait of two events */

/* a fresh set, or a busy one (t_busy_epoll_set) */
static int new_set(int flags)
{
	return busy ? t_busy_epoll_set(flags) : epoll_create1(flags);
}

static void case_starve(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), pfd[2], i, pipe_seen = 0;

	t_phase = "starve";
	if (ep < 0 || pipe(pfd) < 0)
		die_errno("epoll_create1/pipe");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT, TAG_SOCK);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], EPOLLIN, TAG_PIPE);
	if (write(pfd[1], "x", 1) != 1)
		die_errno("write(pipe)");
	for (i = 0; i < 20 && !pipe_seen; i++)
		if (t_epoll_wait(ep, &ev, 1, 1000) == 1 && ev.data.u64 == TAG_PIPE)
			pipe_seen = 1;
	if (!pipe_seen)
		die("starve: a readable pipe not reported in 20 epoll_wait(maxevents 1) "
		    "beside an always-writable socket");
	t_checked();
	t_epoll_ctl(ep, EPOLL_CTL_DEL, pfd[0], 0, 0);
	t_write_all(fd, "PING\r\n", 6);
	t_wait_reply(fd);
	for (i = 0; i < 20; i++)
		if (t_epoll_wait(ep, &ev, 1, 1000) == 1 && ev.data.u64 == TAG_SOCK &&
		    (ev.events & EPOLLIN))
			break;
	if (i == 20)
		die("starve: the socket's reply not reported readable in 20 "
		    "epoll_wait(maxevents 1) (EPOLLOUT only)");
	t_checked();
	t_expect_str(fd, "starve PING", "+PONG\r\n");
	close(pfd[0]);
	close(pfd[1]);
	close(ep);
}

/* Three always-writable sockets, epoll_wait(maxevents 1): each in turn. */
static void case_turns(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), fds[3], seen[3] = { 0 }, i, j;

	t_phase = "turns";
	if (ep < 0)
		die_errno("epoll_create1");
	fds[0] = fd;
	fds[1] = t_connect();
	fds[2] = t_connect();
	for (j = 0; j < 3; j++) {
		if (j > 0)
			t_cmd_expect(fds[j], "+PONG\r\n", "PING", NULL);
		t_epoll_ctl(ep, EPOLL_CTL_ADD, fds[j], EPOLLOUT, TAG_SOCK + (uint64_t)j);
	}
	for (i = 0; i < 30; i++)
		if (t_epoll_wait(ep, &ev, 1, 1000) == 1 && ev.data.u64 >= TAG_SOCK &&
		    ev.data.u64 < TAG_SOCK + 3)
			seen[ev.data.u64 - TAG_SOCK]++;
	for (j = 0; j < 3; j++)
		if (seen[j] == 0)
			die("turns: socket %d of 3 (always writable) not reported in 30 "
			    "epoll_wait(maxevents 1): %d %d %d", j, seen[0], seen[1], seen[2]);
	t_checked();
	close(fds[1]);
	close(fds[2]);
	close(ep);
}

/* MOD of a registration made with EPOLLEXCLUSIVE: EINVAL. */
static void case_exclmod(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_SOCK };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	t_phase = "exclmod";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLEXCLUSIVE, TAG_SOCK);
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0 || errno != EINVAL)
		die("exclmod: MOD of an EPOLLEXCLUSIVE registration: %s, not EINVAL",
		    errno == 0 ? "success" : strerror(errno));
	t_checked();
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	close(ep);
}

struct waiter {
	int ep, n;
	struct epoll_event ev;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->n = epoll_wait(w->ep, &w->ev, 1, 600);
	return NULL;
}

/* One thread waits on the set while another deletes the socket, then
   makes it readable: the waiter hears nothing. */
static void case_delwait(int fd)
{
	struct waiter w = { 0 };
	pthread_t th;

	t_phase = "delwait";
	w.ep = new_set(EPOLL_CLOEXEC);
	if (w.ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(w.ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	if (pthread_create(&th, NULL, wait_thread, &w) != 0)
		die("pthread_create");
	t_sleep_ms(100);
	t_epoll_ctl(w.ep, EPOLL_CTL_DEL, fd, 0, 0);
	t_write_all(fd, "PING\r\n", 6);
	pthread_join(th, NULL);
	if (w.n != 0)
		die("delwait: the waiter got %d event(s) (0x%x, data 0x%llx) of a "
		    "socket deleted while it waited", w.n, w.ev.events,
		    (unsigned long long)w.ev.data.u64);
	t_checked();
	t_expect_str(fd, "delwait PING", "+PONG\r\n");
	close(w.ep);
}

struct racer {
	int ep, stop;
	long events, foreign;
	unsigned long long bad;
};

static void *race_waiter(void *arg)
{
	struct racer *r = arg;
	struct epoll_event ev;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(r->ep, &ev, 1, 5);

		if (n != 1)
			continue;
		r->events++;
		if (ev.data.u64 != TAG_SOCK && ev.data.u64 != TAG_DUP) {
			r->foreign++;
			r->bad = (unsigned long long)ev.data.u64;
		}
	}
	return NULL;
}

/* One thread waits (one event at a time) on a set holding a connection
   for EPOLLOUT|EPOLLET and an idle one, while another deletes and adds the
   first again and again: every event carries data the program gave. */
static void case_delrace(int fd)
{
	struct racer r = { 0 };
	pthread_t th;
	int c = t_connect(), idle = t_connect();

	(void)fd;
	t_phase = "delrace";
	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	t_cmd_expect(idle, "+PONG\r\n", "PING", NULL);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(r.ep, EPOLL_CTL_ADD, idle, EPOLLIN, TAG_DUP);
	t_epoll_ctl(r.ep, EPOLL_CTL_ADD, c, EPOLLOUT | EPOLLET, TAG_SOCK);
	if (pthread_create(&th, NULL, race_waiter, &r) != 0)
		die("pthread_create");
	for (int i = 0; i < 20000; i++) {
		t_epoll_ctl(r.ep, EPOLL_CTL_DEL, c, 0, 0);
		t_epoll_ctl(r.ep, EPOLL_CTL_ADD, c, EPOLLOUT | EPOLLET, TAG_SOCK);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	if (r.foreign > 0)
		die("delrace: %ld of %ld events carried data the program never "
		    "gave (0x%llx)", r.foreign, r.events, r.bad);
	if (r.events == 0)
		die("delrace: no event in 20000 additions of a writable "
		    "connection");
	t_checked();
	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	close(r.ep);
	close(c);
	close(idle);
}

/* The server closes a connection the program waits on for EPOLLOUT only,
   writing on each event: an error comes (an event's EPOLLERR/EPOLLHUP or
   the write's), it does not spin. */
static void case_killed(int fd)
{
	struct epoll_event ev;
	char buf[64], cmd[96];
	int c = t_connect(), ep = epoll_create1(EPOLL_CLOEXEC), i;
	long id;

	t_phase = "killed";
	if (ep < 0)
		die_errno("epoll_create1");
	t_write_all(c, "CLIENT ID\r\n", 11);
	for (i = 0; i < (int)sizeof(buf) - 1; i++) {
		t_read_exact(c, buf + i, 1, "CLIENT ID");
		if (buf[i] == '\n')
			break;
	}
	buf[i + 1] = '\0';
	id = atol(buf + 1);
	snprintf(cmd, sizeof(cmd), "CLIENT KILL ID %ld\r\n", id);
	t_write_all(fd, cmd, strlen(cmd));
	t_expect_str(fd, "CLIENT KILL", ":1\r\n");
	t_sleep_ms(100);
	t_set_nonblock(c, 1);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLOUT, TAG_SOCK);
	for (i = 0; i < 200; i++) {
		int n = t_epoll_wait(ep, &ev, 1, 1000);

		if (n == 1 && (ev.events & (EPOLLERR | EPOLLHUP)))
			break;
		if (n == 1 && send(c, "PING\r\n", 6, MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN)
				die("killed: EPOLLOUT, then the write: EAGAIN");
			break;
		}
		t_sleep_ms(5);
	}
	if (i == 200)
		die("killed: 200 EPOLLOUT and writes on a killed connection, no error");
	t_checked();
	close(ep);
	close(c);
}

/* A full send buffer (the server busy in a script for 3 s): EPOLLOUT
   and POLLOUT only once the server has read. */
static void case_full(int fd)
{
	static const char script[] =
		"local s=redis.call('TIME') repeat local n=redis.call('TIME') "
		"until (n[1]-s[1])*1000000+(n[2]-s[2]) > 3000000 return 1";
	struct tbuf cmd = { 0 }, hdr = { 0 };
	struct epoll_event ev;
	struct pollfd p;
	char key[128], *chunk;
	size_t total = 32u << 20, sent = 0, n;
	int c = t_connect(), ep = epoll_create1(EPOLL_CLOEXEC);
	int blocked = 0, waits = 0;
	double t0;

	t_phase = "full";
	if (ep < 0)
		die_errno("epoll_create1");
	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	resp_cmd(&cmd, "EVAL", script, "0", NULL);
	t_write_all(fd, cmd.p, cmd.len);
	t_sleep_ms(100);
	t0 = t_now_ms();
	tbuf_addf(&hdr, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n",
		  strlen(t_key(key, sizeof(key), "full")), key, total);
	t_write_all(c, hdr.p, hdr.len);
	t_set_nonblock(c, 1);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLOUT, TAG_SOCK);
	chunk = malloc(65536);
	if (chunk == NULL)
		die("out of memory");
	memset(chunk, 'v', 65536);
	while (sent < total) {
		ssize_t w;

		n = total - sent < 65536 ? total - sent : 65536;
		w = write(c, chunk, n);
		if (w > 0) {
			sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN)
			die_errno("full: write after %zu bytes", sent);
		if (!blocked && t_now_ms() - t0 < 2000 &&
		    t_epoll_wait(ep, &ev, 1, 200) == 0) {
			/* the server is still in its script and the kernel's
			   buffers are full: no room, for poll either */
			blocked = 1;
			p.fd = c;
			p.events = POLLOUT;
			p.revents = 0;
			if (poll(&p, 1, 100) != 0)
				die("full: POLLOUT (0x%x) where EPOLLOUT did not come, "
				    "the server not reading", p.revents);
			t_checked();
		}
		if (t_epoll_wait(ep, &ev, 1, 5000) != 1 || !(ev.events & EPOLLOUT))
			die("full: no EPOLLOUT in 5 s after %zu bytes", sent);
		waits++;
	}
	if (!blocked)
		die("full: EPOLLOUT within 200 ms after every EAGAIN for 2 s, the "
		    "server in a script (%d waits)", waits);
	t_set_nonblock(c, 0);
	t_write_all(c, "\r\n", 2);
	t_expect_str(c, "full SET", "+OK\r\n");
	t_expect_str(fd, "full EVAL", ":1\r\n");
	t_cmd_expect(c, ":1\r\n", "DEL", key, NULL);
	t_checked();
	printf("full: %zu bytes, %d waits for EPOLLOUT\n", sent, waits);
	free(chunk);
	tbuf_free(&cmd);
	tbuf_free(&hdr);
	close(ep);
	close(c);
}

/* The socket deleted from a set a fork child then waits on (the child
   shares the kernel's epoll set), added back by the parent: the parent's
   registration works. */
static void case_forkdel(int fd)
{
	struct epoll_event ev;
	int ep = new_set(0), st;
	pid_t pid;

	t_phase = "forkdel";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		int n = epoll_wait(ep, &ev, 1, 50);

		_exit(n == 0 ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("forkdel: the child's epoll_wait on the shared set: status 0x%x", st);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t_write_all(fd, "PING\r\n", 6);
	if (t_epoll_wait(ep, &ev, 1, 2000) != 1 || ev.data.u64 != TAG_SOCK ||
	    !(ev.events & EPOLLIN))
		die("forkdel: the parent's socket, added back: no EPOLLIN in 2 s");
	t_checked();
	t_expect_str(fd, "forkdel PING", "+PONG\r\n");
	close(ep);
}

/* A connection deleted from a set and closed; a new one takes its number
   and data: no event before its reply, then its EPOLLIN. */
static void case_reuse(int fd)
{
	struct epoll_event ev;
	int ep = new_set(EPOLL_CLOEXEC), c, c2;

	(void)fd;
	t_phase = "reuse";
	if (ep < 0)
		die_errno("epoll_create1");
	c = t_connect();
	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLOUT, TAG_SOCK);
	t_write_all(c, "PING\r\n", 6);
	t_wait_reply(c);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, c, 0, 0);
	close(c);
	c2 = t_connect();
	t_cmd_expect(c2, "+PONG\r\n", "PING", NULL);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c2, EPOLLIN, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 100) != 0)
		die("reuse: an event (0x%x) before the new connection's reply "
		    "(numbers %d, %d)", ev.events, c, c2);
	t_write_all(c2, "PING\r\n", 6);
	if (t_epoll_wait(ep, &ev, 1, 2000) != 1 || ev.data.u64 != TAG_SOCK ||
	    ev.events != EPOLLIN)
		die("reuse: the new connection's reply: no EPOLLIN alone in 2 s");
	t_expect_str(c2, "reuse PING", "+PONG\r\n");
	t_checked();
	close(c2);
	close(ep);
}

/* Edge-triggered EPOLLIN, a reply read in part: EPOLL_CTL_MOD of the same
   mask gives a new edge (the rest is still to read). */
static void case_etmod(int fd)
{
	struct epoll_event ev;
	char b;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	t_phase = "etmod";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLET, TAG_SOCK);
	t_write_all(fd, "PING\r\n", 6);
	if (t_epoll_wait(ep, &ev, 1, 2000) != 1 || !(ev.events & EPOLLIN))
		die("etmod: the reply: no edge");
	t_sleep_ms(50);
	t_read_exact(fd, &b, 1, "etmod first byte");
	if (b != '+')
		die("etmod: first byte 0x%02x", (unsigned char)b);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLET, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 500) != 1 || !(ev.events & EPOLLIN))
		die("etmod: MOD of the same edge-triggered mask, 6 bytes unread: "
		    "no new edge");
	t_expect_str(fd, "etmod rest", "PONG\r\n");
	t_checked();
	close(ep);
}

/* The socket and a pipe registered with the same data (0, as programs
   that never look at it do): the pipe's event comes. */
static void case_samedata(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), pfd[2];

	t_phase = "samedata";
	if (ep < 0 || pipe(pfd) < 0)
		die_errno("epoll_create1/pipe");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, 0);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], EPOLLIN, 0);
	if (write(pfd[1], "x", 1) != 1)
		die_errno("write(pipe)");
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLIN)
		die("samedata: a readable pipe registered with the socket's data: "
		    "no event in 1 s");
	t_checked();
	close(pfd[0]);
	close(pfd[1]);
	close(ep);
}

static void case_nested(int fd)
{
	struct epoll_event ev;
	struct pollfd p;
	int inner = epoll_create1(EPOLL_CLOEXEC), outer = epoll_create1(EPOLL_CLOEXEC);

	t_phase = "nested";
	if (inner < 0 || outer < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(inner, EPOLL_CTL_ADD, fd, EPOLLOUT, TAG_SOCK);
	p.fd = inner;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 500) != 1 || !(p.revents & POLLIN))
		die("nested: poll() of an epoll set holding a writable socket "
		    "for EPOLLOUT: not readable");
	t_checked();
	t_epoll_ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, TAG_PIPE);
	if (t_epoll_wait(outer, &ev, 1, 500) != 1 || ev.data.u64 != TAG_PIPE)
		die("nested: an outer epoll set holding that set: no event");
	t_checked();
	if (t_epoll_wait(inner, &ev, 1, 500) != 1 || ev.data.u64 != TAG_SOCK ||
	    !(ev.events & EPOLLOUT))
		die("nested: the inner set's own wait: no EPOLLOUT");
	t_checked();
	close(outer);
	close(inner);
}

static void case_dup(int fd)
{
	struct epoll_event ev;
	int ep = new_set(EPOLL_CLOEXEC), d;

	t_phase = "dup";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	d = dup(fd);
	if (d < 0)
		die_errno("dup");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, d, EPOLLIN, TAG_DUP);
	t_checked();
	t_write_all(fd, "PING\r\n", 6);
	t_wait_reply(fd);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.data.u64 != TAG_DUP ||
	    !(ev.events & EPOLLIN))
		die("dup: the dup's registration not reported readable");
	t_checked();
	t_expect_str(fd, "dup PING", "+PONG\r\n");
	t_epoll_ctl(ep, EPOLL_CTL_DEL, d, 0, 0);
	close(d);
	close(ep);
}

static void case_delpoll(int fd)
{
	struct pollfd p;
	int ep = new_set(EPOLL_CLOEXEC), rc;

	t_phase = "delpoll";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t_write_all(fd, "PING\r\n", 6);
	t_wait_reply(fd);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	p.fd = ep;
	p.events = POLLIN;
	p.revents = 0;
	rc = poll(&p, 1, 200);
	if (rc != 0)
		die("delpoll: poll() of a set whose only socket was deleted: %d "
		    "(revents 0x%x)", rc, p.revents);
	t_checked();
	t_expect_str(fd, "delpoll PING", "+PONG\r\n");
	close(ep);
}

static void case_rearm(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	t_phase = "rearm";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLOUT | EPOLLONESHOT, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
		die("rearm: one-shot EPOLLOUT: no event");
	if (t_epoll_wait(ep, &ev, 1, 100) != 0)
		die("rearm: one-shot EPOLLOUT fired twice");
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLONESHOT, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
		die("rearm: one-shot EPOLLOUT re-armed by MOD: no event");
	t_checked();
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLET, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
		die("rearm: edge-triggered EPOLLOUT: no event");
	if (t_epoll_wait(ep, &ev, 1, 100) != 0)
		die("rearm: edge-triggered EPOLLOUT fired twice");
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLET, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
		die("rearm: edge-triggered EPOLLOUT, MOD of the same mask: no new edge");
	t_checked();
	close(ep);
}

static void case_narrow(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), i;

	t_phase = "narrow";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLOUT)
		die("narrow: IN|OUT, idle: events 0x%x, not EPOLLOUT", ev.events);
	t_write_all(fd, "PING\r\n", 6);
	t_wait_reply(fd);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, TAG_SOCK);
	for (i = 0; i < 3; i++)
		if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLIN)
			die("narrow: MOD to EPOLLIN, reply waiting: events 0x%x", ev.events);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT, TAG_SOCK);
	for (i = 0; i < 3; i++)
		if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLOUT)
			die("narrow: MOD to EPOLLOUT, reply waiting: events 0x%x", ev.events);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLIN)
		die("narrow: back to EPOLLIN: events 0x%x", ev.events);
	t_checked();
	t_expect_str(fd, "narrow PING", "+PONG\r\n");
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	if (t_epoll_wait(ep, &ev, 1, 100) != 0)
		die("narrow: an event after EPOLL_CTL_DEL");
	t_checked();
	close(ep);
}

static void timeout_check(const char *what, double t0, int n)
{
	double dt = t_now_ms() - t0;

	if (n != 0)
		die("timeout: %s on an idle socket returned %d", what, n);
	if (dt < 145 || dt > 1000)
		die("timeout: %s of 150 ms took %.0f ms", what, dt);
	t_checked();
}

static void case_timeout(int fd)
{
	struct epoll_event ev;
	struct timespec ts = { 0, 150 * 1000000L };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;
	double t0;

	t_phase = "timeout";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t0 = t_now_ms();
	timeout_check("epoll_wait", t0, epoll_wait(ep, &ev, 1, 150));
	t0 = t_now_ms();
	n = epoll_pwait2(ep, &ev, 1, &ts, NULL);
	if (n < 0 && errno == ENOSYS)
		printf("timeout: epoll_pwait2: ENOSYS, not checked\n");
	else
		timeout_check("epoll_pwait2", t0, n);
	t0 = t_now_ms();
	if (epoll_wait(ep, &ev, 1, 0) != 0 || t_now_ms() - t0 > 100)
		die("timeout: a zero timeout on an idle socket: not 0 at once");
	t_checked();
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	close(ep);
}

static void case_revivefail(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT };
	int ep = new_set(EPOLL_CLOEXEC), i;

	t_phase = "revivefail";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	ev.data.u64 = TAG_SOCK;
	errno = 0;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != -1 || errno != EINVAL)
		die("revivefail: ADD with EXCLUSIVE|ONESHOT: not EINVAL (errno %d)", errno);
	t_checked();
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t_write_all(fd, "PING\r\n", 6);
	for (i = 0; i < 20; i++)
		if (t_epoll_wait(ep, &ev, 1, 1000) == 1 && ev.data.u64 == TAG_SOCK &&
		    (ev.events & EPOLLIN))
			break;
	if (i == 20)
		die("revivefail: the reply not reported after the ADD that worked");
	t_checked();
	t_expect_str(fd, "revivefail PING", "+PONG\r\n");
	t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	t_write_all(fd, "PING\r\n", 6);
	t_wait_reply(fd);
	if (t_epoll_wait(ep, &ev, 1, 200) != 0)
		die("revivefail: an event after the last EPOLL_CTL_DEL");
	t_checked();
	t_expect_str(fd, "revivefail second PING", "+PONG\r\n");
	close(ep);
}

static void case_relayswitch(int fd)
{
	static const char ping[] = "PING\r\n", echo[] = "ECHO b\r\n";
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), i;

	t_phase = "relayswitch";
	if (ep < 0)
		die_errno("epoll_create1");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLOUT)
		die("relayswitch: IN|OUT, idle: events 0x%x, not EPOLLOUT", ev.events);
	if (syscall(SYS_write, fd, ping, sizeof(ping) - 1) != (long)sizeof(ping) - 1)
		die_errno("relayswitch: syscall(SYS_write)");
	t_write_all(fd, echo, sizeof(echo) - 1);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, TAG_SOCK);
	for (i = 0; i < 20; i++)
		if (t_epoll_wait(ep, &ev, 1, 1000) == 1 && (ev.events & EPOLLIN))
			break;
	if (i == 20)
		die("relayswitch: the replies not reported readable in 20 s");
	t_checked();
	t_expect_str(fd, "relayswitch replies", "+PONG\r\n$1\r\nb\r\n");
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLOUT, TAG_SOCK);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLOUT)
		die("relayswitch: after the replies: events 0x%x, not EPOLLOUT",
		    ev.events);
	t_checked();
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	close(ep);
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_EPOLL_LAZY_CASE");
	static const struct {
		const char *name;
		void (*run)(int);
		int deletes; /* run again on a busy set (new_set) */
	} cases[] = {
		{ "narrow", case_narrow, 0 },   { "rearm", case_rearm, 0 },
		{ "dup", case_dup, 1 },         { "delpoll", case_delpoll, 1 },
		{ "nested", case_nested, 0 },   { "starve", case_starve, 0 },
		{ "turns", case_turns, 0 },     { "exclmod", case_exclmod, 0 },
		{ "delwait", case_delwait, 1 }, { "delrace", case_delrace, 0 },
		{ "killed", case_killed, 0 },
		{ "full", case_full, 0 },       { "forkdel", case_forkdel, 1 },
		{ "reuse", case_reuse, 1 },     { "etmod", case_etmod, 0 },
		{ "samedata", case_samedata, 0 },
		{ "timeout", case_timeout, 0 },
		{ "revivefail", case_revivefail, 1 },
		{ "relayswitch", case_relayswitch, 0 }, /* last: stays relayed */
	};
	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	int fd;

	t_init(argc, argv);
	fd = t_connect();
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	for (int pass = 0; pass < 3; pass++) {
		/* the cases; the deleting ones on busy sets; the last one */
		busy = pass == 1;
		for (size_t i = 0; i < ncases; i++) {
			if ((only != NULL && strcmp(only, cases[i].name) != 0) ||
			    (pass == 1 && !cases[i].deletes) ||
			    (pass == 2) != (i == ncases - 1))
				continue;
			cases[i].run(fd);
			printf("%s%s: ok\n", cases[i].name,
			       busy ? " after a wait of two events" : "");
		}
	}
	close(fd);
	t_done();
}
