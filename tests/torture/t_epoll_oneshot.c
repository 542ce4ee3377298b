/*
 * t_epoll_oneshot - EPOLLONESHOT, re-armed with EPOLL_CTL_MOD.
 *
 * The socket is registered EPOLLIN|EPOLLONESHOT with its own epoll_data.
 * Each reply (small ECHOs and 64 KiB GETs) is read in pieces: after every
 * event one piece is read, the program checks that the disarmed socket
 * reports nothing although data remains, then re-arms it with
 * EPOLL_CTL_MOD, which must report the pending data again.
 *
 * Checks: every reply byte-exact; exactly one event per arming, carrying the
 * registered epoll_data; no event while disarmed (timeout 0, and 30 ms for
 * the first 16 events); once the last reply is consumed and the socket
 * re-armed, no event within 200 ms (no duplicate of the last one).
 */
#include <sys/epoll.h>

#include "torture.h"

#define TAG 0x0e5407ULL

static void arm(int ep, int fd, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG };

	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die_errno("epoll_ctl(%s, EPOLLIN|EPOLLONESHOT)", op == EPOLL_CTL_ADD ? "ADD" : "MOD");
}

static void wait_one(int ep, const char *what, size_t at)
{
	struct epoll_event evs[8];
	int n = epoll_wait(ep, evs, 8, 5000);

	if (n < 0)
		die_errno("%s: epoll_wait", what);
	if (n == 0)
		die("%s: no event within 5s after re-arming, reply byte %zu", what, at);
	if (n != 1)
		die("%s: %d events for one armed registration", what, n);
	if (evs[0].data.u64 != TAG)
		die("%s: event carries epoll_data 0x%llx", what, (unsigned long long)evs[0].data.u64);
	if (evs[0].events != EPOLLIN)
		die("%s: events 0x%x, expected EPOLLIN only", what, evs[0].events);
}

static void expect_none(int ep, int ms, const char *what, size_t at)
{
	struct epoll_event evs[8];
	int n = epoll_wait(ep, evs, 8, ms);

	if (n < 0)
		die_errno("%s: epoll_wait", what);
	if (n > 0)
		die("%s: event 0x%x while disarmed (reply byte %zu)", what, evs[0].events, at);
}

int main(int argc, char **argv)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	char key[128], msg[64], *v, buf[4096];
	size_t vlen = 64 * 1024;
	unsigned events = 0;
	int fd, ep;

	t_init(argc, argv);
	t_key(key, sizeof(key), "v");
	v = malloc(vlen);
	t_fill(v, vlen, 99);
	ep = epoll_create1(0);
	if (ep < 0)
		die_errno("epoll_create1");
	fd = t_connect();
	{
		const char *a[] = { "SET", key, v };
		size_t l[] = { 3, strlen(key), vlen };

		resp_cmdv(&cmd, 3, a, l);
		t_write_all(fd, cmd.p, cmd.len);
		t_expect_str(fd, "SET 64 KiB", "+OK\r\n");
	}
	t_set_nonblock(fd, 1);
	arm(ep, fd, EPOLL_CTL_ADD);

	for (int round = 0; round < 24; round++) {
		int big = round % 4 == 3;
		size_t piece = big ? 4000 : 1 + (size_t)round % 5;
		struct texp x;

		cmd.len = exp.len = 0;
		if (big) {
			resp_cmd(&cmd, "GET", key, NULL);
			resp_bulk(&exp, v, vlen);
		} else {
			snprintf(msg, sizeof(msg), "oneshot-round-%d-%.*s", round, round, "abcdefghijklmnopqrstuvwxyz");
			resp_cmd(&cmd, "ECHO", msg, NULL);
			resp_bulk(&exp, msg, strlen(msg));
		}
		t_write_all(fd, cmd.p, cmd.len);	/* small enough for the send buffer */
		x = (struct texp){ big ? "GET 64 KiB in pieces" : "ECHO in pieces", exp.p, exp.len, 0 };
		while (!texp_done(&x)) {
			size_t n = piece < x.len - x.pos ? piece : x.len - x.pos;
			ssize_t r;

			wait_one(ep, x.what, x.pos);
			events++;
			r = read(fd, buf, n);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				r = 0;	/* a partial TLS record may wake us up with nothing to read */
			else if (r < 0)
				die_errno("%s: read(%zu) at byte %zu", x.what, n, x.pos);
			else if (r == 0)
				die("%s: EOF at byte %zu", x.what, x.pos);
			texp_feed(&x, buf, (size_t)r);
			expect_none(ep, events <= 16 ? 30 : 0, x.what, x.pos);
			arm(ep, fd, EPOLL_CTL_MOD);
		}
	}
	expect_none(ep, 200, "after the last reply, re-armed", 0);
	t_checked();
	t_set_nonblock(fd, 0);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	printf("epoll one-shot: %u events\n", events);
	close(fd);
	close(ep);
	free(v);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
