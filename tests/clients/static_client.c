/*
 * static_client.c - a small RESP client linked with `gcc -static`, so no
 * LD_PRELOAD reaches it: the supervisor's test program (47-supervisor).
 *
 *   static_client HOST PORT ping            PING, prints the reply
 *   static_client HOST PORT cmd ARG...      one command, prints the reply
 *   static_client HOST PORT big BYTES       SET/GET a value, byte-exact
 *   static_client HOST PORT pipeline N      N SETs then N GETs in one
 *                                           pipeline, every reply checked
 *   static_client HOST PORT threads [N]     N threads (2) connect at once
 *   static_client HOST PORT reconnect N     N connections one after the
 *                                           other; prints how many fds
 *                                           the supervisor (our
 *                                           parent's other child) holds
 *                                           after the first and after
 *                                           the last
 *   static_client HOST PORT fork            a forked child connects
 *   static_client HOST PORT names           getsockname, getpeername (and
 *                                           with a 2-byte buffer), then
 *                                           the addr= the server sees
 *   static_client HOST PORT nb [held]       a non-blocking connect: its
 *                                           answer and time; with held
 *                                           (a server that stalls) what
 *                                           a connecting socket says
 *                                           (connect again, write,
 *                                           getpeername, 300 ms poll);
 *                                           then POLLOUT, SO_ERROR
 *                                           twice and, if 0, PING
 *   static_client HOST PORT mismatch        an IPv4 socket connected to
 *                                           ::ffff:HOST (IPv6): the errno
 *   static_client HOST PORT dupbefore [nb]  dup() the socket, connect the
 *                                           original (nb: non-blocking),
 *                                           PING written on the copy,
 *                                           read on the original
 *   static_client HOST PORT v6mapped        an IPv6 socket to ::ffff:HOST:
 *                                           its family after connect, the
 *                                           peer's, then PING
 *   static_client HOST PORT flags           a SOCK_NONBLOCK|SOCK_CLOEXEC
 *                                           socket: its peer and flags
 *                                           after the connect, then PING
 *                                           with poll
 *   static_client HOST PORT drain ARG...    one command, then read until
 *                                           the end: "end of stream" (0)
 *                                           or the read's error (4)
 *   static_client HOST PORT half ARG...     one command, shutdown(SHUT_WR)
 *                                           at once, then as drain
 *   static_client HOST PORT fire ARG...     one command, then exit at once
 *                                           (no read, no close)
 *   static_client HOST PORT firebig KEY BYTES
 *                                           SET KEY to BYTES bytes of 'v',
 *                                           then exit at once
 *   static_client HOST PORT uring           io_uring_setup(2)'s answer
 *   static_client HOST PORT tfo ARG...      one command sent with the SYN
 *                                           (sendto MSG_FASTOPEN)
 *   static_client HOST PORT synsent         connect(HOST:PORT) on a socket
 *                                           whose non-blocking connect to
 *                                           a local listener that does not
 *                                           answer (full queue) is still
 *                                           running: the errno
 *   static_client HOST PORT twice           two threads connect one
 *                                           socket at once: both errnos
 *   static_client HOST PORT reuse           another thread closes the
 *                                           socket during the connect and
 *                                           opens /dev/null (same number):
 *                                           still /dev/null after it?
 *
 * HOST is an IPv4 literal (no resolver in a static binary).  Exit 0 on
 * success, 1 on a wrong reply, 3 when connect (or the TCP Fast Open
 * sendto) fails ("connect: ERROR", "sendto: ERROR").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	char buf[65536];
	size_t off, len;
};

static const char *host;
static int port;

static int conn_open(struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((unsigned short)port) };

	c->off = c->len = 0;
	inet_pton(AF_INET, host, &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		printf("connect: %s\n", strerror(errno));
		fflush(stdout);
		return -1;
	}
	return 0;
}

static int put(struct conn *c, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(c->fd, s, n);
		if (w <= 0) {
			printf("write: %s\n", w < 0 ? strerror(errno) : "0");
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fill(struct conn *c)
{
	ssize_t r;

	if (c->off < c->len)
		return 0;
	r = read(c->fd, c->buf, sizeof(c->buf));
	if (r <= 0) {
		printf("read: %s\n", r < 0 ? strerror(errno) : "end of stream");
		return -1;
	}
	c->off = 0;
	c->len = (size_t)r;
	return 0;
}

static int get(struct conn *c, char *p, size_t n)
{
	while (n > 0) {
		size_t k;
		if (fill(c) < 0)
			return -1;
		k = c->len - c->off < n ? c->len - c->off : n;
		memcpy(p, c->buf + c->off, k);
		c->off += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* One reply line without CRLF into line. */
static int get_line(struct conn *c, char *line, size_t max)
{
	size_t n = 0;

	for (;;) {
		if (fill(c) < 0)
			return -1;
		char ch = c->buf[c->off++];
		if (ch == '\n')
			break;
		if (n + 1 < max)
			line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* A command as a RESP array. */
/* A small command in one write: a server that answers its first bytes
   (a hostile one resets at once) must not meet a command half written. */
static int command_small(struct conn *c, int argc, const char **argv)
{
	char buf[4096];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);

	for (int i = 0; i < argc && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "$%zu\r\n%s\r\n",
				      strlen(argv[i]), argv[i]);
	return n < sizeof(buf) ? put(c, buf, n) : -2;
}

static int command(struct conn *c, int argc, const char **argv,
		   const size_t *lens)
{
	char head[64];
	int rc;

	if (lens == NULL && (rc = command_small(c, argc, argv)) != -2)
		return rc;
	snprintf(head, sizeof(head), "*%d\r\n", argc);
	if (put(c, head, strlen(head)) < 0)
		return -1;
	for (int i = 0; i < argc; i++) {
		size_t l = lens ? lens[i] : strlen(argv[i]);
		snprintf(head, sizeof(head), "$%zu\r\n", l);
		if (put(c, head, strlen(head)) < 0 || put(c, argv[i], l) < 0 ||
		    put(c, "\r\n", 2) < 0)
			return -1;
	}
	return 0;
}

/* Expect reply line `want` exactly. */
static int expect(struct conn *c, const char *want)
{
	char line[256];

	if (get_line(c, line, sizeof(line)) < 0)
		return -1;
	if (strcmp(line, want) != 0) {
		printf("reply '%s', expected '%s'\n", line, want);
		return -1;
	}
	return 0;
}

static int do_ping(void)
{
	struct conn c;
	const char *argv[] = { "PING" };

	if (conn_open(&c) < 0)
		return 3;
	if (command(&c, 1, argv, NULL) < 0 || expect(&c, "+PONG") < 0)
		return 1;
	printf("PONG\n");
	close(c.fd);
	return 0;
}

static int do_cmd(int argc, const char **argv)
{
	struct conn c;
	char line[256];

	if (conn_open(&c) < 0)
		return 3;
	if (command(&c, argc, argv, NULL) < 0 ||
	    get_line(&c, line, sizeof(line)) < 0)
		return 1;
	printf("%s\n", line);
	close(c.fd);
	return line[0] == '-' ? 1 : 0;
}

static int do_big(size_t size)
{
	struct conn c;
	char *v = malloc(size), *back = malloc(size), line[64], crlf[2];
	const char *argv[] = { "SET", "static:big", v };
	size_t lens[] = { 3, 10, size };
	unsigned x = 12345;

	if (v == NULL || back == NULL || conn_open(&c) < 0)
		return 3;
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		v[i] = (char)(x >> 16);
	}
	if (command(&c, 3, argv, lens) < 0 || expect(&c, "+OK") < 0)
		return 1;
	argv[0] = "GET";
	if (command(&c, 2, argv, lens) < 0)
		return 1;
	snprintf(line, sizeof(line), "$%zu", size);
	if (expect(&c, line) < 0 || get(&c, back, size) < 0 ||
	    get(&c, crlf, 2) < 0)
		return 1;
	if (memcmp(v, back, size) != 0) {
		printf("GET: the value differs\n");
		return 1;
	}
	printf("big %zu ok\n", size);
	close(c.fd);
	return 0;
}

static int do_pipeline(int n)
{
	struct conn c;
	char key[32], val[32], want[40];

	if (conn_open(&c) < 0)
		return 3;
	for (int i = 0; i < n; i++) {
		const char *argv[] = { "SET", key, val };
		snprintf(key, sizeof(key), "static:p:%d", i % 1000);
		snprintf(val, sizeof(val), "v%d", i);
		if (command(&c, 3, argv, NULL) < 0)
			return 1;
	}
	for (int i = 0; i < n; i++)
		if (expect(&c, "+OK") < 0)
			return 1;
	for (int i = 0; i < n; i++) {
		const char *argv[] = { "ECHO", val };
		snprintf(val, sizeof(val), "e%d", i);
		if (command(&c, 2, argv, NULL) < 0)
			return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(val, sizeof(val), "e%d", i);
		snprintf(want, sizeof(want), "$%zu", strlen(val));
		if (expect(&c, want) < 0 || expect(&c, val) < 0)
			return 1;
	}
	printf("pipeline %d ok\n", 2 * n);
	close(c.fd);
	return 0;
}

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)(long)do_ping();
}

#define MAX_THREADS 64

static int do_threads(int n)
{
	pthread_t t[MAX_THREADS];
	void *rc;
	int bad = 0;

	if (n < 1 || n > MAX_THREADS)
		return 2;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, thread_main, NULL);
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], &rc);
		bad |= rc != NULL;
	}
	return bad;
}

/* The supervisor: the other child of our parent (redis-tls-ctl's
   supervise runs the program and the supervisor side by side), or -1. */
static int supervisor_pid(void)
{
	char path[64], line[512], *end;
	int pid, ppid, found = -1;
	struct dirent *e;
	DIR *d = opendir("/proc");
	FILE *f;

	while (d != NULL && found < 0 && (e = readdir(d)) != NULL) {
		pid = atoi(e->d_name);
		if (pid <= 0 || pid == (int)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL &&
		    (end = strrchr(line, ')')) != NULL &&
		    sscanf(end + 1, " %*c %d", &ppid) == 1 &&
		    ppid == (int)getppid())
			found = pid;
		fclose(f);
	}
	if (d != NULL)
		closedir(d);
	return found;
}

/* Descriptors the supervisor holds, once they stop changing. */
static int supervisor_fds(void)
{
	char path[64];
	int last = -1, n = -2, pid = supervisor_pid();

	if (pid < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	for (int tries = 0; tries < 40 && n != last; tries++) {
		DIR *d = opendir(path);
		last = n;
		n = 0;
		if (d == NULL)
			return -1;
		while (readdir(d) != NULL)
			n++;
		closedir(d);
		usleep(50000);
	}
	return n;
}

static int do_reconnect(int n)
{
	int first = 0;

	for (int i = 0; i < n; i++) {
		if (do_ping() != 0)
			return 1;
		if (i == 0)
			first = supervisor_fds();
	}
	printf("supervisor fds: %d after the first, %d after the last\n",
	       first, supervisor_fds());
	return 0;
}

static int do_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		printf("child: ");
		_exit(do_ping());
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return 1;
	if (WEXITSTATUS(status) != 0)
		return WEXITSTATUS(status);
	printf("parent: ");
	return do_ping();
}

static int do_drain(int argc, const char **argv, int half)
{
	struct conn c;
	size_t total = 0;
	ssize_t r;

	if (conn_open(&c) < 0)
		return 3;
	if (command(&c, argc, argv, NULL) < 0 ||
	    (half && shutdown(c.fd, SHUT_WR) < 0))
		return 1;
	while ((r = read(c.fd, c.buf, sizeof(c.buf))) > 0)
		total += (size_t)r;
	printf("%zu bytes, then %s\n", total,
	       r == 0 ? "end of stream" : strerror(errno));
	return r == 0 ? 0 : 4;
}

static int do_fire(int argc, const char **argv)
{
	struct conn c;

	if (conn_open(&c) < 0)
		return 3;
	return command(&c, argc, argv, NULL) < 0 ? 1 : 0;
}

/* SET key to BYTES bytes of 'v', then exit at once: most of it is still
   on its way when the program ends. */
static int do_firebig(const char *key, size_t size)
{
	struct conn c;
	char *v = malloc(size);
	const char *argv[] = { "SET", key, v };
	size_t lens[] = { 3, strlen(key), size };

	if (v == NULL || conn_open(&c) < 0)
		return 3;
	memset(v, 'v', size);
	return command(&c, 3, argv, lens) < 0 ? 1 : 0;
}

/* io_uring's connect would pass any filter on connect(2). */
static int do_uring(void)
{
	char params[120] = { 0 }; /* struct io_uring_params */
	long fd = syscall(__NR_io_uring_setup, 4, params);

	printf("io_uring_setup: %s\n", fd >= 0 ? "ok" : strerror(errno));
	return fd >= 0 ? 0 : 1;
}

static void target(struct sockaddr_in *sa)
{
	*sa = (struct sockaddr_in){ .sin_family = AF_INET,
				    .sin_port = htons((unsigned short)port) };
	inet_pton(AF_INET, host, &sa->sin_addr);
}

static int wait_for(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

static int do_flags(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	socklen_t len = sizeof(err);
	char reply[64] = "";
	ssize_t n;

	target(&sa);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		printf("connect: %s\n", strerror(errno));
		return 3;
	}
	if (wait_for(fd, POLLOUT) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		printf("connect: %s\n", strerror(err ? err : ETIMEDOUT));
		return 3;
	}
	{
		struct sockaddr_in peer;
		char ip[INET_ADDRSTRLEN];
		socklen_t plen = sizeof(peer);

		if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
			return 1;
		printf("peer %s:%u\n",
		       inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip)),
		       ntohs(peer.sin_port));
	}
	printf("nonblock=%d cloexec=%d\n",
	       (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
	       (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	if (read(fd, reply, sizeof(reply)) >= 0 || errno != EAGAIN)
		printf("read before any request did not say EAGAIN\n");
	if (write(fd, "PING\r\n", 6) != 6 || wait_for(fd, POLLIN) < 0 ||
	    (n = read(fd, reply, sizeof(reply) - 1)) <= 0)
		return 1;
	reply[n] = '\0';
	printf("%.*s\n", (int)strcspn(reply, "\r\n"), reply);
	return strcmp(reply, "+PONG\r\n") == 0 ? 0 : 1;
}

static void print_name(const char *what, const struct sockaddr_in *a)
{
	char ip[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	printf("%s %s:%u\n", what, ip, ntohs(a->sin_port));
}

static int do_names(void)
{
	struct conn c;
	struct sockaddr_in me, peer, part;
	socklen_t l1 = sizeof(me), l2 = sizeof(peer), l3 = 2;
	char line[1024], *addr;

	if (conn_open(&c) < 0)
		return 3;
	memset(&part, 0xAB, sizeof(part));
	if (getsockname(c.fd, (struct sockaddr *)&me, &l1) < 0 ||
	    getpeername(c.fd, (struct sockaddr *)&peer, &l2) < 0 ||
	    getsockname(c.fd, (struct sockaddr *)&part, &l3) < 0)
		return 1;
	print_name("local", &me);
	print_name("peer", &peer);
	/* the kernel writes 2 bytes (the family) and says how long it is */
	printf("short buffer: len=%u family=%d port bytes untouched=%d\n",
	       (unsigned)l3, part.sin_family, part.sin_port == 0xABAB);
	if (put(&c, "CLIENT INFO\r\n", 13) < 0 ||
	    get_line(&c, line, sizeof(line)) < 0 ||
	    get_line(&c, line, sizeof(line)) < 0)
		return 1;
	addr = strstr(line, " addr=");
	if (addr == NULL)
		return 1;
	printf("server sees %.*s\n", (int)strcspn(addr + 1, " "), addr + 1);
	return 0;
}

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "0";
	case EINPROGRESS: return "EINPROGRESS";
	case EALREADY: return "EALREADY";
	case EISCONN: return "EISCONN";
	case EAGAIN: return "EAGAIN";
	case ENOTCONN: return "ENOTCONN";
	default: return strerror(e);
	}
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* What a socket whose connect is still running says. */
static void nb_connecting(int fd, const struct sockaddr_in *sa)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int rc;

	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	printf("connect again: %s\n", err_name(rc < 0 ? errno : 0));
	rc = (int)write(fd, "PING\r\n", 6);
	printf("write: %s\n", rc < 0 ? err_name(errno) : "written");
	rc = getpeername(fd, (struct sockaddr *)&peer, &plen);
	printf("getpeername: %s\n", err_name(rc < 0 ? errno : 0));
	rc = poll(&p, 1, 300);
	printf("poll 300 ms: %s\n", rc == 0 ? "nothing" : "ready");
}

static int do_nb(int held)
{
	struct sockaddr_in sa;
	struct timespec t0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), rc, err = 0;
	socklen_t len = sizeof(err);
	char reply[64];
	ssize_t n;

	target(&sa);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	printf("connect: %s in %s\n", err_name(rc < 0 ? errno : 0),
	       ms_since(&t0) < 200 ? "under 200 ms" : "200 ms or more");
	if (held)
		nb_connecting(fd, &sa);
	if (wait_for(fd, POLLOUT) < 0)
		return 1;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("SO_ERROR: %s\n", err_name(err));
	rc = err;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("SO_ERROR again: %s\n", err_name(err));
	if (rc != 0)
		return 3;
	if (write(fd, "PING\r\n", 6) != 6 || wait_for(fd, POLLIN) < 0 ||
	    (n = read(fd, reply, sizeof(reply) - 1)) <= 0)
		return 1;
	reply[n] = '\0';
	printf("%.*s\n", (int)strcspn(reply, "\r\n"), reply);
	return 0;
}

static int do_v6mapped(void)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
				    .sin6_port = htons((unsigned short)port) };
	struct sockaddr_in6 peer;
	socklen_t plen = sizeof(peer), dl = sizeof(int);
	char mapped[64], ip[INET6_ADDRSTRLEN], reply[64];
	int fd = socket(AF_INET6, SOCK_STREAM, 0), domain = 0;
	ssize_t n;

	snprintf(mapped, sizeof(mapped), "::ffff:%s", host);
	inet_pton(AF_INET6, mapped, &sa6.sin6_addr);
	if (connect(fd, (struct sockaddr *)&sa6, sizeof(sa6)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 3;
	}
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl);
	getpeername(fd, (struct sockaddr *)&peer, &plen);
	inet_ntop(AF_INET6, &peer.sin6_addr, ip, sizeof(ip));
	printf("domain %s, peer [%s]:%u\n", domain == AF_INET6 ? "AF_INET6" : "other",
	       ip, ntohs(peer.sin6_port));
	if (write(fd, "PING\r\n", 6) != 6 || (n = read(fd, reply, sizeof(reply) - 1)) <= 0)
		return 1;
	reply[n] = '\0';
	printf("%.*s\n", (int)strcspn(reply, "\r\n"), reply);
	return 0;
}

static int do_mismatch(void)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
				    .sin6_port = htons((unsigned short)port) };
	char mapped[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	snprintf(mapped, sizeof(mapped), "::ffff:%s", host);
	inet_pton(AF_INET6, mapped, &sa6.sin6_addr);
	if (connect(fd, (struct sockaddr *)&sa6, sizeof(sa6)) == 0)
		printf("connect: 0\n");
	else
		printf("connect: %s\n", strerror(errno));
	return 0;
}

static int do_dupbefore(int nb)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
	int copy = dup(fd), err = 0;
	socklen_t len = sizeof(err);
	char reply[64];
	ssize_t n;

	target(&sa);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    (!nb || errno != EINPROGRESS || wait_for(fd, POLLOUT) < 0 ||
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)) {
		printf("connect: %s\n", strerror(err ? err : errno));
		return 3;
	}
	if (write(copy, "PING\r\n", 6) != 6) {
		printf("write on the copy: %s\n", strerror(errno));
		return 1;
	}
	if (wait_for(fd, POLLIN) < 0 || (n = read(fd, reply, sizeof(reply) - 1)) <= 0)
		return 1;
	reply[n] = '\0';
	printf("%.*s\n", (int)strcspn(reply, "\r\n"), reply);
	return 0;
}

static int do_tfo(int argc, const char **argv)
{
	struct sockaddr_in sa;
	struct conn c = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
	char cmd[256] = "", line[256];

	for (int i = 0; i < argc; i++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s",
			 argv[i], i + 1 < argc ? " " : "\r\n");
	target(&sa);
	if (sendto(c.fd, cmd, strlen(cmd), MSG_FASTOPEN,
		   (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("sendto: %s\n", strerror(errno));
		return 3;
	}
	if (get_line(&c, line, sizeof(line)) < 0)
		return 1;
	printf("%s\n", line);
	return line[0] == '-' ? 1 : 0;
}

/* A local listener whose accept queue is full (SYNs to it go
   unanswered): its address into *l, or -1. */
static int full_listener(struct sockaddr_in *l)
{
	socklen_t len = sizeof(*l);
	int lis = socket(AF_INET, SOCK_STREAM, 0);

	memset(l, 0, sizeof(*l));
	l->sin_family = AF_INET;
	l->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lis, (struct sockaddr *)l, sizeof(*l)) < 0 ||
	    listen(lis, 0) < 0 ||
	    getsockname(lis, (struct sockaddr *)l, &len) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		connect(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0),
			(struct sockaddr *)l, sizeof(*l));
	usleep(100000);
	return lis;
}

static int do_synsent(void)
{
	struct sockaddr_in l, sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), rc;

	target(&sa);
	if (full_listener(&l) < 0)
		return 2;
	rc = connect(fd, (struct sockaddr *)&l, sizeof(l));
	printf("connect unanswered: %s\n", err_name(rc < 0 ? errno : 0));
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	printf("connect HOST:PORT: %s\n", err_name(rc < 0 ? errno : 0));
	return 0;
}

static int race_fd, race_rc;

static void *race_connect(void *arg)
{
	struct sockaddr_in sa;

	(void)arg;
	target(&sa);
	usleep(500);
	race_rc = connect(race_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0
			  ? errno : 0;
	return NULL;
}

static void *race_reuse(void *arg)
{
	(void)arg;
	usleep(500);
	close(race_fd);
	race_rc = open("/dev/null", O_RDONLY) == race_fd ? 0 : -1;
	return NULL;
}

/* connect while another thread (race_connect, race_reuse) acts on the
   same descriptor: what each saw, and what the descriptor is after. */
static int do_race_fd(int reuse)
{
	struct sockaddr_in sa;
	struct stat st;
	pthread_t th;
	int rc;

	target(&sa);
	race_fd = socket(AF_INET, SOCK_STREAM, 0);
	pthread_create(&th, NULL, reuse ? race_reuse : race_connect, NULL);
	rc = connect(race_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
	pthread_join(th, NULL);
	if (!reuse) {
		printf("connects: %s\n", rc && race_rc ? "both failed"
				: !rc && !race_rc ? "both 0" : "one 0, one failed");
		printf("the other: %s\n", err_name(rc ? rc : race_rc));
		return 0;
	}
	if (race_rc != 0 || fstat(race_fd, &st) < 0)
		return 2;
	printf("after: %s\n", S_ISSOCK(st.st_mode) ? "a socket" : "/dev/null");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: static_client HOST PORT MODE [ARGS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	host = argv[1];
	port = atoi(argv[2]);
	if (strcmp(argv[3], "ping") == 0)
		return do_ping();
	if (strcmp(argv[3], "cmd") == 0 && argc > 4)
		return do_cmd(argc - 4, (const char **)argv + 4);
	if (strcmp(argv[3], "big") == 0 && argc > 4)
		return do_big(strtoul(argv[4], NULL, 10));
	if (strcmp(argv[3], "pipeline") == 0 && argc > 4)
		return do_pipeline(atoi(argv[4]));
	if (strcmp(argv[3], "threads") == 0)
		return do_threads(argc > 4 ? atoi(argv[4]) : 2);
	if (strcmp(argv[3], "reconnect") == 0 && argc > 4)
		return do_reconnect(atoi(argv[4]));
	if (strcmp(argv[3], "fork") == 0)
		return do_fork();
	if (strcmp(argv[3], "nb") == 0)
		return do_nb(argc > 4 && strcmp(argv[4], "held") == 0);
	if (strcmp(argv[3], "mismatch") == 0)
		return do_mismatch();
	if (strcmp(argv[3], "dupbefore") == 0)
		return do_dupbefore(argc > 4 && strcmp(argv[4], "nb") == 0);
	if (strcmp(argv[3], "v6mapped") == 0)
		return do_v6mapped();
	if (strcmp(argv[3], "names") == 0)
		return do_names();
	if (strcmp(argv[3], "flags") == 0)
		return do_flags();
	if (strcmp(argv[3], "drain") == 0 && argc > 4)
		return do_drain(argc - 4, (const char **)argv + 4, 0);
	if (strcmp(argv[3], "half") == 0 && argc > 4)
		return do_drain(argc - 4, (const char **)argv + 4, 1);
	if (strcmp(argv[3], "uring") == 0)
		return do_uring();
	if (strcmp(argv[3], "fire") == 0 && argc > 4)
		return do_fire(argc - 4, (const char **)argv + 4);
	if (strcmp(argv[3], "firebig") == 0 && argc > 5)
		return do_firebig(argv[4], strtoul(argv[5], NULL, 10));
	if (strcmp(argv[3], "tfo") == 0 && argc > 4)
		return do_tfo(argc - 4, (const char **)argv + 4);
	if (strcmp(argv[3], "synsent") == 0)
		return do_synsent();
	if (strcmp(argv[3], "twice") == 0 || strcmp(argv[3], "reuse") == 0)
		return do_race_fd(strcmp(argv[3], "reuse") == 0);
	fprintf(stderr, "static_client: unknown mode %s\n", argv[3]);
	return 2;
}
