/*
 * test_sup_pending.c - the supervisor's table of non-blocking connects
 * (tools/sup_pending.c): a running one stays until done, a failure is
 * reported once, the table evicts the oldest failure the program never
 * asked about and refuses (so the caller answers the connect the blocking
 * way) only when full of running ones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "supervise.h"

#define TABLE 256 /* SUP_PENDING_MAX */

static void test_connecting_then_done(void **state)
{
	int err = -1;

	(void)state;
	assert_int_equal(sup_pending_set(11, SUP_P_CONNECTING, 0), 0);
	assert_int_equal(sup_pending_peek(11), SUP_P_CONNECTING);
	assert_int_equal(sup_pending_get(11, &err), SUP_P_CONNECTING);
	assert_int_equal(sup_pending_get(11, &err), SUP_P_CONNECTING); /* kept */
	assert_int_equal(sup_pending_set(11, SUP_P_FREE, 0), 0);
	assert_int_equal(sup_pending_peek(11), SUP_P_FREE);
	assert_int_equal(sup_pending_set(11, SUP_P_FREE, 0), 0); /* twice: fine */
	assert_int_equal(sup_pending_peek(12), SUP_P_FREE);
}

static void test_failure_once(void **state)
{
	int err = 0;

	(void)state;
	assert_int_equal(sup_pending_set(21, SUP_P_CONNECTING, 0), 0);
	assert_int_equal(sup_pending_set(21, SUP_P_FAILED, EACCES), 0);
	assert_int_equal(sup_pending_peek(21), SUP_P_FAILED);
	assert_int_equal(sup_pending_get(21, &err), SUP_P_FAILED);
	assert_int_equal(err, EACCES);
	assert_int_equal(sup_pending_get(21, &err), SUP_P_FREE);
}

static void test_full(void **state)
{
	int err = 0;

	(void)state;
	/* full of failures nobody asked about: the oldest goes */
	for (int i = 0; i < TABLE; i++)
		assert_int_equal(sup_pending_set(1000 + i, SUP_P_FAILED, i + 1), 0);
	assert_int_equal(sup_pending_set(5000, SUP_P_CONNECTING, 0), 0);
	assert_int_equal(sup_pending_peek(1000), SUP_P_FREE);
	assert_int_equal(sup_pending_get(1001, &err), SUP_P_FAILED);
	assert_int_equal(err, 2);
	/* full of running connects: refused, and nothing running is lost */
	for (int i = 0; i < TABLE; i++)
		sup_pending_set(2000 + i, SUP_P_CONNECTING, 0);
	assert_int_equal(sup_pending_set(9999, SUP_P_CONNECTING, 0), -1);
	assert_int_equal(sup_pending_peek(9999), SUP_P_FREE);
	assert_int_equal(sup_pending_peek(5000), SUP_P_CONNECTING);
	assert_int_equal(sup_pending_set(9999, SUP_P_FREE, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connecting_then_done),
		cmocka_unit_test(test_failure_once),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
