/*
 * err_queue.c - a program that uses libssl itself, in the thread that
 * talks plaintext Redis through the shim (tests/integration/12-never-plaintext.sh).
 *
 *   err_queue HOST PORT MARKER [quit|shutdown]
 *
 * The shim's engine and the program share libcrypto, so one error queue
 * per thread.  Before every read and write on its Redis connection the
 * program leaves an entry of its own in the queue (an X509 error, a failed
 * fopen's ERR_LIB_SYS entry, an SSL_R_UNEXPECTED_EOF_WHILE_READING its own
 * TLS connection met, a fatal alert's), as a program that does not clear
 * the queue does.  None of them may change what the shim reports: SET
 * MARKER, a GET of a 300 KiB value (many records), non-blocking reads
 * that must wait (EAGAIN), then QUIT: +OK, then the end of the stream (0,
 * and 0 again), never an error; or SHUTDOWN NOSAVE instead of QUIT: the
 * server exits without a close_notify (a FIN between records), and the
 * reads are the end of the stream just the same.  And the other way round: with the queue
 * left empty by the program, a request through the shim leaves it empty,
 * so that its own TLS connection (a client over memory BIOs, waiting for
 * its server's flight) still gets SSL_ERROR_WANT_READ from SSL_get_error.
 * Prints "err_queue: ok"; exit 1 with a message on a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BIG (300 * 1024)

static SSL *own; /* the program's own TLS connection */
static int kind;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("err_queue: FAIL ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void leave_entry(void)
{
	switch (kind++ % 4) {
	case 0:
		ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
		break;
	case 1:
		ERR_raise_data(ERR_LIB_SYS, ENOENT, "calling fopen(x, r)");
		break;
	case 2:
		ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING);
		break;
	default:
		ERR_raise(ERR_LIB_SSL, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE);
		break;
	}
}

/* Its own connection, waiting for a server that has not answered: the
   queue must be empty for SSL_get_error to say so. */
static void own_check(const char *after)
{
	int rc = SSL_do_handshake(own);
	int e = SSL_get_error(own, rc);

	if (rc != -1 || e != SSL_ERROR_WANT_READ)
		die("after %s: its own connection's SSL_get_error is %d, not "
		    "SSL_ERROR_WANT_READ (entry left: %lx)", after, e,
		    ERR_peek_error());
}

static void own_setup(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	own = ctx ? SSL_new(ctx) : NULL;
	if (own == NULL)
		die("SSL_new");
	SSL_set_bio(own, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_connect_state(own);
	own_check("set-up");
}

static void send_all(int fd, const void *p, size_t len)
{
	while (len > 0) {
		ssize_t n;

		leave_entry();
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", n < 0 ? strerror(errno) : "0");
		p = (const char *)p + n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes (blocking reads, an entry before each). */
static void recv_exact(int fd, char *p, size_t len)
{
	while (len > 0) {
		ssize_t n;

		leave_entry();
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("read: %s", n < 0 ? strerror(errno) : "end of stream");
		p += n;
		len -= (size_t)n;
	}
}

static void expect(int fd, const char *want)
{
	char got[256];
	size_t len = strlen(want);

	recv_exact(fd, got, len);
	if (memcmp(got, want, len) != 0)
		die("reply '%.*s', expected '%s'", (int)len, got, want);
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	static char big[BIG], cmd[BIG + 256], hdr[64];
	char c;
	int fd, n, flags;
	ssize_t r;

	int shutdown_mode = argc == 5 && strcmp(argv[4], "shutdown") == 0;

	if (argc != 4 && !(argc == 5 && (shutdown_mode ||
					 strcmp(argv[4], "quit") == 0))) {
		fprintf(stderr, "usage: err_queue HOST PORT MARKER "
			"[quit|shutdown]\n");
		return 2;
	}
	own_setup();
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		die("getaddrinfo");
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	leave_entry(); /* before the connect and its handshake too */
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect: %s", strerror(errno));
	freeaddrinfo(ai);

	n = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n"
		     "$5\r\nvalue\r\n", strlen(argv[3]), argv[3]);
	send_all(fd, cmd, (size_t)n);
	expect(fd, "+OK\r\n");

	/* the queue left empty: the shim leaves it so */
	ERR_clear_error();
	send_all(fd, "*1\r\n$4\r\nPING\r\n", 14);
	ERR_clear_error();
	own_check("a write through the shim");
	recv_exact(fd, hdr, 1);
	ERR_clear_error();
	own_check("a read through the shim");
	recv_exact(fd, hdr, 6);
	ERR_clear_error();

	/* a value of many records, read in pieces, an entry before each */
	memset(big, 'v', sizeof(big));
	n = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s:big\r\n"
		     "$%d\r\n", strlen(argv[3]) + 4, argv[3], BIG);
	memcpy(cmd + n, big, BIG);
	memcpy(cmd + n + BIG, "\r\n", 2);
	send_all(fd, cmd, (size_t)n + BIG + 2);
	expect(fd, "+OK\r\n");
	n = snprintf(cmd, sizeof(cmd), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s:big\r\n",
		     strlen(argv[3]) + 4, argv[3]);
	send_all(fd, cmd, (size_t)n);
	snprintf(hdr, sizeof(hdr), "$%d\r\n", BIG);
	expect(fd, hdr);
	memset(big, 0, sizeof(big));
	recv_exact(fd, big, BIG);
	for (size_t i = 0; i < BIG; i++)
		if (big[i] != 'v')
			die("GET: byte %zu is %d", i, big[i]);
	expect(fd, "\r\n");

	/* non-blocking: nothing to read is EAGAIN, whatever the queue holds */
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	for (int i = 0; i < 8; i++) {
		leave_entry();
		r = read(fd, &c, 1);
		if (r != -1 || errno != EAGAIN)
			die("non-blocking read of nothing: %zd (%s)", r,
			    r < 0 ? strerror(errno) : "data");
	}
	fcntl(fd, F_SETFL, flags);

	/* QUIT: +OK, then the end of the stream, and again; SHUTDOWN: no
	   reply, the end of the stream */
	if (shutdown_mode) {
		send_all(fd, "*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n",
			 30);
	} else {
		send_all(fd, "*1\r\n$4\r\nQUIT\r\n", 14);
		expect(fd, "+OK\r\n");
	}
	for (int i = 0; i < 3; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		leave_entry();
		poll(&p, 1, 5000);
		leave_entry();
		r = read(fd, &c, 1);
		if (r != 0)
			die("read %d after the last reply: %zd (%s), not the end", i, r,
			    r < 0 ? strerror(errno) : "data");
	}
	ERR_clear_error();
	r = read(fd, &c, 1);
	if (r != 0)
		die("read after the last reply, queue empty: %zd", r);
	own_check("the end of the stream");
	close(fd);
	own_check("close");
	printf("err_queue: ok\n");
	return 0;
}
