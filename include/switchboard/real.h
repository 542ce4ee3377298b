/*
 * real.h - the real libc functions behind every hook, resolved once with
 * dlsym(RTLD_NEXT) into one typed table.
 *
 * real_init() is idempotent and safe to call from any hook at any time
 * (also before constructors ran, and concurrently): each pointer is written
 * once with the same value.  A lookup that returns our own hook aborts,
 * since calling it would recurse forever.
 */
#ifndef SHIM_REAL_H
#define SHIM_REAL_H

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <wordexp.h>

struct real_fns {
	int (*socket)(int, int, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	int (*shutdown)(int, int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *,
		     const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *,
		       const struct timespec *, const sigset_t *);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int,
			   const sigset_t *);
	int (*epoll_pwait2)(int, struct epoll_event *, int,
			    const struct timespec *, const sigset_t *);
	int (*getaddrinfo)(const char *, const char *,
			   const struct addrinfo *, struct addrinfo **);
	struct hostent *(*gethostbyname)(const char *);
	struct hostent *(*gethostbyname2)(const char *, int);
	int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t,
			       struct hostent **, int *);
	int (*gethostbyname2_r)(const char *, int, struct hostent *, char *,
				size_t, struct hostent **, int *);
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*pipe)(int[2]);
	int (*pipe2)(int[2], int);
	int (*socketpair)(int, int, int, int[2]);
	int (*eventfd)(unsigned int, int);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int,
			struct timespec *);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*splice)(int, off_t *, int, off_t *, size_t, unsigned int);
	FILE *(*fdopen)(int, const char *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
	void (*_exit)(int) __attribute__((noreturn));
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*posix_spawn)(pid_t *, const char *,
			   const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[],
			   char *const[]);
	int (*posix_spawnp)(pid_t *, const char *,
			    const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[],
			    char *const[]);
	int (*system)(const char *);
	FILE *(*popen)(const char *, const char *);
	int (*pclose)(FILE *);
	int (*wordexp)(const char *, wordexp_t *, int);
};

extern struct real_fns real;

/* Resolve every entry (once).  Safe to call from anywhere. */
void real_init(void);

/* real_other_copy - the path of another copy of the shim found behind this
   one (which then stands aside), or NULL. */
const char *real_other_copy(void);

/* real_ready - 1 once real_init() has completed. */
int real_ready(void);

/* Code that a sanitizer's runtime runs before it is set up (its first
   dlsym() lookups): not instrumented. */
#define REAL_EARLY __attribute__((no_sanitize("address", "thread", "undefined")))

/* real_dlsym - libc's dlsym, never the shim's hook.  Safe to call from
   anywhere, before real_init() and a sanitizer's own set-up. */
typedef void *(*real_dlsym_fn)(void *, const char *);
real_dlsym_fn real_dlsym(void);

/*
 * real_own_symbol - what a program's dlsym() on a handle should get for
 * name, given what libc found there (found) and the return address of
 * the program's call (caller): the shim's hook for name when found is
 * libc's own function (connect() in dlopen("libc.so.6")) or the one the
 * hook calls, so that no lookup goes past the hooks; found when the
 * caller is an interposer of name loaded after the shim (the hook calls
 * it: the hook again would loop), or found is another library's own
 * function of that name.  Keeps dlerror() clear when found is not NULL.
 */
void *real_own_symbol(void *found, const char *name, const void *caller);

#endif
