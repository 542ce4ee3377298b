/*
 * rtt.c - one client's round trip, as the program meets it, for
 * scripts/bench-lib/cpu.sh.
 *
 *   rtt plain HOST PORT N
 *   rtt tls   HOST PORT N CAFILE CERTFILE KEYFILE
 *
 * Sends N GETs ("GET key") one at a time over one non-blocking connection
 * (TCP_NODELAY), as an event loop does it: write the request, poll() for
 * POLLIN, read until the reply (a bulk string) is whole, polling again
 * whenever a read has nothing.  For each request it takes three times:
 * before the write (t0), when the first poll() returns readable (t1), and
 * when the reply's last byte is read (t2).  After 200 requests left out
 * (the warm-up), it prints one line:
 *
 *   rtt: n=N p50_us=A p99_us=B mean_us=M ready_p50_us=C ready_p99_us=D
 *
 * A, B, M: t2 - t0, the request to the reply in hand; C, D: t1 - t0, the
 * request to "readable", which is where redis-benchmark stops its clock
 * (its readHandler, before the read).  Through the shim those two differ
 * less than natively: the shim decrypts the record before it calls the
 * socket readable (plaintext must be there, not a ticket or half a
 * record), where a native TLS client decrypts it in the read.  Times are
 * microseconds to 0.1 (CLOCK_MONOTONIC).
 *
 *   plain  plain sockets: run it with the shim preloaded and the shim does
 *          the TLS;
 *   tls    OpenSSL in the program itself (tests/clients/ossl_client.h:
 *          the CA, a client certificate, the server's address verified),
 *          SSL_write and SSL_read on the same non-blocking socket.
 *
 * Exit status 0, 1 with a message on stderr on a failure, 2 on a usage
 * error.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define OSSL_CLIENT_NAME "rtt"
#include "ossl_client.h"

static const char req[] = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";

enum { WARMUP = 200 };

static void usage(void)
{
	fputs("usage: rtt plain HOST PORT N\n"
	      "       rtt tls HOST PORT N CAFILE CERTFILE KEYFILE\n",
	      stderr);
	exit(2);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double pct_us(int64_t *v, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);

	return (double)v[i] / 1000.0;
}

/* reply_len: the whole length of the bulk string reply at the start of
   buf (got bytes), or 0 while it is not whole. */
static long reply_len(const char *buf, long got)
{
	const char *nl = memchr(buf, '\n', (size_t)got);
	long head, n;

	if (nl == NULL)
		return 0;
	if (buf[0] != '$')
		die("unexpected reply: %.*s", (int)(nl - buf), buf);
	head = nl - buf + 1;
	n = strtol(buf + 1, NULL, 10);
	if (n < 0)
		return head;
	return got >= head + n + 2 ? head + n + 2 : 0;
}

static void wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rc;

	do
		rc = poll(&p, 1, 5000);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		die("no reply (%s)", rc < 0 ? strerror(errno) : "timed out");
}

int main(int argc, char **argv)
{
	struct target t;
	long n, i;
	int tls = ossl_client_args(argc, argv, &n, usage), fd, one = 1;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int64_t *rt, *ready;
	double sum = 0;

	resolve(&t, argv[2], argv[3]);
	if (tls)
		ctx = tls_ctx(argv[5], argv[6], argv[7]);
	fd = socket(t.addr.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&t.addr, t.addrlen) != 0)
		die("connect %s:%s: %s", argv[2], argv[3], strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls)
		ssl = tls_start(ctx, fd, t.host, t.is_ip, NULL);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	rt = calloc((size_t)n, sizeof(*rt));
	ready = calloc((size_t)n, sizeof(*ready));
	if (!rt || !ready)
		die("out of memory");
	for (i = -WARMUP; i < n; i++) {
		char buf[512];
		long got = 0, len = 0;
		int64_t t0 = now_ns(), t1 = 0;
		ssize_t w = tls ? ossl.SSL_write(ssl, req, sizeof(req) - 1)
				: write(fd, req, sizeof(req) - 1);

		if (w != (ssize_t)sizeof(req) - 1)
			die("short write (%zd)", w);
		int idle = 0;

		while (len == 0) {
			ssize_t r;

			wait_in(fd);
			if (t1 == 0)
				t1 = now_ns();
			r = tls ? ossl.SSL_read(ssl, buf + got, (int)(sizeof(buf) - (size_t)got))
				: read(fd, buf + got, sizeof(buf) - (size_t)got);
			if (r == 0)
				die("the server closed the connection");
			if (r < 0) {
				/* natively SSL_read's -1 here is WANT_READ (a
				   ticket, half a record): poll again */
				if ((!tls && errno != EAGAIN) || ++idle > 1000)
					die("read failed (%s)", tls ? "SSL_read" : strerror(errno));
				continue;
			}
			got += r;
			len = reply_len(buf, got);
		}
		if (got != len)
			die("more than one reply (%ld bytes, %ld expected)", got, len);
		if (i >= 0) {
			rt[i] = now_ns() - t0;
			ready[i] = t1 - t0;
			sum += (double)rt[i];
		}
	}
	qsort(rt, (size_t)n, sizeof(*rt), cmp_i64);
	qsort(ready, (size_t)n, sizeof(*ready), cmp_i64);
	printf("rtt: n=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f ready_p50_us=%.1f ready_p99_us=%.1f\n",
	       n, pct_us(rt, n, 0.50), pct_us(rt, n, 0.99), sum / (double)n / 1000.0,
	       pct_us(ready, n, 0.50), pct_us(ready, n, 0.99));
	return 0;
}
