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
 *   narrow     MOD from EPOLLIN|EPOLLOUT to EPOLLIN, with data readable:
 *              EPOLLIN only; back to EPOLLOUT only: EPOLLOUT only.
 *
 * Checks: each case's reply byte-exact, and the events above.
 */
#include <sys/epoll.h>

#include "torture.h"

#define TAG_SOCK 0x50c4e7f00dULL
#define TAG_PIPE 0x919e0000beefULL
#define TAG_DUP 0xd0d0d0d0ULL

static void ctl(int ep, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die_errno("epoll_ctl(op %d, fd %d, events 0x%x)", op, fd, events);
}

static int ewait(int ep, struct epoll_event *evs, int max, int ms)
{
	int n = epoll_wait(ep, evs, max, ms);

	if (n < 0)
		die_errno("epoll_wait");
	return n;
}

/* Wait (up to 2 s) until the socket's reply has reached the kernel. */
static void wait_reply(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 2000) != 1)
		die("no reply within 2 s");
	t_sleep_ms(50); /* and all of it */
}

static void case_starve(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), pfd[2], i, pipe_seen = 0;

	t_phase = "starve";
	if (ep < 0 || pipe(pfd) < 0)
		die_errno("epoll_create1/pipe");
	ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT, TAG_SOCK);
	ctl(ep, EPOLL_CTL_ADD, pfd[0], EPOLLIN, TAG_PIPE);
	if (write(pfd[1], "x", 1) != 1)
		die_errno("write(pipe)");
	for (i = 0; i < 20 && !pipe_seen; i++)
		if (ewait(ep, &ev, 1, 1000) == 1 && ev.data.u64 == TAG_PIPE)
			pipe_seen = 1;
	if (!pipe_seen)
		die("starve: a readable pipe not reported in 20 epoll_wait(maxevents 1) "
		    "beside an always-writable socket");
	t_checked();
	ctl(ep, EPOLL_CTL_DEL, pfd[0], 0, 0);
	t_write_all(fd, "PING\r\n", 6);
	wait_reply(fd);
	for (i = 0; i < 20; i++)
		if (ewait(ep, &ev, 1, 1000) == 1 && ev.data.u64 == TAG_SOCK &&
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
		ctl(ep, EPOLL_CTL_ADD, fds[j], EPOLLOUT, TAG_SOCK + (uint64_t)j);
	}
	for (i = 0; i < 30; i++)
		if (ewait(ep, &ev, 1, 1000) == 1 && ev.data.u64 >= TAG_SOCK &&
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

static void case_nested(int fd)
{
	struct epoll_event ev;
	struct pollfd p;
	int inner = epoll_create1(EPOLL_CLOEXEC), outer = epoll_create1(EPOLL_CLOEXEC);

	t_phase = "nested";
	if (inner < 0 || outer < 0)
		die_errno("epoll_create1");
	ctl(inner, EPOLL_CTL_ADD, fd, EPOLLOUT, TAG_SOCK);
	p.fd = inner;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 500) != 1 || !(p.revents & POLLIN))
		die("nested: poll() of an epoll set holding a writable socket "
		    "for EPOLLOUT: not readable");
	t_checked();
	ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, TAG_PIPE);
	if (ewait(outer, &ev, 1, 500) != 1 || ev.data.u64 != TAG_PIPE)
		die("nested: an outer epoll set holding that set: no event");
	t_checked();
	if (ewait(inner, &ev, 1, 500) != 1 || ev.data.u64 != TAG_SOCK ||
	    !(ev.events & EPOLLOUT))
		die("nested: the inner set's own wait: no EPOLLOUT");
	t_checked();
	close(outer);
	close(inner);
}

static void case_dup(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), d;

	t_phase = "dup";
	if (ep < 0)
		die_errno("epoll_create1");
	ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	d = dup(fd);
	if (d < 0)
		die_errno("dup");
	ctl(ep, EPOLL_CTL_ADD, d, EPOLLIN, TAG_DUP);
	t_checked();
	t_write_all(fd, "PING\r\n", 6);
	wait_reply(fd);
	if (ewait(ep, &ev, 1, 1000) != 1 || ev.data.u64 != TAG_DUP ||
	    !(ev.events & EPOLLIN))
		die("dup: the dup's registration not reported readable");
	t_checked();
	t_expect_str(fd, "dup PING", "+PONG\r\n");
	ctl(ep, EPOLL_CTL_DEL, d, 0, 0);
	close(d);
	close(ep);
}

static void case_delpoll(int fd)
{
	struct pollfd p;
	int ep = epoll_create1(EPOLL_CLOEXEC), rc;

	t_phase = "delpoll";
	if (ep < 0)
		die_errno("epoll_create1");
	ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_SOCK);
	t_write_all(fd, "PING\r\n", 6);
	wait_reply(fd);
	ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
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
	ctl(ep, EPOLL_CTL_ADD, fd, EPOLLOUT | EPOLLONESHOT, TAG_SOCK);
	if (ewait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
		die("rearm: one-shot EPOLLOUT: no event");
	if (ewait(ep, &ev, 1, 100) != 0)
		die("rearm: one-shot EPOLLOUT fired twice");
	ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLONESHOT, TAG_SOCK);
	if (ewait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
		die("rearm: one-shot EPOLLOUT re-armed by MOD: no event");
	t_checked();
	ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLET, TAG_SOCK);
	if (ewait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
		die("rearm: edge-triggered EPOLLOUT: no event");
	if (ewait(ep, &ev, 1, 100) != 0)
		die("rearm: edge-triggered EPOLLOUT fired twice");
	ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLET, TAG_SOCK);
	if (ewait(ep, &ev, 1, 1000) != 1 || !(ev.events & EPOLLOUT))
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
	ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT, TAG_SOCK);
	if (ewait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLOUT)
		die("narrow: IN|OUT, idle: events 0x%x, not EPOLLOUT", ev.events);
	t_write_all(fd, "PING\r\n", 6);
	wait_reply(fd);
	ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, TAG_SOCK);
	for (i = 0; i < 3; i++)
		if (ewait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLIN)
			die("narrow: MOD to EPOLLIN, reply waiting: events 0x%x", ev.events);
	ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT, TAG_SOCK);
	for (i = 0; i < 3; i++)
		if (ewait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLOUT)
			die("narrow: MOD to EPOLLOUT, reply waiting: events 0x%x", ev.events);
	ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, TAG_SOCK);
	if (ewait(ep, &ev, 1, 1000) != 1 || ev.events != EPOLLIN)
		die("narrow: back to EPOLLIN: events 0x%x", ev.events);
	t_checked();
	t_expect_str(fd, "narrow PING", "+PONG\r\n");
	ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
	if (ewait(ep, &ev, 1, 100) != 0)
		die("narrow: an event after EPOLL_CTL_DEL");
	t_checked();
	close(ep);
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_EPOLL_LAZY_CASE");
	static const struct {
		const char *name;
		void (*run)(int);
	} cases[] = {
		{ "narrow", case_narrow }, { "rearm", case_rearm },
		{ "dup", case_dup },       { "delpoll", case_delpoll },
		{ "nested", case_nested }, { "starve", case_starve },
		{ "turns", case_turns },
	};
	int fd;

	t_init(argc, argv);
	fd = t_connect();
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (only != NULL && strcmp(only, cases[i].name) != 0)
			continue;
		cases[i].run(fd);
		printf("%s: ok\n", cases[i].name);
	}
	close(fd);
	t_done();
}
