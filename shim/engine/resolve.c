/*
 * resolve.c - the addresses each host-name endpoint resolves to now (see
 * resolve.h).
 *
 * One rwlock guards every set: connect() holds the read side across the
 * endpoint loop; a refresh resolves outside it and takes the write side
 * only to merge.  resolve_busy lets one refresh run at a time (the thread,
 * or a connect() in a process without the thread), and is only ever
 * try-locked from connect(), so no connect() waits on DNS.
 *
 * Writers are not starved: glibc's rwlock prefers readers, so connect()s
 * on many threads could keep a merge (and so a new address of a name)
 * out for ever.  A writer first takes resolve_gate, which every new read
 * section passes through, so once a writer waits only the sections
 * already inside finish.  The lock itself stays reader-preferring: a
 * signal handler's connect() nested in a read section on its own thread
 * skips the gate and always gets the read side, never deadlocks.  The
 * write side is held with signals blocked, so no handler can nest a read
 * inside a write on the same thread.
 *
 * The lookups use the switchboard's real getaddrinfo (engine_host): in a
 * sanitizer build the engine is linked into the switchboard, where the
 * name getaddrinfo is its hook, and the engine's own lookups must not be
 * captured as the program's.
 */
#include "resolve.h"

#include "config.h"
#include "deadline.h"
#include "engine.h"
#include "thread_count.h"

#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct resolve_name {
	const struct cfg_endpoint *ep; /* the endpoint */
	const char *name;  /* the endpoint's host name; NULL: not a name */
	const char *label; /* the endpoint as written, for log lines */
	struct addr_ip addr[RESOLVE_MAX];
	time_t seen[RESOLVE_MAX]; /* monotonic s of the last answer with it */
	size_t n;
};

static struct resolve_name *resolve_names;
static size_t resolve_count;  /* endpoints */
static size_t resolve_nnames; /* of which names */
static pthread_rwlock_t resolve_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t resolve_gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t resolve_busy = PTHREAD_MUTEX_INITIALIZER;
/* read sections this thread is in; initial-exec, as the switchboard's
   thread-locals: a first use from a signal handler must not allocate */
static __thread int resolve_reading __attribute__((tls_model("initial-exec")));
static int resolve_fork_locked;      /* fork_prepare holds the write side */
static atomic_llong resolve_at;      /* monotonic s of the last refresh */
static atomic_int resolve_thread_on; /* a refresher runs in this process */

static time_t resolve_now(void)
{
	struct timespec ts;

	deadline_now(&ts);
	return ts.tv_sec;
}

/* The addresses `name` resolves to, normalised and without repeats, into
   out; their number, or -1 if it does not resolve. */
static long resolve_lookup(const char *name, struct addr_ip *out,
			   size_t max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	size_t n = 0;

	if (engine_host->getaddrinfo(name, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		struct addr_ip a;
		size_t i;

		if (addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &a,
				       NULL) < 0)
			continue;
		for (i = 0; i < n && !addr_equal(&out[i], &a); i++)
			;
		if (i == n)
			out[n++] = a;
	}
	freeaddrinfo(res);
	return (long)n;
}

static long resolve_find(const struct resolve_name *r,
			 const struct addr_ip *a)
{
	for (size_t i = 0; i < r->n; i++)
		if (addr_equal(&r->addr[i], a))
			return (long)i;
	return -1;
}

/* Add (or refresh) the addresses of an answer; drop the ones no answer
   has given for RESOLVE_KEEP_S.  Under the write lock.  1 if the set
   changed. */
static int resolve_merge(struct resolve_name *r, const struct addr_ip *got,
			 size_t n, time_t now)
{
	int changed = 0;

	for (size_t i = 0; i < n; i++) {
		long at = resolve_find(r, &got[i]);

		if (at < 0 && r->n < RESOLVE_MAX) {
			at = (long)r->n++;
			changed = 1;
		} else if (at < 0) { /* full: the stalest goes */
			at = 0;
			for (size_t j = 1; j < r->n; j++)
				if (r->seen[j] < r->seen[at])
					at = (long)j;
			changed = 1;
		}
		r->addr[at] = got[i];
		r->seen[at] = now;
	}
	for (size_t i = r->n; i-- > 0;) {
		if (now - r->seen[i] <= RESOLVE_KEEP_S)
			continue;
		r->addr[i] = r->addr[r->n - 1];
		r->seen[i] = r->seen[r->n - 1];
		r->n--;
		changed = 1;
	}
	return changed;
}

static void resolve_log_change(const struct resolve_name *r)
{
	char list[RESOLVE_MAX * (ADDR_TEXT_MAX + 2)] = "", ip[ADDR_TEXT_MAX];
	size_t len = 0;

	if (!engine_host->log_enabled(SHIM_LOG_INFO))
		return;
	for (size_t i = 0; i < r->n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i ? ", " : "",
					addr_format(&r->addr[i], ip,
						    sizeof(ip)));
	ENGINE_LOG(SHIM_LOG_INFO, "endpoint '%s': '%s' resolves to %s; "
		   "connections to %s get TLS", r->label, r->name,
		   r->n ? list : "nothing", r->n == 1 ? "it" : "them");
}

/* The write side, behind the gate, with every signal blocked (*old keeps
   the mask to give back): 0, or -1 with nothing held. */
static int resolve_write_lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
	if (pthread_mutex_lock(&resolve_gate) != 0)
		goto fail;
	if (pthread_rwlock_wrlock(&resolve_lock) != 0) {
		pthread_mutex_unlock(&resolve_gate);
		goto fail;
	}
	return 0;
fail:
	pthread_sigmask(SIG_SETMASK, old, NULL);
	return -1;
}

static void resolve_write_unlock(const sigset_t *old)
{
	pthread_rwlock_unlock(&resolve_lock);
	pthread_mutex_unlock(&resolve_gate);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void resolve_one(struct resolve_name *r)
{
	struct addr_ip got[RESOLVE_MAX];
	struct resolve_name copy;
	sigset_t old;
	long n = resolve_lookup(r->name, got, RESOLVE_MAX);
	int changed;

	if (n < 0) /* keep what it had: fail closed */
		return;
	if (resolve_write_lock(&old) < 0) {
		ENGINE_LOG(SHIM_LOG_WARNING, "endpoint '%s': cannot update the "
			   "addresses of '%s' (lock failed): keeping the ones "
			   "it had", r->label, r->name);
		return;
	}
	changed = resolve_merge(r, got, (size_t)n, resolve_now());
	if (changed)
		copy = *r;
	resolve_write_unlock(&old);
	if (changed)
		resolve_log_change(&copy);
}

/* One pass over every name; the caller holds resolve_busy. */
static void resolve_all(void)
{
	atomic_store(&resolve_at, (long long)resolve_now());
	for (size_t i = 0; i < resolve_count; i++)
		if (resolve_names[i].name != NULL)
			resolve_one(&resolve_names[i]);
}

static void *resolve_main(void *arg)
{
	struct timespec every = { .tv_sec = RESOLVE_REFRESH_S };

	for (;;) {
		while (nanosleep(&every, NULL) != 0)
			;
		pthread_mutex_lock(&resolve_busy);
		resolve_all();
		pthread_mutex_unlock(&resolve_busy);
	}
	return arg;
}

/* The refresher, with every signal blocked: the program's handlers must
   never run on a thread it does not know. */
static void resolve_start_thread(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, &attr, resolve_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	/* it never ends: off glibc's count for good, here, while its maker
	   is certainly alive and counted (thread_count.h) */
	if (rc == 0) {
		(void)shim_thread_uncount();
		atomic_store(&resolve_thread_on, 1);
	} else {
		ENGINE_LOG(SHIM_LOG_WARNING, "cannot start the thread that "
			   "re-resolves endpoint names (%s): connect() "
			   "re-resolves them instead", strerror(rc));
	}
}

int resolve_init(struct shim_config *cfg, char *why, size_t whylen)
{
	resolve_names = calloc(cfg->nendpoints ? cfg->nendpoints : 1,
			       sizeof(*resolve_names));
	if (resolve_names == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	resolve_count = cfg->nendpoints;
	for (size_t i = 0; i < cfg->nendpoints; i++) {
		struct match_spec *m = &cfg->endpoints[i].match;
		struct resolve_name *r = &resolve_names[i];

		r->ep = &cfg->endpoints[i];
		if (m->kind != MATCH_HOST_NAME)
			continue;
		r->name = m->name;
		r->label = cfg->endpoints[i].match_text;
		resolve_nnames++;
		resolve_one(r);
		m->nresolved = r->n < MATCH_MAX_RESOLVED ? r->n
							 : MATCH_MAX_RESOLVED;
		memcpy(m->resolved, r->addr, m->nresolved * sizeof(*r->addr));
	}
	atomic_store(&resolve_at, (long long)resolve_now());
	return 0;
}

void resolve_start(void)
{
	if (resolve_nnames > 0)
		resolve_start_thread();
}

void resolve_free(void)
{
	free(resolve_names);
	resolve_names = NULL;
	resolve_count = resolve_nnames = 0;
}

void resolve_poll(void)
{
	if (resolve_nnames == 0 || atomic_load(&resolve_thread_on) ||
	    resolve_now() - atomic_load(&resolve_at) < RESOLVE_REFRESH_S)
		return;
	/* a signal handler's connect() on a thread inside a read section
	   must not become the writer it would wait for */
	if (resolve_reading > 0)
		return;
	/* no refresher here (a fork child): this connect() refreshes the
	   stale sets before it is decided, the ones meanwhile use them as
	   they are, and a refresher is started for the next times */
	if (pthread_mutex_trylock(&resolve_busy) != 0)
		return;
	if (resolve_now() - atomic_load(&resolve_at) >= RESOLVE_REFRESH_S)
		resolve_all();
	if (!atomic_load(&resolve_thread_on))
		resolve_start_thread();
	pthread_mutex_unlock(&resolve_busy);
}

int resolve_read_lock(void)
{
	if (resolve_nnames == 0)
		return 0;
	/* a nested section (a signal handler's connect()) skips the gate: a
	   writer may hold it, waiting for the outer section to end */
	if (resolve_reading++ == 0) {
		if (pthread_mutex_lock(&resolve_gate) != 0) {
			resolve_reading--;
			return -1;
		}
		pthread_mutex_unlock(&resolve_gate);
	}
	if (pthread_rwlock_rdlock(&resolve_lock) != 0) {
		resolve_reading--;
		return -1;
	}
	return 0;
}

const struct resolve_name *resolve_names_of(const struct cfg_endpoint *ep)
{
	for (size_t i = 0; i < resolve_count; i++)
		if (resolve_names[i].ep == ep && resolve_names[i].name != NULL)
			return &resolve_names[i];
	return NULL;
}

const struct addr_ip *resolve_set(const struct resolve_name *r, size_t *n)
{
	if (r == NULL) {
		*n = 0;
		return NULL;
	}
	*n = r->n;
	return r->addr;
}

void resolve_read_unlock(void)
{
	if (resolve_nnames == 0)
		return;
	pthread_rwlock_unlock(&resolve_lock);
	resolve_reading--;
}

/* The write side is held for a merge only, so fork waits no longer than
   that; resolve_busy may be held for a whole DNS lookup, so fork does not
   wait for it, and the child (which has no refresher) starts it anew. */
void resolve_fork_prepare(void)
{
	resolve_fork_locked = 0;
	if (resolve_nnames == 0 || pthread_mutex_lock(&resolve_gate) != 0)
		return;
	if (pthread_rwlock_wrlock(&resolve_lock) != 0) {
		pthread_mutex_unlock(&resolve_gate);
		return; /* fork anyway; the sets may be mid-merge in the child */
	}
	resolve_fork_locked = 1;
}

void resolve_fork_parent(void)
{
	if (!resolve_fork_locked)
		return;
	pthread_rwlock_unlock(&resolve_lock);
	pthread_mutex_unlock(&resolve_gate);
}

void resolve_fork_child(void)
{
	if (resolve_nnames == 0)
		return;
	if (resolve_fork_locked)
		pthread_rwlock_unlock(&resolve_lock);
	pthread_mutex_init(&resolve_gate, NULL);
	pthread_mutex_init(&resolve_busy, NULL);
	atomic_store(&resolve_thread_on, 0);
}
