/*
 * test_log_level.c - the one table of log level names: every name both
 * ways, any case, the order the configuration's message lists, and what
 * is not a level.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log_level.h"

static void test_names_round_trip(void **state)
{
	static const struct {
		const char *name;
		enum shim_log_level level;
	} cases[] = {
		{ "debug", SHIM_LOG_DEBUG },	 { "info", SHIM_LOG_INFO },
		{ "notice", SHIM_LOG_NOTICE },	 { "warning", SHIM_LOG_WARNING },
		{ "error", SHIM_LOG_ERROR },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(log_level_parse(cases[i].name),
				 cases[i].level);
		assert_string_equal(log_level_name(cases[i].level),
				    cases[i].name);
	}
}

static void test_any_case(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("DEBUG"), SHIM_LOG_DEBUG);
	assert_int_equal(log_level_parse("Warning"), SHIM_LOG_WARNING);
	assert_int_equal(log_level_parse("eRRoR"), SHIM_LOG_ERROR);
}

static void test_not_levels(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse(NULL), -1);
	assert_int_equal(log_level_parse(""), -1);
	assert_int_equal(log_level_parse("warn"), -1);
	assert_int_equal(log_level_parse("errors"), -1);
	assert_int_equal(log_level_parse(" info"), -1);
	assert_int_equal(log_level_parse("crit"), -1);
	assert_string_equal(log_level_name(-1), "?");
	assert_string_equal(log_level_name(SHIM_LOG_ERROR + 1), "?");
}

/* The list the configuration's error message quotes is the table. */
static void test_choices_match_table(void **state)
{
	char list[128] = "";
	size_t n = 0;

	(void)state;
	for (int l = SHIM_LOG_DEBUG; l <= SHIM_LOG_ERROR; l++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				      l ? ", " : "", log_level_name(l));
	assert_string_equal(list, LOG_LEVEL_CHOICES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_any_case),
		cmocka_unit_test(test_not_levels),
		cmocka_unit_test(test_choices_match_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
