/*
 * tls_session.c - a TLS client connection on a non-blocking socket.
 */
#include "tls_session.h"
#include "deadline.h"
#include "engine.h"
#include "match.h"
#include "tls_bio.h"
#include "tls_cache.h"
#include "tls_cert.h"
#include "tls_name.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TLS_WRITE_CHUNK 16384
#define TLS_EXPECT_MAX 256   /* a host name (253), a pattern or an IP */
#define TLS_CA_TEXT_MAX 720  /* a CA certificate described, with its origin */
#define TLS_ORIGIN_MAX 300   /* "CA certificate from 'FILE'" */

enum tls_op { TLS_OP_HANDSHAKE, TLS_OP_READ, TLS_OP_WRITE };

/* How the server certificate's name is checked. */
enum tls_check {
	TLS_CHECK_HOST,    /* X509_check_host, in OpenSSL's verification */
	TLS_CHECK_IP,      /* X509_check_ip, likewise */
	TLS_CHECK_PATTERN, /* tls_name_under, after it */
	TLS_CHECK_IP_CN,   /* X509_check_ip, else tls_name_ip_in_cn, after */
};

struct shim_tls {
	SSL *ssl;
	struct tls_bio bio;
	struct tls_endpoint *ep;
	char label[SHIM_LABEL_MAX];
	char expect[TLS_EXPECT_MAX];
	enum tls_check check;
	char matched[TLS_EXPECT_MAX]; /* what satisfied a pattern or the CN */
	int cn_is_ip; /* the IP failed, and the certificate has it as its
			 only name, in the CN (verify_ip_in_cn would take it) */
	char *cache_key; /* the full resumption key (session_cache.h) */
	int got_data;    /* the server has sent application data */
	int wrote;       /* the program has written plaintext */
	int double_tls;  /* the program speaks TLS itself: writes fail */
	int cert_requested; /* the server asked for a client certificate */
	enum tls_failure why; /* the first fatal failure */
	int deferred;    /* errno of a failure met after data was returned */
	int failed;      /* a fatal error was reported: report no more */
	int read_failed; /* a read failed: no orderly end can follow */
	struct timespec t0;
	int vfail;       /* X509_V_ERR_* of the first verification failure */
	int vfail_depth; /* the depth of the certificate it is about */
	char vfail_cert[TLS_CA_TEXT_MAX]; /* that certificate (a CA's), described */
	char peer[TLS_CERT_TEXT_MAX]; /* the server certificate, described */
};

/*
 * The CA certificate a verification failure is about (an expired root in
 * the CA file, an intermediate the server sent): the log line must name it
 * and its dates, or "certificate has expired" reads as the server's.
 */
static void tls_describe_ca(struct shim_tls *t, X509_STORE_CTX *xs)
{
	X509 *ca = X509_STORE_CTX_get_current_cert(xs);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(xs);
	const struct cfg_tls *c = &t->ep->cfg->tls;
	char subj[TLS_NAME_MAX], nb[TLS_DATE_MAX], na[TLS_DATE_MAX];
	char from[TLS_ORIGIN_MAX];
	int err = X509_STORE_CTX_get_error(xs);
	/* the top of the chain is the trust store's, unless the chain could
	   not reach the store at all: then the server sent it */
	int top = chain != NULL && t->vfail_depth == sk_X509_num(chain) - 1 &&
		  err != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT &&
		  err != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY &&
		  err != X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN &&
		  err != X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;

	if (ca == NULL)
		return;
	tls_cert_subject(ca, subj, sizeof(subj));
	tls_cert_validity(ca, nb, na, sizeof(nb));
	if (!top)
		snprintf(from, sizeof(from), "%s certificate (sent by the "
			 "server)", t->vfail_depth > 0 ? "intermediate CA" :
							  "server");
	else if (c->ca_file != NULL)
		snprintf(from, sizeof(from), "CA certificate from '%s'",
			 c->ca_file);
	else if (c->ca_path != NULL)
		snprintf(from, sizeof(from), "CA certificate from '%s'",
			 c->ca_path);
	else
		snprintf(from, sizeof(from), "CA certificate from the system "
			 "trust store");
	snprintf(t->vfail_cert, sizeof(t->vfail_cert), "the %s, subject '%s', "
		 "depth %d, valid %s to %s", from, subj, t->vfail_depth, nb, na);
}

static int tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct shim_tls *t = ssl ? SSL_get_ex_data(ssl, tls_ctx_ex_index()) : NULL;

	if (t == NULL)
		return ok;
	if (t->peer[0] == '\0' && X509_STORE_CTX_get0_cert(xs) != NULL)
		tls_cert_describe(X509_STORE_CTX_get0_cert(xs), t->peer,
				  sizeof(t->peer));
	if (!ok && X509_STORE_CTX_get_error(xs) ==
			   X509_V_ERR_IP_ADDRESS_MISMATCH)
		t->cn_is_ip = tls_name_ip_in_cn(X509_STORE_CTX_get0_cert(xs),
						t->expect);
	if (!ok && t->vfail == 0) {
		t->vfail = X509_STORE_CTX_get_error(xs);
		t->vfail_depth = X509_STORE_CTX_get_error_depth(xs);
		if (t->vfail_depth > 0)
			tls_describe_ca(t, xs);
	}
	return ok;
}

/*
 * OpenSSL needs an empty error queue before each I/O call for
 * SSL_get_error to be right; ERR_clear_error itself is not cheap (it
 * frees per slot), so clear only what is there.
 */
static void tls_clear_errors(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* 1 if the certificate `leaf` of a verified chain carries the name t
   checks after OpenSSL (TLS_CHECK_PATTERN, TLS_CHECK_IP_CN), else 0. */
static int tls_check_after(struct shim_tls *t, X509 *leaf)
{
	switch (t->check) {
	case TLS_CHECK_PATTERN:
		return tls_name_under(leaf, t->expect + 2, t->matched,
				      sizeof(t->matched));
	case TLS_CHECK_IP_CN:
		if (X509_check_ip_asc(leaf, t->expect, 0) == 1)
			return 1;
		if (!tls_name_ip_in_cn(leaf, t->expect))
			return 0;
		snprintf(t->matched, sizeof(t->matched), "the subject CN of a "
			 "certificate without SANs, verify_ip_in_cn");
		return 1;
	case TLS_CHECK_HOST:
	case TLS_CHECK_IP:
	default:
		return 1; /* OpenSSL's verification checked the name */
	}
}

int tls_session_verify_chain(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct shim_tls *t = ssl ? SSL_get_ex_data(ssl, tls_ctx_ex_index()) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	int ok = X509_verify_cert(xs);

	if (ok <= 0 || t == NULL || leaf == NULL ||
	    SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE ||
	    tls_check_after(t, leaf))
		return ok;
	X509_STORE_CTX_set_current_cert(xs, leaf);
	X509_STORE_CTX_set_error_depth(xs, 0);
	X509_STORE_CTX_set_error(xs, t->check == TLS_CHECK_PATTERN
					     ? X509_V_ERR_HOSTNAME_MISMATCH
					     : X509_V_ERR_IP_ADDRESS_MISMATCH);
	return 0;
}

/* ------------------------------------------------------- creation */

/* What checks the name (enum tls_check), and OpenSSL told what to check
   when it is OpenSSL; 1, or 0 if OpenSSL refused the name. */
static int tls_set_check(struct shim_tls *t, const struct tls_target *tg)
{
	int literal = addr_is_literal(tg->expect);

	t->check = tg->pattern ? TLS_CHECK_PATTERN
		 : !literal    ? TLS_CHECK_HOST
		 : t->ep->cfg->tls.verify_ip_in_cn ? TLS_CHECK_IP_CN
						   : TLS_CHECK_IP;
	switch (t->check) {
	case TLS_CHECK_HOST:
		SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		return SSL_set1_host(t->ssl, tg->expect);
	case TLS_CHECK_IP:
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
						     tg->expect);
	case TLS_CHECK_PATTERN:
	case TLS_CHECK_IP_CN:
	default:
		return 1; /* tls_session_verify_chain checks it */
	}
}

static int tls_set_expectations(struct shim_tls *t, const struct tls_target *tg)
{
	const struct cfg_tls *c = &t->ep->cfg->tls;
	int ok = 1;

	if (c->verify == CFG_VERIFY_NONE) {
		SSL_set_verify(t->ssl, SSL_VERIFY_NONE, NULL);
		ENGINE_LOG(SHIM_LOG_WARNING,
			   "%s: certificate verification is OFF (insecure = "
			   "true): anyone on the path can read and change this "
			   "connection", tg->label);
	} else {
		SSL_set_verify(t->ssl, SSL_VERIFY_PEER, tls_verify_cb);
		ok = tls_set_check(t, tg);
	}
	if (ok && tg->sni != NULL && !addr_is_literal(tg->sni))
		ok = SSL_set_tlsext_host_name(t->ssl, tg->sni);
	return ok ? 0 : -1;
}

/* Notes a CertificateRequest: the server checks client certificates. */
static void tls_msg_cb(int write_p, int version, int content_type,
		       const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct shim_tls *t = arg;

	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_CERTIFICATE_REQUEST)
		t->cert_requested = 1;
}

struct shim_tls *tls_session_new(struct tls_endpoint *ep, int fd,
				 const struct tls_target *tg, int *err)
{
	struct shim_tls *t = calloc(1, sizeof(*t));
	SSL_SESSION *resume;
	BIO *b;

	*err = ENOMEM;
	if (t == NULL)
		return NULL;
	t->ep = ep;
	t->bio.fd = fd;
	snprintf(t->label, sizeof(t->label), "%s", tg->label);
	snprintf(t->expect, sizeof(t->expect), "%s", tg->expect);
	t->cache_key = strdup(tg->cache_key);
	t->ssl = t->cache_key ? SSL_new(ep->ctx) : NULL;
	b = t->ssl ? tls_bio_new(&t->bio) : NULL;
	if (b == NULL) {
		tls_session_free(t);
		return NULL;
	}
	SSL_set_bio(t->ssl, b, b);
	SSL_set_ex_data(t->ssl, tls_ctx_ex_index(), t);
	SSL_set_connect_state(t->ssl);
	/* buffers freed after every record cost more than they save */
	SSL_clear_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
	SSL_set_msg_callback(t->ssl, tls_msg_cb);
	SSL_set_msg_callback_arg(t->ssl, t);
	if (tls_set_expectations(t, tg) < 0) {
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: cannot set the name to verify "
			   "'%s'", tg->label, tg->expect);
		*err = EINVAL;
		tls_session_free(t);
		return NULL;
	}
	resume = tls_cache_get(ep, t->cache_key);
	if (resume != NULL) {
		SSL_set_session(t->ssl, resume);
		SSL_SESSION_free(resume);
	}
	deadline_now(&t->t0);
	return t;
}

int tls_session_cache_target(SSL *ssl, struct tls_endpoint **ep,
			     const char **key)
{
	struct shim_tls *t = SSL_get_ex_data(ssl, tls_ctx_ex_index());

	if (t == NULL)
		return -1;
	*ep = t->ep;
	*key = t->cache_key;
	return 0;
}

/* --------------------------------------------------- error reports */

static const char *tls_alert_hint(int reason)
{
	switch (reason) {
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		return " (the server requires a client certificate: set "
		       "cert_file and key_file, or --cert and --key)";
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		return " (the server does not accept the client certificate "
		       "we sent: is it signed by a CA the server trusts?)";
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		return " (no protocol version or cipher in common)";
	default:
		return "";
	}
}

static int tls_not_tls_reason(int reason)
{
	return reason == SSL_R_WRONG_VERSION_NUMBER ||
	       reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
	       reason == SSL_R_UNKNOWN_PROTOCOL ||
	       reason == SSL_R_RECORD_LENGTH_MISMATCH ||
	       reason == SSL_R_UNEXPECTED_MESSAGE ||
	       reason == SSL_R_HTTP_REQUEST;
}

/* Why the name failed, when OpenSSL's words do not say it: into why. */
static void tls_name_failure(const struct shim_tls *t, long vr, char *why,
			     size_t len)
{
	why[0] = '\0';
	if (vr == X509_V_ERR_HOSTNAME_MISMATCH && t->check == TLS_CHECK_PATTERN)
		snprintf(why, len, ": the certificate names no DNS name under "
			 "%s (a SAN dNSName one or more labels below it; IP "
			 "SANs and the subject CN do not count)", t->expect + 2);
	else if (vr == X509_V_ERR_IP_ADDRESS_MISMATCH && t->cn_is_ip)
		snprintf(why, len, " (the certificate has no SAN and names %s "
			 "in its subject CN only: verify_ip_in_cn = true "
			 "(REDIS_TLS_VERIFY_IP_IN_CN=1, --verify-ip-in-cn) "
			 "accepts that)", t->expect);
	else if (vr == X509_V_ERR_IP_ADDRESS_MISMATCH &&
		 t->check == TLS_CHECK_IP_CN)
		snprintf(why, len, " (verify_ip_in_cn takes the subject CN "
			 "only from a certificate with no SAN whose one CN is "
			 "exactly %s)", t->expect);
}

static int tls_report_verify(struct shim_tls *t, long vr)
{
	int about_ca = vr == t->vfail && t->vfail_cert[0] != '\0';
	char why[TLS_EXPECT_MAX + 160];

	t->why = TLS_FAIL_VERIFY;
	tls_name_failure(t, vr, why, sizeof(why));
	ENGINE_LOG(SHIM_LOG_ERROR,
		   "%s: server certificate rejected: %s%s%s%s; expected name "
		   "'%s'; server presented %s", t->label,
		   X509_verify_cert_error_string(vr), why,
		   about_ca ? ": it is " : "", about_ca ? t->vfail_cert : "",
		   t->expect, t->peer[0] ? t->peer : "no certificate");
	return EACCES;
}

/* One line for a fatal OpenSSL error; returns the errno for the program. */
static int tls_report_ssl(struct shim_tls *t, enum tls_op op)
{
	unsigned long e = ERR_peek_last_error();
	int reason = ERR_GET_REASON(e);
	long vr = SSL_get_verify_result(t->ssl);
	char text[TLS_OSSL_ERR_MAX];
	int hs = op == TLS_OP_HANDSHAKE;

	ERR_error_string_n(e, text, sizeof(text));
	ERR_clear_error();
	if (hs && vr != X509_V_OK)
		return tls_report_verify(t, vr);
	if (hs && t->vfail != 0)
		return tls_report_verify(t, t->vfail);
	if (reason >= SSL_AD_REASON_OFFSET) {
		t->why = TLS_FAIL_REFUSED;
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the server refused the TLS "
			   "connection%s: %s%s", t->label,
			   hs ? " during the handshake" : "",
			   ERR_reason_error_string(e) ? ERR_reason_error_string(e)
						      : text,
			   tls_alert_hint(reason));
		return hs ? ECONNREFUSED : ECONNRESET;
	}
	if (hs && tls_not_tls_reason(reason)) {
		t->why = TLS_FAIL_NOT_TLS;
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the server does not speak TLS "
			   "(its answer is not a TLS record: is this the "
			   "server's TLS port?) [%s]", t->label, text);
		return EPROTO;
	}
	t->why = TLS_FAIL_OTHER;
	ENGINE_LOG(SHIM_LOG_ERROR, "%s: TLS error%s: %s", t->label,
		   hs ? " during the handshake" : "", text);
	return hs ? EPROTO : ECONNRESET;
}

/*
 * In TLS 1.3 the client finishes its handshake before the server has
 * checked the client certificate; a server that rejects it sends an alert
 * and closes, and the alert is often lost to the reset.  A connection that
 * dies before its first reply, after the server asked for a certificate,
 * almost always died of that: say so.
 */
static void tls_report_early_close(struct shim_tls *t, int err)
{
	X509 *mine = SSL_get_certificate(t->ssl);
	char subj[TLS_NAME_MAX] = "", iss[TLS_NAME_MAX] = "";

	if (mine != NULL) {
		tls_cert_subject(mine, subj, sizeof(subj));
		tls_cert_issuer(mine, iss, sizeof(iss));
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the server closed the "
			   "connection (%s) before its first reply: it most "
			   "likely rejected our client certificate (subject "
			   "'%s', issuer '%s'): is it signed by a CA the server "
			   "trusts?", t->label, strerror(err), subj, iss);
	} else {
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the server closed the "
			   "connection (%s) before its first reply: it most "
			   "likely requires a client certificate (set cert_file "
			   "and key_file, or --cert and --key)", t->label,
			   strerror(err));
	}
}

static int tls_is_hangup(int err)
{
	return err == ECONNRESET || err == EPIPE || err == 0;
}

static int tls_report_syscall(struct shim_tls *t, enum tls_op op)
{
	int err = t->bio.last_errno ? t->bio.last_errno : ECONNRESET;

	ERR_clear_error();
	if (t->why == TLS_FAIL_NONE)
		t->why = TLS_FAIL_CLOSED;
	/* the reset may meet the program's first write as well as its read */
	if (op != TLS_OP_HANDSHAKE && !t->got_data && t->cert_requested &&
	    SSL_is_init_finished(t->ssl)) {
		tls_report_early_close(t, err);
		return err;
	}
	/* reset, broken pipe or end of stream: one cause, one wording, so a
	   program's retry repeats the line exactly (and it is written once) */
	if (op == TLS_OP_HANDSHAKE)
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the server closed the "
			   "connection during the TLS handshake%s%s: is it a "
			   "TLS port, and does it accept this client?",
			   t->label, tls_is_hangup(err) ? "" : ": ",
			   tls_is_hangup(err) ? "" : strerror(err));
	else if (t->bio.last_errno != EPIPE && t->bio.last_errno != ECONNRESET)
		ENGINE_LOG(SHIM_LOG_INFO, "%s: connection lost: %s", t->label,
			   strerror(err));
	return err;
}

/*
 * The peer closed TCP without close_notify.  Between records that is how a
 * kernel socket ends (Redis servers do not all send close_notify): the
 * program reads 0.  Inside a record, or in the handshake, it is a
 * truncation: an error, and said so.
 */
static int tls_result_eof(struct shim_tls *t, enum tls_op op, int *err)
{
	/* a record header read whose body never came leaves nothing
	   pending: the record layer's state ("RB", reading a body) says so */
	int mid_record = SSL_has_pending(t->ssl) ||
			 strcmp(SSL_rstate_string(t->ssl), "RB") == 0;

	ERR_clear_error();
	if (op == TLS_OP_READ && !mid_record)
		return 0;
	t->failed = 1;
	if (op == TLS_OP_WRITE) {
		*err = EPIPE;
		return SHIM_IO_ERROR;
	}
	if (op == TLS_OP_HANDSHAKE) {
		*err = tls_report_syscall(t, op);
		return SHIM_IO_ERROR;
	}
	if (t->why == TLS_FAIL_NONE)
		t->why = TLS_FAIL_CLOSED;
	/* after a write met the server's reset (which ended the stream
	   there, read or not) it is that reset, not a cut to report */
	if (t->bio.last_errno != ECONNRESET && t->bio.last_errno != EPIPE)
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the server's stream ended in "
			   "the middle of a TLS record: the reply is truncated",
			   t->label);
	*err = ECONNRESET;
	return SHIM_IO_ERROR;
}

/* The errno of a call on a session that has already failed (its first
   failure was reported with its own errno): a write gets EPIPE, as
   send(2) does once the kernel has reported a reset or a shutdown; a
   read ECONNRESET, never an orderly end. */
static int tls_dead_errno(const struct shim_tls *t, enum tls_op op)
{
	(void)t;
	return op == TLS_OP_WRITE ? EPIPE : ECONNRESET;
}

/* Interpret an OpenSSL result: the single place that does so. */
static int tls_result_of(struct shim_tls *t, int rc, enum tls_op op, int *err)
{
	switch (SSL_get_error(t->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		if (tls_bio_unsent(&t->bio) > 0) {
			int f = tls_bio_flush(&t->bio);
			if (f < 0)
				break;
			if (f > 0)
				return SHIM_IO_WANT_WRITE;
		}
		return SHIM_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return SHIM_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		if (op == TLS_OP_READ)
			return 0;
		*err = op == TLS_OP_WRITE ? EPIPE : tls_report_syscall(t, op);
		t->failed = 1;
		return SHIM_IO_ERROR;
	case SSL_ERROR_SSL:
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return tls_result_eof(t, op, err);
		*err = t->failed ? tls_dead_errno(t, op) : tls_report_ssl(t, op);
		t->failed = 1;
		return SHIM_IO_ERROR;
	case SSL_ERROR_SYSCALL:
	default:
		break;
	}
	*err = t->failed ? tls_dead_errno(t, op) : tls_report_syscall(t, op);
	if (op == TLS_OP_READ && t->bio.last_errno == 0 && t->bio.eof) {
		ERR_clear_error();
		return 0; /* end of stream without close_notify */
	}
	t->failed = 1;
	return SHIM_IO_ERROR;
}

/*
 * Once a read has failed (a truncated or forged stream, a reset), every
 * later read fails too: OpenSSL, or the kernel after a reset, would next
 * say "end of stream", and a program that reads to the end would take
 * the reply it has for a whole one (a truncation attack).
 */
static int tls_result(struct shim_tls *t, int rc, enum tls_op op, int *err)
{
	if (op == TLS_OP_READ && t->read_failed) {
		ERR_clear_error();
		*err = ECONNRESET;
		return SHIM_IO_ERROR;
	}
	rc = tls_result_of(t, rc, op, err);
	if (op == TLS_OP_READ && rc == SHIM_IO_ERROR)
		t->read_failed = 1;
	return rc;
}

/* ---------------------------------------------------------- I/O */

static void tls_log_done(struct shim_tls *t)
{
	struct timespec now;
	double ms;

	if (!engine_host->log_enabled(SHIM_LOG_INFO))
		return;
	deadline_now(&now);
	ms = (double)deadline_elapsed_ns(&t->t0, &now) / DEADLINE_NS_PER_MS;
	ENGINE_LOG(SHIM_LOG_INFO, "%s: TLS handshake done: %s, %s, "
		   "verified '%s'%s%s%s, resumed %s, %.1f ms", t->label,
		   SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl),
		   SSL_get_verify_mode(t->ssl) == SSL_VERIFY_NONE ? "(nothing)"
								  : t->expect,
		   t->matched[0] ? " (as " : "", t->matched,
		   t->matched[0] ? ")" : "",
		   SSL_session_reused(t->ssl) ? "yes" : "no", ms);
}

static void tls_lookahead(struct shim_tls *t);

void tls_session_set_fd(struct shim_tls *t, int fd)
{
	t->bio.fd = fd;
}

int tls_session_handshake(struct shim_tls *t, int *err)
{
	int rc;

	tls_clear_errors();
	rc = SSL_do_handshake(t->ssl);
	if (rc == 1) {
		tls_log_done(t);
		if (tls_bio_unsent(&t->bio) > 0 && tls_bio_flush(&t->bio) < 0) {
			*err = tls_report_syscall(t, TLS_OP_HANDSHAKE);
			return SHIM_IO_ERROR;
		}
		/* read_ahead may have taken records past the Finished */
		tls_lookahead(t);
		return 0;
	}
	rc = tls_result(t, rc, TLS_OP_HANDSHAKE, err);
	if (rc == SHIM_IO_ERROR)
		tls_cache_drop(t->ep, t->cache_key);
	return rc;
}

static int tls_flush_first(struct shim_tls *t, int *err)
{
	int f;

	if (tls_bio_unsent(&t->bio) == 0)
		return 0;
	f = tls_bio_flush(&t->bio);
	if (f < 0) {
		/* the kernel's errno once, then EPIPE (tls_dead_errno) */
		*err = t->failed ? tls_dead_errno(t, TLS_OP_WRITE)
				 : t->bio.last_errno;
		t->failed = 1;
		return SHIM_IO_ERROR;
	}
	return f > 0 ? SHIM_IO_WANT_WRITE : 0;
}

/*
 * After a read that filled the caller's buffer: if OpenSSL holds bytes it
 * has not decrypted, decrypt the next whole record now, so that
 * tls_session_buffered (what readiness trusts) can answer from
 * SSL_pending alone.  With read_ahead on, SSL_has_pending is also true for
 * a partial record: that one stays a partial (the BIO read is
 * non-blocking), and the session is then not readable.  A fatal
 * error met here is reported now and returned by the next read, like one
 * met after data.
 */
static void tls_lookahead(struct shim_tls *t)
{
	char c;
	size_t n;
	int rc;

	if (t->failed || t->deferred != 0 || SSL_pending(t->ssl) > 0 ||
	    !SSL_has_pending(t->ssl))
		return;
	tls_clear_errors();
	if (SSL_peek_ex(t->ssl, &c, 1, &n))
		return;
	rc = tls_result(t, 0, TLS_OP_READ, &t->deferred);
	if (rc != SHIM_IO_ERROR)
		t->deferred = 0;
}

/*
 * Reads drain like a kernel socket: min(len, every byte available without
 * waiting), across record boundaries.  After each record the loop asks for
 * more while OpenSSL holds bytes or the last recv filled what it asked for
 * (the kernel may have more); the BIO's recv is non-blocking, so the first
 * WANT_READ ends the read with what it has.  A read that returns less than
 * asked for has therefore found the kernel socket empty, which is what an
 * edge-triggered reader takes a short read to mean; and the common reply,
 * smaller than one recv, costs one recv, not a second one to hear EAGAIN.  A peek returns one record's worth
 * at most (OpenSSL cannot peek past it).
 */
ssize_t tls_session_read(struct shim_tls *t, void *buf, size_t len, int peek,
			 int *err)
{
	size_t got = 0;

	if (t->deferred != 0) {
		*err = t->deferred;
		if (!peek)
			t->deferred = 0;
		return SHIM_IO_ERROR;
	}
	/* the request must be out before its reply can come; if it never
	   can (a reset), what the server sent before is still read, as
	   from a kernel socket, up to the end of stream the read meets */
	(void)tls_flush_first(t, err);
	while (got < len) {
		size_t n = 0;
		int ok;

		tls_clear_errors();
		ok = peek ? SSL_peek_ex(t->ssl, (char *)buf + got, len - got, &n)
			  : SSL_read_ex(t->ssl, (char *)buf + got, len - got, &n);
		if (ok) {
			got += n;
			t->got_data = 1;
			if (peek || (t->bio.drained && !SSL_has_pending(t->ssl)))
				break;
			continue;
		}
		if (got > 0) {
			/* the bytes first; a fatal error after them is logged
			   now and returned by the next call */
			int rc = tls_result(t, 0, TLS_OP_READ, &t->deferred);

			if (rc != SHIM_IO_ERROR)
				t->deferred = 0;
			break;
		}
		return tls_result(t, 0, TLS_OP_READ, err);
	}
	if (!peek && got == len)
		tls_lookahead(t);
	return (ssize_t)got;
}

/*
 * 1 if the program's first bytes are a TLS handshake record (content type
 * 22, version 3.0 to 3.4): it speaks TLS itself, and TLS inside TLS only
 * makes the server wait for a Redis command that never comes.  No Redis
 * command starts with byte 0x16.  Bytes not yet written count as a match.
 */
static int tls_looks_like_tls(const unsigned char *p, size_t len)
{
	return len > 0 && p[0] == SSL3_RT_HANDSHAKE &&
	       (len < 2 || p[1] == 3) && (len < 3 || p[2] <= 4);
}

static int tls_refuse_double_tls(struct shim_tls *t, int *err)
{
	if (!t->double_tls)
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the program already speaks TLS "
			   "to this endpoint (its first bytes are a TLS "
			   "handshake), and the shim adds TLS too: turn off the "
			   "program's own TLS (e.g. drop redis-cli's --tls), or "
			   "remove this endpoint from the shim's configuration",
			   t->label);
	t->double_tls = 1;
	t->why = TLS_FAIL_OTHER;
	*err = EPROTO;
	return SHIM_IO_ERROR;
}

ssize_t tls_session_write(struct shim_tls *t, const void *buf, size_t len,
			  int *err)
{
	size_t done = 0;
	int f;

	if (t->double_tls ||
	    (!t->wrote && tls_looks_like_tls(buf, len)))
		return tls_refuse_double_tls(t, err);
	f = tls_flush_first(t, err);
	if (f != 0)
		return f;
	while (done < len) {
		size_t chunk = len - done < TLS_WRITE_CHUNK ? len - done
							    : TLS_WRITE_CHUNK;
		size_t n = 0;

		tls_clear_errors();
		if (SSL_write_ex(t->ssl, (const char *)buf + done, chunk, &n)) {
			done += n;
			t->wrote = 1;
			if (tls_bio_unsent(&t->bio) > 0)
				break; /* the kernel is full: stop here */
			continue;
		}
		if (done > 0)
			break;
		return tls_result(t, 0, TLS_OP_WRITE, err);
	}
	return (ssize_t)done;
}

int tls_session_flush(struct shim_tls *t, int *err)
{
	return tls_flush_first(t, err);
}

/*
 * 1 only when a read would return at once without the kernel: decrypted
 * plaintext (SSL_pending), a close_notify received (the read returns 0),
 * or an error held for the next read.  Not SSL_has_pending: tls_ctx.c
 * turns read_ahead on, and then it is also true for a partial record,
 * which a read cannot return.  Whole records OpenSSL read ahead are
 * decrypted by the read that left them (tls_lookahead), so they show here
 * as SSL_pending.
 */
int tls_session_buffered(struct shim_tls *t)
{
	/* a failed read answers at once from now on (as a reset kernel
	   socket polls readable): readiness must say so */
	return SSL_pending(t->ssl) > 0 || t->deferred != 0 || t->read_failed ||
	       (SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

size_t tls_session_pending(struct shim_tls *t)
{
	int n = SSL_pending(t->ssl);

	if (n == 0 && !t->failed && t->deferred == 0) {
		/* decrypt the next record, if it is there, to count it; a
		   fatal error is held for the next read, not lost */
		char c;
		size_t got;
		int rc;

		tls_clear_errors();
		if (!SSL_peek_ex(t->ssl, &c, 1, &got)) {
			rc = tls_result(t, 0, TLS_OP_READ, &t->deferred);
			if (rc != SHIM_IO_ERROR)
				t->deferred = 0;
		}
		n = SSL_pending(t->ssl);
	}
	return n > 0 ? (size_t)n : 0;
}

size_t tls_session_unsent(struct shim_tls *t)
{
	return tls_bio_unsent(&t->bio);
}

void tls_session_shutdown(struct shim_tls *t)
{
	if (t->failed || !SSL_is_init_finished(t->ssl))
		return;
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
	tls_bio_flush(&t->bio);
}

void tls_session_free(struct shim_tls *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	tls_bio_release(&t->bio);
	free(t->cache_key);
	free(t);
}

enum tls_failure tls_session_failure(const struct shim_tls *t)
{
	return t->why;
}

SSL *tls_session_ssl(struct shim_tls *t)
{
	return t->ssl;
}

const char *tls_session_label(const struct shim_tls *t)
{
	return t->label;
}

void tls_session_facts(struct shim_tls *t, struct tls_session_facts *f)
{
	X509 *peer = SSL_get0_peer_certificate(t->ssl);
	X509 *mine = SSL_get_certificate(t->ssl);

	memset(f, 0, sizeof(*f));
	f->protocol = SSL_get_version(t->ssl);
	f->cipher = SSL_get_cipher_name(t->ssl);
	f->resumed = SSL_session_reused(t->ssl);
	if (peer != NULL)
		tls_cert_describe(peer, f->peer, sizeof(f->peer));
	if (mine != NULL)
		tls_cert_subject(mine, f->client, sizeof(f->client));
}
