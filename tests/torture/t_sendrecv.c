/*
 * t_sendrecv - recv()/send() with each flag on a blocking socket.
 *
 * Checks:
 *   MSG_DONTWAIT   recv on an idle connection fails at once with EAGAIN;
 *                  send of 8 MiB may stop short, the rest follows blocking.
 *   MSG_PEEK       blocks for data like recv; returns bytes without
 *                  consuming them (peek twice, then recv: same bytes); a peek
 *                  eventually sees the whole reply; nothing extra is left.
 *   MSG_WAITALL    returns the whole requested length in one call, for a
 *                  100 KiB reply and for exactly two of three pipelined replies.
 *   MSG_NOSIGNAL   after QUIT and EOF, sending fails with EPIPE/ECONNRESET
 *                  instead of raising SIGPIPE (left at its default: death).
 */
#include "torture.h"

static void send_all(int fd, const void *p, size_t n, int flags)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = send(fd, s, n, flags);

		if (w < 0)
			die_errno("send(%zu bytes, flags 0x%x)", n, flags);
		s += w;
		n -= (size_t)w;
	}
}

static void expect_eagain(int fd, int flags, const char *what)
{
	char c;
	ssize_t r = recv(fd, &c, 1, flags);

	if (r >= 0)
		die("%s: recv returned %zd (byte 0x%02x), expected -1/EAGAIN", what, r,
		    r > 0 ? (unsigned char)c : 0);
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		die_errno("%s: recv failed, but not with EAGAIN", what);
}

/* Peek (non-blocking, polling) until n bytes are visible; returns them in buf. */
static void peek_until(int fd, char *buf, size_t n, const char *what)
{
	double deadline = t_now_ms() + 5000;
	ssize_t r;

	for (;;) {
		r = recv(fd, buf, n, MSG_PEEK | MSG_DONTWAIT);
		if (r == (ssize_t)n)
			return;
		if (r == 0)
			die("%s: MSG_PEEK saw EOF", what);
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			die_errno("%s: recv(MSG_PEEK|MSG_DONTWAIT)", what);
		if (r > (ssize_t)n)
			die("%s: MSG_PEEK returned %zd > %zu", what, r, n);
		if (t_now_ms() > deadline)
			die("%s: MSG_PEEK still sees %zd of %zu bytes after 5s", what, r, n);
		t_sleep_ms(1);
	}
}

static void test_peek(int fd)
{
	struct tbuf cmd = { 0 };
	const char *exp = "$11\r\npeek-me-now\r\n";
	size_t n = strlen(exp);
	char a[64], b[64], c[64];
	ssize_t r;

	resp_cmd(&cmd, "ECHO", "peek-me-now", NULL);
	send_all(fd, cmd.p, cmd.len, 0);

	/* a blocking peek waits for the first byte */
	r = recv(fd, a, 1, MSG_PEEK);
	if (r != 1)
		die_errno("blocking recv(MSG_PEEK) returned %zd", r);
	t_compare("first byte by MSG_PEEK", "$", 1, a, 1);

	peek_until(fd, a, n, "MSG_PEEK whole reply");
	t_compare("MSG_PEEK whole reply", exp, n, a, n);
	r = recv(fd, b, n, MSG_PEEK);
	if (r != (ssize_t)n)
		die_errno("second MSG_PEEK returned %zd, expected %zu", r, n);
	t_compare("second MSG_PEEK", exp, n, b, n);
	t_read_exact(fd, c, n, "recv after MSG_PEEK");
	t_compare("read after MSG_PEEK", exp, n, c, n);
	expect_eagain(fd, MSG_DONTWAIT, "after consuming the peeked reply");
	expect_eagain(fd, MSG_PEEK | MSG_DONTWAIT, "MSG_PEEK after consuming");
	tbuf_free(&cmd);
}

static void test_waitall(int fd, const char *key)
{
	size_t vlen = 100 * 1024;
	char *v = malloc(vlen), *got;
	const char *a[] = { "SET", key, v };
	size_t l[] = { 3, strlen(key), vlen };
	struct tbuf cmd = { 0 }, exp = { 0 };
	size_t two;
	ssize_t r;

	t_fill(v, vlen, 7);
	resp_cmdv(&cmd, 3, a, l);
	send_all(fd, cmd.p, cmd.len, MSG_NOSIGNAL);
	t_expect_str(fd, "SET 100 KiB", "+OK\r\n");

	cmd.len = 0;
	resp_cmd(&cmd, "GET", key, NULL);
	resp_bulk(&exp, v, vlen);
	send_all(fd, cmd.p, cmd.len, 0);
	got = malloc(exp.len);
	r = recv(fd, got, exp.len, MSG_WAITALL);
	if (r != (ssize_t)exp.len)
		die_errno("recv(MSG_WAITALL, %zu) returned %zd", exp.len, r);
	t_compare("GET 100 KiB by MSG_WAITALL", exp.p, exp.len, got, (size_t)r);

	/* exactly two of three pipelined replies, then the third */
	cmd.len = exp.len = 0;
	resp_cmd(&cmd, "ECHO", "one", NULL);
	resp_cmd(&cmd, "ECHO", "two", NULL);
	resp_cmd(&cmd, "ECHO", "three", NULL);
	tbuf_add(&exp, "$3\r\none\r\n$3\r\ntwo\r\n", 18);
	two = exp.len;
	tbuf_add(&exp, "$5\r\nthree\r\n", 11);
	send_all(fd, cmd.p, cmd.len, 0);
	r = recv(fd, got, two, MSG_WAITALL);
	if (r != (ssize_t)two)
		die_errno("recv(MSG_WAITALL, %zu) returned %zd", two, r);
	t_compare("two of three by MSG_WAITALL", exp.p, two, got, two);
	t_expect(fd, "third pipelined reply", exp.p + two, exp.len - two);

	free(got);
	free(v);
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

static void test_dontwait_send(int fd, const char *key)
{
	size_t vlen = 8 << 20, off = 0;
	char *v = malloc(vlen);
	const char *a[] = { "SET", key, v };
	size_t l[] = { 3, strlen(key), vlen };
	struct tbuf cmd = { 0 };
	ssize_t w;

	t_fill(v, vlen, 8);
	resp_cmdv(&cmd, 3, a, l);
	w = send(fd, cmd.p, cmd.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		die_errno("send(8 MiB, MSG_DONTWAIT)");
	if (w == 0)
		die("send(8 MiB, MSG_DONTWAIT) returned 0");
	if (w > 0)
		off = (size_t)w;
	send_all(fd, cmd.p + off, cmd.len - off, 0);
	t_expect_str(fd, "SET 8 MiB after MSG_DONTWAIT send", "+OK\r\n");
	cmd.len = 0;
	resp_cmd(&cmd, "STRLEN", key, NULL);
	w = send(fd, cmd.p, cmd.len, MSG_DONTWAIT);
	if (w != (ssize_t)cmd.len)
		die_errno("small send(MSG_DONTWAIT) returned %zd of %zu", w, cmd.len);
	t_expect_str(fd, "STRLEN 8 MiB", ":8388608\r\n");
	free(v);
	tbuf_free(&cmd);
}

static void test_nosignal(int fd)
{
	struct tbuf cmd = { 0 };
	char c;
	ssize_t r;
	int i;

	resp_cmd(&cmd, "QUIT", NULL);
	send_all(fd, cmd.p, cmd.len, MSG_NOSIGNAL);
	t_expect_str(fd, "QUIT", "+OK\r\n");
	r = recv(fd, &c, 1, 0);
	if (r != 0)
		die_errno("recv after QUIT: expected EOF (0), got %zd", r);
	r = recv(fd, &c, 1, MSG_DONTWAIT);
	if (r != 0)
		die_errno("second recv after QUIT: expected EOF (0), got %zd", r);

	/* the peer is gone: sooner or later send fails, without SIGPIPE */
	for (i = 0; i < 200; i++) {
		r = send(fd, cmd.p, cmd.len, MSG_NOSIGNAL);
		if (r < 0)
			break;
		t_sleep_ms(10);
	}
	if (r >= 0)
		die("send(MSG_NOSIGNAL) to a closed peer still succeeds after 200 tries");
	if (errno != EPIPE && errno != ECONNRESET)
		die_errno("send(MSG_NOSIGNAL) to a closed peer: expected EPIPE or ECONNRESET");
	t_checked();
	tbuf_free(&cmd);
}

int main(int argc, char **argv)
{
	char key[128];
	int fd;

	t_init(argc, argv);
	t_key(key, sizeof(key), "v");
	fd = t_connect();

	expect_eagain(fd, MSG_DONTWAIT, "idle connection, MSG_DONTWAIT");
	expect_eagain(fd, MSG_PEEK | MSG_DONTWAIT, "idle connection, MSG_PEEK|MSG_DONTWAIT");
	test_peek(fd);
	test_waitall(fd, key);
	test_dontwait_send(fd, key);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	test_nosignal(fd);
	close(fd);
	t_done();
}
