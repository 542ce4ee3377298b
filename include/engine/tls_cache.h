/*
 * tls_cache.h - an endpoint's session-resumption cache (session_cache.h)
 * as the TLS layer uses it: sessions under the full cache key of their
 * connection ("expect|sni|ip|port"), only ever of the endpoint's current
 * context (tls_ctx_swap empties it).
 *
 * Thread-safety: the cache's own lock (order: the endpoint's ctx_lock,
 * then the cache's).
 */
#ifndef SHIM_TLS_CACHE_H
#define SHIM_TLS_CACHE_H

#include "tls_ctx.h"

/* tls_cache_get - a new reference to the session kept under `key`, or
   NULL.  tls_cache_put - keep `s` (its reference passes to the cache, or
   is dropped if the cache will not keep it).  tls_cache_drop - forget the
   session under `key` (one that must not be resumed). */
SSL_SESSION *tls_cache_get(struct tls_endpoint *ep, const char *key);
void tls_cache_put(struct tls_endpoint *ep, const char *key, SSL_SESSION *s);
void tls_cache_drop(struct tls_endpoint *ep, const char *key);

/* tls_cache_new_session - the context's new-session callback
   (SSL_CTX_sess_set_new_cb): keep a session, or a ticket that arrives
   later, unless the context was swapped meanwhile.  1 if the cache took
   the reference. */
int tls_cache_new_session(SSL *ssl, SSL_SESSION *sess);

#endif
