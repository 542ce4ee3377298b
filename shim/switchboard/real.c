/*
 * real.c - resolve the real libc functions once (proxychains-ng style).
 *
 * real_init() resolves the table on first use; hooks.c (through its
 * hooks_init) and log.c call it.  This file calls nothing of the shim's:
 * only dlsym/dladdr/dlopen and, to report a missing function, the raw
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

/* A lookup that lands in another copy of the shim takes libc's own. */
static void *real_lookup(const char *name, int required)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p != NULL && real_is_shim(p, &real_other)) {
		void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

		p = libc != NULL ? dlsym(libc, name) : NULL;
	}
	if (p == NULL && required)
		real_die("cannot find libc function", name);
	return p;
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
