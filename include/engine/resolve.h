/*
 * resolve.h - the addresses each host-name endpoint resolves to now.
 *
 * An endpoint written as a name ("redis.test:6380") must stay protected
 * when its DNS changes after the configuration was loaded: a program may
 * dial the new address by any means (its own resolver, an IP string, or
 * after its own resolution fell out of the capture ring), so the engine
 * matches a connect() to any address a configured name resolves to, and
 * verifies the configured name.
 *
 * Each name is resolved at load, then again every RESOLVE_REFRESH_S
 * seconds by a refresher thread of the engine (all signals blocked),
 * through the real getaddrinfo the switchboard lends (engine_host): never
 * its hook, also where the engine is linked into the switchboard (the
 * sanitizer builds).  A connect() pays one clock read for the staleness check and a
 * read lock for the match, never a DNS lookup, except in a process with
 * no refresher (a fork child): there the first connect() after the sets
 * went stale refreshes them, one thread at a time.
 *
 * An address seen once stays matched RESOLVE_KEEP_S seconds after the
 * name last resolved to it (round-robin DNS answers vary); a name that
 * fails to resolve keeps the addresses it had (fail closed).
 *
 * Thread-safety: the sets are read under resolve_read_lock() and replaced
 * under the write side of one rwlock; a refresh runs outside it.  A
 * waiting refresh holds off new readers (no writer starvation); a read
 * section nested by a signal handler on the same thread never blocks.
 */
#ifndef SHIM_RESOLVE_H
#define SHIM_RESOLVE_H

#include <stddef.h>

#include "match.h"

struct shim_config;
struct cfg_endpoint;
struct resolve_name; /* one NAME endpoint's addresses */

#define RESOLVE_REFRESH_S 10
#define RESOLVE_KEEP_S 60
#define RESOLVE_MAX 32 /* addresses kept per name */

/*
 * resolve_init - resolve every NAME endpoint of cfg (also into its
 * match.resolved, for redis-tls-ctl).  Returns 0, or -1 with why (out of
 * memory); a name that does not resolve is not an error.  cfg must
 * outlive every other call here.
 */
int resolve_init(struct shim_config *cfg, char *why, size_t whylen);

/* resolve_start - once the engine is up: start the refresher thread if
   any endpoint is a name. */
void resolve_start(void);

/* resolve_free - undo resolve_init (before resolve_start only). */
void resolve_free(void);

/* resolve_poll - at connect(): the staleness check (see above). */
void resolve_poll(void);

/* resolve_names_of - the addresses of endpoint `ep` of the configuration
   resolve_init took, or NULL if it is not a NAME endpoint; valid until
   resolve_free. */
const struct resolve_name *resolve_names_of(const struct cfg_endpoint *ep);

/* Read side: the set of `r` (NULL and 0 for NULL) stays valid until
   resolve_read_unlock.  resolve_read_lock returns 0, or -1 if the lock
   cannot be taken (then nothing is held: do not unlock, and fail closed). */
int resolve_read_lock(void);
const struct addr_ip *resolve_set(const struct resolve_name *r, size_t *n);
void resolve_read_unlock(void);

/* pthread_atfork handlers (called by the engine's). */
void resolve_fork_prepare(void);
void resolve_fork_parent(void);
void resolve_fork_child(void);

#endif
