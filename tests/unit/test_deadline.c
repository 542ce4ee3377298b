/*
 * test_deadline.c - deadline arithmetic: adding milliseconds across a
 * second, ordering, what is left (rounded up, never negative, capped),
 * elapsed time, and the clock-reading forms against the clock.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "deadline.h"

static struct timespec ts(time_t s, long ns)
{
	return (struct timespec){ .tv_sec = s, .tv_nsec = ns };
}

static void test_add_ms_carries(void **state)
{
	struct timespec t = ts(10, 999000000L);

	(void)state;
	deadline_add_ms(&t, 1);
	assert_int_equal(t.tv_sec, 11);
	assert_int_equal(t.tv_nsec, 0);
	t = ts(10, 500000000L);
	deadline_add_ms(&t, 2750);
	assert_int_equal(t.tv_sec, 13);
	assert_int_equal(t.tv_nsec, 250000000L);
	t = ts(3, 0);
	deadline_add_ms(&t, 0);
	assert_int_equal(t.tv_sec, 3);
	assert_int_equal(t.tv_nsec, 0);
}

static void test_cmp(void **state)
{
	struct timespec a = ts(5, 100), b = ts(5, 200), c = ts(6, 0);

	(void)state;
	assert_true(deadline_cmp(&a, &b) < 0);
	assert_true(deadline_cmp(&b, &a) > 0);
	assert_true(deadline_cmp(&b, &c) < 0);
	assert_int_equal(deadline_cmp(&a, &a), 0);
}

static void test_left_rounds_up(void **state)
{
	struct timespec now = ts(100, 0);
	struct timespec d;

	(void)state;
	d = ts(100, 1);
	assert_int_equal(deadline_left_ms_at(&d, &now), 1);
	d = ts(100, 1000000L);
	assert_int_equal(deadline_left_ms_at(&d, &now), 1);
	d = ts(100, 1000001L);
	assert_int_equal(deadline_left_ms_at(&d, &now), 2);
	now = ts(99, 900000000L); /* across a second */
	d = ts(100, 500000L);
	assert_int_equal(deadline_left_ms_at(&d, &now), 101);
}

static void test_left_passed_and_far(void **state)
{
	struct timespec now = ts(100, 500);
	struct timespec d;

	(void)state;
	d = now;
	assert_int_equal(deadline_left_ms_at(&d, &now), 0);
	d = ts(99, 999999999L);
	assert_int_equal(deadline_left_ms_at(&d, &now), 0);
	d = ts(1, 0);
	assert_int_equal(deadline_left_ms_at(&d, &now), 0);
	d = ts(100 + 3000000, 0); /* 35 days: more ms than an int holds */
	assert_int_equal(deadline_left_ms_at(&d, &now), INT_MAX);
	d = ts((time_t)1 << 40, 0);
	assert_int_equal(deadline_left_ms_at(&d, &now), INT_MAX);
}

static void test_elapsed(void **state)
{
	struct timespec a = ts(7, 900000000L), b = ts(9, 100000000L);

	(void)state;
	assert_int_equal(deadline_elapsed_ns(&a, &b), 1200000000LL);
	assert_int_equal(deadline_elapsed_ns(&b, &a), -1200000000LL);
}

/* Durations both ways: ms to a timespec exactly, a timespec to ms rounded
   up (a poll of that many ms never ends before the pselect would). */
static void test_duration_forms(void **state)
{
	struct timespec ts;

	deadline_ms_to_ts(2500, &ts);
	assert_int_equal(ts.tv_sec, 2);
	assert_int_equal(ts.tv_nsec, 500000000L);
	deadline_ms_to_ts(0, &ts);
	assert_true(ts.tv_sec == 0 && ts.tv_nsec == 0);
	assert_int_equal(deadline_ts_to_ms(&(struct timespec){ 1, 1 }), 1001);
	assert_int_equal(deadline_ts_to_ms(&(struct timespec){ 0, 999999 }), 1);
	assert_int_equal(deadline_ts_to_ms(&(struct timespec){ 3, 0 }), 3000);
	assert_int_equal(deadline_ts_to_ms(&(struct timespec){ 0, 0 }), 0);
	assert_int_equal(deadline_ts_to_ms(&(struct timespec){ -1, 5 }), 0);
}

/* select's write-back: the time left, never negative, normalised. */
static void test_count_down(void **state)
{
	struct timespec start, t = { 5, 0 };

	deadline_now(&start);
	start.tv_sec -= 2; /* two seconds ago */
	deadline_count_down(&t, &start);
	assert_true(t.tv_sec == 2 || (t.tv_sec == 3 && t.tv_nsec == 0));
	assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
	t = (struct timespec){ 1, 0 };
	deadline_count_down(&t, &start);
	assert_true(t.tv_sec == 0 && t.tv_nsec == 0);
}

static void test_clock_forms(void **state)
{
	struct timespec d, past, start;
	long long coarse;

	(void)state;
	deadline_now(&start);
	deadline_in_ms(&d, 60000);
	assert_false(deadline_passed(&d));
	assert_in_range(deadline_left_ms(&d), 59000, 60000);
	past = start;
	assert_true(deadline_passed(&past));
	assert_int_equal(deadline_left_ms(&past), 0);
	/* the coarse clock is the same clock, a tick behind at most */
	coarse = deadline_coarse_ms() - (long long)start.tv_sec * 1000;
	assert_true(coarse > -1000 && coarse < 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_ms_carries),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_left_rounds_up),
		cmocka_unit_test(test_left_passed_and_far),
		cmocka_unit_test(test_elapsed),
		cmocka_unit_test(test_duration_forms),
		cmocka_unit_test(test_count_down),
		cmocka_unit_test(test_clock_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
