/*
 * test_addr.c - the one IP-literal test and address normalisation: what
 * addr_parse calls an IP literal is exactly what getaddrinfo() takes as a
 * numeric host (so "127.1" is 127.0.0.1, verified as that IP with no SNI);
 * connect() lengths the kernel takes are read; v4-mapped IPv6 becomes
 * IPv4; the any-address becomes the host the kernel really dials.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "addr.h"

static struct addr_ip ip(const char *text)
{
	struct addr_ip a;

	if (addr_parse(text, &a) != 0)
		fail_msg("addr_parse(\"%s\") failed", text);
	addr_normalize(&a);
	return a;
}

static const char *canon(const char *text)
{
	static char buf[ADDR_TEXT_MAX];

	return addr_canonical(text, buf, sizeof(buf)) ? buf : NULL;
}

/* What glibc's getaddrinfo(AI_NUMERICHOST) makes of text, canonical. */
static const char *gai_numeric(const char *text)
{
	static char buf[ADDR_TEXT_MAX];
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST,
				  .ai_socktype = SOCK_STREAM }, *res;
	struct addr_ip a;

	if (getaddrinfo(text, NULL, &hints, &res) != 0)
		return NULL;
	if (addr_from_sockaddr(res->ai_addr, res->ai_addrlen, &a, NULL) != 0)
		a.family = 0;
	freeaddrinfo(res);
	return addr_format(&a, buf, sizeof(buf));
}

static const char *const inputs[] = {
	"127.0.0.1", "127.1", "0x7f.1", "0x7F.0.0.1", "2130706433",
	"0177.0.0.1", "127.0.1", "10.0.0.256", "1.2.3.4.5", "1.2.3.4.",
	"127.0.0.1 x", " 127.0.0.1", "127.0.0.1\n", "0x", "08.0.0.1",
	"::1", "::ffff:127.0.0.1", "2001:db8::1", "fe80::1%eth0", "fe80::1%",
	"[::1]", "::1 ", "1::2::3", "localhost", "redis.test", "abc", "a.b",
	"deadbeef", "0xdeadbeef", "4294967296", "", "1e3", "12a.0.0.1",
};

/* The one property that matters: our test agrees with getaddrinfo on
   every input, names and near-misses included. */
static void test_agrees_with_getaddrinfo(void **state)
{
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		const char *ours = canon(inputs[i]);
		const char *theirs = gai_numeric(inputs[i]);

		if ((ours == NULL) != (theirs == NULL) ||
		    (ours && strcmp(ours, theirs) != 0))
			fail_msg("'%s': addr_canonical says %s, getaddrinfo "
				 "%s", inputs[i], ours ? ours : "not an IP",
				 theirs ? theirs : "not an IP");
	}
}

static void test_inet_aton_forms(void **state)
{
	assert_true(addr_is_literal("127.1"));
	assert_string_equal(canon("127.1"), "127.0.0.1");
	assert_string_equal(canon("0x7f.1"), "127.0.0.1");
	assert_string_equal(canon("2130706433"), "127.0.0.1");
	assert_string_equal(canon("::ffff:127.0.0.1"), "127.0.0.1");
	assert_string_equal(canon("fe80::1%eth0"), "fe80::1");
	assert_false(addr_is_literal("redis.example.com"));
	assert_false(addr_is_literal(NULL));
	assert_false(addr_is_literal(""));
}

static void test_dotted4_is_strict(void **state)
{
	struct addr_ip a;

	assert_int_equal(addr_parse_dotted4("10.1.0.0", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(addr_parse_dotted4("10.1", &a), -1);
	assert_int_equal(addr_parse_dotted4("0x7f.0.0.1", &a), -1);
	assert_int_equal(addr_parse_dotted4("::1", &a), -1);
}

static void test_sockaddr_lengths(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(6379) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(6380) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct addr_ip a, want;
	unsigned port = 0;

	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	assert_int_equal(addr_from_sockaddr((void *)&sin, sizeof(sin), &a,
					    &port), 0);
	assert_int_equal(port, 6379);
	assert_int_equal(addr_from_sockaddr((void *)&sin, sizeof(sin) - 1, &a,
					    &port), -1);

	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	want = ip("127.0.0.1");
	for (socklen_t len = 24; len <= sizeof(sin6); len++) {
		port = 0;
		assert_int_equal(addr_from_sockaddr((void *)&sin6, len, &a,
						    &port), 0);
		assert_int_equal(port, 6380);
		assert_true(addr_equal(&a, &want));
	}
	assert_int_equal(addr_from_sockaddr((void *)&sin6, 23, &a, &port), -1);
	assert_int_equal(addr_from_sockaddr((void *)&sun, sizeof(sun), &a,
					    &port), -1);
	assert_int_equal(addr_from_sockaddr(NULL, 0, &a, &port), -1);
}

static void test_normalize(void **state)
{
	struct addr_ip a, b = ip("10.0.0.1");

	assert_int_equal(addr_parse("::ffff:10.0.0.1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	addr_normalize(&a);
	assert_int_equal(a.family, AF_INET);
	assert_true(addr_equal(&a, &b));
	a = ip("::1");
	addr_normalize(&a);
	assert_int_equal(a.family, AF_INET6);
}

/* Linux dials the local host for the any-address. */
static void test_kernel_dest(void **state)
{
	struct addr_ip a, lo4 = ip("127.0.0.1"), lo6 = ip("::1");
	struct addr_ip bound4 = ip("127.0.0.5"), any4 = ip("0.0.0.0");
	struct addr_ip bound6 = ip("fd00::1");

	a = ip("0.0.0.0");
	assert_int_equal(addr_kernel_dest(&a, NULL), 1);
	assert_true(addr_equal(&a, &lo4));
	a = ip("::ffff:0.0.0.0");
	assert_int_equal(addr_kernel_dest(&a, &any4), 1);
	assert_true(addr_equal(&a, &lo4));
	a = ip("0.0.0.0");
	assert_int_equal(addr_kernel_dest(&a, &bound4), 1);
	assert_true(addr_equal(&a, &bound4)); /* daddr = saddr */
	a = ip("::");
	assert_int_equal(addr_kernel_dest(&a, NULL), 1);
	assert_true(addr_equal(&a, &lo6));
	a = ip("::");
	assert_int_equal(addr_kernel_dest(&a, &bound6), 1);
	assert_true(addr_equal(&a, &lo6));
	a = ip("::");
	assert_int_equal(addr_kernel_dest(&a, &bound4), 1); /* v4-mapped bind */
	assert_true(addr_equal(&a, &lo4));
	a = ip("10.0.0.1");
	assert_int_equal(addr_kernel_dest(&a, NULL), 0);
	assert_true(addr_is_any(&any4));
	assert_false(addr_is_any(&lo4));
}

/* addr_to_sockaddr is addr_from_sockaddr's inverse: what redis-tls-ctl
   dials is the address and port it was given. */
static void test_to_sockaddr_round_trip(void **state)
{
	static const char *const texts[] = { "10.1.2.3", "::1", "fd00::5",
					     "255.255.255.255" };

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct addr_ip a = ip(texts[i]), back;
		struct sockaddr_storage ss;
		socklen_t len = addr_to_sockaddr(&a, 6380, &ss);
		unsigned port = 0;

		assert_int_equal(len, a.family == AF_INET
					      ? sizeof(struct sockaddr_in)
					      : sizeof(struct sockaddr_in6));
		assert_int_equal(ss.ss_family, a.family);
		assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, len,
						    &back, &port), 0);
		assert_int_equal(port, 6380);
		assert_true(addr_equal(&a, &back));
	}
}

/* An X.509 iPAddress SAN: 4 or 16 raw bytes, nothing else. */
static void test_from_bytes(void **state)
{
	static const unsigned char v4[4] = { 192, 0, 2, 7 };
	unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct addr_ip a;
	char buf[ADDR_TEXT_MAX];

	(void)state;
	v6[15] = 1;
	assert_int_equal(addr_from_bytes(v4, sizeof(v4), &a), 0);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "192.0.2.7");
	assert_int_equal(addr_from_bytes(v6, sizeof(v6), &a), 0);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "2001:db8::1");
	assert_int_equal(addr_from_bytes(v4, 3, &a), -1);
	assert_int_equal(addr_from_bytes(v6, 8, &a), -1);
	assert_int_equal(addr_from_bytes(v6, 0, &a), -1);
}

static void test_format(void **state)
{
	struct addr_ip a = ip("2001:db8::1"), bad = { .family = AF_UNIX };
	char small[4], buf[ADDR_TEXT_MAX];

	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "2001:db8::1");
	assert_string_equal(addr_format(&a, small, sizeof(small)), "?");
	assert_string_equal(addr_format(&bad, buf, sizeof(buf)), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_getaddrinfo),
		cmocka_unit_test(test_inet_aton_forms),
		cmocka_unit_test(test_dotted4_is_strict),
		cmocka_unit_test(test_sockaddr_lengths),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_kernel_dest),
		cmocka_unit_test(test_to_sockaddr_round_trip),
		cmocka_unit_test(test_from_bytes),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
