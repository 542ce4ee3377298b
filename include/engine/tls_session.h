/*
 * tls_session.h - one TLS connection: handshake, verification and its
 * error reports, reads that drain, writes that own their records.
 *
 * OpenSSL is used by the TLS files of the engine alone (tls_ctx.c,
 * tls_cache.c, tls_cert.c, tls_name.c, tls_bio.c, this one; engine.c and
 * session_cache.c for a call or two).  Each function here interprets OpenSSL's result in one place (tls_result, after redis's
 * handleSSLReturnCode) and follows engine_api.h's return contract.
 * Not thread-safe: the switchboard serialises calls per session.
 */
#ifndef SHIM_TLS_SESSION_H
#define SHIM_TLS_SESSION_H

#include <sys/types.h>

#include "tls_cert.h"
#include "tls_ctx.h"

struct shim_tls;

struct tls_target {
	const char *label;  /* "host:port" for log lines */
	const char *expect; /* name, IP literal or pattern to verify */
	const char *sni;    /* NULL: send none */
	int pattern;        /* expect is a pattern "*.DOMAIN" (tls_name.h) */
	const char *cache_key;
};

/*
 * tls_session_verify_chain - every context's certificate verification
 * (SSL_CTX_set_cert_verify_callback): X509_verify_cert, then, on a chain
 * it accepted, the name checks OpenSSL does not make (tls_name.h) for a
 * session that verifies a pattern, or an IP with verify_ip_in_cn.  A name
 * that fails is X509_V_ERR_HOSTNAME_MISMATCH or _IP_ADDRESS_MISMATCH, as
 * OpenSSL's own checks report it.  Returns 1 if verified, else <= 0.
 */
int tls_session_verify_chain(X509_STORE_CTX *xs, void *arg);

/* tls_session_cache_target - the endpoint and the cache key of the
   session an SSL belongs to: 0, or -1 if none. */
int tls_session_cache_target(SSL *ssl, struct tls_endpoint **ep,
			     const char **key);

struct shim_tls *tls_session_new(struct tls_endpoint *ep, int fd,
				 const struct tls_target *t, int *err);
void tls_session_set_fd(struct shim_tls *t, int fd);
int tls_session_handshake(struct shim_tls *t, int *err);
ssize_t tls_session_read(struct shim_tls *t, void *buf, size_t len, int peek,
			 int *err);
ssize_t tls_session_write(struct shim_tls *t, const void *buf, size_t len,
			  int *err);
int tls_session_flush(struct shim_tls *t, int *err);
int tls_session_buffered(struct shim_tls *t);
size_t tls_session_pending(struct shim_tls *t);
size_t tls_session_unsent(struct shim_tls *t);
void tls_session_shutdown(struct shim_tls *t);
void tls_session_free(struct shim_tls *t);

/* Why a session failed, for statistics. */
enum tls_failure {
	TLS_FAIL_NONE,
	TLS_FAIL_VERIFY,     /* we rejected the server's certificate */
	TLS_FAIL_REFUSED,    /* the server sent a fatal alert */
	TLS_FAIL_NOT_TLS,    /* the peer does not speak TLS */
	TLS_FAIL_CLOSED,     /* the connection was closed or reset */
	TLS_FAIL_OTHER,
};

enum tls_failure tls_session_failure(const struct shim_tls *t);

/* The OpenSSL object and the log label, for the engine's own checks
   (pinning, expiry warnings, statistics).  Read-only use. */
SSL *tls_session_ssl(struct shim_tls *t);
const char *tls_session_label(const struct shim_tls *t);

/* For --check: protocol, cipher, resumed, peer certificate text. */
struct tls_session_facts {
	const char *protocol, *cipher;
	int resumed;
	char peer[TLS_CERT_TEXT_MAX]; /* subject, SANs, issuer, validity */
	char client[TLS_NAME_MAX]; /* subject of the certificate we sent, or "" */
};
void tls_session_facts(struct shim_tls *t, struct tls_session_facts *f);

#endif
