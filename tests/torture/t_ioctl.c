/*
 * t_ioctl - ioctl(FIONREAD) and ioctl(FIONBIO).
 *
 * FIONREAD: 0 on an idle connection; once a reply has arrived it equals the
 * reply's length (never more); after reading 3 bytes it drops by 3; after
 * the rest, 0.  For a 100 KiB reply, read() of exactly the FIONREAD count
 * returns that many bytes every time (the count is a promise).
 *
 * FIONBIO: on = read fails with EAGAIN at once and F_GETFL shows
 * O_NONBLOCK; off = F_GETFL clears it and read blocks until the reply
 * comes; FIONBIO and fcntl(O_NONBLOCK) act on the same flag; a read() of
 * 0 bytes returns 0.
 *
 * Checks: the values above and every reply byte-exact.
 */
#include <sys/ioctl.h>

#include "torture.h"

static int nread(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n) < 0)
		die_errno("ioctl(FIONREAD)");
	return n;
}

/* Poll FIONREAD until it reaches `want` (5 s at most); it must never exceed it. */
static void await_nread(int fd, int want, const char *what)
{
	double deadline = t_now_ms() + 5000;
	int n;

	for (;;) {
		n = nread(fd);
		if (n == want)
			return;
		if (n > want)
			die("%s: FIONREAD says %d, but only %d bytes can be there", what, n, want);
		if (t_now_ms() > deadline)
			die("%s: FIONREAD still %d after 5s, expected %d", what, n, want);
		t_sleep_ms(1);
	}
}

static void set_fionbio(int fd, int on)
{
	if (ioctl(fd, FIONBIO, &on) < 0)
		die_errno("ioctl(FIONBIO, %d)", on);
}

static int is_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		die_errno("fcntl(F_GETFL)");
	return (fl & O_NONBLOCK) != 0;
}

static void test_fionread(int fd, const char *key)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	const char *text = "fionread-counts-plaintext-bytes";
	size_t vlen = 100 * 1024, got = 0;
	char buf[128], *big, *v = malloc(vlen);
	int n;

	if ((n = nread(fd)) != 0)
		die("FIONREAD on an idle connection: %d, expected 0", n);
	resp_cmd(&cmd, "ECHO", text, NULL);
	resp_bulk(&exp, text, strlen(text));
	t_write_all(fd, cmd.p, cmd.len);
	await_nread(fd, (int)exp.len, "ECHO reply");
	t_read_exact(fd, buf, 3, "first 3 bytes");
	if ((n = nread(fd)) != (int)exp.len - 3)
		die("FIONREAD after reading 3 of %zu bytes: %d, expected %zu", exp.len, n, exp.len - 3);
	t_read_exact(fd, buf + 3, exp.len - 3, "rest of the ECHO reply");
	t_compare("ECHO read after FIONREAD", exp.p, exp.len, buf, exp.len);
	if ((n = nread(fd)) != 0)
		die("FIONREAD after the whole reply: %d, expected 0", n);
	t_checked();

	/* a 100 KiB reply, read FIONREAD bytes at a time */
	t_fill(v, vlen, 5);
	cmd.len = exp.len = 0;
	{
		const char *a[] = { "SET", key, v };
		size_t l[] = { 3, strlen(key), vlen };

		resp_cmdv(&cmd, 3, a, l);
	}
	t_write_all(fd, cmd.p, cmd.len);
	t_expect_str(fd, "SET 100 KiB", "+OK\r\n");
	cmd.len = 0;
	resp_cmd(&cmd, "GET", key, NULL);
	resp_bulk(&exp, v, vlen);
	t_write_all(fd, cmd.p, cmd.len);
	big = malloc(exp.len);
	while (got < exp.len) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 5000) != 1)
			die("GET 100 KiB: not readable within 5s at byte %zu", got);
		n = nread(fd);
		if (n <= 0) {
			t_sleep_ms(1);	/* readable, count not yet known (e.g. a partial record) */
			continue;
		}
		if ((size_t)n > exp.len - got)
			die("GET 100 KiB: FIONREAD %d exceeds the %zu bytes left", n, exp.len - got);
		r = recv(fd, big + got, (size_t)n, MSG_DONTWAIT);
		if (r != n)
			die_errno("GET 100 KiB: FIONREAD promised %d bytes, recv(MSG_DONTWAIT) returned %zd",
				  n, r);
		got += (size_t)r;
	}
	t_compare("GET 100 KiB read by FIONREAD counts", exp.p, exp.len, big, got);
	free(big);
	free(v);
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

static void test_fionbio(int fd)
{
	char c;

	set_fionbio(fd, 1);
	if (!is_nonblock(fd))
		die("after ioctl(FIONBIO, 1), F_GETFL lacks O_NONBLOCK");
	if (read(fd, &c, 1) != -1 || (errno != EAGAIN && errno != EWOULDBLOCK))
		die_errno("read after FIONBIO on, idle: expected -1/EAGAIN");
	set_fionbio(fd, 0);
	if (is_nonblock(fd))
		die("after ioctl(FIONBIO, 0), F_GETFL still shows O_NONBLOCK");
	/* blocking again: read waits for the reply */
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);

	t_set_nonblock(fd, 1);
	set_fionbio(fd, 0);
	if (is_nonblock(fd))
		die("fcntl(O_NONBLOCK) then ioctl(FIONBIO, 0): F_GETFL still shows O_NONBLOCK");
	set_fionbio(fd, 1);
	t_set_nonblock(fd, 0);
	if (read(fd, &c, 0) != 0)
		die_errno("read of 0 bytes");
	t_cmd_expect(fd, "$7\r\nblocked\r\n", "ECHO", "blocked", NULL);
	t_checked();
}

int main(int argc, char **argv)
{
	char key[128];
	int fd;

	t_init(argc, argv);
	t_key(key, sizeof(key), "v");
	fd = t_connect();
	test_fionread(fd, key);
	test_fionbio(fd);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	close(fd);
	t_done();
}
