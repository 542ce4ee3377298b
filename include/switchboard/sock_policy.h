/*
 * sock_policy.h - what the switchboard refuses, and which calls hand a TLS
 * connection to the relay because the hooks cannot follow what they do.
 *
 * Refusals: every call the shim fails although the kernel would carry it
 * out names one reason of enum sock_refusal.  The reason decides, in one
 * table (sock_policy.c), the errno the program sees and the log line that
 * says why; nothing else in the switchboard picks a refusal's errno.
 *
 * Relay triggers: a TLS socket that is spliced, fdopen()ed, or passed to
 * another process (SCM_RIGHTS) is switched to RELAY first (relay.h), so
 * that the kernel's or stdio's or the receiver's bytes go through TLS.
 *
 * Thread-safety: the table is constant; the functions take what locks the
 * socket and relay modules take.  Errors: -1 (or 1 for "refused") with
 * errno set, as the calls they serve would.
 */
#ifndef SHIM_SOCK_POLICY_H
#define SHIM_SOCK_POLICY_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

struct shim_sock;

enum sock_refusal {
	/* data sent with the connection request (TCP Fast Open, or sendto()
	   with an address on a socket not connected yet) to an endpoint */
	SOCK_REFUSE_FASTOPEN,
	/* a stream socket whose number the fd table cannot hold, to an
	   endpoint: it could not be followed */
	SOCK_REFUSE_UNTRACKABLE,
	/* the engine (configuration) could not be loaded: every outbound
	   TCP connection fails closed (the loader said why, once) */
	SOCK_REFUSE_NO_ENGINE,
	/* the engine refused the endpoint; it logged why (its errno wins) */
	SOCK_REFUSE_BY_ENGINE,
	/* only a name another thread resolved makes it an endpoint */
	SOCK_REFUSE_OTHERS_NAME,
	/* connect() while this thread is loading the engine */
	SOCK_REFUSE_LOADING,
	/* connect() in a vfork() child (the parent's memory) */
	SOCK_REFUSE_VFORK,
	/* a fork child reading / writing a session it inherited */
	SOCK_REFUSE_INHERITED_READ,
	SOCK_REFUSE_INHERITED_WRITE,
	/* dup2()/dup3() over one of the shim's private descriptors */
	SOCK_REFUSE_OVER_PRIVATE,
	/* close(), fcntl(), ioctl() or a dup of one of them: the program
	   never had it (EBADF) */
	SOCK_REFUSE_CLOSE_PRIVATE,
	/* ancillary data (sendmsg) on a TLS socket */
	SOCK_REFUSE_ANCILLARY,
	/* an offset (preadv/pwritev) on a socket */
	SOCK_REFUSE_OFFSET,
	/* the supervisor said it would wrap a connect and did not take it */
	SOCK_REFUSE_SUPERVISOR_PASSED,
	SOCK_REFUSE_COUNT
};

/*
 * sock_refuse - refuse a call for `why`: write the reason's log line, if it
 * has one, with `subject` (what is refused: an endpoint's label, "fd 5")
 * and `detail` (NULL: none) filled in; set errno to the reason's.
 * Returns -1.
 */
int sock_refuse(enum sock_refusal why, const char *subject, const char *detail);

/* sock_refuse_fd - sock_refuse with "fd N" as the subject. */
int sock_refuse_fd(enum sock_refusal why, int fd, const char *detail);

/* sock_refusal_errno - the errno a refusal for `why` gives the program. */
int sock_refusal_errno(enum sock_refusal why);

/* sock_refusal_line - the log line's format for `why` (two %s: subject,
   then detail), or NULL when the reason is refused without a line. */
const char *sock_refusal_line(enum sock_refusal why);

/*
 * sock_refuse_if_configured - a connection to addr the shim cannot wrap
 * (data sent with the connection request, a socket it cannot track): 1
 * (errno set, the reason's line logged) if addr is a configured endpoint,
 * or if the configuration cannot be loaded; 0 if it may go.
 */
int sock_refuse_if_configured(const struct sockaddr *addr, socklen_t alen,
			      enum sock_refusal why);

/*
 * sock_child_refuse - s is a session this process inherited (fork) and
 * cannot use: says so once per socket and refuses with `why`
 * (SOCK_REFUSE_INHERITED_READ or _WRITE).  Returns -1.
 */
int sock_child_refuse(struct shim_sock *s, int fd, enum sock_refusal why);

/*
 * sock_send_refused - sendto()/sendmsg()/sendmmsg() on fd (s: its tracked
 * socket, or NULL): 1 (errno set) if the call is a connection request with
 * data to a configured endpoint (MSG_FASTOPEN, or an address on a tracked
 * socket not connected yet).  A msghdr (msg, may be NULL) that passes TLS
 * sockets to another process (SCM_RIGHTS) switches them to RELAY first, so
 * the receiver can use them.
 */
int sock_send_refused(struct shim_sock *s, int flags, const void *addr,
		      socklen_t alen, const struct msghdr *msg);

/* splice(2): a TLS socket at either end is relayed first (the kernel
   moves the bytes, past the TLS session). */
ssize_t sock_splice(int in, off_t *offin, int out, off_t *offout, size_t len,
		    unsigned int flags);

/* fdopen(3): a TLS socket is relayed first (stdio reads and writes it past
   the hooks); one not connected yet is marked to be relayed from its
   connect(). */
FILE *sock_fdopen(int fd, const char *mode);

#endif
