/*
 * fuzz_session.c - libFuzzer target: a TLS session of the engine fed by a
 * hostile peer.
 *
 * The engine's objects (engine.c, config.c, tls_ctx.c, tls_cert.c,
 * tls_session.c, tls_bio.c and the rest of ENGINE_SRCS, with common/'s
 * match.c, addr.c...) are linked in and
 * driven through shim_engine_init() and struct shim_engine_ops, exactly as
 * the switchboard drives them, with a fake struct shim_host whose recv and
 * send work on memory: the "kernel socket" is a pair of byte queues.  The
 * configuration comes from REDIS_TLS_* variables naming a small PKI (EC
 * P-256 CA, server certificate for localhost and 127.0.0.1, client
 * certificate) in $FUZZ_SESSION_PKI, made there by the target when missing.
 *
 * Input byte 0 chooses the mode and the setting:
 *   bit 0     0: "first flight" - the rest of the input (after a chunk-size
 *             byte) is what the server sends in reply to the ClientHello;
 *             1: "script" - a real handshake with an in-process OpenSSL
 *             server, then the rest of the input is a script of operations
 *             (see OP_*): the server sends data, close_notify, key updates,
 *             tickets, renegotiation requests; bytes are injected, flipped,
 *             cut; the kernel splits reads, refuses or half-takes writes,
 *             reports EOF or a reset; the client reads (and peeks) any
 *             length, writes, flushes, asks what is pending, shuts down.
 *   bit 1     the server speaks TLS 1.2 at most
 *   bit 2     the server asks for a client certificate
 *   bit 3     the program dialled "localhost" (name check) instead of the IP
 *   bit 4     port 6380 instead of 6379 (another resumption cache entry)
 *   bit 5     the server issues no session tickets
 *   bit 6     first flight: EOF after the bytes
 *
 * Checked beyond "no crash, no leak, no undefined behaviour":
 *   - every call keeps engine_api.h's contract: handshake 0 or SHIM_IO_*,
 *     read/write a count no larger than asked or SHIM_IO_*, an errno in
 *     range on SHIM_IO_ERROR, the given fd and nothing else used;
 *   - a handshake on a forged first flight never succeeds (fail closed);
 *   - every byte the program reads is the next byte the server really sent
 *     (no injected, flipped, replayed or lost byte is ever delivered), and
 *     a peek shows the next bytes without consuming them;
 *   - what the server decrypts is a prefix of what the program's writes
 *     were told was written;
 *   - log lines are formatted without "(null)".
 *
 * FUZZ_SESSION_SEEDS=DIR: write seed inputs (real first flights of both
 * protocol versions, and scripts) into DIR and exit.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine_api.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_session: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

#define ENGINE_TEST_REQUIRE(c) CHECK(c)
#include "../lib/engine_test.h"

#define FUZZ_FD 1000
#define WIRE_MAX (4u << 20)
#define MAX_STEPS 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const struct shim_engine_ops *shim_engine_init(const struct shim_host *host,
					       char *why, size_t whylen);

/* ------------------------------------------------------------ buffers */

/* ------------------------------------------------------ the fake kernel */

enum send_mode { SEND_ALL, SEND_PARTIAL, SEND_EAGAIN, SEND_EPIPE };

static struct wire {
	struct buf s2c;      /* server -> client, not yet received */
	struct buf c2s;      /* client -> server, not yet given to the server */
	int eof, rst;
	size_t chunk;        /* recv returns at most this much (0: any) */
	enum send_mode send_mode;
	size_t send_cap;
} W;

static ssize_t fake_recv(int fd, void *buf, size_t len, int flags)
{
	size_t n;

	CHECK(fd == FUZZ_FD);
	n = buf_avail(&W.s2c);
	if (n > 0 && len > 0) {
		if (n > len)
			n = len;
		if (W.chunk && n > W.chunk)
			n = W.chunk;
		memcpy(buf, W.s2c.p + W.s2c.off, n);
		if (!(flags & MSG_PEEK))
			W.s2c.off += n;
		return (ssize_t)n;
	}
	if (W.rst) {
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

	CHECK(fd == FUZZ_FD);
	CHECK(flags & MSG_NOSIGNAL);
	switch (W.send_mode) {
	case SEND_EAGAIN:
		errno = EAGAIN;
		return -1;
	case SEND_EPIPE:
		errno = EPIPE;
		return -1;
	case SEND_PARTIAL:
		if (W.send_cap == 0) {
			errno = EAGAIN;
			return -1;
		}
		if (n > W.send_cap)
			n = W.send_cap;
		break;
	case SEND_ALL:
	default:
		break;
	}
	if (W.c2s.len < WIRE_MAX)
		buf_add(&W.c2s, buf, n);
	return (ssize_t)n;
}

static int fake_close(int fd)
{
	CHECK(fd == FUZZ_FD);
	return 0;
}

static void fake_log(enum shim_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	engine_test_log("FUZZ_SESSION_LOG", (int)level, fmt, ap);
	va_end(ap);
}

static int fake_log_enabled(enum shim_log_level level)
{
	return 1; /* every log line is formatted */
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
	.getaddrinfo = getaddrinfo,
	.log = fake_log,
	.log_enabled = fake_log_enabled,
	.log_configure = fake_log_configure,
};

/* ------------------------------------------------------------ the PKI */

static char pki_dir[256];
static SSL_CTX *srv_ctx;
static const struct shim_engine_ops *ops;

static EVP_PKEY *make_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	CHECK(k != NULL);
	return k;
}

/* A certificate for `key` named O=redis-tls-shim fuzz, CN=cn, signed by
   (issuer, ikey); self-signed when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
		       EVP_PKEY *ikey, long serial, int is_ca, const char *san,
		       const char *eku)
{
	return engine_test_cert(key, "redis-tls-shim fuzz", cn, issuer, ikey,
				serial, 3650, is_ca, san, eku);
}

static void write_pem(const char *name, X509 *cert, EVP_PKEY *key)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki_dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (cert != NULL)
		CHECK(PEM_write_X509(f, cert) == 1);
	if (key != NULL)
		CHECK(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(f);
}

static X509 *read_cert(const char *name)
{
	char path[400];
	X509 *c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki_dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return c;
}

static EVP_PKEY *read_key(const char *name)
{
	char path[400];
	EVP_PKEY *k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki_dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static void remove_pki_dir(void)
{
	static const char *const names[] = { "ca.crt", "server.crt",
		"server.key", "client.crt", "client.key" };
	char path[400];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pki_dir, names[i]);
		unlink(path);
	}
	rmdir(pki_dir);
}

/*
 * The PKI lives in $FUZZ_SESSION_PKI (tests/fuzz/pki in the tree, so that
 * the certificates inside the seed flights verify in every run), made
 * there if missing; without the variable, in a new temporary folder.
 */
static void make_pki(void)
{
	const char *dir = getenv("FUZZ_SESSION_PKI"), *tmp = getenv("TMPDIR");
	EVP_PKEY *cak, *sk, *ck;
	X509 *ca, *sc, *cc;
	X509_STORE *store;
	char path[400];

	if (dir != NULL && *dir) {
		snprintf(pki_dir, sizeof(pki_dir), "%s", dir);
		mkdir(pki_dir, 0755);
	} else {
		snprintf(pki_dir, sizeof(pki_dir),
			 "%s/redis-tls-fuzz-session.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		CHECK(mkdtemp(pki_dir) != NULL);
		atexit(remove_pki_dir);
	}
	ca = read_cert("ca.crt");
	sc = read_cert("server.crt");
	cc = read_cert("client.crt");
	cak = NULL;
	sk = read_key("server.key");
	ck = read_key("client.key");
	if (!ca || !sc || !cc || !sk || !ck) {
		X509_free(ca);
		X509_free(sc);
		X509_free(cc);
		EVP_PKEY_free(sk);
		EVP_PKEY_free(ck);
		cak = make_key();
		sk = make_key();
		ck = make_key();
		ca = make_cert(cak, "fuzz CA", NULL, NULL, 1, 1, NULL, NULL);
		sc = make_cert(sk, "localhost", ca, cak, 2, 0,
			       "DNS:localhost,IP:127.0.0.1", "serverAuth");
		cc = make_cert(ck, "fuzz client", ca, cak, 3, 0, NULL,
			       "clientAuth");
		write_pem("ca.crt", ca, NULL);
		write_pem("server.crt", sc, NULL);
		write_pem("server.key", NULL, sk);
		write_pem("client.crt", cc, NULL);
		write_pem("client.key", NULL, ck);
	}

	srv_ctx = SSL_CTX_new(TLS_server_method());
	CHECK(srv_ctx != NULL);
	CHECK(SSL_CTX_use_certificate(srv_ctx, sc) == 1);
	CHECK(SSL_CTX_use_PrivateKey(srv_ctx, sk) == 1);
	store = SSL_CTX_get_cert_store(srv_ctx);
	CHECK(X509_STORE_add_cert(store, ca) == 1);
	SSL_CTX_set_min_proto_version(srv_ctx, TLS1_2_VERSION);
	/* renegotiation is what the client must refuse: let the server ask */
	SSL_CTX_clear_options(srv_ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(srv_ctx, SSL_SESS_CACHE_OFF);
	/* resumption with client certificates needs a session id context */
	SSL_CTX_set_session_id_context(srv_ctx, (const unsigned char *)"fuzz", 4);
	snprintf(path, sizeof(path), "%s/ca.crt", pki_dir);
	setenv("REDIS_TLS_CA_FILE", path, 1);
	snprintf(path, sizeof(path), "%s/client.crt", pki_dir);
	setenv("REDIS_TLS_CERT_FILE", path, 1);
	snprintf(path, sizeof(path), "%s/client.key", pki_dir);
	setenv("REDIS_TLS_KEY_FILE", path, 1);
	X509_free(ca);
	X509_free(sc);
	X509_free(cc);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(ck);
}

/* ---------------------------------------------------------- the server */

struct server {
	SSL *ssl;
	BIO *rbio, *wbio;        /* memory BIOs, owned by ssl */
	struct buf sent;         /* plaintext the server wrote */
	struct buf got;          /* plaintext the server read */
	int tls12, dead;
};

static void server_new(struct server *s, int flags)
{
	memset(s, 0, sizeof(*s));
	s->ssl = SSL_new(srv_ctx);
	CHECK(s->ssl != NULL);
	s->rbio = BIO_new(BIO_s_mem());
	s->wbio = BIO_new(BIO_s_mem());
	CHECK(s->rbio && s->wbio);
	BIO_set_mem_eof_return(s->rbio, -1);
	SSL_set_bio(s->ssl, s->rbio, s->wbio);
	SSL_set_accept_state(s->ssl);
	s->tls12 = (flags & 2) != 0;
	if (s->tls12)
		SSL_set_max_proto_version(s->ssl, TLS1_2_VERSION);
	if (flags & 4)
		SSL_set_verify(s->ssl, SSL_VERIFY_PEER |
				       SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (flags & 32)
		SSL_set_options(s->ssl, SSL_OP_NO_TICKET);
	else
		SSL_set_num_tickets(s->ssl, 2);
}

/* Move bytes both ways; the server reads what it can. */
static void server_pump(struct server *s)
{
	unsigned char tmp[16384];
	int n;

	if (buf_avail(&W.c2s) > 0) {
		BIO_write(s->rbio, W.c2s.p + W.c2s.off, (int)buf_avail(&W.c2s));
		W.c2s.off = W.c2s.len;
	}
	if (!s->dead) {
		ERR_clear_error();
		if (!SSL_is_init_finished(s->ssl)) {
			if (SSL_do_handshake(s->ssl) <= 0) {
				int e = SSL_get_error(s->ssl, -1);
				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE)
					s->dead = 1;
			}
		}
		while (!s->dead && SSL_is_init_finished(s->ssl)) {
			size_t got = 0;
			if (!SSL_read_ex(s->ssl, tmp, sizeof(tmp), &got)) {
				int e = SSL_get_error(s->ssl, 0);
				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE)
					s->dead = 1;
				break;
			}
			buf_add(&s->got, tmp, got);
		}
		ERR_clear_error();
	}
	while ((n = BIO_read(s->wbio, tmp, sizeof(tmp))) > 0)
		if (W.s2c.len < WIRE_MAX)
			buf_add(&W.s2c, tmp, (size_t)n);
}

static void server_free(struct server *s)
{
	SSL_free(s->ssl);
	buf_free(&s->sent);
	buf_free(&s->got);
}

/* ---------------------------------------------------------- the client */

struct client {
	struct shim_tls *tls;
	size_t read_off;     /* bytes of server->sent the program has read */
	size_t written;      /* bytes write() said it took */
	struct buf wdata;    /* those bytes */
	int done, failed;
};

static int check_err(int rc, int err)
{
	CHECK(rc == 0 || rc == SHIM_IO_ERROR || rc == SHIM_IO_WANT_READ ||
	      rc == SHIM_IO_WANT_WRITE);
	if (rc == SHIM_IO_ERROR)
		CHECK(err > 0 && err < 134);
	return rc;
}

static int client_open(struct client *c, int flags)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct shim_session_info info;
	enum shim_decision d;
	int err = 0;

	memset(c, 0, sizeof(*c));
	a.sin_port = htons((flags & 16) ? 6380 : 6379);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&info, 0, sizeof(info));
	d = ops->open(FUZZ_FD, (struct sockaddr *)&a, sizeof(a),
		      (flags & 8) ? "localhost" : NULL, &c->tls, &info, &err);
	CHECK(d == SHIM_WRAP);
	CHECK(c->tls != NULL);
	CHECK(info.handshake_timeout_ms > 0);
	ops->set_fd(c->tls, FUZZ_FD);
	return 0;
}

/* Drive the client's handshake (and the server, if any). */
static void client_handshake(struct client *c, struct server *s)
{
	for (int i = 0; i < MAX_STEPS && !c->done && !c->failed; i++) {
		int err = 0;
		int rc = check_err(ops->handshake(c->tls, &err), err);
		size_t before = W.s2c.len;

		if (rc == 0) {
			c->done = 1;
			break;
		}
		if (rc == SHIM_IO_ERROR) {
			c->failed = 1;
			break;
		}
		if (s == NULL)
			continue;
		server_pump(s);
		if (W.s2c.len == before && buf_avail(&W.s2c) == 0 &&
		    buf_avail(&W.c2s) == 0 && i > 4)
			break; /* nobody moves */
	}
}

static void client_read(struct client *c, struct server *s, size_t len,
			int peek)
{
	unsigned char *buf = malloc(len ? len : 1);
	int err = 0;
	ssize_t n;

	CHECK(buf != NULL);
	n = ops->read(c->tls, buf, len, peek, &err);
	if (getenv("FUZZ_SESSION_LOG") != NULL)
		fprintf(stderr, "read(%zu%s) = %zd, err %d\n", len,
			peek ? ", peek" : "", n, err);
	if (n < 0) {
		check_err((int)n, err);
		if (n == SHIM_IO_ERROR)
			c->failed = 1;
	} else {
		CHECK((size_t)n <= len);
		/* authenticity: the next bytes the server really sent */
		CHECK(c->read_off + (size_t)n <= s->sent.len);
		CHECK(n == 0 || memcmp(buf, s->sent.p + c->read_off, (size_t)n) == 0);
		if (!peek)
			c->read_off += (size_t)n;
	}
	free(buf);
}

static void client_write(struct client *c, size_t len, unsigned char seed)
{
	unsigned char *buf = malloc(len ? len : 1);
	int err = 0;
	ssize_t n;

	CHECK(buf != NULL);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed + i * 7);
	n = ops->write(c->tls, buf, len, &err);
	if (getenv("FUZZ_SESSION_LOG") != NULL)
		fprintf(stderr, "write(%zu) = %zd, err %d\n", len, n, err);
	if (n < 0) {
		check_err((int)n, err);
		if (n == SHIM_IO_ERROR)
			c->failed = 1;
	} else {
		CHECK((size_t)n <= len);
		buf_add(&c->wdata, buf, (size_t)n);
		c->written += (size_t)n;
	}
	free(buf);
}

static void client_free(struct client *c)
{
	if (c->tls != NULL)
		ops->free(c->tls);
	buf_free(&c->wdata);
}

/* What the server decrypted is a prefix of what the program wrote. */
static void check_server_got(const struct client *c, const struct server *s)
{
	CHECK(s->got.len <= c->written);
	CHECK(s->got.len == 0 || memcmp(s->got.p, c->wdata.p, s->got.len) == 0);
}

/* ------------------------------------------------------------ the input */

struct input {
	const uint8_t *p;
	size_t n;
};

static int in_u8(struct input *in, unsigned *v)
{
	if (in->n == 0)
		return 0;
	*v = *in->p++;
	in->n--;
	return 1;
}

static unsigned in_u16(struct input *in)
{
	unsigned a = 0, b = 0;

	in_u8(in, &a);
	in_u8(in, &b);
	return a << 8 | b;
}

enum {
	OP_SERVER_WRITE,  /* u16 length (% 40000): the server sends data */
	OP_INJECT,        /* u8 length, bytes: raw bytes on the wire */
	OP_FLIP,          /* u16 offset, u8 mask: flip bits in pending bytes */
	OP_CUT,           /* u8 count: drop the last bytes not yet received */
	OP_READ,          /* u16 length: read */
	OP_PEEK,          /* u16 length: read with MSG_PEEK */
	OP_WRITE,         /* u16 length: write */
	OP_QUERY,         /* pending, buffered, unsent, flush */
	OP_CLOSE_NOTIFY,  /* the server sends close_notify */
	OP_EOF,           /* the server's FIN */
	OP_RST,           /* the connection is reset */
	OP_SEND_MODE,     /* u8 mode, u8 cap: how the kernel takes writes */
	OP_CHUNK,         /* u8: recv returns at most this much (0: any) */
	OP_KEY_UPDATE,    /* TLS 1.3 key update; TLS 1.2 HelloRequest */
	OP_TICKET,        /* TLS 1.3: another session ticket */
	OP_SHUTDOWN,      /* the program closes: close_notify */
	OP_SERVER_READ,   /* the server decrypts what it was sent */
	OP_REPLAY,        /* u16: replay the last bytes sent again */
	OP_COUNT
};

static void server_write(struct server *s, struct input *in, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	size_t done = 0;

	CHECK(p != NULL);
	for (size_t i = 0; i < len; i++)
		p[i] = i < in->n ? in->p[i] : (unsigned char)('a' + i % 26);
	if (!s->dead && SSL_is_init_finished(s->ssl) &&
	    !(SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN)) {
		ERR_clear_error();
		if (len > 0 && SSL_write_ex(s->ssl, p, len, &done))
			buf_add(&s->sent, p, done);
		ERR_clear_error();
	}
	free(p);
	server_pump(s);
}

static void run_op(unsigned op, struct input *in, struct client *c,
		   struct server *s)
{
	unsigned v = 0, m = 0;
	size_t len, avail;

	switch (op % OP_COUNT) {
	case OP_SERVER_WRITE:
		server_write(s, in, in_u16(in) % 40000);
		break;
	case OP_INJECT:
		in_u8(in, &v);
		len = v < in->n ? v : in->n;
		buf_add(&W.s2c, in->p, len);
		in->p += len;
		in->n -= len;
		break;
	case OP_FLIP:
		len = in_u16(in);
		in_u8(in, &m);
		avail = buf_avail(&W.s2c);
		if (avail > 0)
			W.s2c.p[W.s2c.off + len % avail] ^= (unsigned char)(m | 1);
		break;
	case OP_CUT:
		in_u8(in, &v);
		avail = buf_avail(&W.s2c);
		W.s2c.len -= (v + 1) < avail ? (v + 1) : avail;
		break;
	case OP_READ:
		client_read(c, s, 1 + in_u16(in) % 70000, 0);
		break;
	case OP_PEEK:
		client_read(c, s, 1 + in_u16(in) % 70000, 1);
		break;
	case OP_WRITE:
		client_write(c, in_u16(in) % 70000, (unsigned char)c->written);
		server_pump(s);
		break;
	case OP_QUERY: {
		int err = 0;
		size_t pend = ops->pending(c->tls);
		CHECK(pend <= 65536);
		CHECK(ops->buffered(c->tls) == 0 || ops->buffered(c->tls) == 1);
		(void)ops->unsent(c->tls);
		check_err(ops->flush(c->tls, &err), err);
		server_pump(s);
		break;
	}
	case OP_CLOSE_NOTIFY:
		if (!s->dead && SSL_is_init_finished(s->ssl)) {
			ERR_clear_error();
			SSL_shutdown(s->ssl);
			ERR_clear_error();
		}
		server_pump(s);
		break;
	case OP_EOF:
		W.eof = 1;
		break;
	case OP_RST:
		W.rst = 1;
		break;
	case OP_SEND_MODE:
		in_u8(in, &v);
		in_u8(in, &m);
		W.send_mode = (enum send_mode)(v % 4);
		W.send_cap = m;
		break;
	case OP_CHUNK:
		in_u8(in, &v);
		W.chunk = v;
		break;
	case OP_KEY_UPDATE:
		if (!s->dead && SSL_is_init_finished(s->ssl)) {
			ERR_clear_error();
			if (s->tls12)
				SSL_renegotiate(s->ssl);
			else
				SSL_key_update(s->ssl, SSL_KEY_UPDATE_REQUESTED);
			SSL_do_handshake(s->ssl);
			ERR_clear_error();
		}
		server_pump(s);
		break;
	case OP_TICKET:
		if (!s->dead && !s->tls12 && SSL_is_init_finished(s->ssl)) {
			ERR_clear_error();
			SSL_new_session_ticket(s->ssl);
			SSL_do_handshake(s->ssl);
			ERR_clear_error();
		}
		server_pump(s);
		break;
	case OP_SHUTDOWN:
		ops->shutdown(c->tls);
		server_pump(s);
		break;
	case OP_SERVER_READ:
		server_pump(s);
		break;
	case OP_REPLAY:
		/* the last bytes already delivered, once more */
		len = in_u16(in) % 4096;
		if (len > W.s2c.off)
			len = W.s2c.off;
		if (len > 0) {
			unsigned char *p = malloc(len);
			CHECK(p != NULL);
			memcpy(p, W.s2c.p + W.s2c.off - len, len);
			buf_add(&W.s2c, p, len);
			free(p);
		}
		break;
	default:
		break;
	}
	check_server_got(c, s);
}

static void wire_reset(void)
{
	buf_free(&W.s2c);
	buf_free(&W.c2s);
	memset(&W, 0, sizeof(W));
}

static void run_first_flight(int flags, struct input *in)
{
	struct client c;
	unsigned chunk = 0;

	in_u8(in, &chunk);
	W.chunk = chunk;
	client_open(&c, flags);
	buf_add(&W.s2c, in->p, in->n);
	W.eof = (flags & 64) != 0;
	client_handshake(&c, NULL);
	/* a forged server flight never completes a verified handshake */
	CHECK(!c.done);
	client_free(&c);
}

static void run_script(int flags, struct input *in)
{
	struct client c;
	struct server s;
	unsigned op;
	int steps = 0;

	server_new(&s, flags);
	client_open(&c, flags);
	client_handshake(&c, &s);
	/* the in-process server is genuine: this must work */
	CHECK(c.done);
	server_pump(&s); /* tickets */
	while (in_u8(in, &op) && steps++ < 256)
		run_op(op, in, &c, &s);
	client_free(&c);
	server_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	unsigned flags;

	if (!in_u8(&in, &flags))
		return 0;
	wire_reset();
	if (flags & 1)
		run_script((int)flags, &in);
	else
		run_first_flight((int)flags, &in);
	wire_reset();
	ERR_clear_error();
	return 0;
}

/* ------------------------------------------------------------ seeds */

static void seed(const char *dir, const char *name, const void *p, size_t n)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(fwrite(p, 1, n, f) == n);
	fclose(f);
}

/* The server's real reply to the client's real ClientHello. */
static void seed_flight(const char *dir, const char *name, int flags)
{
	struct client c;
	struct server s;
	struct buf out = { 0 };
	unsigned char hdr[2] = { (unsigned char)(flags & ~1), 0 };

	wire_reset();
	server_new(&s, flags);
	client_open(&c, flags);
	client_handshake(&c, NULL);  /* ClientHello into c2s */
	server_pump(&s);             /* the server's first flight into s2c */
	buf_add(&out, hdr, sizeof(hdr));
	buf_add(&out, W.s2c.p, W.s2c.len);
	seed(dir, name, out.p, out.len);
	buf_free(&out);
	client_free(&c);
	server_free(&s);
	wire_reset();
}

static void write_seeds(const char *dir)
{
	static const struct {
		const char *name;
		unsigned char bytes[40];
		size_t len;
	} scripts[] = {
		{ "script-read-1-byte", { 1, OP_SERVER_WRITE, 0, 100, OP_CHUNK, 1,
			OP_READ, 0, 0, OP_READ, 0, 0, OP_PEEK, 0, 5, OP_READ, 1, 0 }, 18 },
		{ "script-big-record-split", { 1, OP_SERVER_WRITE, 0x9c, 0x40, OP_CHUNK, 7,
			OP_QUERY, OP_READ, 0xff, 0xff, OP_READ, 0xff, 0xff, OP_READ, 0xff, 0xff }, 16 },
		{ "script-inject", { 1, OP_SERVER_WRITE, 0, 20, OP_INJECT, 8,
			23, 3, 3, 0, 3, 1, 2, 3, OP_READ, 0, 100, OP_READ, 0, 100 }, 20 },
		{ "script-flip", { 1, OP_SERVER_WRITE, 0, 50, OP_FLIP, 0, 9, 0x10,
			OP_READ, 0, 100 }, 11 },
		{ "script-cut-eof", { 1, OP_SERVER_WRITE, 0, 50, OP_CUT, 5, OP_EOF,
			OP_READ, 0, 100, OP_READ, 0, 100 }, 13 },
		{ "script-close-notify", { 1, OP_SERVER_WRITE, 0, 10, OP_CLOSE_NOTIFY,
			OP_READ, 0, 100, OP_READ, 0, 100, OP_WRITE, 0, 10 }, 14 },
		{ "script-rst", { 1, OP_SERVER_WRITE, 0, 10, OP_RST, OP_READ, 0, 4,
			OP_READ, 0, 100, OP_WRITE, 0, 4 }, 13 },
		{ "script-write-eagain", { 1, OP_SEND_MODE, SEND_PARTIAL, 100,
			OP_WRITE, 0x40, 0, OP_WRITE, 0x10, 0, OP_SEND_MODE, SEND_ALL, 0,
			OP_QUERY, OP_SERVER_READ, OP_WRITE, 0, 9 }, 18 },
		{ "script-write-epipe", { 1, OP_SEND_MODE, SEND_EAGAIN, 0, OP_WRITE, 1, 0,
			OP_SEND_MODE, SEND_EPIPE, 0, OP_QUERY, OP_WRITE, 0, 5 }, 14 },
		{ "script-key-update", { 1, OP_KEY_UPDATE, OP_SERVER_WRITE, 0, 30,
			OP_READ, 0, 100, OP_WRITE, 0, 10, OP_SERVER_READ, OP_TICKET,
			OP_READ, 0, 10 }, 16 },
		{ "script-tls12-renegotiate", { 1 | 2, OP_KEY_UPDATE, OP_SERVER_WRITE, 0, 30,
			OP_READ, 0, 100, OP_READ, 0, 100, OP_WRITE, 0, 10 }, 14 },
		{ "script-client-cert", { 1 | 4 | 8, OP_WRITE, 0, 20, OP_SERVER_READ,
			OP_SERVER_WRITE, 0, 20, OP_READ, 0, 100, OP_SHUTDOWN }, 13 },
		{ "script-replay", { 1 | 16 | 32, OP_SERVER_WRITE, 0, 40, OP_READ, 0, 100,
			OP_REPLAY, 0, 60, OP_READ, 0, 100 }, 13 },
	};

	seed_flight(dir, "flight-tls13", 0);
	seed_flight(dir, "flight-tls13-client-cert", 4 | 8);
	seed_flight(dir, "flight-tls12", 2);
	seed_flight(dir, "flight-tls12-client-cert-eof", 2 | 4 | 64);
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		seed(dir, scripts[i].name, scripts[i].bytes, scripts[i].len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char why[512] = "";
	const char *seeds = getenv("FUZZ_SESSION_SEEDS");

	/* the configuration comes from these variables only */
	unsetenv("REDIS_TLS_CONFIG");
	setenv("REDIS_TLS_ENDPOINTS", "127.0.0.1:*", 1);
	setenv("REDIS_TLS_HANDSHAKE_TIMEOUT_MS", "1000", 1);
	unsetenv("REDIS_TLS_STATS");
	make_pki();
	ops = shim_engine_init(&fake_host, why, sizeof(why));
	if (ops == NULL) {
		fprintf(stderr, "fuzz_session: engine init: %s\n", why);
		abort();
	}
	if (seeds != NULL) {
		mkdir(seeds, 0755);
		write_seeds(seeds);
		exit(0);
	}
	return 0;
}
