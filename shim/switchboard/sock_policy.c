/*
 * sock_policy.c - the refusals and the relay triggers of sock_policy.h:
 * how a refusal is said (its row of sock_refusal.c), which connection
 * requests are refused because the shim could not wrap them, and which
 * calls switch a TLS socket to RELAY before the kernel, stdio or another
 * process uses it past the hooks.
 *
 * The hooks decide nothing of this: they look the fd up and call here (or
 * sock_io.c, sock_fd.c, which call here).  Only the refusals' lines are
 * logged from this file; relay.c logs each switch to RELAY.
 */
#include "sock_policy.h"
#include "sock_impl.h"
#include "fdtable.h"
#include "loader.h"
#include "log.h"
#include "real.h"
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ refusals */

int sock_refuse(enum sock_refusal why, const char *subject, const char *detail)
{
	const char *line = sock_refusal_line(why);

	/* a row's line is a format of two %s at most, subject first
	   (sock_refusal.c; tests/unit/test_refusal.c holds every row to it) */
	if (line != NULL)
		log_msg(SHIM_LOG_ERROR, line, subject ? subject : "?",
			detail ? detail : "");
	errno = sock_refusal_errno(why);
	return -1;
}

int sock_refuse_fd(enum sock_refusal why, int fd, const char *detail)
{
	char subject[32];

	snprintf(subject, sizeof(subject), "fd %d", fd);
	return sock_refuse(why, subject, detail);
}

int sock_child_refuse(struct shim_sock *s, int fd, enum sock_refusal why)
{
	if (s->child_warned) {
		errno = sock_refusal_errno(why); /* said once for this socket */
		return -1;
	}
	s->child_warned = 1;
	return sock_refuse_fd(why, fd, s->info.label);
}

/* ------------------------------------------------------ relay triggers */

/* fd is used by something the hooks cannot follow: if it is a TLS socket
   on the fast path, relay it from now on. */
static void sock_relay_fd(int fd, const char *why)
{
	struct shim_sock *t = fdt_acquire(fd);

	if (t == NULL)
		return;
	if (sock_fast(t))
		relay_take(t, why);
	sock_put(t);
}

/* A TLS socket passed to another process (SCM_RIGHTS) gives it the
   program's end of the socketpair, which works once the connection is
   relayed: switch each one now. */
static void sock_relay_passed(const struct msghdr *msg)
{
	const char *end = (const char *)msg->msg_control + msg->msg_controllen;
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR((struct msghdr *)msg); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		const int *fds = (const int *)CMSG_DATA(c);
		size_t n;

		/* a malformed header: the kernel refuses the call (EINVAL) */
		if (c->cmsg_len < CMSG_LEN(0) ||
		    c->cmsg_len > (size_t)(end - (const char *)c))
			break;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t k = 0; k < n; k++)
			sock_relay_fd(fds[k], "passed to another process "
					      "(SCM_RIGHTS)");
	}
}


ssize_t sock_splice(int in, off_t *offin, int out, off_t *offout, size_t len,
		    unsigned int flags)
{
	if (atomic_load_explicit(&fdt_live, memory_order_relaxed) != 0) {
		sock_relay_fd(in, "splice() from it");
		sock_relay_fd(out, "splice() to it");
	}
	if ((sock_maybe_private(in) && sock_is_private(in)) ||
	    (sock_maybe_private(out) && sock_is_private(out)))
		return sock_refuse_private();
	return real.splice(in, offin, out, offout, len, flags);
}

FILE *sock_fdopen(int fd, const char *mode)
{
	struct shim_sock *t = fdt_acquire(fd);
	FILE *f;

	if (t != NULL && sock_fast(t))
		relay_take(t, "fdopen() (stdio)");
	f = real.fdopen(fd, mode);
	if (f != NULL && t != NULL && atomic_load(&t->state) == SOCK_FRESH)
		t->stdio = 1; /* not connected yet: relayed from the start */
	if (t != NULL) {
		int err = errno;

		sock_put(t);
		errno = err;
	}
	return f;
}

/* ------------------------------------ connection requests it cannot wrap */

int sock_refuse_if_configured(const struct sockaddr *addr, socklen_t alen,
			      enum sock_refusal why)
{
	const struct shim_engine_ops *e;
	struct shim_session_info info;
	int err = 0;

	if (!sock_addr_is_inet(addr, alen))
		return 0;
	e = loader_engine();
	if (e == NULL && loader_stand_aside())
		return 0;
	if (e == NULL) {
		sock_refuse(SOCK_REFUSE_NO_ENGINE, NULL, NULL);
		return 1;
	}
	memset(&info, 0, sizeof(info));
	switch (sock_open(e, -1, addr, alen, NULL, &info, &err)) {
	case SHIM_WRAP:
		sock_refuse(why, info.label, NULL);
		return 1;
	case SHIM_REFUSE:
		sock_refuse(SOCK_REFUSE_BY_ENGINE, info.label, NULL);
		if (err != 0)
			errno = err;
		return 1;
	case SHIM_PASS:
	default:
		return 0;
	}
}

/*
 * Data with an address on a socket that is not connected yet is a
 * connection request (TCP Fast Open with MSG_FASTOPEN): checked against
 * the configuration whether or not the shim tracks the socket.
 */
int sock_send_refused(struct shim_sock *s, int flags, const void *addr,
		      socklen_t alen, const struct msghdr *msg)
{
	if (addr != NULL &&
	    ((flags & MSG_FASTOPEN) ||
	     (s != NULL && atomic_load(&s->state) == SOCK_FRESH)) &&
	    sock_refuse_if_configured(addr, alen, SOCK_REFUSE_FASTOPEN))
		return 1;
	if (msg != NULL && msg->msg_control != NULL &&
	    msg->msg_controllen > 0 && atomic_load(&fdt_live) > 0)
		sock_relay_passed(msg);
	return 0;
}
