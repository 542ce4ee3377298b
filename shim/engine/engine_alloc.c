/*
 * engine_alloc.c - the engine allocates with the program's allocator.
 *
 * The engine is loaded with RTLD_DEEPBIND, so its own references (and
 * those of the libssl/libcrypto/libconfig loaded with it) bind to glibc's
 * malloc first.  But memory that libc allocates internally (strdup,
 * realpath, getaddrinfo...) comes from the program's allocator (jemalloc in
 * redis-cli, for one).  Freeing one with the other crashes.  So the engine
 * exports the malloc family into its private scope and forwards each call
 * to the allocator the program really uses (the global scope's).
 *
 * Linked only into libredistls-engine.so: the sanitizer build and
 * redis-tls-ctl link the engine normally and need none of this.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define ALLOC_EXPORT __attribute__((visibility("default")))

struct alloc_fns {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	size_t (*malloc_usable_size)(void *);
};

static struct alloc_fns alloc_real;

void *malloc(size_t n);
void free(void *p);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
int posix_memalign(void **out, size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);
size_t malloc_usable_size(void *p);

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static void *alloc_lookup(void *global, const char *name, void *self)
{
	void *p = dlsym(global, name);

	/* never ourselves: that would recurse; glibc's own as a last resort */
	return p == self ? NULL : p;
}

static void alloc_init(void)
{
	/* dlopen(NULL) is the program's global scope, where this RTLD_LOCAL
	   object is not; RTLD_DEFAULT would search our deep-bound scope. */
	void *g = dlopen(NULL, RTLD_NOW | RTLD_NOLOAD);

	if (g == NULL)
		return;
	*(void **)&alloc_real.calloc = alloc_lookup(g, "calloc", (void *)calloc);
	*(void **)&alloc_real.malloc = alloc_lookup(g, "malloc", (void *)malloc);
	*(void **)&alloc_real.free = alloc_lookup(g, "free", (void *)free);
	*(void **)&alloc_real.realloc = alloc_lookup(g, "realloc", (void *)realloc);
	*(void **)&alloc_real.posix_memalign =
		alloc_lookup(g, "posix_memalign", (void *)posix_memalign);
	*(void **)&alloc_real.aligned_alloc =
		alloc_lookup(g, "aligned_alloc", (void *)aligned_alloc);
	*(void **)&alloc_real.malloc_usable_size =
		alloc_lookup(g, "malloc_usable_size", (void *)malloc_usable_size);
}

#define ALLOC_READY(f) (alloc_real.f != NULL || (alloc_init(), alloc_real.f != NULL))

ALLOC_EXPORT void *malloc(size_t n)
{
	return ALLOC_READY(malloc) ? alloc_real.malloc(n) : __libc_malloc(n);
}

ALLOC_EXPORT void free(void *p)
{
	if (ALLOC_READY(free))
		alloc_real.free(p);
	else
		__libc_free(p);
}

ALLOC_EXPORT void *calloc(size_t n, size_t m)
{
	return ALLOC_READY(calloc) ? alloc_real.calloc(n, m) : __libc_calloc(n, m);
}

ALLOC_EXPORT void *realloc(void *p, size_t n)
{
	return ALLOC_READY(realloc) ? alloc_real.realloc(p, n)
				    : __libc_realloc(p, n);
}

ALLOC_EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
	if (m != 0 && n > (size_t)-1 / m) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * m);
}

ALLOC_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	return ALLOC_READY(posix_memalign) ? alloc_real.posix_memalign(out, align, n)
					   : ENOMEM;
}

ALLOC_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	return ALLOC_READY(aligned_alloc) ? alloc_real.aligned_alloc(align, n)
					  : NULL;
}

ALLOC_EXPORT size_t malloc_usable_size(void *p)
{
	return ALLOC_READY(malloc_usable_size) ? alloc_real.malloc_usable_size(p)
					       : 0;
}
