/*
 * test_names.c - name capture: what getaddrinfo / gethostbyname* resolved
 * is found again at connect() for SNI and name verification, by the
 * thread that resolved it and for the port it resolved (DESIGN, security
 * rule 2): another thread's or another port's name is never found.  A
 * numeric lookup (inet_aton forms too) means "dialled as an address";
 * other families and oversized names are not recorded; the newest fitting
 * resolution wins; v4-mapped IPv6 addresses find the IPv4 entry; each
 * thread's table is bounded.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "names.h"

#include <stdlib.h>

static struct sockaddr_in sin4(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };

	assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6 sin6(const char *ip, int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons((uint16_t)port) };

	assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

/* One addrinfo node over a sockaddr, as getaddrinfo returns them. */
static struct addrinfo ai_of(void *sa, socklen_t len, int family,
			     struct addrinfo *next)
{
	struct addrinfo ai = { .ai_family = family, .ai_socktype = SOCK_STREAM,
			       .ai_addrlen = len, .ai_addr = sa, .ai_next = next };
	return ai;
}

static const char *lookup4(const char *ip)
{
	static char name[256];
	struct sockaddr_in a = sin4(ip, 6379);

	name[0] = '\0';
	return names_lookup((struct sockaddr *)&a, sizeof(a), name,
			    sizeof(name)) ? name : NULL;
}

static int setup(void **state)
{
	names_reset();
	return 0;
}

static void test_addrinfo_all_addresses(void **state)
{
	struct sockaddr_in a = sin4("10.0.0.1", 0), b = sin4("10.0.0.2", 0);
	struct sockaddr_in6 c = sin6("fd00::7", 0);
	struct addrinfo ac = ai_of(&c, sizeof(c), AF_INET6, NULL);
	struct addrinfo ab = ai_of(&b, sizeof(b), AF_INET, &ac);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, &ab);
	struct sockaddr_in6 q = sin6("fd00::7", 6380);
	char name[256];

	names_record_addrinfo("redis.example.com", &aa);
	assert_string_equal(lookup4("10.0.0.1"), "redis.example.com");
	assert_string_equal(lookup4("10.0.0.2"), "redis.example.com");
	assert_int_equal(names_lookup((struct sockaddr *)&q, sizeof(q), name,
				      sizeof(name)), 1);
	assert_string_equal(name, "redis.example.com");
	assert_null(lookup4("10.0.0.3"));
}

static void test_numeric_not_recorded(void **state)
{
	struct sockaddr_in a = sin4("10.0.0.1", 0);
	struct sockaddr_in6 b = sin6("::1", 0);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	struct addrinfo ab = ai_of(&b, sizeof(b), AF_INET6, NULL);

	names_record_addrinfo("10.0.0.1", &aa);
	names_record_addrinfo("::1", &ab);
	names_record_addrinfo(NULL, &aa);
	names_record_addrinfo("", &aa);
	assert_null(lookup4("10.0.0.1"));
}

static void test_newest_wins(void **state)
{
	struct sockaddr_in a = sin4("127.0.0.1", 0);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);

	names_record_addrinfo("localhost", &aa);
	names_record_addrinfo("cache.internal", &aa);
	assert_string_equal(lookup4("127.0.0.1"), "cache.internal");
}

static void test_v4_mapped_finds_v4(void **state)
{
	struct sockaddr_in a = sin4("192.0.2.9", 0);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	struct sockaddr_in6 m = sin6("::ffff:192.0.2.9", 6379);
	char name[256];

	names_record_addrinfo("node1.example.com", &aa);
	assert_int_equal(names_lookup((struct sockaddr *)&m, sizeof(m), name,
				      sizeof(name)), 1);
	assert_string_equal(name, "node1.example.com");
}

/* redis-py's RedisCluster resolves "localhost", then dials 127.0.0.1 by
   address: the address must be verified, not the old name. */
static void test_numeric_after_name_means_address(void **state)
{
	struct sockaddr_in a = sin4("127.0.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);

	names_record_addrinfo("localhost", &aa);
	assert_string_equal(lookup4("127.0.0.1"), "localhost");
	names_record_addrinfo("127.0.0.1", &aa);
	assert_null(lookup4("127.0.0.1"));
}

/* Two names on one address: the port each was resolved for decides. */
static void test_port_decides(void **state)
{
	struct sockaddr_in a = sin4("10.2.0.1", 7001), b = sin4("10.2.0.1", 7002);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	struct addrinfo ab = ai_of(&b, sizeof(b), AF_INET, NULL);
	struct sockaddr_in q = sin4("10.2.0.1", 7001);
	char name[256];

	names_record_addrinfo("a.test", &aa);
	names_record_addrinfo("b.test", &ab);
	assert_int_equal(names_lookup((struct sockaddr *)&q, sizeof(q), name,
				      sizeof(name)), 1);
	assert_string_equal(name, "a.test");
	q.sin_port = htons(7002);
	assert_int_equal(names_lookup((struct sockaddr *)&q, sizeof(q), name,
				      sizeof(name)), 1);
	assert_string_equal(name, "b.test");
}

static void *other_thread_resolves(void *arg)
{
	struct sockaddr_in a = sin4("10.3.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);

	names_record_addrinfo((const char *)arg, &aa);
	return NULL;
}

static void *other_thread_looks_up(void *arg)
{
	const char *got = lookup4("10.3.0.1");

	return got ? strdup(got) : NULL;
}

/* Another thread resolving another name for the same address and port
   later does not take this thread's name away. */
static void test_own_thread_wins(void **state)
{
	struct sockaddr_in a = sin4("10.3.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	pthread_t t;

	names_record_addrinfo("mine.test", &aa);
	assert_int_equal(pthread_create(&t, NULL, other_thread_resolves,
					"theirs.test"), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(lookup4("10.3.0.1"), "mine.test");
}

/* The attack of rule 2: one thread resolves evil.test (pointed at the
   Redis address), another dials that address bare.  It must verify the
   IP, not evil.test. */
static void test_other_thread_not_found(void **state)
{
	struct sockaddr_in a = sin4("10.3.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	pthread_t t;
	void *got = (void *)1;

	assert_int_equal(pthread_create(&t, NULL, other_thread_resolves,
					"evil.test"), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_null(lookup4("10.3.0.1"));
	/* and the other way round: this thread's name is not the other's */
	names_record_addrinfo("mine.test", &aa);
	assert_string_equal(lookup4("10.3.0.1"), "mine.test");
	assert_int_equal(pthread_create(&t, NULL, other_thread_looks_up, NULL),
			 0);
	assert_int_equal(pthread_join(t, &got), 0);
	assert_null(got);
}

/* names_lookup_other sees other threads' names (to refuse, never to
   verify), never this thread's own. */
static void test_lookup_other(void **state)
{
	struct sockaddr_in a = sin4("10.3.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	struct sockaddr_in q = sin4("10.3.0.1", 6379);
	pthread_t t;
	char name[256];

	names_record_addrinfo("mine-only.test", &aa);
	assert_int_equal(names_lookup_other((struct sockaddr *)&q, sizeof(q),
					    name, sizeof(name)), 0);
	assert_int_equal(pthread_create(&t, NULL, other_thread_resolves,
					"resolver.test"), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(names_lookup_other((struct sockaddr *)&q, sizeof(q),
					    name, sizeof(name)), 1);
	assert_string_equal(name, "resolver.test");
	q.sin_port = htons(6380); /* resolved for 6379 only */
	assert_int_equal(names_lookup_other((struct sockaddr *)&q, sizeof(q),
					    name, sizeof(name)), 0);
}

static void *other_thread_looks_up_other(void *arg)
{
	struct sockaddr_in q = sin4("10.3.0.1", 6379);
	char name[256];

	if (names_lookup_other((struct sockaddr *)&q, sizeof(q), name,
			       sizeof(name)) != 1)
		return NULL;
	return strdup(name);
}

/* A resolver thread exits; glibc gives its pthread_t to the next thread,
   which has resolved nothing: the exited thread's name is still another
   thread's to it (a refusal must not become a pass). */
static void test_lookup_other_after_thread_reuse(void **state)
{
	pthread_t t, u;
	void *got = NULL;

	assert_int_equal(pthread_create(&t, NULL, other_thread_resolves,
					"resolver.test"), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_create(&u, NULL, other_thread_looks_up_other,
					NULL), 0);
	assert_int_equal(pthread_join(u, &got), 0);
	/* the case only proves something when the id was reused */
	assert_true(pthread_equal(t, u));
	assert_non_null(got);
	assert_string_equal(got, "resolver.test");
	free(got);
}

/* getaddrinfo("evil.test", "443") says nothing about a connect to 6379. */
static void test_other_port_not_found(void **state)
{
	struct sockaddr_in a = sin4("10.4.0.1", 443);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	struct sockaddr_in q = sin4("10.4.0.1", 443);
	char name[256];

	names_record_addrinfo("evil.test", &aa);
	assert_null(lookup4("10.4.0.1")); /* port 6379 */
	assert_int_equal(names_lookup((struct sockaddr *)&q, sizeof(q), name,
				      sizeof(name)), 1);
	assert_string_equal(name, "evil.test");
}

static void test_same_thread_and_port_found(void **state)
{
	struct sockaddr_in a = sin4("10.5.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);

	names_record_addrinfo("redis.test", &aa);
	assert_string_equal(lookup4("10.5.0.1"), "redis.test");
}

/* The newest resolution for the address and port decides, whichever
   form it took: a port-less one (gethostbyname) counts for every port. */
static void test_newest_fit_wins(void **state)
{
	struct sockaddr_in a = sin4("10.6.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	struct in_addr x;
	char *list[] = { (char *)&x, NULL };
	struct hostent h = { .h_addrtype = AF_INET, .h_length = 4,
			     .h_addr_list = list };

	inet_pton(AF_INET, "10.6.0.1", &x);
	names_record_addrinfo("first.test", &aa);
	names_record_hostent("second.test", &h);
	assert_string_equal(lookup4("10.6.0.1"), "second.test");
	names_record_addrinfo("third.test", &aa);
	assert_string_equal(lookup4("10.6.0.1"), "third.test");
}

/* getaddrinfo takes "127.1", "0x7f.1" and "2130706433" as numeric hosts
   (it dials 127.0.0.1): no name, so the IP is verified (no more "cannot
   set the name to verify '127.1'"). */
static void test_inet_aton_forms_are_numeric(void **state)
{
	static const char *forms[] = { "127.1", "0x7f.1", "2130706433",
				       "0177.0.0.1", "127.0.0.1" };
	struct sockaddr_in a = sin4("127.0.0.1", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		names_record_addrinfo("localhost", &aa);
		assert_string_equal(lookup4("127.0.0.1"), "localhost");
		names_record_addrinfo(forms[i], &aa);
		assert_null(lookup4("127.0.0.1"));
	}
}

/* The kernel takes an AF_INET6 address of 24 bytes (no scope id). */
static void test_v6_short_length(void **state)
{
	struct sockaddr_in6 a = sin6("fd00::9", 6379);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET6, NULL);
	char name[256];

	names_record_addrinfo("six.test", &aa);
	for (socklen_t len = 24; len <= sizeof(a); len++)
		assert_int_equal(names_lookup((struct sockaddr *)&a, len, name,
					      sizeof(name)), 1);
	assert_int_equal(names_lookup((struct sockaddr *)&a, 23, name,
				      sizeof(name)), 0);
}

static void test_hostent(void **state)
{
	struct in_addr x, y;
	char *list[] = { (char *)&x, (char *)&y, NULL };
	struct hostent h = { .h_name = "canonical.example.com",
			     .h_addrtype = AF_INET, .h_length = 4,
			     .h_addr_list = list };

	inet_pton(AF_INET, "198.51.100.1", &x);
	inet_pton(AF_INET, "198.51.100.2", &y);
	/* the name the program asked for, not the canonical name */
	names_record_hostent("alias.example.com", &h);
	assert_string_equal(lookup4("198.51.100.1"), "alias.example.com");
	assert_string_equal(lookup4("198.51.100.2"), "alias.example.com");
}

static void test_malformed_hostent(void **state)
{
	struct in_addr x;
	char *list[] = { (char *)&x, NULL };
	struct hostent bad_len = { .h_addrtype = AF_INET, .h_length = 16,
				   .h_addr_list = list };
	struct hostent bad_family = { .h_addrtype = AF_UNIX, .h_length = 4,
				      .h_addr_list = list };
	struct hostent no_list = { .h_addrtype = AF_INET, .h_length = 4 };

	inet_pton(AF_INET, "198.51.100.3", &x);
	names_record_hostent("a.example.com", &bad_len);
	names_record_hostent("b.example.com", &bad_family);
	names_record_hostent("c.example.com", &no_list);
	names_record_hostent("d.example.com", NULL);
	assert_null(lookup4("198.51.100.3"));
}

static void test_malformed_addrinfo(void **state)
{
	struct sockaddr_in a = sin4("203.0.113.5", 0);
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	/* a short length must not be read past */
	struct addrinfo shortlen = ai_of(&a, 4, AF_INET, NULL);
	struct addrinfo unixai = ai_of(&u, sizeof(u), AF_UNIX, NULL);
	struct addrinfo noaddr = ai_of(NULL, sizeof(a), AF_INET, NULL);
	char longname[400];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	names_record_addrinfo("x.example.com", &shortlen);
	names_record_addrinfo("y.example.com", &unixai);
	names_record_addrinfo("z.example.com", &noaddr);
	{
		struct addrinfo ok = ai_of(&a, sizeof(a), AF_INET, NULL);
		names_record_addrinfo(longname, &ok);
	}
	assert_null(lookup4("203.0.113.5"));
}

static void test_lookup_rejects_short_or_foreign(void **state)
{
	struct sockaddr_in a = sin4("10.9.9.9", 0);
	struct addrinfo aa = ai_of(&a, sizeof(a), AF_INET, NULL);
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	char name[8];

	names_record_addrinfo("averylongname.example.com", &aa);
	assert_int_equal(names_lookup((struct sockaddr *)&a, 4, name,
				      sizeof(name)), 0);
	assert_int_equal(names_lookup((struct sockaddr *)&u, sizeof(u), name,
				      sizeof(name)), 0);
	/* a small buffer gets a terminated prefix, never an overflow */
	assert_int_equal(names_lookup((struct sockaddr *)&a, sizeof(a), name,
				      sizeof(name)), 1);
	assert_int_equal(strlen(name), sizeof(name) - 1);
}

static void test_bounded_table(void **state)
{
	char nm[64];

	for (int i = 0; i < NAMES_MAX + 10; i++) {
		struct sockaddr_in a;
		struct addrinfo aa;

		snprintf(nm, sizeof(nm), "10.1.%d.%d", i / 256, i % 256);
		a = sin4(nm, 0);
		aa = ai_of(&a, sizeof(a), AF_INET, NULL);
		snprintf(nm, sizeof(nm), "host%d.example.com", i);
		names_record_addrinfo(nm, &aa);
	}
	/* the oldest fell out, the newest are there */
	assert_null(lookup4("10.1.0.0"));
	assert_null(lookup4("10.1.0.9"));
	assert_string_equal(lookup4("10.1.0.10"), "host10.example.com");
	snprintf(nm, sizeof(nm), "10.1.%d.%d", (NAMES_MAX + 9) / 256,
		 (NAMES_MAX + 9) % 256);
	{
		const char *got = lookup4(nm);
		snprintf(nm, sizeof(nm), "host%d.example.com", NAMES_MAX + 9);
		assert_non_null(got);
		assert_string_equal(got, nm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_addrinfo_all_addresses, setup),
		cmocka_unit_test_setup(test_numeric_not_recorded, setup),
		cmocka_unit_test_setup(test_newest_wins, setup),
		cmocka_unit_test_setup(test_v4_mapped_finds_v4, setup),
		cmocka_unit_test_setup(test_numeric_after_name_means_address, setup),
		cmocka_unit_test_setup(test_port_decides, setup),
		cmocka_unit_test_setup(test_own_thread_wins, setup),
		cmocka_unit_test_setup(test_other_thread_not_found, setup),
		cmocka_unit_test_setup(test_other_port_not_found, setup),
		cmocka_unit_test_setup(test_lookup_other, setup),
		cmocka_unit_test_setup(test_lookup_other_after_thread_reuse, setup),
		cmocka_unit_test_setup(test_same_thread_and_port_found, setup),
		cmocka_unit_test_setup(test_newest_fit_wins, setup),
		cmocka_unit_test_setup(test_inet_aton_forms_are_numeric, setup),
		cmocka_unit_test_setup(test_v6_short_length, setup),
		cmocka_unit_test_setup(test_hostent, setup),
		cmocka_unit_test_setup(test_malformed_hostent, setup),
		cmocka_unit_test_setup(test_malformed_addrinfo, setup),
		cmocka_unit_test_setup(test_lookup_rejects_short_or_foreign, setup),
		cmocka_unit_test_setup(test_bounded_table, setup),
	};

	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
