/*
 * tls_ctx.h - one OpenSSL context per configured endpoint: trust store and
 * CRL, client certificate and key, protocol limits, ciphers, key log.  The
 * endpoint's session-resumption cache is used through tls_cache.h; the
 * certificate facts the engine checks after a handshake (expiry,
 * public-key pin) are tls_cert.h's.
 *
 * Built at engine init, so every file and key problem is reported at load
 * with the configuration's file:line.  A reload (reload.c) builds a new
 * context with the same code and swaps it in with tls_ctx_swap.
 *
 * Thread-safety: ep->ctx is the current context.  Read it only between
 * tls_ctx_read_lock and tls_ctx_read_unlock (tls_session_new's SSL_new
 * does, called from engine_open); tls_ctx_swap replaces it under the
 * exclusive lock.  Every SSL holds its own reference to the context it was
 * made from, so sessions already open keep theirs.  The resumption cache
 * (session_cache.h) has its own lock (order: ctx_lock, then the cache's)
 * and only ever holds sessions made with the current context.
 */
#ifndef SHIM_TLS_CTX_H
#define SHIM_TLS_CTX_H

#include "tls_types.h"
#include <pthread.h>
#include <time.h>

#include "config.h"
#include "session_cache.h"

struct tls_endpoint {
	const struct cfg_endpoint *cfg;
	SSL_CTX *ctx; /* current; see the locking rules above */
	pthread_rwlock_t ctx_lock;
	struct session_cache cache; /* sessions of the current ctx only */
};

/*
 * tls_ctx_build - initialise *ep for `cfg` and build its first context.
 * Returns 0, or -1 with a one-line "FILE:LINE: ..." reason (ep is then
 * left freed).
 */
int tls_ctx_build(struct tls_endpoint *ep, const struct cfg_endpoint *cfg,
		  char *err, size_t errlen);
void tls_ctx_free(struct tls_endpoint *ep);

/*
 * tls_ctx_new - a new context for `cfg`, loading every file again: what
 * tls_ctx_build and a reload use.  Logs the warnings a load gives (client
 * certificate expiring within TLS_EXPIRY_WARN_DAYS (tls_cert.h), CRL out
 * of date).
 * Returns the context, or NULL with a one-line reason.
 */
SSL_CTX *tls_ctx_new(const struct cfg_endpoint *cfg, char *err,
		     size_t errlen);

/* tls_ctx_swap - make `ctx` (whose reference ep takes) the current
   context, drop the old one's reference and every cached session. */
void tls_ctx_swap(struct tls_endpoint *ep, SSL_CTX *ctx);

/* Hold these around any read of ep->ctx (SSL_new). */
void tls_ctx_read_lock(struct tls_endpoint *ep);
void tls_ctx_read_unlock(struct tls_endpoint *ep);

/* Around fork(2): take ep's locks; give them back (child: anew). */
void tls_ctx_fork_prepare(struct tls_endpoint *ep);
void tls_ctx_fork_after(struct tls_endpoint *ep, int child);

/*
 * tls_ctx_set_strict - with on, an expired client certificate fails
 * tls_ctx_new (redis-tls-ctl check-config, used before exec); without,
 * it is logged as an error and loaded anyway (the server will say no).
 */
void tls_ctx_set_strict(int on);

/*
 * tls_ctx_verdict_until - the earliest of `until` and the times at which
 * a strict load of ep's files (the check) could stop passing: the
 * notAfter of its client certificate and of each CA certificate of its
 * ca_file that is valid now.  For redis-tls-ctl check-config's cache.
 */
time_t tls_ctx_verdict_until(struct tls_endpoint *ep, time_t now,
			     time_t until);

/* tls_ctx_ex_index - SSL ex_data slot holding the struct shim_tls. */
int tls_ctx_ex_index(void);

/* tls_openssl_error - the newest OpenSSL error as text (and clear the
   queue); "" if none.  TLS_OSSL_ERR_MAX holds any. */
#define TLS_OSSL_ERR_MAX 256
const char *tls_openssl_error(char *buf, size_t len);

/* tls_ssl_mark - set the engine's one-bit mark on ssl; returns the old
   value (the engine counts each session once in its statistics). */
int tls_ssl_mark(SSL *ssl);

/* tls_ssl_resumed - 1 if the handshake resumed a session. */
int tls_ssl_resumed(const SSL *ssl);

/* tls_ssl_finished - 1 once the handshake has completed. */
int tls_ssl_finished(const SSL *ssl);

#endif
