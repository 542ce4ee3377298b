/*
 * t_bigwrite - a 64 MiB SET on a non-blocking socket whose retries after
 * EAGAIN use a different buffer and a different length.
 *
 * Every write() attempt copies the next L bytes of the request into a
 * freshly malloc'd buffer, allocated while the previous one is still live
 * (so its address differs); then the previous buffer is overwritten with
 * garbage and freed.  After EAGAIN or a short write the next attempt thus
 * uses a new buffer with another length: shorter or longer than the one
 * that just failed (1 byte up to 3 MiB).  A kernel socket allows any
 * retry pattern; TLS libraries want the same buffer again, so the transport
 * must own what it has accepted.  Writability is awaited with poll().
 * SO_SNDBUF is 256 KiB, and a second connection keeps the server busy in a
 * 500 ms script at the start, so that the socket buffers surely fill up and
 * EAGAIN happens, however fast the machine or slow the tool (valgrind).
 *
 * Checks: the +OK reply, then GET returns the 64 MiB value byte-exact (read
 * non-blocking in pieces of varying size), STRLEN and DEL agree; at least
 * one EAGAIN happened (otherwise the retry path was not exercised).
 */
#include "torture.h"

#define VALUE_LEN (64u << 20)

/* A byte stream made of a header, the value and a trailer, never materialised whole. */
struct stream {
	const char *parts[3];
	size_t lens[3];
	size_t total;
};

static void stream_init(struct stream *s, const char *hdr, size_t hlen, const char *v,
			size_t vlen, const char *trl, size_t tlen)
{
	*s = (struct stream){ { hdr, v, trl }, { hlen, vlen, tlen }, hlen + vlen + tlen };
}

static void stream_copy(const struct stream *s, size_t off, char *dst, size_t n)
{
	for (int i = 0; i < 3 && n > 0; i++) {
		if (off >= s->lens[i]) {
			off -= s->lens[i];
			continue;
		}
		size_t k = s->lens[i] - off < n ? s->lens[i] - off : n;

		memcpy(dst, s->parts[i] + off, k);
		dst += k;
		n -= k;
		off = 0;
	}
}

static void wait_fd(int fd, short events, const char *what, size_t at)
{
	struct pollfd p = { fd, events, 0 };
	int n = poll(&p, 1, 5000);

	if (n < 0)
		die_errno("%s: poll", what);
	if (n == 0)
		die("%s: fd not ready (0x%x) within 5s at byte %zu", what, events, at);
	if (p.revents & (POLLERR | POLLNVAL))
		die("%s: revents 0x%x at byte %zu", what, p.revents, at);
}

static void send_stream(int fd, const struct stream *s, unsigned *eagains, unsigned *writes)
{
	static const size_t sizes[] = { 1, 7, 4096, 65536 + 13, (1u << 20) + 3, 3u << 20, 100, 8191 };
	uint64_t rng = 77;
	size_t off = 0, prev_len = 0;
	char *prev = NULL;

	while (off < s->total) {
		size_t len = sizes[t_rand(&rng) % (sizeof(sizes) / sizeof(sizes[0]))];
		char *buf;
		ssize_t w;

		if (len > s->total - off)
			len = s->total - off;
		if (len == prev_len && len > 1)
			len--;	/* never retry with the length that just failed */
		/* allocated while the previous one is still live: a different address */
		buf = malloc(len);
		if (!buf)
			die("out of memory");
		stream_copy(s, off, buf, len);
		if (prev) {
			/* whatever the transport kept, it must not be the old buffer */
			memset(prev, 0xA5, prev_len);
			free(prev);
		}
		w = write(fd, buf, len);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			die_errno("write(%zu) at request byte %zu", len, off);
		if (w == 0)
			die("write returned 0 at request byte %zu", off);
		prev = buf;
		prev_len = len;
		if (w < 0) {
			(*eagains)++;
			wait_fd(fd, POLLOUT, "SET 64 MiB", off);
			continue;
		}
		(*writes)++;
		off += (size_t)w;
	}
	if (prev) {
		memset(prev, 0xA5, prev_len);
		free(prev);
	}
}

static void recv_stream(int fd, const struct stream *s, const char *what)
{
	size_t bufsz = 1u << 20, off = 0, want = 1;
	char *buf = malloc(bufsz), *exp = malloc(bufsz);

	while (off < s->total) {
		size_t n = want < s->total - off ? want : s->total - off;
		ssize_t r = read(fd, buf, n);

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			wait_fd(fd, POLLIN, what, off);
			continue;
		}
		if (r < 0)
			die_errno("%s: read at byte %zu", what, off);
		if (r == 0)
			die("%s: EOF at byte %zu of %zu", what, off, s->total);
		stream_copy(s, off, exp, (size_t)r);
		if (memcmp(buf, exp, (size_t)r) != 0) {
			size_t i = 0;
			char se[256], sg[256];

			while (buf[i] == exp[i])
				i++;
			die("%s: reply differs at byte %zu\n  expected: \"%s\"\n  got:      \"%s\"",
			    what, off + i, t_show(se, sizeof(se), exp, (size_t)r, i),
			    t_show(sg, sizeof(sg), buf, (size_t)r, i));
		}
		off += (size_t)r;
		want = want * 5 % bufsz + 1;
	}
	t_checked();
	free(buf);
	free(exp);
}

int main(int argc, char **argv)
{
	struct tbuf hdr = { 0 }, ghdr = { 0 }, cmd = { 0 };
	struct stream req, rep;
	char key[128], num[32];
	unsigned eagains = 0, writes = 0;
	char *v = malloc(VALUE_LEN);
	int fd, stall;

	t_init(argc, argv);
	if (!v)
		die("out of memory");
	t_key(key, sizeof(key), "64MiB");
	t_fill(v, VALUE_LEN, 0x64);
	tbuf_addf(&hdr, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%u\r\n", strlen(key), key, VALUE_LEN);
	stream_init(&req, hdr.p, hdr.len, v, VALUE_LEN, "\r\n", 2);

	fd = t_connect();
	/* a small send buffer: EAGAIN comes early and often, even under valgrind */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ 256 * 1024 }, sizeof(int)) < 0)
		die_errno("setsockopt(SO_SNDBUF)");
	t_set_nonblock(fd, 1);
	stall = t_stall_server(500000);
	t_phase = "writing 64 MiB with a new buffer for every attempt";
	send_stream(fd, &req, &eagains, &writes);
	t_expect_str(stall, "EVAL busy loop", ":1\r\n");
	close(stall);
	if (eagains == 0)
		die("64 MiB were written without a single EAGAIN: retry path not exercised");
	t_phase = "reading the SET reply";
	stream_init(&rep, "+OK\r\n", 5, "", 0, "", 0);
	recv_stream(fd, &rep, "SET 64 MiB reply");

	t_phase = "GET 64 MiB";
	resp_cmd(&cmd, "GET", key, NULL);
	send_stream(fd, &(struct stream){ { cmd.p, "", "" }, { cmd.len, 0, 0 }, cmd.len },
		    &eagains, &writes);
	tbuf_addf(&ghdr, "$%u\r\n", VALUE_LEN);
	stream_init(&rep, ghdr.p, ghdr.len, v, VALUE_LEN, "\r\n", 2);
	recv_stream(fd, &rep, "GET 64 MiB");

	t_set_nonblock(fd, 0);
	snprintf(num, sizeof(num), ":%u\r\n", VALUE_LEN);
	t_cmd_expect(fd, num, "STRLEN", key, NULL);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	printf("64 MiB SET: %u writes, %u EAGAINs, each retry with a new buffer\n", writes, eagains);
	close(fd);
	free(v);
	tbuf_free(&hdr);
	tbuf_free(&ghdr);
	tbuf_free(&cmd);
	t_done();
}
