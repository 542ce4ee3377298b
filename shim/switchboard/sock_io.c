/*
 * sock_io.c - the data path of a TLS socket: the program's reads and writes
 * on the fast path, straight into the TLS session on the private socket,
 * with blocking, timeouts and EINTR emulated on top of the non-blocking
 * engine.  A socket relay.c has taken over (RELAY) or that has ended is
 * served by the real call on the program's descriptor, as the kernel would.
 *
 * Every data call's form (read, recv, recvfrom, readv, recvmsg, recvmmsg,
 * the positioned forms, and their write sides, sendfile) decides here
 * whether it is the real call or the fast path; the send forms with an
 * address or a msghdr ask sock_policy.h first whether they are refused.
 * The fast path holds s->lock only around engine calls; its own system
 * calls are the waits (and a SIGPIPE where the kernel would raise one).
 */
#include "sock_impl.h"
#include "sock_policy.h"
#include "block.h"
#include "fdtable.h"
#include "log.h"
#include "real.h"
#include "relay.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOCK_IOV_CHUNK 65536

/* ------------------------------------------------------------------ I/O */

static int sock_nonblock(const struct shim_sock *s, int flags)
{
	return s->app_nonblock || (flags & MSG_DONTWAIT);
}

static void sock_raise_sigpipe(int flags)
{
	if (!(flags & MSG_NOSIGNAL))
		pthread_kill(pthread_self(), SIGPIPE);
}

/* fd still names s: the program may have closed it (or dup2()ed another
   file over it) while this call waited. */
static int sock_number_is(const struct shim_sock *s, int fd)
{
	return fdt_peek(fd) == s;
}

/* A call that waited on a descriptor closed meanwhile ends as a call made
   after the close would: the number is not this socket's any more, and
   another file's bytes are never taken for its own. */
static ssize_t sock_number_gone(void)
{
	errno = EBADF;
	return -1;
}

enum sock_io_step {
	SOCK_IO_LOCKED,  /* s->lock taken, still on the fast path */
	SOCK_IO_KERNEL,  /* relay.c took it over: the kernel call serves it */
	SOCK_IO_RETURN,  /* the call ends with *ret */
};

/* The next step of a call that has moved `done` bytes: take s->lock if
   the socket is still on the fast path.  Else the call ends: with what it
   moved (unless `rest`: a blocking call the kernel would finish, which
   the kernel finishes), or as a call after the close would if the number
   is not this socket's any more, or it is redone by the kernel.  A lock
   this thread holds already (a signal handler) ends it with EAGAIN. */
static enum sock_io_step sock_io_lock(struct shim_sock *s, int fd, size_t done,
				      int rest, ssize_t *ret)
{
	if (sock_lock(s) < 0) {
		*ret = done > 0 ? (ssize_t)done : -1;
		return SOCK_IO_RETURN;
	}
	if (sock_fast(s))
		return SOCK_IO_LOCKED;
	sock_unlock(s);
	if (done > 0 && !rest) {
		*ret = (ssize_t)done;
		return SOCK_IO_RETURN;
	}
	if (!sock_number_is(s, fd)) {
		*ret = done > 0 ? (ssize_t)done : sock_number_gone();
		return SOCK_IO_RETURN;
	}
	return SOCK_IO_KERNEL;
}

/* The kernel's part n of a call that had moved `done` bytes itself: the
   sum, or those bytes if the kernel's part failed (a partial transfer). */
static ssize_t sock_io_rest(ssize_t n, size_t done)
{
	if (done == 0)
		return n;
	return n > 0 ? (ssize_t)done + n : (ssize_t)done;
}

/* The end of a call that moved `done` bytes before it met err: those
   bytes, as the kernel reports a partial transfer, else -1 with errno. */
static ssize_t sock_io_end(size_t done, int err)
{
	if (done > 0)
		return (ssize_t)done;
	errno = err;
	return -1;
}

/* What an engine result asks for next (SHIM_IO_WANT_*), or 0. */
static int sock_io_want(ssize_t n)
{
	return n < 0 && n != SHIM_IO_ERROR ? (int)n : 0;
}

/* Release s->lock after an engine call: the readiness hints follow what
   the read (rd_want) or write (wr_want) wants next (-1: unchanged), and
   the kernel's registrations follow the hints. */
static void sock_io_unlock(struct shim_sock *s, int rd_want, int wr_want)
{
	int changed = sock_refresh_hints(s, rd_want, wr_want);

	sock_unlock(s);
	if (changed)
		sock_changed(s);
}

/* Caller holds s->lock: an error a readiness probe met first, cleared. */
static int sock_take_error_locked(struct shim_sock *s)
{
	int err = s->so_error;

	s->so_error = 0;
	return err;
}

/* Wait for what the engine wants (SHIM_IO_WANT_READ: readable, else
   writable) of the private socket, or for the program's descriptor to
   become readable (relay.c writing there: it took the connection over)
   while fd is still this socket's.  A call that has moved bytes is not
   restarted after a signal (SA_RESTART or not): it returns them. */
static int sock_wait(struct shim_sock *s, int fd, int want, size_t moved,
		     const struct timespec *dl)
{
	short events = want == SHIM_IO_WANT_READ ? POLLIN : POLLOUT;

	return block_wait2(s->kfd, events, sock_number_is(s, fd) ? fd : -1,
			   moved == 0, dl);
}

/* A read the kernel served from the program's descriptor (RELAY, DONE):
   an end of stream that a broken session caused (a forged record, a cut
   stream) is that error, as on the fast path, not a clean end. */
static ssize_t sock_kernel_read(struct shim_sock *s, ssize_t n)
{
	int err;

	if (n == 0 && (err = relay_read_error(s)) != 0) {
		errno = err;
		return -1;
	}
	return n;
}

ssize_t sock_recv(struct shim_sock *s, int fd, void *buf, size_t len,
		  int flags)
{
	const struct shim_engine_ops *e = sock_eng();
	int nonblock = sock_nonblock(s, flags), peek = (flags & MSG_PEEK) != 0;
	int waitall = (flags & MSG_WAITALL) && !nonblock && !peek;
	struct timespec deadline, *dl = NULL;
	size_t got = 0;

	if (!sock_fast(s))
		return sock_kernel_read(s, real.recv(fd, buf, len, flags));
	if (!sock_owned(s))
		return sock_child_refuse(s, fd, SOCK_REFUSE_INHERITED_READ);
	if (sock_need_ready(s, fd, nonblock, ENOTCONN) < 0)
		return -1;
	if (s->rd_shut || len == 0)
		return 0;
	for (;;) {
		int err = 0;
		ssize_t n, ret;

		switch (sock_io_lock(s, fd, got, waitall, &ret)) {
		case SOCK_IO_LOCKED:
			break;
		case SOCK_IO_KERNEL: /* got > 0: MSG_WAITALL, the rest relayed */
			return sock_io_rest(
				sock_kernel_read(s, real.recv(fd, (char *)buf + got,
							      len - got, flags)),
				got);
		default:
			return ret;
		}
		if (got == 0 && (err = sock_take_error_locked(s)) != 0) {
			sock_unlock(s);
			return sock_io_end(0, err);
		}
		n = e->read(s->tls, (char *)buf + got, len - got, peek, &err);
		sock_io_unlock(s, sock_io_want(n), -1);
		if (n > 0) {
			got += (size_t)n;
			atomic_store_explicit(&s->seen_data, 1, memory_order_relaxed);
			if (!waitall || got == len)
				return (ssize_t)got;
		} else if (n == 0) {
			return (ssize_t)got;
		} else if (n == SHIM_IO_ERROR || nonblock) {
			/* nonblock: no MSG_WAITALL, so nothing was read yet */
			return sock_io_end(got, n == SHIM_IO_ERROR ? err : EAGAIN);
		} else {
			if (dl == NULL && block_deadline_tv(&deadline, &s->rcvtimeo))
				dl = &deadline;
			if (sock_wait(s, fd, (int)n, got, dl) < 0)
				return got > 0 ? (ssize_t)got : -1;
		}
	}
}

/* Blocking writes return once the kernel has every byte, like send(). */
static int sock_drain_blocking(struct shim_sock *s, int fd,
			       const struct timespec *dl)
{
	const struct shim_engine_ops *e = sock_eng();

	for (;;) {
		int err = 0, rc;

		if (sock_lock(s) < 0)
			return -1;
		if (!sock_fast(s)) {
			sock_unlock(s);
			return 0;
		}
		rc = e->flush(s->tls, &err);
		sock_refresh_hints(s, -1, -1);
		sock_unlock(s);
		if (rc == 0)
			return 0;
		if (rc == SHIM_IO_ERROR) {
			errno = err;
			return -1;
		}
		if (sock_wait(s, fd, rc, 1, dl) < 0)
			return -1;
	}
}

/* Whether a write may start: 0, or -1 with errno as the kernel fails it
   (EPIPE raises SIGPIPE unless MSG_NOSIGNAL). */
static int sock_send_allowed(struct shim_sock *s, int fd, int nonblock,
			     int flags)
{
	if (sock_need_ready(s, fd, nonblock, EPIPE) < 0) {
		if (errno == EPIPE)
			sock_raise_sigpipe(flags);
		return -1;
	}
	if (s->wr_shut) {
		sock_raise_sigpipe(flags);
		errno = EPIPE;
		return -1;
	}
	return 0;
}

/* The rest of a blocking write the relay took over after `done` bytes:
   a partial transfer raises no SIGPIPE, as the kernel's does not. */
static ssize_t sock_send_rest(int fd, const void *buf, size_t len, int flags,
			      size_t done)
{
	return sock_io_rest(real.send(fd, (const char *)buf + done, len - done,
				      done > 0 ? flags | MSG_NOSIGNAL : flags),
			    done);
}

/*
 * A write the kernel made on a relayed (or ended) socket's end, with
 * MSG_NOSIGNAL added: n, or for EPIPE what a TCP socket says, ECONNRESET
 * once after the server reset the connection (no SIGPIPE), else EPIPE
 * and SIGPIPE unless the caller's flags have MSG_NOSIGNAL.
 */
static ssize_t sock_kernel_sent(struct shim_sock *s, ssize_t n, int flags)
{
	int err;

	if (n >= 0 || errno != EPIPE)
		return n;
	err = relay_write_reset(s);
	if (err == 0)
		sock_raise_sigpipe(flags);
	errno = err ? err : EPIPE;
	return -1;
}

/* A write that met the end of writing: what it had sent, else EPIPE. */
static ssize_t sock_send_shut(size_t done, int flags)
{
	if (done == 0)
		sock_raise_sigpipe(flags);
	return sock_io_end(done, EPIPE);
}

ssize_t sock_send(struct shim_sock *s, int fd, const void *buf, size_t len,
		  int flags)
{
	const struct shim_engine_ops *e = sock_eng();
	int nonblock = sock_nonblock(s, flags);
	struct timespec deadline, *dl = NULL;
	size_t done = 0;

	if (!sock_fast(s))
		return sock_kernel_sent(s, real.send(fd, buf, len,
						     flags | MSG_NOSIGNAL),
					flags);
	if (!sock_owned(s))
		return sock_child_refuse(s, fd, SOCK_REFUSE_INHERITED_WRITE);
	if (sock_send_allowed(s, fd, nonblock, flags) < 0)
		return -1;
	if (!nonblock && block_deadline_tv(&deadline, &s->sndtimeo))
		dl = &deadline;
	while (done < len) {
		int err = 0;
		ssize_t n, ret;

		switch (sock_io_lock(s, fd, done, !nonblock, &ret)) {
		case SOCK_IO_LOCKED:
			break;
		case SOCK_IO_KERNEL: /* blocking: the rest through the relay */
			return sock_send_rest(fd, buf, len, flags, done);
		default:
			return ret;
		}
		if (s->wr_shut) { /* another thread's shutdown(SHUT_WR) */
			sock_unlock(s);
			return sock_send_shut(done, flags);
		}
		if (done == 0 && relay_take_written_locked(s)) {
			sock_unlock(s);
			return real.send(fd, buf, len, flags);
		}
		n = e->write(s->tls, (const char *)buf + done, len - done, &err);
		sock_io_unlock(s, -1, sock_io_want(n));
		if (n > 0) {
			done += (size_t)n;
		} else if (n == SHIM_IO_ERROR) {
			if (done == 0 && err == EPIPE)
				sock_raise_sigpipe(flags);
			return sock_io_end(done, err);
		} else if (nonblock) {
			return sock_io_end(done, EAGAIN);
		} else if (sock_wait(s, fd, (int)n, done, dl) < 0) {
			/* a signal or SO_SNDTIMEO: what was sent, as the
			   kernel reports it; a blocking write is short only
			   then */
			return sock_io_end(done, errno);
		}
	}
	if (!nonblock && sock_drain_blocking(s, fd, dl) < 0 && errno != EAGAIN &&
	    errno != EINTR)
		return -1;
	return (ssize_t)done;
}

static size_t sock_iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

ssize_t sock_readv(struct shim_sock *s, int fd, const struct iovec *iov,
		   int iovcnt, int flags)
{
	size_t total = 0;

	if (!sock_fast(s))
		return sock_kernel_read(s, real.readv(fd, iov, iovcnt));
	if (iovcnt < 0 || iovcnt > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (flags & MSG_PEEK) {
		size_t want = sock_iov_total(iov, iovcnt), off = 0;
		char *tmp = malloc(want ? want : 1);
		ssize_t n;

		if (tmp == NULL) {
			errno = ENOMEM;
			return -1;
		}
		n = sock_recv(s, fd, tmp, want, flags);
		for (int i = 0; n > 0 && i < iovcnt && off < (size_t)n; i++) {
			size_t c = iov[i].iov_len < (size_t)n - off ?
					   iov[i].iov_len : (size_t)n - off;
			memcpy(iov[i].iov_base, tmp + off, c);
			off += c;
		}
		free(tmp);
		return n;
	}
	for (int i = 0; i < iovcnt; i++) {
		int saved = errno;
		ssize_t n;

		if (iov[i].iov_len == 0)
			continue;
		n = sock_recv(s, fd, iov[i].iov_base, iov[i].iov_len,
			      total > 0 ? (flags | MSG_DONTWAIT) & ~MSG_WAITALL
					: flags);
		if (n < 0) {
			if (total == 0)
				return -1;
			errno = saved;
			break;
		}
		total += (size_t)n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return (ssize_t)total;
}

/* Gather up to SOCK_IOV_CHUNK bytes starting at (*i, *off). */
static size_t sock_gather(const struct iovec *iov, int n, int *i, size_t *off,
			  char *out)
{
	size_t len = 0;

	while (*i < n && len < SOCK_IOV_CHUNK) {
		size_t c = iov[*i].iov_len - *off;

		if (c > SOCK_IOV_CHUNK - len)
			c = SOCK_IOV_CHUNK - len;
		memcpy(out + len, (const char *)iov[*i].iov_base + *off, c);
		len += c;
		*off += c;
		if (*off == iov[*i].iov_len) {
			(*i)++;
			*off = 0;
		}
	}
	return len;
}

ssize_t sock_writev(struct shim_sock *s, int fd, const struct iovec *iov,
		    int iovcnt, int flags)
{
	size_t total = 0, off = 0;
	int i = 0;
	char *chunk;

	if (!sock_fast(s)) {
		struct msghdr mh = { .msg_iov = (struct iovec *)iov,
				     .msg_iovlen = iovcnt > 0 ? (size_t)iovcnt : 0 };

		if (iovcnt < 0 || iovcnt > IOV_MAX) /* writev's own EINVAL */
			return real.writev(fd, iov, iovcnt);
		return sock_kernel_sent(s, real.sendmsg(fd, &mh, MSG_NOSIGNAL),
					flags);
	}
	if (iovcnt < 0 || iovcnt > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (iovcnt == 1)
		return sock_send(s, fd, iov[0].iov_base, iov[0].iov_len, flags);
	chunk = malloc(SOCK_IOV_CHUNK);
	if (chunk == NULL) {
		errno = ENOMEM;
		return -1;
	}
	while (i < iovcnt) {
		size_t len = sock_gather(iov, iovcnt, &i, &off, chunk);
		ssize_t n;

		if (len == 0)
			break;
		n = sock_send(s, fd, chunk, len, flags);
		if (n < 0) {
			if (total == 0) {
				free(chunk);
				return -1;
			}
			break;
		}
		total += (size_t)n;
		if ((size_t)n < len)
			break;
	}
	free(chunk);
	return (ssize_t)total;
}

/* A message on the fast path: its bytes go through TLS, which carries no
   ancillary data. */
static ssize_t sock_sendmsg_tls(struct shim_sock *s, int fd,
				const struct msghdr *msg, int flags)
{
	if (msg->msg_controllen > 0)
		return sock_refuse(SOCK_REFUSE_ANCILLARY, NULL, NULL);
	return sock_writev(s, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

/* A msghdr's address, as sock_send_refused reads it (msg may be NULL).
   One whose length the kernel reads as negative it refuses itself
   (EINVAL), nothing sent: the kernel answers. */
static int sock_msg_refused(struct shim_sock *s, const struct msghdr *msg,
			    int flags)
{
	if (msg != NULL && msg->msg_name != NULL && msg->msg_namelen > INT_MAX)
		return 0;
	return msg != NULL && sock_send_refused(s, flags, msg->msg_name,
						msg->msg_namelen, msg);
}

/*
 * *m: *msg with its address copied into *name, so that the address the
 * decision reads is the one the kernel gets (another thread may rewrite
 * the program's buffer in between).  A msg_namelen longer than any
 * address is cut to sizeof(struct sockaddr_storage), as the kernel cuts
 * it for sendmsg and sendmmsg (and then uses the address); one the kernel
 * reads as negative (above INT_MAX) it refuses, and is left so.  Returns
 * m, or msg when it is NULL.
 */
static const struct msghdr *sock_msg_copy(const struct msghdr *msg,
					  struct msghdr *m,
					  struct sockaddr_storage *name)
{
	if (msg == NULL)
		return msg;
	*m = *msg;
	if (m->msg_name == NULL || m->msg_namelen > INT_MAX)
		return m;
	if (m->msg_namelen > sizeof(*name))
		m->msg_namelen = sizeof(*name);
	memcpy(name, m->msg_name, m->msg_namelen);
	m->msg_name = name;
	return m;
}

ssize_t sock_sendmsg(struct shim_sock *s, int fd, const struct msghdr *umsg,
		     int flags)
{
	struct sockaddr_storage name;
	struct msghdr m;
	const struct msghdr *msg = sock_msg_copy(umsg, &m, &name);

	if (sock_msg_refused(s, msg, flags))
		return -1;
	if (s == NULL || msg == NULL)
		return real.sendmsg(fd, msg, flags);
	if (!sock_fast(s))
		return sock_kernel_sent(s, real.sendmsg(fd, msg,
							flags | MSG_NOSIGNAL),
					flags);
	return sock_sendmsg_tls(s, fd, msg, flags);
}

ssize_t sock_recvmsg(struct shim_sock *s, int fd, struct msghdr *msg,
		     int flags)
{
	ssize_t n;

	if (msg == NULL || !sock_fast(s)) /* NULL: the kernel's EFAULT */
		return sock_kernel_read(s, real.recvmsg(fd, msg, flags));
	n = sock_readv(s, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
	if (n >= 0) {
		msg->msg_namelen = 0;
		msg->msg_controllen = 0;
		msg->msg_flags = 0;
	}
	return n;
}

/* sendmmsg whose first message carries the connection request (Fast
   Open): that one from a copy of its address (sock_msg_copy), as the
   decision read it, then the rest; a failure after the first message is
   a short count, as the kernel's. */
static int sock_sendmmsg_first(int fd, struct mmsghdr *v, unsigned int n,
			       int flags, const struct msghdr *first)
{
	ssize_t w = real.sendmsg(fd, first, flags);
	int rest;

	if (w < 0)
		return -1;
	v[0].msg_len = (unsigned int)w;
	if (n == 1)
		return 1;
	rest = real.sendmmsg(fd, v + 1, n - 1, flags);
	return rest > 0 ? 1 + rest : 1;
}

int sock_sendmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags)
{
	struct sockaddr_storage name;
	struct msghdr m;
	const struct msghdr *first = NULL;
	unsigned int i;

	if (v != NULL && n > 0)
		first = sock_msg_copy(&v[0].msg_hdr, &m, &name);
	if (first != NULL && sock_msg_refused(s, first, flags))
		return -1;
	for (i = 1; v != NULL && i < n; i++)
		if (sock_msg_refused(s, &v[i].msg_hdr, flags))
			return -1;
	/* only the first message can make the connection */
	if (first != NULL && first->msg_name != NULL && (flags & MSG_FASTOPEN) &&
	    (s == NULL || !sock_fast(s)))
		return sock_sendmmsg_first(fd, v, n, flags, first);
	if (s == NULL || v == NULL)
		return real.sendmmsg(fd, v, n, flags);
	if (!sock_fast(s))
		return (int)sock_kernel_sent(s, real.sendmmsg(fd, v, n,
							      flags | MSG_NOSIGNAL),
					     flags);
	for (i = 0; i < n; i++) {
		int saved = errno;
		ssize_t w = sock_sendmsg_tls(s, fd, &v[i].msg_hdr, flags);

		if (w < 0) {
			if (i == 0)
				return -1;
			errno = saved;
			break;
		}
		v[i].msg_len = (unsigned int)w;
	}
	return (int)i;
}

/* On the fast path the timeout is not applied: each message after the
   first is taken only if it is there already. */
int sock_recvmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags, struct timespec *timeout)
{
	unsigned int i;

	if (!sock_fast(s)) {
		int got = real.recvmmsg(fd, v, n, flags, timeout);

		/* an end of stream the relay met as an error is that error */
		if (got >= 1 && v[0].msg_len == 0 &&
		    sock_kernel_read(s, 0) < 0)
			return -1;
		return got;
	}
	for (i = 0; i < n; i++) {
		int saved = errno;
		/* like the kernel: block for the first message only */
		ssize_t r = sock_recvmsg(s, fd, &v[i].msg_hdr,
					 i == 0 ? flags & ~MSG_WAITFORONE
						: flags | MSG_DONTWAIT);

		if (r < 0) {
			if (i == 0)
				return -1;
			errno = saved;
			break;
		}
		v[i].msg_len = (unsigned int)r;
		if (r == 0)
			return (int)i + 1;
		if (flags & MSG_WAITFORONE)
			flags |= MSG_DONTWAIT;
	}
	return (int)i;
}

/* What sendfile() may read from, as the kernel's splice_direct_to_actor
   allows: a regular file or a block device (else EINVAL; EBADF for no
   file).  A socket read here would block on an idle connection, or take
   a relayed one's bytes. */
static int sock_sendfile_source(int in)
{
	struct stat st;

	if (fstat(in, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

ssize_t sock_sendfile(struct shim_sock *s, int out, int in, off_t *off,
		      size_t count)
{
	char *buf;
	size_t done = 0;

	if (!sock_fast(s))
		return real.sendfile(out, in, off, count);
	if (sock_sendfile_source(in) < 0)
		return -1;
	buf = malloc(SOCK_IOV_CHUNK);
	if (buf == NULL) {
		errno = ENOMEM;
		return -1;
	}
	while (done < count) {
		size_t want = count - done < SOCK_IOV_CHUNK ? count - done
							   : SOCK_IOV_CHUNK;
		ssize_t r = off ? pread(in, buf, want, *off) : real.read(in, buf, want);
		ssize_t w;

		if (r <= 0) {
			if (r < 0 && done == 0) {
				free(buf);
				return -1;
			}
			break;
		}
		w = sock_send(s, out, buf, (size_t)r, 0);
		if (w < r && off == NULL) {
			/* give back what was not sent, also when nothing was
			   (EAGAIN, EINTR): the file position is past only
			   what the socket took, as the kernel leaves it */
			int err = errno;

			lseek(in, (w > 0 ? w : 0) - r, SEEK_CUR);
			errno = err;
		}
		if (w > 0) {
			done += (size_t)w;
			if (off)
				*off += w;
		}
		if (w < r) {
			if (w < 0 && done == 0) {
				free(buf);
				return -1;
			}
			break;
		}
	}
	free(buf);
	return (ssize_t)done;
}


/* ----------------------------------------------- addresses, offsets */

ssize_t sock_recvfrom(struct shim_sock *s, int fd, void *buf, size_t len,
		      int flags, struct sockaddr *addr, socklen_t *alen)
{
	ssize_t n;

	if (!sock_fast(s))
		return sock_kernel_read(s, real.recvfrom(fd, buf, len, flags,
							 addr, alen));
	n = sock_recv(s, fd, buf, len, flags);
	if (n >= 0 && alen != NULL)
		*alen = 0; /* connected stream: no source address */
	return n;
}

ssize_t sock_sendto(struct shim_sock *s, int fd, const void *buf, size_t len,
		    int flags, const struct sockaddr *uaddr, socklen_t alen)
{
	struct sockaddr_storage copy;
	const struct sockaddr *addr = uaddr;

	/* decided, and sent, on one copy of the address (sock_msg_copy) */
	if (uaddr != NULL && alen <= sizeof(copy)) {
		memcpy(&copy, uaddr, alen);
		addr = (const struct sockaddr *)&copy;
	}
	if (sock_send_refused(s, flags, addr, alen, NULL))
		return -1;
	if (s == NULL || !sock_fast(s))
		return real.sendto(fd, buf, len, flags, addr, alen);
	return sock_send(s, fd, buf, len, flags);
}

ssize_t sock_pvec(struct shim_sock *s, int fd, enum sock_dir dir,
		  const struct iovec *iov, int iovcnt, off_t off)
{
	if (sock_fast(s))
		return sock_refuse(SOCK_REFUSE_OFFSET, NULL, NULL);
	return dir == SOCK_DIR_READ
		       ? sock_kernel_read(s, real.preadv(fd, iov, iovcnt, off))
		       : real.pwritev(fd, iov, iovcnt, off);
}

ssize_t sock_pvec2(struct shim_sock *s, int fd, enum sock_dir dir,
		   const struct iovec *iov, int iovcnt, off_t off, int rwf)
{
	int flags = (rwf & RWF_NOWAIT) ? MSG_DONTWAIT : 0;

	if (!sock_fast(s))
		return dir == SOCK_DIR_READ
			       ? sock_kernel_read(s, real.preadv2(fd, iov, iovcnt,
								  off, rwf))
			       : real.pwritev2(fd, iov, iovcnt, off, rwf);
	if (off != -1)
		return sock_refuse(SOCK_REFUSE_OFFSET, NULL, NULL);
	return dir == SOCK_DIR_READ ? sock_readv(s, fd, iov, iovcnt, flags)
				    : sock_writev(s, fd, iov, iovcnt, flags);
}
