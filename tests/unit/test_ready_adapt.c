/*
 * test_ready_adapt.c - which way a program's EPOLL_CTL_DEL of a private
 * socket goes (ready_adapt.c).  A user notices the CPU each request costs:
 * where deleting the registration in the kernel costs less (a VM whose
 * tick is dear), the shim must end up passing deletions on; where the
 * saved system calls win, keeping them; a way given in
 * REDIS_TLS_EPOLL_DELETE is never left; and a way that stops winning is
 * left at the next measurement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ready_adapt.h"

/* The machine: a window in way w costs cost[w] ns of CPU. */
struct machine {
	int64_t now;
	int64_t cost[2];
	unsigned windows[2]; /* windows spent in each way */
};

/* n windows on m, from way (the way in force); the way in force after. */
static enum ready_del_way run(struct ready_adapt *a, struct machine *m,
			      enum ready_del_way way, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		m->now += m->cost[way];
		m->windows[way]++;
		way = ready_adapt_window(a, m->now);
	}
	return way;
}

static void test_fixed_ways_never_change(void **state)
{
	struct ready_adapt a;
	struct machine m = { .now = 1000, .cost = { 900, 100 } };

	(void)state;
	ready_adapt_init(&a, 1, READY_DEL_KEEP);
	assert_int_equal(run(&a, &m, READY_DEL_KEEP, 5000), READY_DEL_KEEP);
	assert_int_equal(m.windows[READY_DEL_PASS], 0);
	m = (struct machine){ .now = 1000, .cost = { 100, 900 } };
	ready_adapt_init(&a, 1, READY_DEL_PASS);
	assert_int_equal(run(&a, &m, READY_DEL_PASS, 5000), READY_DEL_PASS);
	assert_int_equal(m.windows[READY_DEL_KEEP], 0);
}

static void test_no_clock_keeps(void **state)
{
	struct ready_adapt a;

	(void)state;
	ready_adapt_init(&a, 0, READY_DEL_KEEP);
	assert_int_equal(ready_adapt_window(&a, -1), READY_DEL_KEEP);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ready_adapt_window(&a, 1000 + i), READY_DEL_KEEP);
	assert_int_equal(a.fixed, 1);
}

/* The first measurement: after the warm-up window, PAIRS windows of each
   way alternated, then the cheaper. */
static void test_measures_then_takes_the_cheaper(void **state)
{
	struct ready_adapt a;
	struct machine m = { .now = 5, .cost = { 2000, 1000 } };
	enum ready_del_way w;

	(void)state;
	ready_adapt_init(&a, 0, READY_DEL_KEEP);
	w = a.way;
	assert_int_equal(w, READY_DEL_KEEP);
	w = run(&a, &m, w, 1); /* the warm-up */
	assert_int_equal(w, READY_DEL_KEEP);
	for (int i = 0; i < 2 * READY_ADAPT_PAIRS - 1; i++) {
		w = run(&a, &m, w, 1);
		assert_int_equal(w, i % 2 == 0 ? READY_DEL_PASS : READY_DEL_KEEP);
	}
	w = run(&a, &m, w, 1);
	assert_int_equal(w, READY_DEL_PASS); /* chosen */
	assert_int_equal(a.measuring, 0);
	assert_int_equal(a.left, READY_ADAPT_EXPLOIT_MIN);
	assert_true(a.last_ns[READY_DEL_KEEP] == 2000);
	assert_true(a.last_ns[READY_DEL_PASS] == 1000);
	/* it stays there for the phase */
	w = run(&a, &m, w, READY_ADAPT_EXPLOIT_MIN - 1);
	assert_int_equal(w, READY_DEL_PASS);
	assert_int_equal(a.measuring, 0);
	/* then measures again, the way not in force first */
	w = run(&a, &m, w, 1);
	assert_int_equal(w, READY_DEL_KEEP);
	assert_int_equal(a.measuring, 1);
}

/* Over a long run nearly every window is in the cheaper way, whichever it
   is; the phases grow while measurements agree. */
static void test_long_run_mostly_cheaper(void **state)
{
	for (int cheap = 0; cheap < 2; cheap++) {
		struct ready_adapt a;
		struct machine m = { .now = 1 };
		enum ready_del_way w;
		unsigned total = 20000;

		(void)state;
		m.cost[cheap] = 1000;
		m.cost[!cheap] = 1500;
		ready_adapt_init(&a, 0, READY_DEL_KEEP);
		w = run(&a, &m, a.way, total);
		assert_int_equal(w == (enum ready_del_way)cheap || a.measuring, 1);
		/* at most PAIRS windows in the dearer way per measurement,
		   and the phases between reach READY_ADAPT_EXPLOIT_MAX */
		assert_true(m.windows[!cheap] * 100 < total * 3);
		assert_int_equal(a.exploit, READY_ADAPT_EXPLOIT_MAX);
	}
}

/* Within the margin, the way of fewer system calls. */
static void test_close_costs_keep(void **state)
{
	struct ready_adapt a;
	struct machine m = { .now = 1, .cost = { 1000, 970 } };
	enum ready_del_way w;

	(void)state;
	ready_adapt_init(&a, 0, READY_DEL_KEEP);
	w = run(&a, &m, a.way, 1 + 2 * READY_ADAPT_PAIRS);
	assert_int_equal(w, READY_DEL_KEEP);
	assert_int_equal(a.measuring, 0);
}

/* The machine changes (another tenant, a tick that became cheap): the
   next measurement leaves the way, and the phase starts short again. */
static void test_follows_a_change(void **state)
{
	struct ready_adapt a;
	struct machine m = { .now = 1, .cost = { 2000, 1000 } };
	enum ready_del_way w;

	(void)state;
	ready_adapt_init(&a, 0, READY_DEL_KEEP);
	w = run(&a, &m, a.way, 3000);
	assert_int_equal(a.chosen, READY_DEL_PASS);
	m.cost[READY_DEL_KEEP] = 500;
	/* at the latest after the phase under way and one measurement */
	for (unsigned i = 0; a.chosen != READY_DEL_KEEP; i++) {
		assert_true(i <= READY_ADAPT_EXPLOIT_MAX + 2 * READY_ADAPT_PAIRS);
		w = run(&a, &m, w, 1);
	}
	assert_int_equal(w, READY_DEL_KEEP);
	assert_int_equal(a.exploit, READY_ADAPT_EXPLOIT_MIN);
}

/* A clock that went backwards (it cannot, but) counts no cost. */
static void test_backwards_clock(void **state)
{
	struct ready_adapt a;

	(void)state;
	ready_adapt_init(&a, 0, READY_DEL_KEEP);
	(void)ready_adapt_window(&a, 1000000);
	(void)ready_adapt_window(&a, 10); /* KEEP window: backwards */
	assert_int_equal(a.nwin[READY_DEL_KEEP], 1);
	assert_true(a.win_ns[READY_DEL_KEEP][0] == 0);
}

/* One window of the dearer way that met a burst of other work does not
   make it look cheaper: the median of each way's windows is compared. */
static void test_one_outlier_does_not_decide(void **state)
{
	struct ready_adapt a;
	int64_t now = 1;
	/* KEEP cheaper (1000 against 1500), but one KEEP window costs 50000 */
	const int64_t keep[READY_ADAPT_PAIRS] = { 1000, 50000, 1000 };
	enum ready_del_way w;
	unsigned k = 0;

	(void)state;
	ready_adapt_init(&a, 0, READY_DEL_KEEP);
	w = ready_adapt_window(&a, now); /* warm-up over */
	for (int i = 0; i < 2 * READY_ADAPT_PAIRS; i++) {
		now += w == READY_DEL_KEEP ? keep[k++] : 1500;
		w = ready_adapt_window(&a, now);
	}
	assert_int_equal(a.measuring, 0);
	assert_int_equal(w, READY_DEL_KEEP);
	assert_true(a.last_ns[READY_DEL_KEEP] == 1000);
}

/* A fork child's CPU clock starts again near 0: the window under way is
   not counted (a cost of 0 would make its way look free), and a
   measurement under way starts again. */
static void test_forked(void **state)
{
	struct ready_adapt a;
	struct machine m = { .now = 1000000, .cost = { 1000, 1500 } };
	enum ready_del_way w;

	(void)state;
	ready_adapt_init(&a, 0, READY_DEL_KEEP);
	w = run(&a, &m, a.way, 3); /* warm-up and two measured windows */
	assert_int_equal(a.measuring, 1);
	ready_adapt_forked(&a);
	assert_int_equal(a.nwin[0] + a.nwin[1], 0);
	m.now = 10; /* the child's clock */
	w = run(&a, &m, w, 1);
	assert_int_equal(a.nwin[0] + a.nwin[1], 0);
	w = run(&a, &m, w, 2 * READY_ADAPT_PAIRS);
	assert_int_equal(a.measuring, 0);
	assert_int_equal(w, READY_DEL_KEEP);
	assert_true(a.last_ns[READY_DEL_KEEP] == 1000);
	assert_true(a.last_ns[READY_DEL_PASS] == 1500);
}

static void test_parse(void **state)
{
	enum ready_del_way way;
	int fixed;

	(void)state;
	assert_int_equal(ready_adapt_parse(NULL, &fixed, &way), 0);
	assert_int_equal(fixed, 0);
	assert_int_equal(ready_adapt_parse("", &fixed, &way), 0);
	assert_int_equal(fixed, 0);
	assert_int_equal(ready_adapt_parse("auto", &fixed, &way), 0);
	assert_int_equal(fixed, 0);
	assert_int_equal(ready_adapt_parse("keep", &fixed, &way), 0);
	assert_int_equal(fixed, 1);
	assert_int_equal(way, READY_DEL_KEEP);
	assert_int_equal(ready_adapt_parse("pass", &fixed, &way), 0);
	assert_int_equal(fixed, 1);
	assert_int_equal(way, READY_DEL_PASS);
	assert_int_equal(ready_adapt_parse("Pass", &fixed, &way), -1);
	assert_int_equal(fixed, 0);
	assert_int_equal(ready_adapt_parse("passs", &fixed, &way), -1);
	assert_int_equal(ready_adapt_parse("1", &fixed, &way), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_ways_never_change),
		cmocka_unit_test(test_no_clock_keeps),
		cmocka_unit_test(test_measures_then_takes_the_cheaper),
		cmocka_unit_test(test_long_run_mostly_cheaper),
		cmocka_unit_test(test_close_costs_keep),
		cmocka_unit_test(test_follows_a_change),
		cmocka_unit_test(test_backwards_clock),
		cmocka_unit_test(test_one_outlier_does_not_decide),
		cmocka_unit_test(test_forked),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
