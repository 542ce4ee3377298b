/*
 * real.c - resolve the real libc functions once (proxychains-ng style).
 *
 * real_init() resolves the table on first use; hooks.c (through its
 * hooks_init) and log.c call it.  This file calls nothing of the shim's:
 * only libc's dlsym (found by version: the shim exports a dlsym of its
 * own), dlvsym/dladdr/dlopen and, to report a missing function, the raw
 * write system call (never a hook).  The table is written only with the
 * values dlsym returns, which are the same on every call, so concurrent
 * first calls are harmless.
 *
 * Loaded twice (two paths, e.g. /etc/ld.so.preload and LD_PRELOAD): the
 * copy found first serves the program; the lookups that land in the other
 * copy are taken from libc itself, so the other copy is never called and
 * stands aside.
 */
#include "real.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct real_fns real;
static atomic_int real_done;

static void real_die(const char *what, const char *name)
{
	char msg[200];
	int n = snprintf(msg, sizeof(msg), "redis-tls-shim: error: %s '%s'\n",
			 what, name);

	/* no stdio: we may be inside the program's own stdio call */
	if (n > 0)
		(void)!syscall(SYS_write, 2, msg, (size_t)n); /* not the hook */
	abort();
}

static const char *real_other;

static int real_is_shim(void *p, const char **path)
{
	Dl_info info;

	if (!dladdr(p, &info) || info.dli_fname == NULL ||
	    strstr(info.dli_fname, "libredistls") == NULL)
		return 0;
	*path = info.dli_fname;
	return 1;
}

/* libc's dlsym@GLIBC_2.34 (or, before 2.34, libdl's at the architecture's
   first version).  A lookup by version passes by a definition without one,
   which is what the shim's dlsym is. */
static const char *const real_dlsym_versions[] = {
	"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.4", "GLIBC_2.2",
	"GLIBC_2.0",
};
/* written only with the one value dlvsym gives, as the table above */
static real_dlsym_fn real_dlsym_p;

REAL_EARLY real_dlsym_fn real_dlsym(void)
{
	real_dlsym_fn f = real_dlsym_p;
	size_t n = sizeof(real_dlsym_versions) / sizeof(real_dlsym_versions[0]);

	for (size_t i = 0; f == NULL && i < n; i++) {
		*(void **)&f = dlvsym(RTLD_NEXT, "dlsym", real_dlsym_versions[i]);
		if (f == NULL)
			(void)dlerror();
	}
	if (f == NULL)
		real_die("cannot find libc function", "dlsym");
	real_dlsym_p = f;
	return f;
}

/* A lookup that lands in another copy of the shim takes libc's own.
   Through libc's dlsym, never the hook. */
static void *real_lookup(const char *name, int required)
{
	void *p = real_dlsym()(RTLD_NEXT, name);

	if (p != NULL && real_is_shim(p, &real_other)) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

		p = libc != NULL ? real_dlsym()(libc, name) : NULL;
	}
	if (p == NULL && required)
		real_die("cannot find libc function", name);
	return p;
}

/* The object of addr (base address and the handle of the name it was
   loaded under, which a lookup searches first), or -1. */
static int real_object(const void *addr, Dl_info *info, void **handle)
{
	if (!dladdr(addr, info) || info->dli_fname == NULL)
		return -1;
	/* loaded already: dlopen finds it by that name */
	*handle = dlopen(info->dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	return *handle != NULL ? 0 : -1;
}

/* 1 if the object of `in` (a handle of real_object) defines name itself. */
static int real_defines(void *handle, const Dl_info *in, const char *name)
{
	void *p = real_dlsym()(handle, name);
	Dl_info at;

	return p != NULL && dladdr(p, &at) && at.dli_fbase == in->dli_fbase;
}

/* The shim's own definition of name (its hook), or NULL.  Its handle is
   kept: the shim is never unloaded. */
static void *real_hook_named(const char *name)
{
	static _Atomic(void *) self_handle;
	void *h = atomic_load_explicit(&self_handle, memory_order_acquire);
	void *none = NULL;
	Dl_info self;

	if (h == NULL) {
		if (real_object((void *)real_hook_named, &self, &h) < 0)
			return NULL;
		if (!atomic_compare_exchange_strong(&self_handle, &none, h))
			dlclose(h); /* another thread's is kept */
		h = atomic_load(&self_handle);
	} else if (!dladdr((void *)real_hook_named, &self)) {
		return NULL;
	}
	return real_defines(h, &self, name) ? real_dlsym()(h, name) : NULL;
}

/* 1 if `caller` is code of an object loaded after the shim that defines
   name itself: an interposer behind this one, which the hook calls. */
static int real_is_behind(const void *caller, const char *name)
{
	struct link_map *self = NULL, *them = NULL;
	Dl_info a, b;
	void *h;
	int behind = 0;

	if (!dladdr1((void *)real_is_behind, &a, (void **)&self,
		     RTLD_DL_LINKMAP) ||
	    !dladdr1(caller, &b, (void **)&them, RTLD_DL_LINKMAP) ||
	    self == NULL || them == NULL)
		return 0;
	for (const struct link_map *l = self->l_next; l != NULL && !behind;
	     l = l->l_next)
		behind = l == them;
	if (!behind || real_object(caller, &b, &h) < 0)
		return 0;
	behind = real_defines(h, &b, name);
	dlclose(h);
	return behind;
}

/* 1 if addr is in libc itself. */
static int real_in_libc(const void *addr)
{
	Dl_info a, b;

	return dladdr(addr, &a) && dladdr((void *)gnu_get_libc_version, &b) &&
	       a.dli_fbase == b.dli_fbase;
}

void *real_own_symbol(void *found, const char *name, const void *caller)
{
	void *mine, *ret = found;

	if (found == NULL)
		return NULL; /* the caller's dlerror() tells why */
	mine = real_hook_named(name);
	/* libc's own, or what the hook calls (another interposer's): the
	   hook, unless the caller is that interposer (it would loop) */
	if (mine != NULL && mine != found && !real_is_behind(caller, name) &&
	    (real_in_libc(found) || found == real_lookup(name, 0)))
		ret = mine;
	(void)dlerror(); /* a lookup of ours that failed: found was found */
	return ret;
}

const char *real_other_copy(void)
{
	return real_other;
}

void real_init(void)
{
	if (atomic_load_explicit(&real_done, memory_order_acquire))
		return;
#define R(f) real.f = real_lookup(#f, 1)
#define O(f) real.f = real_lookup(#f, 0)
	R(socket); R(connect); R(accept); R(accept4);
	R(read); R(write); R(recv); R(send); R(recvfrom); R(sendto);
	R(readv); R(writev); R(recvmsg); R(sendmsg);
	R(close); O(close_range); R(shutdown); R(dup); R(dup2); R(dup3);
	R(fcntl); R(ioctl); R(getsockopt); R(setsockopt);
	R(poll); R(ppoll); R(select); R(pselect);
	R(epoll_create); R(epoll_create1); R(epoll_ctl); R(epoll_wait);
	R(epoll_pwait); O(epoll_pwait2);
	R(getaddrinfo); R(gethostbyname); R(gethostbyname2);
	R(gethostbyname_r); R(gethostbyname2_r);
	R(open); R(openat); R(pipe); R(pipe2); R(socketpair); R(eventfd);
	R(sendmmsg); R(recvmmsg); R(sendfile); R(splice);
	R(fdopen); R(getpeername); R(getsockname); R(bind);
	R(preadv); R(pwritev); R(preadv2); R(pwritev2); R(_exit);
	R(execve); O(execveat); R(fexecve); R(execvpe);
	R(posix_spawn); R(posix_spawnp); R(system); R(popen); R(pclose);
	R(wordexp);
#undef R
#undef O
	atomic_store_explicit(&real_done, 1, memory_order_release);
}

int real_ready(void)
{
	return atomic_load_explicit(&real_done, memory_order_acquire);
}
