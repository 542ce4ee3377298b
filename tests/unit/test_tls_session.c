/*
 * test_tls_session.c - the engine's TLS session over a memory wire, as
 * the program sees it through struct shim_engine_ops (engine_api.h).
 *
 * The engine is stood up as the switchboard does it (shim_engine_init),
 * with a fake struct shim_host whose recv and send work on two byte
 * queues the test drives: the "kernel socket".  So tls_session.c and
 * tls_bio.c run unchanged, and the test decides exactly what the kernel
 * does: how many bytes a send takes before EAGAIN, when it fails with
 * EPIPE or ECONNRESET, where the server's bytes are cut, when FIN or RST
 * comes.  The server is an in-process OpenSSL server over memory BIOs.
 * The PKI (an Ed25519 CA and server certificate for localhost and
 * 127.0.0.1: fixed-length signatures, so every run splits the same
 * flights at the same offsets) is made in memory; only the CA certificate
 * is written, to a temporary folder, because the configuration names a
 * CA file.  No network, no clock, no sleep.
 *
 * Cases (s2n-tls style, STYLE.md "Tests"):
 *   - the server's handshake flight split at every byte offset, TLS 1.3
 *     and 1.2: the handshake completes and a reply is read intact; and
 *     FIN at every offset of the flight: the handshake fails, never
 *     succeeds;
 *   - every read length 1..N over a reply of several records: the bytes
 *     concatenate exactly, each read drains min(len, what is left), and
 *     whenever plaintext is left the session says so (buffered) or the
 *     kernel holds bytes: no read ever waits on data the kernel cannot see;
 *   - writes: the kernel takes k bytes, then EAGAIN; the write takes the
 *     record the kernel cut and no more; the program retries from other
 *     buffers (and other lengths) holding the same bytes, its old buffer
 *     scribbled over: the server gets the bytes exactly once; or after
 *     the EAGAIN the kernel says EPIPE / ECONNRESET: the program sees that
 *     errno, again on every retry, and the server got a prefix;
 *   - FIN at every byte offset of a two-record reply: at the record
 *     boundary the program reads the data, then 0 (how a kernel socket
 *     ends); inside a record, even right after its header, it reads the
 *     whole records, then ECONNRESET, and never 0 after that (a truncated
 *     reply is never an orderly end); close_notify: 0; RST: the data,
 *     then ECONNRESET, again on every read;
 *   - a fatal alert, or a record forged at any byte of its body, right
 *     after good data: the good data first, then ECONNRESET, and the
 *     session is readable meanwhile so that poll wakes the program;
 *   - the name the program dialled decides what the server gets as SNI
 *     and what is verified (test_sni_name.c holds the full table).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine_api.h"

#define ENGINE_TEST_REQUIRE(c) assert_true(c)
#include "../lib/engine_test.h"

const struct shim_engine_ops *shim_engine_init(const struct shim_host *host,
					       char *why, size_t whylen);

#define WIRE_FD 1000
#define MAX_STEPS 32

/* ------------------------------------------------------------ buffers */

/* ------------------------------------------------------ the fake kernel */

static struct wire {
	struct buf s2c;     /* server -> client, not yet received */
	struct buf c2s;     /* client -> server, not yet given to the server */
	int eof, rst;       /* after s2c: FIN, or a reset */
	size_t send_budget; /* bytes send() takes before it fails... */
	int send_errno;     /* ...with this errno (EAGAIN, EPIPE, ...) */
	unsigned long sends;
} W;

static void wire_reset(void)
{
	buf_free(&W.s2c);
	buf_free(&W.c2s);
	memset(&W, 0, sizeof(W));
	W.send_budget = SIZE_MAX;
	W.send_errno = EAGAIN;
}

static ssize_t fake_recv(int fd, void *buf, size_t len, int flags)
{
	size_t n = buf_avail(&W.s2c);

	assert_int_equal(fd, WIRE_FD);
	if (n > 0 && len > 0) {
		if (n > len)
			n = len;
		memcpy(buf, W.s2c.p + W.s2c.off, n);
		if (!(flags & MSG_PEEK))
			W.s2c.off += n;
		return (ssize_t)n;
	}
	if (W.rst) {
		W.rst = 0; /* a kernel reports a reset once, then EOF */
		W.eof = 1;
		errno = ECONNRESET;
		return -1;
	}
	if (W.eof)
		return 0;
	errno = EAGAIN;
	return -1;
}

static ssize_t fake_send(int fd, const void *buf, size_t len, int flags)
{
	size_t n = len;

	assert_int_equal(fd, WIRE_FD);
	assert_true(flags & MSG_NOSIGNAL);
	W.sends++;
	if (W.send_budget == 0) {
		errno = W.send_errno;
		return -1;
	}
	if (n > W.send_budget)
		n = W.send_budget;
	if (W.send_budget != SIZE_MAX)
		W.send_budget -= n;
	buf_add(&W.c2s, buf, n);
	return (ssize_t)n;
}

static int fake_close(int fd)
{
	fail_msg("the engine closed fd %d", fd);
	return 0;
}

static void fake_log(enum shim_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	engine_test_log("TEST_TLS_SESSION_LOG", (int)level, fmt, ap);
	va_end(ap);
}

static int fake_log_enabled(enum shim_log_level level)
{
	return level >= SHIM_LOG_WARNING ||
	       getenv("TEST_TLS_SESSION_LOG") != NULL;
}

static int fake_log_configure(const char *level, const char *target,
			      const char **why)
{
	return 0;
}

static const struct shim_host fake_host = {
	.abi = SHIM_ENGINE_ABI,
	.recv = fake_recv,
	.send = fake_send,
	.close = fake_close,
	.getaddrinfo = getaddrinfo, /* no host-name endpoint here: never called */
	.log = fake_log,
	.log_enabled = fake_log_enabled,
	.log_configure = fake_log_configure,
};

/* ------------------------------------------------------------ the PKI */

static const struct shim_engine_ops *ops;
static SSL_CTX *srv13, *srv12; /* TLS 1.3 (and below); TLS 1.2 at most */
static char pki_dir[256], ca_path[300];

/* CN=cn for `key`, signed by (issuer, ikey), self-signed without issuer;
   a CA without san. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
		       EVP_PKEY *ikey, long serial, const char *san)
{
	return engine_test_cert(key, NULL, cn, issuer, ikey, serial, 365,
				san == NULL, san, "serverAuth");
}

static SSL_CTX *server_ctx(X509 *cert, EVP_PKEY *key, int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (max_version)
		SSL_CTX_set_max_proto_version(ctx, max_version);
	/* every handshake a full one, and nothing after the Finished the
	   test did not ask for: no tickets, no resumption */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static void clear_tls_environment(void)
{
	extern char **environ;
	char name[256];

	for (int again = 1; again;) {
		again = 0;
		for (char **e = environ; *e != NULL; e++) {
			const char *eq = strchr(*e, '=');
			size_t n = eq ? (size_t)(eq - *e) : strlen(*e);

			if (strncmp(*e, "REDIS_TLS_", 10) != 0 ||
			    n >= sizeof(name))
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *cak = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *sk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *ca, *sc;
	char why[512] = "";
	FILE *f;

	assert_non_null(cak);
	assert_non_null(sk);
	ca = make_cert(cak, "test CA", NULL, NULL, 1, NULL);
	sc = make_cert(sk, "localhost", ca, cak, 2,
		       "DNS:localhost,IP:127.0.0.1");
	snprintf(pki_dir, sizeof(pki_dir), "%s/test_tls_session.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(pki_dir));
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", pki_dir);
	f = fopen(ca_path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, ca), 1);
	fclose(f);
	srv13 = server_ctx(sc, sk, 0);
	srv12 = server_ctx(sc, sk, TLS1_2_VERSION);
	X509_free(ca);
	X509_free(sc);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(sk);

	clear_tls_environment();
	setenv("REDIS_TLS_ENDPOINTS", "127.0.0.1:*", 1);
	setenv("REDIS_TLS_CA_FILE", ca_path, 1);
	ops = shim_engine_init(&fake_host, why, sizeof(why));
	if (ops == NULL)
		fail_msg("engine init: %s", why);
	wire_reset();
	return 0;
}

static int teardown(void **state)
{
	wire_reset();
	buf_free(&W.s2c);
	SSL_CTX_free(srv13);
	SSL_CTX_free(srv12);
	unlink(ca_path);
	rmdir(pki_dir);
	return 0;
}

/* ---------------------------------------------------------- the server */

struct server {
	SSL *ssl;
	BIO *rbio, *wbio; /* memory BIOs, owned by ssl */
	struct buf got;   /* plaintext the server decrypted */
	int dead;         /* the server met a fatal error */
};

static void server_new(struct server *s, SSL_CTX *ctx)
{
	memset(s, 0, sizeof(*s));
	s->ssl = SSL_new(ctx);
	assert_non_null(s->ssl);
	s->rbio = BIO_new(BIO_s_mem());
	s->wbio = BIO_new(BIO_s_mem());
	assert_non_null(s->rbio);
	assert_non_null(s->wbio);
	BIO_set_mem_eof_return(s->rbio, -1);
	SSL_set_bio(s->ssl, s->rbio, s->wbio);
	SSL_set_accept_state(s->ssl);
}

/* What the server has written and not yet put on the wire, into out. */
static void server_output(struct server *s, struct buf *out)
{
	unsigned char tmp[16384];
	int n;

	while ((n = BIO_read(s->wbio, tmp, sizeof(tmp))) > 0)
		buf_add(out, tmp, (size_t)n);
}

/* The server takes what the client sent and answers into out (the wire,
   unless the test holds the bytes back). */
static void server_step(struct server *s, struct buf *out)
{
	unsigned char tmp[16384];

	if (buf_avail(&W.c2s) > 0) {
		BIO_write(s->rbio, W.c2s.p + W.c2s.off, (int)buf_avail(&W.c2s));
		W.c2s.off = W.c2s.len;
	}
	ERR_clear_error();
	if (!s->dead && !SSL_is_init_finished(s->ssl) &&
	    SSL_do_handshake(s->ssl) <= 0) {
		int e = SSL_get_error(s->ssl, -1);

		s->dead = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
	}
	while (!s->dead && SSL_is_init_finished(s->ssl)) {
		size_t got = 0;

		if (!SSL_read_ex(s->ssl, tmp, sizeof(tmp), &got)) {
			int e = SSL_get_error(s->ssl, 0);

			s->dead = e != SSL_ERROR_WANT_READ &&
				  e != SSL_ERROR_WANT_WRITE &&
				  e != SSL_ERROR_ZERO_RETURN;
			break;
		}
		buf_add(&s->got, tmp, got);
	}
	ERR_clear_error();
	server_output(s, out);
}

/* One record of application data from the server, into out. */
static void server_record(struct server *s, const void *p, size_t len,
			  struct buf *out)
{
	size_t done = 0;

	assert_true(len <= 16384);
	assert_int_equal(SSL_write_ex(s->ssl, p, len, &done), 1);
	assert_int_equal(done, len);
	server_output(s, out);
}

static void server_free(struct server *s)
{
	SSL_free(s->ssl);
	buf_free(&s->got);
}

/* ---------------------------------------------------------- the client */

struct conn {
	struct server srv;
	struct shim_tls *tls;
};

/* A session for connect(127.0.0.1:6379) after the program resolved
   `name` (NULL: it dialled the address), and its server. */
static void conn_open(struct conn *c, SSL_CTX *ctx, const char *name)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct shim_session_info info;
	int err = 0;

	wire_reset();
	server_new(&c->srv, ctx);
	a.sin_port = htons(6379);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&info, 0, sizeof(info));
	c->tls = NULL;
	assert_int_equal(ops->open(WIRE_FD, (struct sockaddr *)&a, sizeof(a),
				   name, &c->tls, &info, &err),
			 SHIM_WRAP);
	assert_non_null(c->tls);
	ops->set_fd(c->tls, WIRE_FD);
}

static void conn_close(struct conn *c)
{
	ops->free(c->tls);
	server_free(&c->srv);
	wire_reset();
}

/* Drive both ends until the handshake is done; returns the client's last
   result (0, or SHIM_IO_ERROR with *err). */
static int conn_handshake(struct conn *c, int *err)
{
	int rc = SHIM_IO_WANT_READ;

	for (int i = 0; i < MAX_STEPS; i++) {
		rc = ops->handshake(c->tls, err);
		if (rc == 0 || rc == SHIM_IO_ERROR)
			break;
		assert_int_equal(rc, SHIM_IO_WANT_READ);
		server_step(&c->srv, &W.s2c);
	}
	server_step(&c->srv, &W.s2c); /* the server reads our Finished */
	return rc;
}

static void conn_ready(struct conn *c, SSL_CTX *ctx)
{
	int err = 0;

	conn_open(c, ctx, NULL);
	assert_int_equal(conn_handshake(c, &err), 0);
	assert_true(SSL_is_init_finished(c->srv.ssl));
	assert_int_equal(buf_avail(&W.s2c), 0);
}

/* Read until `len` bytes came (asserting each read returns data). */
static void read_exactly(struct conn *c, unsigned char *out, size_t len)
{
	size_t got = 0;

	while (got < len) {
		int err = 0;
		ssize_t n = ops->read(c->tls, out + got, len - got, 0, &err);

		if (n <= 0)
			fail_msg("read after %zu of %zu bytes: %zd (err %d)",
				 got, len, n, err);
		got += (size_t)n;
	}
}

/* A request and its reply through a finished handshake. */
static void round_trip(struct conn *c)
{
	static const char req[] = "*1\r\n$4\r\nPING\r\n";
	static const char reply[] = "+PONG\r\n";
	unsigned char got[sizeof(reply) - 1];
	int err = 0;

	assert_int_equal(ops->write(c->tls, req, sizeof(req) - 1, &err),
			 (ssize_t)(sizeof(req) - 1));
	server_step(&c->srv, &W.s2c);
	assert_int_equal(c->srv.got.len, sizeof(req) - 1);
	assert_memory_equal(c->srv.got.p, req, sizeof(req) - 1);
	server_record(&c->srv, reply, sizeof(reply) - 1, &W.s2c);
	read_exactly(c, got, sizeof(got));
	assert_memory_equal(got, reply, sizeof(got));
	assert_int_equal(ops->read(c->tls, got, sizeof(got), 0, &err),
			 SHIM_IO_WANT_READ);
}

/* ------------------------------------------------ the handshake flight */

/*
 * Up to the server's flight number `idx` (TLS 1.3: 0 only; TLS 1.2: 0,
 * ServerHello to ServerHelloDone, and 1, ChangeCipherSpec and Finished):
 * the client's flight before it is sent, and the server's answer held
 * back in *flight.
 */
static void server_flight(struct conn *c, SSL_CTX *ctx, int idx,
			  struct buf *flight)
{
	int err = 0;

	conn_open(c, ctx, NULL);
	for (int i = 0; i <= idx; i++) {
		if (i > 0) {
			buf_add(&W.s2c, flight->p, flight->len);
			flight->len = 0;
		}
		assert_int_equal(ops->handshake(c->tls, &err),
				 SHIM_IO_WANT_READ);
		assert_true(buf_avail(&W.c2s) > 0);
		server_step(&c->srv, flight);
		assert_true(flight->len > 0);
	}
}

/* Deliver flight[0..k), then the rest: done, and a round trip works. */
static void split_at(SSL_CTX *ctx, int idx, size_t k, size_t *flight_len)
{
	struct buf flight = { 0 };
	struct conn c;
	int err = 0;

	server_flight(&c, ctx, idx, &flight);
	*flight_len = flight.len;
	if (k < flight.len) {
		buf_add(&W.s2c, flight.p, k);
		assert_int_equal(ops->handshake(c.tls, &err), SHIM_IO_WANT_READ);
		assert_int_equal(buf_avail(&W.s2c), 0);
		buf_add(&W.s2c, flight.p + k, flight.len - k);
		if (conn_handshake(&c, &err) != 0)
			fail_msg("flight %d split at %zu of %zu: handshake "
				 "failed, err %d", idx, k, flight.len, err);
		round_trip(&c);
	}
	buf_free(&flight);
	conn_close(&c);
}

/* Every split of the flight in two; returns its length. */
static size_t split_every_offset(SSL_CTX *ctx, int idx)
{
	size_t len = 0, k, first = 0;

	for (k = 1;; k++) {
		split_at(ctx, idx, k, &len);
		if (first == 0)
			first = len;
		/* Ed25519 and X25519: the flight has one length */
		assert_int_equal(len, first);
		if (k + 1 >= len)
			break;
	}
	assert_int_equal(k, len - 1);
	return len;
}

static void test_flight_split_tls13(void **state)
{
	assert_true(split_every_offset(srv13, 0) > 500);
}

static void test_flight_split_tls12(void **state)
{
	assert_true(split_every_offset(srv12, 0) > 300);
	assert_true(split_every_offset(srv12, 1) > 40);
}

/* FIN after k bytes of a flight: the handshake fails, at every k. */
static void fin_in_flight(SSL_CTX *ctx, int idx)
{
	size_t len = 1;

	for (size_t k = 0; k < len; k++) {
		struct buf flight = { 0 };
		struct conn c;
		int err = 0, rc = 0;

		server_flight(&c, ctx, idx, &flight);
		len = flight.len;
		buf_add(&W.s2c, flight.p, k);
		W.eof = 1;
		for (int step = 0; step < MAX_STEPS; step++) {
			rc = ops->handshake(c.tls, &err);
			if (rc != SHIM_IO_WANT_READ)
				break;
		}
		if (rc != SHIM_IO_ERROR || err != ECONNRESET)
			fail_msg("flight %d, FIN at %zu of %zu: handshake %d, "
				 "err %d", idx, k, len, rc, err);
		buf_free(&flight);
		conn_close(&c);
	}
}

static void test_flight_fin_every_offset(void **state)
{
	fin_in_flight(srv13, 0);
	fin_in_flight(srv12, 0);
	fin_in_flight(srv12, 1);
}

/* ------------------------------------------------------------- reads */

/* Record sizes of the reply: a one-byte record, a full one, odd ones. */
static const size_t reply_records[] = { 1, 5, 300, 16384, 4000, 2, 1000 };

static size_t make_reply(struct buf *reply)
{
	for (size_t i = 0; i < sizeof(reply_records) / sizeof(reply_records[0]);
	     i++)
		for (size_t j = 0; j < reply_records[i]; j++) {
			unsigned char b = (unsigned char)(reply->len * 131 +
							  reply->len / 251);
			buf_add(reply, &b, 1);
		}
	return reply->len;
}

static void send_reply(struct conn *c, const struct buf *reply)
{
	size_t off = 0;

	for (size_t i = 0; i < sizeof(reply_records) / sizeof(reply_records[0]);
	     i++) {
		server_record(&c->srv, reply->p + off, reply_records[i],
			      &W.s2c);
		off += reply_records[i];
	}
}

static void test_every_read_length(void **state)
{
	struct buf reply = { 0 };
	size_t total = make_reply(&reply);
	unsigned char *got = malloc(total + 1), *buf = malloc(total + 1);
	struct conn c;
	unsigned long reads = 0;

	assert_non_null(got);
	assert_non_null(buf);
	conn_ready(&c, srv13);
	for (size_t len = 1; len <= total + 1; len++) {
		size_t have = 0;
		int err = 0;

		send_reply(&c, &reply);
		while (have < total) {
			ssize_t n = ops->read(c.tls, buf, len, 0, &err);
			size_t want = total - have < len ? total - have : len;

			reads++;
			if (n <= 0 || (size_t)n != want)
				fail_msg("len %zu, after %zu: read %zd, want %zu",
					 len, have, n, want);
			memcpy(got + have, buf, (size_t)n);
			have += (size_t)n;
			/* plaintext left: readable without the kernel, or
			   the kernel holds bytes (poll would wake) */
			if (have < total && !ops->buffered(c.tls) &&
			    buf_avail(&W.s2c) == 0)
				fail_msg("len %zu, after %zu: %zu bytes held "
					 "but the session is not readable",
					 len, have, total - have);
		}
		if (memcmp(got, reply.p, total) != 0)
			fail_msg("len %zu: the bytes differ", len);
		assert_int_equal(ops->buffered(c.tls), 0);
		assert_int_equal(ops->read(c.tls, buf, len, 0, &err),
				 SHIM_IO_WANT_READ);
	}
	assert_true(reads > total);
	conn_close(&c);
	buf_free(&reply);
	free(got);
	free(buf);
}

/* ------------------------------------------------------------ writes */

#define MSG_LEN 40000 /* three records */
#define REC_PLAIN 16384 /* a full record's plaintext... */
#define REC_WIRE (REC_PLAIN + 22) /* ...on the wire: TLS 1.3 AEAD */

static void fill_msg(unsigned char *m, size_t len, size_t seed)
{
	for (size_t i = 0; i < len; i++)
		m[i] = (unsigned char)((i + seed) * 7 + (i >> 8));
	m[0] = '*'; /* a Redis command, not a TLS record (double TLS) */
}

/* write(2) of a fresh copy of p[0..len): the program's buffer is its own,
   reused (here: scribbled over) as soon as the call returns. */
static ssize_t write_copy(struct conn *c, const unsigned char *p, size_t len,
			  int *err)
{
	unsigned char *copy = malloc(len ? len : 1);
	ssize_t n;

	assert_non_null(copy);
	memcpy(copy, p, len);
	n = ops->write(c->tls, copy, len, err);
	memset(copy, 0xAA, len);
	free(copy);
	return n;
}

/*
 * The kernel takes k bytes, then EAGAIN; then it takes everything and
 * the program retries from other buffers, with lengths of its choosing.
 */
static void write_eagain_retry(struct conn *c, size_t k, unsigned char *msg)
{
	size_t done = 0, want;
	int err = 0, turn = 0;
	ssize_t n;

	fill_msg(msg, MSG_LEN, k);
	W.send_budget = k;
	W.send_errno = EAGAIN;
	n = write_copy(c, msg, MSG_LEN, &err);
	if (n <= 0)
		fail_msg("k %zu: first write %zd, err %d", k, n, err);
	done = (size_t)n;
	/* the session takes the record the kernel cut and no more: the
	   write is short, as on a kernel socket that is full, and at most
	   one record is held in user space */
	want = (k / REC_WIRE + 1) * REC_PLAIN;
	if (done != (want < MSG_LEN ? want : MSG_LEN))
		fail_msg("k %zu: first write took %zu bytes, want %zu", k, done,
			 want < MSG_LEN ? want : MSG_LEN);
	assert_true(ops->unsent(c->tls) > 0);
	assert_true(ops->unsent(c->tls) <= REC_WIRE);
	/* the kernel is full: the program hears EAGAIN */
	assert_int_equal(write_copy(c, msg + done, MSG_LEN - done, &err),
			 SHIM_IO_WANT_WRITE);
	assert_int_equal(ops->flush(c->tls, &err), SHIM_IO_WANT_WRITE);
	W.send_budget = SIZE_MAX;
	while (done < MSG_LEN) {
		size_t len = MSG_LEN - done;

		if (turn++ % 2 == 0 && len > 10)
			len = 10; /* a retry need not repeat the length */
		n = write_copy(c, msg + done, len, &err);
		if (n <= 0)
			fail_msg("k %zu: retry at %zu: %zd, err %d", k, done, n,
				 err);
		done += (size_t)n;
	}
	assert_int_equal(ops->flush(c->tls, &err), 0);
	assert_int_equal(ops->unsent(c->tls), 0);
	server_step(&c->srv, &W.s2c);
	if (c->srv.got.len != MSG_LEN ||
	    memcmp(c->srv.got.p, msg, MSG_LEN) != 0)
		fail_msg("k %zu: the server got %zu bytes, not the %u written "
			 "once", k, c->srv.got.len, MSG_LEN);
	buf_free(&c->srv.got);
}

static void test_write_eagain_retry(void **state)
{
	unsigned char *msg = malloc(MSG_LEN);
	struct conn c;
	size_t n = 0;

	assert_non_null(msg);
	conn_ready(&c, srv13);
	/* every k through the first record's header and into its body and
	   around each record boundary, then a stride through the rest */
	for (size_t k = 0; k < 2 * REC_WIRE + 600; k++) {
		if (k >= 600 && (k + 300) % REC_WIRE >= 600 && k % 101 != 0)
			continue;
		write_eagain_retry(&c, k, msg);
		n++;
	}
	assert_true(n > 2000);
	round_trip(&c);
	conn_close(&c);
	free(msg);
}

/* k bytes, EAGAIN, then the connection is gone (hard = ECONNRESET, else
   EPIPE): the program hears that errno first, then EPIPE on every call
   after, as send(2) after a reset. */
static void write_then_dead(size_t k, int dead_errno, unsigned char *msg)
{
	struct conn c;
	size_t done;
	int err = 0;
	ssize_t n;

	conn_ready(&c, srv13);
	fill_msg(msg, MSG_LEN, k);
	W.send_budget = k;
	W.send_errno = EAGAIN;
	n = write_copy(&c, msg, MSG_LEN, &err);
	assert_true(n > 0);
	done = (size_t)n;
	assert_int_equal(write_copy(&c, msg + done, MSG_LEN - done, &err),
			 SHIM_IO_WANT_WRITE);
	W.send_errno = dead_errno;
	for (int i = 0; i < 3; i++) {
		int want = i == 0 ? dead_errno : EPIPE;

		err = 0;
		n = write_copy(&c, msg + done, MSG_LEN - done, &err);
		if (n != SHIM_IO_ERROR || err != want)
			fail_msg("k %zu, call %d: write %zd, err %d, want "
				 "error %d", k, i, n, err, want);
		err = 0;
		assert_int_equal(ops->flush(c.tls, &err), SHIM_IO_ERROR);
		assert_int_equal(err, EPIPE);
	}
	/* what reached the server is a prefix of what was written, once */
	server_step(&c.srv, &W.s2c);
	assert_true(c.srv.got.len <= done);
	assert_true(c.srv.got.len == 0 ||
		    memcmp(c.srv.got.p, msg, c.srv.got.len) == 0);
	conn_close(&c);
}

static void test_write_eagain_then_dead(void **state)
{
	static const size_t ks[] = { 0, 1, 4, 5, 6, 100, REC_WIRE - 1,
				     REC_WIRE, REC_WIRE + 1, 20000,
				     2 * REC_WIRE - 1, 2 * REC_WIRE,
				     2 * REC_WIRE + 1 };
	unsigned char *msg = malloc(MSG_LEN);

	assert_non_null(msg);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		write_then_dead(ks[i], EPIPE, msg);
		write_then_dead(ks[i], ECONNRESET, msg);
	}
	free(msg);
}

/* Nothing owned: the first record's send fails with the kernel's errno;
   every write after says EPIPE, whatever length the program retries
   with. */
static void test_write_dead_at_once(void **state)
{
	static const int errnos[] = { EPIPE, ECONNRESET };
	static const size_t lens[] = { 100, 100, 50, 200, 1 };
	unsigned char msg[200];

	fill_msg(msg, sizeof(msg), 0);
	for (size_t i = 0; i < 2; i++) {
		struct conn c;

		conn_ready(&c, srv13);
		W.send_budget = 0;
		W.send_errno = errnos[i];
		for (size_t call = 0; call < 5; call++) {
			int err = 0;
			ssize_t n = write_copy(&c, msg, lens[call], &err);

			int want = call == 0 ? errnos[i] : EPIPE;

			if (n != SHIM_IO_ERROR || err != want)
				fail_msg("call %zu: write %zd, err %d, want "
					 "error %d", call, n, err, want);
		}
		conn_close(&c);
	}
}

/* ------------------------------------------------------- end of stream */

/* The server's two records "good" and a 40-byte one, held in *out;
   returns the length of the first record on the wire. */
static size_t two_records(struct conn *c, struct buf *out)
{
	unsigned char second[40];
	size_t first;

	memset(second, 'x', sizeof(second));
	server_record(&c->srv, "good", 4, out);
	first = out->len;
	server_record(&c->srv, second, sizeof(second), out);
	return first;
}

/* FIN at every byte offset of the two records. */
/* An entry the program's own use of libcrypto may leave in this thread's
   error queue before a read (stale_error_every_failure): none by default. */
static int stale_kind;

static void stale_push(void)
{
	switch (stale_kind) {
	case 1: /* X509, as the program's certificate store would */
		ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
		break;
	case 2: /* a failed fopen of the program's (BIO_new_file) */
		ERR_raise_data(ERR_LIB_SYS, ENOENT, "calling fopen(x, r)");
		break;
	case 3: /* the program's own TLS connection met EOF */
		ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING);
		break;
	case 4: /* its own connection got a fatal alert */
		ERR_raise(ERR_LIB_SSL, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE);
		break;
	default:
		break;
	}
}

static ssize_t rd(struct shim_tls *t, void *buf, size_t len, int peek,
		  int *err)
{
	stale_push();
	return ops->read(t, buf, len, peek, err);
}

static void fin_every_offset(SSL_CTX *ctx)
{
	size_t total = 1, boundary = 0, cuts = 0;

	for (size_t cut = 1; cut <= total; cut++) {
		struct buf recs = { 0 };
		unsigned char buf[100];
		struct conn c;
		int err = 0;
		ssize_t n;

		conn_ready(&c, ctx);
		boundary = two_records(&c, &recs);
		total = recs.len;
		buf_add(&W.s2c, recs.p, cut);
		W.eof = 1;
		n = rd(c.tls, buf, sizeof(buf), 0, &err);
		if (cut == boundary || cut == total) {
			/* FIN between records: the data, then 0 */
			assert_int_equal(n, cut == total ? 44 : 4);
			assert_memory_equal(buf, "good", 4);
			for (int i = 0; i < 2; i++)
				assert_int_equal(rd(c.tls, buf,
							   sizeof(buf), 0,
							   &err), 0);
		} else {
			/* inside a record: whole records, then an error */
			if (cut > boundary) {
				assert_int_equal(n, 4);
				assert_memory_equal(buf, "good", 4);
				assert_int_equal(ops->buffered(c.tls), 1);
				n = rd(c.tls, buf, sizeof(buf), 0, &err);
			}
			if (n != SHIM_IO_ERROR || err != ECONNRESET)
				fail_msg("FIN at %zu of %zu: read %zd, err %d",
					 cut, total, n, err);
			/* and never an orderly end afterwards */
			assert_int_equal(rd(c.tls, buf, sizeof(buf), 0,
						   &err), SHIM_IO_ERROR);
			cuts++;
		}
		buf_free(&recs);
		conn_close(&c);
	}
	assert_int_equal(cuts, total - 2);
}

static void test_fin_every_offset(void **state)
{
	fin_every_offset(srv13);
	fin_every_offset(srv12);
}

static void test_close_notify(void **state)
{
	unsigned char buf[100];
	struct conn c;
	int err = 0;

	conn_ready(&c, srv13);
	server_record(&c.srv, "abc", 3, &W.s2c);
	assert_true(SSL_shutdown(c.srv.ssl) >= 0);
	server_output(&c.srv, &W.s2c);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 3);
	assert_memory_equal(buf, "abc", 3);
	/* a read returns at once: poll must say readable */
	assert_int_equal(ops->buffered(c.tls), 1);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 0);
	W.eof = 1; /* the FIN after it changes nothing */
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 0);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 0);
	conn_close(&c);
}

/* close_notify inside the same read as the data, or alone later */
static void test_close_notify_alone(void **state)
{
	unsigned char buf[100];
	struct conn c;
	int err = 0;

	conn_ready(&c, srv13);
	server_record(&c.srv, "abc", 3, &W.s2c);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 3);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err),
			 SHIM_IO_WANT_READ);
	assert_int_equal(ops->buffered(c.tls), 0);
	assert_true(SSL_shutdown(c.srv.ssl) >= 0);
	server_output(&c.srv, &W.s2c);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 0);
	conn_close(&c);
}

static void test_rst_after_data(void **state)
{
	unsigned char buf[100];
	struct conn c;
	int err = 0;

	conn_ready(&c, srv13);
	server_record(&c.srv, "abc", 3, &W.s2c);
	W.rst = 1;
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err),
			 SHIM_IO_ERROR);
	assert_int_equal(err, ECONNRESET);
	/* the kernel now says EOF; the session still says it was reset */
	err = 0;
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err),
			 SHIM_IO_ERROR);
	assert_int_equal(err, ECONNRESET);
	conn_close(&c);
}

/* ------------------------------------------------ fatal after good data */

/* Good data, then the server's fatal alert (it met a forged record of
   ours), on the wire together or one after the other. */
static void alert_after_data(int together)
{
	unsigned char buf[100];
	struct buf alert = { 0 };
	struct conn c;
	int err = 0;

	conn_ready(&c, srv13);
	server_record(&c.srv, "good", 4, &W.s2c);
	assert_int_equal(ops->write(c.tls, "*1\r\n", 4, &err), 4);
	W.c2s.p[W.c2s.len - 1] ^= 0x01; /* the tag of our record */
	server_step(&c.srv, &alert);
	assert_true(c.srv.dead);
	assert_true(alert.len > 0);
	if (together)
		buf_add(&W.s2c, alert.p, alert.len);
	assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err), 4);
	assert_memory_equal(buf, "good", 4);
	if (together)
		assert_int_equal(ops->buffered(c.tls), 1);
	else
		buf_add(&W.s2c, alert.p, alert.len);
	for (int i = 0; i < 2; i++) {
		err = 0;
		assert_int_equal(rd(c.tls, buf, sizeof(buf), 0, &err),
				 SHIM_IO_ERROR);
		assert_int_equal(err, ECONNRESET);
	}
	buf_free(&alert);
	conn_close(&c);
}

static void test_alert_after_data(void **state)
{
	alert_after_data(1);
	alert_after_data(0);
}

/* The second record forged at each byte of its body (header intact):
   "good" comes out, then an error; the forged bytes never do. */
static void forged_record_after_data(SSL_CTX *ctx)
{
	size_t total = 6;

	for (size_t at = 5; at < total; at++) {
		struct buf recs = { 0 };
		unsigned char buf[100];
		struct conn c;
		size_t boundary;
		int err = 0;
		ssize_t n;

		conn_ready(&c, ctx);
		boundary = two_records(&c, &recs);
		total = recs.len - boundary;
		recs.p[boundary + at] ^= 0x20;
		buf_add(&W.s2c, recs.p, recs.len);
		n = rd(c.tls, buf, sizeof(buf), 0, &err);
		if (n != 4 || memcmp(buf, "good", 4) != 0)
			fail_msg("forged at %zu: read %zd, err %d", at, n, err);
		assert_int_equal(ops->buffered(c.tls), 1);
		err = 0;
		for (int i = 0; i < 2; i++) {
			err = 0;
			assert_int_equal(rd(c.tls, buf, sizeof(buf), 0,
						   &err), SHIM_IO_ERROR);
			assert_int_equal(err, ECONNRESET);
		}
		buf_free(&recs);
		conn_close(&c);
	}
}

static void test_forged_record_after_data(void **state)
{
	forged_record_after_data(srv13);
	forged_record_after_data(srv12);
}

/* Bytes that are no record of this session after good data: a plaintext
   alert, a made-up application record, garbage. */
static void test_injected_after_data(void **state)
{
	static const unsigned char plain_alert[] = { 0x15, 0x03, 0x03, 0x00,
						     0x02, 0x02, 0x28 };
	static const unsigned char fake_app[] = {
		0x17, 0x03, 0x03, 0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
		11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	static const unsigned char garbage[] = "+OK\r\n+OK\r\n";
	static const struct {
		const unsigned char *p;
		size_t len;
	} inj[] = { { plain_alert, sizeof(plain_alert) },
		    { fake_app, sizeof(fake_app) },
		    { garbage, sizeof(garbage) - 1 } };

	for (size_t i = 0; i < sizeof(inj) / sizeof(inj[0]); i++) {
		unsigned char buf[100];
		struct conn c;
		int err = 0;

		conn_ready(&c, srv13);
		server_record(&c.srv, "good", 4, &W.s2c);
		buf_add(&W.s2c, inj[i].p, inj[i].len);
		assert_int_equal(ops->read(c.tls, buf, sizeof(buf), 0, &err), 4);
		assert_memory_equal(buf, "good", 4);
		for (int again = 0; again < 2; again++) {
			err = 0;
			if (ops->read(c.tls, buf, sizeof(buf), 0, &err) !=
				    SHIM_IO_ERROR ||
			    err != ECONNRESET)
				fail_msg("injection %zu, read %d: no ECONNRESET "
					 "(err %d)", i, again, err);
		}
		conn_close(&c);
	}
}

/* ----------------------------------------- names: what the server sees */

static void name_case(const char *name, const char *want_sni, int want_err)
{
	struct conn c;
	int err = 0, rc;

	conn_open(&c, srv13, name);
	rc = conn_handshake(&c, &err);
	if (want_err != 0) {
		assert_int_equal(rc, SHIM_IO_ERROR);
		assert_int_equal(err, want_err);
	} else {
		const char *sni = SSL_get_servername(c.srv.ssl,
						     TLSEXT_NAMETYPE_host_name);

		if (rc != 0)
			fail_msg("dialled '%s': handshake %d, err %d",
				 name ? name : "(the IP)", rc, err);
		if (want_sni == NULL)
			assert_null(sni);
		else {
			assert_non_null(sni);
			assert_string_equal(sni, want_sni);
		}
		round_trip(&c);
	}
	conn_close(&c);
}

/* An entry the program's own use of libcrypto left in this thread's
   error queue (whatever the engine does with the queue around its calls): a read
   that must wait still says so, a peek, a write and a read of a record
   still succeed; none of them is taken for a failed session. */
static void stale_error(void)
{
	ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
}

static void test_stale_error_queue(void **state)
{
	struct conn c;
	unsigned char got[16];
	int err = 0;

	(void)state;
	conn_ready(&c, srv13);
	stale_error();
	assert_int_equal(ops->read(c.tls, got, sizeof(got), 0, &err),
			 SHIM_IO_WANT_READ);
	stale_error();
	assert_int_equal(ops->read(c.tls, got, 1, 1, &err), SHIM_IO_WANT_READ);
	stale_error();
	round_trip(&c); /* its last read waits, with the entry still there */
	stale_error();
	assert_int_equal(ops->write(c.tls, "*1\r\n$4\r\nPING\r\n", 14, &err),
			 14);
	ERR_clear_error();
	conn_close(&c);
}

/* The same entry before the end of the stream: close_notify, or the FIN
   between records, is still an orderly end (0), not a failed session. */
static void test_stale_error_at_end(void **state)
{
	unsigned char buf[16];
	struct conn c;
	int err = 0;

	(void)state;
	conn_ready(&c, srv13);
	assert_true(SSL_shutdown(c.srv.ssl) >= 0);
	server_output(&c.srv, &W.s2c);
	stale_error();
	assert_int_equal(ops->read(c.tls, buf, sizeof(buf), 0, &err), 0);
	ERR_clear_error();
	conn_close(&c);

	conn_ready(&c, srv13);
	server_record(&c.srv, "abc", 3, &W.s2c);
	W.eof = 1;
	assert_int_equal(ops->read(c.tls, buf, sizeof(buf), 0, &err), 3);
	stale_error();
	assert_int_equal(ops->read(c.tls, buf, sizeof(buf), 0, &err), 0);
	ERR_clear_error();
	conn_close(&c);
}

/* Every end and failure of a stream again, with each kind of entry the
   program may have left in the queue before every read: a FIN inside a
   record still fails (never an orderly end: a truncation), a reset still
   fails, a fatal alert or a forged record still fails, and a FIN between
   records is still 0. */
static void test_stale_error_every_failure(void **state)
{
	(void)state;
	for (stale_kind = 1; stale_kind <= 4; stale_kind++) {
		print_message("stale kind %d\n", stale_kind);
		fin_every_offset(srv13);
		fin_every_offset(srv12);
		test_rst_after_data(state);
		alert_after_data(1);
		alert_after_data(0);
		forged_record_after_data(srv13);
		ERR_clear_error();
	}
	stale_kind = 0;
}

static void test_names_on_the_wire(void **state)
{
	name_case(NULL, NULL, 0);               /* IP SAN 127.0.0.1, no SNI */
	name_case("localhost", "localhost", 0); /* DNS SAN, SNI */
	name_case("localhost.", "localhost", 0);
	name_case("LocalHost", "LocalHost", 0); /* names compare caselessly */
	name_case("other.example.com", NULL, EACCES); /* not in the cert */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flight_split_tls13),
		cmocka_unit_test(test_flight_split_tls12),
		cmocka_unit_test(test_flight_fin_every_offset),
		cmocka_unit_test(test_every_read_length),
		cmocka_unit_test(test_write_eagain_retry),
		cmocka_unit_test(test_write_eagain_then_dead),
		cmocka_unit_test(test_write_dead_at_once),
		cmocka_unit_test(test_fin_every_offset),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_close_notify_alone),
		cmocka_unit_test(test_rst_after_data),
		cmocka_unit_test(test_alert_after_data),
		cmocka_unit_test(test_forged_record_after_data),
		cmocka_unit_test(test_injected_after_data),
		cmocka_unit_test(test_stale_error_queue),
		cmocka_unit_test(test_stale_error_at_end),
		cmocka_unit_test(test_stale_error_every_failure),
		cmocka_unit_test(test_names_on_the_wire),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
