/*
 * test_check_cache.c - redis-tls-run's remembered verdicts
 * (tools/check_cache.c): a record holds while nothing it rests on
 * changes, and only then: a file touched, a variable or the working
 * directory changed, its end passed, a record or folder others could
 * write, and nothing is remembered of files that changed during the
 * check, with REDIS_TLS_RUN_CHECK_CACHE=0 or a passphrase in a variable.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "check_cache.h"

static char dir[64];
static char file[128];
static char path[CHECK_CACHE_PATH_MAX];

static void put(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A check that "started" two seconds from now: the test's files are
   older than its one-second margin. */
static struct timespec later(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 2;
	return t;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-check-cache.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(file, sizeof(file), "%s/client.crt", dir);
	put(file, "certificate\n");
	setenv("XDG_RUNTIME_DIR", dir, 1);
	setenv("REDIS_TLS_ENDPOINTS", "127.0.0.1:6380", 1);
	unsetenv("REDIS_TLS_SNI");
	unsetenv("REDIS_TLS_RUN_CHECK_CACHE");
	unsetenv("REDIS_TLS_KEY_PASSPHRASE_ENV");
	return check_cache_path(path, sizeof(path), 1);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void remember(void)
{
	const char *files[] = { file, NULL };
	struct timespec t = later();

	assert_int_equal(check_cache_write(path, &t, time(NULL) + 30, files, 2), 0);
}

static void test_private_folder(void **state)
{
	char folder[128];
	struct stat st;

	(void)state;
	snprintf(folder, sizeof(folder), "%s/redis-tls-shim/", dir);
	assert_int_equal(strncmp(path, folder, strlen(folder)), 0);
	assert_int_equal(strlen(path), strlen(folder) + 16);
	folder[strlen(folder) - 1] = '\0';
	assert_int_equal(stat(folder, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	remember();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_holds_until_a_file_changes(void **state)
{
	(void)state;
	assert_int_equal(check_cache_hit(path), 0); /* nothing yet */
	remember();
	assert_int_equal(check_cache_hit(path), 1);
	assert_int_equal(check_cache_hit(path), 1);
	put(file, "another certificate\n");
	assert_int_equal(check_cache_hit(path), 0);
}

static void test_same_size_rewrite_is_seen(void **state)
{
	(void)state;
	remember();
	/* a later clock tick (a real check only records files a second
	   older than itself) */
	usleep(20000);
	put(file, "CERTIFICATE\n"); /* same size, same inode */
	assert_int_equal(check_cache_hit(path), 0);
}

static void test_variable_and_folder_are_the_key(void **state)
{
	char other[CHECK_CACHE_PATH_MAX], cwd[4096];

	(void)state;
	remember();
	setenv("REDIS_TLS_SNI", "other.example", 1);
	assert_int_equal(check_cache_path(other, sizeof(other), 1), 0);
	assert_string_not_equal(other, path);
	assert_int_equal(check_cache_hit(path), 0);
	unsetenv("REDIS_TLS_SNI");
	assert_int_equal(check_cache_hit(path), 1);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(check_cache_hit(path), 0); /* relative paths differ */
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(check_cache_hit(path), 1);
}

static void test_end_passed(void **state)
{
	const char *files[] = { file };
	struct timespec t = later();

	(void)state;
	assert_int_equal(check_cache_write(path, &t, time(NULL) - 1, files, 1), 0);
	assert_int_equal(check_cache_hit(path), 0);
}

static void test_file_changed_during_check(void **state)
{
	const char *files[] = { file };
	struct timespec now;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &now);
	put(file, "written as the check ran\n");
	assert_int_equal(check_cache_write(path, &now, time(NULL) + 30, files, 1), -1);
	assert_int_equal(check_cache_hit(path), 0);
}

static void test_others_may_write(void **state)
{
	char folder[128], p2[CHECK_CACHE_PATH_MAX];

	(void)state;
	remember();
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(check_cache_hit(path), 0);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(check_cache_hit(path), 1);
	snprintf(folder, sizeof(folder), "%s/redis-tls-shim", dir);
	assert_int_equal(chmod(folder, 0777), 0);
	assert_int_equal(check_cache_path(p2, sizeof(p2), 1), -1);
	assert_int_equal(chmod(folder, 0700), 0);
}

static void test_not_remembered(void **state)
{
	char p2[CHECK_CACHE_PATH_MAX];

	(void)state;
	setenv("REDIS_TLS_RUN_CHECK_CACHE", "0", 1);
	assert_int_equal(check_cache_path(p2, sizeof(p2), 1), -1);
	unsetenv("REDIS_TLS_RUN_CHECK_CACHE");
	setenv("REDIS_TLS_KEY_PASSPHRASE_ENV", "MY_PASS", 1);
	assert_int_equal(check_cache_path(p2, sizeof(p2), 1), -1);
	unsetenv("REDIS_TLS_KEY_PASSPHRASE_ENV");
	assert_int_equal(check_cache_path(p2, sizeof(p2), 1), 0);
}

static void test_missing_file(void **state)
{
	const char *files[] = { file };
	struct timespec t = later();

	(void)state;
	remember();
	assert_int_equal(unlink(file), 0);
	assert_int_equal(check_cache_hit(path), 0);
	assert_int_equal(check_cache_write(path, &t, time(NULL) + 30, files, 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_private_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holds_until_a_file_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_size_rewrite_is_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_variable_and_folder_are_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_passed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_changed_during_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_others_may_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
