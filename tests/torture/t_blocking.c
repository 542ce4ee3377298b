/*
 * t_blocking - plain blocking read()/write() on one connection.
 *
 * Checks: simple replies; a binary value holding every byte value (CR, LF,
 * NUL included) round-trips; 1000 pipelined commands written in one write()
 * and their replies read back with read() sizes 1, 2, 3, ... (every split of
 * the reply stream); a reply read one byte per read(); a 256 KiB value.
 */
#include "torture.h"

/* Read `x` to the end with read() calls of growing, wrapping sizes. */
static void read_stream_varied(int fd, struct texp *x)
{
	char buf[4096];
	size_t want = 1;

	while (!texp_done(x)) {
		size_t left = x->len - x->pos, n = want < left ? want : left;
		ssize_t r = read(fd, buf, n);

		if (r < 0)
			die_errno("%s: read(%zu) at byte %zu", x->what, n, x->pos);
		if (r == 0)
			die("%s: EOF at byte %zu of %zu", x->what, x->pos, x->len);
		texp_feed(x, buf, (size_t)r);
		want = want % sizeof(buf) + 1;
	}
}

int main(int argc, char **argv)
{
	char key[128], key2[128], num[32];
	unsigned char every[256];
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct texp x;
	int fd;

	t_init(argc, argv);
	fd = t_connect();
	t_key(key, sizeof(key), "k");
	t_key(key2, sizeof(key2), "counter");

	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	t_cmd_expect(fd, "$5\r\nhello\r\n", "ECHO", "hello", NULL);
	t_cmd_expect(fd, "+OK\r\n", "SET", key, "value", NULL);
	t_cmd_expect(fd, "$5\r\nvalue\r\n", "GET", key, NULL);
	t_cmd_expect(fd, "$-1\r\n", "GET", "torture:no-such-key-ever", NULL);
	t_cmd_expect(fd, "-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: \r\n",
		     "NOSUCHCOMMAND", NULL);

	/* every byte value, CR LF and NUL included */
	for (int i = 0; i < 256; i++)
		every[i] = (unsigned char)i;
	{
		const char *a[] = { "SET", key, (const char *)every };
		size_t l[] = { 3, strlen(key), sizeof(every) };

		resp_cmdv(&cmd, 3, a, l);
		t_write_all(fd, cmd.p, cmd.len);
		t_expect_str(fd, "SET binary", "+OK\r\n");
		cmd.len = 0;
		resp_cmd(&cmd, "GET", key, NULL);
		t_write_all(fd, cmd.p, cmd.len);
		resp_bulk(&exp, every, sizeof(every));
		t_expect(fd, "GET binary", exp.p, exp.len);
	}

	/* 1000 pipelined commands in one write, replies read in every split */
	cmd.len = exp.len = 0;
	resp_cmd(&cmd, "DEL", key2, NULL);
	tbuf_add(&exp, ":0\r\n", 4);
	for (int i = 1; i <= 1000; i++) {
		snprintf(num, sizeof(num), "v%d", i * 7919);
		if (i % 2) {
			resp_cmd(&cmd, "INCR", key2, NULL);
			tbuf_addf(&exp, ":%d\r\n", (i + 1) / 2);
		} else {
			resp_cmd(&cmd, "ECHO", num, NULL);
			resp_bulk(&exp, num, strlen(num));
		}
	}
	t_write_all(fd, cmd.p, cmd.len);
	x = (struct texp){ "1000 pipelined", exp.p, exp.len, 0 };
	read_stream_varied(fd, &x);

	/* one byte per read() */
	cmd.len = exp.len = 0;
	for (int i = 0; i < 20; i++) {
		resp_cmd(&cmd, "GET", key, NULL);
		resp_bulk(&exp, every, sizeof(every));
	}
	t_write_all(fd, cmd.p, cmd.len);
	x = (struct texp){ "one byte per read", exp.p, exp.len, 0 };
	while (!texp_done(&x)) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r != 1)
			die_errno("one byte per read: read returned %zd at byte %zu", r, x.pos);
		texp_feed(&x, &c, 1);
	}

	/* 256 KiB value: write() and read() both see partial transfers */
	{
		size_t n = 256 * 1024;
		char *v = malloc(n);
		const char *a[] = { "SET", key, v };
		size_t l[] = { 3, strlen(key), n };

		t_fill(v, n, 42);
		cmd.len = exp.len = 0;
		resp_cmdv(&cmd, 3, a, l);
		resp_cmd(&cmd, "GET", key, NULL);
		resp_cmd(&cmd, "STRLEN", key, NULL);
		tbuf_add(&exp, "+OK\r\n", 5);
		resp_bulk(&exp, v, n);
		tbuf_addf(&exp, ":%zu\r\n", n);
		t_write_all(fd, cmd.p, cmd.len);
		x = (struct texp){ "256 KiB SET/GET", exp.p, exp.len, 0 };
		read_stream_varied(fd, &x);
		free(v);
	}

	t_cmd_expect(fd, ":2\r\n", "DEL", key, key2, NULL);
	if (close(fd) != 0)
		die_errno("close");
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
