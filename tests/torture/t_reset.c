/*
 * t_reset.c - the server resets a connection that still has replies on
 * the way: what it sent before is read, as from a kernel socket.
 *
 * The program pipelines GETs of a 64 KiB value without reading for
 * 300 ms (the replies fill the buffers on the way), another connection
 * has the server CLIENT KILL it (its unread requests turn the close into
 * a reset), the program writes on until a write fails, then reads to the
 * end.  SIGPIPE is left at its default: the first write after a reset
 * fails with ECONNRESET, which raises none (only a second one would get
 * EPIPE and the signal).
 *
 *   fast     on the fast path
 *   relayed  on a connection a raw syscall(SYS_write) switched to relay
 *            mode
 *
 * Checks: that first failing write's ECONNRESET, and no death by SIGPIPE
 * (through the shim the relayed case's socketpair says EPIPE, which the
 * shim must report as the reset it is); the reads return at least one
 * whole reply, every byte as sent
 * (the same reply again and again), and end with 0 or ECONNRESET, never
 * an errno a read cannot have (EPIPE).
 */
#include <sys/syscall.h>

#include "torture.h"

#define VLEN (64 * 1024)

static void run(const char *name, int relayed, const struct tbuf *reply)
{
	struct tbuf c = { 0 }, g = { 0 };
	char id[32], *r, *buf = malloc(1 << 20);
	size_t n, got = 0;
	double t0;
	int h = t_connect(), fd = t_connect(), err = 0;

	t_phase = name;
	if (buf == NULL)
		die("out of memory");
	if (relayed) {
		if (syscall(SYS_write, fd, "PING\r\n", 6) != 6)
			die_errno("%s: syscall(SYS_write) of a PING", name);
		t_expect_str(fd, "the raw PING's reply", "+PONG\r\n");
	}
	resp_cmd(&c, "CLIENT", "ID", NULL);
	t_write_all(fd, c.p, c.len);
	r = t_read_reply(fd, &n, "CLIENT ID");
	snprintf(id, sizeof(id), "%ld", atol(r + 1));
	free(r);
	for (int i = 0; i < 64; i++)
		resp_cmd(&g, "GET", "torture:t_reset:v", NULL);
	t_set_nonblock(fd, 1);
	for (t0 = t_now_ms(); t_now_ms() - t0 < 300;)
		if (write(fd, g.p, g.len) < 0)
			t_sleep_ms(1);
	t_cmd_expect(h, ":1\r\n", "CLIENT", "KILL", "ID", id, NULL);
	for (t0 = t_now_ms(); err == 0 && t_now_ms() - t0 < 5000;) {
		if (write(fd, g.p, g.len) < 0 && errno != EAGAIN)
			err = errno;
		t_sleep_ms(1);
	}
	if (err != ECONNRESET)
		die("%s: the first write to fail after the reset: %s, not "
		    "ECONNRESET", name, err ? strerror(err) : "none for 5 s");
	t_checked();
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, 5000) != 1)
			die("%s: no end of stream 5 s after the reset (%zu bytes "
			    "read)", name, got);
		k = read(fd, buf, 1 << 20);
		if (k < 0 && errno == EAGAIN)
			continue;
		if (k <= 0) {
			err = k < 0 ? errno : 0;
			break;
		}
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] != reply->p[(got + (size_t)i) % reply->len])
				die("%s: byte %zu after the reset differs", name,
				    got + (size_t)i);
		got += (size_t)k;
	}
	t_checked();
	if (got < reply->len || (err != 0 && err != ECONNRESET))
		die("%s: %zu bytes (%.2f replies) read before the end, which "
		    "was %s", name, got, (double)got / (double)reply->len,
		    err ? strerror(err) : "0");
	t_checked();
	printf("%s: ok (%zu bytes read after the reset, then %s)\n", name, got,
	       err ? strerror(err) : "the end of stream");
	close(fd);
	close(h);
	tbuf_free(&c);
	tbuf_free(&g);
	free(buf);
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_RESET_CASE");
	struct tbuf set = { 0 }, reply = { 0 };
	char *v = malloc(VLEN);
	const char *a[] = { "SET", "torture:t_reset:v", v };
	size_t l[] = { 3, 17, VLEN };
	int h;

	t_init(argc, argv);
	if (v == NULL)
		die("out of memory");
	t_fill(v, VLEN, 11);
	resp_cmdv(&set, 3, a, l);
	resp_bulk(&reply, v, VLEN);
	h = t_connect();
	t_write_all(h, set.p, set.len);
	t_expect_str(h, "SET", "+OK\r\n");
	if (only == NULL || strcmp(only, "fast") == 0)
		run("fast", 0, &reply);
	if (only == NULL || strcmp(only, "relayed") == 0)
		run("relayed", 1, &reply);
	t_cmd_expect(h, ":1\r\n", "DEL", "torture:t_reset:v", NULL);
	close(h);
	tbuf_free(&set);
	tbuf_free(&reply);
	free(v);
	t_done();
}
