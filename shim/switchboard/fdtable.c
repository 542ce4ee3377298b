/*
 * fdtable.c - the fd -> socket array and its references.
 *
 * Arrays are allocated with mmap (zero pages, touched only where fds are
 * tracked) once, sized from RLIMIT_NOFILE (at least 1024, at most 2^20),
 * and never moved, so lock-free readers need no hazard handling.
 */
#include "fdtable.h"
#include "log.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>

struct fdt_map fdt_socks;
atomic_int fdt_live;
static pthread_mutex_t fdt_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(const struct fdt_ref_ops *) fdt_ops;

void fdt_use(const struct fdt_ref_ops *ops)
{
	atomic_store_explicit(&fdt_ops, ops, memory_order_release);
}

static const struct fdt_ref_ops *fdt_refs(void)
{
	return atomic_load_explicit(&fdt_ops, memory_order_acquire);
}

void fdt_lock(void)
{
	pthread_mutex_lock(&fdt_mutex);
}

void fdt_unlock(void)
{
	pthread_mutex_unlock(&fdt_mutex);
}

static size_t fdt_capacity(void)
{
	struct rlimit rl;
	rlim_t n = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		n = rl.rlim_max > rl.rlim_cur ? rl.rlim_max : rl.rlim_cur;
		if (n == RLIM_INFINITY || n > (1u << 20))
			n = 1u << 20;
		if (n < 1024)
			n = 1024;
	}
	return (size_t)n;
}

/* Caller holds fdt_mutex. */
static int fdt_map_alloc(struct fdt_map *m)
{
	size_t n = fdt_capacity();
	void *p = mmap(NULL, n * sizeof(void *), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	m->size = n;
	atomic_store_explicit((_Atomic(_Atomic(void *) *) *)&m->slots,
			      (_Atomic(void *) *)p, memory_order_release);
	return 0;
}

long fdt_count_get(struct fdt_counts *c, int fd)
{
	atomic_long *slots = atomic_load_explicit(&c->slots,
						  memory_order_acquire);

	if (slots == NULL || fd < 0 || (size_t)fd >= c->size)
		return 0;
	return atomic_load(&slots[fd]);
}

void fdt_counts_clear(struct fdt_counts *c)
{
	atomic_long *slots = atomic_load_explicit(&c->slots,
						  memory_order_acquire);

	/* a private anonymous mapping's dropped pages read as zeros */
	if (slots != NULL &&
	    madvise(slots, c->size * sizeof(*slots), MADV_DONTNEED) < 0)
		for (size_t i = 0; i < c->size; i++)
			atomic_store(&slots[i], 0);
}

long fdt_count_add(struct fdt_counts *c, int fd, long delta)
{
	atomic_long *slots = atomic_load_explicit(&c->slots,
						  memory_order_acquire);

	if (slots == NULL) {
		fdt_lock();
		slots = atomic_load_explicit(&c->slots, memory_order_acquire);
		if (slots == NULL) {
			size_t n = fdt_capacity();
			void *p = mmap(NULL, n * sizeof(atomic_long),
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				       -1, 0);

			if (p != MAP_FAILED) {
				c->size = n;
				slots = p;
				atomic_store_explicit(&c->slots, slots,
						      memory_order_release);
			}
		}
		fdt_unlock();
		if (slots == NULL)
			return -1;
	}
	if (fd < 0 || (size_t)fd >= c->size)
		return -1;
	return atomic_fetch_add(&slots[fd], delta) + delta;
}

int fdt_map_set(struct fdt_map *m, int fd, void *p)
{
	if (m->slots == NULL) {
		if (p == NULL)
			return 0;
		if (fdt_map_alloc(m) < 0)
			return -1;
	}
	if (fd < 0 || (size_t)fd >= m->size)
		return -1;
	atomic_store_explicit(&m->slots[fd], p, memory_order_release);
	return 0;
}

/*
 * Lock-free: socket memory is never returned to malloc (sock.c recycles
 * it), so a socket found in the slot can always be touched; a reference is
 * taken only while the count is not zero (tryget), and kept only if the
 * slot still holds the same socket afterwards.
 */
struct shim_sock *fdt_acquire(int fd)
{
	for (int tries = 0; tries < 64; tries++) {
		struct shim_sock *s = fdt_peek(fd);

		if (s == NULL)
			return NULL;
		if (!fdt_refs()->tryget(s))
			continue;
		if (fdt_peek(fd) == s)
			return s;
		fdt_refs()->put(s);
	}
	return NULL;
}

int fdt_install(int fd, struct shim_sock *s)
{
	int rc;

	fdt_lock();
	rc = fdt_map_peek(&fdt_socks, fd) == NULL ? 0 : -1;
	if (rc == 0)
		rc = fdt_map_set(&fdt_socks, fd, s);
	if (rc == 0) {
		fdt_refs()->get(s);
		fdt_refs()->fds(s, 1);
		atomic_fetch_add(&fdt_live, 1);
	}
	fdt_unlock();
	if (rc < 0)
		log_msg(SHIM_LOG_ERROR, "fd %d: cannot be tracked (beyond the "
			"table, or taken)", fd);
	return rc;
}

struct shim_sock *fdt_remove(int fd, int *last)
{
	struct shim_sock *s;

	*last = 0;
	if (fdt_peek(fd) == NULL)
		return NULL;
	fdt_lock();
	s = fdt_peek(fd);
	if (s != NULL) {
		fdt_map_set(&fdt_socks, fd, NULL);
		*last = fdt_refs()->fds(s, -1) == 0;
		atomic_fetch_sub(&fdt_live, 1);
	}
	fdt_unlock();
	return s;
}

void fdt_forget_stale(int fd)
{
	int last;
	struct shim_sock *s;

	if (fdt_peek(fd) == NULL)
		return;
	s = fdt_remove(fd, &last);
	if (s == NULL)
		return;
	log_msg(SHIM_LOG_DEBUG, "fd %d: closed behind the shim's back; its "
		"state is dropped", fd);
	fdt_refs()->put(s);
}
