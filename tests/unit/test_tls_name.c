/*
 * test_tls_name.c - the name checks OpenSSL does not make (tls_name.h),
 * on certificates made here with OpenSSL's own APIs, SANs written byte by
 * byte so that names no CA should issue can be tried:
 *   - tls_name_under, a verify_name pattern "*.DOMAIN": names one or more
 *     labels below DOMAIN pass (deeper ones too, any case, a trailing
 *     dot, IDNA A-labels as bytes, a certificate wildcard "*.DOMAIN" or
 *     below); the bare DOMAIN, look-alike suffixes, a wildcard that could
 *     name another domain ("*.test"), partial and inner wildcards, an
 *     embedded NUL, empty labels, raw UTF-8, IP SANs, e-mail and URI
 *     SANs and the subject CN never do; and OpenSSL's own subdomain check
 *     is shown to accept some of those (why the walk exists);
 *   - tls_name_ip_in_cn: the CN of a certificate without any SAN, one CN,
 *     exactly the canonical IP text; nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#define ENGINE_TEST_REQUIRE(c) assert_true(c)
#include "../lib/engine_test.h"

#include "tls_name.h"

static EVP_PKEY *key;

static int setup(void **state)
{
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return key != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	EVP_PKEY_free(key);
	return 0;
}

/* One SAN: type GEN_DNS (bytes, len; 0: strlen), GEN_IPADD (text),
   GEN_EMAIL or GEN_URI (text). */
struct san {
	int type;
	const char *v;
	size_t len;
};

#define DNS(s) { GEN_DNS, s, sizeof(s) - 1 } /* embedded NULs kept */
#define IP(s) { GEN_IPADD, s, 0 }

static GENERAL_NAME *san_make(const struct san *s)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *v;

	assert_non_null(g);
	if (s->type == GEN_IPADD) {
		v = a2i_IPADDRESS(s->v);
		assert_non_null(v);
	} else {
		v = ASN1_IA5STRING_new();
		assert_non_null(v);
		assert_int_equal(ASN1_STRING_set(v, s->v, s->len ? (int)s->len
								 : -1), 1);
	}
	GENERAL_NAME_set0_value(g, s->type, v);
	return g;
}

/* A self-signed leaf, CN=cn (NULL: O only), with the n SANs (sans NULL:
   no subjectAltName extension at all; n = 0: an empty one). */
static X509 *leaf(const char *cn, const struct san *sans, size_t n)
{
	X509 *c = engine_test_cert(key, "test", cn ? cn : "x", NULL, NULL, 1,
				   1, 0, NULL, "serverAuth");
	GENERAL_NAMES *gs;

	if (cn == NULL) {
		X509_NAME *nm = X509_get_subject_name(c);
		X509_NAME_ENTRY *e = X509_NAME_delete_entry(
			nm, X509_NAME_get_index_by_NID(nm, NID_commonName, -1));

		X509_NAME_ENTRY_free(e);
	}
	if (sans == NULL)
		return c;
	gs = sk_GENERAL_NAME_new_null();
	assert_non_null(gs);
	for (size_t i = 0; i < n; i++)
		assert_true(sk_GENERAL_NAME_push(gs, san_make(&sans[i])) > 0);
	assert_int_equal(X509_add1_ext_i2d(c, NID_subject_alt_name, gs, 0,
				       X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(gs);
	return c;
}

/* tls_name_under on a leaf whose one SAN is the dNSName [s, s + len). */
static int one_dns(const char *s, size_t len, const char *domain)
{
	struct san sn = { GEN_DNS, s, len };
	X509 *c = leaf("cn.example", &sn, 1);
	char found[300];
	int ok = tls_name_under(c, domain, found, sizeof(found));

	if (ok)
		assert_memory_equal(found, s, len);
	else
		assert_string_equal(found, "");
	X509_free(c);
	return ok;
}

struct row {
	const char *san;
	size_t len; /* with embedded NULs */
	const char *domain;
	int want;
	const char *why;
};

#define ROW(s, d, w, why) { s, sizeof(s) - 1, d, w, why }

static const struct row rows[] = {
	ROW("node1.cluster.test", "cluster.test", 1, "one label below"),
	ROW("a.b.cluster.test", "cluster.test", 1, "deeper: still below"),
	ROW("NODE1.Cluster.TEST", "cluster.test", 1, "case-insensitive"),
	ROW("node1.cluster.test", "CLUSTER.test", 1, "the pattern's case too"),
	ROW("node1.cluster.test.", "cluster.test", 1, "a trailing dot"),
	ROW("xn--bcher-kva.cluster.test", "cluster.test", 1, "an A-label"),
	ROW("n.xn--80akhbyknj4f.test", "XN--80akhbyknj4f.test", 1,
	    "an A-label domain, as bytes, ASCII case folded"),
	ROW("redis_1.cluster.test", "cluster.test", 1, "'_', as names allow"),
	ROW("*.cluster.test", "cluster.test", 1,
	    "a certificate wildcard for the domain: only names below it"),
	ROW("*.cluster.test.", "cluster.test", 1, "... with a trailing dot"),
	ROW("*.a.cluster.test", "cluster.test", 1, "a wildcard below it"),
	ROW("a.test", "test", 1, "a single-label domain"),
	ROW("*.test", "test", 1, "... and its wildcard"),

	ROW("cluster.test", "cluster.test", 0, "the bare domain"),
	ROW("cluster.test.", "cluster.test", 0, "the bare domain, dotted"),
	ROW("xcluster.test", "cluster.test", 0, "a look-alike suffix"),
	ROW("node1.cluster.test.evil", "cluster.test", 0, "a suffix after"),
	ROW("node1.cluster.testx", "cluster.test", 0, "a longer last label"),
	ROW("node1.other.test", "cluster.test", 0, "another domain"),
	ROW(".cluster.test", "cluster.test", 0, "an empty first label"),
	ROW("a..cluster.test", "cluster.test", 0, "an empty inner label"),
	ROW("node1.cluster.test..", "cluster.test", 0, "two trailing dots"),
	ROW("node1.cluster.test.\0", "cluster.test", 0, "a NUL at the end"),
	ROW("evil.test\0.cluster.test", "cluster.test", 0, "an embedded NUL"),
	ROW("node1\0.cluster.test", "cluster.test", 0, "a NUL in a label"),
	ROW("b\xc3\xbc" "cher.cluster.test", "cluster.test", 0,
	    "raw UTF-8 (a U-label is no IA5 name)"),
	ROW("a b.cluster.test", "cluster.test", 0, "a space"),
	ROW("*", "cluster.test", 0, "a lone '*'"),
	ROW("*.", "cluster.test", 0, "'*.'"),
	ROW("*.test", "cluster.test", 0,
	    "a wildcard above the domain: it names other.test too"),
	ROW("*.*.test", "cluster.test", 0, "two wildcards"),
	ROW("*.*.cluster.test", "cluster.test", 0, "a wildcard in the middle"),
	ROW("a.*.cluster.test", "cluster.test", 0, "a wildcard in the middle"),
	ROW("f*.cluster.test", "cluster.test", 0, "a partial wildcard"),
	ROW("*f.cluster.test", "cluster.test", 0, "a partial wildcard"),
	ROW("**.cluster.test", "cluster.test", 0, "a double star"),
	ROW("node1.cluster.*", "cluster.test", 0, "a wildcard at the end"),
	ROW("", "cluster.test", 0, "an empty name"),
};

static void test_dns_names(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		int got = one_dns(r->san, r->len, r->domain);

		if (got != r->want) {
			print_error("'%.*s' under '%s': %s, want %s (%s)\n",
				    (int)r->len, r->san, r->domain,
				    got ? "yes" : "no", r->want ? "yes" : "no",
				    r->why);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* IP SANs, e-mail and URI SANs, the subject CN: never a DNS name under
   the domain, whatever they hold. */
static void test_only_dns_sans_count(void **state)
{
	static const struct san ips[] = { IP("10.0.0.5"), IP("::1") };
	static const struct san other[] = {
		{ GEN_EMAIL, "node1.cluster.test", 0 },
		{ GEN_URI, "node1.cluster.test", 0 },
	};
	X509 *c;

	c = leaf("node1.cluster.test", NULL, 0);
	assert_false(tls_name_under(c, "cluster.test", NULL, 0));
	X509_free(c);
	c = leaf("node1.cluster.test", ips, 2);
	assert_false(tls_name_under(c, "cluster.test", NULL, 0));
	X509_free(c);
	c = leaf("node1.cluster.test", other, 2);
	assert_false(tls_name_under(c, "cluster.test", NULL, 0));
	X509_free(c);
	c = leaf("node1.cluster.test", ips, 0);
	assert_false(tls_name_under(c, "cluster.test", NULL, 0));
	X509_free(c);
}

/* Any one good dNSName among others passes, and is the one named. */
static void test_first_good_name_is_found(void **state)
{
	static const struct san sans[] = {
		IP("10.0.0.5"), DNS("f*.cluster.test"),
		DNS("evil.test\0.cluster.test"), DNS("cluster.test"),
		DNS("node2.cluster.test"), DNS("node3.cluster.test"),
	};
	X509 *c = leaf("node1.cluster.test", sans, 6);
	char found[64] = "x", tiny[6];

	assert_true(tls_name_under(c, "cluster.test", found, sizeof(found)));
	assert_string_equal(found, "node2.cluster.test");
	assert_true(tls_name_under(c, "cluster.test", tiny, sizeof(tiny)));
	assert_string_equal(tiny, "node2");
	assert_false(tls_name_under(c, "other.test", found, sizeof(found)));
	assert_string_equal(found, "");
	X509_free(c);
}

/* Why the walk is ours: in its subdomain mode (a reference name with a
   leading dot) X509_check_host takes partial and inner wildcards, and an
   empty label, even with NO_PARTIAL_WILDCARDS. */
static void test_openssl_subdomain_mode_is_too_lax(void **state)
{
	static const char *const lax[] = { "f*.cluster.test",
					   "a.*.cluster.test",
					   ".cluster.test" };
	unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
			 X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;

	for (size_t i = 0; i < sizeof(lax) / sizeof(lax[0]); i++) {
		struct san sn = { GEN_DNS, lax[i], 0 };
		X509 *c = leaf("x", &sn, 1);

		assert_int_equal(X509_check_host(c, ".cluster.test", 0, flags,
						 NULL), 1);
		assert_false(tls_name_under(c, "cluster.test", NULL, 0));
		X509_free(c);
	}
}

/* The CN is the IP only without any SAN, with one CN, exactly. */
static void test_ip_in_cn(void **state)
{
	static const struct san dns[] = { DNS("node1.example") };
	static const struct san ip6[] = { IP("10.0.0.6") };
	X509 *c;

	c = leaf("10.0.0.5", NULL, 0);
	assert_true(tls_name_ip_in_cn(c, "10.0.0.5"));
	assert_false(tls_name_ip_in_cn(c, "10.0.0.6"));
	assert_false(tls_name_ip_in_cn(c, "10.0.0.50"));
	assert_false(tls_name_ip_in_cn(c, "10.0.0."));
	X509_free(c);

	c = leaf("2001:db8::1", NULL, 0);
	assert_true(tls_name_ip_in_cn(c, "2001:db8::1"));
	X509_free(c);
	c = leaf("2001:DB8::1", NULL, 0);
	assert_false(tls_name_ip_in_cn(c, "2001:db8::1"));
	X509_free(c);
	c = leaf("010.000.000.005", NULL, 0);
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);
	c = leaf("10.0.0.5 ", NULL, 0);
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);

	/* any SAN extension at all, even of no use, or empty: not the CN */
	c = leaf("10.0.0.5", dns, 1);
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);
	c = leaf("10.0.0.5", ip6, 1);
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);
	c = leaf("10.0.0.5", dns, 0);
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);

	c = leaf(NULL, NULL, 0); /* no CN */
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);
}

/* Two CNs, or a CN with a NUL after the address: refused. */
static void test_ip_in_cn_ambiguous(void **state)
{
	static const unsigned char nul[] = "10.0.0.5\0.evil";
	X509 *c = leaf("10.0.0.5", NULL, 0);

	assert_int_equal(X509_NAME_add_entry_by_txt(
				 X509_get_subject_name(c), "CN", MBSTRING_ASC,
				 (const unsigned char *)"10.0.0.5", -1, -1, 0),
			 1);
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);

	c = leaf(NULL, NULL, 0);
	assert_int_equal(X509_NAME_add_entry_by_txt(
				 X509_get_subject_name(c), "CN", V_ASN1_IA5STRING,
				 nul, sizeof(nul) - 1, -1, 0),
			 1);
	assert_false(tls_name_ip_in_cn(c, "10.0.0.5"));
	X509_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_names),
		cmocka_unit_test(test_only_dns_sans_count),
		cmocka_unit_test(test_first_good_name_is_found),
		cmocka_unit_test(test_openssl_subdomain_mode_is_too_lax),
		cmocka_unit_test(test_ip_in_cn),
		cmocka_unit_test(test_ip_in_cn_ambiguous),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
