/*
 * ready_epoll.c - readiness emulation for epoll: the mirror of the
 * program's epoll registrations of TLS sockets.
 *
 * The kernel keeps registrations across calls, so each registration of a
 * tracked socket is mirrored in a struct ready_reg, owned here: indexed by
 * socket (a fixed table of buckets, for the socket's events) and, per
 * epoll fd, in a list plus a hash by tag (for the kernel's events).  The
 * kernel registration carries a tag of the shim's (ready_tag: never taken
 * for the program's data, whatever that is) and an event mask computed
 * from the socket's snapshot (ready_mask_epoll), updated when the socket
 * module reports a change; the program gets its own epoll_data back in
 * each event.  Events whose data is no tag are the program's own
 * descriptors', as the kernel said them.  One-shot and edge-triggered
 * registrations get no duplicate events.
 *
 * The kernel sees only the changes it must.  A program's EPOLL_CTL_MOD
 * that the kernel registration already serves (level-triggered, its events
 * a superset: narrowed when an event the program did not ask for comes)
 * is not passed on; nor is a change of the program's data alone.  A
 * program's EPOLL_CTL_DEL of a registration held on the private socket
 * leaves that one dormant: off the program's view at once, still in the
 * kernel until the program adds the socket again (no change, or one
 * EPOLL_CTL_MOD, instead of a DEL and an ADD, which allocate and free:
 * event loops such as redis's ae delete and add on every request) or until
 * the next wait on that epoll fd, which removes every dormant registration
 * first.  A kernel event of a dormant one met meanwhile (another thread's
 * wait) is dropped, and the registration removed.  Deletions stay dormant
 * on a set whose last wait that returned events returned more than one
 * (busy), and while another thread's wait on it is under way (its kernel
 * events of the deleted one must still be known, to be dropped, not
 * handed out with the shim's tag).  Elsewhere, where a wait brings one
 * event and the program sleeps once per request, it depends on the
 * machine which way is cheaper: the system calls saved (0.1-0.7 µs each,
 * two or four a request), or the kernel deletion, which on some VMs keeps
 * the CPU's tick over the next sleep (an epoll item is freed through RCU,
 * and a CPU with RCU callbacks pending keeps its tick; stopping and
 * restarting it on every sleep cost a one-client loop about 5
 * microseconds a request on one VM).  So the process measures
 * (ready_adapt.h: windows of waits each way, its CPU time per window) and
 * takes the cheaper way, or the way REDIS_TLS_EPOLL_DELETE fixes.  A set
 * the program polls or nests in another (watched) gets none of this: the
 * kernel must see its readiness as the program's.
 *
 * Any registration that goes (deleted, its socket closed, its epoll fd
 * closed) while a wait on its set is under way stays known by its tag,
 * stale, until every wait begun before has ended: an event the kernel
 * has already given such a wait is dropped, never handed out with the
 * shim's tag as if it were the program's data.  A set whose epoll fd is
 * closed meanwhile is freed by the last of those waits (a wait that
 * bypassed the shim finds it by its closed number: ready_ghosts).  Once
 * a set has had a TLS socket, every wait on it is the shim's
 * (ready_has_set), so a socket added during a wait is reported with the
 * program's data.  A set's numbers made by dup() are the same set
 * (aliases) until the last one is closed; registrations hold one of them
 * (set->epfd), which the shim's own epoll_ctl calls use.
 *
 * Calls: the socket module (sock_view, references, sock_probe_readable,
 * sock_observe), the fd table's maps, ready_drive.c, ready_mask.c, the real
 * epoll calls.  Called by hooks.c; the socket module reaches it only
 * through the observer (ready_on_sock) registered at the first mirrored
 * registration, before which it has nothing to tell.
 *
 * Thread-safety: registrations are guarded by ready_lock, which is never
 * held while a socket call is made that takes a socket's lock (a reference
 * is taken, the lock dropped, the call made).  The observer may run with
 * a socket's lock held, and takes ready_lock inside it.
 */
#include "ready.h"
#include "ready_impl.h"
#include "ready_adapt.h"
#include "block.h"
#include "exec_env.h"
#include "fdtable.h"
#include "log.h"
#include "real.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define READY_MAX_EXPIRED 16
#define READY_SYNTH_MAX 64      /* synthetic events remembered per round,
				   to merge the kernel's duplicates */
#define READY_SOCK_BUCKETS 1024 /* the index by socket */

struct ready_reg {
	int epfd, fd;
	int kfd;        /* the descriptor registered with the kernel, or -1 */
	uint32_t app_events;
	epoll_data_t data;
	uint32_t kernel_events;
	int armed;
	int err_reported;
	int live;       /* 0 after EPOLL_CTL_DEL: kept for the next ADD */
	int moved;      /* re-registered on another kernel descriptor: the
			   next event may still be the old one's */
	uint64_t tag;   /* the kernel registration's epoll_data: ready_tag() */
	int dormant;    /* not live, but still registered with the kernel
			   on kfd (a deferred EPOLL_CTL_DEL) */
	int edge;       /* edge-triggered, just added or modified: what is
			   ready then is one edge (as the kernel's ADD and
			   MOD queue one), buffered plaintext too */
	int wide;       /* kernel_events is more than the registration
			   needs (a change not passed on): narrowed when an
			   event the program did not ask for comes */
	int wake;       /* kernel_events has ready_wake_bit's EPOLLOUT:
			   narrowed when an event comes */
	int hashed;     /* in its set's hash */
	int stale;      /* on its set's stale list: hashed, though deleted
			   or freed, while waits that began before may still
			   hold its kernel events (see ready_retire) */
	int freed;      /* dropped (ready_drop): freed once no longer stale */
	uint64_t dead_gen; /* its set's rounds when it went */
	struct shim_sock *sock;
	struct ready_reg *sock_next, *set_next, *hash_next, *stale_next;
};

struct ready_set {
	struct ready_reg *regs;
	size_t nregs;
	struct ready_reg **hash;
	size_t nbuckets;
	size_t ndormant; /* registrations with dormant set */
	int asked_kernel; /* the last wait asked the kernel */
	int busy;         /* the last wait that returned events returned
			     more than one: EPOLL_CTL_DEL leaves
			     registrations dormant */
	int had_regs;     /* a tracked socket has been registered: from then
			     on every wait on the set is the shim's, so that
			     a socket added during one is reported with the
			     program's data (ready_has_set, ready_tls_sets) */
	struct ready_round *active; /* the rounds of waits in progress
			     (until ready_round_end): while one is,
			     EPOLL_CTL_DEL leaves registrations dormant, and
			     a registration that goes stays in the hash
			     (ready_retire), so that an event the kernel has
			     already given that wait is known and dropped */
	uint64_t rounds;  /* rounds begun on the set, from 1 (a round of
			     generation 0 began before any: ready_bypass_end) */
	int epfd;         /* its number: every registration's r->epfd, what
			     the shim's own epoll_ctl calls use */
	int *aliases;     /* its other numbers (dup, dup2, F_DUPFD), mapped
			     to it too: one becomes epfd if epfd is closed */
	size_t naliases, aliases_cap;
	struct ready_reg *stale; /* ready_retire's, by stale_next */
	int orphan;       /* its epoll fd was closed while a round was in
			     progress, or a wait that bypassed the shim:
			     freed by the last one's end */
	int nghosts;      /* its closed numbers on ready_ghosts */
	int watched;      /* the set itself is polled (poll, select, an
			     outer epoll set): the kernel's readiness of it
			     must be the program's, so nothing is synthetic
			     that the kernel could say, nothing dormant */
	size_t rotor;     /* where the next wait's synthetic events start */
};

/* ready_epoll_wait: the synthetic events of one round, under ready_lock. */
struct ready_round {
	struct epoll_event *ev;
	int max, n;
	int cap_ms;                   /* nearest handshake deadline, or -1 */
	struct shim_sock *expired[READY_MAX_EXPIRED];
	int expired_fd[READY_MAX_EXPIRED];
	int nexpired;
	int skip_kernel;              /* synthetic events only this round */
	int held;                     /* synthetic events left for the next
					 round (no room this one) */
	struct ready_set *set;        /* the set it is a round of (or NULL),
					 on whose active list it is */
	uint64_t gen;                 /* the set's rounds when it began */
	unsigned forks;               /* ready_forks when it began */
	struct ready_round *next;     /* on the set's active list */
	struct ready_reg *synth_reg[READY_SYNTH_MAX]; /* to merge kernel
							 duplicates */
};

static struct fdt_map ready_sets;
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
/* Forks this process is the child of (ready_atfork_child): a round begun
   before one is a thread the fork left behind, never to end. */
static unsigned ready_forks;
/* By epoll fd: the waits under way that bypass the shim (hooks.c, while
   the set has had no TLS socket: ready_bypass_begin). */
static struct fdt_counts ready_bypassing;
/* By epoll fd: 1 if its set has had a TLS socket (set->had_regs, kept
   for each of its numbers: ready_has_set reads it without the lock and
   without the set, which a concurrent close may free). */
static struct fdt_counts ready_tls_sets;
/* A set's number closed while a wait on it that bypassed the shim is
   under way (ready_set_unname, ready_set_free): that wait's events may
   carry the set's tags, which ready_bypass_end translates by it (or, the
   set orphaned, drops), until the number has no such wait left.
   Counted for ready_bypass_end's fast path. */
struct ready_ghost {
	int fd;
	struct ready_set *set;
	struct ready_ghost *next;
};
static struct ready_ghost *ready_ghosts;
static int ready_nghosts;
/* Registrations by socket: a bucket's chain mixes sockets; its head is
   read without the lock to skip sockets nobody registered. */
static struct ready_reg *ready_by_sock[READY_SOCK_BUCKETS];
/* Which way a single-event set's EPOLL_CTL_DEL goes (ready_adapt.h):
   measured over the process's waits, counted in ready_round_end;
   REDIS_TLS_EPOLL_DELETE=keep|pass fixes it.  Under ready_lock. */
static struct ready_adapt ready_adapt;
static int ready_adapt_started;
static unsigned ready_adapt_waits;

static size_t ready_hash_of(uint64_t v, size_t nbuckets)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v & (nbuckets - 1);
}

/* ------------------------------------------------ the index by socket */

static struct ready_reg **ready_sock_head(const struct shim_sock *s)
{
	return &ready_by_sock[ready_hash_of((uintptr_t)s, READY_SOCK_BUCKETS)];
}

/* Lock-free: 0 if s surely has no registration. */
static int ready_sock_maybe(const struct shim_sock *s)
{
	return __atomic_load_n(ready_sock_head(s), __ATOMIC_ACQUIRE) != NULL;
}

/* Caller holds ready_lock: s's first registration / the one after r. */
static struct ready_reg *ready_sock_first(const struct shim_sock *s)
{
	struct ready_reg *r = *ready_sock_head(s);

	while (r != NULL && r->sock != s)
		r = r->sock_next;
	return r;
}

static struct ready_reg *ready_sock_next(const struct ready_reg *r)
{
	const struct shim_sock *s = r->sock;

	for (r = r->sock_next; r != NULL && r->sock != s; r = r->sock_next)
		;
	return (struct ready_reg *)r;
}

#define READY_FOR_SOCK(r, s) \
	for ((r) = ready_sock_first(s); (r) != NULL; (r) = ready_sock_next(r))

static void ready_sock_link(struct ready_reg *r)
{
	struct ready_reg **head = ready_sock_head(r->sock);

	r->sock_next = *head;
	__atomic_store_n(head, r, __ATOMIC_RELEASE);
}

static void ready_sock_unlink(struct ready_reg *r)
{
	struct ready_reg **pp = ready_sock_head(r->sock);

	if (*pp == r) {
		__atomic_store_n(pp, r->sock_next, __ATOMIC_RELEASE);
		return;
	}
	for (; *pp != NULL; pp = &(*pp)->sock_next) {
		if (*pp == r) {
			*pp = r->sock_next;
			return;
		}
	}
}

/* Caller holds ready_lock: (epfd, fd)'s registration of s, or NULL. */
static struct ready_reg *ready_find(struct shim_sock *s, int epfd, int fd)
{
	struct ready_reg *r;

	READY_FOR_SOCK(r, s)
		if (r->epfd == epfd && r->fd == fd)
			return r;
	return NULL;
}

/* ------------------------------------------- the sets and their hash */

/* Caller holds ready_lock: re-index every registration of the set. */
static void ready_hash_rebuild(struct ready_set *set)
{
	size_t nb = 16;

	if (set == NULL)
		return;
	while (nb < set->nregs * 2)
		nb *= 2;
	if (nb != set->nbuckets) {
		struct ready_reg **h = calloc(nb, sizeof(*h));
		if (h != NULL) {
			free(set->hash);
			set->hash = h;
			set->nbuckets = nb;
		}
	}
	if (set->hash == NULL)
		return;
	memset(set->hash, 0, set->nbuckets * sizeof(*set->hash));
	for (int pass = 0; pass < 2; pass++) {
		for (struct ready_reg *r = pass == 0 ? set->regs : set->stale;
		     r != NULL; r = pass == 0 ? r->set_next : r->stale_next) {
			size_t b = ready_hash_of(r->tag, set->nbuckets);

			/* the stale list's freed ones are on no other list */
			if (pass == 0 ? !r->live && !r->dormant && !r->stale
				      : !r->freed)
				continue;
			r->hash_next = set->hash[b];
			set->hash[b] = r;
			r->hashed = 1;
		}
	}
}

/* The registration whose kernel events carry `tag`, or NULL: the event
   is of a descriptor the shim does not track, with the program's data. */
static struct ready_reg *ready_find_tag(struct ready_set *set, uint64_t tag)
{
	struct ready_reg *r;

	if (set->nbuckets == 0)
		return NULL;
	for (r = set->hash[ready_hash_of(tag, set->nbuckets)]; r != NULL;
	     r = r->hash_next)
		if (r->tag == tag)
			return r;
	return NULL;
}

/*
 * The kernel registrations of tracked sockets carry a tag of the shim's,
 * not the program's epoll_data: the registration's address mixed with a
 * secret drawn once per process, so that no event of the program's own
 * descriptors (whose data may be anything, the same as a TLS socket's
 * too) is taken for one of the shim's.  The program's data is put back
 * in each event it is given.  Caller holds ready_lock.
 */
static uint64_t ready_tag(const struct ready_reg *r)
{
	static uint64_t secret;

	if (secret == 0) {
		uint64_t v = 0;
		struct timespec ts;

		if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			v = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
			    ((uint64_t)getpid() << 17) ^ (uintptr_t)&v;
		}
		secret = v | 1;
	}
	return (uint64_t)(uintptr_t)r ^ secret;
}

static void ready_unlink(struct ready_reg **head, struct ready_reg *r,
			 size_t offset)
{
	for (struct ready_reg **pp = head; *pp != NULL;
	     pp = (struct ready_reg **)((char *)*pp + offset)) {
		if (*pp == r) {
			*pp = *(struct ready_reg **)((char *)r + offset);
			return;
		}
	}
}

/* Caller holds ready_lock: index r by its tag (if it is not: a stale
   one stays). */
static void ready_hash_add(struct ready_set *set, struct ready_reg *r)
{
	size_t b;

	if (set->nbuckets < set->nregs * 2 || set->hash == NULL) {
		ready_hash_rebuild(set); /* grows, and indexes r too */
		return;
	}
	if (r->hashed)
		return;
	b = ready_hash_of(r->tag, set->nbuckets);
	r->hash_next = set->hash[b];
	set->hash[b] = r;
	r->hashed = 1;
}

static void ready_hash_del(struct ready_set *set, struct ready_reg *r)
{
	if (set->hash == NULL || !r->hashed)
		return;
	ready_unlink(&set->hash[ready_hash_of(r->tag, set->nbuckets)], r,
		     offsetof(struct ready_reg, hash_next));
	r->hashed = 0;
}

static void ready_purge(struct ready_set *set, int force);

static void ready_unlink_round(struct ready_round **head,
			       struct ready_round *rd)
{
	for (struct ready_round **pp = head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rd) {
			*pp = rd->next;
			return;
		}
	}
}

/* Waits on set's epoll fd under way that bypass the shim (begun before
   it had a TLS socket), by any of its numbers, closed ones too. */
static int ready_bypassed(const struct ready_set *set)
{
	if (set->nghosts > 0 ||
	    fdt_count_get(&ready_bypassing, set->epfd) > 0)
		return 1;
	for (size_t i = 0; i < set->naliases; i++)
		if (fdt_count_get(&ready_bypassing, set->aliases[i]) > 0)
			return 1;
	return 0;
}

/* Caller holds ready_lock (every writer does): fd's ready_tls_sets
   entry to `on`. */
static void ready_mark_tls(int fd, long on)
{
	long v = fdt_count_get(&ready_tls_sets, fd);

	if (v != on)
		(void)fdt_count_add(&ready_tls_sets, fd, on - v);
}

/* forward: used by ready_wake_bit */
static struct ready_round *ready_active(struct ready_set *set);
static int ready_bypassed(const struct ready_set *set);

/* Caller holds ready_lock, in a program's EPOLL_CTL_ADD or MOD: EPOLLOUT
   if the registration (level- or edge-triggered, not one-shot) is ready
   without the kernel (ready_mask_synthetic: writable, plaintext buffered)
   while another thread's wait on the set is under way, which, natively,
   the change wakes.  The private socket's kernel writability wakes it
   (and is narrowed away when it comes, ready_translate: for an
   edge-triggered one, that event is the change's edge); 0 otherwise.  A
   one-shot registration's kernel event would disarm it: not woken. */
static uint32_t ready_wake_bit(int epfd, const struct ready_facts *f,
			       uint32_t app_events, uint32_t m)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, epfd);

	if (set == NULL || m == READY_DISARMED || (m & EPOLLOUT) ||
	    (app_events & EPOLLONESHOT) ||
	    ready_mask_synthetic(f, app_events & ~READY_FLAGS) == 0)
		return 0;
	return ready_active(set) != NULL || ready_bypassed(set) ? EPOLLOUT : 0;
}

/* Caller holds ready_lock: the set's rounds in progress, less those of
   threads a fork left behind (in a child, copies that never end). */
static struct ready_round *ready_active(struct ready_set *set)
{
	struct ready_round **pp = &set->active;

	while (*pp != NULL) {
		if ((*pp)->forks != ready_forks)
			*pp = (*pp)->next;
		else
			pp = &(*pp)->next;
	}
	return set->active;
}

/*
 * Caller holds ready_lock: r is deleted (or, freed set, dropped) and its
 * kernel registration gone or going.  A wait on the set that began
 * before may already hold one of its kernel events, which must be known
 * to be dropped, not handed out with the shim's tag: while such a wait
 * is in progress, r stays in the hash, on the stale list, until
 * ready_purge.  Otherwise it leaves the hash (and, freed, memory) now.
 */
static void ready_retire(struct ready_set *set, struct ready_reg *r,
			 int freed)
{
	if (set != NULL && r->hashed &&
	    (ready_active(set) != NULL || ready_bypassed(set))) {
		r->freed = freed;
		r->dead_gen = set->rounds;
		if (!r->stale) {
			r->stale = 1;
			r->stale_next = set->stale;
			set->stale = r;
		}
		return;
	}
	if (set != NULL && r->stale) { /* no wait is left (a fork's child) */
		ready_unlink(&set->stale, r,
			     offsetof(struct ready_reg, stale_next));
		r->stale = 0;
	}
	if (set != NULL)
		ready_hash_del(set, r);
	if (freed)
		free(r);
}

/* Caller holds ready_lock: the stale registrations no wait in progress
   began before (every one, when none is, or by force: the set goes)
   leave the hash; freed ones, memory. */
static void ready_purge(struct ready_set *set, int force)
{
	uint64_t oldest = set->rounds;
	struct ready_reg **pp = &set->stale;

	for (const struct ready_round *a = ready_active(set);
	     a != NULL && !force; a = a->next)
		if (a->gen < oldest)
			oldest = a->gen;
	if (!force && ready_bypassed(set))
		oldest = 0; /* they began before any */
	while (*pp != NULL) {
		struct ready_reg *r = *pp;

		if (r->dead_gen > oldest) {
			pp = &r->stale_next;
			continue;
		}
		*pp = r->stale_next;
		r->stale = 0;
		if (r->freed || (!r->live && !r->dormant))
			ready_hash_del(set, r);
		if (r->freed)
			free(r);
	}
}

/* Caller holds ready_lock: set, orphaned, goes if no wait that began
   before its close is left. */
static void ready_orphan_done(struct ready_set *set)
{
	if (ready_active(set) != NULL || ready_bypassed(set))
		return;
	ready_purge(set, 1); /* a bypassing wait no longer finds the set */
	free(set->aliases);
	free(set->hash);
	free(set);
}

/* Caller holds ready_lock: set's number fd is being closed; a wait on it
   that bypassed the shim is under way: fd is set's ghost until it ends
   (ready_ghost_end).  Before ready_has_set(fd) says no, so that such a
   wait ending meanwhile sees one or the other. */
static void ready_ghost_add(struct ready_set *set, int fd)
{
	struct ready_ghost *g;

	if (fdt_count_get(&ready_bypassing, fd) <= 0 ||
	    (g = calloc(1, sizeof(*g))) == NULL)
		return;
	g->fd = fd;
	g->set = set;
	g->next = ready_ghosts;
	ready_ghosts = g;
	set->nghosts++;
	__atomic_store_n(&ready_nghosts, ready_nghosts + 1, __ATOMIC_SEQ_CST);
}

/* Caller holds ready_lock: fd's ghosts, once no bypassing wait on fd is
   left, go (and their orphaned sets, ready_orphan_done); with
   `all`, every ghost goes (a fork's child: those waits are other
   threads'). */
static void ready_ghost_end(int fd, int all)
{
	struct ready_ghost **pp = &ready_ghosts;

	if (!all && fdt_count_get(&ready_bypassing, fd) > 0)
		return;
	while (*pp != NULL) {
		struct ready_ghost *g = *pp;

		if (!all && g->fd != fd) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		__atomic_store_n(&ready_nghosts, ready_nghosts - 1,
				 __ATOMIC_SEQ_CST);
		if (--g->set->nghosts == 0 && g->set->orphan)
			ready_orphan_done(g->set);
		free(g);
	}
}

/* Caller holds ready_lock: the set of fd's ghost that knows tag, or NULL. */
static struct ready_set *ready_ghost_find(int fd, uint64_t tag)
{
	for (struct ready_ghost *g = ready_ghosts; g != NULL; g = g->next)
		if (g->fd == fd && ready_find_tag(g->set, tag) != NULL)
			return g->set;
	return NULL;
}

/* Caller holds ready_lock: epfd is closed, its registrations dropped: the
   set goes, or, if a wait on it is in progress, is orphaned, for the
   last one to free (ready_round_end, ready_ghost_end). */
static void ready_set_free(int epfd, struct ready_set *set)
{
	set->orphan = 1;
	ready_ghost_add(set, epfd);
	fdt_map_set(&ready_sets, epfd, NULL);
	ready_mark_tls(epfd, 0);
	ready_orphan_done(set);
}

static void ready_drop(struct ready_reg *r);

/* Caller holds ready_lock: fd, one of set's numbers, is being closed
   (still open).  1 if the set has others, and stays; 0 if fd was the
   last (the caller frees the set).  If fd was the set's epfd, another
   number takes its place, in every registration's r->epfd too. */
static int ready_set_unname(struct ready_set *set, int fd)
{
	size_t i;

	if (set->naliases == 0)
		return 0;
	ready_ghost_add(set, fd);
	fdt_map_set(&ready_sets, fd, NULL);
	ready_mark_tls(fd, 0);
	if (fd == set->epfd) {
		set->epfd = set->aliases[--set->naliases];
		for (struct ready_reg *r = set->regs; r != NULL;
		     r = r->set_next)
			r->epfd = set->epfd;
		for (struct ready_reg *r = set->stale; r != NULL;
		     r = r->stale_next)
			r->epfd = set->epfd;
		return 1;
	}
	for (i = 0; i < set->naliases && set->aliases[i] != fd; i++)
		;
	if (i < set->naliases)
		set->aliases[i] = set->aliases[--set->naliases];
	return 1;
}

/* Caller holds ready_lock: the number fd (an epoll set's, if the map
   says so) is closed, or was closed unseen: the set goes with its last
   number, its registrations dropped. */
static void ready_number_gone(int fd)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, fd);

	if (set == NULL || ready_set_unname(set, fd))
		return;
	while (set->regs != NULL)
		ready_drop(set->regs);
	ready_set_free(fd, set);
}

/* The highest number an epoll set has had (ready_closing_range's walk). */
static int ready_max_epfd = -1;

static void ready_note_epfd(int fd)
{
	if (fd > __atomic_load_n(&ready_max_epfd, __ATOMIC_RELAXED))
		__atomic_store_n(&ready_max_epfd, fd, __ATOMIC_RELAXED);
}

static struct ready_set *ready_set_get(int epfd)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, epfd);

	if (set != NULL)
		return set;
	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return NULL;
	set->rounds = 1;
	set->epfd = epfd;
	if (fdt_map_set(&ready_sets, epfd, set) < 0) {
		free(set);
		return NULL;
	}
	ready_note_epfd(epfd);
	return set;
}

/*
 * Caller holds ready_lock: detach r from its socket and set, free it.
 * An emptied set stays (event loops delete and add registrations all the
 * time) until its epoll fd is closed.
 */
static void ready_drop(struct ready_reg *r)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, r->epfd);

	ready_sock_unlink(r);
	if (set != NULL) {
		ready_unlink(&set->regs, r, offsetof(struct ready_reg, set_next));
		if (r->live)
			set->nregs--;
		else if (r->dormant)
			set->ndormant--;
	}
	r->live = r->dormant = 0;
	r->sock = NULL;
	ready_retire(set, r, 1);
}

/* --------------------------------------- the kernel's registrations */

/* ready_mask_epoll, but for a watched set (struct ready_set) the kernel
   hears writability too: whoever polls the set itself asks the kernel. */
static uint32_t ready_watched_mask(int epfd, const struct ready_facts *f,
				   uint32_t app_events, int armed)
{
	uint32_t m = ready_mask_epoll(f, app_events, armed);
	struct ready_set *set = fdt_map_peek(&ready_sets, epfd);

	if (set != NULL && set->watched && m != READY_DISARMED &&
	    f->state == SOCK_READY && f->owned)
		m |= app_events & EPOLLOUT;
	return m;
}

/* Caller holds ready_lock: what the kernel registration of r must be. */
static uint32_t ready_reg_mask(struct ready_reg *r)
{
	struct sock_view v;
	struct ready_facts f;

	ready_look(r->sock, r->fd, &v, &f);
	return ready_watched_mask(r->epfd, &f, r->app_events, r->armed);
}

/* A level-triggered kernel registration for `have` serves one that needs
   `need`: the events the program does not want are filtered out, and
   narrowed away when they come. */
static int ready_covers(uint32_t have, uint32_t need)
{
	const uint32_t flags = READY_FLAGS;

	if (have == READY_DISARMED || need == READY_DISARMED ||
	    ((have | need) & flags))
		return 0;
	return (need & ~have) == 0;
}

/* Caller holds ready_lock: make the kernel registration match. */
static void ready_apply(struct ready_reg *r)
{
	uint32_t m = ready_reg_mask(r);
	struct epoll_event ev;

	if (m == r->kernel_events) {
		r->wide = r->wake = 0;
		return;
	}
	ev.events = m == READY_DISARMED ? EPOLLONESHOT : m;
	ev.data.u64 = r->tag;
	if (r->kfd < 0)
		return;
	if (real.epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->kfd, &ev) == 0) {
		r->kernel_events = m;
		r->wide = r->wake = 0;
	} else
		log_msg(SHIM_LOG_DEBUG, "epoll_ctl(MOD, fd %d): %s", r->fd,
			strerror(errno));
}

/* Caller holds ready_lock: register r with the kernel on kfd. */
static void ready_register(struct ready_reg *r, int kfd)
{
	struct epoll_event ev;
	uint32_t m;

	r->kfd = kfd;
	m = ready_reg_mask(r);
	ev.events = m == READY_DISARMED ? EPOLLONESHOT : m;
	ev.data.u64 = r->tag;
	if (real.epoll_ctl(r->epfd, EPOLL_CTL_ADD, kfd, &ev) == 0) {
		r->kernel_events = m;
	} else {
		log_msg(SHIM_LOG_WARNING, "epoll_ctl(ADD, fd %d for fd %d): %s",
			kfd, r->fd, strerror(errno));
		r->kfd = -1;
	}
}

/* Caller holds ready_lock: r goes (its number is being closed, still
   open).  Its kernel registration is removed too: the private socket's
   would stay, and so would the program's own descriptor's while a dup of
   it is open (the kernel forgets it with the file's last number), its
   events carrying the shim's tag. */
static void ready_unregister(struct ready_reg *r)
{
	if ((r->live || r->dormant) && r->kfd >= 0)
		real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->kfd, NULL);
	ready_drop(r);
}

/* ------------------------------------------ dormant registrations */

/* Caller holds ready_lock: the program deleted live r, whose kernel
   registration is on the private socket: keep that one, dormant. */
static void ready_sleep(struct ready_set *set, struct ready_reg *r)
{
	r->live = 0;
	r->dormant = 1;
	set->nregs--;
	set->ndormant++; /* stays in the hash: its events are dropped */
}

/* Caller holds ready_lock: r is no longer dormant (off the hash, or
   stale); the kernel registration stays, for the caller to reuse or
   remove. */
static void ready_wake(struct ready_set *set, struct ready_reg *r)
{
	r->dormant = 0;
	set->ndormant--;
	ready_retire(set, r, 0);
}

/* Caller holds ready_lock: the deferred EPOLL_CTL_DEL of dormant r. */
static void ready_bury(struct ready_set *set, struct ready_reg *r)
{
	ready_wake(set, r);
	if (r->kfd >= 0)
		real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->kfd, NULL);
}

/* Caller holds ready_lock: every dormant registration of set removed. */
static void ready_bury_all(struct ready_set *set)
{
	for (struct ready_reg *r = set->regs;
	     r != NULL && set->ndormant > 0; r = r->set_next)
		if (r->dormant)
			ready_bury(set, r);
}

/* Caller holds ready_lock: s is about to be registered in set through r:
   a dormant registration of s made through another of its numbers (a
   dup) holds the kernel's, which the new one needs: removed. */
static void ready_bury_sock(struct ready_set *set, struct shim_sock *s,
			    struct ready_reg *r, int epfd)
{
	struct ready_reg *x;

	if (set == NULL || set->ndormant == 0)
		return;
	READY_FOR_SOCK(x, s)
		if (x != r && x->dormant && x->epfd == epfd)
			ready_bury(set, x);
}

/* Caller holds ready_lock: the set itself is polled from now on (see
   struct ready_set): every registration's kernel events widened to the
   program's, nothing left dormant. */
static void ready_watch(struct ready_set *set)
{
	set->watched = 1;
	ready_bury_all(set);
	for (struct ready_reg *r = set->regs; r != NULL; r = r->set_next)
		if (r->live)
			ready_apply(r);
}

/* -------------------------------------------- what the socket reports */

/* s changed state: re-register it where its registrations need other
   events.  Caller holds a reference. */
static void ready_sync(struct shim_sock *s)
{
	struct ready_reg *r;

	if (!ready_sock_maybe(s))
		return;
	pthread_mutex_lock(&ready_lock);
	READY_FOR_SOCK(r, s)
		if (r->live)
			ready_apply(r);
	pthread_mutex_unlock(&ready_lock);
}

/* fd (s's number, or NULL's: any file) was closed: forget registrations
   made through it, and the epoll instance it was. */
static void ready_closed(struct shim_sock *s, int fd)
{
	struct ready_reg *r, *next;

	if (s != NULL && ready_sock_maybe(s)) {
		pthread_mutex_lock(&ready_lock);
		for (r = ready_sock_first(s); r != NULL; r = next) {
			next = ready_sock_next(r);
			if (r->fd == fd)
				ready_unregister(r);
		}
		pthread_mutex_unlock(&ready_lock);
	}
	if (fdt_map_peek(&ready_sets, fd) == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	ready_number_gone(fd);
	pthread_mutex_unlock(&ready_lock);
}

/* Caller holds ready_lock: r goes, and the kernel registration it made
   on the program's own number (kfd == fd), which stays open, becomes the
   program's as it made it: its data (the shim's tag until now) and
   events, a fired one-shot still disarmed.  Any other goes. */
static void ready_hand_back(struct ready_reg *r)
{
	struct epoll_event ev;

	if (!r->live || r->kfd < 0 || r->kfd != r->fd) {
		ready_unregister(r);
		return;
	}
	ev.events = r->armed ? r->app_events : EPOLLONESHOT;
	ev.data = r->data;
	if (real.epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->fd, &ev) < 0 &&
	    (real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->fd, NULL) < 0 ||
	     real.epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0))
		log_msg(SHIM_LOG_WARNING, "epoll set %d, fd %d: its "
			"registration could not be made plain (%s): no events",
			r->epfd, r->fd, strerror(errno));
	ready_drop(r); /* the kernel's is the program's now */
}

/* s's registrations are void: its connect passed through (untracked:
   SOCK_EV_UNTRACKED, the program's numbers of it plain sockets from now
   on), or (SOCK_EV_GONE) its session ended, it is no longer tracked, or
   it is recycled.  One on a number the program still has for s (an
   untracked socket's, a session ended in relay mode: the program's
   descriptor is the kernel's from now on) is handed back; any other
   goes, the kernel's too unless it is on the program's own number (which
   may be another file's by now, closed past the hooks). */
static void ready_forget(struct shim_sock *s, int untracked)
{
	struct ready_reg *r;

	if (!ready_sock_maybe(s))
		return;
	pthread_mutex_lock(&ready_lock);
	while ((r = ready_sock_first(s)) != NULL) {
		if (!untracked && r->kfd >= 0 && r->kfd == r->fd &&
		    fdt_peek(r->fd) != s)
			ready_drop(r);
		else
			ready_hand_back(r);
	}
	pthread_mutex_unlock(&ready_lock);
}

/* The kernel descriptor behind s is about to change: off the kernel. */
static void ready_detach(struct shim_sock *s)
{
	struct ready_reg *r;

	if (!ready_sock_maybe(s))
		return;
	pthread_mutex_lock(&ready_lock);
	READY_FOR_SOCK(r, s) {
		if (r->dormant)
			ready_bury(fdt_map_peek(&ready_sets, r->epfd), r);
		else if (r->live && r->kfd >= 0)
			real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->kfd, NULL);
		r->kfd = -1;
	}
	pthread_mutex_unlock(&ready_lock);
}

/* ... and has changed (detach: 0), or changed with no detach (rebind: 1):
   register every live registration on the descriptor it needs now. */
static void ready_attach(struct shim_sock *s, int rebind)
{
	struct ready_reg *r;

	if (!ready_sock_maybe(s))
		return;
	pthread_mutex_lock(&ready_lock);
	READY_FOR_SOCK(r, s) {
		struct sock_view v;

		sock_view(s, r->fd, &v);
		if (!r->live || r->kfd == v.kernel_fd ||
		    (!rebind && r->kfd >= 0))
			continue;
		if (r->kfd >= 0)
			real.epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->kfd, NULL);
		r->moved = 1;
		ready_register(r, v.kernel_fd);
	}
	pthread_mutex_unlock(&ready_lock);
}

/* The observer the socket module calls (sock_observe). */
static void ready_on_sock(struct shim_sock *s, enum sock_event ev, int fd)
{
	switch (ev) {
	case SOCK_EV_CHANGED:
		ready_sync(s);
		break;
	case SOCK_EV_CLOSED:
		ready_closed(s, fd);
		break;
	case SOCK_EV_DETACH:
		ready_detach(s);
		break;
	case SOCK_EV_ATTACH:
		ready_attach(s, 0);
		break;
	case SOCK_EV_REBIND:
		ready_attach(s, 1);
		break;
	case SOCK_EV_UNTRACKED:
		ready_forget(s, 1);
		break;
	case SOCK_EV_GONE:
		ready_forget(s, 0);
		break;
	default:
		break;
	}
}

/* Caller holds ready_lock: the way of deletions, from the environment
   (checked with the configuration: a bad value never gets this far but
   counts as auto), at the first mirrored registration. */
static void ready_adapt_start(void)
{
	enum ready_del_way way;
	int fixed;

	(void)ready_adapt_parse(exec_env_getenv("REDIS_TLS_EPOLL_DELETE"),
				&fixed, &way);
	ready_adapt_init(&ready_adapt, fixed, way);
	ready_adapt_started = 1;
}

/* Caller holds ready_lock: a wait returned events; a window's last one
   reads the process's CPU time for the controller. */
static void ready_adapt_count(void)
{
	struct timespec ts;
	int64_t now = -1;
	int measuring;

	if (!ready_adapt_started || ready_adapt.fixed ||
	    ++ready_adapt_waits < READY_ADAPT_WAITS)
		return;
	ready_adapt_waits = 0;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
		now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	measuring = ready_adapt.measuring;
	(void)ready_adapt_window(&ready_adapt, now);
	if (measuring && !ready_adapt.measuring)
		log_msg(SHIM_LOG_DEBUG, "epoll deletions: %s for %u x %d waits "
			"(CPU per wait: kept %.2f us, passed on %.2f us)",
			ready_adapt.way == READY_DEL_KEEP ? "kept" : "passed on",
			ready_adapt.left, READY_ADAPT_WAITS,
			(double)ready_adapt.last_ns[READY_DEL_KEEP] / 1000.0 /
				READY_ADAPT_WAITS,
			(double)ready_adapt.last_ns[READY_DEL_PASS] / 1000.0 /
				READY_ADAPT_WAITS);
}

static void ready_observe(void)
{
	static atomic_int observing;

	if (!atomic_load_explicit(&observing, memory_order_acquire) &&
	    !atomic_exchange(&observing, 1))
		sock_observe(ready_on_sock);
}

/* ------------------------------------------------------- fork */

void ready_atfork_prepare(void)
{
	pthread_mutex_lock(&ready_lock);
}

void ready_atfork_release(void)
{
	pthread_mutex_unlock(&ready_lock);
}

void ready_atfork_child(void)
{
	ready_forks++;
	ready_adapt_forked(&ready_adapt);
	ready_adapt_waits = 0;
	fdt_counts_clear(&ready_bypassing); /* other threads' waits */
	ready_ghost_end(-1, 1); /* kept by those waits only */
	pthread_mutex_unlock(&ready_lock);
}

/* ------------------------------------------------------ epoll_ctl */

int ready_has_set(int epfd)
{
	return fdt_count_get(&ready_tls_sets, epfd) > 0;
}

int ready_is_epfd(int fd)
{
	return fdt_map_peek(&ready_sets, fd) != NULL;
}

/* Caller holds ready_lock: r (fresh or reused) now mirrors ev; add it to
   the kernel.  0, or -1 with errno. */
static int ready_ctl_register(struct shim_sock *s, struct ready_reg *r,
			      int epfd, int fd, struct epoll_event *ev,
			      int revive)
{
	struct sock_view v;
	struct ready_facts f;
	struct epoll_event kev;
	int old_kfd = revive ? r->kfd : -1;
	uint32_t old_events = r->kernel_events, wake;

	r->epfd = epfd;
	r->fd = fd;
	r->app_events = ev->events;
	r->data = ev->data;
	r->armed = 1;
	r->err_reported = 0;
	r->edge = (ev->events & EPOLLET) != 0;
	r->sock = s;
	ready_look(s, fd, &v, &f);
	r->kfd = v.kernel_fd;
	r->kernel_events = ready_watched_mask(epfd, &f, r->app_events, r->armed);
	wake = ready_wake_bit(epfd, &f, r->app_events, r->kernel_events);
	r->kernel_events |= wake;
	r->wake = wake != 0;
	kev.events = r->kernel_events |
		     (!sock_emulated(v.state) ? 0 : (ev->events & EPOLLEXCLUSIVE));
	kev.data.u64 = r->tag;
	r->wide = 0;
	if (old_kfd >= 0 && old_kfd == r->kfd && !(ev->events & READY_FLAGS) &&
	    ready_covers(old_events, r->kernel_events)) {
		/* the dormant kernel registration serves as it is */
		r->wide = old_events != r->kernel_events;
		r->kernel_events = old_events;
		return 0;
	}
	if (old_kfd >= 0 && old_kfd == r->kfd && !(kev.events & EPOLLEXCLUSIVE)) {
		/* the dormant kernel registration, changed in place */
		if (real.epoll_ctl(epfd, EPOLL_CTL_MOD, r->kfd, &kev) == 0)
			return 0;
	} else if (old_kfd >= 0) {
		real.epoll_ctl(epfd, EPOLL_CTL_DEL, old_kfd, NULL);
	}
	return real.epoll_ctl(epfd, EPOLL_CTL_ADD, r->kfd, &kev);
}

/*
 * EPOLL_CTL_ADD of a tracked socket.  `r` is the registration a previous
 * EPOLL_CTL_DEL left behind for this (epfd, fd), reused so that event
 * loops that add and delete all the time allocate nothing.
 */
static int ready_ctl_add(struct shim_sock *s, struct ready_reg *r, int epfd,
			 int fd, struct epoll_event *ev)
{
	int had_set = fdt_map_peek(&ready_sets, epfd) != NULL;
	struct ready_set *set = ready_set_get(epfd);
	int fresh = r == NULL, revive = 0;

	if (fresh && (r = calloc(1, sizeof(*r))) != NULL)
		r->tag = ready_tag(r);
	if (r == NULL || set == NULL) {
		if (fresh)
			free(r);
		return real.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev);
	}
	if (r->dormant) {
		/* awake, but left in the hash: its tag is the same */
		r->dormant = 0;
		set->ndormant--;
		revive = 1;
	}
	ready_bury_sock(set, s, r, epfd);
	/* before the kernel can give a wait that bypasses the shim an event
	   with the tag (ready_bypass_end sees it then) */
	if (!set->had_regs) {
		set->had_regs = 1;
		ready_mark_tls(set->epfd, 1);
		for (size_t i = 0; i < set->naliases; i++)
			ready_mark_tls(set->aliases[i], 1);
	}
	if (ready_ctl_register(s, r, epfd, fd, ev, revive) < 0) {
		int err = errno;
		if (fresh)
			free(r);
		else if (revive)
			ready_retire(set, r, 0);
		/* a set made here for a number that is no epoll set goes;
		   one known since epoll_create stays (set->watched) */
		if (!had_set && set->nregs == 0 && set->regs == NULL)
			ready_set_free(epfd, set);
		errno = err;
		return -1;
	}
	if (fresh) {
		ready_sock_link(r);
		r->set_next = set->regs;
		set->regs = r;
	}
	r->live = 1;
	set->nregs++;
	if (!revive)
		ready_hash_add(set, r);
	else if (set->nbuckets < set->nregs * 2)
		ready_hash_rebuild(set); /* grows as ready_hash_add would */
	return 0;
}

static int ready_ctl_mod(struct ready_reg *r, int epfd, int fd,
			 struct epoll_event *ev)
{
	struct epoll_event kev;
	struct sock_view v;
	struct ready_facts f;
	uint32_t wake;
	int rc;

	/* the kernel refuses to change an exclusive registration (EINVAL):
	   its answer, nothing of r changed */
	if (r->app_events & EPOLLEXCLUSIVE)
		return real.epoll_ctl(epfd, EPOLL_CTL_MOD,
				      r->kfd >= 0 ? r->kfd : fd, ev);
	r->app_events = ev->events;
	r->armed = 1;
	r->err_reported = 0;
	r->edge = (ev->events & EPOLLET) != 0;
	r->data = ev->data; /* the kernel's stays the tag */
	ready_look(r->sock, r->fd, &v, &f);
	kev.events = ready_watched_mask(epfd, &f, r->app_events, r->armed);
	wake = ready_wake_bit(epfd, &f, r->app_events, kev.events);
	kev.events |= wake;
	r->wake = wake != 0;
	kev.data.u64 = r->tag;
	/* level-triggered, and the kernel registration serves as it is: a
	   kernel MOD would change nothing the program sees */
	if (r->kfd >= 0 && !(ev->events & READY_FLAGS) &&
	    ready_covers(r->kernel_events, kev.events)) {
		r->wide = r->kernel_events != kev.events;
		return 0;
	}
	rc = real.epoll_ctl(epfd, EPOLL_CTL_MOD, r->kfd >= 0 ? r->kfd : fd, &kev);
	if (rc == 0) {
		r->kernel_events = kev.events;
		r->wide = 0;
	}
	return rc;
}

/* EPOLL_CTL_DEL: the registration sleeps until the next ADD. */
static void ready_ctl_del(struct ready_reg *r)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, r->epfd);

	if (!r->live)
		return;
	r->live = 0;
	if (set != NULL) {
		set->nregs--;
		ready_retire(set, r, 0);
	}
}

int ready_epoll_ctl(struct shim_sock *s, int epfd, int op, int fd,
		    struct epoll_event *ev)
{
	struct ready_reg *r;
	struct ready_set *set;
	int rc, err;

	ready_observe();
	pthread_mutex_lock(&ready_lock);
	if (__builtin_expect(!ready_adapt_started, 0))
		ready_adapt_start();
	set = fdt_map_peek(&ready_sets, epfd);
	if (set != NULL)
		epfd = set->epfd; /* the number its registrations have (dup) */
	r = ready_find(s, epfd, fd);
	if (op == EPOLL_CTL_ADD && ev != NULL && (r == NULL || !r->live))
		rc = ready_ctl_add(s, r, epfd, fd, ev);
	else if (op == EPOLL_CTL_MOD && ev != NULL && r != NULL && r->live)
		rc = ready_ctl_mod(r, epfd, fd, ev);
	else if (op == EPOLL_CTL_DEL && r != NULL && r->live && r->kfd >= 0 &&
		 r->kfd != fd && !(r->app_events & EPOLLEXCLUSIVE) &&
		 (set = fdt_map_peek(&ready_sets, epfd)) != NULL &&
		 !set->watched &&
		 (set->busy || ready_active(set) != NULL ||
		  ready_adapt.way == READY_DEL_KEEP)) {
		ready_sleep(set, r);
		rc = 0;
	} else {
		int kfd = r != NULL && r->live && r->kfd >= 0 ? r->kfd : fd;
		rc = real.epoll_ctl(epfd, op, kfd, ev);
		if (op == EPOLL_CTL_DEL && rc == 0 && r != NULL)
			ready_ctl_del(r);
	}
	err = errno;
	pthread_mutex_unlock(&ready_lock);
	errno = err;
	return rc;
}

/* epoll_ctl of a descriptor the shim does not track (its events keep the
   program's data, which no tag of the shim's is). */
int ready_epoll_ctl_plain(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (op != EPOLL_CTL_DEL)
		ready_epfd_watched(fd); /* an epoll set nested in another */
	return real.epoll_ctl(epfd, op, fd, ev);
}

void ready_epfd_new(int epfd)
{
	ready_observe(); /* its close must reach ready_closed, which frees it */
	pthread_mutex_lock(&ready_lock);
	ready_number_gone(epfd); /* its last epoll set, closed unseen */
	ready_mark_tls(epfd, 0);
	(void)ready_set_get(epfd);
	pthread_mutex_unlock(&ready_lock);
}

void ready_epfd_reused(int fd)
{
	pthread_mutex_lock(&ready_lock);
	ready_number_gone(fd);
	ready_mark_tls(fd, 0);
	pthread_mutex_unlock(&ready_lock);
}

void ready_closing_range(unsigned first, unsigned last)
{
	int max = __atomic_load_n(&ready_max_epfd, __ATOMIC_RELAXED);

	if (max < 0 || first > (unsigned)max)
		return;
	if (last > (unsigned)max)
		last = (unsigned)max;
	pthread_mutex_lock(&ready_lock);
	for (unsigned fd = first; fd <= last; fd++)
		if (fdt_map_peek(&ready_sets, (int)fd) != NULL)
			ready_number_gone((int)fd);
	pthread_mutex_unlock(&ready_lock);
}

void ready_epfd_dup(int oldfd, int newfd)
{
	struct ready_set *set;
	int *a;

	if (oldfd == newfd || fdt_map_peek(&ready_sets, oldfd) == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	ready_number_gone(newfd); /* closed unseen, if the map has it */
	set = fdt_map_peek(&ready_sets, oldfd);
	if (set != NULL && set->naliases == set->aliases_cap) {
		size_t cap = set->aliases_cap ? set->aliases_cap * 2 : 2;

		a = realloc(set->aliases, cap * sizeof(*a));
		if (a != NULL) {
			set->aliases = a;
			set->aliases_cap = cap;
		}
	}
	if (set != NULL && set->naliases < set->aliases_cap &&
	    fdt_map_set(&ready_sets, newfd, set) == 0) {
		ready_note_epfd(newfd);
		set->aliases[set->naliases++] = newfd;
		ready_mark_tls(newfd, set->had_regs);
	}
	else if (set != NULL)
		log_msg(SHIM_LOG_WARNING, "epoll set %d duplicated as %d: not "
			"recorded (out of memory or descriptors), waits on %d "
			"see the shim's tags", oldfd, newfd, newfd);
	pthread_mutex_unlock(&ready_lock);
}

void ready_epfd_watched(int fd)
{
	struct ready_set *set = fdt_map_peek(&ready_sets, fd);

	if (set == NULL || __atomic_load_n(&set->watched, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&ready_lock);
	set = fdt_map_peek(&ready_sets, fd);
	if (set != NULL && !set->watched)
		ready_watch(set);
	pthread_mutex_unlock(&ready_lock);
}

/* ----------------------------------------------------- epoll_wait */

/* A registration of a socket in its handshake: no event, but its deadline
   caps the wait, and once passed the socket is stepped (to FAILED). */
static void ready_collect_handshake(struct ready_reg *r,
				    const struct sock_view *v,
				    struct ready_round *rd)
{
	int left = deadline_left_ms(&v->hs_deadline);

	if (left == 0 && rd->nexpired < READY_MAX_EXPIRED) {
		sock_get(r->sock);
		rd->expired_fd[rd->nexpired] = r->fd;
		rd->expired[rd->nexpired++] = r->sock;
	}
	if (rd->cap_ms < 0 || left < rd->cap_ms)
		rd->cap_ms = left;
}

/* The events of r that are ready without asking the kernel (0: none). */
static uint32_t ready_collect_one(struct ready_reg *r,
				  const struct ready_facts *f, int watched)
{
	/* edge-triggered: an error is an edge, reported once */
	if (f->state == SOCK_FAILED && (r->app_events & EPOLLET)) {
		if (r->err_reported)
			return 0;
		r->err_reported = 1;
	}
	/* edge-triggered readers read until EAGAIN, so buffered plaintext
	   needs no second edge, unless the program asked for one (ADD or
	   MOD); writability's edges are the kernel's */
	if (f->state == SOCK_READY && (r->app_events & EPOLLET)) {
		uint32_t ev = r->edge ?
			ready_mask_synthetic(f, r->app_events & EPOLLIN) : 0;

		if (ev == 0)
			r->edge = 0; /* reported: ready_collect clears it */
		return ev;
	}
	/* a one-shot hears writability from the kernel (ready_mask_epoll),
	   and so does a watched set's registration */
	if (f->state == SOCK_READY &&
	    ((r->app_events & EPOLLONESHOT) || watched))
		return ready_mask_synthetic(f, r->app_events & ~READY_FLAGS &
						       ~(uint32_t)EPOLLOUT);
	return ready_mask_synthetic(f, r->app_events & ~READY_FLAGS);
}

/*
 * The synthetic events of set, at most cap of them; those beyond are
 * counted in rd->held.  Like the kernel's ready list, the registrations
 * take turns: the walk starts where the last one that ran out of room
 * stopped, so that every ready registration is reported in turn however
 * small the program's maxevents.
 */
static void ready_collect(struct ready_set *set, struct ready_round *rd,
			  int cap)
{
	size_t i = 0, from = set->rotor, stop = 0;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		i = 0;
		for (struct ready_reg *r = set->regs; r != NULL;
		     r = r->set_next, i++) {
			struct sock_view v;
			struct ready_facts f;
			uint32_t ev;

			if (!r->live || (pass == 0) != (i >= from))
				continue;
			ready_look(r->sock, r->fd, &v, &f);
			if (ready_mask_handshaking(f.state)) {
				ready_collect_handshake(r, &v, rd);
				continue;
			}
			if (!r->armed)
				continue;
			ev = ready_collect_one(r, &f, set->watched);
			if (ev == 0)
				continue;
			if (rd->n >= cap) {
				if (rd->held++ == 0)
					stop = i;
				continue;
			}
			if (rd->n < READY_SYNTH_MAX)
				rd->synth_reg[rd->n] = r;
			rd->ev[rd->n].events = ev;
			rd->ev[rd->n++].data = r->data;
			r->edge = 0;
			if (r->app_events & EPOLLONESHOT) {
				r->armed = 0;
				ready_apply(r);
			}
		}
	}
	set->rotor = rd->held > 0 ? stop : 0;
}

/* A kernel event for r that a synthetic event of this round already
   reported: merged into that one.  Returns what is left of out. */
static uint32_t ready_merge_duplicate(struct ready_round *rd, int nsyn,
				      const struct ready_reg *r, uint32_t out)
{
	for (int i = 0; r != NULL && out != 0 && i < nsyn &&
	     i < READY_SYNTH_MAX; i++) {
		if (rd->synth_reg[i] == r) {
			rd->ev[i].events |= out;
			out = 0;
		}
	}
	return out;
}

/* The common case (ready_mask_steady): the kernel's answer is the
   program's, give or take buffered plaintext.  Caller holds ready_lock;
   released here. */
static int ready_translate_steady(struct ready_reg *r,
				  const struct ready_facts *f,
				  struct epoll_event *ev)
{
	struct shim_sock *s = r->sock;
	int fd = r->fd;
	uint32_t out = ready_mask_report(f, r->app_events & ~READY_FLAGS,
					 ev->events);

	if (!(out & EPOLLIN) || !(ev->events & EPOLLIN) ||
	    (f->hints & SOCK_HINT_BUFFERED)) {
		pthread_mutex_unlock(&ready_lock);
		ev->events = out;
		return out != 0;
	}
	/* the kernel has bytes: readable only if they make a record */
	sock_get(s);
	pthread_mutex_unlock(&ready_lock);
	if (!sock_probe_readable(s, fd))
		out &= ~(uint32_t)EPOLLIN;
	sock_put(s);
	ev->events = out;
	return out != 0;
}

/* Any other state: ready_complete() drives the socket, then r is
   re-armed as the answer needs (it may have gone meanwhile).  Caller
   holds ready_lock; released here. */
static int ready_translate_full(int epfd, struct ready_reg *r, int oneshot,
				struct epoll_event *ev, struct ready_round *rd,
				int nsyn)
{
	struct shim_sock *s = r->sock;
	uint32_t want = r->app_events & ~READY_FLAGS, out;
	int fd = r->fd, from = r->moved ? -1 : r->kfd;

	r->moved = 0;
	if (oneshot)
		r->kernel_events = READY_DISARMED; /* the kernel disarmed it */
	sock_get(s);
	pthread_mutex_unlock(&ready_lock);

	out = ready_complete(s, fd, want, ev->events, from);

	pthread_mutex_lock(&ready_lock);
	r = ready_find(s, epfd, fd);
	if (r != NULL && !r->live)
		r = NULL;
	if (r != NULL && oneshot && out != 0)
		r->armed = 0;
	if (r != NULL)
		ready_apply(r); /* re-arm if we swallowed a one-shot event */
	out = ready_merge_duplicate(rd, nsyn, r, out);
	pthread_mutex_unlock(&ready_lock);
	ready_sync(s);
	sock_put(s);
	ev->events = out;
	return out != 0;
}

/* Interpret one kernel event; returns 1 to keep it (rewritten in *ev). */
static int ready_translate(int epfd, struct epoll_event *ev,
			   struct ready_round *rd, int nsyn)
{
	struct ready_set *set;
	struct ready_reg *r;
	struct sock_view v;
	struct ready_facts f;
	int oneshot;

	pthread_mutex_lock(&ready_lock);
	set = rd->set; /* the map's may be another, if epfd was closed */
	if (set != NULL)
		epfd = set->epfd; /* the number its registrations have (dup) */
	r = set ? ready_find_tag(set, ev->data.u64) : NULL;
	if (r != NULL && r->dormant) /* deleted meanwhile: not reported */
		ready_bury(set, r);
	if (r != NULL && !r->live) { /* deleted, or gone (stale) */
		pthread_mutex_unlock(&ready_lock);
		return 0;
	}
	if (r == NULL || !r->armed) {
		pthread_mutex_unlock(&ready_lock);
		return r == NULL; /* not ours: as the kernel said it */
	}
	ev->data = r->data; /* the program's, for the kernel's tag */
	/* edge-triggered: the answer below says buffered plaintext too, so
	   the ADD's or MOD's edge is reported with it (the wake's event, or
	   the kernel's own) */
	if (r->app_events & EPOLLET)
		r->edge = 0;
	if (r->wake || (r->wide && (ev->events & ~r->app_events &
				    (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP))))
		ready_apply(r); /* level-triggered: it would come again */
	ready_look(r->sock, r->fd, &v, &f);
	/* the kernel's registration carries the program's EPOLLONESHOT (and
	   the kernel disarmed it) once the session is open, or when the
	   kernel serves the descriptor as it is */
	oneshot = (r->app_events & EPOLLONESHOT) &&
		  (f.state == SOCK_READY || !sock_emulated(f.state) || !f.owned);
	if (!oneshot && nsyn == 0 && ready_mask_steady(&f))
		return ready_translate_steady(r, &f, ev);
	return ready_translate_full(epfd, r, oneshot, ev, rd, nsyn);
}

/* One round's synthetic events into rd (and expired handshakes stepped):
   0, or 1 if handshakes failed and the round must be collected again. */
static int ready_round_collect(int epfd, struct epoll_event *events, int max,
			       struct ready_round *rd)
{
	struct ready_set *set;

	/* the arrays are read only below n and nexpired: left as they are
	   (clearing them cost more than the rest of a round) */
	rd->ev = events;
	rd->max = max;
	rd->n = rd->nexpired = rd->skip_kernel = rd->held = 0;
	rd->cap_ms = -1;
	pthread_mutex_lock(&ready_lock);
	set = fdt_map_peek(&ready_sets, epfd);
	rd->set = set;
	if (set != NULL && set->ndormant > 0)
		ready_bury_all(set); /* nothing dormant while the kernel waits */
	if (set != NULL) {
		rd->gen = set->rounds++; /* active until ready_round_end */
		rd->forks = ready_forks;
		rd->next = set->active;
		set->active = rd;
		/* A round with synthetic events returns at once; every other
		   one still asks the kernel too, with room left for one of
		   its events at least, so that no descriptor's events wait
		   behind a socket that is always ready. */
		ready_collect(set, rd, set->asked_kernel ? max : max - 1);
		rd->skip_kernel = (rd->n > 0 || rd->held > 0) &&
				  set->asked_kernel;
		set->asked_kernel = !rd->skip_kernel;
	}
	pthread_mutex_unlock(&ready_lock);
	for (int i = 0; i < rd->nexpired; i++) {
		sock_step(rd->expired[i], rd->expired_fd[i]);
		sock_put(rd->expired[i]);
	}
	return rd->nexpired > 0 && rd->n == 0; /* FAILED now: report them */
}

/* A round of a wait is over, its out events translated: off its set's
   active list (what only it could still meet is purged; an orphaned set
   freed by the last); if it returned events, whether the next
   EPOLL_CTL_DELs of private sockets stay dormant (see the file's head). */
static void ready_round_end(struct ready_round *rd, int out)
{
	struct ready_set *set = rd->set;

	if (set == NULL)
		return;
	pthread_mutex_lock(&ready_lock);
	ready_unlink_round(&set->active, rd);
	if (out > 0) {
		set->busy = out > 1;
		ready_adapt_count();
	}
	if (set->orphan) {
		ready_orphan_done(set);
	} else if (set->stale != NULL) {
		ready_purge(set, 0);
	}
	pthread_mutex_unlock(&ready_lock);
}

int ready_bypass_begin(int epfd)
{
	int err = errno;

	if (fdt_count_add(&ready_bypassing, epfd, 1) < 0) {
		errno = err;
		return 0;
	}
	if (!ready_has_set(epfd))
		return 1; /* an ADD from now on sees the count */
	(void)fdt_count_add(&ready_bypassing, epfd, -1);
	return 0;
}

/*
 * The kernel's n events of a bypassing wait: as they are, unless a TLS
 * socket was added to the set meanwhile, whose events carry the shim's
 * tag.  Those are translated as a round's would be, by a round of
 * generation 0 (registrations that went during the wait stayed stale for
 * it, ready_retire); if epfd was closed during the wait, by the set it
 * was (its ghost: an orphaned set's are dropped).  READY_AGAIN if every
 * event was dropped.
 */
int ready_bypass_end(int epfd, struct epoll_event *ev, int n)
{
	struct ready_round rd, rd_ghost;
	struct ready_set *set;
	int err = errno, out = 0;

	if (__builtin_expect(!ready_has_set(epfd), 1) &&
	    __builtin_expect(!__atomic_load_n(&ready_nghosts, __ATOMIC_SEQ_CST),
			     1)) {
		(void)fdt_count_add(&ready_bypassing, epfd, -1);
		return n;
	}
	memset(&rd, 0, sizeof(rd));
	rd.cap_ms = -1;
	rd.ev = ev;
	rd.max = n > 0 ? n : 0;
	rd_ghost = rd;
	pthread_mutex_lock(&ready_lock);
	set = ready_has_set(epfd) ? fdt_map_peek(&ready_sets, epfd) : NULL;
	if (set != NULL) { /* gen 0: began before anything went */
		rd.set = set;
		rd.forks = ready_forks;
		rd.next = set->active;
		set->active = &rd;
	}
	pthread_mutex_unlock(&ready_lock);
	/* this wait's count keeps epfd's ghosts (and what their sets know)
	   until ready_ghost_end below */
	for (int i = 0; i < n; i++) {
		struct epoll_event e = ev[i];
		struct ready_round *r = &rd;

		if (__atomic_load_n(&ready_nghosts, __ATOMIC_SEQ_CST) > 0) {
			pthread_mutex_lock(&ready_lock);
			rd_ghost.set = ready_ghost_find(epfd, e.data.u64);
			pthread_mutex_unlock(&ready_lock);
			if (rd_ghost.set != NULL)
				r = &rd_ghost;
		}
		if (r->set == NULL || ready_translate(epfd, &e, r, 0))
			ev[out++] = e;
	}
	pthread_mutex_lock(&ready_lock);
	(void)fdt_count_add(&ready_bypassing, epfd, -1);
	if (ready_ghosts != NULL)
		ready_ghost_end(epfd, 0);
	pthread_mutex_unlock(&ready_lock);
	ready_round_end(&rd, out); /* purges what only this wait could meet */
	errno = err;
	return n <= 0 ? n : out > 0 ? out : READY_AGAIN;
}

int ready_epoll_wait(int epfd, struct epoll_event *events, int max,
		     const struct timespec *timeout, const sigset_t *mask)
{
	struct timespec deadline, *dl;
	struct ready_round rd;
	/* the first round waits for the whole timeout, which needs no clock
	   (nor does a zero timeout ever); later rounds, the time left */
	long t_ms = timeout == NULL ? -1 : deadline_ts_to_ms(timeout);
	int first_ms = t_ms > INT_MAX ? INT_MAX : (int)t_ms;
	int zero = first_ms == 0;

	if (max <= 0) {
		errno = EINVAL;
		return -1;
	}
	dl = zero ? NULL : ready_deadline(timeout, &deadline);
	for (;;) {
		int ms, n, out;

		if (ready_round_collect(epfd, events, max, &rd)) {
			ready_round_end(&rd, 0);
			continue;
		}
		ms = first_ms >= 0 ? first_ms : ready_timeout_ms(dl);
		if (!zero)
			first_ms = -1;
		if (rd.n > 0 || rd.held > 0)
			ms = 0;
		else if (rd.cap_ms >= 0 && (ms < 0 || rd.cap_ms < ms))
			ms = rd.cap_ms;
		n = rd.n < max && !rd.skip_kernel ?
			    real.epoll_pwait(epfd, events + rd.n, max - rd.n,
					     ms, mask) : 0;
		if (n < 0) {
			int err = errno;

			ready_round_end(&rd, rd.n);
			errno = err;
			return rd.n > 0 ? rd.n : -1;
		}
		out = rd.n;
		for (int i = 0; i < n; i++) {
			struct epoll_event ev = events[rd.n + i];
			if (ready_translate(epfd, &ev, &rd, rd.n))
				events[out++] = ev;
		}
		ready_round_end(&rd, out);
		if (out > 0)
			return out;
		if (rd.held > 0)
			continue; /* the next round reports them */
		if (zero || (dl != NULL && deadline_passed(dl)))
			return 0;
	}
}
