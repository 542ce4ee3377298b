/*
 * idle_conns.c - memory cost of idle Redis connections, for scripts/bench.sh.
 *
 *   idle_conns plain HOST PORT N
 *   idle_conns tls   HOST PORT N CAFILE CERTFILE KEYFILE
 *
 * Opens WARMUP connections, reads its own RSS, opens N more, reads its RSS
 * again, and prints one line:
 *
 *   idle_conns: mode=M connections=N rss_before_kib=A rss_after_kib=B per_conn_kib=X
 *     slab_per_conn_kib=K (the kernel's slab growth, system-wide, per
 *     connection: client and server sockets, and the shim's socketpair)
 *
 * Every connection sends one PING, waits for +PONG, then stays open and
 * idle until the process exits.  Connections are made one after the other,
 * with blocking sockets.
 *
 *   plain  plain sockets: run it with the shim preloaded (redis-tls-run) to
 *          measure what the shim holds per connection;
 *   tls    OpenSSL in the program itself, with what a careful native client
 *          does: the CA, a client certificate, the chain and the server's
 *          address (an IP SAN) or name verified, default buffer settings.
 *
 * The warm-up connections take the one-time costs (libraries, contexts,
 * malloc arenas) out of the delta, so B - A is what N idle connections
 * cost.  HOST is an IPv4 or IPv6 literal, or a name (then SNI is sent and
 * the name verified).
 *
 * OpenSSL is loaded with dlopen (libssl.so.3) rather than linked: the
 * Makefile builds each C file in tests/clients/ with hiredis and libevent only,
 * and the plain mode must not carry libssl into the process the shim is
 * measured in.  Exit status 0 on success, 1 with a message on stderr
 * otherwise, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define WARMUP 10

static const char ping[] = "*1\r\n$4\r\nPING\r\n";

#define OSSL_CLIENT_NAME "idle_conns"
#include "ossl_client.h"

/* --------------------------------------------------------- connections */


/* expect_pong: the n bytes read hold the whole +PONG reply. */
static void expect_pong(const char *reply, int n)
{
	if (n < 7 || memcmp(reply, "+PONG\r\n", 7) != 0)
		die("no +PONG in the reply to PING (%d bytes read)", n < 0 ? 0 : n);
}

/* open_one: one connection, PING answered; returns the fd. */
static int open_one(const struct target *t, SSL_CTX *ctx)
{
	char reply[64];
	int fd, n = 0, r;

	fd = socket(t->addr.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) != 0)
		die("connect(%s): %s", t->host, strerror(errno));
	if (ctx) {
		SSL *ssl = tls_start(ctx, fd, t->host, t->is_ip, NULL);

		if (ossl.SSL_write(ssl, ping, sizeof(ping) - 1) != (int)sizeof(ping) - 1)
			die("SSL_write failed");
		while (n < 7 && (r = ossl.SSL_read(ssl, reply + n, (int)sizeof(reply) - n)) > 0)
			n += r;
		/* The SSL object stays allocated: the connection is idle, not
		 * gone.  It is freed with the process. */
	} else {
		if (write(fd, ping, sizeof(ping) - 1) != (ssize_t)sizeof(ping) - 1)
			die("write: %s", strerror(errno));
		while (n < 7 && (r = (int)read(fd, reply + n, sizeof(reply) - n)) > 0)
			n += r;
	}
	expect_pong(reply, n);
	return fd;
}

/* proc_kib: the value of the line "NAME: N kB" of a /proc file, in KiB. */
static long proc_kib(const char *path, const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long kib = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && line[n] == ':' &&
		    sscanf(line + n + 1, "%ld kB", &kib) == 1)
			break;
	fclose(f);
	if (kib < 0)
		die("no %s in %s", name, path);
	return kib;
}

/* rss_kib: this process's resident set (VmRSS), in KiB. */
static long rss_kib(void)
{
	return proc_kib("/proc/self/status", "VmRSS");
}

/* slab_kib: the kernel's slab objects in use (active objects x object size
   over every cache of /proc/slabinfo, which is where socket structures
   live; Slab of /proc/meminfo, page-grained, where slabinfo is closed to
   us), KiB.  System-wide: compare runs, not absolutes. */
static long slab_kib(void)
{
	char line[512], name[128];
	unsigned long active, total, size;
	double bytes = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (f != NULL) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%127s %lu %lu %lu", name, &active, &total,
				   &size) == 4)
				bytes += (double)active * (double)size;
		fclose(f);
		if (bytes > 0)
			return (long)(bytes / 1024);
	}
	return proc_kib("/proc/meminfo", "Slab");
}

static void raise_nofile(long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit: %s", strerror(errno));
	if ((long)rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max;
	if ((long)rl.rlim_max < need || setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("need %ld file descriptors, the hard limit is %ld", need, (long)rl.rlim_max);
}

static void usage(void)
{
	fputs("usage: idle_conns plain HOST PORT N\n"
	      "       idle_conns tls HOST PORT N CAFILE CERTFILE KEYFILE\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct target t;
	SSL_CTX *ctx = NULL;
	long n, i, before, after, slab_before, slab_after;
	int tls;

	tls = ossl_client_args(argc, argv, &n, usage);
	raise_nofile(n + WARMUP + 32);
	resolve(&t, argv[2], argv[3]);
	if (tls)
		ctx = tls_ctx(argv[5], argv[6], argv[7]);

	for (i = 0; i < WARMUP; i++)
		open_one(&t, ctx);
	before = rss_kib();
	slab_before = slab_kib();
	for (i = 0; i < n; i++)
		open_one(&t, ctx);
	after = rss_kib();
	slab_after = slab_kib();

	printf("idle_conns: mode=%s connections=%ld rss_before_kib=%ld rss_after_kib=%ld "
	       "per_conn_kib=%.2f slab_per_conn_kib=%.2f\n",
	       argv[1], n, before, after, (double)(after - before) / (double)n,
	       (double)(slab_after - slab_before) / (double)n);
	return 0;
}
