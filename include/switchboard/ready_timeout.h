/*
 * ready_timeout.h - the poll family's timeout forms (milliseconds, select's
 * struct timeval that is written back, pselect's const timespec) turned
 * into the one form the readiness module takes (ready.h): a timespec the
 * wait may update, NULL for none.  For programs that have tracked sockets;
 * same contracts as the real calls.  No state; thread-safe as ready.h is.
 */
#ifndef SHIM_READY_TIMEOUT_H
#define SHIM_READY_TIMEOUT_H

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

/* poll: ms < 0 waits forever. */
int ready_poll_ms(struct pollfd *fds, nfds_t n, int ms);

/* select: the real select when no TLS socket is in the sets (it writes
   the unslept time back itself); else emulated, with the unslept time
   written back to *tv the same way. */
int ready_select_tv(int nfds, fd_set *r, fd_set *w, fd_set *e,
		    struct timeval *tv);

/* pselect: the timeout is the program's, read only. */
int ready_pselect_ts(int nfds, fd_set *r, fd_set *w, fd_set *e,
		     const struct timespec *timeout, const sigset_t *mask);

/* epoll_wait / epoll_pwait (mask NULL: none): ms < 0 waits forever. */
int ready_epoll_wait_ms(int epfd, struct epoll_event *ev, int max, int ms,
			const sigset_t *mask);

/* ready_wait_start - the start of a wait with a timeout (ms > 0, or a
   timespec's): CLOCK_MONOTONIC into *t0 (ready_epoll_wait_left's); a
   wait without one (ms <= 0) reads no clock. */
void ready_wait_start(long ms, struct timespec *t0);

/* ready_epoll_wait_left_ms, _ts - a wait begun at t0 (ready_wait_start)
   whose bypassing round brought the shim's events only (READY_AGAIN),
   again through the shim for what is left of its timeout: ms (< 0:
   forever), or *timeout (NULL: forever). */
int ready_epoll_wait_left_ms(int epfd, struct epoll_event *ev, int max,
			     int ms, const sigset_t *mask,
			     const struct timespec *t0);
int ready_epoll_wait_left_ts(int epfd, struct epoll_event *ev, int max,
			     const struct timespec *timeout,
			     const sigset_t *mask, const struct timespec *t0);

#endif
