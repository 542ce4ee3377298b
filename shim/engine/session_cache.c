/*
 * session_cache.c - an endpoint's resumption cache (see session_cache.h).
 *
 * A fixed table searched linearly: an endpoint talks to a handful of
 * servers, and a lookup happens once per connection.  Keys are compared
 * whole with strcmp; none is ever cut short.
 */
#include "session_cache.h"

#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

void session_cache_init(struct session_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

static void session_cache_free_slot(struct session_cache_slot *sl)
{
	if (sl->sess != NULL)
		SSL_SESSION_free(sl->sess);
	free(sl->key);
	sl->sess = NULL;
	sl->key = NULL;
}

void session_cache_clear_locked(struct session_cache *c)
{
	for (int i = 0; i < SESSION_CACHE_SLOTS; i++)
		session_cache_free_slot(&c->slot[i]);
}

void session_cache_destroy(struct session_cache *c)
{
	session_cache_clear_locked(c);
	pthread_mutex_destroy(&c->lock);
}

void session_cache_lock(struct session_cache *c)
{
	pthread_mutex_lock(&c->lock);
}

void session_cache_unlock(struct session_cache *c)
{
	pthread_mutex_unlock(&c->lock);
}

void session_cache_reinit_lock(struct session_cache *c)
{
	pthread_mutex_init(&c->lock, NULL);
}

static int session_cache_is(const struct session_cache_slot *sl,
			    const char *key)
{
	return sl->sess != NULL && strcmp(sl->key, key) == 0;
}

/*
 * A TLS 1.3 ticket is used once (RFC 8446 C.4; servers with stateful
 * tickets, redis among them, honour it only once), so the cache keeps
 * several per key and hands each out to one connection; every handshake
 * brings new ones.  A TLS 1.2 session may be shared.
 */
SSL_SESSION *session_cache_get(struct session_cache *c, const char *key)
{
	struct session_cache_slot *best = NULL;
	SSL_SESSION *s = NULL;

	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < SESSION_CACHE_SLOTS; i++) {
		struct session_cache_slot *sl = &c->slot[i];

		if (!session_cache_is(sl, key))
			continue;
		if (!SSL_SESSION_is_resumable(sl->sess)) {
			session_cache_free_slot(sl);
			continue;
		}
		if (best == NULL || sl->stamp > best->stamp)
			best = sl;
	}
	if (best != NULL) {
		s = best->sess;
		if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
			best->sess = NULL; /* the caller takes the reference */
			session_cache_free_slot(best);
		} else {
			SSL_SESSION_up_ref(s);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

int session_cache_put_locked(struct session_cache *c, const char *key,
			     SSL_SESSION *s)
{
	struct session_cache_slot *victim = NULL, *own_oldest = NULL;
	char *copy = strdup(key);
	int own = 0;

	if (copy == NULL)
		return 0;
	for (int i = 0; i < SESSION_CACHE_SLOTS; i++) {
		struct session_cache_slot *sl = &c->slot[i];

		if (sl->sess == NULL) {
			if (victim == NULL || victim->sess != NULL)
				victim = sl;
			continue;
		}
		if (strcmp(sl->key, key) == 0) {
			own++;
			if (own_oldest == NULL || sl->stamp < own_oldest->stamp)
				own_oldest = sl;
		}
		if (victim == NULL ||
		    (victim->sess != NULL && sl->stamp < victim->stamp))
			victim = sl;
	}
	if (own >= SESSION_CACHE_PER_KEY)
		victim = own_oldest;
	session_cache_free_slot(victim);
	victim->key = copy;
	victim->sess = s;
	victim->stamp = ++c->clock;
	return 1;
}

int session_cache_put(struct session_cache *c, const char *key,
		      SSL_SESSION *s)
{
	int kept;

	pthread_mutex_lock(&c->lock);
	kept = session_cache_put_locked(c, key, s);
	pthread_mutex_unlock(&c->lock);
	return kept;
}

void session_cache_drop(struct session_cache *c, const char *key)
{
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < SESSION_CACHE_SLOTS; i++)
		if (session_cache_is(&c->slot[i], key))
			session_cache_free_slot(&c->slot[i]);
	pthread_mutex_unlock(&c->lock);
}
