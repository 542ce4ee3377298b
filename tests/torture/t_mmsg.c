/*
 * t_mmsg - sendmmsg/recvmmsg and sendfile on the connection: every byte
 * must travel the way write() would (through TLS, with the shim), and the
 * replies come back byte-exact.
 *   - sendmmsg of 3 messages (SET, GET, PING), each of several iovecs:
 *     returns 3, each msg_len the message's size;
 *   - recvmmsg of the replies into 2 messages: the first holds data;
 *   - sendfile of a file holding 100 pipelined INCRs, with an offset and
 *     without: the replies are :1 .. :100;
 *   - sendfile without an offset on a non-blocking socket while a script
 *     stalls the server: each call that fails (EAGAIN) leaves the file
 *     position where it was, each one that sends n moves it n, and the
 *     8 MiB SET arrives whole;
 *   - sendfile from a file the kernel cannot send from (another TCP
 *     connection, a socketpair end, a pipe, each holding a PING or with
 *     nothing to read): EINVAL at once, nothing read from it or sent
 *     (through the shim the other connection is a TLS one too), and a
 *     PING then answered alone.
 */
#include "torture.h"

#include <sys/sendfile.h>

static void mmsg_round(int fd)
{
	char key[128];
	struct tbuf c[3] = { 0 }, exp = { 0 };
	struct iovec iov[3][2];
	struct mmsghdr m[3];
	char rbuf[2][256];
	struct iovec riov[2] = { { rbuf[0], sizeof(rbuf[0]) },
				 { rbuf[1], sizeof(rbuf[1]) } };
	struct mmsghdr r[2];
	size_t got = 0;
	char all[512];
	int n;

	t_key(key, sizeof(key), "mmsg");
	resp_cmd(&c[0], "SET", key, "mmsg-value", NULL);
	resp_cmd(&c[1], "GET", key, NULL);
	resp_cmd(&c[2], "PING", NULL);
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++) {
		size_t half = c[i].len / 2;
		iov[i][0] = (struct iovec){ c[i].p, half };
		iov[i][1] = (struct iovec){ c[i].p + half, c[i].len - half };
		m[i].msg_hdr.msg_iov = iov[i];
		m[i].msg_hdr.msg_iovlen = 2;
	}
	n = sendmmsg(fd, m, 3, 0);
	if (n != 3)
		die_errno("sendmmsg returned %d, expected 3", n);
	for (int i = 0; i < 3; i++)
		if (m[i].msg_len != c[i].len)
			die("sendmmsg: msg_len[%d] = %u, expected %zu", i,
			    m[i].msg_len, c[i].len);
	tbuf_addf(&exp, "+OK\r\n$10\r\nmmsg-value\r\n+PONG\r\n");
	while (got < exp.len) {
		memset(r, 0, sizeof(r));
		r[0].msg_hdr.msg_iov = &riov[0];
		r[0].msg_hdr.msg_iovlen = 1;
		r[1].msg_hdr.msg_iov = &riov[1];
		r[1].msg_hdr.msg_iovlen = 1;
		n = recvmmsg(fd, r, 2, MSG_WAITFORONE, NULL);
		if (n < 1)
			die_errno("recvmmsg returned %d", n);
		for (int i = 0; i < n; i++) {
			if (got + r[i].msg_len > sizeof(all))
				die("recvmmsg: more bytes than the replies");
			memcpy(all + got, rbuf[i], r[i].msg_len);
			got += r[i].msg_len;
		}
	}
	t_compare("replies to sendmmsg", exp.p, exp.len, all, got);
	t_checked();
	for (int i = 0; i < 3; i++)
		tbuf_free(&c[i]);
	tbuf_free(&exp);
}

static void sendfile_round(int fd, int with_offset)
{
	char key[128], path[] = "/tmp/t_mmsg.XXXXXX";
	struct tbuf cmds = { 0 }, exp = { 0 };
	off_t off = 7;
	ssize_t w;
	int f;

	t_key(key, sizeof(key), with_offset ? "sf-off" : "sf");
	tbuf_add(&cmds, "garbage", 7); /* skipped by the offset */
	for (int i = 1; i <= 100; i++) {
		resp_cmd(&cmds, "INCR", key, NULL);
		tbuf_addf(&exp, ":%d\r\n", i);
	}
	f = mkstemp(path);
	if (f < 0)
		die_errno("mkstemp");
	unlink(path);
	t_write_all(f, cmds.p, cmds.len);
	if (with_offset) {
		w = sendfile(fd, f, &off, cmds.len - 7);
		if (w != (ssize_t)(cmds.len - 7) || off != (off_t)cmds.len)
			die_errno("sendfile with offset: %zd, offset %lld", w,
				  (long long)off);
	} else {
		if (lseek(f, 7, SEEK_SET) != 7)
			die_errno("lseek");
		w = sendfile(fd, f, NULL, cmds.len - 7);
		if (w != (ssize_t)(cmds.len - 7))
			die_errno("sendfile: %zd", w);
	}
	close(f);
	t_expect(fd, with_offset ? "sendfile (offset) replies" : "sendfile replies",
		 exp.p, exp.len);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	tbuf_free(&cmds);
	tbuf_free(&exp);
}

/* The file position after each non-blocking sendfile(NULL) is past only
   what the socket took: a call that fails with EAGAIN moves it not. */
static void sendfile_eagain_round(int fd)
{
	char key[128], path[] = "/tmp/t_mmsg.XXXXXX", exp[64];
	size_t vlen = 8u << 20;
	struct tbuf cmd = { 0 };
	char *val = malloc(vlen);
	off_t sent = 0, pos;
	int f, h, eagain = 0;

	if (val == NULL)
		die("out of memory");
	t_key(key, sizeof(key), "sf-eagain");
	memset(val, 'v', vlen);
	resp_cmdv(&cmd, 3, (const char *const[]){ "SET", key, val },
		  (const size_t[]){ 3, strlen(key), vlen });
	f = mkstemp(path);
	if (f < 0)
		die_errno("mkstemp");
	unlink(path);
	t_write_all(f, cmd.p, cmd.len);
	if (lseek(f, 0, SEEK_SET) != 0)
		die_errno("lseek");
	h = t_stall_server(1000000);
	t_set_nonblock(fd, 1);
	while (sent < (off_t)cmd.len) {
		ssize_t n = sendfile(fd, f, NULL, cmd.len - (size_t)sent);
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (n < 0 && errno != EAGAIN)
			die_errno("sendfile after %lld bytes", (long long)sent);
		if (n == 0)
			die("sendfile returned 0 after %lld of %zu bytes",
			    (long long)sent, cmd.len);
		if (n > 0)
			sent += n;
		else
			eagain++;
		pos = lseek(f, 0, SEEK_CUR);
		if (pos != sent)
			die("sendfile %s: file position %lld, %lld bytes sent",
			    n < 0 ? "failed with EAGAIN" : "returned",
			    (long long)pos, (long long)sent);
		if (n < 0)
			poll(&p, 1, 5000);
	}
	t_set_nonblock(fd, 0);
	close(f);
	if (eagain == 0)
		die("sendfile never met EAGAIN while the server was stalled");
	t_expect_str(h, "stall script", ":1\r\n");
	close(h);
	t_expect_str(fd, "SET sent by sendfile", "+OK\r\n");
	snprintf(exp, sizeof(exp), ":%zu\r\n", vlen);
	t_cmd_expect(fd, exp, "STRLEN", key, NULL);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	t_checked();
	tbuf_free(&cmd);
	free(val);
}

/* sendfile() from src: EINVAL, and src's bytes (if any) still there. */
static void sendfile_refused(int fd, int src, const char *what, int has_ping)
{
	char buf[8];
	ssize_t n = sendfile(fd, src, NULL, 6);

	if (n != -1 || errno != EINVAL)
		die("sendfile from %s: %zd (%s), not EINVAL", what, n,
		    n < 0 ? strerror(errno) : "bytes sent");
	t_checked();
	if (has_ping) {
		t_read_exact(src, buf, 6, what);
		t_compare(what, "PING\r\n", 6, buf, 6);
	}
}

static void sendfile_nonfile_round(int fd)
{
	int other = t_connect(), sv[2], p[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(p) < 0)
		die_errno("socketpair or pipe");
	/* nothing to read on the other connection: a read would block */
	sendfile_refused(fd, other, "another connection", 0);
	t_write_all(sv[1], "PING\r\n", 6);
	sendfile_refused(fd, sv[0], "a socketpair end", 1);
	t_write_all(p[1], "PING\r\n", 6);
	sendfile_refused(fd, p[0], "a pipe", 1);
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	t_cmd_expect(other, "+PONG\r\n", "PING", NULL);
	close(other);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	int fd;

	t_init(argc, argv);
	fd = t_connect();
	t_phase = "sendmmsg/recvmmsg";
	mmsg_round(fd);
	t_phase = "sendfile";
	sendfile_round(fd, 1);
	sendfile_round(fd, 0);
	t_phase = "sendfile EAGAIN";
	sendfile_eagain_round(fd);
	t_phase = "sendfile from a socket or a pipe";
	sendfile_nonfile_round(fd);
	close(fd);
	t_done();
	return 0;
}
