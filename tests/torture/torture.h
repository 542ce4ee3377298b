/*
 * torture.h - helpers shared by the torture programs (tests/torture/t_<name>.c).
 *
 * Each torture program drives one socket API pattern against a Redis server
 * speaking RESP and checks every reply byte-exact.  Run plainly they talk to a
 * plaintext redis-server; run under the shim (scripts/redis-tls-run) the very
 * same binaries talk TLS, so they must not depend on anything a TLS transport
 * would change: they only assume what a kernel TCP socket promises.
 *
 * Usage of every program:  PROG HOST PORT
 *   HOST is resolved with getaddrinfo(), as real clients do (the shim captures
 *   the name there).  Exit status 0: every check passed; 1: a check failed
 *   (one line on stderr naming what differed); 2: usage; 3: watchdog fired.
 *   Environment: TORTURE_TIMEOUT (seconds, default 30) bounds the run.
 *
 * Header-only: the Makefile compiles each program alone, so everything here
 * is static inline.  Key names start with "torture:PROG:PID:" so programs
 * can run in parallel against one server.
 *
 * Thread-safety: die() and the I/O helpers may be called from any thread;
 * t_init() must run first, from the main thread.
 */
#ifndef TORTURE_H
#define TORTURE_H

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static const char *t_host;
static const char *t_port;
static const char *volatile t_phase = "start";	/* named by the watchdog */
static unsigned t_checks;	/* byte-exact comparisons that passed */

/* Count one passed check; threads may call it concurrently. */
static inline void t_checked(void)
{
	__atomic_add_fetch(&t_checks, 1, __ATOMIC_RELAXED);
}

/* ---- failing --------------------------------------------------------- */

static inline void die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
static inline void die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: FAIL: %s\n", program_invocation_short_name, msg);
	fflush(stderr);
	_exit(1);	/* no atexit handlers: a failure must not look like a clean close */
}

/* die() with ": strerror(errno)" appended; errno is read before anything can clobber it. */
static inline void die_errno(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
static inline void die_errno(const char *fmt, ...)
{
	int err = errno;
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	die("%s: %s (errno %d)", msg, strerror(err), err);
}

/* ---- time ------------------------------------------------------------ */

static inline double t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline void t_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- setup ----------------------------------------------------------- */

static inline void *t_watchdog(void *arg)
{
	long secs = (long)(intptr_t)arg;

	t_sleep_ms(secs * 1000);
	fprintf(stderr, "%s: FAIL: watchdog: still running after %lds (hung?) in: %s\n",
		program_invocation_short_name, secs, t_phase);
	_exit(3);
}

/*
 * Parse "PROG HOST PORT" and start a watchdog thread.  The watchdog blocks
 * every signal so that process-directed signals (SIGALRM in t_eintr) reach
 * the thread the test expects.
 */
static inline void t_init(int argc, char **argv)
{
	const char *env = getenv("TORTURE_TIMEOUT");
	long secs = env ? atol(env) : 30;
	sigset_t all, old;
	pthread_t th;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		exit(2);
	}
	t_host = argv[1];
	t_port = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (secs <= 0)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&th, NULL, t_watchdog, (void *)(intptr_t)secs) != 0)
		die("pthread_create(watchdog) failed");
	pthread_detach(th);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static inline void t_done(void)
{
	printf("%s: ok (%u byte-exact checks)\n", program_invocation_short_name, t_checks);
	exit(0);
}

/* "torture:PROG:PID:name" into out. */
static inline const char *t_key(char *out, size_t n, const char *name)
{
	snprintf(out, n, "torture:%s:%ld:%s", program_invocation_short_name,
		 (long)getpid(), name);
	return out;
}

/* ---- connecting ------------------------------------------------------ */

/* getaddrinfo(t_host, t_port) for TCP; the caller frees with freeaddrinfo(). */
static inline struct addrinfo *t_resolve(void)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	rc = getaddrinfo(t_host, t_port, &hints, &res);
	if (rc != 0)
		die("getaddrinfo(%s, %s): %s", t_host, t_port, gai_strerror(rc));
	return res;
}

/* A blocking TCP connection to HOST:PORT (first address that answers). */
static inline int t_connect(void)
{
	struct addrinfo *res = t_resolve(), *ai;
	int fd = -1, err = 0;

	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = err;
		die_errno("connect to %s:%s", t_host, t_port);
	}
	return fd;
}

static inline void t_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		die_errno("fcntl(F_GETFL)");
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (fcntl(fd, F_SETFL, fl) < 0)
		die_errno("fcntl(F_SETFL, %sO_NONBLOCK)", on ? "" : "~");
}

/*
 * The main() of a program that drives one non-blocking connection through
 * both forms of a readiness call (poll then ppoll, select then pselect):
 * RUN(fd, an idle pipe's read end, 0 then 1, the key prefix NAME0 or NAME1,
 * "NAME pipeline"); then t_done().
 */
static inline void t_pipeline_variants(int argc, char **argv,
				       void (*run)(int, int, int, const char *, const char *),
				       const char *name0, const char *name1)
{
	const char *names[2] = { name0, name1 };
	char prefix[128], what[64];
	int fd, pipefd[2], i;

	t_init(argc, argv);
	if (pipe(pipefd) < 0)
		die_errno("pipe");
	fd = t_connect();
	t_set_nonblock(fd, 1);
	for (i = 0; i < 2; i++) {
		t_key(prefix, sizeof(prefix), names[i]);
		snprintf(what, sizeof(what), "%s pipeline", names[i]);
		run(fd, pipefd[0], i, prefix, what);
	}
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
	t_done();
}

/* ---- growable byte buffer -------------------------------------------- */

struct tbuf {
	char *p;
	size_t len, cap;
};

static inline void tbuf_reserve(struct tbuf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap *= 2;
	b->p = realloc(b->p, b->cap);
	if (!b->p)
		die("out of memory (%zu bytes)", b->cap);
}

static inline void tbuf_add(struct tbuf *b, const void *p, size_t n)
{
	tbuf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void tbuf_addf(struct tbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void tbuf_addf(struct tbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	tbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static inline void tbuf_free(struct tbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- RESP encoding --------------------------------------------------- */

/* Append a command with binary-safe arguments. */
static inline void resp_cmdv(struct tbuf *b, int argc, const char *const *argv, const size_t *lens)
{
	tbuf_addf(b, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		size_t n = lens ? lens[i] : strlen(argv[i]);

		tbuf_addf(b, "$%zu\r\n", n);
		tbuf_add(b, argv[i], n);
		tbuf_add(b, "\r\n", 2);
	}
}

/* Append a command whose arguments are C strings, NULL-terminated list. */
static inline void resp_cmd(struct tbuf *b, const char *arg0, ...)
{
	const char *argv[64];
	int argc = 0;
	va_list ap;

	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		if (argc == 64)
			die("resp_cmd: too many arguments");
		argv[argc++] = a;
	}
	va_end(ap);
	resp_cmdv(b, argc, argv, NULL);
}

/* Append the bulk-string reply a server sends for n bytes at p. */
static inline void resp_bulk(struct tbuf *b, const void *p, size_t n)
{
	tbuf_addf(b, "$%zu\r\n", n);
	tbuf_add(b, p, n);
	tbuf_add(b, "\r\n", 2);
}

/*
 * Length of the complete RESP2 reply at the start of p[0..n), 0 if more bytes
 * are needed.  Dies on a byte that cannot start a reply.
 */
static inline size_t resp_complete(const char *p, size_t n)
{
	const char *eol;
	long long v;
	size_t hdr, off;

	if (n == 0)
		return 0;
	eol = memmem(p, n, "\r\n", 2);
	if (!eol)
		return 0;
	hdr = (size_t)(eol - p) + 2;
	switch (p[0]) {
	case '+':
	case '-':
	case ':':
		return hdr;
	case '$':
		v = atoll(p + 1);
		if (v < 0)
			return hdr;
		return n >= hdr + (size_t)v + 2 ? hdr + (size_t)v + 2 : 0;
	case '*':
		v = atoll(p + 1);
		off = hdr;
		for (long long i = 0; i < v; i++) {
			size_t el = resp_complete(p + off, n - off);

			if (el == 0)
				return 0;
			off += el;
		}
		return off;
	default:
		die("malformed reply: starts with byte 0x%02x", (unsigned char)p[0]);
	}
}

/* ---- comparing ------------------------------------------------------- */

/* Printable rendering of up to 40 bytes around an offset, for messages. */
static inline const char *t_show(char *out, size_t outsz, const void *p, size_t n, size_t at)
{
	const unsigned char *s = p;
	size_t from = at > 16 ? at - 16 : 0, to = at + 24 < n ? at + 24 : n, o = 0;

	if (outsz < 8)
		return "";
	if (from > 0)
		o += (size_t)snprintf(out + o, outsz - o, "...");
	for (size_t i = from; i < to && o + 8 < outsz; i++) {
		if (s[i] == '\r')
			o += (size_t)snprintf(out + o, outsz - o, "\\r");
		else if (s[i] == '\n')
			o += (size_t)snprintf(out + o, outsz - o, "\\n");
		else if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", s[i]);
	}
	if (to < n && o + 4 < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "...");
	out[o < outsz ? o : outsz - 1] = '\0';
	return out;
}

/* Die naming `what` and the first differing offset unless got == exp. */
static inline void t_compare(const char *what, const void *exp, size_t explen,
			     const void *got, size_t gotlen)
{
	const unsigned char *e = exp, *g = got;
	size_t n = explen < gotlen ? explen : gotlen, i;
	char se[256], sg[256];

	for (i = 0; i < n && e[i] == g[i]; i++)
		;
	if (i == n && explen == gotlen) {
		t_checked();
		return;
	}
	die("%s: reply differs at byte %zu (expected %zu bytes, got %zu)\n"
	    "  expected: \"%s\"\n  got:      \"%s\"", what, i, explen, gotlen,
	    t_show(se, sizeof(se), exp, explen, i), t_show(sg, sizeof(sg), got, gotlen, i));
}

/*
 * An expected byte stream, checked incrementally as bytes arrive in pieces of
 * any size (non-blocking and event-driven programs).
 */
struct texp {
	const char *what;
	const char *p;	/* expected bytes */
	size_t len;
	size_t pos;	/* bytes matched so far */
};

static inline void texp_feed(struct texp *x, const void *data, size_t n)
{
	const unsigned char *d = data, *e = (const unsigned char *)x->p;
	char se[256], sg[256];

	if (n > x->len - x->pos)
		die("%s: %zu bytes more than expected arrived after byte %zu: \"%s\"",
		    x->what, n - (x->len - x->pos), x->len,
		    t_show(sg, sizeof(sg), d, n, x->len - x->pos));
	for (size_t i = 0; i < n; i++)
		if (d[i] != e[x->pos + i])
			die("%s: reply stream differs at byte %zu\n"
			    "  expected: \"%s\"\n  got:      \"%s\"", x->what, x->pos + i,
			    t_show(se, sizeof(se), e, x->len, x->pos + i),
			    t_show(sg, sizeof(sg), d, n, i));
	x->pos += n;
	if (x->pos == x->len)
		t_checked();
}

static inline int texp_done(const struct texp *x)
{
	return x->pos == x->len;
}

/* ---- blocking I/O with read()/write() -------------------------------- */

static inline void t_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0)
			die_errno("write(%zu bytes)", n);
		if (w == 0)
			die("write returned 0");
		s += w;
		n -= (size_t)w;
	}
}

static inline void t_read_exact(int fd, void *p, size_t n, const char *what)
{
	char *s = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, s + got, n - got);

		if (r < 0)
			die_errno("%s: read after %zu of %zu bytes", what, got, n);
		if (r == 0)
			die("%s: EOF after %zu of %zu bytes", what, got, n);
		got += (size_t)r;
	}
}

/* Read exactly explen bytes and compare them with exp. */
static inline void t_expect(int fd, const char *what, const void *exp, size_t explen)
{
	char *got = malloc(explen ? explen : 1);

	if (!got)
		die("out of memory");
	t_read_exact(fd, got, explen, what);
	t_compare(what, exp, explen, got, explen);
	free(got);
}

static inline void t_expect_str(int fd, const char *what, const char *exp)
{
	t_expect(fd, what, exp, strlen(exp));
}

/* Send a command (C string args, NULL-terminated) and expect an exact reply. */
static inline void t_cmd_expect(int fd, const char *exp, const char *arg0, ...)
{
	const char *argv[64];
	int argc = 0;
	struct tbuf b = { 0 };
	char what[128];
	va_list ap;

	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		if (argc == 64)
			die("t_cmd_expect: too many arguments");
		argv[argc++] = a;
	}
	va_end(ap);
	resp_cmdv(&b, argc, argv, NULL);
	t_write_all(fd, b.p, b.len);
	snprintf(what, sizeof(what), "%s %s", arg0, argc > 1 ? argv[1] : "");
	t_expect_str(fd, what, exp);
	tbuf_free(&b);
}

/*
 * Read one whole reply whose contents are not known in advance (INFO,
 * CLIENT LIST).  Only for a connection with a single request outstanding:
 * bytes beyond the reply are an error.  Returns a malloc'd NUL-terminated copy.
 */
static inline char *t_read_reply(int fd, size_t *lenp, const char *what)
{
	struct tbuf b = { 0 };
	size_t full;

	for (;;) {
		ssize_t r;

		tbuf_reserve(&b, 4096);
		r = read(fd, b.p + b.len, b.cap - b.len - 1);
		if (r < 0)
			die_errno("%s: read", what);
		if (r == 0)
			die("%s: EOF after %zu bytes of reply", what, b.len);
		b.len += (size_t)r;
		b.p[b.len] = '\0';
		full = resp_complete(b.p, b.len);
		if (full)
			break;
	}
	if (full != b.len)
		die("%s: %zu unexpected bytes after the reply", what, b.len - full);
	if (lenp)
		*lenp = b.len;
	return b.p;
}

/* ---- deterministic data ---------------------------------------------- */

static inline uint64_t t_rand(uint64_t *s)
{
	/* xorshift64*: fast, deterministic, good enough for test payloads */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Fill p with n bytes that depend only on seed and offset (all 256 byte values occur). */
static inline void t_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *d = p;
	uint64_t s = seed | 1;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v = t_rand(&s);

		memcpy(d + i, &v, 8);
	}
	if (i < n) {
		uint64_t v = t_rand(&s);

		memcpy(d + i, &v, n - i);
	}
}

/* ---- a mixed workload and a non-blocking pipeline driver ------------- */

/*
 * Append n rounds of "SET key:j value; GET key:j; INCR counter" to cmd and
 * the replies to exp.  Value lengths vary from 0 to ~120 KiB (most small, a
 * few large) so that replies span many reads and records.  The counter key
 * must not exist before.  Deterministic for a given seed.
 */
static inline void t_workload(struct tbuf *cmd, struct tbuf *exp, const char *prefix,
			      int n, uint64_t seed)
{
	char key[200], ctr[200];
	uint64_t s = seed | 1;
	char *v = malloc(128 * 1024);

	if (!v)
		die("out of memory");
	snprintf(ctr, sizeof(ctr), "%s:counter", prefix);
	for (int i = 0; i < n; i++) {
		uint64_t r = t_rand(&s);
		size_t len = r % 100 < 4 ? 50000 + (size_t)(r >> 8) % 70000 : (size_t)(r >> 8) % 2000;
		const char *a[3];
		size_t l[3];

		snprintf(key, sizeof(key), "%s:%d", prefix, i % 8);
		t_fill(v, len, r);
		a[0] = "SET", a[1] = key, a[2] = v;
		l[0] = 3, l[1] = strlen(key), l[2] = len;
		resp_cmdv(cmd, 3, a, l);
		resp_cmd(cmd, "GET", key, NULL);
		resp_cmd(cmd, "INCR", ctr, NULL);
		tbuf_add(exp, "+OK\r\n", 5);
		resp_bulk(exp, v, len);
		tbuf_addf(exp, ":%d\r\n", i + 1);
	}
	free(v);
}

/* The "DEL" that removes what t_workload(prefix) created, and its reply. */
static inline void t_workload_cleanup(struct tbuf *cmd, struct tbuf *exp, const char *prefix, int n)
{
	char keys[9][200];
	const char *a[10] = { "DEL" };
	int k = n < 8 ? n : 8;

	for (int i = 0; i < k; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%s:%d", prefix, i);
		a[i + 1] = keys[i];
	}
	snprintf(keys[k], sizeof(keys[k]), "%s:counter", prefix);
	a[k + 1] = keys[k];
	resp_cmdv(cmd, k + 2, a, NULL);
	tbuf_addf(exp, ":%d\r\n", k + 1);
}

/*
 * A pipeline on a non-blocking socket: bytes still to send, replies still
 * expected.  Read and write sizes follow a deterministic pseudo-random
 * sequence (1 byte up to a few KiB) so reads split replies everywhere.
 */
struct tpipe {
	int fd;
	const char *out;
	size_t out_len, out_off;
	struct texp in;
	uint64_t rng;
	unsigned reads, writes, eagains;
};

static inline void tpipe_init(struct tpipe *p, int fd, const struct tbuf *cmd,
			      const struct tbuf *exp, const char *what)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->out = cmd->p;
	p->out_len = cmd->len;
	p->in = (struct texp){ what, exp->p, exp->len, 0 };
	p->rng = 0x9e3779b97f4a7c15ULL;
}

static inline int tpipe_want_write(const struct tpipe *p)
{
	return p->out_off < p->out_len;
}

static inline int tpipe_done(const struct tpipe *p)
{
	return !tpipe_want_write(p) && texp_done(&p->in);
}

static inline size_t tpipe_step(struct tpipe *p, size_t max)
{
	uint64_t r = t_rand(&p->rng);

	return r % 8 == 0 ? 1 : 1 + (size_t)(r >> 8) % max;
}

/*
 * write() once (drain = 0) or until EAGAIN (drain = 1).  A write that fails
 * with EAGAIN is legitimate after readiness (another thread, a shim draining
 * records); any other error dies.
 */
static inline void tpipe_on_writable(struct tpipe *p, int drain)
{
	while (tpipe_want_write(p)) {
		size_t n = tpipe_step(p, 16384);
		ssize_t w;

		if (n > p->out_len - p->out_off)
			n = p->out_len - p->out_off;
		w = write(p->fd, p->out + p->out_off, n);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			p->eagains++;
			return;
		}
		if (w < 0)
			die_errno("%s: write(%zu) at byte %zu of the request stream",
				  p->in.what, n, p->out_off);
		if (w == 0)
			die("%s: write returned 0", p->in.what);
		p->out_off += (size_t)w;
		p->writes++;
		if (!drain)
			return;
	}
}

/*
 * read() with a size of at most max, once (drain = 0) or until EAGAIN
 * (drain = 1).  Returns the number of bytes read; dies on EOF or error.
 * Never asks for more than the expected stream still holds, so a surplus
 * byte from the server shows up as an unexpected readable event instead.
 */
static inline size_t tpipe_on_readable(struct tpipe *p, size_t max, int drain)
{
	char buf[16384];
	size_t total = 0;

	if (max > sizeof(buf))
		max = sizeof(buf);
	for (;;) {
		size_t left = p->in.len - p->in.pos, n = tpipe_step(p, max);
		ssize_t r;

		if (left == 0) {
			/* everything expected is here: anything more is a surplus */
			r = read(p->fd, buf, 1);
			if (r > 0)
				texp_feed(&p->in, buf, (size_t)r);	/* dies */
			if (r == 0)
				die("%s: EOF after the last reply", p->in.what);
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				die_errno("%s: read after the last reply", p->in.what);
			p->eagains++;
			return total;
		}
		if (n > left)
			n = left;
		r = read(p->fd, buf, n);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			p->eagains++;
			return total;
		}
		if (r < 0)
			die_errno("%s: read(%zu) at byte %zu", p->in.what, n, p->in.pos);
		if (r == 0)
			die("%s: EOF at byte %zu of %zu", p->in.what, p->in.pos, p->in.len);
		texp_feed(&p->in, buf, (size_t)r);
		p->reads++;
		total += (size_t)r;
		if (!drain)
			return total;
	}
}

/* ------------------------------------------------------------- epoll */

/* t_epoll_ctl: epoll_ctl with data.u64 = data, or die. */
static inline void t_epoll_ctl(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, op, fd, &ev) < 0)
		die_errno("epoll_ctl(op %d, fd %d, events 0x%x)", op, fd, events);
}

/* t_epoll_wait: epoll_wait, EINTR retried, or die. */
static inline int t_epoll_wait(int ep, struct epoll_event *evs, int max, int ms)
{
	int n;

	do
		n = epoll_wait(ep, evs, max, ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die_errno("epoll_wait");
	return n;
}

/* t_busy_epoll_set: epoll_create1(flags), or -1, whose last wait has
   returned two events (a readable pipe and a writable connection, deleted
   and closed since; a connection, so that the shim waits on the set):
   through the shim a deletion on it stays dormant
   (shim/switchboard/ready_epoll.c), where on a fresh set it reaches the
   kernel at once.  Dies on failure after the create. */
static inline int t_busy_epoll_set(int flags)
{
	struct epoll_event ev[2];
	int ep = epoll_create1(flags), a[2], c;

	if (ep < 0)
		return ep;
	if (pipe(a) < 0)
		die_errno("t_busy_epoll_set: pipe");
	c = t_connect();
	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	t_write_all(a[1], "x", 1);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, a[0], EPOLLIN, 1);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLOUT, 2);
	if (t_epoll_wait(ep, ev, 2, 1000) != 2)
		die("t_busy_epoll_set: a readable pipe and a writable connection, "
		    "not two events");
	t_epoll_ctl(ep, EPOLL_CTL_DEL, a[0], 0, 0);
	t_epoll_ctl(ep, EPOLL_CTL_DEL, c, 0, 0);
	close(c);
	close(a[0]);
	close(a[1]);
	return ep;
}

/* t_wait_reply: wait (up to 2 s) until fd's reply has reached the
   kernel, and all of it (50 ms more). */
static inline void t_wait_reply(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 2000) != 1)
		die("no reply within 2 s");
	t_sleep_ms(50);
}

/* t_stall_server: a new connection that keeps the server busy in a Lua
   script for `us` microseconds, so that it stops reading (a big write
   then surely meets EAGAIN, however fast the machine or slow the tool,
   valgrind, running the program); the script's reply (:1) is the
   caller's to read on the returned connection. */
static inline int t_stall_server(long us)
{
	char script[200];
	struct tbuf cmd = { 0 };
	int h = t_connect();

	snprintf(script, sizeof(script),
		 "local s = redis.call('TIME') "
		 "local t0 = s[1] * 1000000 + s[2] "
		 "repeat s = redis.call('TIME') until s[1] * 1000000 + s[2] - t0 > %ld "
		 "return 1",
		 us);
	resp_cmd(&cmd, "EVAL", script, "0", NULL);
	t_write_all(h, cmd.p, cmd.len);
	tbuf_free(&cmd);
	t_sleep_ms(50); /* let it start; if it starts later, it stalls later */
	return h;
}

/* t_expect_counter: the counter key on h, until it is want (it may still
   be rising: the server has what came before the end once it has the
   end) or 5 s; then compared, and t_checked(). */
static inline void t_expect_counter(int h, const char *key, size_t want)
{
	char exp[64], what[96];

	snprintf(exp, sizeof(exp), "$%d\r\n%zu\r\n",
		 snprintf(NULL, 0, "%zu", want), want);
	for (int i = 0; i < 100; i++) {
		struct tbuf c = { 0 };
		size_t n;
		char *got;

		resp_cmd(&c, "GET", key, NULL);
		t_write_all(h, c.p, c.len);
		tbuf_free(&c);
		got = t_read_reply(h, &n, "GET of the counter");
		if (strcmp(got, exp) == 0 || i == 99) {
			snprintf(what, sizeof(what), "%s: the counter (INCRs the "
				 "server got before the end)", t_phase);
			t_compare(what, exp, strlen(exp), got, n);
			free(got);
			break;
		}
		free(got);
		t_sleep_ms(50);
	}
	t_checked();
}

#endif /* TORTURE_H */
