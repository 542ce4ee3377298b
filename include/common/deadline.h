/*
 * deadline.h - deadlines and elapsed time on CLOCK_MONOTONIC: now + a
 * timeout, what is left of it, whether it has passed.  The one home of
 * timespec arithmetic for the switchboard's waits, the engine and
 * redis-tls-ctl.
 *
 * Linked into both libraries and the tool, so libc only.  No state; safe
 * from any thread and from inside the hooks.  The *_at forms take "now"
 * from the caller, so they are pure (tests/unit/test_deadline.c).
 */
#ifndef SHIM_DEADLINE_H
#define SHIM_DEADLINE_H

#include <time.h>

#define DEADLINE_MS_PER_S 1000L
#define DEADLINE_US_PER_MS 1000L
#define DEADLINE_NS_PER_MS 1000000L
#define DEADLINE_NS_PER_S 1000000000L

/* deadline_now - CLOCK_MONOTONIC now into *ts. */
void deadline_now(struct timespec *ts);

/* deadline_coarse_ms - CLOCK_MONOTONIC_COARSE in milliseconds: the cheap
   clock, for rate limits on hot paths (a tick's precision). */
long long deadline_coarse_ms(void);

/* deadline_add_ms - *ts + ms (ms >= 0), kept normalised (tv_nsec below a
   second). */
void deadline_add_ms(struct timespec *ts, long ms);

/* deadline_ms_to_ts - a duration of ms (>= 0) as a timespec. */
void deadline_ms_to_ts(long ms, struct timespec *ts);

/* deadline_ts_to_ms - a duration as milliseconds, rounded up (a wait of
   that long never ends early); negative durations are 0. */
long deadline_ts_to_ms(const struct timespec *ts);

/* deadline_in_ms - now + ms into *out. */
void deadline_in_ms(struct timespec *out, long ms);

/* deadline_cmp - <0, 0 or >0 as a is before, equal to or after b. */
int deadline_cmp(const struct timespec *a, const struct timespec *b);

/* deadline_left_ms_at - milliseconds from `now` to `deadline`, rounded
   up (a wait of that long never ends early), 0 once passed, at most
   INT_MAX. */
int deadline_left_ms_at(const struct timespec *deadline,
			const struct timespec *now);

/* deadline_left_ms - deadline_left_ms_at from now. */
int deadline_left_ms(const struct timespec *deadline);

/* deadline_passed - 1 if now is at or after `deadline`, else 0. */
int deadline_passed(const struct timespec *deadline);

/* deadline_elapsed_ns - nanoseconds from `from` to `to` (negative if `to`
   is earlier). */
long long deadline_elapsed_ns(const struct timespec *from,
			      const struct timespec *to);

/* deadline_count_down - *timeout less the time since `start` (0 at the
   least): what Linux select() writes back. */
void deadline_count_down(struct timespec *timeout,
			 const struct timespec *start);

#endif
