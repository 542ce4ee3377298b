/*
 * t_rcvtimeo - SO_RCVTIMEO firing on a BLPOP that does not return.
 *
 * A blocking connection with SO_RCVTIMEO = 300 ms sends "BLPOP key 0" for a
 * key nobody has pushed to.  read(), recv() and recvmsg() must each fail
 * with EAGAIN/EWOULDBLOCK after roughly the timeout (accepted: 250 ms to
 * 3 s), not hang and not return early.  The same fd made non-blocking fails
 * at once.  Then a second connection pushes to the key and the blocked
 * connection reads the BLPOP reply byte-exact: nothing was lost or
 * duplicated by the timeouts.  getsockopt(SO_RCVTIMEO) reads back the value
 * set.
 */
#include <sys/uio.h>

#include "torture.h"

#define TIMEOUT_MS 300

static void expect_timeout(int fd, int how, const char *what, double min_ms, double max_ms)
{
	char buf[64];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	double t0 = t_now_ms(), dt;
	ssize_t r;

	t_phase = what;
	switch (how) {
	case 0:
		r = read(fd, buf, sizeof(buf));
		break;
	case 1:
		r = recv(fd, buf, sizeof(buf), 0);
		break;
	default:
		r = recvmsg(fd, &m, 0);
		break;
	}
	dt = t_now_ms() - t0;
	if (r >= 0)
		die("%s: returned %zd after %.0f ms; expected -1/EAGAIN (BLPOP cannot have answered)",
		    what, r, dt);
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		die_errno("%s: failed after %.0f ms, but not with EAGAIN/EWOULDBLOCK", what, dt);
	if (dt < min_ms || dt > max_ms)
		die("%s: returned EAGAIN after %.0f ms, expected %.0f..%.0f ms", what, dt, min_ms, max_ms);
	printf("%s: EAGAIN after %.0f ms\n", what, dt);
	t_checked();
}

int main(int argc, char **argv)
{
	struct timeval tv = { 0, TIMEOUT_MS * 1000 }, got;
	socklen_t len = sizeof(got);
	struct tbuf cmd = { 0 }, exp = { 0 };
	char key[128];
	int c, p;

	t_init(argc, argv);
	t_key(key, sizeof(key), "never-pushed");
	c = t_connect();
	p = t_connect();
	t_cmd_expect(p, ":0\r\n", "DEL", key, NULL);

	if (setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die_errno("setsockopt(SO_RCVTIMEO)");
	if (getsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &got, &len) < 0)
		die_errno("getsockopt(SO_RCVTIMEO)");
	if (got.tv_sec != 0 || got.tv_usec < (TIMEOUT_MS - 20) * 1000 ||
	    got.tv_usec > (TIMEOUT_MS + 20) * 1000)
		die("getsockopt(SO_RCVTIMEO) = %ld.%06ld s, set %d ms", (long)got.tv_sec,
		    (long)got.tv_usec, TIMEOUT_MS);

	/* the timeout applies while the connection is idle too */
	expect_timeout(c, 0, "read on an idle connection", TIMEOUT_MS - 50, 3000);

	resp_cmd(&cmd, "BLPOP", key, "0", NULL);
	t_write_all(c, cmd.p, cmd.len);
	expect_timeout(c, 0, "read during BLPOP", TIMEOUT_MS - 50, 3000);
	expect_timeout(c, 1, "recv during BLPOP", TIMEOUT_MS - 50, 3000);
	expect_timeout(c, 2, "recvmsg during BLPOP", TIMEOUT_MS - 50, 3000);
	t_set_nonblock(c, 1);
	expect_timeout(c, 0, "read during BLPOP, O_NONBLOCK", 0, 100);
	t_set_nonblock(c, 0);
	expect_timeout(c, 0, "read during BLPOP, blocking again", TIMEOUT_MS - 50, 3000);

	t_phase = "BLPOP answered after the timeouts";
	t_cmd_expect(p, ":1\r\n", "LPUSH", key, "pushed", NULL);
	tbuf_add(&exp, "*2\r\n", 4);
	resp_bulk(&exp, key, strlen(key));
	resp_bulk(&exp, "pushed", 6);
	t_expect(c, "BLPOP reply after the timeouts", exp.p, exp.len);
	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	t_cmd_expect(p, ":0\r\n", "EXISTS", key, NULL);
	close(c);
	close(p);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
