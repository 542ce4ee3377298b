/*
 * tls_cache.c - the resumption cache of an endpoint (session_cache.h) as
 * the TLS layer uses it: sessions stored under the full cache key of the
 * connection they came from, and only for the endpoint's current context.
 *
 * Thread-safety: session_cache's own lock; tls_cache_new_session takes it
 * around its check of the current context (order: ctx_lock, then the
 * cache's).
 */
#include "tls_cache.h"
#include "tls_session.h"

#include <openssl/ssl.h>

SSL_SESSION *tls_cache_get(struct tls_endpoint *ep, const char *key)
{
	return session_cache_get(&ep->cache, key);
}

void tls_cache_put(struct tls_endpoint *ep, const char *key, SSL_SESSION *s)
{
	if (!session_cache_put(&ep->cache, key, s))
		SSL_SESSION_free(s);
}

void tls_cache_drop(struct tls_endpoint *ep, const char *key)
{
	session_cache_drop(&ep->cache, key);
}

int tls_cache_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_endpoint *ep;
	const char *key;
	int kept = 0;

	if (tls_session_cache_target(ssl, &ep, &key) < 0)
		return 0;
	/* a ticket can arrive after a reload, on a session of the old
	   context: it must not be resumed under the new one */
	session_cache_lock(&ep->cache);
	if (SSL_get_SSL_CTX(ssl) == ep->ctx)
		kept = session_cache_put_locked(&ep->cache, key, sess);
	session_cache_unlock(&ep->cache);
	return kept; /* 1: we keep the reference */
}
