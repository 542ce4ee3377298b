/*
 * t_epoll_tag - the program's epoll_data against the shim's tags (the
 * kernel registrations of TLS sockets carry a tag of the shim's, the
 * program's data put back in each event): each case compares with what
 * a kernel TCP socket does.
 *
 *   many      three connections registered with the same data: each
 *             one's reply comes as an EPOLLIN event with that data;
 *   moddata   EPOLL_CTL_MOD changing the data alone (the same mask): the
 *             next event carries the new data;
 *   pointer   data as a pointer: registered, deleted, freed, a new
 *             registration (another connection) with the pointer malloc
 *             gives next (often the same address): only the new
 *             connection's event, with it;
 *   threads   four threads each MOD their own connection's data in a loop
 *             while a fifth waits: every event's data is one its
 *             connection had;
 *   beforeconnect  a socket added before its connect, connected to a
 *             local listener the shim passes through, and to the TLS
 *             endpoint: the events carry the program's data;
 *   closedup  a registered connection closed while its dup stays open, a
 *             reply on the way (fast path, relay mode): an event, if
 *             any (natively one), carries the program's data;
 *   halfclose a registered connection shut down for writing (fast path,
 *             relay mode): one EOF event with the program's data;
 *
 * Not here: a set and a TLS connection inherited by another program (a
 * fork child that execs) see the shim's registration of the parent's
 * private socket, tag and all (README Limits).
 *
 * Checks: each reply byte-exact, and the events above.
 */
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "torture.h"

#define DATA_A 0xa11ce0000001ULL
#define DATA_B 0xb0b000000002ULL

static void case_many(void)
{
	struct epoll_event evs[8];
	int ep = epoll_create1(EPOLL_CLOEXEC), fds[3], i, n, got = 0;

	t_phase = "many";
	for (i = 0; i < 3; i++) {
		fds[i] = t_connect();
		t_epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], EPOLLIN, DATA_A);
	}
	if (t_epoll_wait(ep, evs, 8, 100) != 0)
		die("many: an event before any request");
	for (i = 0; i < 3; i++)
		t_write_all(fds[i], "PING\r\n", 6);
	for (i = 0; i < 3; i++)
		t_wait_reply(fds[i]);
	n = t_epoll_wait(ep, evs, 8, 1000);
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 != DATA_A)
			die("many: event %d data 0x%llx, not 0x%llx", i,
			    (unsigned long long)evs[i].data.u64,
			    (unsigned long long)DATA_A);
		if (evs[i].events & EPOLLIN)
			got++;
	}
	if (got != 3)
		die("many: %d EPOLLIN events of %d in one wait, three connections "
		    "readable", got, n);
	t_checked();
	for (i = 0; i < 3; i++) {
		t_expect_str(fds[i], "many PING", "+PONG\r\n");
		close(fds[i]);
	}
	close(ep);
}

static void case_moddata(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	t_phase = "moddata";
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, DATA_A);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, DATA_B);
	t_write_all(fd, "PING\r\n", 6);
	t_wait_reply(fd);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.data.u64 != DATA_B)
		die("moddata: data 0x%llx after MOD to 0x%llx",
		    (unsigned long long)ev.data.u64, (unsigned long long)DATA_B);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, DATA_A);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.data.u64 != DATA_A)
		die("moddata: data 0x%llx after MOD back to 0x%llx",
		    (unsigned long long)ev.data.u64, (unsigned long long)DATA_A);
	t_checked();
	t_expect_str(fd, "moddata PING", "+PONG\r\n");
	close(ep);
}

static void case_pointer(int fd)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), fd2, n;
	struct epoll_event set;
	int *p = malloc(64), *q;

	t_phase = "pointer";
	*p = 1;
	set.events = EPOLLIN;
	set.data.ptr = p;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &set) < 0)
		die_errno("epoll_ctl ADD");
	t_write_all(fd, "PING\r\n", 6);
	t_wait_reply(fd);
	if (epoll_ctl(ep, EPOLL_CTL_DEL, fd, &set) < 0)
		die_errno("epoll_ctl DEL");
	free(p);
	q = malloc(64);
	*q = 2;
	fd2 = t_connect();
	set.data.ptr = q;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd2, &set) < 0)
		die_errno("epoll_ctl ADD 2");
	n = t_epoll_wait(ep, &ev, 1, 200);
	if (n != 0)
		die("pointer: an event (data %p) for a deleted connection's reply",
		    ev.data.ptr);
	t_write_all(fd2, "PING\r\n", 6);
	t_wait_reply(fd2);
	if (t_epoll_wait(ep, &ev, 1, 1000) != 1 || ev.data.ptr != q || *(int *)ev.data.ptr != 2)
		die("pointer: the new connection's event data %p, not %p", ev.data.ptr,
		    (void *)q);
	t_checked();
	t_expect_str(fd, "pointer PING 1", "+PONG\r\n");
	t_expect_str(fd2, "pointer PING 2", "+PONG\r\n");
	close(fd2);
	free(q);
	close(ep);
}

struct th_arg {
	int ep, fd, idx;
	volatile int *stop;
};

static void *th_mod(void *arg)
{
	struct th_arg *a = arg;
	uint64_t k = 0;

	while (!*a->stop) {
		uint64_t d = ((uint64_t)(a->idx + 1) << 32) | (k++ & 1);

		t_epoll_ctl(a->ep, EPOLL_CTL_MOD, a->fd, EPOLLIN, d);
	}
	return NULL;
}

static void case_threads(void)
{
	pthread_t th[4];
	struct th_arg args[4];
	struct epoll_event evs[8];
	volatile int stop = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), fds[4], i, n, round, seen = 0;

	t_phase = "threads";
	for (i = 0; i < 4; i++) {
		fds[i] = t_connect();
		t_epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], EPOLLIN, ((uint64_t)(i + 1) << 32));
		t_write_all(fds[i], "PING\r\n", 6);
		t_wait_reply(fds[i]);
		args[i] = (struct th_arg){ ep, fds[i], i, &stop };
	}
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, th_mod, &args[i]);
	for (round = 0; round < 2000; round++) {
		n = t_epoll_wait(ep, evs, 8, 1000);
		for (i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;

			if ((d >> 32) < 1 || (d >> 32) > 4 || (d & 0xffffffffULL) > 1)
				die("threads: event data 0x%llx, none a connection had",
				    (unsigned long long)d);
			seen++;
		}
	}
	stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	if (seen == 0)
		die("threads: no event in 2000 waits, four connections readable");
	t_checked();
	for (i = 0; i < 4; i++) {
		t_expect_str(fds[i], "threads PING", "+PONG\r\n");
		close(fds[i]);
	}
	close(ep);
}

/* One wait for an event of fd with `events`; its data must be `want`. */
static void expect_event(int ep, uint32_t events, uint64_t want,
			 const char *what)
{
	struct epoll_event ev[4];
	int n = t_epoll_wait(ep, ev, 4, 2000);

	if (n != 1 || !(ev[0].events & events) || ev[0].data.u64 != want)
		die("beforeconnect: %s: %d events, 0x%x data 0x%llx (natively "
		    "one, 0x%x, data 0x%llx)", what, n, n > 0 ? ev[0].events : 0,
		    n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL, events,
		    (unsigned long long)want);
	t_checked();
}

/* A socket added to the set before its connect (as runtimes that
   register every socket at creation do), then connected: to a local
   listener the shim is not configured for (the connect passes through:
   the kernel registration is the program's from then on), and to the
   TLS endpoint.  Every event carries the program's data. */
static void case_beforeconnect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct addrinfo *res = t_resolve();
	int ep = epoll_create1(EPOLL_CLOEXEC), l, c, s, tls;

	t_phase = "beforeconnect";
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 4) < 0 || getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		die_errno("a local listener");
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c < 0)
		die_errno("socket");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLOUT, DATA_A);
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 &&
	    errno != EINPROGRESS)
		die_errno("connect to the local listener");
	expect_event(ep, EPOLLOUT, DATA_A, "connected (not configured)");
	s = accept(l, NULL, NULL);
	if (s < 0)
		die_errno("accept");
	t_write_all(s, "hi", 2);
	t_sleep_ms(50);
	t_epoll_ctl(ep, EPOLL_CTL_MOD, c, EPOLLIN, DATA_A);
	expect_event(ep, EPOLLIN, DATA_A, "readable (not configured)");
	t_epoll_ctl(ep, EPOLL_CTL_DEL, c, 0, 0);
	close(s);
	close(c);
	close(l);

	tls = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tls < 0)
		die_errno("socket");
	t_epoll_ctl(ep, EPOLL_CTL_ADD, tls, EPOLLIN, DATA_B);
	if (connect(tls, res->ai_addr, res->ai_addrlen) < 0)
		die_errno("connect to %s:%s", t_host, t_port);
	t_write_all(tls, "PING\r\n", 6);
	expect_event(ep, EPOLLIN, DATA_B, "the TLS endpoint's reply");
	t_expect_str(tls, "beforeconnect PING", "+PONG\r\n");
	freeaddrinfo(res);
	close(tls);
	close(ep);
}

/* A connection that has answered a PING; with relay, switched to relay
   mode first (a PING written past the hooks). */
static int conn(int relay)
{
	int c = t_connect();

	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	if (relay) {
		if (syscall(SYS_write, c, "PING\r\n", 6) != 6)
			die_errno("a write past the hooks");
		t_expect_str(c, "the relayed reply", "+PONG\r\n");
	}
	return c;
}

/* A registered connection closed while a dup of it stays open, a reply
   then on its way through the dup: natively the registration stays
   (until the file's last number goes) and its event carries the
   program's data; through the shim it goes with the close.  Either way no
   event carries anything but the program's data.  On the fast path, and
   in relay mode (bytes written past the hooks first). */
static void case_closedup(void)
{
	for (int relay = 0; relay < 2; relay++) {
		struct epoll_event ev[4];
		int ep = epoll_create1(EPOLL_CLOEXEC), c = conn(relay), d, n;

		t_phase = relay ? "closedup (relay)" : "closedup";
		t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, DATA_A);
		d = dup(c);
		if (d < 0)
			die_errno("dup");
		close(c);
		t_write_all(d, "PING\r\n", 6);
		t_wait_reply(d);
		n = t_epoll_wait(ep, ev, 4, 200);
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 != DATA_A)
				die("%s: event %d: 0x%x data 0x%llx, not the "
				    "program's 0x%llx", t_phase, i, ev[i].events,
				    (unsigned long long)ev[i].data.u64,
				    (unsigned long long)DATA_A);
		t_checked();
		t_expect_str(d, "the reply through the dup", "+PONG\r\n");
		close(d);
		close(ep);
	}
}

/* A registered connection shut down for writing (the server then
   closes): one event, EOF (EPOLLIN | EPOLLRDHUP), with the program's data,
   and read() returns 0.  On the fast path, and in relay mode, where the
   session ends while the program's descriptor stays registered. */
static void case_halfclose(void)
{
	for (int relay = 0; relay < 2; relay++) {
		struct epoll_event ev[4];
		int ep = epoll_create1(EPOLL_CLOEXEC), c = conn(relay), n;
		char b[16];

		t_phase = relay ? "halfclose (relay)" : "halfclose";
		t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLRDHUP, DATA_A);
		if (shutdown(c, SHUT_WR) < 0)
			die_errno("shutdown");
		t_sleep_ms(300); /* the server's close has come: the session
				    ended before the wait */
		n = t_epoll_wait(ep, ev, 4, 3000);
		if (n != 1 || ev[0].data.u64 != DATA_A ||
		    !(ev[0].events & EPOLLIN))
			die("%s: %d events, 0x%x data 0x%llx (natively one, "
			    "EPOLLIN, data 0x%llx)", t_phase, n,
			    n > 0 ? ev[0].events : 0,
			    n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL,
			    (unsigned long long)DATA_A);
		if (read(c, b, sizeof(b)) != 0)
			die("%s: read after the event: not EOF", t_phase);
		t_checked();
		close(c);
		close(ep);
	}
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_EPOLL_TAG_CASE");
	int fd;

	t_init(argc, argv);
	fd = t_connect();
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
#define RUN(name, call)                                              \
	do {                                                         \
		if (only == NULL || strcmp(only, name) == 0) {       \
			call;                                        \
			printf("%s: ok\n", name);                    \
		}                                                    \
	} while (0)
	RUN("many", case_many());
	RUN("moddata", case_moddata(fd));
	RUN("pointer", case_pointer(fd));
	RUN("threads", case_threads());
	RUN("beforeconnect", case_beforeconnect());
	RUN("closedup", case_closedup());
	RUN("halfclose", case_halfclose());
	close(fd);
	t_done();
}
