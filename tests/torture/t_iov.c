/*
 * t_iov - readv()/writev() with many small iovecs.
 *
 * Checks: a pipeline of commands written as IOV_MAX 1-byte iovecs per
 * writev(), then as 7-byte iovecs, then as a mix of 0..13-byte iovecs; the
 * replies read back with readv() into IOV_MAX 1-byte iovecs and into 7-byte
 * iovecs, byte-exact; a partial writev/readv is continued from the exact
 * byte it stopped at; writev() and readv() with IOV_MAX + 1 iovecs fail
 * with EINVAL as on a kernel socket.
 */
#include <limits.h>
#include <sys/uio.h>

#include "torture.h"

/* Split p[0..n) into iovecs of size piece(i); returns the count. */
static size_t split(struct iovec *iov, char *p, size_t n, size_t (*piece)(size_t))
{
	size_t cnt = 0, off = 0;

	while (off < n) {
		size_t len = piece(cnt);

		if (len > n - off)
			len = n - off;
		iov[cnt].iov_base = p + off;
		iov[cnt].iov_len = len;
		off += len;
		cnt++;
	}
	return cnt;
}

static size_t one(size_t i)
{
	return 1;
}

static size_t seven(size_t i)
{
	return 7;
}

static size_t mixed(size_t i)
{
	return (i * 5) % 14;	/* 0, 5, 10, 1, 6, 11, 2, ... zero-length included */
}

/* writev() the whole iovec array, at most IOV_MAX entries a call, resuming partial writes. */
static void writev_all(int fd, struct iovec *iov, size_t cnt, const char *what)
{
	while (cnt > 0) {
		int n = cnt > IOV_MAX ? IOV_MAX : (int)cnt;
		ssize_t w = writev(fd, iov, n);

		if (w < 0)
			die_errno("%s: writev(%d iovecs)", what, n);
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (w > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/* readv() until x is complete, each call into `cnt` iovecs of `piece` bytes. */
static void readv_expect(int fd, struct texp *x, size_t piece, int cnt)
{
	struct iovec iov[IOV_MAX];
	char *buf = malloc(piece * (size_t)cnt);

	if (!buf)
		die("out of memory");
	while (!texp_done(x)) {
		size_t left = x->len - x->pos;
		int n = 0;
		ssize_t r;

		/* never ask for more than the expected stream holds */
		for (size_t off = 0; n < cnt && off < left; n++) {
			iov[n].iov_base = buf + off;
			iov[n].iov_len = piece < left - off ? piece : left - off;
			off += iov[n].iov_len;
		}
		r = readv(fd, iov, n);
		if (r < 0)
			die_errno("%s: readv(%d iovecs of %zu) at byte %zu", x->what, n, piece, x->pos);
		if (r == 0)
			die("%s: EOF at byte %zu of %zu", x->what, x->pos, x->len);
		texp_feed(x, buf, (size_t)r);
	}
	free(buf);
}

/* A pipeline of SET/GET/ECHO commands and the replies they must produce. */
static void build(struct tbuf *cmd, struct tbuf *exp, const char *key, int round)
{
	char val[64];

	cmd->len = exp->len = 0;
	for (int i = 0; i < 150; i++) {
		snprintf(val, sizeof(val), "r%d-i%d-%.*s", round, i, i % 40,
			 "0123456789abcdefghijklmnopqrstuvwxyz\r\n\t!");
		resp_cmd(cmd, "SET", key, val, NULL);
		resp_cmd(cmd, "GET", key, NULL);
		resp_cmd(cmd, "ECHO", val, NULL);
		tbuf_add(exp, "+OK\r\n", 5);
		resp_bulk(exp, val, strlen(val));
		resp_bulk(exp, val, strlen(val));
	}
}

static void expect_einval(int fd)
{
	static char bytes[IOV_MAX + 1];
	struct iovec iov[IOV_MAX + 1];

	for (int i = 0; i <= IOV_MAX; i++) {
		iov[i].iov_base = &bytes[i];
		iov[i].iov_len = 1;
	}
	errno = 0;
	if (writev(fd, iov, IOV_MAX + 1) != -1 || errno != EINVAL)
		die_errno("writev(IOV_MAX + 1 iovecs): expected -1/EINVAL");
	errno = 0;
	if (readv(fd, iov, IOV_MAX + 1) != -1 || errno != EINVAL)
		die_errno("readv(IOV_MAX + 1 iovecs): expected -1/EINVAL");
	t_checked();
}

int main(int argc, char **argv)
{
	static struct iovec iov[1 << 16];
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct texp x;
	char key[128];
	size_t cnt;
	int fd;

	t_init(argc, argv);
	t_key(key, sizeof(key), "k");
	fd = t_connect();

	build(&cmd, &exp, key, 1);
	if (cmd.len > sizeof(iov) / sizeof(iov[0]))
		die("pipeline too long for the iovec array");
	cnt = split(iov, cmd.p, cmd.len, one);
	writev_all(fd, iov, cnt, "1-byte iovecs");
	x = (struct texp){ "readv into IOV_MAX 1-byte iovecs", exp.p, exp.len, 0 };
	readv_expect(fd, &x, 1, IOV_MAX);

	build(&cmd, &exp, key, 2);
	cnt = split(iov, cmd.p, cmd.len, seven);
	writev_all(fd, iov, cnt, "7-byte iovecs");
	x = (struct texp){ "readv into 7-byte iovecs", exp.p, exp.len, 0 };
	readv_expect(fd, &x, 7, IOV_MAX);

	build(&cmd, &exp, key, 3);
	cnt = split(iov, cmd.p, cmd.len, mixed);
	writev_all(fd, iov, cnt, "0..13-byte iovecs");
	x = (struct texp){ "readv into 3 x 7-byte iovecs", exp.p, exp.len, 0 };
	readv_expect(fd, &x, 7, 3);

	expect_einval(fd);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	close(fd);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
