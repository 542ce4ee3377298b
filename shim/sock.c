/*
 * sock.c - the switchboard's socket state machine and the emulation of
 * blocking socket calls on top of the non-blocking engine.
 *
 * Invariants:
 *  - a TLS socket's kernel fd is O_NONBLOCK and FD_CLOEXEC;
 *  - no byte of the program's data is handed to the kernel except through
 *    the engine, and the engine only once the handshake is done and the
 *    peer verified: FAILED sockets are shut down and refuse all I/O;
 *  - s->lock is held around engine calls only, never across block_wait().
 */
#include "sock.h"
#include "block.h"
#include "fdtable.h"
#include "loader.h"
#include "log.h"
#include "names.h"
#include "ready.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

atomic_ulong sock_fork_gen;

#define SOCK_IOV_CHUNK 65536

static const struct shim_engine_ops *sock_eng(void)
{
	return loader_loaded();
}

/*
 * Sockets are recycled, never freed: fdt_acquire() reads them without a
 * lock, so their memory must stay a struct shim_sock.  The pool holds at
 * most as many as were ever open at once.
 */
static struct shim_sock *sock_pool;
static pthread_mutex_t sock_pool_lock = PTHREAD_MUTEX_INITIALIZER;

struct shim_sock *sock_new(void)
{
	struct shim_sock *s;

	pthread_mutex_lock(&sock_pool_lock);
	s = sock_pool;
	if (s != NULL)
		sock_pool = s->pool_next;
	pthread_mutex_unlock(&sock_pool_lock);
	if (s == NULL && (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* refs is 0 and stays untouched: a stale fdt_acquire may look at it */
	s->nfds = 0;
	s->tls = NULL;
	memset(&s->info, 0, sizeof(s->info));
	s->app_nonblock = s->so_error = s->hs_want = 0;
	s->rd_shut = s->wr_shut = s->child_warned = s->stdio = 0;
	memset(&s->hs_deadline, 0, sizeof(s->hs_deadline));
	memset(&s->rcvtimeo, 0, sizeof(s->rcvtimeo));
	memset(&s->sndtimeo, 0, sizeof(s->sndtimeo));
	s->regs = NULL;
	s->pool_next = NULL;
	atomic_store(&s->hints, 0);
	atomic_store(&s->seen_data, 0);
	pthread_mutex_init(&s->lock, NULL);
	atomic_store(&s->state, SOCK_FRESH);
	s->owner_gen = atomic_load(&sock_fork_gen);
	return s;
}

void sock_get(struct shim_sock *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void sock_put(struct shim_sock *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	ready_forget(s);
	if (s->tls != NULL && sock_eng() != NULL)
		sock_eng()->free(s->tls);
	s->tls = NULL;
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_lock(&sock_pool_lock);
	s->pool_next = sock_pool;
	sock_pool = s;
	pthread_mutex_unlock(&sock_pool_lock);
}

/* Take s->lock to serve the program's call on fd. */
static void sock_lock_fd(struct shim_sock *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	if (s->tls != NULL && fd >= 0)
		sock_eng()->set_fd(s->tls, fd);
}

static int sock_is_tls(const struct shim_sock *s)
{
	return atomic_load(&s->state) != SOCK_FRESH;
}

/* Caller holds s->lock.  Returns 1 if bits the kernel registration
   depends on changed (the caller then calls ready_sync unlocked). */
static int sock_refresh_hints(struct shim_sock *s, int rd_want, int wr_want)
{
	const struct shim_engine_ops *e = sock_eng();
	unsigned h = 0, old;

	if (s->tls != NULL && atomic_load(&s->state) == SOCK_READY) {
		if (e->buffered(s->tls))
			h |= SOCK_HINT_BUFFERED;
		if (e->unsent(s->tls) > 0)
			h |= SOCK_HINT_UNSENT;
	}
	old = atomic_load(&s->hints);
	if (rd_want < 0)
		h |= old & SOCK_HINT_RD_WANTS_WR;
	else if (rd_want == SHIM_IO_WANT_WRITE)
		h |= SOCK_HINT_RD_WANTS_WR;
	if (wr_want < 0)
		h |= old & SOCK_HINT_WR_WANTS_RD;
	else if (wr_want == SHIM_IO_WANT_READ)
		h |= SOCK_HINT_WR_WANTS_RD;
	atomic_store(&s->hints, h);
	return ((h ^ old) & ~SOCK_HINT_BUFFERED) != 0;
}

/* Caller holds s->lock. */
static void sock_fail(struct shim_sock *s, int fd, int err)
{
	atomic_store(&s->state, SOCK_FAILED);
	s->so_error = err;
	atomic_store(&s->hints, 0);
	/* nothing may leave this connection any more */
	real.shutdown(fd, SHUT_RDWR);
}

static int sock_child_refuse(struct shim_sock *s, int fd, int err)
{
	if (!s->child_warned) {
		s->child_warned = 1;
		log_msg(SHIM_LOG_ERROR,
			"fd %d: %s: this process inherited the TLS connection "
			"from its parent (fork) and cannot use it; only the "
			"parent can", fd, s->info.label);
	}
	errno = err;
	return -1;
}

/* Caller holds s->lock: one non-blocking step of connect + handshake. */
static void sock_step_locked(struct shim_sock *s, int fd)
{
	const struct shim_engine_ops *e = sock_eng();
	int err = 0, rc;

	if (atomic_load(&s->state) == SOCK_CONNECTING) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		socklen_t len = sizeof(err);

		if (real.poll(&p, 1, 0) <= 0)
			goto check_deadline;
		if (real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			log_msg(SHIM_LOG_ERROR, "%s: TCP connect failed, before "
				"any TLS: %s", s->info.label, strerror(err));
			sock_fail(s, fd, err);
			return;
		}
		atomic_store(&s->state, SOCK_HANDSHAKING);
	}
	if (atomic_load(&s->state) != SOCK_HANDSHAKING)
		return;
	rc = e->handshake(s->tls, &err);
	if (rc == 0) {
		atomic_store(&s->state, SOCK_READY);
		sock_refresh_hints(s, 0, 0);
		return;
	}
	if (rc == SHIM_IO_ERROR) {
		sock_fail(s, fd, err);
		return;
	}
	s->hs_want = rc;
check_deadline:
	if (block_expired(&s->hs_deadline)) {
		log_msg(SHIM_LOG_ERROR,
			"%s: TLS handshake timed out after %d ms (no answer "
			"from the server)", s->info.label,
			s->info.handshake_timeout_ms);
		sock_fail(s, fd, ETIMEDOUT);
	}
}

void sock_step(struct shim_sock *s, int fd)
{
	enum sock_state before, after;

	sock_lock_fd(s, fd);
	before = atomic_load(&s->state);
	if (before == SOCK_CONNECTING || before == SOCK_HANDSHAKING)
		sock_step_locked(s, fd);
	after = atomic_load(&s->state);
	pthread_mutex_unlock(&s->lock);
	if (after != before)
		ready_sync(s);
}

void sock_flush(struct shim_sock *s, int fd)
{
	int err, changed = 0;

	sock_lock_fd(s, fd);
	if (atomic_load(&s->state) == SOCK_READY &&
	    sock_eng()->unsent(s->tls) > 0) {
		sock_eng()->flush(s->tls, &err);
		changed = sock_refresh_hints(s, -1, -1);
	}
	pthread_mutex_unlock(&s->lock);
	if (changed)
		ready_sync(s);
}

int sock_probe_readable(struct shim_sock *s, int fd)
{
	char c;
	int err = 0, changed;
	ssize_t n;

	if (!sock_owned(s))
		return 1; /* let the read report it */
	sock_lock_fd(s, fd);
	n = sock_eng()->read(s->tls, &c, 1, 1, &err);
	if (n == SHIM_IO_ERROR && s->so_error == 0)
		s->so_error = err;
	changed = sock_refresh_hints(s, n < 0 && n != SHIM_IO_ERROR ? (int)n : 0, -1);
	pthread_mutex_unlock(&s->lock);
	if (changed)
		ready_sync(s);
	if (n > 0)
		atomic_store(&s->seen_data, 1);
	return n >= 0 || n == SHIM_IO_ERROR;
}

/* The socket is waiting for the kernel: which event does it need? */
static short sock_hs_events(struct shim_sock *s)
{
	if (atomic_load(&s->state) == SOCK_CONNECTING)
		return POLLOUT;
	return s->hs_want == SHIM_IO_WANT_READ ? POLLIN : POLLOUT;
}

/* Drive connect + handshake to the end, blocking.  0 or -1/errno. */
static int sock_finish_blocking(struct shim_sock *s, int fd)
{
	for (;;) {
		enum sock_state st;
		short ev;

		sock_step(s, fd);
		st = atomic_load(&s->state);
		if (st == SOCK_READY)
			return 0;
		if (st == SOCK_FAILED) {
			pthread_mutex_lock(&s->lock);
			errno = s->so_error ? s->so_error : ECONNABORTED;
			s->so_error = 0;
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
		pthread_mutex_lock(&s->lock);
		ev = sock_hs_events(s);
		pthread_mutex_unlock(&s->lock);
		if (block_wait(fd, ev, &s->hs_deadline) < 0 && errno != EAGAIN)
			return -1; /* EINTR: the handshake goes on */
	}
}

/*
 * A call that needs a READY socket: finish or poke the handshake.
 * Returns 0 when READY, else -1 with errno.
 */
static int sock_need_ready(struct shim_sock *s, int fd, int nonblock,
			   int fail_errno)
{
	enum sock_state st = atomic_load(&s->state);

	if (st == SOCK_CONNECTING || st == SOCK_HANDSHAKING) {
		if (!nonblock)
			return sock_finish_blocking(s, fd);
		sock_step(s, fd);
		st = atomic_load(&s->state);
		if (st != SOCK_READY && st != SOCK_FAILED) {
			errno = EAGAIN;
			return -1;
		}
	}
	if (st == SOCK_FAILED) {
		pthread_mutex_lock(&s->lock);
		errno = s->so_error ? s->so_error : fail_errno;
		s->so_error = 0;
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	return 0;
}

static void sock_untrack(int fd, struct shim_sock *s)
{
	int last;
	struct shim_sock *t = fdt_remove(fd, &last);

	ready_forget(s);
	if (t != NULL)
		sock_put(t);
}

void sock_track_new(int fd, int domain, int type)
{
	struct shim_sock *s;

	fdt_forget_stale(fd);
	if ((domain != AF_INET && domain != AF_INET6) ||
	    (type & 0xf) != SOCK_STREAM)
		return;
	s = sock_new();
	if (s == NULL)
		return;
	s->app_nonblock = (type & SOCK_NONBLOCK) != 0;
	sock_get(s);
	fdt_install(fd, s);
	sock_put(s);
}

/* A socket we did not see created (inherited, or the table was full). */
static struct shim_sock *sock_adopt(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);
	struct shim_sock *s;

	if (real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM)
		return NULL;
	s = sock_new();
	if (s == NULL)
		return NULL;
	sock_get(s);
	if (fdt_install(fd, s) < 0) {
		sock_put(s);
		return NULL;
	}
	return s;
}

/* Caller holds s->lock: take the kernel socket over for TLS. */
static void sock_take_over(struct shim_sock *s, int fd)
{
	int fl = real.fcntl(fd, F_GETFL);
	int fdfl = real.fcntl(fd, F_GETFD);
	socklen_t len;

	s->app_nonblock = fl >= 0 && (fl & O_NONBLOCK);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		real.fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	/* a TLS session cannot be handed to an exec'd program */
	if (fdfl >= 0 && !(fdfl & FD_CLOEXEC))
		real.fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
	len = sizeof(s->rcvtimeo);
	real.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &s->rcvtimeo, &len);
	len = sizeof(s->sndtimeo);
	real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s->sndtimeo, &len);
}

/* Caller holds s->lock: the TCP connect failed at once; back to FRESH. */
static void sock_give_back(struct shim_sock *s, int fd)
{
	int fl = real.fcntl(fd, F_GETFL);

	if (fl >= 0 && !s->app_nonblock)
		real.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	sock_eng()->free(s->tls);
	s->tls = NULL;
	atomic_store(&s->state, SOCK_FRESH);
}

static int sock_begin(struct shim_sock *s, int fd, const struct sockaddr *addr,
		      socklen_t len, struct shim_tls *tls,
		      const struct shim_session_info *info)
{
	int rc, err;

	pthread_mutex_lock(&s->lock);
	s->tls = tls;
	s->info = *info;
	s->owner_gen = atomic_load(&sock_fork_gen);
	s->so_error = 0;
	sock_take_over(s, fd);
	block_deadline_ms(&s->hs_deadline, info->handshake_timeout_ms);
	rc = real.connect(fd, addr, len);
	err = errno;
	if (rc < 0 && err != EINPROGRESS) {
		log_msg(SHIM_LOG_ERROR, "%s: TCP connect failed, before any "
			"TLS: %s", info->label, strerror(err));
		sock_give_back(s, fd);
		pthread_mutex_unlock(&s->lock);
		errno = err;
		return -1;
	}
	atomic_store(&s->state, rc == 0 ? SOCK_HANDSHAKING : SOCK_CONNECTING);
	pthread_mutex_unlock(&s->lock);
	ready_sync(s);
	if (s->app_nonblock) {
		sock_step(s, fd);
		if (atomic_load(&s->state) == SOCK_FAILED)
			return sock_need_ready(s, fd, 1, ECONNREFUSED);
		errno = EINPROGRESS;
		return -1;
	}
	return sock_finish_blocking(s, fd);
}

/*
 * The engine's decision for a connect() to addr, with the name this
 * thread resolved for it (names_lookup; DESIGN rule 2).  If the engine
 * would pass it by, but a name ANOTHER thread resolved for this address
 * and port (a resolver thread, as libuv's) would make it a configured
 * endpoint, refuse: wrapping would verify a name this connection did not
 * resolve, passing would send plaintext to a configured endpoint.
 */
static enum shim_decision sock_open(const struct shim_engine_ops *e, int fd,
				    const struct sockaddr *addr, socklen_t len,
				    struct shim_tls **tls,
				    struct shim_session_info *info, int *err)
{
	char name[256], other[256];
	int mine = names_lookup(addr, len, name, sizeof(name));
	enum shim_decision d;

	d = e->open(fd, addr, len, mine ? name : NULL, tls, info, err);
	if (d != SHIM_PASS || mine ||
	    !names_lookup_other(addr, len, other, sizeof(other)))
		return d;
	if (e->open(fd, addr, len, other, tls, info, err) != SHIM_WRAP)
		return SHIM_PASS;
	e->free(*tls);
	*tls = NULL;
	log_msg(SHIM_LOG_ERROR, "%s: refused: another thread resolved '%s', "
		"a configured endpoint, for this address, and a connection "
		"verifies only a name its own thread resolved (resolve and "
		"connect on one thread, or configure the address)",
		info->label, other);
	*err = EACCES;
	return SHIM_REFUSE;
}

/* connect() on a socket that is already a TLS socket. */
static int sock_reconnect(struct shim_sock *s, int fd)
{
	switch (atomic_load(&s->state)) {
	case SOCK_READY:
		errno = EISCONN;
		return -1;
	case SOCK_FAILED:
		return sock_need_ready(s, fd, 1, ECONNABORTED);
	case SOCK_CONNECTING:
	case SOCK_HANDSHAKING:
		if (!s->app_nonblock) {
			if (sock_finish_blocking(s, fd) < 0)
				return -1;
			errno = EISCONN;
			return -1;
		}
		sock_step(s, fd);
		if (atomic_load(&s->state) == SOCK_READY) {
			errno = EISCONN;
			return -1;
		}
		if (atomic_load(&s->state) == SOCK_FAILED)
			return sock_need_ready(s, fd, 1, ECONNABORTED);
		errno = EALREADY;
		return -1;
	default:
		errno = EINVAL;
		return -1;
	}
}

int sock_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	const struct shim_engine_ops *e;
	struct shim_tls *tls = NULL;
	struct shim_session_info info;
	struct shim_sock *s;
	int err = 0, rc;

	if (loader_busy())
		return real.connect(fd, addr, len);
	s = fdt_acquire(fd);
	if (s == NULL && (s = sock_adopt(fd)) == NULL)
		return real.connect(fd, addr, len);
	if (sock_is_tls(s)) {
		rc = sock_reconnect(s, fd);
		err = errno;
		sock_put(s);
		errno = err;
		return rc;
	}
	e = loader_engine();
	if (e == NULL) {
		sock_put(s);
		errno = EACCES;
		return -1;
	}
	memset(&info, 0, sizeof(info));
	switch (sock_open(e, fd, addr, len, &tls, &info, &err)) {
	case SHIM_WRAP:
		if (s->stdio) {
			log_msg(SHIM_LOG_ERROR, "%s: refused: this socket was "
				"fdopen()ed, and stdio would write past TLS",
				info.label);
			e->free(tls);
			rc = -1;
			err = EACCES;
			break;
		}
		rc = sock_begin(s, fd, addr, len, tls, &info);
		err = errno;
		break;
	case SHIM_REFUSE:
		rc = -1;
		break;
	case SHIM_PASS:
	default:
		sock_untrack(fd, s);
		sock_put(s);
		return real.connect(fd, addr, len);
	}
	sock_put(s);
	errno = err;
	return rc;
}

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

ssize_t sock_recv(struct shim_sock *s, int fd, void *buf, size_t len,
		  int flags)
{
	const struct shim_engine_ops *e = sock_eng();
	int nonblock = sock_nonblock(s, flags), peek = (flags & MSG_PEEK) != 0;
	int waitall = (flags & MSG_WAITALL) && !nonblock && !peek;
	struct timespec deadline, *dl = NULL;
	size_t got = 0;

	if (!sock_is_tls(s))
		return real.recv(fd, buf, len, flags);
	if (!sock_owned(s))
		return sock_child_refuse(s, fd, ENOTCONN);
	if (sock_need_ready(s, fd, nonblock, ENOTCONN) < 0)
		return -1;
	if (s->rd_shut || len == 0)
		return 0;
	for (;;) {
		int err = 0, changed;
		ssize_t n;

		sock_lock_fd(s, fd);
		if (s->so_error != 0 && got == 0) {
			/* an error a readiness probe met first */
			err = s->so_error;
			s->so_error = 0;
			pthread_mutex_unlock(&s->lock);
			errno = err;
			return -1;
		}
		n = e->read(s->tls, (char *)buf + got, len - got, peek, &err);
		changed = sock_refresh_hints(s, n < 0 && n != SHIM_IO_ERROR ? (int)n : 0, -1);
		pthread_mutex_unlock(&s->lock);
		if (changed)
			ready_sync(s);
		if (n > 0) {
			got += (size_t)n;
			atomic_store_explicit(&s->seen_data, 1, memory_order_relaxed);
			if (!waitall || got == len)
				return (ssize_t)got;
			continue;
		}
		if (n == 0)
			return (ssize_t)got;
		if (n == SHIM_IO_ERROR) {
			if (got > 0)
				return (ssize_t)got;
			errno = err;
			return -1;
		}
		if (nonblock) {
			errno = EAGAIN;
			return -1;
		}
		if (dl == NULL && block_deadline_tv(&deadline, &s->rcvtimeo))
			dl = &deadline;
		if (block_wait(fd, n == SHIM_IO_WANT_READ ? POLLIN : POLLOUT,
			       dl) < 0)
			return got > 0 ? (ssize_t)got : -1;
	}
}

/* Blocking writes return once the kernel has every byte, like send(). */
static int sock_drain_blocking(struct shim_sock *s, int fd,
			       const struct timespec *dl)
{
	const struct shim_engine_ops *e = sock_eng();

	for (;;) {
		int err = 0, rc;

		sock_lock_fd(s, fd);
		rc = e->flush(s->tls, &err);
		sock_refresh_hints(s, -1, -1);
		pthread_mutex_unlock(&s->lock);
		if (rc == 0)
			return 0;
		if (rc == SHIM_IO_ERROR) {
			errno = err;
			return -1;
		}
		if (block_wait(fd, rc == SHIM_IO_WANT_READ ? POLLIN : POLLOUT,
			       dl) < 0)
			return -1;
	}
}

ssize_t sock_send(struct shim_sock *s, int fd, const void *buf, size_t len,
		  int flags)
{
	const struct shim_engine_ops *e = sock_eng();
	int nonblock = sock_nonblock(s, flags);
	struct timespec deadline, *dl = NULL;
	size_t done = 0;

	if (!sock_is_tls(s))
		return real.send(fd, buf, len, flags);
	if (!sock_owned(s))
		return sock_child_refuse(s, fd, EPIPE);
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
	if (!nonblock && block_deadline_tv(&deadline, &s->sndtimeo))
		dl = &deadline;
	while (done < len) {
		int err = 0, changed;
		ssize_t n;

		sock_lock_fd(s, fd);
		n = e->write(s->tls, (const char *)buf + done, len - done, &err);
		changed = sock_refresh_hints(s, -1, n < 0 && n != SHIM_IO_ERROR ? (int)n : 0);
		pthread_mutex_unlock(&s->lock);
		if (changed)
			ready_sync(s);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == SHIM_IO_ERROR) {
			if (done > 0)
				return (ssize_t)done;
			if (err == EPIPE)
				sock_raise_sigpipe(flags);
			errno = err;
			return -1;
		}
		if (nonblock || done > 0) {
			if (done > 0)
				return (ssize_t)done;
			errno = EAGAIN;
			return -1;
		}
		if (block_wait(fd, n == SHIM_IO_WANT_READ ? POLLIN : POLLOUT,
			       dl) < 0)
			return -1;
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

	if (!sock_is_tls(s))
		return real.readv(fd, iov, iovcnt);
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

	if (!sock_is_tls(s))
		return real.writev(fd, iov, iovcnt);
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

/* 1 if msg passes one of our TLS sockets to another process. */
static int sock_passes_tls_fd(const struct msghdr *msg)
{
	struct cmsghdr *c;

	if (msg->msg_control == NULL || msg->msg_controllen == 0)
		return 0;
	for (c = CMSG_FIRSTHDR((struct msghdr *)msg); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		size_t n;
		const int *fds = (const int *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t k = 0; k < n; k++) {
			struct shim_sock *t = fdt_peek(fds[k]);
			if (t != NULL && sock_is_tls(t)) {
				log_msg(SHIM_LOG_ERROR,
					"fd %d: refusing to pass a TLS socket "
					"(%s) to another process (SCM_RIGHTS): "
					"its TLS state cannot follow it",
					fds[k], t->info.label);
				return 1;
			}
		}
	}
	return 0;
}

/* sendmsg() on any socket: refuse to hand over our TLS sockets. */
int sock_check_sendmsg(const struct msghdr *msg)
{
	return sock_passes_tls_fd(msg);
}

ssize_t sock_sendmsg(struct shim_sock *s, int fd, const struct msghdr *msg,
		     int flags)
{
	if (!sock_is_tls(s))
		return real.sendmsg(fd, msg, flags);
	if (msg->msg_controllen > 0) {
		errno = EOPNOTSUPP; /* no ancillary data over TLS */
		return -1;
	}
	return sock_writev(s, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

ssize_t sock_recvmsg(struct shim_sock *s, int fd, struct msghdr *msg,
		     int flags)
{
	ssize_t n;

	if (!sock_is_tls(s))
		return real.recvmsg(fd, msg, flags);
	n = sock_readv(s, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
	if (n >= 0) {
		msg->msg_namelen = 0;
		msg->msg_controllen = 0;
		msg->msg_flags = 0;
	}
	return n;
}

int sock_sendmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags)
{
	unsigned int i;

	if (!sock_is_tls(s))
		return real.sendmmsg(fd, v, n, flags);
	for (i = 0; i < n; i++) {
		int saved = errno;
		ssize_t w = sock_sendmsg(s, fd, &v[i].msg_hdr, flags);

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

int sock_recvmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags)
{
	unsigned int i;

	if (!sock_is_tls(s))
		return real.recvmmsg(fd, v, n, flags, NULL);
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

ssize_t sock_sendfile(struct shim_sock *s, int out, int in, off_t *off,
		      size_t count)
{
	char *buf;
	size_t done = 0;

	if (!sock_is_tls(s))
		return real.sendfile(out, in, off, count);
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
		if (w > 0) {
			done += (size_t)w;
			if (off)
				*off += w;
			else if (w < r)
				lseek(in, w - r, SEEK_CUR); /* give back what was not sent */
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

/* ------------------------------------------------------- life and death */

/* The last reference of the owner goes: close_notify, without blocking. */
static void sock_release_ref(struct shim_sock *s, int fd, int last)
{
	ready_fd_closed(s, fd);
	if (!last || !sock_owned(s) || s->tls == NULL)
		return;
	sock_lock_fd(s, fd);
	if (atomic_load(&s->state) == SOCK_READY && !s->wr_shut) {
		sock_eng()->shutdown(s->tls);
		s->wr_shut = 1;
	}
	pthread_mutex_unlock(&s->lock);
}

int sock_close(int fd)
{
	int last, rc, err;
	struct shim_sock *s = fdt_remove(fd, &last);

	if (s != NULL)
		sock_release_ref(s, fd, last);
	ready_epfd_closed(fd);
	rc = real.close(fd);
	err = errno;
	if (s != NULL)
		sock_put(s);
	errno = err;
	return rc;
}

int sock_close_range(unsigned first, unsigned last_fd, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		size_t end = fdt_socks.size;

		if (end > 0 && last_fd < end - 1)
			end = (size_t)last_fd + 1;
		for (size_t fd = first; fd < end; fd++) {
			int last;
			struct shim_sock *s = fdt_remove((int)fd, &last);
			if (s == NULL)
				continue;
			sock_release_ref(s, (int)fd, last);
			sock_put(s);
		}
		for (size_t fd = first; fd < end; fd++)
			ready_epfd_closed((int)fd);
	}
	if (real.close_range == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real.close_range(first, last_fd, flags);
}

int sock_shutdown(struct shim_sock *s, int fd, int how)
{
	if (!sock_is_tls(s))
		return real.shutdown(fd, how);
	if (!sock_owned(s))
		return sock_child_refuse(s, fd, ENOTCONN);
	sock_lock_fd(s, fd);
	switch (atomic_load(&s->state)) {
	case SOCK_READY:
		if ((how == SHUT_WR || how == SHUT_RDWR) && !s->wr_shut) {
			sock_eng()->shutdown(s->tls);
			s->wr_shut = 1;
		}
		if (how == SHUT_RD || how == SHUT_RDWR)
			s->rd_shut = 1;
		break;
	case SOCK_CONNECTING:
	case SOCK_HANDSHAKING:
		sock_fail(s, fd, ECONNABORTED);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&s->lock);
	ready_sync(s);
	return real.shutdown(fd, how);
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
	struct shim_sock *so = fdt_acquire(oldfd), *sn = NULL;
	int rc, err, last = 0;

	if (over) {
		sn = fdt_remove(newfd, &last);
		if (sn != NULL)
			sock_release_ref(sn, newfd, last);
		ready_epfd_closed(newfd);
	}
	rc = sock_dup_real(oldfd, newfd, flags, kind);
	err = errno;
	if (sn != NULL)
		sock_put(sn);
	if (rc >= 0 && rc != oldfd) {
		fdt_forget_stale(rc);
		if (so != NULL && fdt_install(rc, so) == 0 && sock_is_tls(so))
			real.fcntl(rc, F_SETFD, FD_CLOEXEC);
	}
	if (so != NULL)
		sock_put(so);
	errno = err;
	return rc;
}

int sock_fcntl(struct shim_sock *s, int fd, int cmd, unsigned long arg)
{
	int rc;

	if (!sock_is_tls(s))
		return real.fcntl(fd, cmd, arg);
	switch (cmd) {
	case F_GETFL:
		rc = real.fcntl(fd, F_GETFL);
		if (rc >= 0)
			rc = (rc & ~O_NONBLOCK) | (s->app_nonblock ? O_NONBLOCK : 0);
		return rc;
	case F_SETFL:
		rc = real.fcntl(fd, F_SETFL, (int)arg | O_NONBLOCK);
		if (rc == 0)
			s->app_nonblock = ((int)arg & O_NONBLOCK) != 0;
		return rc;
	case F_SETFD:
		if (!((int)arg & FD_CLOEXEC)) {
			log_msg(SHIM_LOG_ERROR,
				"fd %d: %s: refusing to clear FD_CLOEXEC: a TLS "
				"session cannot be passed to an exec'd program",
				fd, s->info.label);
			errno = EPERM;
			return -1;
		}
		return real.fcntl(fd, cmd, arg);
	default:
		return real.fcntl(fd, cmd, arg);
	}
}

int sock_ioctl(struct shim_sock *s, int fd, unsigned long req, void *arg)
{
	if (!sock_is_tls(s))
		return real.ioctl(fd, req, arg);
	if (req == FIONBIO) {
		if (arg == NULL) {
			errno = EFAULT;
			return -1;
		}
		s->app_nonblock = *(int *)arg != 0;
		return 0;
	}
	if (req == FIONREAD) {
		if (arg == NULL) {
			errno = EFAULT;
			return -1;
		}
		if (!sock_owned(s))
			return sock_child_refuse(s, fd, ENOTCONN);
		sock_lock_fd(s, fd);
		*(int *)arg = atomic_load(&s->state) == SOCK_READY ?
				      (int)sock_eng()->pending(s->tls) : 0;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	return real.ioctl(fd, req, arg);
}

int sock_getsockopt(struct shim_sock *s, int fd, int level, int name,
		    void *val, socklen_t *len)
{
	if (!sock_is_tls(s) || level != SOL_SOCKET || name != SO_ERROR ||
	    val == NULL || len == NULL || *len < sizeof(int))
		return real.getsockopt(fd, level, name, val, len);
	pthread_mutex_lock(&s->lock);
	*(int *)val = s->so_error;
	s->so_error = 0;
	pthread_mutex_unlock(&s->lock);
	*len = sizeof(int);
	if (*(int *)val == 0 && atomic_load(&s->state) == SOCK_READY)
		return real.getsockopt(fd, level, name, val, len);
	return 0;
}

int sock_setsockopt(struct shim_sock *s, int fd, int level, int name,
		    const void *val, socklen_t len)
{
	int rc = real.setsockopt(fd, level, name, val, len);

	if (rc == 0 && sock_is_tls(s) && level == SOL_SOCKET &&
	    len >= sizeof(struct timeval)) {
		if (name == SO_RCVTIMEO)
			memcpy(&s->rcvtimeo, val, sizeof(struct timeval));
		else if (name == SO_SNDTIMEO)
			memcpy(&s->sndtimeo, val, sizeof(struct timeval));
	}
	return rc;
}

ssize_t sock_sendto_fresh(struct shim_sock *s, int fd, const void *buf,
			  size_t len, int flags, const struct sockaddr *addr,
			  socklen_t alen)
{
	const struct shim_engine_ops *e;
	struct shim_tls *tls = NULL;
	struct shim_session_info info;
	int err = 0;

	if (addr == NULL || alen < sizeof(sa_family_t) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return real.sendto(fd, buf, len, flags, addr, alen);
	e = loader_engine();
	if (e == NULL) {
		errno = EACCES;
		return -1;
	}
	memset(&info, 0, sizeof(info));
	switch (sock_open(e, fd, addr, alen, &tls, &info, &err)) {
	case SHIM_WRAP:
		e->free(tls);
		log_msg(SHIM_LOG_ERROR, "%s: TCP Fast Open (sendto with an "
			"address) would send data before the TLS handshake; "
			"refused", info.label);
		errno = EOPNOTSUPP;
		return -1;
	case SHIM_REFUSE:
		errno = err;
		return -1;
	case SHIM_PASS:
	default:
		return real.sendto(fd, buf, len, flags, addr, alen);
	}
}
