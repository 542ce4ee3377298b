/*
 * deadline.c - CLOCK_MONOTONIC deadlines (see deadline.h).
 */
#include "deadline.h"

#include <limits.h>

void deadline_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

long long deadline_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * DEADLINE_MS_PER_S +
	       ts.tv_nsec / DEADLINE_NS_PER_MS;
}

void deadline_add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / DEADLINE_MS_PER_S;
	ts->tv_nsec += (ms % DEADLINE_MS_PER_S) * DEADLINE_NS_PER_MS;
	if (ts->tv_nsec >= DEADLINE_NS_PER_S) {
		ts->tv_sec++;
		ts->tv_nsec -= DEADLINE_NS_PER_S;
	}
}

void deadline_ms_to_ts(long ms, struct timespec *ts)
{
	ts->tv_sec = ms / DEADLINE_MS_PER_S;
	ts->tv_nsec = (ms % DEADLINE_MS_PER_S) * DEADLINE_NS_PER_MS;
}

long deadline_ts_to_ms(const struct timespec *ts)
{
	if (ts->tv_sec < 0 || (ts->tv_sec == 0 && ts->tv_nsec <= 0))
		return 0;
	return (long)ts->tv_sec * DEADLINE_MS_PER_S +
	       (ts->tv_nsec + DEADLINE_NS_PER_MS - 1) / DEADLINE_NS_PER_MS;
}

void deadline_count_down(struct timespec *timeout,
			 const struct timespec *start)
{
	struct timespec now;
	long long left;

	deadline_now(&now);
	left = (long long)timeout->tv_sec * DEADLINE_NS_PER_S +
	       timeout->tv_nsec - deadline_elapsed_ns(start, &now);
	if (left < 0)
		left = 0;
	timeout->tv_sec = (time_t)(left / DEADLINE_NS_PER_S);
	timeout->tv_nsec = (long)(left % DEADLINE_NS_PER_S);
}

void deadline_in_ms(struct timespec *out, long ms)
{
	deadline_now(out);
	deadline_add_ms(out, ms);
}

int deadline_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

long long deadline_elapsed_ns(const struct timespec *from,
			      const struct timespec *to)
{
	return (long long)(to->tv_sec - from->tv_sec) * DEADLINE_NS_PER_S +
	       (to->tv_nsec - from->tv_nsec);
}

int deadline_left_ms_at(const struct timespec *deadline,
			const struct timespec *now)
{
	long long s = (long long)deadline->tv_sec - now->tv_sec;
	long long ns, ms;

	/* far off (a socket timeout of years): no nanosecond overflow */
	if (s > INT_MAX / DEADLINE_MS_PER_S)
		return INT_MAX;
	if (s < -1)
		return 0;
	ns = deadline_elapsed_ns(now, deadline);
	if (ns <= 0)
		return 0;
	ms = (ns + DEADLINE_NS_PER_MS - 1) / DEADLINE_NS_PER_MS;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int deadline_left_ms(const struct timespec *deadline)
{
	struct timespec now;

	deadline_now(&now);
	return deadline_left_ms_at(deadline, &now);
}

int deadline_passed(const struct timespec *deadline)
{
	struct timespec now;

	deadline_now(&now);
	return deadline_cmp(&now, deadline) >= 0;
}
