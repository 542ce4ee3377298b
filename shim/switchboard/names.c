/*
 * names.c - address -> resolved name, per thread (see names.h).
 *
 * Each thread that resolves gets a ring of NAMES_MAX entries, reached
 * through a pthread key so that it is freed when the thread exits (and
 * kept, with the rest of the thread, by a fork child).  names_lookup
 * reads nothing another thread wrote, which is the point: a name in
 * another thread's ring can never be verified for this thread's
 * connection.  A copy of every entry also goes to one shared ring (under
 * a mutex), which only names_lookup_other reads, to refuse.  Only
 * resolution and connect() touch the rings, never the data path.
 *
 * A signal handler that resolves or connects while its thread is inside
 * this file sees its own ring mid-update: at worst a torn entry, never a
 * read past one (names are always terminated inside their entry).  The
 * shared ring's lock is held with signals blocked, so no handler waits
 * for its own thread.
 */
#include "names.h"

#include "addr.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_NAME_MAX 256 /* with the NUL; longer names are not kept */

struct names_entry {
	struct addr_ip addr;          /* normalised */
	unsigned port;                /* host order; 0: resolved for any port */
	char name[NAMES_NAME_MAX];    /* "" = dialled as an address */
};

struct names_ring {
	size_t next, count;
	unsigned long id;             /* its thread's, never reused (not a
					 pthread_t: glibc hands those out
					 again once a thread has exited) */
	struct names_entry e[NAMES_MAX];
};

/* The process-wide ring for names_lookup_other: each entry knows the id
   of the ring it came from.  Allocated at the first resolution. */
struct names_shared {
	struct names_ring ring;
	unsigned long from[NAMES_MAX];
};

static atomic_ulong names_next_id;
static atomic_int names_shared_any; /* the shared ring has had an entry */

static struct names_shared *names_all;
static pthread_mutex_t names_all_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_key_t names_key;
static pthread_once_t names_once = PTHREAD_ONCE_INIT;
static int names_key_ok;

/* fork(2) keeps a mutex as it was: one held by another thread would stay
   held in the child for ever. */
static void names_fork_prepare(void)
{
	pthread_mutex_lock(&names_all_lock);
}

static void names_fork_parent(void)
{
	pthread_mutex_unlock(&names_all_lock);
}

static void names_fork_child(void)
{
	pthread_mutex_init(&names_all_lock, NULL);
}

static void names_make_key(void)
{
	names_key_ok = pthread_key_create(&names_key, free) == 0;
	pthread_atfork(names_fork_prepare, names_fork_parent,
		       names_fork_child);
}

/* This thread's ring; with `create`, allocated on first use.  NULL if
   there is none (or no memory: then nothing is captured, and the
   connection is verified against the configured name or the IP). */
static struct names_ring *names_mine(int create)
{
	struct names_ring *r;

	if (pthread_once(&names_once, names_make_key) != 0 || !names_key_ok)
		return NULL;
	r = pthread_getspecific(names_key);
	if (r == NULL && create) {
		r = calloc(1, sizeof(*r));
		if (r != NULL)
			r->id = atomic_fetch_add(&names_next_id, 1) + 1;
		if (r != NULL && pthread_setspecific(names_key, r) != 0) {
			free(r);
			r = NULL;
		}
	}
	return r;
}

static struct names_entry *names_at(struct names_ring *r, size_t age)
{
	return &r->e[(r->next + NAMES_MAX - 1 - age) % NAMES_MAX];
}

/* getaddrinfo without a socket type returns each address three times
   (stream, datagram, raw): keep one.  `fresh` entries were added by this
   resolution. */
static int names_dup(struct names_ring *r, size_t fresh,
		     const struct addr_ip *a, unsigned port)
{
	for (size_t i = 0; i < fresh && i < r->count; i++) {
		const struct names_entry *e = names_at(r, i);
		if (e->port == port && addr_equal(&e->addr, a))
			return 1;
	}
	return 0;
}

/* Add (a, port) -> name unless this resolution added it already; returns
   the new count of fresh entries. */
static size_t names_add(struct names_ring *r, size_t fresh, const char *name,
			const struct addr_ip *a, unsigned port)
{
	struct names_entry *e;

	if (names_dup(r, fresh, a, port))
		return fresh;
	e = &r->e[r->next];
	e->addr = *a;
	e->port = port;
	/* the name last: a signal handler's lookup meanwhile finds the old
	   name or a prefix of the new one, terminated either way */
	e->name[0] = '\0';
	strncpy(e->name, name, sizeof(e->name) - 1);
	e->name[sizeof(e->name) - 1] = '\0';
	r->next = (r->next + 1) % NAMES_MAX;
	if (r->count < NAMES_MAX)
		r->count++;
	return fresh + 1;
}

/* Copy the `fresh` newest entries of this thread's ring into the shared
   one. */
/* The shared ring's lock, with signals blocked: a handler that resolves or
   connects must not find its own thread holding it. */
static void names_all_take(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
	pthread_mutex_lock(&names_all_lock);
}

static void names_all_give(const sigset_t *old)
{
	pthread_mutex_unlock(&names_all_lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void names_share(struct names_ring *mine, size_t fresh)
{
	sigset_t old;

	names_all_take(&old);
	if (names_all == NULL)
		names_all = calloc(1, sizeof(*names_all));
	for (size_t i = fresh; names_all != NULL && i-- > 0;) {
		struct names_ring *r = &names_all->ring;

		r->e[r->next] = *names_at(mine, i);
		names_all->from[r->next] = mine->id;
		r->next = (r->next + 1) % NAMES_MAX;
		if (r->count < NAMES_MAX)
			r->count++;
	}
	atomic_store(&names_shared_any, 1);
	names_all_give(&old);
}

static int names_usable(const char *name)
{
	return name != NULL && *name != '\0' &&
	       strlen(name) < NAMES_NAME_MAX;
}

void names_record_addrinfo(const char *node, const struct addrinfo *res)
{
	struct names_ring *r;
	const char *name;
	size_t fresh = 0;

	if (!names_usable(node) || res == NULL || (r = names_mine(1)) == NULL)
		return;
	/* a numeric node is recorded too, as "no name": the address it
	   resolves to is dialled as an address from now on */
	name = addr_is_literal(node) ? "" : node;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		struct addr_ip a;
		unsigned port;

		if (ai->ai_addr == NULL || ai->ai_family != ai->ai_addr->sa_family ||
		    addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &a,
				       &port) < 0)
			continue;
		fresh = names_add(r, fresh, name, &a, port);
	}
	names_share(r, fresh < NAMES_MAX ? fresh : NAMES_MAX);
}

void names_record_hostent(const char *name, const struct hostent *h)
{
	struct names_ring *r;
	size_t fresh = 0;

	if (h == NULL || !names_usable(name) || h->h_addr_list == NULL)
		return;
	if (h->h_addrtype != AF_INET && h->h_addrtype != AF_INET6)
		return;
	if (h->h_length != (h->h_addrtype == AF_INET ? ADDR_V4_LEN : ADDR_V6_LEN))
		return;
	if ((r = names_mine(1)) == NULL)
		return;
	if (addr_is_literal(name))
		name = "";
	for (char **p = h->h_addr_list; *p != NULL; p++) {
		struct addr_ip a;

		if (addr_from_bytes(*p, (size_t)h->h_length, &a) < 0)
			continue;
		addr_normalize(&a);
		fresh = names_add(r, fresh, name, &a, 0); /* no port: any */
	}
	names_share(r, fresh < NAMES_MAX ? fresh : NAMES_MAX);
}

/* The newest entry of r for (a, port), skipping the ring `skip`'s entries
   when `from` (the ring id of each slot) is given; its name into out, and
   1 if it has one. */
static int names_find(struct names_ring *r, const unsigned long *from,
		      unsigned long skip, const struct addr_ip *a,
		      unsigned port, char *out, size_t outlen)
{
	size_t n;

	for (size_t i = 0; i < r->count; i++) {
		const struct names_entry *e = names_at(r, i);
		size_t slot = (r->next + NAMES_MAX - 1 - i) % NAMES_MAX;

		if ((e->port != 0 && e->port != port) ||
		    !addr_equal(&e->addr, a))
			continue;
		if (from != NULL && from[slot] == skip)
			continue;
		if (e->name[0] == '\0')
			return 0;
		n = strnlen(e->name, sizeof(e->name) - 1);
		if (n > outlen - 1)
			n = outlen - 1;
		memcpy(out, e->name, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

int names_lookup(const struct sockaddr *sa, socklen_t len, char *out,
		 size_t outlen)
{
	struct names_ring *r;
	struct addr_ip a;
	unsigned port;

	if (outlen == 0 || addr_from_sockaddr(sa, len, &a, &port) < 0 ||
	    (r = names_mine(0)) == NULL)
		return 0;
	/* newest first: the newest resolution for this address decides */
	return names_find(r, NULL, 0, &a, port, out, outlen);
}

int names_lookup_other(const struct sockaddr *sa, socklen_t len, char *out,
		       size_t outlen)
{
	struct names_ring *mine;
	struct addr_ip a;
	unsigned port;
	sigset_t old;
	int found = 0;

	if (outlen == 0 || !atomic_load(&names_shared_any) ||
	    addr_from_sockaddr(sa, len, &a, &port) < 0)
		return 0;
	/* 0 is no ring's id: a thread that never resolved skips nothing */
	mine = names_mine(0);
	names_all_take(&old);
	if (names_all != NULL)
		found = names_find(&names_all->ring, names_all->from,
				   mine != NULL ? mine->id : 0, &a, port, out,
				   outlen);
	names_all_give(&old);
	return found;
}

void names_reset(void)
{
	struct names_ring *r = names_mine(0);
	sigset_t old;

	if (r != NULL)
		r->next = r->count = 0;
	names_all_take(&old);
	if (names_all != NULL)
		names_all->ring.next = names_all->ring.count = 0;
	names_all_give(&old);
}
