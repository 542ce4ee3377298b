/*
 * test_match.c - endpoint match specs: every form, the port forms,
 * IPv4-mapped targets, resolved addresses, and many malformed specs with
 * the reason a user would read.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "match.h"

/* ---- helpers ---------------------------------------------------------- */

static struct match_spec parse_ok(const char *text)
{
	struct match_spec spec;
	char err[256] = "";

	if (match_parse(text, &spec, err, sizeof(err)) != 0)
		fail_msg("match_parse(\"%s\") failed: %s", text, err);
	return spec;
}

/* The reason match_parse gives for `text`, which must be rejected. */
static const char *parse_err(const char *text)
{
	static char err[256];
	struct match_spec spec;

	err[0] = '\0';
	if (match_parse(text, &spec, err, sizeof(err)) != -1)
		fail_msg("match_parse(\"%s\") accepted a bad spec", text);
	if (err[0] == '\0')
		fail_msg("match_parse(\"%s\") gave no reason", text);
	return err;
}

static struct match_target target(const char *addr, unsigned port,
				  const char *name)
{
	struct match_target t;

	memset(&t, 0, sizeof(t));
	if (inet_pton(AF_INET, addr, t.addr.bytes) == 1) {
		t.addr.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, t.addr.bytes), 1);
		t.addr.family = AF_INET6;
	}
	t.port = port;
	t.name = name;
	return t;
}

static enum match_result test_one(const char *spec_text, const char *addr,
				  unsigned port, const char *name)
{
	struct match_spec spec = parse_ok(spec_text);
	struct match_target t = target(addr, port, name);

	return match_test(&spec, &t);
}

static struct addr_ip addr_of(const char *text)
{
	struct addr_ip a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, a.bytes) == 1) {
		a.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, a.bytes), 1);
		a.family = AF_INET6;
	}
	return a;
}

/* ---- parsing the forms ------------------------------------------------ */

static void test_name_is_lowered_and_trailing_dot_dropped(void **state)
{
	struct match_spec s = parse_ok("Redis-16257.C1.Example-Cloud.com.:16257");

	assert_int_equal(s.kind, MATCH_HOST_NAME);
	assert_string_equal(s.name, "redis-16257.c1.example-cloud.com");
	assert_int_equal(s.port_lo, 16257);
	assert_int_equal(s.port_hi, 16257);
}

static void test_single_label_and_underscore_names(void **state)
{
	assert_string_equal(parse_ok("redis:6379").name, "redis");
	/* Compose service names: "project_redis_1" resolves in Docker. */
	assert_string_equal(parse_ok("project_redis_1:6379").name,
			    "project_redis_1");
}

static void test_wildcard_form(void **state)
{
	struct match_spec s = parse_ok("*.Internal.Example.com:6379");

	assert_int_equal(s.kind, MATCH_HOST_WILDCARD);
	assert_string_equal(s.name, ".internal.example.com");
}

static void test_ipv4_address_form(void **state)
{
	struct match_spec s = parse_ok("10.0.0.5:6379");
	char buf[64];

	assert_int_equal(s.kind, MATCH_HOST_ADDR);
	assert_int_equal(s.addr.family, AF_INET);
	assert_string_equal(addr_format(&s.addr, buf, sizeof(buf)),
			    "10.0.0.5");
}

static void test_ipv6_address_form(void **state)
{
	struct match_spec s = parse_ok("[2001:DB8::1]:6380");
	char buf[64];

	assert_int_equal(s.kind, MATCH_HOST_ADDR);
	assert_int_equal(s.addr.family, AF_INET6);
	assert_string_equal(addr_format(&s.addr, buf, sizeof(buf)),
			    "2001:db8::1");
	assert_int_equal(s.port_lo, 6380);
}

static void test_v4_mapped_spec_is_stored_as_ipv4(void **state)
{
	struct match_spec s = parse_ok("[::ffff:10.0.0.5]:6379");
	struct match_spec c = parse_ok("[::ffff:10.1.0.0]/112:6379");
	char buf[64];

	assert_int_equal(s.kind, MATCH_HOST_ADDR);
	assert_int_equal(s.addr.family, AF_INET);
	assert_string_equal(addr_format(&s.addr, buf, sizeof(buf)),
			    "10.0.0.5");
	assert_int_equal(c.kind, MATCH_HOST_CIDR);
	assert_int_equal(c.addr.family, AF_INET);
	assert_int_equal(c.prefix, 16);
}

static void test_cidr4_form_masks_host_bits(void **state)
{
	struct match_spec s = parse_ok("10.1.2.3/16:10000-10099");
	char buf[64];

	assert_int_equal(s.kind, MATCH_HOST_CIDR);
	assert_int_equal(s.prefix, 16);
	assert_string_equal(addr_format(&s.addr, buf, sizeof(buf)),
			    "10.1.0.0");
	assert_int_equal(s.port_lo, 10000);
	assert_int_equal(s.port_hi, 10099);
}

static void test_cidr6_both_spellings(void **state)
{
	struct match_spec a = parse_ok("[fd00::]/8:6379");
	struct match_spec b = parse_ok("[fd00::/8]:6379");
	struct match_spec c = parse_ok("[fd12:3456::1]/8:6379");
	char buf[64];

	assert_int_equal(a.kind, MATCH_HOST_CIDR);
	assert_int_equal(b.kind, MATCH_HOST_CIDR);
	assert_int_equal(a.prefix, 8);
	assert_int_equal(b.prefix, 8);
	assert_memory_equal(a.addr.bytes, b.addr.bytes, 16);
	assert_string_equal(addr_format(&c.addr, buf, sizeof(buf)),
			    "fd00::");
}

static void test_port_forms(void **state)
{
	struct match_spec any = parse_ok("10.0.0.0/8:*");
	struct match_spec one = parse_ok("h:1-1");
	struct match_spec top = parse_ok("h:65535");

	assert_int_equal(any.port_lo, 1);
	assert_int_equal(any.port_hi, 65535);
	assert_int_equal(one.port_lo, 1);
	assert_int_equal(one.port_hi, 1);
	assert_int_equal(top.port_lo, 65535);
}

/* ---- malformed specs --------------------------------------------------- */

struct bad_case {
	const char *text;
	const char *reason; /* the exact message */
};

static const struct bad_case bad_cases[] = {
	{ "", "empty match spec" },
	{ "redis.example.com", "missing ':PORT' in 'redis.example.com'" },
	{ "redis.example.com:", "missing port after ':' in 'redis.example.com:'" },
	{ ":6379", "missing host before ':'" },
	{ "h:0", "port 0 out of range (1-65535)" },
	{ "h:70000", "port 70000 out of range (1-65535)" },
	{ "h:99999999999999999999", "port 99999999999999999999 out of range (1-65535)" },
	{ "h:6379x", "bad port '6379x'" },
	{ "h:-5", "bad port range '-5' (expected A-B)" },
	{ "h:5-", "bad port range '5-' (expected A-B)" },
	{ "h:7000-6000", "port range 7000-6000 is reversed (A must be <= B)" },
	{ "h:1-0", "port 0 out of range (1-65535)" },
	{ "h:1-2-3", "bad port '2-3'" },
	{ "h:**", "bad port '**'" },
	{ "10.0.0.0/33:6379", "CIDR prefix 33 too long for IPv4 (at most 32)" },
	{ "[fd00::]/129:6379", "CIDR prefix 129 too long for IPv6 (at most 128)" },
	{ "10.0.0.0/:6379", "bad CIDR prefix '/'" },
	{ "10.0.0.0/x:6379", "bad CIDR prefix '/x'" },
	{ "10.0.0.0/-1:6379", "bad CIDR prefix '/-1'" },
	{ "10.0.0.0/8/8:6379", "bad CIDR prefix '/8/8'" },
	{ "10.0.0/8:6379", "'10.0.0' is not an IPv4 address (IPv6 blocks are written [fd00::]/8)" },
	{ "fd00::/8:6379", "IPv6 addresses must be in brackets, as in [::1]:6379" },
	{ "::1:6379", "IPv6 addresses must be in brackets, as in [::1]:6379" },
	{ "[::1]", "missing ':PORT' in '[::1]'" },
	{ "[::1:6379", "missing ']' in '[::1:6379'" },
	{ "[::1]x:6379", "unexpected 'x' after ']'" },
	{ "[fd00::/8]/8:6379", "two CIDR prefixes in '[fd00::/8]/8'" },
	{ "[fd00::g]:6379", "'fd00::g' is not an IPv6 address" },
	{ "[10.0.0.1]:6379", "'[10.0.0.1]': write IPv4 addresses without brackets" },
	{ "[]:6379", "'' is not an IPv6 address" },
	{ "10.0.0.256:6379", "'10.0.0.256' is neither a valid IPv4 address nor a host name" },
	{ "1.2.3:6379", "'1.2.3' is an IPv4 address written short (1.2.0.3): write all four parts" },
	{ "127.1:6379", "'127.1' is an IPv4 address written short (127.0.0.1): write all four parts" },
	{ "0x7f.1:6379", "'0x7f.1' is an IPv4 address written short (127.0.0.1): write all four parts" },
	{ "*:6379", "a bare '*' host is not allowed; use 0.0.0.0/0:PORT and [::]/0:PORT for any address" },
	{ "a.*.com:6379", "'*' in 'a.*.com' is only allowed as the whole first label, as in *.example.com" },
	{ "*foo.com:6379", "'*' in '*foo.com' is only allowed as the whole first label, as in *.example.com" },
	{ "f*.com:6379", "'*' in 'f*.com' is only allowed as the whole first label, as in *.example.com" },
	{ "*.*.com:6379", "'*' in '*.com' is only allowed as the whole first label, as in *.example.com" },
	{ "*.:6379", "missing domain after '*.'" },
	{ "redis example.com:6379", "bad character ' ' in host name 'redis example.com'" },
	{ "redis/example.com:6379", "'redis' is not an IPv4 address (IPv6 blocks are written [fd00::]/8)" },
	{ "re$dis:6379", "bad character '$' in host name 're$dis'" },
	{ "r\xc3\xa9" "dis:6379", "bad character 0xc3 in host name 'r\xc3\xa9" "dis'" },
	{ "a\nb:6379", "bad character 0x0a in host name 'a?b'" },
	{ "a..b:6379", "empty label in host name 'a..b'" },
	{ ".a:6379", "empty label in host name '.a'" },
	{ "a..:6379", "empty label in host name 'a.'" },
	{ ".:6379", "empty host name" },
	{ "-a.com:6379", "label '-a' in host name '-a.com' starts or ends with '-'" },
	{ "a-.com:6379", "label 'a-' in host name 'a-.com' starts or ends with '-'" },
};

static void test_malformed_specs_are_rejected_with_reason(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const char *got = parse_err(bad_cases[i].text);

		if (strcmp(got, bad_cases[i].reason) != 0)
			fail_msg("\"%s\": expected \"%s\", got \"%s\"",
				 bad_cases[i].text, bad_cases[i].reason, got);
	}
}

static void test_label_longer_than_63_is_rejected(void **state)
{
	char text[128];
	char label[65];

	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(text, sizeof(text), "%s.com:6379", label);
	assert_string_equal(parse_err(text),
			    "label 'aaaaaaaaaaaaaaaaaaaa...' in host name is 64 "
			    "characters long (at most 63)");
	label[63] = '\0'; /* exactly 63 is fine */
	snprintf(text, sizeof(text), "%s.com:6379", label);
	parse_ok(text);
}

static void test_name_longer_than_253_is_rejected(void **state)
{
	char text[400] = "";
	size_t i;

	/* 4 * 63 + 3 dots = 255 characters */
	for (i = 0; i < 4; i++) {
		if (i)
			strcat(text, ".");
		memset(text + strlen(text), 'b', 63);
		text[i * 64 + 63] = '\0';
	}
	strcat(text, ":6379");
	assert_string_equal(parse_err(text),
			    "host name is 255 characters long (at most 253)");
}

static void test_host_part_too_long_is_rejected(void **state)
{
	char text[700];

	memset(text, 'c', 600);
	strcpy(text + 600, ":6379");
	assert_string_equal(parse_err(text),
			    "host part is 600 characters long (at most 253)");
}

static void test_failed_parse_leaves_spec_zeroed_and_tiny_err_ok(void **state)
{
	struct match_spec s;
	char tiny[8];

	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(match_parse("h:0", &s, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "port 0 "); /* truncated, terminated */
	assert_int_equal(s.port_lo, 0);
	assert_int_equal(s.name[0], '\0');
	assert_int_equal(match_parse(NULL, &s, NULL, 0), -1);
	assert_int_equal(match_parse("h:0", &s, NULL, 0), -1);
}

/* ---- matching ---------------------------------------------------------- */

static void test_name_matches_case_insensitive_and_trailing_dot(void **state)
{
	const char *spec = "redis.example.com:6379";

	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "redis.example.com"),
			 MATCH_BY_NAME);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "REDIS.Example.COM."),
			 MATCH_BY_NAME);
	assert_int_equal(test_one("Redis.Example.com.:6379", "192.0.2.1", 6379,
				  "redis.example.com"),
			 MATCH_BY_NAME);
	assert_int_equal(test_one(spec, "192.0.2.1", 6380, "redis.example.com"),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "redis.example.co"),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "xredis.example.com"),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, NULL), MATCH_NONE);
}

static void test_wildcard_matches_one_or_more_labels_only(void **state)
{
	const char *spec = "*.example.com:6379";

	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "a.example.com"),
			 MATCH_BY_NAME);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "a.b.c.example.com"),
			 MATCH_BY_NAME);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "A.EXAMPLE.com."),
			 MATCH_BY_NAME);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "example.com"),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "example.com."),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, "badexample.com"),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379,
				  "a.example.com.evil.net"),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6379, NULL), MATCH_NONE);
	assert_int_equal(test_one(spec, "192.0.2.1", 6380, "a.example.com"),
			 MATCH_NONE);
}

static void test_address_specs_match_by_address(void **state)
{
	assert_int_equal(test_one("10.0.0.5:6379", "10.0.0.5", 6379, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("10.0.0.5:6379", "10.0.0.5", 6379, "x.y"),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("10.0.0.5:6379", "10.0.0.6", 6379, NULL),
			 MATCH_NONE);
	assert_int_equal(test_one("[::1]:6379", "::1", 6379, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("[::1]:6379", "::2", 6379, NULL), MATCH_NONE);
	/* 127.0.0.1 is not ::1 */
	assert_int_equal(test_one("[::1]:6379", "127.0.0.1", 6379, NULL),
			 MATCH_NONE);
}

static void test_v4_mapped_targets_compare_as_ipv4(void **state)
{
	assert_int_equal(test_one("10.0.0.5:6379", "::ffff:10.0.0.5", 6379,
				  NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("10.0.0.0/8:6379", "::ffff:10.9.8.7", 6379,
				  NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("0.0.0.0/0:6379", "::ffff:192.0.2.1", 6379,
				  NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("[::ffff:10.0.0.5]:6379", "10.0.0.5", 6379,
				  NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("10.0.0.5:6379", "::ffff:10.0.0.6", 6379,
				  NULL),
			 MATCH_NONE);
}

static void test_cidr4_boundaries(void **state)
{
	const char *spec = "10.1.0.0/16:6379";

	assert_int_equal(test_one(spec, "10.1.0.0", 6379, NULL), MATCH_BY_ADDR);
	assert_int_equal(test_one(spec, "10.1.255.255", 6379, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one(spec, "10.0.255.255", 6379, NULL),
			 MATCH_NONE);
	assert_int_equal(test_one(spec, "10.2.0.0", 6379, NULL), MATCH_NONE);
	assert_int_equal(test_one("10.1.0.0/20:6379", "10.1.15.1", 6379, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("10.1.0.0/20:6379", "10.1.16.1", 6379, NULL),
			 MATCH_NONE);
	assert_int_equal(test_one("192.0.2.7/32:6379", "192.0.2.7", 6379, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("192.0.2.7/32:6379", "192.0.2.6", 6379, NULL),
			 MATCH_NONE);
	assert_int_equal(test_one("0.0.0.0/0:*", "203.0.113.9", 1, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("0.0.0.0/0:*", "::1", 6379, NULL), MATCH_NONE);
}

static void test_cidr6_boundaries(void **state)
{
	assert_int_equal(test_one("[fd00::]/8:6379", "fd12::1", 6379, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("[fd00::/8]:6379", "fdff:ffff::1", 6379,
				  NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("[fd00::]/8:6379", "fe00::1", 6379, NULL),
			 MATCH_NONE);
	assert_int_equal(test_one("[fd00::]/8:6379", "10.0.0.1", 6379, NULL),
			 MATCH_NONE);
	assert_int_equal(test_one("[2001:db8::]/127:6379", "2001:db8::1", 6379,
				  NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("[2001:db8::]/127:6379", "2001:db8::2", 6379,
				  NULL),
			 MATCH_NONE);
	assert_int_equal(test_one("[::]/0:*", "2001:db8::99", 443, NULL),
			 MATCH_BY_ADDR);
	assert_int_equal(test_one("[::]/0:*", "192.0.2.1", 443, NULL),
			 MATCH_NONE);
}

static void test_port_ranges_are_inclusive(void **state)
{
	const char *spec = "10.0.0.1:10000-10099";

	assert_int_equal(test_one(spec, "10.0.0.1", 9999, NULL), MATCH_NONE);
	assert_int_equal(test_one(spec, "10.0.0.1", 10000, NULL), MATCH_BY_ADDR);
	assert_int_equal(test_one(spec, "10.0.0.1", 10050, NULL), MATCH_BY_ADDR);
	assert_int_equal(test_one(spec, "10.0.0.1", 10099, NULL), MATCH_BY_ADDR);
	assert_int_equal(test_one(spec, "10.0.0.1", 10100, NULL), MATCH_NONE);
	assert_int_equal(test_one("h:*", "10.0.0.1", 65535, "h"), MATCH_BY_NAME);
	assert_int_equal(test_one("h:*", "10.0.0.1", 1, "h"), MATCH_BY_NAME);
	assert_int_equal(test_one("h:*", "10.0.0.1", 0, "h"), MATCH_NONE);
}

static void test_name_spec_matches_resolved_addresses(void **state)
{
	struct match_spec s = parse_ok("redis.example.com:6379");
	struct match_target t;

	s.resolved[0] = addr_of("192.0.2.10");
	s.resolved[1] = addr_of("2001:db8::10");
	s.nresolved = 2;

	/* the program dialled the address itself */
	t = target("192.0.2.10", 6379, NULL);
	assert_int_equal(match_test(&s, &t), MATCH_BY_RESOLVED);
	t = target("2001:db8::10", 6379, NULL);
	assert_int_equal(match_test(&s, &t), MATCH_BY_RESOLVED);
	t = target("::ffff:192.0.2.10", 6379, NULL);
	assert_int_equal(match_test(&s, &t), MATCH_BY_RESOLVED);
	/* another name for the same address */
	t = target("192.0.2.10", 6379, "alias.example.net");
	assert_int_equal(match_test(&s, &t), MATCH_BY_RESOLVED);
	/* the name wins when it matches */
	t = target("192.0.2.10", 6379, "redis.example.com");
	assert_int_equal(match_test(&s, &t), MATCH_BY_NAME);
	/* wrong port, unrelated address */
	t = target("192.0.2.10", 6380, NULL);
	assert_int_equal(match_test(&s, &t), MATCH_NONE);
	t = target("192.0.2.11", 6379, NULL);
	assert_int_equal(match_test(&s, &t), MATCH_NONE);
}

static void test_resolved_v4_mapped_entry_matches_ipv4_target(void **state)
{
	struct match_spec s = parse_ok("redis:6379");
	struct match_target t = target("10.0.0.7", 6379, NULL);

	s.resolved[0] = addr_of("::ffff:10.0.0.7");
	s.nresolved = 1;
	assert_int_equal(match_test(&s, &t), MATCH_BY_RESOLVED);
}

static void test_resolved_is_ignored_for_other_kinds(void **state)
{
	struct match_spec s = parse_ok("*.example.com:6379");
	struct match_target t = target("192.0.2.10", 6379, NULL);

	s.resolved[0] = addr_of("192.0.2.10");
	s.nresolved = 1;
	assert_int_equal(match_test(&s, &t), MATCH_NONE);
}

/* ---- sockaddr and helpers ---------------------------------------------- */

static void test_target_from_sockaddr_v4_v6_mapped(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(6379) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(6380) };
	struct match_target t;
	char buf[64];

	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	assert_int_equal(match_target_from_sockaddr((struct sockaddr *)&sin,
						    sizeof(sin), "n", &t),
			 0);
	assert_int_equal(t.addr.family, AF_INET);
	assert_int_equal(t.port, 6379);
	assert_string_equal(t.name, "n");

	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	assert_int_equal(match_target_from_sockaddr((struct sockaddr *)&sin6,
						    sizeof(sin6), NULL, &t),
			 0);
	assert_int_equal(t.addr.family, AF_INET6);
	assert_int_equal(t.port, 6380);
	assert_null(t.name);

	inet_pton(AF_INET6, "::ffff:192.0.2.9", &sin6.sin6_addr);
	assert_int_equal(match_target_from_sockaddr((struct sockaddr *)&sin6,
						    sizeof(sin6), NULL, &t),
			 0);
	assert_int_equal(t.addr.family, AF_INET);
	assert_string_equal(addr_format(&t.addr, buf, sizeof(buf)),
			    "192.0.2.9");
}

/* connect() takes an AF_INET6 length of 24-27 (no scope id) as well as
   28: each must match like 28, or "::1" and "::ffff:127.0.0.1" would pass
   by without TLS. */
static void test_v6_short_lengths_match_like_full(void **state)
{
	static const char *dest[] = { "::1", "::ffff:127.0.0.1" };
	struct match_spec v6 = parse_ok("[::1]:6379");
	struct match_spec v4 = parse_ok("127.0.0.1:6379");

	for (size_t i = 0; i < 2; i++) {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
					     .sin6_port = htons(6379) };
		const struct match_spec *want = i == 0 ? &v6 : &v4;

		assert_int_equal(inet_pton(AF_INET6, dest[i], &sin6.sin6_addr),
				 1);
		for (socklen_t len = 24; len <= sizeof(sin6); len++) {
			struct match_target t;

			assert_int_equal(match_target_from_sockaddr(
						 (struct sockaddr *)&sin6, len,
						 NULL, &t),
					 0);
			assert_int_equal(t.port, 6379);
			assert_int_equal(match_test(want, &t), MATCH_BY_ADDR);
		}
	}
}

/* A CIDR base is written in full, where "10.1/16" would read as
   10.0.0.1; a zone cannot be matched. */
static void test_short_forms_and_zones_in_specs(void **state)
{
	assert_string_equal(parse_err("10.1/16:6379"),
			    "'10.1' is not an IPv4 address (IPv6 blocks are "
			    "written [fd00::]/8)");
	assert_string_equal(parse_err("[fe80::1%eth0]:6379"),
			    "'[fe80::1%eth0]': a zone (%...) cannot be "
			    "matched; write the address alone");
	/* a target dialled as "127.1" is 127.0.0.1 and matches */
	assert_int_equal(test_one("127.0.0.1:6379", "127.0.0.1", 6379, NULL),
			 MATCH_BY_ADDR);
}

/* match_test_set: the engine's fresh set stands for spec->resolved. */
static void test_match_test_set(void **state)
{
	struct match_spec s = parse_ok("redis.example.com:6379");
	struct match_target t = target("192.0.2.20", 6379, NULL);
	struct addr_ip now[1];

	s.resolved[0] = addr_of("192.0.2.10");
	s.nresolved = 1;
	now[0] = addr_of("192.0.2.20");
	assert_int_equal(match_test(&s, &t), MATCH_NONE);
	assert_int_equal(match_test_set(&s, &t, now, 1), MATCH_BY_RESOLVED);
	assert_int_equal(match_test_set(&s, &t, NULL, 0), MATCH_NONE);
}

static void test_target_from_sockaddr_rejects_short_and_unix(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct match_target t;

	assert_int_equal(match_target_from_sockaddr((struct sockaddr *)&sin,
						    sizeof(sin) - 1, NULL, &t),
			 -1);
	/* 24 bytes (RFC 2133, no scope id) is the kernel's minimum */
	assert_int_equal(match_target_from_sockaddr((struct sockaddr *)&sin6,
						    24 - 1, NULL, &t),
			 -1);
	assert_int_equal(match_target_from_sockaddr((struct sockaddr *)&sun,
						    sizeof(sun), NULL, &t),
			 -1);
	assert_int_equal(match_target_from_sockaddr(NULL, 0, NULL, &t), -1);
}

static void test_addr_format_small_buffer(void **state)
{
	struct addr_ip a = addr_of("2001:db8::1");
	struct addr_ip bad = { .family = AF_UNIX };
	char small[4], buf[64];

	assert_string_equal(addr_format(&a, small, sizeof(small)), "?");
	assert_string_equal(addr_format(&bad, buf, sizeof(buf)), "?");
}

static void test_is_ip_literal(void **state)
{
	assert_true(addr_is_literal("10.0.0.1"));
	assert_true(addr_is_literal("127.1")); /* getaddrinfo takes it */
	assert_true(addr_is_literal("::1"));
	assert_true(addr_is_literal("2001:db8::1"));
	assert_true(addr_is_literal("fe80::1%eth0"));
	assert_true(addr_is_literal("::ffff:10.0.0.1"));
	assert_false(addr_is_literal("redis.example.com"));
	assert_false(addr_is_literal("[::1]"));
	assert_false(addr_is_literal("10.0.0.1 x"));
	assert_false(addr_is_literal(""));
	assert_false(addr_is_literal(NULL));
}

static void test_check_name(void **state)
{
	char err[128];

	assert_int_equal(match_check_name("redis.example.com.", err,
					  sizeof(err)),
			 0);
	assert_int_equal(match_check_name("10.0.0.1", err, sizeof(err)), -1);
	assert_string_equal(err, "'10.0.0.1' is neither a valid IPv4 address "
				 "nor a host name");
	assert_int_equal(match_check_name("*.example.com", err, sizeof(err)),
			 -1);
	assert_int_equal(match_check_name("", err, sizeof(err)), -1);
	assert_string_equal(err, "empty host name");
	assert_int_equal(match_check_name(NULL, err, sizeof(err)), -1);
}

/* verify_name patterns: what is one, and why the others are not. */
static void test_patterns(void **state)
{
	static const char *const good[] = { "*.cluster.test", "*.test",
					    "*.Cluster.Test.",
					    "*.xn--80akhbyknj4f.test" };
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "*", "names no domain" },
		{ "*.", "names no domain" },
		{ "*x.test", "only allowed as the whole first label" },
		{ "*.*.test", "only allowed as the whole first label" },
		{ "*.a.*.test", "only allowed as the whole first label" },
		{ "*.10.0.0.1", "not an IP address" },
		{ "*.::1", "not an IP address" },
		{ "*.a b.test", "bad character ' '" },
		{ "*.1.2", "not an IP address" }, /* 1.0.0.2 */
		{ "*.a.1", "neither a valid IPv4 address nor a host name" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(match_is_pattern(good[i]));
		if (match_check_pattern(good[i], err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", good[i], err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(match_check_pattern(bad[i].text, err,
						     sizeof(err)), -1);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", bad[i].text,
				 err, bad[i].why);
	}
	assert_false(match_is_pattern("cluster.test"));
	assert_false(match_is_pattern("*"));
	assert_false(match_is_pattern("10.0.0.1"));
	assert_false(match_is_pattern(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_is_lowered_and_trailing_dot_dropped),
		cmocka_unit_test(test_single_label_and_underscore_names),
		cmocka_unit_test(test_wildcard_form),
		cmocka_unit_test(test_ipv4_address_form),
		cmocka_unit_test(test_ipv6_address_form),
		cmocka_unit_test(test_v4_mapped_spec_is_stored_as_ipv4),
		cmocka_unit_test(test_cidr4_form_masks_host_bits),
		cmocka_unit_test(test_cidr6_both_spellings),
		cmocka_unit_test(test_port_forms),
		cmocka_unit_test(test_malformed_specs_are_rejected_with_reason),
		cmocka_unit_test(test_label_longer_than_63_is_rejected),
		cmocka_unit_test(test_name_longer_than_253_is_rejected),
		cmocka_unit_test(test_host_part_too_long_is_rejected),
		cmocka_unit_test(
			test_failed_parse_leaves_spec_zeroed_and_tiny_err_ok),
		cmocka_unit_test(
			test_name_matches_case_insensitive_and_trailing_dot),
		cmocka_unit_test(test_wildcard_matches_one_or_more_labels_only),
		cmocka_unit_test(test_address_specs_match_by_address),
		cmocka_unit_test(test_v4_mapped_targets_compare_as_ipv4),
		cmocka_unit_test(test_cidr4_boundaries),
		cmocka_unit_test(test_cidr6_boundaries),
		cmocka_unit_test(test_port_ranges_are_inclusive),
		cmocka_unit_test(test_name_spec_matches_resolved_addresses),
		cmocka_unit_test(
			test_resolved_v4_mapped_entry_matches_ipv4_target),
		cmocka_unit_test(test_resolved_is_ignored_for_other_kinds),
		cmocka_unit_test(test_target_from_sockaddr_v4_v6_mapped),
		cmocka_unit_test(
			test_target_from_sockaddr_rejects_short_and_unix),
		cmocka_unit_test(test_addr_format_small_buffer),
		cmocka_unit_test(test_is_ip_literal),
		cmocka_unit_test(test_v6_short_lengths_match_like_full),
		cmocka_unit_test(test_short_forms_and_zones_in_specs),
		cmocka_unit_test(test_match_test_set),
		cmocka_unit_test(test_check_name),
		cmocka_unit_test(test_patterns),
	};

	return cmocka_run_group_tests_name("match", tests, NULL, NULL);
}
