/*
 * test_refusal.c - the one table of refusals (sock_refusal.c): every
 * reason gives the program an errno the real call could return, the one
 * the never-plaintext tests and the README promise; every log line is a
 * format the refusal can fill safely (at most two %s, subject first, no
 * other conversion), since sock_refuse() hands it to printf.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sock_policy.h"

static void test_errnos(void **state)
{
	static const struct { enum sock_refusal why; int err; } want[] = {
		{ SOCK_REFUSE_FASTOPEN, EOPNOTSUPP },
		{ SOCK_REFUSE_UNTRACKABLE, EOPNOTSUPP },
		{ SOCK_REFUSE_NO_ENGINE, EACCES },
		{ SOCK_REFUSE_BY_ENGINE, EACCES },
		{ SOCK_REFUSE_OTHERS_NAME, EACCES },
		{ SOCK_REFUSE_LOADING, EAGAIN },
		{ SOCK_REFUSE_VFORK, EACCES },
		{ SOCK_REFUSE_INHERITED_READ, ENOTCONN },
		{ SOCK_REFUSE_INHERITED_WRITE, EPIPE },
		{ SOCK_REFUSE_OVER_PRIVATE, EBUSY },
		{ SOCK_REFUSE_CLOSE_PRIVATE, EBADF },
		{ SOCK_REFUSE_ANCILLARY, EOPNOTSUPP },
		{ SOCK_REFUSE_OFFSET, ESPIPE },
		{ SOCK_REFUSE_SUPERVISOR_PASSED, EACCES },
	};

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), SOCK_REFUSE_COUNT);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(sock_refusal_errno(want[i].why), want[i].err);
	/* out of range: refused all the same */
	assert_int_equal(sock_refusal_errno(SOCK_REFUSE_COUNT), EACCES);
	assert_null(sock_refusal_line(SOCK_REFUSE_COUNT));
}

/* Conversions in a line: each "%s" counted, "%%" skipped, anything else
   makes it unsafe (-1). */
static int count_strings(const char *line)
{
	int n = 0;

	for (const char *p = line; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] == '%')
			continue;
		if (p[1] != 's')
			return -1;
		n++;
	}
	return n;
}

static void test_lines_are_safe_formats(void **state)
{
	(void)state;
	for (int why = 0; why < SOCK_REFUSE_COUNT; why++) {
		const char *line = sock_refusal_line((enum sock_refusal)why);
		int n;

		if (line == NULL)
			continue;
		n = count_strings(line);
		assert_true(n >= 1 && n <= 2);
		/* the subject leads: "LABEL: ..." or "fd 5: ..." */
		assert_int_equal(strncmp(line, "%s: ", 4), 0);
	}
}

/* What a user reads: the endpoint, what was refused and why. */
static void test_lines_read_well(void **state)
{
	char out[512];

	(void)state;
	snprintf(out, sizeof(out), sock_refusal_line(SOCK_REFUSE_OTHERS_NAME),
		 "10.0.0.1:6379", "evil.test");
	assert_non_null(strstr(out, "10.0.0.1:6379: refused: another thread "
				    "resolved 'evil.test'"));
	snprintf(out, sizeof(out), sock_refusal_line(SOCK_REFUSE_FASTOPEN),
		 "redis.test:6379", "");
	assert_non_null(strstr(out, "redis.test:6379: TCP Fast Open"));
	assert_non_null(strstr(out, "; refused"));
	snprintf(out, sizeof(out), sock_refusal_line(SOCK_REFUSE_OVER_PRIVATE),
		 "dup2(5, 1023)", "1023");
	assert_string_equal(out, "dup2(5, 1023): 1023 is a private descriptor "
				 "of a TLS connection; refused");
	assert_null(sock_refusal_line(SOCK_REFUSE_OFFSET));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errnos),
		cmocka_unit_test(test_lines_are_safe_formats),
		cmocka_unit_test(test_lines_read_well),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
