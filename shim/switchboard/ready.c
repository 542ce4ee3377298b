/*
 * ready.c - readiness emulation for poll, select and epoll.
 *
 * For poll/select nothing is remembered: each call asks every TLS socket
 * what the kernel must watch (ready_prepare) and what is ready already,
 * waits, then lets each socket interpret the kernel's answer
 * (ready_complete), looping while time remains and nothing the program
 * asked for is ready.
 *
 * For epoll the kernel keeps registrations across calls, so each
 * registration of a tracked socket is mirrored in a struct ready_reg, kept
 * in a list per socket and a list plus hash (by epoll_data) per epoll fd.
 * The kernel registration carries the program's own epoll_data and an
 * event mask computed from the socket's state (ready_kernel_mask), updated
 * by ready_sync when that state changes.  Kernel events are recognised by
 * their data (a program needs distinct data per fd to tell fds apart).
 */
#include "ready.h"
#include "block.h"
#include "fdtable.h"
#include "log.h"
#include "real.h"
#include "sock.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define READY_DISARMED 0xffffffffu /* one-shot fired, awaiting EPOLL_CTL_MOD */
#define READY_ALWAYS (EPOLLERR | EPOLLHUP)
#define READY_FLAGS (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)
#define READY_MAX_EXPIRED 16
#define READY_STACK_OWN 32

struct ready_reg {
	int epfd, fd;
	int kfd;        /* the descriptor registered with the kernel, or -1 */
	uint32_t app_events;
	epoll_data_t data;
	uint32_t kernel_events;
	int armed;
	int err_reported;
	int live;       /* 0 after EPOLL_CTL_DEL: kept for the next ADD */
	struct shim_sock *sock;
	struct ready_reg *sock_next, *set_next, *hash_next;
};

struct ready_set {
	struct ready_reg *regs;
	size_t nregs;
	struct ready_reg **hash;
	size_t nbuckets;
};

static struct fdt_map ready_sets;
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------- per-socket mapping */

static int ready_is_handshaking(enum sock_state st)
{
	return st == SOCK_CONNECTING || st == SOCK_HANDSHAKING;
}

/* Events the kernel must watch for `want` (POLLIN/POLLOUT bits). */
static uint32_t ready_kernel_events(struct shim_sock *s, uint32_t want)
{
	unsigned h = atomic_load(&s->hints);
	uint32_t k;

	switch (atomic_load(&s->state)) {
	case SOCK_FRESH:
	case SOCK_RELAY:
	case SOCK_DONE:
		return want;
	case SOCK_CONNECTING:
		return EPOLLOUT;
	case SOCK_HANDSHAKING:
		return s->hs_want == SHIM_IO_WANT_READ ? EPOLLIN : EPOLLOUT;
	case SOCK_FAILED:
		return 0;
	case SOCK_READY:
	default:
		k = want;
		if (h & SOCK_HINT_UNSENT)
			k |= EPOLLOUT;
		if ((h & SOCK_HINT_RD_WANTS_WR) && (want & EPOLLIN))
			k |= EPOLLOUT;
		if ((h & SOCK_HINT_WR_WANTS_RD) && (want & EPOLLOUT))
			k |= EPOLLIN;
		return k;
	}
}

/* What is ready without asking the kernel. */
static uint32_t ready_synthetic(struct shim_sock *s, uint32_t want)
{
	switch (atomic_load(&s->state)) {
	case SOCK_FAILED:
		return READY_ALWAYS | (want & (EPOLLIN | EPOLLOUT));
	case SOCK_READY:
		if ((want & EPOLLIN) &&
		    (atomic_load(&s->hints) & SOCK_HINT_BUFFERED))
			return EPOLLIN;
		return 0;
	default:
		return 0;
	}
}

/*
 * The kernel reported `got` for socket s (registered for `want`): drive the
 * handshake or flush as needed, and say what the program should see.
 */
static uint32_t ready_complete(struct shim_sock *s, int fd, uint32_t want,
			       uint32_t got)
{
	enum sock_state st = atomic_load(&s->state);
	unsigned h;
	uint32_t r;

	if (!sock_emulated(st))
		return got & (want | READY_ALWAYS);
	if (ready_is_handshaking(st)) {
		if (got == 0 && !block_expired(&s->hs_deadline))
			return 0;
		sock_step(s, fd);
		st = atomic_load(&s->state);
		if (st == SOCK_READY)
			return (want & EPOLLOUT) | ready_synthetic(s, want);
		return st == SOCK_FAILED ? ready_synthetic(s, want) : 0;
	}
	if (st == SOCK_FAILED)
		return ready_synthetic(s, want);
	if ((got & EPOLLOUT) && (atomic_load(&s->hints) & SOCK_HINT_UNSENT))
		sock_flush(s, fd);
	h = atomic_load(&s->hints);
	r = got & (READY_ALWAYS | (want & (EPOLLRDHUP | EPOLLPRI)));
	/* readable means a read would return plaintext: not a session ticket,
	   not part of a record */
	if ((want & EPOLLIN) && (got & EPOLLIN) && !(got & READY_ALWAYS) &&
	    !(h & SOCK_HINT_BUFFERED) && !sock_probe_readable(s, fd))
		got &= ~(uint32_t)EPOLLIN;
	h = atomic_load(&s->hints);
	if ((want & EPOLLIN) &&
	    ((got & (EPOLLIN | READY_ALWAYS)) || (h & SOCK_HINT_BUFFERED) ||
	     ((h & SOCK_HINT_RD_WANTS_WR) && (got & EPOLLOUT))))
		r |= EPOLLIN;
	if ((want & EPOLLOUT) &&
	    (((got & EPOLLOUT) && !(h & SOCK_HINT_UNSENT)) ||
	     ((h & SOCK_HINT_WR_WANTS_RD) && (got & EPOLLIN))))
		r |= EPOLLOUT;
	return r;
}

/* ------------------------------------------------------------- poll */

struct ready_own {
	nfds_t idx;
	int fd;         /* the program's */
	struct shim_sock *s;
	short app;
	short syn;
};

static int ready_timeout_ms(const struct timespec *deadline)
{
	return deadline == NULL ? -1 : block_remaining_ms(deadline);
}

/* Shorten *ms to the nearest handshake deadline among own[]. */
static int ready_cap_handshakes(struct ready_own *own, size_t n, int ms)
{
	for (size_t i = 0; i < n; i++) {
		int left;

		if (!ready_is_handshaking(atomic_load(&own[i].s->state)))
			continue;
		left = block_remaining_ms(&own[i].s->hs_deadline);
		if (ms < 0 || left < ms)
			ms = left;
	}
	return ms;
}

#define READY_WOKE (-2) /* a socket left the fast path: start again */

/*
 * One wait.  The kernel gets a copy of fds (kp, n + nown entries): each
 * TLS socket's entry watches its private socket for what the session
 * needs, and an extra entry watches the program's descriptor, which only
 * becomes readable once relay.c has taken the connection over.
 */
static int ready_poll_round(struct pollfd *fds, nfds_t n, struct pollfd *kp,
			    struct ready_own *own, size_t nown, int ms,
			    const sigset_t *mask)
{
	struct timespec ts, *tp = NULL;
	int rc, err, nsyn = 0, count = 0, woke = 0;

	memcpy(kp, fds, n * sizeof(*fds));
	for (size_t i = 0; i < nown; i++) {
		struct pollfd *p = &kp[own[i].idx];

		own[i].app = p->events;
		own[i].fd = p->fd;
		own[i].syn = (short)ready_synthetic(own[i].s, (uint16_t)p->events);
		p->events = (short)ready_kernel_events(own[i].s, (uint16_t)p->events);
		p->fd = sock_kernel_fd(own[i].s, p->fd);
		kp[n + i].fd = own[i].fd;
		kp[n + i].events = POLLIN;
		kp[n + i].revents = 0;
		nsyn += own[i].syn != 0;
	}
	ms = nsyn ? 0 : ready_cap_handshakes(own, nown, ms);
	if (ms >= 0) {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		tp = &ts;
	}
	rc = real.ppoll(kp, n + nown, tp, mask);
	err = errno;
	for (nfds_t i = 0; i < n; i++)
		fds[i].revents = rc > 0 ? kp[i].revents : 0;
	for (size_t i = 0; i < nown; i++) {
		struct pollfd *p = &fds[own[i].idx];
		uint32_t got = (uint16_t)p->revents;
		uint32_t r;

		woke |= rc > 0 && kp[n + i].revents != 0;
		r = ready_complete(own[i].s, p->fd, (uint16_t)own[i].app, got);
		p->revents = (short)((r | (uint16_t)own[i].syn) &
				     ((uint16_t)own[i].app | READY_ALWAYS | POLLNVAL));
	}
	if (rc < 0 && nsyn == 0) {
		errno = err;
		return -1;
	}
	for (nfds_t i = 0; i < n; i++) {
		if (rc < 0)
			fds[i].revents = 0;
		count += fds[i].revents != 0;
	}
	return count == 0 && woke ? READY_WOKE : count;
}

/* The fds of the program that are TLS sockets on this process's fast path,
   each with a reference, into *own (malloc'ed when large).  Returns how many. */
static size_t ready_own_collect(struct pollfd *fds, nfds_t n,
				struct ready_own *stack, size_t nstack,
				struct ready_own **own)
{
	size_t nown = 0;

	*own = stack;
	for (nfds_t i = 0; i < n; i++) {
		struct shim_sock *s = fdt_peek(fds[i].fd);
		if (s != NULL && sock_fast(s) && sock_owned(s))
			nown++;
	}
	if (nown == 0)
		return 0;
	if (nown > nstack && (*own = calloc(nown, sizeof(**own))) == NULL)
		return (size_t)-1;
	nown = 0;
	for (nfds_t i = 0; i < n; i++) {
		struct shim_sock *s = fdt_acquire(fds[i].fd);
		if (s == NULL)
			continue;
		if (!sock_fast(s) || !sock_owned(s)) {
			sock_put(s);
			continue;
		}
		(*own)[nown].idx = i;
		(*own)[nown++].s = s;
	}
	return nown;
}

static void ready_own_release(struct ready_own *own, size_t nown,
			      struct ready_own *stack)
{
	for (size_t i = 0; i < nown; i++)
		sock_put(own[i].s);
	if (own != stack)
		free(own);
}

int ready_poll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
	       const sigset_t *mask)
{
	struct ready_own stack_own[READY_STACK_OWN], *own;
	struct pollfd stack_kp[READY_STACK_OWN * 2], *kp = stack_kp;
	struct timespec deadline, *dl = NULL;
	size_t nown;
	int rc;

	if (timeout != NULL) {
		block_deadline_ms(&deadline, timeout->tv_sec * 1000 +
					     (timeout->tv_nsec + 999999) / 1000000);
		dl = &deadline;
	}
again:
	nown = ready_own_collect(fds, n, stack_own, READY_STACK_OWN, &own);
	if (nown == (size_t)-1) {
		errno = ENOMEM;
		return -1;
	}
	if (nown == 0) {
		struct timespec left, *lp = NULL;

		if (dl != NULL) {
			int ms = block_remaining_ms(dl);
			left.tv_sec = ms / 1000;
			left.tv_nsec = (ms % 1000) * 1000000L;
			lp = &left;
		}
		return real.ppoll(fds, n, lp, mask);
	}
	if (n + nown > READY_STACK_OWN * 2 &&
	    (kp = malloc((n + nown) * sizeof(*kp))) == NULL) {
		ready_own_release(own, nown, stack_own);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		rc = ready_poll_round(fds, n, kp, own, nown, ready_timeout_ms(dl),
				      mask);
		if (rc != 0 || (dl != NULL && block_expired(dl)))
			break;
	}
	ready_own_release(own, nown, stack_own);
	if (kp != stack_kp)
		free(kp);
	kp = stack_kp;
	if (rc == READY_WOKE)
		goto again;
	return rc;
}

/* ----------------------------------------------------------- select */

/* Bit access without FD_SETSIZE checks: sets may be larger (or smaller). */
static int ready_fd_isset(int fd, const fd_set *set)
{
	return set != NULL && (((const __fd_mask *)set)[fd / NFDBITS] &
			       ((__fd_mask)1 << (fd % NFDBITS))) != 0;
}

static void ready_fd_set(int fd, fd_set *set)
{
	((__fd_mask *)set)[fd / NFDBITS] |= (__fd_mask)1 << (fd % NFDBITS);
}

int ready_select_has_tls(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	for (int fd = 0; fd < nfds; fd++) {
		struct shim_sock *s;

		if (!(ready_fd_isset(fd, r) || ready_fd_isset(fd, w) ||
		      ready_fd_isset(fd, e)))
			continue;
		s = fdt_peek(fd);
		if (s != NULL && sock_fast(s))
			return 1;
	}
	return 0;
}

static void ready_fd_zero(fd_set *set, int nfds)
{
	size_t words = ((size_t)nfds + NFDBITS - 1) / NFDBITS;

	if (set != NULL)
		memset(set, 0, words * sizeof(__fd_mask));
}

static size_t ready_select_to_poll(int nfds, fd_set *r, fd_set *w, fd_set *e,
				   struct pollfd *p)
{
	size_t n = 0;

	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;

		if (ready_fd_isset(fd, r))
			ev |= POLLIN;
		if (ready_fd_isset(fd, w))
			ev |= POLLOUT;
		if (ready_fd_isset(fd, e))
			ev |= POLLPRI;
		if (ev == 0)
			continue;
		p[n].fd = fd;
		p[n].events = ev;
		p[n++].revents = 0;
	}
	return n;
}

int ready_select(int nfds, fd_set *r, fd_set *w, fd_set *e,
		 struct timespec *timeout, const sigset_t *mask,
		 int update_timeout)
{
	struct pollfd *p;
	struct timespec start;
	size_t n;
	int rc, count = 0;

	/* nfds may exceed FD_SETSIZE: the kernel takes larger sets */
	if (nfds < 0) {
		errno = EINVAL;
		return -1;
	}
	if (!ready_select_has_tls(nfds, r, w, e))
		return real.pselect(nfds, r, w, e, timeout, mask);
	p = calloc((size_t)nfds, sizeof(*p));
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n = ready_select_to_poll(nfds, r, w, e, p);
	block_now(&start);
	rc = ready_poll(p, n, timeout, mask);
	if (rc >= 0) {
		/* only the first nfds bits: programs (libevent) allocate sets
		   sized to their highest fd, smaller than an fd_set */
		ready_fd_zero(r, nfds);
		ready_fd_zero(w, nfds);
		ready_fd_zero(e, nfds);
		for (size_t i = 0; i < n; i++) {
			short ev = p[i].events, rev = p[i].revents;

			if (rev & POLLNVAL) {
				free(p);
				errno = EBADF;
				return -1;
			}
			if ((ev & POLLIN) && (rev & (POLLIN | POLLHUP | POLLERR)))
				ready_fd_set(p[i].fd, r), count++;
			if ((ev & POLLOUT) && (rev & (POLLOUT | POLLERR)))
				ready_fd_set(p[i].fd, w), count++;
			if ((ev & POLLPRI) && (rev & POLLPRI))
				ready_fd_set(p[i].fd, e), count++;
		}
		rc = count;
	}
	if (update_timeout && timeout != NULL) {
		struct timespec now;
		long long left;

		block_now(&now);
		left = (timeout->tv_sec - (now.tv_sec - start.tv_sec)) * 1000000000LL +
		       timeout->tv_nsec - (now.tv_nsec - start.tv_nsec);
		if (left < 0)
			left = 0;
		timeout->tv_sec = (time_t)(left / 1000000000LL);
		timeout->tv_nsec = (long)(left % 1000000000LL);
	}
	free(p);
	return rc;
}

/* ------------------------------------------------------------ epoll */

static size_t ready_hash_of(uint64_t v, size_t nbuckets)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v & (nbuckets - 1);
}

/* Caller holds ready_lock: re-index every registration of the set. */
static void ready_hash_rebuild(struct ready_set *set)
{
	size_t nb = 16;

	if (set == NULL)
		return;
	while (nb < set->nregs * 2)
		nb *= 2;
	if (nb != set->nbuckets) {
		struct ready_reg **h = calloc(nb, sizeof(*h));
		if (h != NULL) {
			free(set->hash);
			set->hash = h;
			set->nbuckets = nb;
		}
	}
	if (set->hash == NULL)
		return;
	memset(set->hash, 0, set->nbuckets * sizeof(*set->hash));
	for (struct ready_reg *r = set->regs; r != NULL; r = r->set_next) {
		size_t b = ready_hash_of(r->data.u64, set->nbuckets);

		if (!r->live)
			continue;
		r->hash_next = set->hash[b];
		set->hash[b] = r;
	}
}

static struct ready_reg *ready_find_data(struct ready_set *set, uint64_t data)
{
	struct ready_reg *r;

	if (set->nbuckets == 0)
		return NULL;
	for (r = set->hash[ready_hash_of(data, set->nbuckets)]; r != NULL;
	     r = r->hash_next)
		if (r->data.u64 == data)
			return r;
	return NULL;
}

static struct ready_reg *ready_find(struct shim_sock *s, int epfd, int fd)
{
	for (struct ready_reg *r = s->regs; r != NULL; r = r->sock_next)
		if (r->epfd == epfd && r->fd == fd)
			return r;
	return NULL;
}

static void ready_unlink(struct ready_reg **head, struct ready_reg *r,
			 size_t offset)
{
	for (struct ready_reg **pp = head; *pp != NULL;
	     pp = (struct ready_reg **)((char *)*pp + offset)) {
		if (*pp == r) {
			*pp = *(struct ready_reg **)((char *)r + offset);
			return;
		}
	}
}

/* Caller holds ready_lock: index r by its data. */
static void ready_hash_add(struct ready_set *set, struct ready_reg *r)
{
	size_t b;

	if (set->nbuckets < set->nregs * 2 || set->hash == NULL) {
		ready_hash_rebuild(set); /* grows, and indexes r too */
		return;
	}
	b = ready_hash_of(r->data.u64, set->nbuckets);
	r->hash_next = set->hash[b];
	set->hash[b] = r;
}

static void ready_hash_del(struct ready_set *set, struct ready_reg *r)
{
	if (set->hash == NULL)
		return;
	ready_unlink(&set->hash[ready_hash_of(r->data.u64, set->nbuckets)], r,
		     offsetof(struct ready_reg, hash_next));
}

static void ready_set_free(int epfd, struct ready_set *set)
{
	fdt_map_set(&ready_sets, epfd, NULL);
	free(set->hash);
	free(set);
}

/*
 * Caller holds ready_lock: detach r from its socket and set, free it.
 * An emptied set stays (event loops delete and add registrations all the
 * time) until its epoll fd is closed.
 */
static void ready_drop(struct ready_reg *r)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, r->epfd);

	ready_unlink(&r->sock->regs, r, offsetof(struct ready_reg, sock_next));
	if (set != NULL) {
		ready_unlink(&set->regs, r, offsetof(struct ready_reg, set_next));
		if (r->live) {
			ready_hash_del(set, r);
			set->nregs--;
		}
	}
	free(r);
}

/* Caller holds ready_lock. */
static uint32_t ready_kernel_mask(struct ready_reg *r)
{
	uint32_t want = r->app_events & ~READY_FLAGS;
	enum sock_state st = atomic_load(&r->sock->state);

	if (!sock_emulated(st) || !sock_owned(r->sock))
		return r->app_events;
	if (!r->armed)
		return READY_DISARMED;
	if (st != SOCK_READY)
		return ready_kernel_events(r->sock, want);
	return ready_kernel_events(r->sock, want) |
	       (r->app_events & (EPOLLET | EPOLLONESHOT));
}

/* Caller holds ready_lock: make the kernel registration match. */
static void ready_apply(struct ready_reg *r)
{
	uint32_t m = ready_kernel_mask(r);
	struct epoll_event ev;

	if (m == r->kernel_events)
		return;
	ev.events = m == READY_DISARMED ? EPOLLONESHOT : m;
	ev.data = r->data;
	if (r->kfd < 0)
		return;
	if (real.epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->kfd, &ev) == 0)
		r->kernel_events = m;
	else
		log_msg(SHIM_LOG_DEBUG, "epoll_ctl(MOD, fd %d): %s", r->fd,
			strerror(errno));
}

void ready_sync(struct shim_sock *s)
{
	if (s->regs == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	for (struct ready_reg *r = s->regs; r != NULL; r = r->sock_next)
		if (r->live)
			ready_apply(r);
	pthread_mutex_unlock(&ready_lock);
}

int ready_has_set(int epfd)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, epfd);

	return set != NULL && __atomic_load_n(&set->nregs, __ATOMIC_RELAXED) > 0;
}

int ready_is_epfd(int fd)
{
	return fdt_map_peek(&ready_sets, fd) != NULL;
}

static struct ready_set *ready_set_get(int epfd)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, epfd);

	if (set != NULL)
		return set;
	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return NULL;
	if (fdt_map_set(&ready_sets, epfd, set) < 0) {
		free(set);
		return NULL;
	}
	return set;
}

/*
 * EPOLL_CTL_ADD of a tracked socket.  `r` is the registration a previous
 * EPOLL_CTL_DEL left behind for this (epfd, fd), reused so that event
 * loops that add and delete all the time allocate nothing.
 */
static int ready_ctl_add(struct shim_sock *s, struct ready_reg *r, int epfd,
			 int fd, struct epoll_event *ev)
{
	struct ready_set *set = ready_set_get(epfd);
	int fresh = r == NULL;
	struct epoll_event kev;

	if (fresh)
		r = calloc(1, sizeof(*r));
	if (r == NULL || set == NULL) {
		if (fresh)
			free(r);
		return real.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev);
	}
	r->epfd = epfd;
	r->fd = fd;
	r->app_events = ev->events;
	r->data = ev->data;
	r->armed = 1;
	r->err_reported = 0;
	r->sock = s;
	r->kfd = sock_kernel_fd(s, fd);
	r->kernel_events = ready_kernel_mask(r);
	kev.events = r->kernel_events |
		     (!sock_fast(s) ? 0 : (ev->events & EPOLLEXCLUSIVE));
	kev.data = ev->data;
	if (real.epoll_ctl(epfd, EPOLL_CTL_ADD, r->kfd, &kev) < 0) {
		int err = errno;
		if (fresh)
			free(r);
		if (set->nregs == 0 && set->regs == NULL)
			ready_set_free(epfd, set);
		errno = err;
		return -1;
	}
	if (fresh) {
		r->sock_next = s->regs;
		s->regs = r;
		r->set_next = set->regs;
		set->regs = r;
	}
	r->live = 1;
	set->nregs++;
	ready_hash_add(set, r);
	return 0;
}

static int ready_ctl_mod(struct ready_reg *r, int epfd, int fd,
			 struct epoll_event *ev)
{
	struct epoll_event kev;
	int rc;

	r->app_events = ev->events;
	r->armed = 1;
	r->err_reported = 0;
	if (r->data.u64 != ev->data.u64) {
		struct ready_set *set = fdt_map_peek(&ready_sets, epfd);
		ready_hash_del(set, r);
		r->data = ev->data;
		ready_hash_add(set, r);
	}
	kev.events = ready_kernel_mask(r);
	kev.data = ev->data;
	rc = real.epoll_ctl(epfd, EPOLL_CTL_MOD, r->kfd >= 0 ? r->kfd : fd, &kev);
	if (rc == 0)
		r->kernel_events = kev.events;
	return rc;
}

/* EPOLL_CTL_DEL: the registration sleeps until the next ADD. */
static void ready_ctl_del(struct ready_reg *r)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, r->epfd);

	if (!r->live)
		return;
	r->live = 0;
	if (set != NULL) {
		ready_hash_del(set, r);
		set->nregs--;
	}
}

int ready_epoll_ctl(struct shim_sock *s, int epfd, int op, int fd,
		    struct epoll_event *ev)
{
	struct ready_reg *r;
	int rc, err;

	pthread_mutex_lock(&ready_lock);
	r = ready_find(s, epfd, fd);
	if (op == EPOLL_CTL_ADD && ev != NULL && (r == NULL || !r->live))
		rc = ready_ctl_add(s, r, epfd, fd, ev);
	else if (op == EPOLL_CTL_MOD && ev != NULL && r != NULL && r->live)
		rc = ready_ctl_mod(r, epfd, fd, ev);
	else {
		int kfd = r != NULL && r->live && r->kfd >= 0 ? r->kfd : fd;
		rc = real.epoll_ctl(epfd, op, kfd, ev);
		if (op == EPOLL_CTL_DEL && rc == 0 && r != NULL)
			ready_ctl_del(r);
	}
	err = errno;
	pthread_mutex_unlock(&ready_lock);
	errno = err;
	return rc;
}

/* Caller holds ready_lock: r goes.  The kernel forgets a registration of
   the program's own descriptor when it is closed, not one of the private
   socket's: that one is removed here. */
static void ready_unregister(struct ready_reg *r)
{
	if (r->live && r->kfd >= 0 && r->kfd != r->fd)
		real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->kfd, NULL);
	ready_drop(r);
}

void ready_fd_closed(struct shim_sock *s, int fd)
{
	struct ready_reg *r, *next;

	if (s->regs == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	for (r = s->regs; r != NULL; r = next) {
		next = r->sock_next;
		if (r->fd == fd)
			ready_unregister(r);
	}
	pthread_mutex_unlock(&ready_lock);
}

void ready_forget(struct shim_sock *s)
{
	if (s->regs == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	while (s->regs != NULL)
		ready_unregister(s->regs);
	pthread_mutex_unlock(&ready_lock);
}

void ready_detach(struct shim_sock *s)
{
	if (s->regs == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	for (struct ready_reg *r = s->regs; r != NULL; r = r->sock_next) {
		if (r->live && r->kfd >= 0)
			real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->kfd, NULL);
		r->kfd = -1;
	}
	pthread_mutex_unlock(&ready_lock);
}

/* Caller holds ready_lock: register r with the kernel on kfd. */
static void ready_register(struct ready_reg *r, int kfd)
{
	struct epoll_event ev;
	uint32_t m;

	r->kfd = kfd;
	m = ready_kernel_mask(r);
	ev.events = m == READY_DISARMED ? EPOLLONESHOT : m;
	ev.data = r->data;
	if (real.epoll_ctl(r->epfd, EPOLL_CTL_ADD, kfd, &ev) == 0) {
		r->kernel_events = m;
	} else {
		log_msg(SHIM_LOG_WARNING, "epoll_ctl(ADD, fd %d for fd %d): %s",
			kfd, r->fd, strerror(errno));
		r->kfd = -1;
	}
}

void ready_attach(struct shim_sock *s)
{
	if (s->regs == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	for (struct ready_reg *r = s->regs; r != NULL; r = r->sock_next)
		if (r->live && r->kfd < 0)
			ready_register(r, sock_kernel_fd(s, r->fd));
	pthread_mutex_unlock(&ready_lock);
}

void ready_rebind(struct shim_sock *s)
{
	if (s->regs == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	for (struct ready_reg *r = s->regs; r != NULL; r = r->sock_next) {
		int k = sock_kernel_fd(s, r->fd);

		if (!r->live || r->kfd == k)
			continue;
		if (r->kfd >= 0)
			real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->kfd, NULL);
		ready_register(r, k);
	}
	pthread_mutex_unlock(&ready_lock);
}

void ready_epfd_closed(int epfd)
{
	struct ready_set *set;

	if (fdt_map_peek(&ready_sets, epfd) == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	set = fdt_map_peek(&ready_sets, epfd);
	while (set != NULL && set->regs != NULL)
		ready_drop(set->regs);
	if (set != NULL)
		ready_set_free(epfd, set);
	pthread_mutex_unlock(&ready_lock);
}

/* ready_epoll_wait: the synthetic events of one round, under ready_lock. */
struct ready_round {
	struct epoll_event *ev;
	int max, n;
	int cap_ms;                   /* nearest handshake deadline, or -1 */
	struct shim_sock *expired[READY_MAX_EXPIRED];
	int expired_fd[READY_MAX_EXPIRED];
	int nexpired;
	struct ready_reg *synth_reg[64]; /* to merge kernel duplicates */
};

static void ready_collect(struct ready_set *set, struct ready_round *rd)
{
	for (struct ready_reg *r = set->regs; r != NULL; r = r->set_next) {
		struct shim_sock *s = r->sock;
		enum sock_state st = atomic_load(&s->state);

		if (!r->live)
			continue;
		uint32_t want = r->app_events & ~READY_FLAGS, ev;

		if (ready_is_handshaking(st)) {
			int left = block_remaining_ms(&s->hs_deadline);
			if (left == 0 && rd->nexpired < READY_MAX_EXPIRED) {
				sock_get(s);
				rd->expired_fd[rd->nexpired] = r->fd;
				rd->expired[rd->nexpired++] = s;
			}
			if (rd->cap_ms < 0 || left < rd->cap_ms)
				rd->cap_ms = left;
			continue;
		}
		if (!r->armed || rd->n >= rd->max)
			continue;
		ev = ready_synthetic(s, want);
		/* edge-triggered: an error is an edge, reported once */
		if (st == SOCK_FAILED && (r->app_events & EPOLLET)) {
			if (r->err_reported)
				continue;
			r->err_reported = 1;
		}
		/* edge-triggered readers read until EAGAIN, so buffered
		   plaintext never needs a second edge */
		if (st == SOCK_READY && (r->app_events & EPOLLET))
			continue;
		if (ev == 0)
			continue;
		if (rd->n < 64)
			rd->synth_reg[rd->n] = r;
		rd->ev[rd->n].events = ev;
		rd->ev[rd->n++].data = r->data;
		if (r->app_events & EPOLLONESHOT) {
			r->armed = 0;
			ready_apply(r);
		}
	}
}

/*
 * The common case, a connected socket with nothing of its own pending:
 * the kernel's answer is the program's, give or take buffered plaintext.
 */
static int ready_steady(struct shim_sock *s)
{
	return atomic_load_explicit(&s->state, memory_order_relaxed) == SOCK_READY &&
	       atomic_load_explicit(&s->seen_data, memory_order_relaxed) &&
	       !(atomic_load_explicit(&s->hints, memory_order_relaxed) &
		 ~SOCK_HINT_BUFFERED);
}

static uint32_t ready_steady_events(struct shim_sock *s, uint32_t want,
				    uint32_t got)
{
	uint32_t r = got & (READY_ALWAYS | (want & (EPOLLRDHUP | EPOLLPRI)));

	if ((want & EPOLLIN) &&
	    ((got & (EPOLLIN | READY_ALWAYS)) ||
	     (atomic_load_explicit(&s->hints, memory_order_relaxed) &
	      SOCK_HINT_BUFFERED)))
		r |= EPOLLIN;
	if ((want & EPOLLOUT) && (got & EPOLLOUT))
		r |= EPOLLOUT;
	return r;
}

/* Interpret one kernel event; returns 1 to keep it (rewritten in *ev). */
static int ready_translate(int epfd, struct epoll_event *ev,
			   struct ready_round *rd, int nsyn)
{
	struct ready_set *set;
	struct ready_reg *r;
	struct shim_sock *s;
	uint32_t want, out;
	int fd, oneshot;

	pthread_mutex_lock(&ready_lock);
	set = fdt_map_peek(&ready_sets, epfd);
	r = set ? ready_find_data(set, ev->data.u64) : NULL;
	if (r == NULL) {
		pthread_mutex_unlock(&ready_lock);
		return 1;
	}
	oneshot = (r->app_events & EPOLLONESHOT) &&
		  atomic_load(&r->sock->state) == SOCK_READY;
	if (!r->armed) {
		pthread_mutex_unlock(&ready_lock);
		return 0;
	}
	if (!oneshot && nsyn == 0 && ready_steady(r->sock)) {
		s = r->sock;
		want = r->app_events & ~READY_FLAGS;
		out = ready_steady_events(s, want, ev->events);
		if (!(out & EPOLLIN) || !(ev->events & EPOLLIN) ||
		    (atomic_load_explicit(&s->hints, memory_order_relaxed) &
		     SOCK_HINT_BUFFERED)) {
			pthread_mutex_unlock(&ready_lock);
			ev->events = out;
			return out != 0;
		}
		/* the kernel has bytes: readable only if they make a record */
		sock_get(s);
		fd = r->fd;
		pthread_mutex_unlock(&ready_lock);
		if (!sock_probe_readable(s, fd))
			out &= ~(uint32_t)EPOLLIN;
		sock_put(s);
		ev->events = out;
		return out != 0;
	}
	if (oneshot)
		r->kernel_events = READY_DISARMED; /* the kernel disarmed it */
	s = r->sock;
	sock_get(s);
	want = r->app_events & ~READY_FLAGS;
	fd = r->fd;
	pthread_mutex_unlock(&ready_lock);

	out = ready_complete(s, fd, want, ev->events);

	pthread_mutex_lock(&ready_lock);
	r = ready_find(s, epfd, fd);
	if (r != NULL && !r->live)
		r = NULL;
	if (r != NULL && oneshot && out != 0)
		r->armed = 0;
	if (r != NULL)
		ready_apply(r); /* re-arm if we swallowed a one-shot event */
	for (int i = 0; r != NULL && out != 0 && i < nsyn && i < 64; i++) {
		if (rd->synth_reg[i] == r) {
			rd->ev[i].events |= out;
			out = 0;
		}
	}
	pthread_mutex_unlock(&ready_lock);
	ready_sync(s);
	sock_put(s);
	ev->events = out;
	return out != 0;
}

int ready_epoll_wait(int epfd, struct epoll_event *events, int max,
		     const struct timespec *timeout, const sigset_t *mask)
{
	struct timespec deadline, *dl = NULL;
	struct ready_round rd;

	if (max <= 0) {
		errno = EINVAL;
		return -1;
	}
	if (timeout != NULL) {
		block_deadline_ms(&deadline, timeout->tv_sec * 1000 +
					     (timeout->tv_nsec + 999999) / 1000000);
		dl = &deadline;
	}
	for (;;) {
		struct ready_set *set;
		int ms, n, out;

		memset(&rd, 0, sizeof(rd));
		rd.ev = events;
		rd.max = max;
		rd.cap_ms = -1;
		pthread_mutex_lock(&ready_lock);
		set = fdt_map_peek(&ready_sets, epfd);
		if (set != NULL)
			ready_collect(set, &rd);
		pthread_mutex_unlock(&ready_lock);
		for (int i = 0; i < rd.nexpired; i++) {
			sock_step(rd.expired[i], rd.expired_fd[i]);
			sock_put(rd.expired[i]);
		}
		if (rd.nexpired > 0 && rd.n == 0)
			continue; /* they are FAILED now: report them */
		ms = ready_timeout_ms(dl);
		if (rd.n > 0)
			ms = 0;
		else if (rd.cap_ms >= 0 && (ms < 0 || rd.cap_ms < ms))
			ms = rd.cap_ms;
		n = rd.n < max ? real.epoll_pwait(epfd, events + rd.n,
						  max - rd.n, ms, mask) : 0;
		if (n < 0)
			return rd.n > 0 ? rd.n : -1;
		out = rd.n;
		for (int i = 0; i < n; i++) {
			struct epoll_event ev = events[rd.n + i];
			if (ready_translate(epfd, &ev, &rd, rd.n))
				events[out++] = ev;
		}
		if (out > 0)
			return out;
		if (dl != NULL && block_expired(dl))
			return 0;
	}
}
