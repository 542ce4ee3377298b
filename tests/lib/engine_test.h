/*
 * engine_test.h - what the tests that drive the engine in-process share
 * (tests/unit/test_tls_session.c, tests/fuzz/fuzz_session.c): a growable
 * byte buffer for the fake wire, the fake host's log check, and the
 * in-memory PKI's certificate maker.
 *
 * Header-only (each test is compiled alone); the includer defines
 * ENGINE_TEST_REQUIRE(cond), its way of failing (a cmocka assertion, or
 * abort() in the fuzz target), before including it.
 */
#ifndef ENGINE_TEST_H
#define ENGINE_TEST_H

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ENGINE_TEST_REQUIRE
#error "define ENGINE_TEST_REQUIRE(cond) before including engine_test.h"
#endif

struct buf {
	unsigned char *p;
	size_t len, off, cap;
};

static inline void buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ENGINE_TEST_REQUIRE(b->p != NULL);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline size_t buf_avail(const struct buf *b)
{
	return b->len - b->off;
}

static inline void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A log line of the engine: never a "(null)" in it; shown on stderr when
   the variable `show` is set. */
static inline void engine_test_log(const char *show, int level,
				   const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	ENGINE_TEST_REQUIRE(strstr(line, "(null)") == NULL);
	if (getenv(show) != NULL)
		fprintf(stderr, "log[%d]: %s\n", level, line);
}

static inline void engine_test_ext(X509 *cert, X509 *issuer, int nid,
				   const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	ENGINE_TEST_REQUIRE(ext != NULL);
	ENGINE_TEST_REQUIRE(X509_add_ext(cert, ext, -1) == 1);
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for `key` named CN=cn (and O=org if not NULL), valid from
 * an hour ago for `days`, signed by (issuer, ikey), self-signed when
 * issuer is NULL.  A CA (is_ca) gets CA:TRUE and keyCertSign; a leaf
 * CA:FALSE, the extended key usage eku and, if not NULL, the SANs.
 * Ed25519 keys sign without a digest, others with SHA-256.
 */
static inline X509 *engine_test_cert(EVP_PKEY *key, const char *org,
				     const char *cn, X509 *issuer,
				     EVP_PKEY *ikey, long serial, long days,
				     int is_ca, const char *san,
				     const char *eku)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_PKEY *signer = ikey ? ikey : key;
	X509 *iss = issuer ? issuer : c;

	ENGINE_TEST_REQUIRE(c != NULL && n != NULL);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	if (org != NULL)
		X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
					   (const unsigned char *)org, -1, -1,
					   0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, n);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 3600L * 24 * days);
	X509_set_pubkey(c, key);
	if (is_ca) {
		engine_test_ext(c, iss, NID_basic_constraints,
				"critical,CA:TRUE");
		engine_test_ext(c, iss, NID_key_usage,
				"critical,keyCertSign,cRLSign");
	} else {
		engine_test_ext(c, iss, NID_basic_constraints, "CA:FALSE");
		engine_test_ext(c, iss, NID_ext_key_usage, eku);
		if (san != NULL)
			engine_test_ext(c, iss, NID_subject_alt_name, san);
	}
	ENGINE_TEST_REQUIRE(X509_sign(c, signer,
				      EVP_PKEY_id(signer) == EVP_PKEY_ED25519
					      ? NULL
					      : EVP_sha256()) > 0);
	X509_NAME_free(n);
	return c;
}

#endif
