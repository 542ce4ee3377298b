/*
 * t_nbconnect - non-blocking connect() driven by epoll and by poll.
 *
 * Variants: the socket made non-blocking by SOCK_NONBLOCK or by
 * fcntl(O_NONBLOCK); readiness awaited with epoll (registered BEFORE
 * connect(), level- or edge-triggered, or registered after it) or with poll.
 * Each variant: connect() fails with EINPROGRESS; the socket becomes
 * writable (no error or hang-up bits) within 5 s; getsockopt(SO_ERROR) is 0;
 * connect() again answers 0 or EISCONN (Linux: 0 the first time), and once
 * more EISCONN; getpeername() names the server;
 * the fd is not readable before a request is sent (no stray bytes); then a
 * small pipeline (PING, a 100 KiB SET/GET, DEL) runs non-blocking on the
 * same readiness mechanism, replies byte-exact.
 *
 * Last, a connect() to a port with no listener: EINPROGRESS or
 * ECONNREFUSED at once; if EINPROGRESS, poll reports POLLERR and SO_ERROR
 * is ECONNREFUSED.  (That port is not a configured endpoint, so under the
 * shim this checks the pass-through path.)
 */
#include <sys/epoll.h>

#include "torture.h"

#define TAG 0xc0ec7ULL

enum waiter { W_EPOLL_BEFORE, W_EPOLL_ET_BEFORE, W_EPOLL_AFTER, W_POLL };

static const char *const waiter_name[] = {
	"epoll registered before connect", "epoll edge-triggered registered before connect",
	"epoll registered after connect", "poll",
};

struct variant {
	enum waiter w;
	int sock_nonblock;	/* 1: SOCK_NONBLOCK, 0: fcntl(O_NONBLOCK) */
	int ep;
	int fd;
	char what[160];
};

/* Wait for `events` (EPOLLIN/EPOLLOUT values; equal to POLLIN/POLLOUT); returns what was reported. */
static uint32_t wait_for(struct variant *v, uint32_t events, int ms)
{
	if (v->w == W_POLL) {
		struct pollfd p = { v->fd, (short)events, 0 };
		int n = poll(&p, 1, ms);

		if (n < 0)
			die_errno("%s: poll", v->what);
		return n ? (uint32_t)p.revents : 0;
	} else {
		struct epoll_event ev = { .events = events, .data.u64 = TAG }, out[4];
		int n;

		if (v->w == W_EPOLL_ET_BEFORE)
			ev.events |= EPOLLET;
		if (epoll_ctl(v->ep, EPOLL_CTL_MOD, v->fd, &ev) < 0)
			die_errno("%s: epoll_ctl(MOD, 0x%x)", v->what, ev.events);
		n = epoll_wait(v->ep, out, 4, ms);
		if (n < 0)
			die_errno("%s: epoll_wait", v->what);
		if (n > 1)
			die("%s: %d events for one fd", v->what, n);
		if (n == 1 && out[0].data.u64 != TAG)
			die("%s: event carries epoll_data 0x%llx", v->what,
			    (unsigned long long)out[0].data.u64);
		return n ? out[0].events : 0;
	}
}

static void do_connect(struct variant *v)
{
	struct addrinfo *res = t_resolve();
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = TAG };
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	uint32_t got;
	int err = -1;
	socklen_t elen = sizeof(err);

	v->fd = socket(res->ai_family, SOCK_STREAM | (v->sock_nonblock ? SOCK_NONBLOCK : 0),
		       IPPROTO_TCP);
	if (v->fd < 0)
		die_errno("%s: socket", v->what);
	if (!v->sock_nonblock)
		t_set_nonblock(v->fd, 1);
	if (v->w == W_EPOLL_BEFORE || v->w == W_EPOLL_ET_BEFORE) {
		if (v->w == W_EPOLL_ET_BEFORE)
			ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		if (epoll_ctl(v->ep, EPOLL_CTL_ADD, v->fd, &ev) < 0)
			die_errno("%s: epoll_ctl(ADD) before connect", v->what);
	}
	if (connect(v->fd, res->ai_addr, res->ai_addrlen) == 0)
		die("%s: non-blocking connect() returned 0, expected -1/EINPROGRESS", v->what);
	if (errno != EINPROGRESS)
		die_errno("%s: non-blocking connect() failed, but not with EINPROGRESS", v->what);
	if (v->w == W_EPOLL_AFTER && epoll_ctl(v->ep, EPOLL_CTL_ADD, v->fd, &ev) < 0)
		die_errno("%s: epoll_ctl(ADD) after connect", v->what);

	got = wait_for(v, EPOLLOUT, 5000);
	if (got == 0)
		die("%s: not writable within 5s of connect()", v->what);
	if (got != EPOLLOUT)
		die("%s: connect completion reported events 0x%x, expected EPOLLOUT only",
		    v->what, got);
	if (getsockopt(v->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		die_errno("%s: getsockopt(SO_ERROR)", v->what);
	if (err != 0)
		die("%s: SO_ERROR is %d (%s) after a successful connect", v->what, err, strerror(err));
	/*
	 * Linux answers the first connect() after completion with 0 (it marks
	 * the socket connected) and later ones with EISCONN; hiredis accepts
	 * either.  So: 0 or EISCONN, then EISCONN.
	 */
	if (connect(v->fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EISCONN)
		die_errno("%s: second connect() after completion: expected 0 or EISCONN", v->what);
	if (connect(v->fd, res->ai_addr, res->ai_addrlen) == 0)
		die("%s: third connect() returned 0, expected -1/EISCONN", v->what);
	if (errno != EISCONN)
		die_errno("%s: third connect() failed, but not with EISCONN", v->what);
	if (getpeername(v->fd, (struct sockaddr *)&peer, &plen) < 0)
		die_errno("%s: getpeername", v->what);
	if (plen != res->ai_addrlen || memcmp(&peer, res->ai_addr, plen) != 0)
		die("%s: getpeername does not name the address connected to", v->what);
	got = wait_for(v, EPOLLIN, 100);
	if (got != 0)
		die("%s: readable (0x%x) before any request was sent", v->what, got);
	t_checked();
	freeaddrinfo(res);
}

static void run_pipeline(struct variant *v, const char *key)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	size_t vlen = 100 * 1024;
	char *val = malloc(vlen);
	const char *a[] = { "SET", key, val };
	size_t l[] = { 3, strlen(key), vlen };
	struct tpipe p;

	t_fill(val, vlen, (uint64_t)v->w * 2 + (uint64_t)v->sock_nonblock);
	resp_cmd(&cmd, "PING", NULL);
	resp_cmdv(&cmd, 3, a, l);
	resp_cmd(&cmd, "GET", key, NULL);
	resp_cmd(&cmd, "DEL", key, NULL);
	tbuf_add(&exp, "+PONG\r\n+OK\r\n", 12);
	resp_bulk(&exp, val, vlen);
	tbuf_add(&exp, ":1\r\n", 4);
	tpipe_init(&p, v->fd, &cmd, &exp, v->what);
	while (!tpipe_done(&p)) {
		uint32_t got = wait_for(v, EPOLLIN | (tpipe_want_write(&p) ? EPOLLOUT : 0), 5000);

		if (got == 0)
			die("%s: no readiness within 5s at reply byte %zu of %zu", v->what,
			    p.in.pos, p.in.len);
		if (got & (EPOLLERR | EPOLLHUP))
			die("%s: events 0x%x at reply byte %zu", v->what, got, p.in.pos);
		if (got & EPOLLOUT)
			tpipe_on_writable(&p, 1);
		if (got & EPOLLIN)
			tpipe_on_readable(&p, 4096, 1);
	}
	free(val);
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

static void refused(void)
{
	struct addrinfo *res = t_resolve();
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int lfd, fd, err = 0;
	socklen_t elen = sizeof(err);

	/* a bound, never listening socket reserves a port that refuses connections */
	lfd = socket(res->ai_family, SOCK_STREAM, 0);
	memcpy(&ss, res->ai_addr, res->ai_addrlen);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, res->ai_addrlen) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0)
		die_errno("refused: reserving a port");
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die_errno("refused: socket");
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		die("refused: connect to a port without listener succeeded");
	if (errno == EINPROGRESS) {
		struct pollfd p = { fd, POLLOUT, 0 };

		if (poll(&p, 1, 5000) != 1)
			die("refused: no event within 5s");
		if (!(p.revents & POLLERR))
			die("refused: revents 0x%x without POLLERR", p.revents);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			die_errno("refused: getsockopt(SO_ERROR)");
		if (err != ECONNREFUSED)
			die("refused: SO_ERROR %d (%s), expected ECONNREFUSED", err, strerror(err));
	} else if (errno != ECONNREFUSED) {
		die_errno("refused: connect failed, but with neither EINPROGRESS nor ECONNREFUSED");
	}
	t_checked();
	close(fd);
	close(lfd);
	freeaddrinfo(res);
}

int main(int argc, char **argv)
{
	static const struct { enum waiter w; int sock_nonblock; } plan[] = {
		{ W_EPOLL_BEFORE, 1 }, { W_EPOLL_BEFORE, 0 }, { W_EPOLL_ET_BEFORE, 1 },
		{ W_EPOLL_AFTER, 1 }, { W_EPOLL_AFTER, 0 }, { W_POLL, 1 }, { W_POLL, 0 },
	};
	char key[128], name[16];

	t_init(argc, argv);
	for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
		struct variant v = { .w = plan[i].w, .sock_nonblock = plan[i].sock_nonblock };

		snprintf(v.what, sizeof(v.what), "%s, %s", waiter_name[v.w],
			 v.sock_nonblock ? "SOCK_NONBLOCK" : "fcntl O_NONBLOCK");
		snprintf(name, sizeof(name), "v%zu", i);
		t_key(key, sizeof(key), name);
		v.ep = v.w == W_POLL ? -1 : epoll_create1(EPOLL_CLOEXEC);
		if (v.w != W_POLL && v.ep < 0)
			die_errno("epoll_create1");
		do_connect(&v);
		run_pipeline(&v, key);
		if (close(v.fd) < 0)
			die_errno("%s: close", v.what);
		if (v.ep >= 0)
			close(v.ep);
	}
	refused();
	t_done();
}
