/*
 * t_msg - sendmsg()/recvmsg() with scattered buffers and flags.
 *
 * Checks: pipelined commands sent by sendmsg() as many iovecs (with
 * MSG_NOSIGNAL, and MSG_DONTWAIT for a small one), partial sends resumed;
 * replies gathered by recvmsg() into 3-, 5- and 11-byte iovecs, byte-exact;
 * recvmsg() leaves msg_flags 0 and msg_controllen 0 when a control buffer is
 * offered (no ancillary data on a stream); recvmsg(MSG_PEEK) does not consume;
 * recvmsg(MSG_WAITALL) fills the whole request; recvmsg(MSG_DONTWAIT) on an
 * idle connection fails with EAGAIN.
 */
#include <sys/uio.h>

#include "torture.h"

static void sendmsg_all(int fd, const char *p, size_t n, size_t piece, int flags)
{
	struct iovec iov[64];

	while (n > 0) {
		struct msghdr m = { 0 };
		size_t off = 0;
		int cnt = 0;
		ssize_t w;

		for (; cnt < 64 && off < n; cnt++) {
			iov[cnt].iov_base = (char *)p + off;
			iov[cnt].iov_len = piece < n - off ? piece : n - off;
			off += iov[cnt].iov_len;
		}
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)cnt;
		w = sendmsg(fd, &m, flags);
		if (w < 0)
			die_errno("sendmsg(%d iovecs, flags 0x%x)", cnt, flags);
		p += w;
		n -= (size_t)w;
	}
}

/* One recvmsg() into `cnt` iovecs of `piece` bytes (capped by max); checks the header it returns. */
static ssize_t recvmsg_once(int fd, char *buf, size_t piece, int cnt, size_t max, int flags,
			    const char *what)
{
	struct iovec iov[16];
	union {
		struct cmsghdr align;
		char buf[128];
	} ctl;
	struct msghdr m = { 0 };
	size_t off = 0;
	int n = 0;
	ssize_t r;

	for (; n < cnt && off < max; n++) {
		iov[n].iov_base = buf + off;
		iov[n].iov_len = piece < max - off ? piece : max - off;
		off += iov[n].iov_len;
	}
	m.msg_iov = iov;
	m.msg_iovlen = (size_t)n;
	m.msg_control = ctl.buf;
	m.msg_controllen = sizeof(ctl.buf);
	m.msg_flags = 0x7fffffff;	/* output only: must be overwritten */
	r = recvmsg(fd, &m, flags);
	if (r < 0)
		return r;
	if (m.msg_flags != 0)
		die("%s: recvmsg returned msg_flags 0x%x, expected 0", what, m.msg_flags);
	if (m.msg_controllen != 0)
		die("%s: recvmsg returned msg_controllen %zu, expected 0 (no ancillary data)",
		    what, (size_t)m.msg_controllen);
	return r;
}

static void recvmsg_expect(int fd, struct texp *x, size_t piece, int cnt)
{
	char buf[16 * 16];

	while (!texp_done(x)) {
		ssize_t r = recvmsg_once(fd, buf, piece, cnt, x->len - x->pos, 0, x->what);

		if (r < 0)
			die_errno("%s: recvmsg at byte %zu", x->what, x->pos);
		if (r == 0)
			die("%s: EOF at byte %zu of %zu", x->what, x->pos, x->len);
		texp_feed(x, buf, (size_t)r);
	}
}

int main(int argc, char **argv)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct texp x;
	char key[128], val[64], a[256], b[256];
	static const size_t pieces[] = { 3, 5, 11 };
	ssize_t r;
	int fd;

	t_init(argc, argv);
	t_key(key, sizeof(key), "k");
	fd = t_connect();

	r = recvmsg_once(fd, a, 8, 2, 16, MSG_DONTWAIT, "idle MSG_DONTWAIT");
	if (r != -1 || (errno != EAGAIN && errno != EWOULDBLOCK))
		die_errno("recvmsg(MSG_DONTWAIT) on an idle connection returned %zd, "
			  "expected -1/EAGAIN", r);

	for (int round = 0; round < 3; round++) {
		cmd.len = exp.len = 0;
		for (int i = 0; i < 200; i++) {
			snprintf(val, sizeof(val), "round%d:%d:%0*d", round, i, i % 23, i);
			resp_cmd(&cmd, "SET", key, val, NULL);
			resp_cmd(&cmd, "APPEND", key, "+", NULL);
			resp_cmd(&cmd, "GET", key, NULL);
			tbuf_add(&exp, "+OK\r\n", 5);
			tbuf_addf(&exp, ":%zu\r\n", strlen(val) + 1);
			strcat(val, "+");
			resp_bulk(&exp, val, strlen(val));
		}
		sendmsg_all(fd, cmd.p, cmd.len, pieces[round] * 3, MSG_NOSIGNAL);
		x = (struct texp){ "recvmsg scattered replies", exp.p, exp.len, 0 };
		recvmsg_expect(fd, &x, pieces[round], 16);
	}

	/* MSG_PEEK then MSG_WAITALL: the peeked bytes are still there, all of them */
	cmd.len = exp.len = 0;
	resp_cmd(&cmd, "ECHO", "peek-then-waitall", NULL);
	resp_bulk(&exp, "peek-then-waitall", 17);
	sendmsg_all(fd, cmd.p, cmd.len, 4, MSG_DONTWAIT | MSG_NOSIGNAL);
	r = recvmsg_once(fd, a, 1, 1, 1, MSG_PEEK, "MSG_PEEK");
	if (r != 1)
		die_errno("recvmsg(MSG_PEEK) returned %zd, expected 1", r);
	t_compare("recvmsg(MSG_PEEK) first byte", "$", 1, a, 1);
	r = recvmsg_once(fd, b, 5, 16, exp.len, MSG_WAITALL, "MSG_WAITALL");
	if (r != (ssize_t)exp.len)
		die_errno("recvmsg(MSG_WAITALL, %zu) returned %zd", exp.len, r);
	t_compare("recvmsg(MSG_WAITALL) after MSG_PEEK", exp.p, exp.len, b, (size_t)r);

	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	close(fd);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
