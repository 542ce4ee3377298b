/*
 * test_sni_name.c - which name a connection verifies and which it sends as
 * SNI (DESIGN, security rule 2), decided by engine_names(): one row per
 * configuration case.  Each row names the endpoint spec (and, for a host
 * name, the addresses it resolves to), its verify_name and sni options,
 * the name the program resolved for this connection (names.c's capture;
 * NULL: it dialled a literal) and the address dialled; the row's match
 * (by name, by address, by the endpoint's resolved set) is computed by
 * match.c as the engine does.  Expected: the name or IP verified, and the
 * SNI sent (NULL: none).  A wrong row here is a certificate accepted for
 * the wrong name, or a server that cannot pick its certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "config.h"
#include "engine.h"
#include "match.h"

struct row {
	const char *what;
	const char *spec;     /* the endpoint's match */
	const char *resolved; /* a NAME spec's address now, or NULL */
	const char *verify_name, *sni; /* options, NULL: unset */
	const char *name;     /* the name the program resolved, or NULL */
	const char *ip;       /* the address dialled */
	unsigned port;
	const char *want_verify;
	const char *want_sni; /* NULL: no SNI */
};

static const struct row rows[] = {
	/* endpoint given by host name */
	{ "host name endpoint, program dialled that name",
	  "redis.example.com:6379", "10.0.0.5", NULL, NULL,
	  "redis.example.com", "10.0.0.5", 6379,
	  "redis.example.com", "redis.example.com" },
	{ "host name endpoint, program dialled its address (no name seen)",
	  "redis.example.com:6379", "10.0.0.5", NULL, NULL,
	  NULL, "10.0.0.5", 6379,
	  "redis.example.com", "redis.example.com" },
	{ "host name endpoint, program resolved another name to its address",
	  "redis.example.com:6379", "10.0.0.5", NULL, NULL,
	  "alias.example.net", "10.0.0.5", 6379,
	  "redis.example.com", "redis.example.com" },
	{ "host name endpoint, program dialled the name with a trailing dot",
	  "redis.example.com:6379", "10.0.0.5", NULL, NULL,
	  "redis.example.com.", "10.0.0.5", 6379,
	  "redis.example.com", "redis.example.com" },
	{ "host name endpoint, sni set",
	  "redis.example.com:6379", "10.0.0.5", NULL, "front.example.com",
	  "redis.example.com", "10.0.0.5", 6379,
	  "redis.example.com", "front.example.com" },
	{ "host name endpoint, verify_name set",
	  "redis.example.com:6379", "10.0.0.5", "cert.example.com", NULL,
	  "redis.example.com", "10.0.0.5", 6379,
	  "cert.example.com", "redis.example.com" },
	{ "wildcard endpoint, program dialled a name under it",
	  "*.internal.example.com:6379", NULL, NULL, NULL,
	  "db1.internal.example.com", "10.2.0.1", 6379,
	  "db1.internal.example.com", "db1.internal.example.com" },
	{ "wildcard endpoint, trailing dot",
	  "*.internal.example.com:6379", NULL, NULL, NULL,
	  "db1.internal.example.com.", "10.2.0.1", 6379,
	  "db1.internal.example.com", "db1.internal.example.com" },

	/* endpoint given by IP or CIDR */
	{ "IP endpoint, no option, program dialled the IP",
	  "10.0.0.7:6379", NULL, NULL, NULL,
	  NULL, "10.0.0.7", 6379,
	  "10.0.0.7", NULL },
	{ "IPv6 endpoint, no option, program dialled the IP",
	  "[2001:db8::7]:6379", NULL, NULL, NULL,
	  NULL, "2001:db8::7", 6379,
	  "2001:db8::7", NULL },
	{ "IP endpoint, v4-mapped address text: verified in canonical form",
	  "10.0.0.7:6379", NULL, NULL, NULL,
	  NULL, "::ffff:10.0.0.7", 6379,
	  "10.0.0.7", NULL },
	{ "IP endpoint, program dialled a name it resolved (names ring)",
	  "10.0.0.7:6379", NULL, NULL, NULL,
	  "cache.example.com", "10.0.0.7", 6379,
	  "cache.example.com", "cache.example.com" },
	{ "IP endpoint, sni set, program dialled the IP",
	  "10.0.0.7:6379", NULL, NULL, "front.example.com",
	  NULL, "10.0.0.7", 6379,
	  "10.0.0.7", "front.example.com" },
	{ "CIDR endpoint, verify_name and sni set, program dialled the IP",
	  "10.1.0.0/16:10000-10099", NULL, "cluster.example.com",
	  "cluster.example.com",
	  NULL, "10.1.2.3", 10001,
	  "cluster.example.com", "cluster.example.com" },
	{ "CIDR endpoint, verify_name set (SNI follows it), dialled the IP",
	  "10.1.0.0/16:10000-10099", NULL, "cluster.example.com", NULL,
	  NULL, "10.1.2.3", 10001,
	  "cluster.example.com", "cluster.example.com" },
	{ "CIDR endpoint, verify_name set, program dialled a captured name",
	  "10.1.0.0/16:10000-10099", NULL, "cluster.example.com", NULL,
	  "node1.example.com", "10.1.2.3", 10001,
	  "cluster.example.com", "node1.example.com" },
	{ "CIDR endpoint, verify_name and sni set, captured name ignored",
	  "10.1.0.0/16:*", NULL, "cluster.example.com", "sni.example.com",
	  "node1.example.com", "10.1.2.3", 10001,
	  "cluster.example.com", "sni.example.com" },
	{ "IP endpoint, verify_name an IP literal: IP SAN check, no SNI",
	  "10.0.0.7:6379", NULL, "10.0.0.9", NULL,
	  NULL, "10.0.0.7", 6379,
	  "10.0.0.9", NULL },
	{ "IP endpoint, verify_name a v4-mapped literal: canonical, no SNI",
	  "10.0.0.7:6379", NULL, "::ffff:10.0.0.9", NULL,
	  NULL, "10.0.0.7", 6379,
	  "10.0.0.9", NULL },
	{ "IP endpoint, verify_name an IP literal, captured name is SNI",
	  "10.0.0.7:6379", NULL, "10.0.0.9", NULL,
	  "cache.example.com", "10.0.0.7", 6379,
	  "10.0.0.9", "cache.example.com" },
	{ "loopback endpoint, program dialled localhost",
	  "127.0.0.1:6379", NULL, NULL, NULL,
	  "localhost", "127.0.0.1", 6379,
	  "localhost", "localhost" },

	/* verify_name a pattern: the pattern is verified, never sent */
	{ "CIDR endpoint, verify_name a pattern, dialled the IP: no SNI",
	  "10.1.0.0/16:7000-7099", NULL, "*.cluster.test", NULL,
	  NULL, "10.1.2.3", 7001,
	  "*.cluster.test", NULL },
	{ "CIDR endpoint, verify_name a pattern and sni set",
	  "10.1.0.0/16:7000-7099", NULL, "*.cluster.test", "node.cluster.test",
	  NULL, "10.1.2.3", 7001,
	  "*.cluster.test", "node.cluster.test" },
	{ "CIDR endpoint, verify_name a pattern, dialled a captured name: no SNI",
	  "10.1.0.0/16:7000-7099", NULL, "*.cluster.test", NULL,
	  "node1.cluster.test", "10.1.2.3", 7001,
	  "*.cluster.test", NULL },
	{ "IPv6 endpoint, verify_name a pattern, dialled the IP: no SNI",
	  "[fd00::]/8:7000", NULL, "*.cluster.test", NULL,
	  NULL, "fd00::7", 7000,
	  "*.cluster.test", NULL },
	{ "host name endpoint, verify_name a pattern, dialled its address: no SNI",
	  "redis.example.com:6379", "10.0.0.5", "*.example.com", NULL,
	  NULL, "10.0.0.5", 6379,
	  "*.example.com", NULL },
	{ "wildcard endpoint, verify_name a pattern, dialled a name under it: no SNI",
	  "*.cluster.test:7000", NULL, "*.cluster.test", NULL,
	  "node2.cluster.test", "10.1.2.3", 7000,
	  "*.cluster.test", NULL },
};

static void target_of(const struct row *r, struct match_target *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(addr_parse(r->ip, &t->addr), 0);
	addr_normalize(&t->addr);
	t->port = r->port;
	t->name = r->name;
}

/* 0 if the row holds, else 1 and a line saying how it does not. */
static int check_row(const struct row *r)
{
	struct cfg_endpoint ep;
	struct match_target t;
	struct addr_ip set[1];
	struct engine_names nm;
	enum match_result how;
	char err[256] = "";

	memset(&ep, 0, sizeof(ep));
	if (match_parse(r->spec, &ep.match, err, sizeof(err)) != 0)
		fail_msg("%s: match_parse(%s): %s", r->what, r->spec, err);
	ep.tls.verify_name = (char *)r->verify_name;
	ep.tls.sni = (char *)r->sni;
	target_of(r, &t);
	if (r->resolved != NULL)
		assert_int_equal(addr_parse(r->resolved, &set[0]), 0);
	how = match_test_set(&ep.match, &t, set, r->resolved ? 1 : 0);
	if (how == MATCH_NONE)
		fail_msg("%s: the row's target does not match %s", r->what,
			 r->spec);
	engine_names(&ep, how, r->name, r->ip, &nm);
	if (nm.expect == NULL || strcmp(nm.expect, r->want_verify) != 0 ||
	    (r->want_sni == NULL) != (nm.sni == NULL) ||
	    (nm.sni != NULL && strcmp(nm.sni, r->want_sni) != 0)) {
		print_error("row '%s': verifies '%s' and sends SNI '%s'; want "
			    "'%s' and '%s'\n", r->what,
			    nm.expect ? nm.expect : "(null)",
			    nm.sni ? nm.sni : "(none)", r->want_verify,
			    r->want_sni ? r->want_sni : "(none)");
		return 1;
	}
	return 0;
}

static void test_rows(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		bad += check_row(&rows[i]);
	assert_int_equal(bad, 0);
}

/* Whatever the row, an IP literal is never the SNI (RFC 6066) and the
   name verified is never empty. */
static void test_never_sni_for_ip(void **state)
{
	static const char *const ips[] = { "10.0.0.7", "::ffff:10.0.0.7",
					   "2001:db8::7", "127.1" };
	struct cfg_endpoint ep;
	struct engine_names nm;
	char err[128];

	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		memset(&ep, 0, sizeof(ep));
		assert_int_equal(match_parse("10.0.0.0/8:*", &ep.match, err,
					     sizeof(err)), 0);
		ep.tls.verify_name = (char *)ips[i];
		engine_names(&ep, MATCH_BY_ADDR, NULL, "10.0.0.7", &nm);
		assert_null(nm.sni);
		assert_true(addr_is_literal(nm.expect));
		ep.tls.verify_name = NULL;
		engine_names(&ep, MATCH_BY_ADDR, NULL, ips[i], &nm);
		assert_null(nm.sni);
		assert_true(nm.expect[0] != '\0');
	}
}

/* Only the configuration makes a pattern: a verify_name "*.DOMAIN" is
   one; a name the program resolved that has a '*' in it (a wildcard DNS
   record answers for it) is verified as the name it is, never as a
   pattern; a plain verify_name is none. */
static void test_pattern_only_from_config(void **state)
{
	struct cfg_endpoint ep;
	struct engine_names nm;
	char err[128];

	memset(&ep, 0, sizeof(ep));
	assert_int_equal(match_parse("*.cluster.test:7000", &ep.match, err,
				     sizeof(err)), 0);
	engine_names(&ep, MATCH_BY_NAME, "*.cluster.test", "10.1.2.3", &nm);
	assert_string_equal(nm.expect, "*.cluster.test");
	assert_false(nm.pattern);
	ep.tls.verify_name = "*.cluster.test";
	engine_names(&ep, MATCH_BY_NAME, "node1.cluster.test", "10.1.2.3",
		     &nm);
	assert_string_equal(nm.expect, "*.cluster.test");
	assert_true(nm.pattern);
	ep.tls.verify_name = "cluster.test";
	engine_names(&ep, MATCH_BY_NAME, "node1.cluster.test", "10.1.2.3",
		     &nm);
	assert_false(nm.pattern);
	ep.tls.verify_name = "10.1.2.3";
	engine_names(&ep, MATCH_BY_NAME, NULL, "10.1.2.3", &nm);
	assert_false(nm.pattern);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_never_sni_for_ip),
		cmocka_unit_test(test_pattern_only_from_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
