/*
 * sock_private.c - the move of a connection to the shim's own socket: at
 * connect() to a configured endpoint, a new TCP socket like the program's
 * (domain, protocol, the options it set, the address it bound), placed
 * above the program's descriptor range, and a socketpair whose one end
 * replaces every number the program holds for the socket (sock.h).
 *
 * The program's own socket file is never connected, so no copy of it (an
 * unhooked dup, a child forked before connect) can reach the network.
 * Callers hold s->lock.
 */
#include "sock_impl.h"
#include "fdtable.h"
#include "log.h"
#include "real.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * sock_place_high - move fd to a close-on-exec number above the program's
 * own range (the soft RLIMIT_NOFILE the program started with), raising the
 * soft limit toward the hard one when there is no room; where the limit
 * cannot be raised, into the top of the range.  Returns the new number
 * (fd is closed) or -1 with errno (fd is left as it was).
 */
int sock_place_high(int fd)
{
	static rlim_t prog_limit;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct rlimit rl;
	int nfd = -1;

	pthread_mutex_lock(&lock);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (prog_limit == 0)
			prog_limit = rl.rlim_cur;
		for (int tries = 0; tries < 2 && nfd < 0; tries++) {
			if (rl.rlim_cur > prog_limit && prog_limit < INT_MAX)
				nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, (int)prog_limit);
			if (nfd >= 0 || rl.rlim_cur >= rl.rlim_max)
				break;
			rlim_t want = rl.rlim_cur + (rl.rlim_cur < 4096 ? 4096 : rl.rlim_cur);
			if (want > rl.rlim_max || want < rl.rlim_cur)
				want = rl.rlim_max;
			log_msg(SHIM_LOG_INFO, "raising the soft RLIMIT_NOFILE "
				"from %llu to %llu for the private descriptors "
				"of TLS connections",
				(unsigned long long)rl.rlim_cur,
				(unsigned long long)want);
			rl.rlim_cur = want;
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				break;
		}
	}
	pthread_mutex_unlock(&lock);
	if (nfd < 0 && prog_limit > 64 && prog_limit < INT_MAX)
		nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, (int)(prog_limit - prog_limit / 4));
	if (nfd < 0)
		nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -1;
	real.close(fd);
	if (nfd < SOCK_PRIVATE_BITS)
		atomic_fetch_or(&sock_private_bits[nfd / SOCK_PRIVATE_WORD],
				1UL << (nfd % SOCK_PRIVATE_WORD));
	for (int m = atomic_load(&sock_private_min); nfd < m &&
	     !atomic_compare_exchange_weak(&sock_private_min, &m, nfd);)
		;
	return nfd;
}

struct sock_opt {
	int level, name;
	socklen_t len;
	int halve; /* the kernel reports twice what was set */
};

/* Options a program may have set before connect(): carried over to the
   private socket where they differ from a new socket's defaults. */
static const struct sock_opt sock_opts[] = {
	{ SOL_SOCKET, SO_KEEPALIVE, sizeof(int), 0 },
	{ SOL_SOCKET, SO_RCVBUF, sizeof(int), 1 },
	{ SOL_SOCKET, SO_SNDBUF, sizeof(int), 1 },
	{ SOL_SOCKET, SO_LINGER, sizeof(struct linger), 0 },
	{ SOL_SOCKET, SO_PRIORITY, sizeof(int), 0 },
	{ SOL_SOCKET, SO_MARK, sizeof(int), 0 },
	{ SOL_SOCKET, SO_RCVLOWAT, sizeof(int), 0 },
	{ SOL_SOCKET, SO_REUSEADDR, sizeof(int), 0 },
	{ SOL_SOCKET, SO_REUSEPORT, sizeof(int), 0 },
	{ SOL_SOCKET, SO_OOBINLINE, sizeof(int), 0 },
	{ SOL_SOCKET, SO_BINDTODEVICE, IFNAMSIZ, 0 },
	{ IPPROTO_TCP, TCP_NODELAY, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_KEEPIDLE, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_KEEPINTVL, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_KEEPCNT, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_SYNCNT, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_WINDOW_CLAMP, sizeof(int), 0 },
	{ IPPROTO_TCP, TCP_CONGESTION, 16, 0 },
	{ IPPROTO_TCP, TCP_FASTOPEN_CONNECT, sizeof(int), 0 },
	{ IPPROTO_IP, IP_TOS, sizeof(int), 0 },
	{ IPPROTO_IP, IP_TTL, sizeof(int), 0 },
	{ IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, sizeof(int), 0 },
	{ IPPROTO_IP, IP_FREEBIND, sizeof(int), 0 },
	{ IPPROTO_IP, IP_TRANSPARENT, sizeof(int), 0 },
	{ IPPROTO_IPV6, IPV6_V6ONLY, sizeof(int), 0 },
	{ IPPROTO_IPV6, IPV6_TCLASS, sizeof(int), 0 },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS, sizeof(int), 0 },
};

static void sock_copy_options(int from, int to)
{
	for (size_t i = 0; i < sizeof(sock_opts) / sizeof(sock_opts[0]); i++) {
		const struct sock_opt *o = &sock_opts[i];
		char a[IFNAMSIZ + 16], b[IFNAMSIZ + 16];
		socklen_t la = o->len, lb = o->len;

		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		if (real.getsockopt(from, o->level, o->name, a, &la) < 0 ||
		    real.getsockopt(to, o->level, o->name, b, &lb) < 0 ||
		    (la == lb && memcmp(a, b, la) == 0))
			continue;
		if (o->halve)
			*(int *)a /= 2;
		if (o->name == SO_BINDTODEVICE || o->name == TCP_CONGESTION)
			la = (socklen_t)strnlen(a, la);
		real.setsockopt(to, o->level, o->name, a, la);
	}
}

/* The local address the program bound the socket to, if any. */
static int sock_bound(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	if (real.getsockname(fd, (struct sockaddr *)ss, len) < 0)
		return 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return a->sin_port != 0 || a->sin_addr.s_addr != INADDR_ANY;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		return a->sin6_port != 0 ||
		       !IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
	}
	return 0;
}

/* A new TCP socket like fd (domain, protocol, options), placed high. */
static int sock_private_tcp(int fd)
{
	int dom = AF_INET, proto = 0, nfd, err;
	socklen_t len = sizeof(dom);

	real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len);
	len = sizeof(proto);
	real.getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	nfd = real.socket(dom, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (nfd < 0)
		return -1;
	sock_copy_options(fd, nfd);
	if ((fd = sock_place_high(nfd)) < 0) {
		err = errno;
		real.close(nfd);
		errno = err;
	}
	return fd;
}

/*
 * Make every number the program holds for s (fd, and its dups made through
 * the hooks) the program's end of the socketpair, keeping each number's
 * close-on-exec flag.  Returns 0, or -1 with errno.
 */
static int sock_swap_numbers(struct shim_sock *s, int fd, int prog_end)
{
	size_t n = s->nfds > 1 ? fdt_socks.size : 0;

	for (size_t i = 0; i < n; i++) {
		int fdfl;

		if ((int)i == fd || fdt_peek((int)i) != s)
			continue;
		fdfl = real.fcntl((int)i, F_GETFD);
		real.dup3(prog_end, (int)i, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
	}
	int fdfl = real.fcntl(fd, F_GETFD);
	return real.dup3(prog_end, fd,
			 fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0 ? -1 : 0;
}

/* The socketpair: *prog (for the program's numbers) and s->shim_end. */
static int sock_make_pair(struct shim_sock *s, int app_nonblock, int *prog)
{
	int sp[2];

	if (real.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	if ((s->shim_end = sock_place_high(sp[1])) < 0) {
		int err = errno;
		real.close(sp[0]);
		real.close(sp[1]);
		errno = err;
		return -1;
	}
	real.fcntl(s->shim_end, F_SETFL, O_NONBLOCK);
	if (app_nonblock)
		real.fcntl(sp[0], F_SETFL, O_NONBLOCK);
	*prog = sp[0];
	return 0;
}

/* Caller holds s->lock: the TCP connect failed at once.  The program gets
   the private socket back (unconnected, its options kept) and s is FRESH. */
void sock_give_back(struct shim_sock *s, int fd)
{
	relay_unwatch(s);
	real.fcntl(s->kfd, F_SETFL, s->app_nonblock ? O_NONBLOCK : 0);
	sock_swap_numbers(s, fd, s->kfd);
	real.close(s->kfd);
	real.close(s->shim_end);
	s->kfd = s->shim_end = -1;
	sock_eng()->free(s->tls);
	s->tls = NULL;
	atomic_store(&s->state, SOCK_FRESH);
}

static void sock_read_timeouts(struct shim_sock *s, int fd, int prog_end)
{
	socklen_t len = sizeof(s->rcvtimeo);

	real.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &s->rcvtimeo, &len);
	len = sizeof(s->sndtimeo);
	real.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s->sndtimeo, &len);
	/* what the program's descriptor does without the hooks, too */
	real.setsockopt(prog_end, SOL_SOCKET, SO_RCVTIMEO, &s->rcvtimeo,
			sizeof(s->rcvtimeo));
	real.setsockopt(prog_end, SOL_SOCKET, SO_SNDTIMEO, &s->sndtimeo,
			sizeof(s->sndtimeo));
}

/*
 * Caller holds s->lock: move the connection to a private socket and make
 * the program's numbers the socketpair end.  0, or -1 with errno (nothing
 * changed for the program).
 */
int sock_move_private(struct shim_sock *s, int fd)
{
	int fl = real.fcntl(fd, F_GETFL), prog = -1, err;
	struct sockaddr_storage bound;
	socklen_t blen;
	int rebind = sock_bound(fd, &bound, &blen);

	s->app_nonblock = fl >= 0 && (fl & O_NONBLOCK);
	if ((s->kfd = sock_private_tcp(fd)) < 0)
		return -1;
	if (sock_make_pair(s, s->app_nonblock, &prog) < 0)
		goto fail;
	sock_read_timeouts(s, fd, prog);
	if (relay_watch(s) < 0)
		log_msg(SHIM_LOG_WARNING, "%s: cannot watch the connection "
			"for bytes the hooks do not see: %s", s->info.label,
			strerror(errno));
	sock_notify(s, SOCK_EV_DETACH, -1);
	atomic_store(&s->state, SOCK_CONNECTING);
	if (sock_swap_numbers(s, fd, prog) < 0) {
		err = errno;
		atomic_store(&s->state, SOCK_FRESH);
		sock_notify(s, SOCK_EV_ATTACH, -1);
		relay_unwatch(s);
		errno = err;
		goto fail;
	}
	real.close(prog);
	sock_notify(s, SOCK_EV_ATTACH, -1);
	if (rebind && real.bind(s->kfd, (struct sockaddr *)&bound, blen) < 0) {
		log_msg(SHIM_LOG_ERROR, "%s: cannot bind the connection to the "
			"local address the program chose: %s", s->info.label,
			strerror(errno));
		sock_fail_locked(s, errno);
	}
	return 0;
fail:
	err = errno;
	if (prog >= 0)
		real.close(prog);
	if (s->shim_end >= 0)
		real.close(s->shim_end);
	real.close(s->kfd);
	s->kfd = s->shim_end = -1;
	errno = err;
	return -1;
}

