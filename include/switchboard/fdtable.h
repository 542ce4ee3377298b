/*
 * fdtable.h - fd number -> struct shim_sock, one array look-up.
 *
 * The array is sized from RLIMIT_NOFILE when the first socket is tracked;
 * until then every look-up is a NULL test.  Entries are read without a lock
 * (fdt_peek: is this fd ours at all?); taking a reference (fdt_acquire) and
 * changing entries happen under one table mutex, so a socket can never be
 * freed under a caller that holds a reference.
 *
 * Stale entries: a number whose socket was closed behind our back (fclose
 * of an fdopen'ed socket, a raw syscall) is forgotten as soon as a hooked
 * call hands out that number again (fdt_forget_stale), so an entry is never
 * applied to a new file that reuses the number.
 *
 * Who calls whom: hooks.c, the socket module (sock*.c, relay.c) and the
 * readiness module call this one; it calls nothing of theirs.  The table
 * does not know what a socket is: the socket module, which counts the
 * references, hands it the few operations it needs (fdt_use) before it
 * installs its first entry.
 */
#ifndef SHIM_FDTABLE_H
#define SHIM_FDTABLE_H

#include <stdatomic.h>
#include <stddef.h>

struct shim_sock;

struct fdt_map {
	_Atomic(void *) *slots;
	size_t size;
};

extern struct fdt_map fdt_socks;  /* fd -> struct shim_sock */
extern atomic_int fdt_live;       /* entries in fdt_socks */

/* fdt_map_peek - the entry for fd, without a reference; NULL if none. */
static inline void *fdt_map_peek(struct fdt_map *m, int fd)
{
	_Atomic(void *) *slots =
		atomic_load_explicit((_Atomic(_Atomic(void *) *) *)&m->slots,
				     memory_order_acquire);

	if (slots == NULL || fd < 0 || (size_t)fd >= m->size)
		return NULL;
	return atomic_load_explicit(&slots[fd], memory_order_acquire);
}

/* fdt_map_set - store p at fd (NULL clears); 0, or -1 if fd is too large. */
int fdt_map_set(struct fdt_map *m, int fd, void *p);

/* fd -> a count, lock-free (the readiness module's waits under way that
   bypass it, by epoll fd).  Allocated, like the maps, once. */
struct fdt_counts {
	_Atomic(atomic_long *) slots;
	size_t size;
};

/* fdt_count_add - add delta to fd's count and return the new count; -1
   (nothing added) if fd is beyond the table or the table cannot be had.
   Sequentially consistent. */
long fdt_count_add(struct fdt_counts *c, int fd, long delta);

/* fdt_count_get - fd's count (0 beyond the table), one sequentially
   consistent load: no read-modify-write, for hot paths. */
long fdt_count_get(struct fdt_counts *c, int fd);

/* fdt_counts_clear - every count back to 0 (a fork child's: the counted
   waits were other threads').  Only while no other thread counts. */
void fdt_counts_clear(struct fdt_counts *c);

/* How the entries of fdt_socks count their references (the socket module's
   part: the table only calls these). */
struct fdt_ref_ops {
	/* tryget - take a reference unless none is left (the entry is being
	   recycled): 1 taken, 0 not */
	int (*tryget)(struct shim_sock *s);
	void (*get)(struct shim_sock *s);
	void (*put)(struct shim_sock *s);
	/* fds - add delta to the number of table entries naming s (called
	   under the table mutex) and return the new number */
	int (*fds)(struct shim_sock *s, int delta);
};

/* fdt_use - the operations on entries; set once, before the first
   fdt_install (an empty table never calls them). */
void fdt_use(const struct fdt_ref_ops *ops);

static inline struct shim_sock *fdt_peek(int fd)
{
	return (struct shim_sock *)fdt_map_peek(&fdt_socks, fd);
}

/* fdt_acquire - the socket at fd with a reference taken, or NULL. */
struct shim_sock *fdt_acquire(int fd);

/* fdt_install - point fd at s, taking an fd reference on s. 0 or -1. */
int fdt_install(int fd, struct shim_sock *s);

/*
 * fdt_remove - clear fd; returns its socket with the fd reference handed
 * to the caller (who must sock_put it), or NULL.  *last is set to 1 when
 * no other fd in this process refers to the socket.
 */
struct shim_sock *fdt_remove(int fd, int *last);

/* fdt_forget_stale - a hooked call just returned `fd` as a new file. */
void fdt_forget_stale(int fd);

/* fdt_lock / fdt_unlock - the table mutex (also taken around fork). */
void fdt_lock(void);
void fdt_unlock(void);

#endif
