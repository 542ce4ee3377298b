/*
 * sock_fd.c - descriptor calls on tracked sockets: close, close_range,
 * shutdown, dup*, fcntl, ioctl, socket options and addresses.
 *
 * A TLS socket is two things to the kernel: the program's descriptor (a
 * socketpair end: its flags, close-on-exec bit and timeouts are the
 * program's, set for real so that calls no hook sees behave) and the
 * private TCP socket (kfd: every TCP-level option, the addresses, the
 * pending error).  Each call goes to the one it belongs to.  A call that
 * hands the descriptor to someone the hooks cannot follow (an exec'd
 * program, stdio as a standard stream) switches the connection to RELAY.
 */
#include "sock_impl.h"
#include "sock_policy.h"
#include "fdtable.h"
#include "loader.h"
#include "log.h"
#include "names.h"
#include "real.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The TCP socket behind fd: kfd while the session lives, else fd. */
static int sock_tcp_fd(const struct shim_sock *s, int fd)
{
	enum sock_state st = atomic_load(&s->state);

	return st != SOCK_FRESH && s->kfd >= 0 && sock_owned(s) ? s->kfd : fd;
}

/* ------------------------------------------------------------ close */

int sock_close(int fd)
{
	int last, rc, err;
	struct shim_sock *s;

	if (sock_in_vfork_child())
		return real.close(fd); /* the parent's table is not ours */
	if (relay_is_private_fd(fd))
		return sock_refuse(SOCK_REFUSE_CLOSE_PRIVATE, NULL, NULL);
	s = fdt_remove(fd, &last);
	sock_notify(s, SOCK_EV_CLOSED, fd);
	rc = real.close(fd);
	err = errno;
	if (s != NULL) {
		if (last)
			sock_last_close(s);
		sock_put(s);
	}
	errno = err;
	return rc;
}

/* real close_range over [first, last], sparing the shim's own fds. */
static int sock_close_range_sparing(unsigned first, unsigned last, int flags)
{
	int n = 0;
	int *priv = relay_private_fds(first, last, &n);
	unsigned from = first;

	if (priv == NULL && n < 0)
		return -1;
	for (int i = 0; i <= n; i++) {
		unsigned to = i < n ? (unsigned)priv[i] : last;

		if (i < n && (unsigned)priv[i] == from) {
			from++;
			continue;
		}
		if (i < n)
			to--;
		if (from <= to && real.close_range(from, to, flags) < 0) {
			int err = errno;
			free(priv);
			errno = err;
			return -1;
		}
		if (i < n)
			from = (unsigned)priv[i] + 1;
		if (from == 0)
			break; /* wrapped past ~0U */
	}
	free(priv);
	return 0;
}

int sock_close_range(unsigned first, unsigned last_fd, int flags)
{
	if (real.close_range == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((flags & CLOSE_RANGE_CLOEXEC) || sock_in_vfork_child())
		return real.close_range(first, last_fd, flags);
	size_t end = fdt_socks.size;
	struct shim_sock **gone = NULL;
	size_t ngone = 0;

	if (end > 0 && last_fd < end - 1)
		end = (size_t)last_fd + 1;
	if (end > first && atomic_load(&fdt_live) > 0)
		gone = calloc(end - first, sizeof(*gone));
	for (size_t fd = first; gone != NULL && fd < end; fd++) {
		int last;
		struct shim_sock *s = fdt_remove((int)fd, &last);
		if (s == NULL)
			continue;
		sock_notify(s, SOCK_EV_CLOSED, (int)fd);
		if (!last) {
			sock_put(s);
			continue;
		}
		gone[ngone++] = s;
	}
	for (size_t fd = first; fd < end; fd++)
		sock_notify(NULL, SOCK_EV_CLOSED, (int)fd);
	int rc = sock_close_range_sparing(first, last_fd, flags), err = errno;
	for (size_t i = 0; i < ngone; i++) {
		sock_last_close(gone[i]);
		sock_put(gone[i]);
	}
	free(gone);
	errno = err;
	return rc;
}

int sock_shutdown(struct shim_sock *s, int fd, int how)
{
	if (!sock_fast(s))
		return real.shutdown(fd, how);
	if (!sock_owned(s))
		return sock_child_refuse(s, fd, SOCK_REFUSE_INHERITED_READ);
	if (sock_lock(s) < 0)
		return -1;
	/* relayed meanwhile (the watcher), or bytes written past the hooks
	   still wait in the socketpair: they go first, then the end, so the
	   relay carries both; the private socket is the relay's */
	if (!sock_fast(s) || ((how == SHUT_WR || how == SHUT_RDWR) &&
			      relay_take_written_locked(s))) {
		sock_unlock(s);
		return real.shutdown(fd, how);
	}
	switch (atomic_load(&s->state)) {
	case SOCK_READY:
		if ((how == SHUT_WR || how == SHUT_RDWR) && !s->wr_shut) {
			sock_eng()->shutdown(s->tls);
			s->wr_shut = 1;
			/* the FIN goes after every byte written: if the
			   kernel has not taken them all, the relay sends them
			   and the program's end is shut as a relayed one */
			if (relay_take_unsent_locked(s)) {
				sock_unlock(s);
				return real.shutdown(fd, how);
			}
			relay_shut_written_locked(s, fd);
		}
		if (how == SHUT_RD || how == SHUT_RDWR)
			s->rd_shut = 1;
		break;
	case SOCK_CONNECTING:
	case SOCK_HANDSHAKING:
		sock_fail_locked(s, ECONNABORTED);
		break;
	default:
		break;
	}
	sock_unlock(s);
	sock_changed(s);
	return real.shutdown(s->kfd, how);
}

/* -------------------------------------------------------------- dup */

/* A copy of one of the shim's own descriptors, one left open across an
   exec, or a write to one, would put the network socket of a TLS
   connection in the program's hands, where bytes go out in clear. */
int sock_is_private(int fd)
{
	/* not in a vfork child, which must not take the relay's lock (what
	   it execs gets them closed: relay_seal_private) */
	return sock_maybe_private(fd) && !sock_in_vfork_child() &&
	       relay_is_private_fd(fd);
}

int sock_refuse_private(void)
{
	return sock_refuse(SOCK_REFUSE_CLOSE_PRIVATE, NULL, NULL);
}

/* dup2()/dup3() over a private descriptor: the program never had it, and
   closing it would cut a TLS connection under its owner. */
static int sock_refuse_over_private(int oldfd, int newfd)
{
	char call[48], num[16];

	snprintf(call, sizeof(call), "dup2(%d, %d)", oldfd, newfd);
	snprintf(num, sizeof(num), "%d", newfd);
	return sock_refuse(SOCK_REFUSE_OVER_PRIVATE, call, num);
}

static int sock_dup_real(int oldfd, int newfd, int flags, int kind)
{
	switch (kind) {
	case SOCK_DUP_DUP:
		return real.dup(oldfd);
	case SOCK_DUP_DUP2:
		return real.dup2(oldfd, newfd);
	case SOCK_DUP_DUP3:
		return real.dup3(oldfd, newfd, flags);
	case SOCK_DUP_FCNTL:
		return real.fcntl(oldfd, F_DUPFD, newfd);
	case SOCK_DUP_FCNTL_CLOEXEC:
	default:
		return real.fcntl(oldfd, F_DUPFD_CLOEXEC, newfd);
	}
}

int sock_dup(int oldfd, int newfd, int flags, int kind)
{
	int over = (kind == SOCK_DUP_DUP2 || kind == SOCK_DUP_DUP3) &&
		   oldfd != newfd && real.fcntl(oldfd, F_GETFD) >= 0;
	struct shim_sock *so, *sn = NULL;
	int rc, err, last = 0;

	if (sock_in_vfork_child())
		return sock_dup_real(oldfd, newfd, flags, kind);
	/* the kernel's refusal, before newfd is forgotten as closed */
	if (kind == SOCK_DUP_DUP3 && (flags & ~O_CLOEXEC) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (sock_is_private(oldfd)) /* as if closed: EBADF */
		return sock_refuse_private();
	if (over && relay_is_private_fd(newfd))
		return sock_refuse_over_private(oldfd, newfd);
	so = fdt_acquire(oldfd);
	if (over) {
		sn = fdt_remove(newfd, &last);
		sock_notify(sn, SOCK_EV_CLOSED, newfd);
	}
	rc = sock_dup_real(oldfd, newfd, flags, kind);
	err = errno;
	if (sn != NULL) {
		if (last)
			sock_last_close(sn);
		sock_put(sn);
	}
	if (rc >= 0 && rc != oldfd) {
		fdt_forget_stale(rc);
		if (so != NULL)
			fdt_install(rc, so);
		/* a standard stream is read and written by stdio */
		if (so != NULL && rc <= 2 && sock_fast(so))
			relay_take(so, "it became a standard stream (stdio)");
	}
	if (so != NULL)
		sock_put(so);
	errno = err;
	return rc;
}

/* ------------------------------------------------------ fcntl, ioctl */

int sock_fcntl(struct shim_sock *s, int fd, int cmd, unsigned long arg)
{
	int rc;

	/* a daemon that clears close-on-exec on every descriptor before an
	   exec (or asks which are open) meets them as closed */
	if (s == NULL && sock_is_private(fd))
		return sock_refuse_private();
	if (s == NULL || atomic_load(&s->state) == SOCK_FRESH)
		return real.fcntl(fd, cmd, arg);
	switch (cmd) {
	case F_SETFL:
		rc = real.fcntl(fd, F_SETFL, (int)arg);
		if (rc == 0)
			s->app_nonblock = ((int)arg & O_NONBLOCK) != 0;
		return rc;
	case F_SETFD:
		rc = real.fcntl(fd, cmd, arg);
		if (rc == 0 && !((int)arg & FD_CLOEXEC) && sock_fast(s) &&
		    !sock_in_vfork_child())
			relay_take(s, "its close-on-exec flag was cleared");
		return rc;
	case F_GETOWN:
	case F_SETOWN:
	case F_GETOWN_EX:
	case F_SETOWN_EX:
	case F_SETSIG:
	case F_GETSIG:
		return real.fcntl(sock_tcp_fd(s, fd), cmd, arg);
	default:
		return real.fcntl(fd, cmd, arg);
	}
}

int sock_ioctl(struct shim_sock *s, int fd, unsigned long req, void *arg)
{
	int rc;

	if (s == NULL && sock_is_private(fd))
		return sock_refuse_private();
	if (s == NULL || atomic_load(&s->state) == SOCK_FRESH)
		return real.ioctl(fd, req, arg);
	switch (req) {
	case FIONBIO:
		rc = real.ioctl(fd, req, arg);
		if (rc == 0)
			s->app_nonblock = *(int *)arg != 0;
		return rc;
	case FIONCLEX:
		rc = real.ioctl(fd, req, arg);
		if (rc == 0 && sock_fast(s) && !sock_in_vfork_child())
			relay_take(s, "its close-on-exec flag was cleared");
		return rc;
	case FIOCLEX:
		return real.ioctl(fd, req, arg);
	case FIONREAD:
		if (!sock_fast(s))
			return real.ioctl(fd, req, arg);
		if (arg == NULL) {
			errno = EFAULT;
			return -1;
		}
		if (!sock_owned(s))
			return sock_child_refuse(s, fd,
						 SOCK_REFUSE_INHERITED_READ);
		if (sock_lock(s) < 0)
			return -1;
		*(int *)arg = atomic_load(&s->state) == SOCK_READY ?
				      (int)sock_eng()->pending(s->tls) : 0;
		sock_unlock(s);
		return 0;
	default:
		return real.ioctl(sock_tcp_fd(s, fd), req, arg);
	}
}

/* ------------------------------------------------- options, addresses */

static int sock_is_timeout(int level, int name)
{
	return level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO);
}

int sock_getsockopt(struct shim_sock *s, int fd, int level, int name,
		    void *val, socklen_t *len)
{
	int tcp = sock_tcp_fd(s, fd);

	if (!sock_fast(s) || level != SOL_SOCKET || name != SO_ERROR ||
	    val == NULL || len == NULL || *len < sizeof(int))
		return real.getsockopt(sock_is_timeout(level, name) ? fd : tcp,
				       level, name, val, len);
	if (sock_lock(s) < 0)
		return -1;
	*(int *)val = s->so_error;
	s->so_error = 0;
	sock_unlock(s);
	*len = sizeof(int);
	if (*(int *)val == 0 && atomic_load(&s->state) == SOCK_READY)
		return real.getsockopt(tcp, level, name, val, len);
	return 0;
}

int sock_setsockopt(struct shim_sock *s, int fd, int level, int name,
		    const void *val, socklen_t len)
{
	int rc;

	if (!sock_is_timeout(level, name))
		return real.setsockopt(sock_tcp_fd(s, fd), level, name, val, len);
	rc = real.setsockopt(fd, level, name, val, len);
	if (rc == 0 && atomic_load(&s->state) != SOCK_FRESH &&
	    len >= sizeof(struct timeval))
		memcpy(name == SO_RCVTIMEO ? &s->rcvtimeo : &s->sndtimeo, val,
		       sizeof(struct timeval));
	return rc;
}

int sock_getname(struct shim_sock *s, int fd, int peer, struct sockaddr *addr,
		 socklen_t *len)
{
	int tcp = sock_tcp_fd(s, fd);

	return peer ? real.getpeername(tcp, addr, len)
		    : real.getsockname(tcp, addr, len);
}
