/*
 * hooks.c - the interposed libc functions.
 *
 * Thin by rule: each hook looks the fd up (one array read, or one counter
 * for the poll family) and either calls libc or makes one call into the
 * module that owns the concept: the socket module (sock*.h) for sockets,
 * including every refusal and every relay trigger; the readiness module
 * (ready.h, ready_timeout.h) for waits; names.h for name capture.  No
 * refusal, errno choice or dispatch on a socket's state is made here.
 * Every hook calls hooks_init() first, directly or through ON_SOCK or
 * NEW_FD, and leaves errno as the call it serves set it.
 */
#include "hooks.h"
#include "exec.h"
#include "fdtable.h"
#include "log.h"
#include "names.h"
#include "ready.h"
#include "ready_timeout.h"
#include "real.h"
#include "relay.h"
#include "sock.h"
#include "sock_policy.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

extern char **environ;

#define SHIM_EXPORT __attribute__((visibility("default")))

#if !defined(__LP64__)
#error "the LFS aliases below (open64, fcntl64, ...) assume a 64-bit ABI"
#endif
#define LIKELY(x) __builtin_expect(!!(x), 1)

extern void __chk_fail(void) __attribute__((noreturn));

static void hooks_atfork_prepare(void)
{
	ready_atfork_prepare();
	fdt_lock();
}

static void hooks_atfork_parent(void)
{
	fdt_unlock();
	ready_atfork_release();
}

static void hooks_atfork_child(void)
{
	sock_atfork_child();
	fdt_unlock();
	ready_atfork_child();
}

static void hooks_init_slow(void)
{
	static atomic_int registered;

	real_init();
	if (atomic_exchange(&registered, 1) == 0) {
		sock_note_pid();
		pthread_atfork(hooks_atfork_prepare, hooks_atfork_parent,
			       hooks_atfork_child);
	}
}

static inline void hooks_init(void)
{
	if (!LIKELY(real_ready()))
		hooks_init_slow();
}

/*
 * ON_SOCK(fd, s, plain, call) - the body of a hook on one descriptor:
 * return `plain` when the shim does not track fd (EBADF when fd is one of
 * the shim's own, which the program never had); else bind `s` (a
 * struct shim_sock *const) to its socket, with a reference held, and
 * return `call`, which names it.  `s` is declared only after `plain` has
 * been given its chance, so `plain` cannot use it.  errno survives the
 * release of the reference.
 */
#define ON_SOCK(fd, s, plain, call)                                        \
	do {                                                               \
		struct shim_sock *held_;                                   \
		__typeof__(plain) r_;                                      \
		int e_;                                                    \
		hooks_init();                                              \
		if (LIKELY(fdt_peek(fd) == NULL) ||                        \
		    (held_ = fdt_acquire(fd)) == NULL) {                   \
			if (__builtin_expect(sock_maybe_private(fd), 0) && \
			    sock_is_private(fd))                           \
				return (__typeof__(plain))                 \
					sock_refuse_private();             \
			return plain;                                      \
		}                                                          \
		struct shim_sock *const s = held_;                         \
		r_ = call;                                                 \
		e_ = errno;                                                \
		sock_put(held_);                                           \
		errno = e_;                                                \
		return r_;                                                 \
	} while (0)

/* A number a hooked call just handed out as a new file was closed
   behind the shim's back (a raw close): no entry of the socket table, no
   epoll set of the shim's stays on it. */
static void hooks_fresh_fd(int fd)
{
	fdt_forget_stale(fd);
	if (__builtin_expect(ready_is_epfd(fd), 0))
		ready_epfd_reused(fd);
}

/* New files: a number handed out again cannot carry a stale entry. */
#define NEW_FD(expr)                                                       \
	do {                                                               \
		int r_;                                                    \
		hooks_init();                                              \
		r_ = (expr);                                               \
		if (r_ >= 0)                                               \
			hooks_fresh_fd(r_);                                \
		return r_;                                                 \
	} while (0)

/* The same for the two numbers of a pipe or socketpair. */
static int hooks_new_pair(int r, int fds[2])
{
	if (r == 0) {
		hooks_fresh_fd(fds[0]);
		hooks_fresh_fd(fds[1]);
	}
	return r;
}

/* ------------------------------------------------------------ sockets */

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
	int fd;

	hooks_init();
	fd = real.socket(domain, type, protocol);
	if (fd >= 0 && __builtin_expect(ready_is_epfd(fd), 0))
		ready_epfd_reused(fd); /* sock_track_new forgets the rest */
	if (fd >= 0)
		sock_track_new(fd, domain, type);
	return fd;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	hooks_init();
	return sock_connect(fd, addr, len);
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	NEW_FD(real.accept(fd, addr, len));
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len,
			int flags)
{
	NEW_FD(real.accept4(fd, addr, len, flags));
}

SHIM_EXPORT int socketpair(int d, int t, int p, int sv[2])
{
	hooks_init();
	return hooks_new_pair(real.socketpair(d, t, p, sv), sv);
}

/* ------------------------------------------------------------ data */

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ON_SOCK(fd, s, real.read(fd, buf, n), sock_recv(s, fd, buf, n, 0));
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ON_SOCK(fd, s, real.write(fd, buf, n), sock_send(s, fd, buf, n, 0));
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ON_SOCK(fd, s, real.recv(fd, buf, n, flags),
		sock_recv(s, fd, buf, n, flags));
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	ON_SOCK(fd, s, real.send(fd, buf, n, flags),
		sock_send(s, fd, buf, n, flags));
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			     struct sockaddr *addr, socklen_t *alen)
{
	ON_SOCK(fd, s, real.recvfrom(fd, buf, n, flags, addr, alen),
		sock_recvfrom(s, fd, buf, n, flags, addr, alen));
}

/* sendto and the sendmsg family also go to the socket module for sockets
   the shim does not track (s NULL): data sent with a connection request,
   and TLS sockets passed in a message, are its concern on any socket. */
SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *addr, socklen_t alen)
{
	ON_SOCK(fd, s, sock_sendto(NULL, fd, buf, n, flags, addr, alen),
		sock_sendto(s, fd, buf, n, flags, addr, alen));
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	ON_SOCK(fd, s, real.readv(fd, iov, cnt),
		sock_readv(s, fd, iov, cnt, 0));
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	ON_SOCK(fd, s, real.writev(fd, iov, cnt),
		sock_writev(s, fd, iov, cnt, 0));
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ON_SOCK(fd, s, real.recvmsg(fd, msg, flags),
		sock_recvmsg(s, fd, msg, flags));
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ON_SOCK(fd, s, sock_sendmsg(NULL, fd, msg, flags),
		sock_sendmsg(s, fd, msg, flags));
}

SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	ON_SOCK(fd, s, sock_sendmmsg(NULL, fd, v, n, flags),
		sock_sendmmsg(s, fd, v, n, flags));
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
			 struct timespec *timeout)
{
	ON_SOCK(fd, s, real.recvmmsg(fd, v, n, flags, timeout),
		sock_recvmmsg(s, fd, v, n, flags, timeout));
}

SHIM_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ON_SOCK(fd, s, real.preadv(fd, iov, cnt, off),
		sock_pvec(s, fd, SOCK_DIR_READ, iov, cnt, off));
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ON_SOCK(fd, s, real.pwritev(fd, iov, cnt, off),
		sock_pvec(s, fd, SOCK_DIR_WRITE, iov, cnt, off));
}

SHIM_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt,
			    off_t off, int rwf)
{
	ON_SOCK(fd, s, real.preadv2(fd, iov, cnt, off, rwf),
		sock_pvec2(s, fd, SOCK_DIR_READ, iov, cnt, off, rwf));
}

SHIM_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt,
			     off_t off, int rwf)
{
	ON_SOCK(fd, s, real.pwritev2(fd, iov, cnt, off, rwf),
		sock_pvec2(s, fd, SOCK_DIR_WRITE, iov, cnt, off, rwf));
}

SHIM_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
	__attribute__((alias("preadv")));
SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
	__attribute__((alias("pwritev")));
SHIM_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt,
			       off_t off, int rwf) __attribute__((alias("preadv2")));
SHIM_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt,
				off_t off, int rwf) __attribute__((alias("pwritev2")));

SHIM_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	ON_SOCK(out, s, real.sendfile(out, in, off, count),
		sock_sendfile(s, out, in, off, count));
}

SHIM_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
	__attribute__((alias("sendfile")));

SHIM_EXPORT ssize_t splice(int in, off_t *offin, int out, off_t *offout,
			   size_t len, unsigned int flags)
{
	hooks_init();
	return sock_splice(in, offin, out, offout, len, flags);
}

SHIM_EXPORT FILE *fdopen(int fd, const char *mode)
{
	hooks_init();
	return sock_fdopen(fd, mode);
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen,
			       int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n,
				   size_t buflen, int flags,
				   struct sockaddr *addr, socklen_t *alen)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, addr, alen);
}

/* ------------------------------------------------------- descriptors */

SHIM_EXPORT int close(int fd)
{
	hooks_init();
	if (LIKELY(fdt_peek(fd) == NULL) && !ready_is_epfd(fd) &&
	    LIKELY(fd < atomic_load_explicit(&sock_private_min,
					     memory_order_relaxed)))
		return real.close(fd);
	return sock_close(fd);
}

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	hooks_init();
	/* the kernel's refusals, before anything is forgotten as closed */
	if (first > last ||
	    (flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE)) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (!(flags & CLOSE_RANGE_CLOEXEC) && !sock_in_vfork_child())
		ready_closing_range(first, last);
	return sock_close_range(first, last, flags);
}

/* glibc's closefrom() calls close_range inside libc, past the hook above:
   the same, sparing the shim's own descriptors. */
SHIM_EXPORT void closefrom(int lowfd)
{
	hooks_init();
	if (lowfd < 0)
		lowfd = 0;
	if (!sock_in_vfork_child())
		ready_closing_range((unsigned)lowfd, ~0U);
	sock_close_range((unsigned)lowfd, ~0U, 0);
}

SHIM_EXPORT int shutdown(int fd, int how)
{
	ON_SOCK(fd, s, real.shutdown(fd, how), sock_shutdown(s, fd, how));
}

/* Every dup: a socket's number shares its session (sock_dup), an epoll
   set's is the same set (ready_epfd_dup). */
static int hooks_dup(int oldfd, int newfd, int flags, int kind)
{
	int rc, err;

	hooks_init();
	rc = sock_dup(oldfd, newfd, flags, kind);
	if (rc >= 0 && __builtin_expect(ready_is_epfd(oldfd), 0) &&
	    !sock_in_vfork_child()) {
		err = errno;
		ready_epfd_dup(oldfd, rc);
		errno = err;
	}
	return rc;
}

SHIM_EXPORT int dup(int fd)
{
	return hooks_dup(fd, 0, 0, SOCK_DUP_DUP);
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	return hooks_dup(oldfd, newfd, 0, SOCK_DUP_DUP2);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return hooks_dup(oldfd, newfd, flags, SOCK_DUP_DUP3);
}

/* F_DUPFD is a dup() (hooks_dup); sock_fcntl also takes untracked fds
   (s NULL). */
static int hooks_fcntl(int fd, int cmd, unsigned long arg)
{
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return hooks_dup(fd, (int)arg, 0,
				 cmd == F_DUPFD ? SOCK_DUP_FCNTL
						: SOCK_DUP_FCNTL_CLOEXEC);
	ON_SOCK(fd, s, sock_fcntl(NULL, fd, cmd, arg),
		sock_fcntl(s, fd, cmd, arg));
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	unsigned long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	return hooks_fcntl(fd, cmd, arg);
}

/* The LFS names are the same calls on a 64-bit ABI (off_t is 64-bit,
   O_LARGEFILE is 0): one implementation each. */
SHIM_EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	ON_SOCK(fd, s, sock_ioctl(NULL, fd, req, arg),
		sock_ioctl(s, fd, req, arg));
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	ON_SOCK(fd, s, real.getsockopt(fd, level, name, val, len),
		sock_getsockopt(s, fd, level, name, val, len));
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val,
			   socklen_t len)
{
	ON_SOCK(fd, s, real.setsockopt(fd, level, name, val, len),
		sock_setsockopt(s, fd, level, name, val, len));
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	ON_SOCK(fd, s, real.getpeername(fd, addr, len),
		sock_getname(s, fd, 1, addr, len));
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	ON_SOCK(fd, s, real.getsockname(fd, addr, len),
		sock_getname(s, fd, 0, addr, len));
}

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	NEW_FD(real.open(path, flags, mode));
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
	__attribute__((alias("open")));

SHIM_EXPORT int openat(int dir, const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	NEW_FD(real.openat(dir, path, flags, mode));
}

SHIM_EXPORT int openat64(int dir, const char *path, int flags, ...)
	__attribute__((alias("openat")));

SHIM_EXPORT int pipe(int fds[2])
{
	hooks_init();
	return hooks_new_pair(real.pipe(fds), fds);
}

SHIM_EXPORT int pipe2(int fds[2], int flags)
{
	hooks_init();
	return hooks_new_pair(real.pipe2(fds, flags), fds);
}

SHIM_EXPORT int eventfd(unsigned int initval, int flags)
{
	NEW_FD(real.eventfd(initval, flags));
}

/* ------------------------------------------------------- readiness */

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	hooks_init();
	if (LIKELY(atomic_load_explicit(&fdt_live, memory_order_relaxed) == 0))
		return real.poll(fds, n, timeout);
	return ready_poll_ms(fds, n, timeout);
}

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout,
			   size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n,
		      const struct timespec *timeout, const sigset_t *mask)
{
	hooks_init();
	if (LIKELY(atomic_load_explicit(&fdt_live, memory_order_relaxed) == 0))
		return real.ppoll(fds, n, timeout, mask);
	return ready_poll(fds, n, timeout, mask);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n,
			    const struct timespec *timeout,
			    const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, timeout, mask);
}

SHIM_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e,
		       struct timeval *tv)
{
	hooks_init();
	if (LIKELY(atomic_load_explicit(&fdt_live, memory_order_relaxed) == 0))
		return real.select(nfds, r, w, e, tv);
	return ready_select_tv(nfds, r, w, e, tv);
}

SHIM_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
			const struct timespec *timeout, const sigset_t *mask)
{
	hooks_init();
	if (LIKELY(atomic_load_explicit(&fdt_live, memory_order_relaxed) == 0))
		return real.pselect(nfds, r, w, e, timeout, mask);
	return ready_pselect_ts(nfds, r, w, e, timeout, mask);
}

/* A new epoll set: NEW_FD's, and known as one from the start (polled or
   nested before it holds a TLS socket). */
static int hooks_new_epfd(int r)
{
	if (r >= 0) {
		fdt_forget_stale(r);
		ready_epfd_new(r);
	}
	return r;
}

SHIM_EXPORT int epoll_create(int size)
{
	hooks_init();
	return hooks_new_epfd(real.epoll_create(size));
}

SHIM_EXPORT int epoll_create1(int flags)
{
	hooks_init();
	return hooks_new_epfd(real.epoll_create1(flags));
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	ON_SOCK(fd, s, ready_epoll_ctl_plain(epfd, op, fd, ev),
		ready_epoll_ctl(s, epfd, op, fd, ev));
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int ms)
{
	struct timespec t0;

	hooks_init();
	if (LIKELY(!ready_has_set(epfd)) && ready_bypass_begin(epfd)) {
		int n;

		ready_wait_start(ms, &t0);
		n = ready_bypass_end(epfd, ev,
				     real.epoll_wait(epfd, ev, max, ms));
		if (LIKELY(n != READY_AGAIN))
			return n;
		return ready_epoll_wait_left_ms(epfd, ev, max, ms, NULL, &t0);
	}
	return ready_epoll_wait_ms(epfd, ev, max, ms, NULL);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max,
			    int ms, const sigset_t *mask)
{
	struct timespec t0;

	hooks_init();
	if (LIKELY(!ready_has_set(epfd)) && ready_bypass_begin(epfd)) {
		int n;

		ready_wait_start(ms, &t0);
		n = ready_bypass_end(epfd, ev, real.epoll_pwait(epfd, ev, max,
								ms, mask));
		if (LIKELY(n != READY_AGAIN))
			return n;
		return ready_epoll_wait_left_ms(epfd, ev, max, ms, mask, &t0);
	}
	return ready_epoll_wait_ms(epfd, ev, max, ms, mask);
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			     const struct timespec *timeout,
			     const sigset_t *mask)
{
	hooks_init();
	if (real.epoll_pwait2 == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (LIKELY(!ready_has_set(epfd)) && ready_bypass_begin(epfd)) {
		struct timespec t0;
		int n;

		ready_wait_start(timeout == NULL ? -1 : 1, &t0);
		n = ready_bypass_end(epfd, ev,
				     real.epoll_pwait2(epfd, ev, max, timeout,
						       mask));
		if (LIKELY(n != READY_AGAIN))
			return n;
		return ready_epoll_wait_left_ts(epfd, ev, max, timeout, mask,
						&t0);
	}
	return ready_epoll_wait(epfd, ev, max, timeout, mask);
}

/* ------------------------------------------------------- name capture */

SHIM_EXPORT int getaddrinfo(const char *node, const char *service,
			    const struct addrinfo *hints,
			    struct addrinfo **res)
{
	int rc;

	hooks_init();
	rc = real.getaddrinfo(node, service, hints, res);
	if (rc == 0 && res != NULL)
		names_record_addrinfo(node, *res);
	return rc;
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name)
{
	struct hostent *h;

	hooks_init();
	h = real.gethostbyname(name);
	names_record_hostent(name, h);
	return h;
}

SHIM_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct hostent *h;

	hooks_init();
	h = real.gethostbyname2(name, af);
	names_record_hostent(name, h);
	return h;
}

SHIM_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
				char *buf, size_t len, struct hostent **result,
				int *herr)
{
	int rc;

	hooks_init();
	rc = real.gethostbyname_r(name, ret, buf, len, result, herr);
	if (rc == 0 && result != NULL)
		names_record_hostent(name, *result);
	return rc;
}

SHIM_EXPORT int gethostbyname2_r(const char *name, int af,
				 struct hostent *ret, char *buf, size_t len,
				 struct hostent **result, int *herr)
{
	int rc;

	hooks_init();
	rc = real.gethostbyname2_r(name, af, ret, buf, len, result, herr);
	if (rc == 0 && result != NULL)
		names_record_hostent(name, *result);
	return rc;
}

/* ------------------------------------------------------ process end */

/* _exit runs no exit handler: what the program wrote past the hooks just
   before is carried first (exit() runs relay.c's atexit handler). */
SHIM_EXPORT void _exit(int status)
{
	hooks_init();
	relay_drain();
	real._exit(status);
}

SHIM_EXPORT void _Exit(int status) __attribute__((alias("_exit")));

/* -------------------------------------------------------------- exec */

/* exec.c decides (and without a configuration calls libc at once).  First
   the shim's own descriptors close on exec again, whatever cleared the
   flag: a new program must not inherit a connection's network socket. */
static inline void hooks_exec_init(void)
{
	hooks_init();
	relay_seal_private();
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	hooks_exec_init();
	return exec_execve(path, argv, envp);
}

SHIM_EXPORT int execveat(int dirfd, const char *path, char *const argv[],
			 char *const envp[], int flags)
{
	hooks_exec_init();
	return exec_execveat(dirfd, path, argv, envp, flags);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	hooks_exec_init();
	return exec_fexecve(fd, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	hooks_exec_init();
	return exec_execve(path, argv, environ);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	hooks_exec_init();
	return exec_execvpe(file, argv, environ);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[],
			char *const envp[])
{
	hooks_exec_init();
	return exec_execvpe(file, argv, envp);
}

/* execl's arguments, arg0 included: how many (0 for a NULL arg0, whose
   list is empty); more than HOOKS_EXECL_MAX is E2BIG.  On the stack:
   execl may be called from a vfork child. */
#define HOOKS_EXECL_MAX 32768

static size_t hooks_execl_count(const char *arg0, va_list *ap)
{
	va_list c;
	size_t n = 1;

	if (arg0 == NULL)
		return 0;
	va_copy(c, *ap);
	while (va_arg(c, const char *) != NULL && n <= HOOKS_EXECL_MAX)
		n++;
	va_end(c);
	return n;
}

/* argv[0..n) from arg0 and *ap, then NULL; *ap is left after the NULL. */
static void hooks_execl_fill(char **argv, const char *arg0, va_list *ap,
			     size_t n)
{
	argv[0] = (char *)arg0;
	for (size_t i = 1; i < n; i++)
		argv[i] = va_arg(*ap, char *);
	argv[n] = NULL;
	if (n > 0)
		(void)va_arg(*ap, char *); /* the NULL */
}

#define HOOKS_EXECL(arg0, ap, argv, call)                                  \
	do {                                                               \
		size_t n_;                                                 \
		int r_;                                                    \
		hooks_exec_init();                                         \
		va_start(ap, arg0);                                        \
		n_ = hooks_execl_count(arg0, &ap);                         \
		if (n_ > HOOKS_EXECL_MAX) {                                \
			va_end(ap);                                        \
			errno = E2BIG;                                     \
			return -1;                                         \
		}                                                          \
		char *argv[n_ + 1];                                        \
		hooks_execl_fill(argv, arg0, &ap, n_);                     \
		r_ = (call);                                               \
		va_end(ap);                                                \
		return r_;                                                 \
	} while (0)

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	HOOKS_EXECL(arg, ap, argv, exec_execve(path, argv, environ));
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	HOOKS_EXECL(arg, ap, argv, exec_execvpe(file, argv, environ));
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;

	HOOKS_EXECL(arg, ap, argv,
		    exec_execve(path, argv, va_arg(ap, char *const *)));
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path,
			    const posix_spawn_file_actions_t *actions,
			    const posix_spawnattr_t *attr, char *const argv[],
			    char *const envp[])
{
	hooks_exec_init();
	return exec_spawn(pid, path, actions, attr, argv, envp, 0);
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file,
			     const posix_spawn_file_actions_t *actions,
			     const posix_spawnattr_t *attr, char *const argv[],
			     char *const envp[])
{
	hooks_exec_init();
	return exec_spawn(pid, file, actions, attr, argv, envp, 1);
}

SHIM_EXPORT int system(const char *command)
{
	hooks_exec_init();
	return exec_system(command);
}

SHIM_EXPORT FILE *popen(const char *command, const char *mode)
{
	hooks_exec_init();
	return exec_popen(command, mode);
}

SHIM_EXPORT int pclose(FILE *stream)
{
	hooks_init();
	return exec_pclose(stream);
}

SHIM_EXPORT int wordexp(const char *words, wordexp_t *we, int flags)
{
	hooks_init();
	return exec_wordexp(words, we, flags);
}

/* ------------------------------------------------- glibc's own names */

/* glibc exports these aliases of the calls above; a program (or library)
   that calls them must meet the same hooks. */
SHIM_EXPORT int __connect(int fd, const struct sockaddr *addr, socklen_t len)
	__attribute__((alias("connect")));
SHIM_EXPORT ssize_t __write(int fd, const void *buf, size_t n)
	__attribute__((alias("write")));
SHIM_EXPORT ssize_t __read(int fd, void *buf, size_t n)
	__attribute__((alias("read")));
SHIM_EXPORT ssize_t __send(int fd, const void *buf, size_t n, int flags)
	__attribute__((alias("send")));
SHIM_EXPORT ssize_t __recv(int fd, void *buf, size_t n, int flags)
	__attribute__((alias("recv")));
SHIM_EXPORT int __close(int fd) __attribute__((alias("close")));
/* <unistd.h> declares dup2 __THROW (nothrow, leaf): its alias says the
   same, or gcc warns (and clang knows no -Wmissing-attributes to mute) */
SHIM_EXPORT int __dup2(int oldfd, int newfd)
	__attribute__((alias("dup2"), nothrow, leaf));

/* ------------------------------------------------------ symbol lookup */

/* dlsym on a handle (dlopen("libc.so.6"), Python's ctypes.CDLL, Ruby's
   Fiddle) would find libc's own connect(), past every hook above: such a
   lookup gets the hook instead (real_own_symbol).  RTLD_NEXT and
   RTLD_DEFAULT depend on who calls (glibc looks at its return address),
   so they go on to libc's dlsym by a jump, with the caller's own return
   address; they find the hooks already.  A call in their place would
   make glibc answer RTLD_NEXT for the shim (libc's connect for a program
   that asked for the next one, the shim's: in clear): at -O0, with
   -fno-optimize-sibling-calls or -fstack-protector-all no compiler makes
   that call a jump, so on x86-64 the jump is written out below. */
#if defined(__x86_64__)
void *hooks_dlsym_handle(void *handle, const char *name);

REAL_EARLY void *hooks_dlsym_handle(void *handle, const char *name)
{
	/* entered by a jump from dlsym: the return address is its caller's */
	return real_own_symbol(real_dlsym()(handle, name), name,
			       __builtin_return_address(0));
}

/* RTLD_NEXT is -1, RTLD_DEFAULT 0 (<dlfcn.h>) */
__asm__(".pushsection .text\n"
	".globl dlsym\n"
	".type dlsym, @function\n"
	".p2align 4\n"
	"dlsym:\n"
	"	.cfi_startproc\n"
	"	endbr64\n"
	"	cmpq $-1, %rdi\n"
	"	je 1f\n"
	"	testq %rdi, %rdi\n"
	"	je 1f\n"
	"	jmp hooks_dlsym_handle@PLT\n"
	"1:	pushq %rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq %rsi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	subq $8, %rsp\n" /* the call's 16-byte alignment */
	"	.cfi_adjust_cfa_offset 8\n"
	"	call real_dlsym@PLT\n"
	"	addq $8, %rsp\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rsi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	popq %rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	jmp *%rax\n"
	"	.cfi_endproc\n"
	".size dlsym, .-dlsym\n"
	".popsection\n");
#else
/* elsewhere the compiler's tail call: clang can be told that it must be
   one; gcc makes it one when it optimizes, which this function asks for
   (tests/integration/12-never-plaintext.sh checks the lookups that
   depend on it). */
#if defined(__has_attribute)
#if __has_attribute(musttail)
#define HOOKS_TAIL __attribute__((musttail))
#endif
#endif
#ifndef HOOKS_TAIL
#define HOOKS_TAIL
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define HOOKS_SIBCALL __attribute__((optimize("O2", "optimize-sibling-calls")))
#else
#define HOOKS_SIBCALL
#endif

SHIM_EXPORT REAL_EARLY HOOKS_SIBCALL void *dlsym(void *handle,
						  const char *name)
{
	real_dlsym_fn libc_dlsym = real_dlsym();

	if (handle == RTLD_NEXT || handle == RTLD_DEFAULT)
		HOOKS_TAIL return libc_dlsym(handle, name);
	return real_own_symbol(libc_dlsym(handle, name), name,
			       __builtin_return_address(0));
}
#endif
