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

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("idle_conns: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---------------------------------------------------------------- OpenSSL */

/* The OpenSSL functions used, resolved from libssl.so.3 (and, through its
 * dependencies, libcrypto). */
static struct {
	typeof(TLS_client_method) *TLS_client_method;
	typeof(SSL_CTX_new) *SSL_CTX_new;
	typeof(SSL_CTX_load_verify_locations) *SSL_CTX_load_verify_locations;
	typeof(SSL_CTX_use_certificate_chain_file) *SSL_CTX_use_certificate_chain_file;
	typeof(SSL_CTX_use_PrivateKey_file) *SSL_CTX_use_PrivateKey_file;
	typeof(SSL_CTX_check_private_key) *SSL_CTX_check_private_key;
	typeof(SSL_CTX_set_verify) *SSL_CTX_set_verify;
	typeof(SSL_new) *SSL_new;
	typeof(SSL_set_fd) *SSL_set_fd;
	typeof(SSL_get0_param) *SSL_get0_param;
	typeof(X509_VERIFY_PARAM_set1_ip_asc) *X509_VERIFY_PARAM_set1_ip_asc;
	typeof(SSL_set1_host) *SSL_set1_host;
	typeof(SSL_ctrl) *SSL_ctrl;
	typeof(SSL_connect) *SSL_connect;
	typeof(SSL_write) *SSL_write;
	typeof(SSL_read) *SSL_read;
	typeof(SSL_get_verify_result) *SSL_get_verify_result;
	typeof(X509_verify_cert_error_string) *X509_verify_cert_error_string;
	typeof(ERR_print_errors_fp) *ERR_print_errors_fp;
} ossl;

#define OSSL_SYM(h, name)                                                     \
	do {                                                                  \
		*(void **)&ossl.name = dlsym((h), #name);                     \
		if (!ossl.name)                                               \
			die("dlsym(%s): %s", #name, dlerror());              \
	} while (0)

static void ossl_load(void)
{
	void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		die("dlopen(libssl.so.3): %s", dlerror());
	OSSL_SYM(h, TLS_client_method);
	OSSL_SYM(h, SSL_CTX_new);
	OSSL_SYM(h, SSL_CTX_load_verify_locations);
	OSSL_SYM(h, SSL_CTX_use_certificate_chain_file);
	OSSL_SYM(h, SSL_CTX_use_PrivateKey_file);
	OSSL_SYM(h, SSL_CTX_check_private_key);
	OSSL_SYM(h, SSL_CTX_set_verify);
	OSSL_SYM(h, SSL_new);
	OSSL_SYM(h, SSL_set_fd);
	OSSL_SYM(h, SSL_get0_param);
	OSSL_SYM(h, X509_VERIFY_PARAM_set1_ip_asc);
	OSSL_SYM(h, SSL_set1_host);
	OSSL_SYM(h, SSL_ctrl);
	OSSL_SYM(h, SSL_connect);
	OSSL_SYM(h, SSL_write);
	OSSL_SYM(h, SSL_read);
	OSSL_SYM(h, SSL_get_verify_result);
	OSSL_SYM(h, X509_verify_cert_error_string);
	OSSL_SYM(h, ERR_print_errors_fp);
}

static SSL_CTX *tls_ctx(const char *ca, const char *cert, const char *key)
{
	SSL_CTX *ctx;

	ossl_load();
	ctx = ossl.SSL_CTX_new(ossl.TLS_client_method());
	if (!ctx ||
	    ossl.SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    ossl.SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    ossl.SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    ossl.SSL_CTX_check_private_key(ctx) != 1) {
		ossl.ERR_print_errors_fp(stderr);
		die("cannot set up the TLS context (%s, %s, %s)", ca, cert, key);
	}
	ossl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* tls_start: the handshake on connected socket fd, verifying host. */
static SSL *tls_start(SSL_CTX *ctx, int fd, const char *host, int is_ip)
{
	SSL *ssl = ossl.SSL_new(ctx);

	if (!ssl || ossl.SSL_set_fd(ssl, fd) != 1)
		die("SSL_new/SSL_set_fd failed");
	if (is_ip) {
		if (ossl.X509_VERIFY_PARAM_set1_ip_asc(ossl.SSL_get0_param(ssl), host) != 1)
			die("X509_VERIFY_PARAM_set1_ip_asc(%s) failed", host);
	} else {
		if (ossl.SSL_set1_host(ssl, host) != 1 ||
		    ossl.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
				  TLSEXT_NAMETYPE_host_name, (void *)host) != 1)
			die("SSL_set1_host/SNI(%s) failed", host);
	}
	if (ossl.SSL_connect(ssl) != 1) {
		long v = ossl.SSL_get_verify_result(ssl);

		ossl.ERR_print_errors_fp(stderr);
		die("TLS handshake with %s failed (verify: %s)", host,
		    ossl.X509_verify_cert_error_string(v));
	}
	return ssl;
}

/* --------------------------------------------------------- connections */

struct target {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *host;
	int is_ip;
};

static void resolve(struct target *t, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	unsigned char buf[sizeof(struct in6_addr)];
	int rc;

	t->host = host;
	t->is_ip = inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("getaddrinfo(%s, %s): %s", host, port, gai_strerror(rc));
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

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
		SSL *ssl = tls_start(ctx, fd, t->host, t->is_ip);

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

	if (argc < 5)
		usage();
	tls = strcmp(argv[1], "tls") == 0;
	if (!tls && strcmp(argv[1], "plain") != 0)
		usage();
	if ((tls && argc != 8) || (!tls && argc != 5))
		usage();
	n = strtol(argv[4], NULL, 10);
	if (n < 1)
		usage();
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
