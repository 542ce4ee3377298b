/*
 * t_badmsg - sendmsg/recvmsg with broken arguments, next to a working
 * connection.
 *
 * A malformed SCM_RIGHTS control message (cmsg_len shorter than a header,
 * or running past msg_controllen) on a socketpair fails with EINVAL, as the
 * kernel says; a NULL msghdr on the Redis connection fails with EFAULT for
 * sendmsg and recvmsg.  None of them may crash the program or disturb the
 * connection: PING answers before, between and after, and a well-formed
 * SCM_RIGHTS passing the connection's descriptor then works (the copy
 * received serves the next command).
 *
 * Checks: the errnos above and every reply byte-exact.
 */
#include <sys/uio.h>

#include "torture.h"

union cbuf {
	struct cmsghdr h;
	char b[CMSG_SPACE(sizeof(int))];
};

/* sendmsg on sv with one SCM_RIGHTS header of cmsg_len `len` in a control
   buffer of `space` bytes: the errno, or 0 if it was sent. */
static int send_rights(int sv, int fd, size_t len, size_t space)
{
	union cbuf u;
	struct iovec iov = { "x", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = &u, .msg_controllen = space };

	memset(&u, 0, sizeof(u));
	u.h.cmsg_level = SOL_SOCKET;
	u.h.cmsg_type = SCM_RIGHTS;
	u.h.cmsg_len = len;
	memcpy(CMSG_DATA(&u.h), &fd, sizeof(fd));
	errno = 0;
	return sendmsg(sv, &m, 0) < 0 ? errno : 0;
}

static int recv_rights(int sv)
{
	union cbuf u;
	char c;
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = &u, .msg_controllen = sizeof(u) };
	struct cmsghdr *h;
	int fd;

	if (recvmsg(sv, &m, 0) != 1)
		die_errno("recvmsg(SCM_RIGHTS)");
	h = CMSG_FIRSTHDR(&m);
	if (h == NULL || h->cmsg_type != SCM_RIGHTS)
		die("recvmsg(SCM_RIGHTS): no descriptor came");
	memcpy(&fd, CMSG_DATA(h), sizeof(fd));
	return fd;
}

static void expect_errno(int got, int want, const char *what)
{
	if (got != want)
		die("%s: errno %d (%s), the kernel says %d (%s)", what, got,
		    strerror(got), want, strerror(want));
	t_checked();
}

int main(int argc, char **argv)
{
	int fd, sv[2], copy;

	t_init(argc, argv);
	fd = t_connect();
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die_errno("socketpair");

	t_phase = "malformed control messages";
	expect_errno(send_rights(sv[0], fd, 8, sizeof(union cbuf)), EINVAL,
		     "sendmsg, cmsg_len shorter than a header");
	expect_errno(send_rights(sv[0], fd, 4096, sizeof(union cbuf)), EINVAL,
		     "sendmsg, cmsg_len past msg_controllen");
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);

	t_phase = "NULL msghdr";
	errno = 0;
	expect_errno(sendmsg(fd, NULL, 0) < 0 ? errno : 0, EFAULT,
		     "sendmsg(fd, NULL)");
	errno = 0;
	expect_errno(recvmsg(fd, NULL, MSG_DONTWAIT) < 0 ? errno : 0, EFAULT,
		     "recvmsg(fd, NULL)");
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);

	t_phase = "the descriptor passed whole";
	expect_errno(send_rights(sv[0], fd, CMSG_LEN(sizeof(int)),
				 sizeof(union cbuf)), 0, "sendmsg(SCM_RIGHTS)");
	copy = recv_rights(sv[1]);
	t_cmd_expect(copy, "$4\r\npass\r\n", "ECHO", "pass", NULL);
	close(copy);
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	close(sv[0]);
	close(sv[1]);
	t_done();
}
