/*
 * session_cache.h - the resumption cache of one endpoint: TLS sessions
 * (TLS 1.2 sessions, TLS 1.3 tickets) kept under a key that names the
 * server they were verified against.
 *
 * The key is the whole string the engine builds (name verified, SNI, IP,
 * port: "expect|sni|ip|port"), kept in full and compared in full, so two
 * servers whose keys share any prefix never share a session: a resumed
 * session skips certificate verification.
 *
 * Thread-safety: every function takes the cache's own lock, except the
 * _locked ones, whose caller holds it (session_cache_lock).  The lock
 * nests inside the endpoint's ctx_lock (tls_ctx.h); tls_cache.h is how the
 * TLS layer uses it.
 */
#ifndef SHIM_SESSION_CACHE_H
#define SHIM_SESSION_CACHE_H

#include "tls_types.h"
#include <pthread.h>

#define SESSION_CACHE_SLOTS 160
#define SESSION_CACHE_PER_KEY 128 /* TLS 1.3 tickets kept per server */

struct session_cache_slot {
	char *key; /* malloc'd, the full key; NULL when sess is NULL */
	SSL_SESSION *sess;
	unsigned long stamp;
};

struct session_cache {
	pthread_mutex_t lock;
	struct session_cache_slot slot[SESSION_CACHE_SLOTS];
	unsigned long clock;
};

void session_cache_init(struct session_cache *c);
/* Free every session and key and the lock. */
void session_cache_destroy(struct session_cache *c);

void session_cache_lock(struct session_cache *c);
void session_cache_unlock(struct session_cache *c);
/* After fork(2), in the child: a lock of its own (the cache is kept). */
void session_cache_reinit_lock(struct session_cache *c);

/*
 * session_cache_get - a session for exactly `key`, or NULL: the newest
 * resumable one.  A TLS 1.3 ticket is handed out once (the caller gets the
 * cache's reference); a TLS 1.2 session is shared (a new reference).
 * Sessions found not resumable are dropped on the way.
 */
SSL_SESSION *session_cache_get(struct session_cache *c, const char *key);

/*
 * session_cache_put_locked - keep `s` (taking the caller's reference)
 * under `key`, evicting the oldest session of this key once it has
 * SESSION_CACHE_PER_KEY, else the oldest of any.  Returns 1 if kept, 0 if
 * not (no memory for the key: the caller keeps its reference).
 */
int session_cache_put_locked(struct session_cache *c, const char *key,
			     SSL_SESSION *s);
int session_cache_put(struct session_cache *c, const char *key,
		      SSL_SESSION *s);

/* session_cache_drop - forget every session of exactly `key`. */
void session_cache_drop(struct session_cache *c, const char *key);

/* session_cache_clear_locked - forget every session. */
void session_cache_clear_locked(struct session_cache *c);

#endif
