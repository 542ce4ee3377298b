/*
 * tls_ctx.h - one OpenSSL context per configured endpoint: trust store,
 * client certificate and key, protocol limits, ciphers; plus the
 * endpoint's session-resumption cache.
 *
 * Built once at engine init, so every file and key problem is reported at
 * load with the configuration's file:line.  Read-only afterwards except the
 * resumption cache, which has its own lock.
 */
#ifndef SHIM_TLS_CTX_H
#define SHIM_TLS_CTX_H

#include <openssl/ssl.h>
#include <pthread.h>

#include "config.h"

#define TLS_CACHE_SLOTS 16

struct tls_cache_slot {
	char key[300]; /* "name|port" the session was made for */
	SSL_SESSION *sess;
	unsigned long stamp;
};

struct tls_endpoint {
	const struct cfg_endpoint *cfg;
	SSL_CTX *ctx;
	pthread_mutex_t cache_lock;
	struct tls_cache_slot cache[TLS_CACHE_SLOTS];
	unsigned long clock;
};

/* tls_ctx_build - 0, or -1 with a one-line "FILE:LINE: ..." reason. */
int tls_ctx_build(struct tls_endpoint *ep, const struct cfg_endpoint *cfg,
		  char *err, size_t errlen);
void tls_ctx_free(struct tls_endpoint *ep);

/* Resumption cache.  get returns a new reference or NULL. */
SSL_SESSION *tls_cache_get(struct tls_endpoint *ep, const char *key);
void tls_cache_put(struct tls_endpoint *ep, const char *key, SSL_SESSION *s);
void tls_cache_drop(struct tls_endpoint *ep, const char *key);

/* tls_ctx_ex_index - SSL ex_data slot holding the struct shim_tls. */
int tls_ctx_ex_index(void);

/* tls_openssl_error - the newest OpenSSL error as text (and clear the
   queue); "" if none. */
const char *tls_openssl_error(char *buf, size_t len);

#endif
