/*
 * first_reply.c - how long a new connection takes to its first reply, for
 * tests/integration/16-slowlink.sh and scripts/bench-lib/slowlink.sh.
 *
 *   first_reply plain HOST PORT N
 *   first_reply tls   HOST PORT N CAFILE CERTFILE KEYFILE
 *
 * Opens N connections to HOST:PORT one after the other; on each (with
 * TCP_NODELAY set after the connect, as Redis clients do), sends PING,
 * reads +PONG, closes.  Prints one line per connection:
 *
 *   first_reply: conn=I us=T resumed=yes|no|-
 *
 * T is the time from just before connect() to the last byte of +PONG
 * read, in microseconds: the TCP connect, the TLS handshake, the request
 * and its reply.
 *
 *   plain  plain sockets: run it with the shim preloaded (redis-tls-run,
 *          or under its supervisor) and the shim does the TLS; resumed
 *          is "-" (the shim's log says it: "resumed yes");
 *   tls    OpenSSL in the program itself, as a careful native client does
 *          it: the CA, a client certificate, the chain and the server's
 *          address (an IP SAN) or name verified; and, from its second
 *          connection, the session ticket the previous connection got
 *          (the client session cache, as the shim keeps one).  The
 *          request is written as soon as SSL_connect returns: OpenSSL's
 *          client sends its Finished then, without waiting for tickets.
 *
 * Before the first connection, both modes make their one-time set-up:
 * the tls mode its SSL_CTX (certificates and key loaded), and both a
 * connect() to a listener of their own on 127.0.0.1 (an address the shim
 * is not configured for), which is where the preloaded shim loads its
 * engine and configuration.  So conn=1 is a full handshake, not a
 * process start-up.
 *
 * OpenSSL is loaded with dlopen (libssl.so.3), as in idle_conns.c: the
 * plain mode must not carry libssl into the process the shim runs in.
 * Exit status 0, 1 with a message on stderr on a failure, 2 on a usage
 * error.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char ping[] = "*1\r\n$4\r\nPING\r\n";

#define OSSL_CLIENT_NAME "first_reply"
#include "ossl_client.h"

/* The newest session (TLS 1.3: ticket) the server gave: the next
   connection offers it.  A ticket is good for one resumption. */
static SSL_SESSION *last_session;

static int keep_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	if (last_session)
		ossl.SSL_SESSION_free(last_session);
	last_session = sess;
	return 1; /* we hold the reference now */
}

/* The context of tls_ctx, keeping each new session for the next
   connection. */
static SSL_CTX *tls_ctx_resuming(const char *ca, const char *cert,
				 const char *key)
{
	SSL_CTX *ctx = tls_ctx(ca, cert, key);

	ossl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
			  SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE,
			  NULL);
	ossl.SSL_CTX_sess_set_new_cb(ctx, keep_session);
	return ctx;
}

/* --------------------------------------------------------- connections */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A connect() to a listener of our own: the shim's engine loads on a
   process's first connect, to any address. */
static void warm_up(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), c;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&sa, &len) != 0)
		die("warm-up listener: %s", strerror(errno));
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, len) != 0)
		die("warm-up connect: %s", strerror(errno));
	close(c);
	close(l);
}

/* One connection, PING answered, closed; prints its line. */
static void one(const struct target *t, SSL_CTX *ctx, int i)
{
	char reply[64];
	int fd, n = 0, r, resumed = -1, one = 1;
	SSL *ssl = NULL;
	double t0, t1;

	t0 = now_us();
	fd = socket(t->addr.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) != 0)
		die("connect(%s): %s", t->host, strerror(errno));
	/* as hiredis and redis-py do, after the connect */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		die("setsockopt(TCP_NODELAY): %s", strerror(errno));
	if (ctx) {
		ssl = tls_start(ctx, fd, t->host, t->is_ip, last_session);
		resumed = ossl.SSL_session_reused(ssl);
		if (ossl.SSL_write(ssl, ping, sizeof(ping) - 1) != (int)sizeof(ping) - 1)
			die("SSL_write failed");
		while (n < 7 && (r = ossl.SSL_read(ssl, reply + n, (int)sizeof(reply) - n)) > 0)
			n += r;
	} else {
		if (write(fd, ping, sizeof(ping) - 1) != (ssize_t)sizeof(ping) - 1)
			die("write: %s", strerror(errno));
		while (n < 7 && (r = (int)read(fd, reply + n, sizeof(reply) - n)) > 0)
			n += r;
	}
	t1 = now_us();
	if (n < 7 || memcmp(reply, "+PONG\r\n", 7) != 0)
		die("conn=%d: no +PONG in the reply to PING (%d bytes read)", i, n);
	if (ssl) {
		ossl.SSL_shutdown(ssl); /* close_notify, not waiting for the server's */
		ossl.SSL_free(ssl);
	}
	close(fd);
	printf("first_reply: conn=%d us=%.1f resumed=%s\n", i, t1 - t0,
	       resumed < 0 ? "-" : resumed ? "yes" : "no");
	fflush(stdout);
}

static void usage(void)
{
	fputs("usage: first_reply plain HOST PORT N\n"
	      "       first_reply tls HOST PORT N CAFILE CERTFILE KEYFILE\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct target t;
	SSL_CTX *ctx = NULL;
	long n, i;
	int tls;

	tls = ossl_client_args(argc, argv, &n, usage);
	resolve(&t, argv[2], argv[3]);
	if (tls)
		ctx = tls_ctx_resuming(argv[5], argv[6], argv[7]);
	warm_up();
	for (i = 1; i <= n; i++)
		one(&t, ctx, (int)i);
	if (ctx) {
		if (last_session)
			ossl.SSL_SESSION_free(last_session);
		ossl.SSL_CTX_free(ctx);
	}
	return 0;
}
