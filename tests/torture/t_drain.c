/*
 * t_drain - reads drain like a kernel socket: a read of N bytes returns
 * min(N, everything available), across TLS record boundaries, and a
 * readable report is never followed by EAGAIN.
 *
 * After a PING (read blocking: it also absorbs whatever the transport
 * sends first, such as TLS 1.3 session tickets), three phases:
 *
 *   exact  a 60000-byte value (four TLS records), GET, wait 300 ms so the
 *          whole reply has arrived, then recv() with MSG_DONTWAIT of 1,
 *          100, 16383, 16385, 20000 bytes and finally of 1 MiB ("all the
 *          rest"): each must return exactly what was asked for, the last
 *          exactly the rest.  A transport that stops at a record boundary
 *          returns less.
 *   poll   1000 GETs of a 1 MiB value; before each recv(MSG_DONTWAIT,
 *          64 KiB) poll() must have said POLLIN, and the recv must then
 *          return data, never EAGAIN.
 *   et     1000 GETs of a 1 MiB value through edge-triggered epoll; on
 *          each edge the program reads 64 KiB at a time and stops at the
 *          first short read (as many event loops do: a short read means
 *          the socket is drained).  A transport that returns a short read
 *          while data is still available loses the edge: the 5 s wait
 *          times out.
 *   relayed the et phase (a quarter of its rounds) on a second
 *          connection that a PING written by syscall(SYS_write) has
 *          switched to relay mode (through the shim: the relay thread
 *          carries its bytes, and must carry all of each reply, not stop
 *          with its tail still in the session).
 *
 * TORTURE_DRAIN_ROUNDS overrides 1000; TORTURE_DRAIN_PHASES (say "poll,et")
 * runs only the phases named.  Every reply is checked byte-exact.
 */
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "torture.h"

#define BIG_LEN (1u << 20)
#define EXACT_LEN 60000u /* four records; well within a receive buffer */
#define CHUNK 65536

static int rounds(void)
{
	const char *e = getenv("TORTURE_DRAIN_ROUNDS");
	int n = e ? atoi(e) : 1000;

	return n > 0 ? n : 1000;
}

static int phase_on(const char *name)
{
	const char *e = getenv("TORTURE_DRAIN_PHASES");

	return e == NULL || *e == '\0' || strstr(e, name) != NULL;
}

static void set_value(int fd, const char *key, const char *v, size_t len)
{
	struct tbuf cmd = { 0 };
	const char *a[] = { "SET", key, v };
	size_t l[] = { 3, strlen(key), len };

	resp_cmdv(&cmd, 3, a, l);
	t_write_all(fd, cmd.p, cmd.len);
	t_expect_str(fd, "SET", "+OK\r\n");
	tbuf_free(&cmd);
}

static void send_get(int fd, const char *key)
{
	struct tbuf cmd = { 0 };

	resp_cmd(&cmd, "GET", key, NULL);
	t_write_all(fd, cmd.p, cmd.len);
	tbuf_free(&cmd);
}

/* phase exact: every recv returns exactly min(asked, available). */
static void phase_exact(int fd, const char *key)
{
	static const size_t asks[] = { 1, 100, 16383, 16385, 20000 };
	struct tbuf exp = { 0 };
	char *v = malloc(EXACT_LEN), *buf = malloc(BIG_LEN);
	size_t pos = 0;

	if (!v || !buf)
		die("out of memory");
	t_phase = "exact";
	t_fill(v, EXACT_LEN, 77);
	set_value(fd, key, v, EXACT_LEN);
	resp_bulk(&exp, v, EXACT_LEN);
	for (int round = 0; round < 5; round++) {
		send_get(fd, key);
		/* the whole reply fits in the receive buffer: let it arrive */
		t_sleep_ms(300);
		pos = 0;
		for (size_t i = 0; i <= sizeof(asks) / sizeof(asks[0]); i++) {
			size_t left = exp.len - pos;
			size_t ask = i < sizeof(asks) / sizeof(asks[0]) ? asks[i] : BIG_LEN;
			size_t want = ask < left ? ask : left;
			ssize_t r = recv(fd, buf, ask, MSG_DONTWAIT);

			if (r < 0)
				die_errno("exact: recv(%zu) at reply byte %zu of %zu (all of it "
					  "had arrived)", ask, pos, exp.len);
			if ((size_t)r != want)
				die("exact: recv(%zu) at reply byte %zu returned %zd, expected "
				    "%zu: all %zu bytes of the reply had arrived", ask, pos, r,
				    want, exp.len);
			t_compare("exact: reply bytes", exp.p + pos, (size_t)r, buf, (size_t)r);
			pos += (size_t)r;
		}
		if (pos != exp.len)
			die("exact: %zu of %zu reply bytes read", pos, exp.len);
	}
	free(v);
	free(buf);
	tbuf_free(&exp);
}

/* phase poll: POLLIN, then recv(MSG_DONTWAIT) never says EAGAIN. */
static void phase_poll(int fd, const char *key, const struct tbuf *exp, int n)
{
	char *buf = malloc(CHUNK);
	unsigned polls = 0;

	if (!buf)
		die("out of memory");
	t_phase = "poll";
	for (int i = 0; i < n; i++) {
		struct texp x = { "poll: GET 1 MiB", exp->p, exp->len, 0 };

		send_get(fd, key);
		while (!texp_done(&x)) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			size_t left = x.len - x.pos;
			int rc = poll(&p, 1, 5000);
			ssize_t r;

			if (rc < 0)
				die_errno("poll");
			if (rc == 0)
				die("poll: no POLLIN for 5 s at reply byte %zu of GET %d", x.pos, i);
			if (!(p.revents & POLLIN) || (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
				die("poll: revents 0x%x at reply byte %zu of GET %d", p.revents,
				    x.pos, i);
			polls++;
			r = recv(fd, buf, left < CHUNK ? left : CHUNK, MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				die("poll said POLLIN, then recv(MSG_DONTWAIT) said EAGAIN at "
				    "reply byte %zu of GET %d (after %u polls)", x.pos, i, polls);
			if (r < 0)
				die_errno("poll: recv at reply byte %zu", x.pos);
			if (r == 0)
				die("poll: EOF at reply byte %zu", x.pos);
			texp_feed(&x, buf, (size_t)r);
		}
	}
	printf("poll: %d replies of %zu bytes in %u polls, no EAGAIN after POLLIN\n", n,
	       exp->len, polls);
	free(buf);
}

/* phase et: edge-triggered, stop at the first short read, never stall. */
static void phase_et(int fd, const char *name, const char *key,
		     const struct tbuf *exp, int n)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = 0xd7a1 };
	char *buf = malloc(CHUNK);
	unsigned edges = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (!buf)
		die("out of memory");
	t_phase = name;
	if (ep < 0)
		die_errno("epoll_create1");
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die_errno("epoll_ctl(ADD, EPOLLIN|EPOLLET)");
	for (int i = 0; i < n; i++) {
		struct texp x = { "GET 1 MiB", exp->p, exp->len, 0 };

		send_get(fd, key);
		while (!texp_done(&x)) {
			struct epoll_event got;
			int rc = epoll_wait(ep, &got, 1, 5000);

			if (rc < 0 && errno == EINTR)
				continue;
			if (rc < 0)
				die_errno("epoll_wait");
			if (rc == 0)
				die("%s: no edge for 5 s at reply byte %zu of %zu of GET %d: a "
				    "short read left data behind", name, x.pos, x.len, i);
			if (got.data.u64 != 0xd7a1)
				die("%s: event carries epoll_data 0x%llx", name,
				    (unsigned long long)got.data.u64);
			edges++;
			for (;;) {
				size_t left = x.len - x.pos;
				size_t ask = left < CHUNK ? left : CHUNK;
				ssize_t r;

				if (ask == 0)
					break;
				r = recv(fd, buf, ask, MSG_DONTWAIT);
				if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break; /* a spurious edge: allowed */
				if (r < 0)
					die_errno("%s: recv at reply byte %zu", name, x.pos);
				if (r == 0)
					die("%s: EOF at reply byte %zu", name, x.pos);
				texp_feed(&x, buf, (size_t)r);
				if ((size_t)r < ask)
					break; /* short: drained, wait for the next edge */
			}
		}
	}
	printf("%s: %d replies of %zu bytes in %u edges\n", name, n, exp->len,
	       edges);
	close(ep);
	free(buf);
}

int main(int argc, char **argv)
{
	struct tbuf exp = { 0 }, cmd = { 0 };
	char key[128], big[128];
	char *v = malloc(BIG_LEN);
	int fd, n;

	t_init(argc, argv);
	n = rounds();
	if (!v)
		die("out of memory");
	t_key(key, sizeof(key), "exact");
	t_key(big, sizeof(big), "1MiB");
	fd = t_connect();
	t_phase = "PING";
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);

	if (phase_on("exact"))
		phase_exact(fd, key);

	t_fill(v, BIG_LEN, 4242);
	set_value(fd, big, v, BIG_LEN);
	resp_bulk(&exp, v, BIG_LEN);
	if (phase_on("poll"))
		phase_poll(fd, big, &exp, n);
	if (phase_on("et"))
		phase_et(fd, "et", big, &exp, n);
	if (phase_on("relayed")) {
		int rfd = t_connect();

		t_phase = "relayed";
		if (syscall(SYS_write, rfd, "PING\r\n", 6) != 6)
			die_errno("relayed: syscall(SYS_write) of a PING");
		t_expect_str(rfd, "relayed: the raw PING's reply", "+PONG\r\n");
		/* a quarter of the rounds: the relay's extra hop makes each
		   dearer, and the stall it checks came within 222 GETs */
		phase_et(rfd, "relayed", big, &exp, n / 4 > 0 ? n / 4 : 1);
		close(rfd);
	}

	t_phase = "cleanup";
	resp_cmd(&cmd, "DEL", key, big, NULL);
	t_write_all(fd, cmd.p, cmd.len);
	t_expect_str(fd, "DEL", phase_on("exact") ? ":2\r\n" : ":1\r\n");
	close(fd);
	free(v);
	tbuf_free(&exp);
	tbuf_free(&cmd);
	t_done();
}
