/*
 * ready_timeout.c - the poll family's timeout forms, converted for the
 * readiness module (ready_timeout.h).  Conversions only: which events are
 * reported, and how long the wait really takes, are ready_poll.c's and
 * ready_epoll.c's.
 */
#include "ready_timeout.h"
#include "ready.h"
#include "real.h"
#include "deadline.h"

#include <stddef.h>

#define NS_PER_US 1000L /* timeval's microseconds */

/* A poll/epoll_wait timeout in ms as a timespec in *ts; NULL (forever)
   when negative. */
static struct timespec *ready_ms_to_ts(int ms, struct timespec *ts)
{
	if (ms < 0)
		return NULL;
	deadline_ms_to_ts(ms, ts);
	return ts;
}

int ready_poll_ms(struct pollfd *fds, nfds_t n, int ms)
{
	struct timespec ts;

	return ready_poll(fds, n, ready_ms_to_ts(ms, &ts), NULL);
}

int ready_select_tv(int nfds, fd_set *r, fd_set *w, fd_set *e,
		    struct timeval *tv)
{
	struct timespec ts, *tp = NULL;
	int rc;

	if (nfds <= 0 || !ready_select_has_tls(nfds, r, w, e))
		return real.select(nfds, r, w, e, tv);
	if (tv != NULL) {
		ts.tv_sec = tv->tv_sec;
		ts.tv_nsec = tv->tv_usec * NS_PER_US;
		tp = &ts;
	}
	rc = ready_select(nfds, r, w, e, tp, NULL, 1);
	if (tv != NULL) {
		tv->tv_sec = ts.tv_sec;
		tv->tv_usec = ts.tv_nsec / NS_PER_US;
	}
	return rc;
}

int ready_pselect_ts(int nfds, fd_set *r, fd_set *w, fd_set *e,
		     const struct timespec *timeout, const sigset_t *mask)
{
	struct timespec ts, *tp = NULL;

	if (timeout != NULL) {
		ts = *timeout; /* ready_select may count it down */
		tp = &ts;
	}
	return ready_select(nfds, r, w, e, tp, mask, 0);
}

int ready_epoll_wait_ms(int epfd, struct epoll_event *ev, int max, int ms,
			const sigset_t *mask)
{
	struct timespec ts;

	return ready_epoll_wait(epfd, ev, max, ready_ms_to_ts(ms, &ts), mask);
}

void ready_wait_start(long ms, struct timespec *t0)
{
	if (ms > 0)
		deadline_now(t0);
}

/* What is left, from now, of total_ns begun at *t0, into *left. */
static struct timespec *ready_left(long long total_ns,
				   const struct timespec *t0,
				   struct timespec *left)
{
	struct timespec now;
	long long ns;

	deadline_now(&now);
	ns = total_ns - deadline_elapsed_ns(t0, &now);
	if (ns < 0)
		ns = 0;
	left->tv_sec = (time_t)(ns / DEADLINE_NS_PER_S);
	left->tv_nsec = (long)(ns % DEADLINE_NS_PER_S);
	return left;
}

int ready_epoll_wait_left_ms(int epfd, struct epoll_event *ev, int max,
			     int ms, const sigset_t *mask,
			     const struct timespec *t0)
{
	struct timespec left;

	if (ms <= 0)
		return ready_epoll_wait_ms(epfd, ev, max, ms, mask);
	return ready_epoll_wait(epfd, ev, max,
				ready_left((long long)ms * DEADLINE_NS_PER_MS,
					   t0, &left),
				mask);
}

int ready_epoll_wait_left_ts(int epfd, struct epoll_event *ev, int max,
			     const struct timespec *timeout,
			     const sigset_t *mask, const struct timespec *t0)
{
	struct timespec left;

	if (timeout == NULL || deadline_ts_to_ms(timeout) == 0)
		return ready_epoll_wait(epfd, ev, max, timeout, mask);
	return ready_epoll_wait(epfd, ev, max,
				ready_left((long long)timeout->tv_sec *
						   DEADLINE_NS_PER_S +
						   timeout->tv_nsec,
					   t0, &left),
				mask);
}
