/*
 * sock.c - the life of a socket the switchboard tracks: the pool and its
 * references, the per-socket lock, and the connect + handshake state
 * machine (see sock.h).  The move of the TCP connection to a private
 * descriptor is in sock_private.c, the data path in sock_io.c, descriptor
 * calls (close, dup, fcntl, options) in sock_fd.c, refusals and relay
 * triggers in sock_policy.c (the refusal table in sock_refusal.c), the
 * relay in relay.c.
 *
 * Invariants:
 *  - the program's descriptor of a TLS socket is never connected to the
 *    network: the TCP connection is made on kfd, a socket the program was
 *    never given, and the program's numbers are a socketpair end;
 *  - kfd is O_NONBLOCK and FD_CLOEXEC; no byte reaches it except through the
 *    engine, and the engine writes only once the handshake is done and the
 *    peer verified: FAILED sockets are shut down and refuse all I/O;
 *  - s->lock is held around engine calls only, never across block_wait().
 *
 * Calls: the fd table (which calls back only through the fdt_ref_ops this
 * file hands it), loader, names, block, log, relay.c; the readiness module
 * hears of changes through the observer only (sock_notify).
 */
#include "sock_impl.h"
#include "sock_policy.h"
#include "block.h"
#include "fdtable.h"
#include "loader.h"
#include "log.h"
#include "names.h"
#include "real.h"
#include "relay.h"
#include "sup_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

atomic_ulong sock_fork_gen;
atomic_int sock_owner_pid;
/* 1 in this process, 0 in a child that was forked without the atfork
   handlers (_Fork(), a raw clone without CLONE_VM): its page is
   MADV_WIPEONFORK, so such a child reads 0 while a vfork child (same
   memory) still reads 1.  NULL until the first sock_note_pid(). */
atomic_int *sock_fork_token;
atomic_int sock_private_min = INT_MAX;
atomic_ulong sock_private_bits[SOCK_PRIVATE_BITS / SOCK_PRIVATE_WORD];

const struct shim_engine_ops *sock_eng(void)
{
	return loader_loaded();
}

/* ----------------------------------------------------------- the pool */

/*
 * Sockets are recycled, never freed: fdt_acquire() reads them without a
 * lock, so their memory must stay a struct shim_sock.  The pool holds at
 * most as many as were ever open at once.
 */
static struct shim_sock *sock_pool;
static pthread_mutex_t sock_pool_lock = PTHREAD_MUTEX_INITIALIZER;

static void sock_reset(struct shim_sock *s)
{
	/* refs is 0 and stays untouched: a stale fdt_acquire may look at it */
	s->nfds = 0;
	s->tls = NULL;
	memset(&s->info, 0, sizeof(s->info));
	s->app_nonblock = s->so_error = s->hs_want = 0;
	s->rd_shut = s->wr_shut = s->child_warned = s->stdio = 0;
	memset(&s->hs_deadline, 0, sizeof(s->hs_deadline));
	memset(&s->rcvtimeo, 0, sizeof(s->rcvtimeo));
	memset(&s->sndtimeo, 0, sizeof(s->sndtimeo));
	s->pool_next = NULL;
	s->kfd = s->shim_end = -1;
	s->watched = 0;
	atomic_store(&s->orphan, 0);
	s->relay = NULL;
	s->live_next = NULL;
	atomic_store(&s->hints, 0);
	atomic_store(&s->seen_data, 0);
}

static const struct fdt_ref_ops sock_fdt_ops;

struct shim_sock *sock_new(void)
{
	struct shim_sock *s;

	fdt_use(&sock_fdt_ops);
	pthread_mutex_lock(&sock_pool_lock);
	s = sock_pool;
	if (s != NULL)
		sock_pool = s->pool_next;
	pthread_mutex_unlock(&sock_pool_lock);
	if (s == NULL && (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	sock_reset(s);
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
	/* the last call in flight on a socket the program closed has ended:
	   its close is finished now (sock_last_close) */
	if (atomic_load(&s->orphan) && s->tls != NULL && sock_owned(s) &&
	    atomic_load(&s->state) == SOCK_READY && !s->wr_shut)
		sock_eng()->shutdown(s->tls);
	sock_notify(s, SOCK_EV_GONE, -1);
	if (s->tls != NULL && sock_eng() != NULL)
		sock_eng()->free(s->tls);
	s->tls = NULL;
	/* only a child's copies are still open here: the owner's go when the
	   session ends (sock_end_locked) */
	if (s->kfd >= 0)
		real.close(s->kfd);
	if (s->shim_end >= 0)
		real.close(s->shim_end);
	free(s->relay);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_lock(&sock_pool_lock);
	s->pool_next = sock_pool;
	sock_pool = s;
	pthread_mutex_unlock(&sock_pool_lock);
}

/* A reference unless none is left (s is being recycled). */
static int sock_tryget(struct shim_sock *s)
{
	int refs = atomic_load_explicit(&s->refs, memory_order_relaxed);

	do {
		if (refs == 0)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(
		&s->refs, &refs, refs + 1, memory_order_acquire,
		memory_order_relaxed));
	return 1;
}

/* The fd table's entries that name s: under the table mutex. */
static int sock_table_fds(struct shim_sock *s, int delta)
{
	s->nfds += delta;
	return s->nfds;
}

static const struct fdt_ref_ops sock_fdt_ops = {
	.tryget = sock_tryget,
	.get = sock_get,
	.put = sock_put,
	.fds = sock_table_fds,
};

/* ------------------------------------------------- what others may see */

int sock_fast(const struct shim_sock *s)
{
	return sock_emulated(atomic_load(&s->state));
}

void sock_view(const struct shim_sock *s, int fd, struct sock_view *v)
{
	v->state = atomic_load(&s->state);
	v->owned = sock_owned(s);
	v->kernel_fd = sock_emulated(v->state) && v->owned && s->kfd >= 0 ?
			       s->kfd : fd;
	v->hints = atomic_load(&s->hints);
	v->hs_want = s->hs_want;
	v->seen_data = atomic_load_explicit(&s->seen_data,
					    memory_order_relaxed);
	v->hs_deadline = s->hs_deadline;
}

static _Atomic(sock_observer_fn *) sock_observer;

void sock_observe(sock_observer_fn *fn)
{
	atomic_store_explicit(&sock_observer, fn, memory_order_release);
}

void sock_notify(struct shim_sock *s, enum sock_event ev, int fd)
{
	sock_observer_fn *fn =
		atomic_load_explicit(&sock_observer, memory_order_acquire);

	if (fn != NULL)
		fn(s, ev, fd);
}

/* ----------------------------------------------------------- the lock */

/*
 * The sockets whose lock this thread holds or is taking.  A signal handler
 * that calls into a socket its own thread is inside would wait for itself
 * forever: it gets EAGAIN instead.  Handlers nest, so this is a stack.
 */
#define SOCK_HELD_MAX 8
static __thread struct shim_sock *sock_held[SOCK_HELD_MAX]
	__attribute__((tls_model("initial-exec")));
static __thread int sock_nheld __attribute__((tls_model("initial-exec")));

int sock_held_here(const struct shim_sock *s)
{
	for (int i = 0; i < sock_nheld && i < SOCK_HELD_MAX; i++)
		if (sock_held[i] == s)
			return 1;
	return 0;
}

/* s is noted as held (or being taken) by this thread: 0, or -1 with
   EAGAIN if it is already (a handler re-entering). */
static int sock_hold(struct shim_sock *s)
{
	int n = sock_nheld;

	if (sock_held_here(s)) {
		errno = EAGAIN;
		return -1;
	}
	if (n < SOCK_HELD_MAX)
		sock_held[n] = s;
	sock_nheld = n + 1;
	return 0;
}

/* The last sock_hold of this thread is over. */
static void sock_unhold(void)
{
	if (sock_nheld > 0 && --sock_nheld < SOCK_HELD_MAX)
		sock_held[sock_nheld] = NULL;
}

int sock_lock(struct shim_sock *s)
{
	if (sock_hold(s) < 0)
		return -1;
	pthread_mutex_lock(&s->lock);
	return 0;
}

int sock_lock_until(struct shim_sock *s, const struct timespec *until)
{
	int rc;

	if (sock_hold(s) < 0)
		return -1;
	rc = pthread_mutex_clocklock(&s->lock, CLOCK_MONOTONIC, until);
	if (rc == 0)
		return 0;
	sock_unhold();
	errno = rc;
	return -1;
}

void sock_unlock(struct shim_sock *s)
{
	pthread_mutex_unlock(&s->lock);
	sock_unhold();
}

/* ------------------------------------------------------ owner checks */

void sock_forked_unseen(void)
{
	/* a child forked past the atfork handlers: what they would have done */
	atomic_store(sock_fork_token, 1);
	sock_atfork_child();
}

int sock_in_vfork_child(void)
{
	int pid;

	sock_fork_check();
	pid = atomic_load_explicit(&sock_owner_pid, memory_order_relaxed);
	return pid != 0 && pid != (int)syscall(SYS_getpid);
}

/* The token's page, once: MADV_WIPEONFORK (Linux 4.14) or no token (a
   child forked past the handlers is then refused as a vfork child). */
static void sock_fork_token_init(void)
{
	void *p;

	if (sock_fork_token != NULL)
		return;
	p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	if (madvise(p, (size_t)sysconf(_SC_PAGESIZE), MADV_WIPEONFORK) != 0) {
		munmap(p, (size_t)sysconf(_SC_PAGESIZE));
		return;
	}
	atomic_store((atomic_int *)p, 1);
	sock_fork_token = p;
}

void sock_note_pid(void)
{
	sock_fork_token_init();
	atomic_store(&sock_owner_pid, (int)syscall(SYS_getpid));
}

void sock_atfork_child(void)
{
	atomic_fetch_add(&sock_fork_gen, 1);
	sock_note_pid();
	relay_atfork_child();
}

/* ------------------------------------------------------------- hints */

int sock_refresh_hints(struct shim_sock *s, int rd_want, int wr_want)
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
		h |= old & (SOCK_HINT_WR_WANTS_RD | SOCK_HINT_WR_BLOCKED);
	else if (wr_want == SHIM_IO_WANT_READ)
		h |= SOCK_HINT_WR_WANTS_RD;
	else if (wr_want == SHIM_IO_WANT_WRITE)
		h |= SOCK_HINT_WR_BLOCKED;
	atomic_store(&s->hints, h);
	return ((h ^ old) & ~SOCK_HINT_BUFFERED) != 0;
}

/* ------------------------------------------------- connect + handshake */

void sock_fail_locked(struct shim_sock *s, int err)
{
	atomic_store(&s->state, SOCK_FAILED);
	s->so_error = err;
	atomic_store(&s->hints, 0);
	/* nothing may leave this connection any more, and whoever reads the
	   program's end without a hook sees its end */
	real.shutdown(s->kfd, SHUT_RDWR);
	real.shutdown(s->shim_end, SHUT_RDWR);
	/* its end now reports a hang-up for good: nothing left to watch */
	relay_unwatch(s);
}

int sock_advance_locked(struct shim_sock *s, enum sock_state *st)
{
	const struct shim_engine_ops *e = sock_eng();
	int err = 0, rc;

	if (*st == SOCK_CONNECTING) {
		struct pollfd p = { .fd = s->kfd, .events = POLLOUT };
		socklen_t len = sizeof(err);

		if (real.poll(&p, 1, 0) <= 0)
			goto check_deadline;
		if (real.getsockopt(s->kfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			log_msg(SHIM_LOG_ERROR, "%s: TCP connect failed, before "
				"any TLS: %s", s->info.label, strerror(err));
			*st = SOCK_FAILED;
			s->so_error = err;
			return -1;
		}
		*st = SOCK_HANDSHAKING;
	}
	if (*st != SOCK_HANDSHAKING)
		return *st == SOCK_FAILED ? -1 : 1;
	rc = e->handshake(s->tls, &err);
	if (rc == 0) {
		*st = SOCK_READY;
		return 1;
	}
	if (rc == SHIM_IO_ERROR) {
		*st = SOCK_FAILED;
		s->so_error = err;
		return -1;
	}
	s->hs_want = rc;
check_deadline:
	if (deadline_passed(&s->hs_deadline)) {
		log_msg(SHIM_LOG_ERROR,
			"%s: TLS handshake timed out after %d ms (no answer "
			"from the server)", s->info.label,
			s->info.handshake_timeout_ms);
		*st = SOCK_FAILED;
		s->so_error = ETIMEDOUT;
		return -1;
	}
	return 0;
}

/* Caller holds s->lock: one non-blocking step of the fast path. */
static void sock_step_locked(struct shim_sock *s)
{
	enum sock_state st = atomic_load(&s->state);
	int rc = sock_advance_locked(s, &st);

	if (rc < 0) {
		sock_fail_locked(s, s->so_error ? s->so_error : ECONNABORTED);
		return;
	}
	atomic_store(&s->state, st);
	if (st == SOCK_READY)
		sock_refresh_hints(s, 0, 0);
}

void sock_step(struct shim_sock *s, int fd)
{
	enum sock_state before, after;

	if (sock_lock(s) < 0)
		return;
	before = atomic_load(&s->state);
	if (before == SOCK_CONNECTING || before == SOCK_HANDSHAKING)
		sock_step_locked(s);
	after = atomic_load(&s->state);
	sock_unlock(s);
	if (after != before)
		sock_changed(s);
}

void sock_flush(struct shim_sock *s, int fd)
{
	int err, changed = 0;

	if (sock_lock(s) < 0)
		return;
	if (atomic_load(&s->state) == SOCK_READY &&
	    sock_eng()->unsent(s->tls) > 0) {
		sock_eng()->flush(s->tls, &err);
		changed = sock_refresh_hints(s, -1, -1);
	}
	sock_unlock(s);
	if (changed)
		sock_changed(s);
}

int sock_probe_readable(struct shim_sock *s, int fd)
{
	char c;
	int err = 0, changed;
	ssize_t n;

	if (!sock_owned(s))
		return 1; /* let the read report it */
	if (sock_lock(s) < 0)
		return 1;
	if (atomic_load(&s->state) != SOCK_READY) {
		sock_unlock(s);
		return 1;
	}
	n = sock_eng()->read(s->tls, &c, 1, 1, &err);
	if (n == SHIM_IO_ERROR && s->so_error == 0)
		s->so_error = err;
	changed = sock_refresh_hints(s, n < 0 && n != SHIM_IO_ERROR ? (int)n : 0, -1);
	sock_unlock(s);
	if (changed)
		sock_changed(s);
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

/* errno for a FAILED socket, once: its pending error, else `dflt`. */
int sock_failed_errno(struct shim_sock *s, int dflt)
{
	int err;

	if (sock_lock(s) < 0)
		return EAGAIN;
	err = s->so_error ? s->so_error : dflt;
	s->so_error = 0;
	sock_unlock(s);
	return err;
}

/* Drive connect + handshake to the end, blocking.  0 or -1/errno. */
static int sock_finish_blocking(struct shim_sock *s, int fd)
{
	if (sock_held_here(s)) {
		/* a signal handler interrupted this thread inside the
		   session: it cannot wait for itself */
		errno = EAGAIN;
		return -1;
	}
	for (;;) {
		enum sock_state st;
		short ev;

		sock_step(s, fd);
		st = atomic_load(&s->state);
		if (st == SOCK_READY || !sock_emulated(st))
			return 0; /* RELAY: relay.c finishes it */
		if (st == SOCK_FAILED) {
			errno = sock_failed_errno(s, ECONNABORTED);
			return -1;
		}
		ev = sock_hs_events(s);
		if (block_wait_handshake(s->kfd, ev, &s->hs_deadline,
					 s->sndtimeo.tv_sec != 0 ||
						 s->sndtimeo.tv_usec != 0) < 0 &&
		    errno != EAGAIN)
			return -1; /* EINTR: the handshake goes on */
	}
}

int sock_need_ready(struct shim_sock *s, int fd, int nonblock, int fail_errno)
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
		errno = sock_failed_errno(s, fail_errno);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------ tracking new sockets */

static void sock_untrack(int fd, struct shim_sock *s)
{
	int last;
	struct shim_sock *t = fdt_remove(fd, &last);

	sock_notify(s, SOCK_EV_UNTRACKED, fd);
	sock_notify(s, SOCK_EV_GONE, -1);
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

static int sock_is_stream(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

/* A socket we did not see created (inherited, or the table was full). */
static struct shim_sock *sock_adopt(int fd)
{
	struct shim_sock *s;

	if (!sock_is_stream(fd))
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

static int sock_reconnect(struct shim_sock *s, int fd);

/* Locked: the private socket's TCP connect.  0 (CONNECTING, or
   HANDSHAKING if it connected at once), or -1 with errno after an
   immediate failure: the program's socket given back, s unlocked. */
static int sock_begin_tcp(struct shim_sock *s, int fd,
			  const struct sockaddr *addr, socklen_t len)
{
	int rc = real.connect(s->kfd, addr, len), err = errno;

	if (rc < 0 && err != EINPROGRESS) {
		log_msg(SHIM_LOG_ERROR, "%s: TCP connect failed, before any "
			"TLS: %s", s->info.label, strerror(err));
		sock_give_back(s, fd);
		sock_unlock(s);
		sock_notify(s, SOCK_EV_ATTACH, -1);
		errno = err;
		return -1;
	}
	atomic_store(&s->state, rc == 0 ? SOCK_HANDSHAKING : SOCK_CONNECTING);
	return 0;
}

static int sock_begin(struct shim_sock *s, int fd, const struct sockaddr *addr,
		      socklen_t len, struct shim_tls *tls,
		      const struct shim_session_info *info)
{
	int err;

	if (sock_lock(s) < 0) {
		sock_eng()->free(tls);
		return -1;
	}
	if (atomic_load(&s->state) != SOCK_FRESH) {
		/* another thread's connect() on this socket got here first */
		sock_unlock(s);
		sock_eng()->free(tls);
		return sock_reconnect(s, fd);
	}
	s->tls = tls;
	s->info = *info;
	s->owner_gen = atomic_load(&sock_fork_gen);
	s->so_error = 0;
	if (sock_move_private(s, fd) < 0) {
		err = errno;
		log_msg(SHIM_LOG_ERROR, "%s: cannot set up the private "
			"connection: %s", info->label, strerror(err));
		s->tls = NULL;
		sock_unlock(s);
		sock_eng()->free(tls);
		errno = err;
		return -1;
	}
	sock_eng()->set_fd(tls, s->kfd);
	deadline_in_ms(&s->hs_deadline, info->handshake_timeout_ms);
	if (atomic_load(&s->state) != SOCK_FAILED &&
	    sock_begin_tcp(s, fd, addr, len) < 0)
		return -1;
	sock_unlock(s);
	sock_changed(s);
	if (s->stdio) /* fdopen()ed before: stdio writes past the hooks */
		relay_take(s, "the socket was fdopen()ed");
	if (s->app_nonblock) {
		/* as the kernel's non-blocking TCP connect: EINPROGRESS, even
		   when the handshake has failed already (a fast server on a
		   busy machine); the error waits in SO_ERROR and the socket
		   polls writable */
		sock_step(s, fd);
		errno = EINPROGRESS;
		return -1;
	}
	return sock_finish_blocking(s, fd);
}

/*
 * sock_open - the engine's decision for a connect() to addr (and, with tls
 * not NULL, the session for it), with the name
 * this thread resolved for it (names_lookup; DESIGN rule 2).  If the engine
 * would pass it by, but a name ANOTHER thread resolved for this address and
 * port (a resolver thread, as libuv's) would make it a configured endpoint,
 * refuse: wrapping would verify a name this connection did not resolve,
 * passing would send plaintext to a configured endpoint.
 */
enum shim_decision sock_open(const struct shim_engine_ops *e, int fd,
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
	if (e->open(fd, addr, len, other, NULL, info, err) != SHIM_WRAP)
		return SHIM_PASS;
	sock_refuse(SOCK_REFUSE_OTHERS_NAME, info->label, other);
	*err = sock_refusal_errno(SOCK_REFUSE_OTHERS_NAME);
	return SHIM_REFUSE;
}

/* connect() on a socket that is already a TLS socket. */
static int sock_reconnect(struct shim_sock *s, int fd)
{
	switch (atomic_load(&s->state)) {
	case SOCK_READY:
	case SOCK_RELAY:
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
	case SOCK_DONE:
		errno = ECONNABORTED;
		return -1;
	default:
		errno = EINVAL;
		return -1;
	}
}

int sock_addr_is_inet(const struct sockaddr *addr, socklen_t len)
{
	return addr != NULL && len >= sizeof(sa_family_t) &&
	       (addr->sa_family == AF_INET || addr->sa_family == AF_INET6);
}

/* connect() on a socket the table cannot hold (not a stream socket, or its
   number is beyond the table): a stream socket must not reach a
   configured endpoint untracked. */
static int sock_connect_untracked(int fd, const struct sockaddr *addr,
				  socklen_t len)
{
	if (sock_is_stream(fd) &&
	    sock_refuse_if_configured(addr, len, SOCK_REFUSE_UNTRACKABLE))
		return -1;
	return real.connect(fd, addr, len);
}

/* connect() on s, tracked and FRESH: wrapped, refused or passed by, as
   the engine decides (a passed socket leaves the table). */
/* 1 if fd already has a peer (an accept()ed socket) or listens: a
   connect() on it is the kernel's to refuse, with the socket left as it
   is, not a connection to move to a private socket. */
static int sock_is_taken(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(int);
	int listening = 0;

	if (real.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == 0 &&
	    listening)
		return 1;
	l = sizeof(ss);
	return real.getpeername(fd, (struct sockaddr *)&ss, &l) == 0;
}

/*
 * Under redis-tls-ctl's supervisor (a preloaded program's dynamically
 * linked child in system-wide mode, or LD_PRELOAD put back by the
 * program), a connect the supervisor wraps gets its TLS there: 1 if the
 * supervisor says it will (SUP_PROBE_WRAPS, sup_probe.h); 0 without a
 * supervisor (the kernel fails the question; a tracer's or interposer's
 * made-up answer is not the supervisor's), or when it passes this
 * address by.
 */
static int sock_supervisor_wraps(int fd, const struct sockaddr *addr,
				 socklen_t len)
{
	/* A process is under the supervisor's filter from its exec on, or
	   never (a filter is inherited, and only the supervisor's child
	   installs one): once the kernel has failed the question, it is
	   not asked again (fork children inherit the answer with the
	   filter; an exec starts over). */
	static atomic_int unsupervised;
	socklen_t optlen = 0;
	long rc;

	if (atomic_load_explicit(&unsupervised, memory_order_relaxed))
		return 0;
	rc = syscall(SYS_getsockopt, fd, SUP_PROBE_LEVEL, (int)len, addr, &optlen);
	if (rc < 0)
		atomic_store_explicit(&unsupervised, 1, memory_order_relaxed);
	return rc == SUP_PROBE_WRAPS;
}

/*
 * The connect the supervisor said it would wrap, made: it must hold the
 * socket now (its TLS, or its handshake still running); if it does not,
 * the socket is shut before the program writes a byte and the connect
 * refused.  Returns the connect's own result otherwise.
 */
static int sock_supervised_connect(int fd, const struct sockaddr *addr,
				   socklen_t len)
{
	socklen_t optlen = 0;
	int rc = real.connect(fd, addr, len), err = errno;

	if (rc < 0 && err != EINPROGRESS)
		return rc;
	if (syscall(SYS_getsockopt, fd, SUP_PROBE_LEVEL, 0, NULL, &optlen) !=
	    SUP_PROBE_HOLDS) {
		shutdown(fd, SHUT_RDWR);
		return sock_refuse_fd(SOCK_REFUSE_SUPERVISOR_PASSED, fd, NULL);
	}
	errno = err;
	return rc;
}

static int sock_connect_fresh(struct shim_sock *s, int fd,
			      const struct sockaddr *addr, socklen_t len)
{
	const struct shim_engine_ops *e = loader_engine();
	struct shim_tls *tls = NULL;
	struct shim_session_info info;
	int err = 0;

	if (e == NULL && loader_stand_aside()) {
		sock_untrack(fd, s);
		return real.connect(fd, addr, len);
	}
	if (e == NULL)
		return sock_refuse(SOCK_REFUSE_NO_ENGINE, NULL, NULL);
	memset(&info, 0, sizeof(info));
	switch (sock_open(e, fd, addr, len, &tls, &info, &err)) {
	case SHIM_WRAP:
		if (sock_is_taken(fd)) {
			/* the kernel refuses it (EISCONN) and sends nothing */
			e->free(tls);
			sock_untrack(fd, s);
			return real.connect(fd, addr, len);
		}
		if (sock_supervisor_wraps(fd, addr, len)) {
			e->free(tls);
			sock_untrack(fd, s);
			return sock_supervised_connect(fd, addr, len);
		}
		return sock_begin(s, fd, addr, len, tls, &info);
	case SHIM_REFUSE:
		sock_refuse(SOCK_REFUSE_BY_ENGINE, info.label, NULL);
		if (err != 0)
			errno = err;
		return -1;
	case SHIM_PASS:
	default:
		sock_untrack(fd, s);
		return real.connect(fd, addr, len);
	}
}

int sock_connect(int fd, const struct sockaddr *uaddr, socklen_t len)
{
	struct sockaddr_storage copy;
	const struct sockaddr *addr = (const struct sockaddr *)&copy;
	struct shim_sock *s;
	int rc, err;

	/* decided, and connected, on one copy: another thread rewriting the
	   program's buffer between the decision and the kernel's read of it
	   could turn a connect passed by into one to a configured endpoint */
	if (uaddr == NULL || len > sizeof(copy)) /* the kernel's EFAULT, EINVAL */
		return real.connect(fd, uaddr, len);
	memcpy(&copy, uaddr, len);
	if (!sock_addr_is_inet(addr, len))
		return real.connect(fd, addr, len);
	if (loader_busy()) {
		/* this thread is loading the engine: a socket of libc's own
		   (its resolver's datagrams) goes as it is; a stream socket
		   cannot be decided yet: the program's (a signal handler's,
		   whether the shim saw it made or not) is refused */
		if (fdt_peek(fd) == NULL && !sock_is_stream(fd))
			return real.connect(fd, addr, len);
		return sock_refuse_fd(SOCK_REFUSE_LOADING, fd, NULL);
	}
	/* a vfork child shares the parent's memory: no session made here */
	if (sock_in_vfork_child())
		return sock_refuse_fd(SOCK_REFUSE_VFORK, fd, NULL);
	s = fdt_acquire(fd);
	if (s == NULL && (s = sock_adopt(fd)) == NULL)
		return sock_connect_untracked(fd, addr, len);
	if (atomic_load(&s->state) != SOCK_FRESH)
		rc = sock_reconnect(s, fd);
	else
		rc = sock_connect_fresh(s, fd, addr, len);
	err = errno;
	sock_put(s);
	errno = err;
	return rc;
}

/* --------------------------------------------------------- the end */

void sock_close_gently(int kfd)
{
	char sink[4096];

	/* what was sent goes first, then the FIN; and nothing unread (the
	   server's session tickets, a reply nobody asked for) may be left,
	   or the kernel answers the close with a reset, dropping what is
	   still in flight */
	real.shutdown(kfd, SHUT_WR);
	for (int i = 0; i < 16 &&
	     real.recv(kfd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
}

void sock_end_locked(struct shim_sock *s, int notify)
{
	const struct shim_engine_ops *e = sock_eng();

	if (notify && s->tls != NULL && atomic_load(&s->state) == SOCK_READY &&
	    !s->wr_shut) {
		e->shutdown(s->tls);
		s->wr_shut = 1;
	}
	relay_unwatch(s);
	sock_notify(s, SOCK_EV_GONE, -1);
	if (s->kfd >= 0) {
		sock_close_gently(s->kfd);
		real.close(s->kfd);
	}
	if (s->shim_end >= 0)
		real.close(s->shim_end);
	s->kfd = s->shim_end = -1;
	atomic_store(&s->state, SOCK_DONE);
}

/*
 * The program's last number for s in this process is closed.  If nobody
 * else holds the program's end (no child was given it) and nothing waits
 * in it, the session ends here: close_notify, without blocking.  Else the
 * relay carries what others write until they close it too.
 */
void sock_last_close(struct shim_sock *s)
{
	int busy;

	if (!sock_owned(s) || sock_lock(s) < 0)
		return;
	/* hung up (everyone closed it) with nothing unread: the end */
	if (sock_emulated(atomic_load(&s->state)) && relay_end_state(s) == 2 &&
	    !relay_take_unsent_locked(s)) /* what the kernel has not taken:
					     the relay sends it, then ends */
		sock_end_locked(s, 1);
	/* references beyond the caller's and the watch's are calls of other
	   threads in flight (one blocked in read() holds the descriptor, so
	   there is no hang-up yet): they finish on the session, as on a
	   kernel socket, and the last of them finishes the close (the last
	   sock_put sends close_notify) */
	busy = sock_emulated(atomic_load(&s->state)) &&
	       atomic_load(&s->refs) > 1 + s->watched;
	if (busy) {
		atomic_store(&s->orphan, 1);
		relay_unwatch(s); /* its end hangs up: nothing to watch */
	}
	sock_unlock(s);
	if (!busy && sock_emulated(atomic_load(&s->state)))
		relay_take(s, "the program closed it while another process "
			      "holds it");
}
