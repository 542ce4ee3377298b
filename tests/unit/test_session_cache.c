/*
 * test_session_cache.c - the resumption cache: keys are kept and compared
 * whole, so servers whose keys share a long prefix (the engine's keys are
 * "expect|sni|ip|port", up to ~560 bytes with 253-byte names) never share
 * a session; TLS 1.3 tickets are handed out once, TLS 1.2 sessions shared;
 * drop and the per-key limit touch only their own key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "session_cache.h"

/* ---- helpers ---------------------------------------------------------- */

/* A resumable session of `version` with a recognisable id. */
static SSL_SESSION *session(int version, unsigned id)
{
	SSL_SESSION *s = SSL_SESSION_new();
	unsigned char sid[8];

	assert_non_null(s);
	memset(sid, 0, sizeof(sid));
	memcpy(sid, &id, sizeof(id));
	assert_int_equal(SSL_SESSION_set1_id(s, sid, sizeof(sid)), 1);
	assert_int_equal(SSL_SESSION_set_protocol_version(s, version), 1);
	return s;
}

static unsigned session_id(const SSL_SESSION *s)
{
	unsigned int len;
	const unsigned char *sid = SSL_SESSION_get_id(s, &len);
	unsigned id;

	assert_int_equal(len, 8);
	memcpy(&id, sid, sizeof(id));
	return id;
}

/* The engine's form of a key, with a 253-byte name for expect and SNI. */
static void long_key(char *out, size_t len, const char *ip, unsigned port)
{
	char name[254];

	/* 63-byte labels, as long as DNS allows: 4 labels, 253 bytes */
	for (int i = 0; i < 253; i++)
		name[i] = (i % 64 == 63) ? '.' : (char)('a' + i % 26);
	name[253] = '\0';
	snprintf(out, len, "%s|%s|%s|%u", name, name, ip, port);
}

static int setup(void **state)
{
	static struct session_cache c;

	session_cache_init(&c);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	session_cache_destroy(*state);
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void test_long_keys_never_shared(void **state)
{
	struct session_cache *c = *state;
	char a[700], b[700], d[700];
	SSL_SESSION *got;

	long_key(a, sizeof(a), "10.0.0.1", 6379);
	long_key(b, sizeof(b), "10.0.0.2", 6379);
	long_key(d, sizeof(d), "10.0.0.1", 6380);
	/* what a 320-byte copy of each would have kept is the same */
	assert_true(strlen(a) > 500);
	assert_memory_equal(a, b, 319);
	assert_memory_equal(a, d, 319);

	assert_int_equal(session_cache_put(c, a, session(TLS1_2_VERSION, 1)), 1);
	assert_null(session_cache_get(c, b));
	assert_null(session_cache_get(c, d));
	got = session_cache_get(c, a);
	assert_non_null(got);
	assert_int_equal(session_id(got), 1);
	SSL_SESSION_free(got);
}

static void test_prefix_is_not_a_match(void **state)
{
	struct session_cache *c = *state;
	SSL_SESSION *got;

	assert_int_equal(session_cache_put(c, "redis.example.com|redis.example.com|10.0.0.1|6379",
					   session(TLS1_2_VERSION, 2)), 1);
	assert_null(session_cache_get(c, "redis.example.com|redis.example.com|10.0.0.1|637"));
	assert_null(session_cache_get(c, "redis.example.com|redis.example.com|10.0.0.1|63790"));
	assert_null(session_cache_get(c, ""));
	/* drop of a prefix leaves the longer key alone */
	session_cache_drop(c, "redis.example.com|redis.example.com|10.0.0.1|637");
	got = session_cache_get(c, "redis.example.com|redis.example.com|10.0.0.1|6379");
	assert_non_null(got);
	SSL_SESSION_free(got);
}

static void test_ticket_once_session_shared(void **state)
{
	struct session_cache *c = *state;
	SSL_SESSION *x, *y;

	assert_int_equal(session_cache_put(c, "t13", session(TLS1_3_VERSION, 3)), 1);
	x = session_cache_get(c, "t13");
	assert_non_null(x);
	assert_null(session_cache_get(c, "t13")); /* used once */
	SSL_SESSION_free(x);

	assert_int_equal(session_cache_put(c, "t12", session(TLS1_2_VERSION, 4)), 1);
	x = session_cache_get(c, "t12");
	y = session_cache_get(c, "t12");
	assert_non_null(x);
	assert_ptr_equal(x, y); /* shared */
	SSL_SESSION_free(x);
	SSL_SESSION_free(y);
}

static void test_newest_first(void **state)
{
	struct session_cache *c = *state;
	SSL_SESSION *x;

	for (unsigned i = 10; i < 13; i++)
		assert_int_equal(session_cache_put(c, "k", session(TLS1_3_VERSION, i)), 1);
	for (unsigned i = 13; i-- > 10;) {
		x = session_cache_get(c, "k");
		assert_non_null(x);
		assert_int_equal(session_id(x), i);
		SSL_SESSION_free(x);
	}
	assert_null(session_cache_get(c, "k"));
}

static void test_not_resumable_dropped(void **state)
{
	struct session_cache *c = *state;

	assert_int_equal(session_cache_put(c, "k", SSL_SESSION_new()), 1);
	assert_null(session_cache_get(c, "k"));
}

static void test_per_key_limit_spares_others(void **state)
{
	struct session_cache *c = *state;
	char a[700], b[700];
	SSL_SESSION *x;
	int n = 0;

	long_key(a, sizeof(a), "192.0.2.1", 1);
	long_key(b, sizeof(b), "192.0.2.1", 2);
	assert_int_equal(session_cache_put(c, b, session(TLS1_3_VERSION, 99)), 1);
	for (unsigned i = 0; i < SESSION_CACHE_PER_KEY + 10; i++)
		assert_int_equal(session_cache_put(c, a, session(TLS1_3_VERSION, 1000 + i)), 1);
	while ((x = session_cache_get(c, a)) != NULL) {
		/* the oldest went first */
		assert_true(session_id(x) >= 1010);
		SSL_SESSION_free(x);
		n++;
	}
	assert_int_equal(n, SESSION_CACHE_PER_KEY);
	x = session_cache_get(c, b);
	assert_non_null(x);
	assert_int_equal(session_id(x), 99);
	SSL_SESSION_free(x);
}

static void test_full_cache_evicts_oldest(void **state)
{
	struct session_cache *c = *state;
	char key[32];
	SSL_SESSION *x;

	for (unsigned i = 0; i < SESSION_CACHE_SLOTS + 1; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		assert_int_equal(session_cache_put(c, key, session(TLS1_2_VERSION, i)), 1);
	}
	assert_null(session_cache_get(c, "k0"));
	x = session_cache_get(c, "k1");
	assert_non_null(x);
	assert_int_equal(session_id(x), 1);
	SSL_SESSION_free(x);
	snprintf(key, sizeof(key), "k%u", SESSION_CACHE_SLOTS);
	x = session_cache_get(c, key);
	assert_non_null(x);
	SSL_SESSION_free(x);
}

static void test_clear(void **state)
{
	struct session_cache *c = *state;

	assert_int_equal(session_cache_put(c, "k", session(TLS1_2_VERSION, 5)), 1);
	session_cache_lock(c);
	session_cache_clear_locked(c);
	session_cache_unlock(c);
	assert_null(session_cache_get(c, "k"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_long_keys_never_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_is_not_a_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_once_session_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_resumable_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_key_limit_spares_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_cache_evicts_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
