/*
 * ready_poll.c - readiness emulation for poll, ppoll, select and pselect.
 *
 * Nothing is remembered between calls: each call takes a snapshot of every
 * TLS socket among its fds, asks the kernel for what each one's session
 * needs (ready_mask_kernel) on its private socket, reports at once what is
 * ready without asking (buffered plaintext, a failure), waits, then lets
 * ready_complete() turn each kernel answer into the program's, looping
 * while time remains and nothing the program asked for is ready.  select
 * is poll over the set bits.
 *
 * Calls: the socket module (sock_view, references), the fd table,
 * ready_drive.c, ready_mask.c, block.c, the real ppoll/pselect.  Called by
 * hooks.c.  Thread-safety: no state of its own; every socket it looks at
 * is held by a reference for the call.
 */
#include "ready.h"
#include "ready_impl.h"
#include "block.h"
#include "fdtable.h"
#include "real.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define READY_STACK_OWN 32
#define READY_WOKE (-2) /* a socket left the fast path: start again */

/* A TLS socket among the program's fds, for one call. */
struct ready_own {
	nfds_t idx;
	int fd;                 /* the program's */
	struct shim_sock *s;
	short app;              /* the events the program asked for */
	short syn;              /* ready without asking the kernel */
	struct sock_view v;     /* this round's snapshot */
};

/* Shorten ms to the nearest handshake deadline among own[]. */
static int ready_cap_handshakes(const struct ready_own *own, size_t n, int ms)
{
	for (size_t i = 0; i < n; i++) {
		int left;

		if (!ready_mask_handshaking(own[i].v.state))
			continue;
		left = deadline_left_ms(&own[i].v.hs_deadline);
		if (ms < 0 || left < ms)
			ms = left;
	}
	return ms;
}

/* Fill kp (a copy of fds, then one entry per TLS socket) for the kernel:
   each TLS socket's entry watches its private socket for what the session
   needs; its extra entry watches the program's descriptor, which only
   becomes readable once relay.c has taken the connection over.  Returns
   how many TLS sockets have events ready without asking. */
static int ready_poll_ask(const struct pollfd *fds, nfds_t n, struct pollfd *kp,
			  struct ready_own *own, size_t nown)
{
	int nsyn = 0;

	memcpy(kp, fds, n * sizeof(*fds));
	for (size_t i = 0; i < nown; i++) {
		struct pollfd *p = &kp[own[i].idx];
		struct ready_facts f;

		own[i].app = p->events;
		own[i].fd = p->fd;
		ready_look(own[i].s, p->fd, &own[i].v, &f);
		own[i].syn = (short)ready_mask_synthetic(&f, (uint16_t)p->events);
		p->events = (short)ready_mask_kernel(&f, (uint16_t)p->events);
		p->fd = own[i].v.kernel_fd;
		kp[n + i].fd = own[i].fd;
		kp[n + i].events = POLLIN;
		kp[n + i].revents = 0;
		nsyn += own[i].syn != 0;
	}
	return nsyn;
}

/* The kernel answered rc: the program's revents.  1 if a TLS socket's
   own descriptor woke (relay.c took it over). */
static int ready_poll_answer(struct pollfd *fds, nfds_t n,
			     const struct pollfd *kp, struct ready_own *own,
			     size_t nown, int rc)
{
	int woke = 0;

	for (nfds_t i = 0; i < n; i++)
		fds[i].revents = rc > 0 ? kp[i].revents : 0;
	for (size_t i = 0; i < nown; i++) {
		struct pollfd *p = &fds[own[i].idx];
		uint32_t got = (uint16_t)p->revents;
		uint32_t r;

		woke |= rc > 0 && kp[n + i].revents != 0;
		r = ready_complete(own[i].s, p->fd, (uint16_t)own[i].app, got,
				   own[i].v.kernel_fd);
		p->revents = (short)((r | (uint16_t)own[i].syn) &
				     ((uint16_t)own[i].app | READY_ALWAYS | POLLNVAL));
	}
	return woke;
}

/* One wait, kp holding n + nown entries. */
static int ready_poll_round(struct pollfd *fds, nfds_t n, struct pollfd *kp,
			    struct ready_own *own, size_t nown, int ms,
			    const sigset_t *mask)
{
	struct timespec ts, *tp = NULL;
	int rc, err, nsyn, count = 0, woke;

	nsyn = ready_poll_ask(fds, n, kp, own, nown);
	ms = nsyn ? 0 : ready_cap_handshakes(own, nown, ms);
	if (ms >= 0) {
		deadline_ms_to_ts(ms, &ts);
		tp = &ts;
	}
	rc = real.ppoll(kp, n + nown, tp, mask);
	err = errno;
	woke = ready_poll_answer(fds, n, kp, own, nown, rc);
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

/* s (the program's fd) is a TLS socket on this process's fast path. */
static int ready_own_fast(struct shim_sock *s, int fd)
{
	struct sock_view v;

	sock_view(s, fd, &v);
	return sock_emulated(v.state) && v.owned;
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
		if (s != NULL && ready_own_fast(s, fds[i].fd))
			nown++;
		else if (s == NULL && (fds[i].events & POLLIN))
			ready_epfd_watched(fds[i].fd);
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
		if (!ready_own_fast(s, fds[i].fd)) {
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

/* No TLS socket among fds: the real call, with what is left of the time. */
static int ready_poll_plain(struct pollfd *fds, nfds_t n,
			    const struct timespec *dl, const sigset_t *mask)
{
	struct timespec left, *lp = NULL;

	if (dl != NULL) {
		deadline_ms_to_ts(deadline_left_ms(dl), &left);
		lp = &left;
	}
	return real.ppoll(fds, n, lp, mask);
}

int ready_poll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
	       const sigset_t *mask)
{
	struct ready_own stack_own[READY_STACK_OWN], *own;
	struct pollfd stack_kp[READY_STACK_OWN * 2], *kp = stack_kp;
	struct timespec deadline, *dl = ready_deadline(timeout, &deadline);
	size_t nown;
	int rc;

again:
	nown = ready_own_collect(fds, n, stack_own, READY_STACK_OWN, &own);
	if (nown == (size_t)-1) {
		errno = ENOMEM;
		return -1;
	}
	if (nown == 0)
		return ready_poll_plain(fds, n, dl, mask);
	if (n + nown > READY_STACK_OWN * 2 &&
	    (kp = malloc((n + nown) * sizeof(*kp))) == NULL) {
		ready_own_release(own, nown, stack_own);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		rc = ready_poll_round(fds, n, kp, own, nown, ready_timeout_ms(dl),
				      mask);
		if (rc != 0 || (dl != NULL && deadline_passed(dl)))
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
		if (s == NULL && ready_fd_isset(fd, r))
			ready_epfd_watched(fd);
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

/* poll's answer p[n] back into the sets: how many bits are set, or -1 with
   EBADF if one fd was not open. */
static int ready_poll_to_select(const struct pollfd *p, size_t n, int nfds,
				fd_set *r, fd_set *w, fd_set *e)
{
	int count = 0;

	/* only the first nfds bits: programs (libevent) allocate sets sized
	   to their highest fd, smaller than an fd_set */
	ready_fd_zero(r, nfds);
	ready_fd_zero(w, nfds);
	ready_fd_zero(e, nfds);
	for (size_t i = 0; i < n; i++) {
		short ev = p[i].events, rev = p[i].revents;

		if (rev & POLLNVAL) {
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
	return count;
}

int ready_select(int nfds, fd_set *r, fd_set *w, fd_set *e,
		 struct timespec *timeout, const sigset_t *mask,
		 int update_timeout)
{
	struct pollfd *p;
	struct timespec start;
	size_t n;
	int rc;

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
	deadline_now(&start);
	rc = ready_poll(p, n, timeout, mask);
	if (rc >= 0) {
		rc = ready_poll_to_select(p, n, nfds, r, w, e);
		if (rc < 0) {
			free(p);
			return -1;
		}
	}
	if (update_timeout && timeout != NULL)
		deadline_count_down(timeout, &start);
	free(p);
	return rc;
}
