/*
 * tls_ctx.c - SSL_CTX per endpoint, loaded and checked at init and on
 * reload, and swapped under its lock.  The resumption cache's glue is
 * tls_cache.c; certificate facts and text are tls_cert.c.
 *
 * The key log (SSLKEYLOGFILE) is opened once per process; its lines are
 * appended with one write(2) each, so concurrent handshakes never mix.
 */
#include "tls_ctx.h"
#include "engine.h"
#include "tls_cache.h"
#include "tls_cert.h"
#include "tls_session.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int tls_ex_index = -1, tls_mark_index = -1;
static pthread_once_t tls_ex_once = PTHREAD_ONCE_INIT;
static atomic_int tls_strict;

static void tls_ex_init(void)
{
	tls_ex_index = SSL_get_ex_new_index(0, "redis-tls-shim", NULL, NULL,
					    NULL);
	tls_mark_index = SSL_get_ex_new_index(0, "redis-tls-shim mark", NULL,
					      NULL, NULL);
}

int tls_ctx_ex_index(void)
{
	pthread_once(&tls_ex_once, tls_ex_init);
	return tls_ex_index;
}

void tls_ctx_set_strict(int on)
{
	atomic_store(&tls_strict, on);
}

const char *tls_openssl_error(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	buf[0] = '\0';
	if (e != 0)
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int tls_fail(char *err, size_t errlen, const struct cfg_where *w,
		    const char *what, const char *path)
{
	char where[CFG_WHERE_TEXT_MAX], ossl[TLS_OSSL_ERR_MAX];
	size_t n;

	config_where_format(w, where, sizeof(where));
	tls_openssl_error(ossl, sizeof(ossl));
	if (path != NULL)
		snprintf(err, errlen, "%s: %s '%s'", where, what, path);
	else
		snprintf(err, errlen, "%s: %s", where, what);
	n = strlen(err);
	if (*ossl && n < errlen)
		snprintf(err + n, errlen - n, " (%s)", ossl);
	return -1;
}

/* The passphrase, from a file's first line or an environment variable. */
#define TLS_PASSPHRASE_MAX 1024 /* with its newline and NUL */

static char *tls_passphrase(const struct cfg_tls *t)
{
	char line[TLS_PASSPHRASE_MAX];
	FILE *f;
	size_t n;

	if (t->key_passphrase_env != NULL) {
		const char *v = engine_host->getenv != NULL
					? engine_host->getenv(t->key_passphrase_env)
					: getenv(t->key_passphrase_env);
		return v ? strdup(v) : NULL;
	}
	if (t->key_passphrase_file == NULL)
		return NULL;
	f = fopen(t->key_passphrase_file, "re");
	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	{
		char *p = strdup(line);
		OPENSSL_cleanse(line, sizeof(line));
		return p;
	}
}

static int tls_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	const char *p = u;
	int n;

	if (p == NULL)
		return -1;
	n = (int)strlen(p);
	if (n > size)
		n = size;
	memcpy(buf, p, (size_t)n);
	return n;
}

static int tls_load_identity(SSL_CTX *ctx, const struct cfg_tls *t, char *err,
			     size_t errlen)
{
	char *pass;
	int ok;

	if (t->cert_file == NULL)
		return 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1)
		return tls_fail(err, errlen, &t->w_cert,
				"cannot load the client certificate",
				t->cert_file);
	pass = tls_passphrase(t);
	SSL_CTX_set_default_passwd_cb(ctx, tls_passphrase_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, pass);
	ok = SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (pass != NULL) {
		OPENSSL_cleanse(pass, strlen(pass));
		free(pass);
	}
	if (ok != 1 && ERR_GET_REASON(ERR_peek_last_error()) ==
			       X509_R_KEY_VALUES_MISMATCH)
		return tls_fail(err, errlen, &t->w_key,
				"the private key does not match the "
				"certificate", t->key_file);
	if (ok != 1)
		return tls_fail(err, errlen, &t->w_key,
				"cannot load the private key (wrong "
				"passphrase, or not a PEM key)",
				t->key_file);
	if (SSL_CTX_check_private_key(ctx) != 1) {
		/* OpenSSL drops the certificate on a mismatch and then says
		   "no certificate assigned": not the user's problem */
		ERR_clear_error();
		return tls_fail(err, errlen, &t->w_key,
				"the private key does not match the "
				"certificate", t->key_file);
	}
	return 0;
}

/* ------------------------------------------------ CA file dates */

/* A CA file is named once per content (path, size, mtime), not once per
   endpoint that uses it; a changed file (a reload) is checked again. */
#define TLS_CA_SEEN 16
#define TLS_CA_SEEN_PATH_MAX 256 /* a longer path is named every time */
static struct {
	char path[TLS_CA_SEEN_PATH_MAX];
	off_t size;
	time_t mtime;
} tls_ca_seen[TLS_CA_SEEN];
static unsigned tls_ca_nseen;
static pthread_mutex_t tls_ca_seen_lock = PTHREAD_MUTEX_INITIALIZER;

static int tls_ca_first_look(const char *path)
{
	struct stat st;
	int first = 1;

	if (stat(path, &st) < 0)
		return 1;
	pthread_mutex_lock(&tls_ca_seen_lock);
	for (unsigned i = 0; i < TLS_CA_SEEN && i < tls_ca_nseen; i++)
		if (strcmp(tls_ca_seen[i].path, path) == 0 &&
		    tls_ca_seen[i].size == st.st_size &&
		    tls_ca_seen[i].mtime == st.st_mtime)
			first = 0;
	if (first) {
		unsigned i = tls_ca_nseen++ % TLS_CA_SEEN;
		snprintf(tls_ca_seen[i].path, sizeof(tls_ca_seen[i].path),
			 "%s", path);
		tls_ca_seen[i].size = st.st_size;
		tls_ca_seen[i].mtime = st.st_mtime;
	}
	pthread_mutex_unlock(&tls_ca_seen_lock);
	return first;
}

/* 1 if cert is outside its validity now; its dates into nb/na. */
static int tls_ca_out_of_date(X509 *cert, char *nb, char *na, size_t len,
			      int *not_yet)
{
	tls_cert_validity(cert, nb, na, len);
	*not_yet = X509_cmp_current_time(X509_get0_notBefore(cert)) > 0;
	return *not_yet || X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
}

/*
 * For redis-tls-ctl check-config (strict mode) only: every certificate of
 * the CA file that is expired or not yet valid is named (subject, dates)
 * with a warning, since a server whose chain ends at it is refused while
 * the others in the file still verify theirs.  When no certificate of the
 * file is valid, nothing can verify: the load fails.  The preloaded shim
 * says nothing at load; the one line of a refused handshake names the
 * certificate then (tls_session.c).
 */
static int tls_check_ca_dates(const struct cfg_tls *t, char *err,
			      size_t errlen)
{
	char where[CFG_WHERE_TEXT_MAX], subj[TLS_NAME_MAX];
	char nb[TLS_DATE_MAX], na[TLS_DATE_MAX];
	int total = 0, bad = 0, not_yet, log;
	BIO *b;
	X509 *x;

	if (!atomic_load(&tls_strict) || t->ca_file == NULL ||
	    (b = BIO_new_file(t->ca_file, "r")) == NULL) {
		ERR_clear_error();
		return 0;
	}
	log = tls_ca_first_look(t->ca_file);
	config_where_format(&t->w_ca, where, sizeof(where));
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		total++;
		if (tls_ca_out_of_date(x, nb, na, sizeof(nb), &not_yet)) {
			bad++;
			tls_cert_subject(x, subj, sizeof(subj));
			if (log)
				ENGINE_LOG(SHIM_LOG_WARNING, "%s: the CA "
					   "certificate '%s' in '%s' %s (valid "
					   "%s to %s): servers whose chain ends "
					   "at it will be refused", where, subj,
					   t->ca_file, not_yet ? "is not valid "
					   "yet" : "has expired", nb, na);
		}
		X509_free(x);
	}
	BIO_free(b);
	ERR_clear_error(); /* the end of the file reads as an error */
	if (total == 0 || bad < total)
		return 0;
	snprintf(err, errlen, "%s: no certificate in the CA file '%s' is "
		 "valid now (%d expired or not yet valid): no server can be "
		 "verified", where, t->ca_file, bad);
	return -1;
}

static int tls_load_trust(SSL_CTX *ctx, const struct cfg_tls *t, char *err,
			  size_t errlen)
{
	if (t->ca_file == NULL && t->ca_path == NULL) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1)
			return tls_fail(err, errlen, &t->w_ca,
					"cannot load the system trust store",
					NULL);
		return 0;
	}
	if (SSL_CTX_load_verify_locations(ctx, t->ca_file, t->ca_path) != 1)
		return tls_fail(err, errlen, &t->w_ca,
				"cannot load CA certificates",
				t->ca_file ? t->ca_file : t->ca_path);
	return tls_check_ca_dates(t, err, errlen);
}

/* A cipher without encryption (eNULL, which a TLS 1.2 list may name with
   @SECLEVEL=0; the integrity-only TLS 1.3 suites of RFC 9150 where
   OpenSSL has them) would carry every byte in clear inside TLS records:
   refused at load, whatever the lists say. */
static int tls_refuse_null(SSL_CTX *ctx, const struct cfg_tls *t, char *err,
			   size_t errlen)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	char where[CFG_WHERE_TEXT_MAX];

	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		int v13 = strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;
		const char *list = v13 ? t->ciphersuites : t->ciphers;

		if (SSL_CIPHER_get_cipher_nid(c) != NID_undef)
			continue;
		config_where_format(v13 ? &t->w_ciphersuites : &t->w_ciphers,
				    where, sizeof(where));
		snprintf(err, errlen, "%s: '%s' includes %s, which does not "
			 "encrypt: every byte would go out in clear; refused",
			 where, list ? list : "(OpenSSL's default)",
			 SSL_CIPHER_get_name(c));
		return -1;
	}
	return 0;
}

static int tls_set_suites(SSL_CTX *ctx, const struct cfg_tls *t, char *err,
			  size_t errlen)
{
	if (t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1)
		return tls_fail(err, errlen, &t->w_ciphers,
				"no usable cipher in", t->ciphers);
	if (t->ciphersuites &&
	    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1)
		return tls_fail(err, errlen, &t->w_ciphersuites,
				"no usable TLS 1.3 cipher suite in",
				t->ciphersuites);
	if (tls_refuse_null(ctx, t, err, errlen) < 0)
		return -1;
	if (t->groups && SSL_CTX_set1_groups_list(ctx, t->groups) != 1)
		return tls_fail(err, errlen, &t->w_groups,
				"no usable group in", t->groups);
	return 0;
}

/* ------------------------------------------------ CRL */

static void tls_crl_check_date(const X509_CRL *crl, const struct cfg_tls *t)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	char where[CFG_WHERE_TEXT_MAX], date[TLS_DATE_MAX];

	if (next == NULL || X509_cmp_current_time(next) > 0)
		return;
	tls_time_text(next, date, sizeof(date));
	ENGINE_LOG(SHIM_LOG_WARNING, "%s: the CRL '%s' is out of date (next "
		   "update was due %s): servers its CA signed are refused "
		   "(\"CRL has expired\") until it is renewed",
		   config_where_format(&t->w_crl, where, sizeof(where)),
		   t->crl_file, date);
}

/* Every CRL in the PEM file into the store; the leaf is then checked. */
static int tls_load_crl(SSL_CTX *ctx, const struct cfg_tls *t, char *err,
			size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *b;
	X509_CRL *crl;
	int n = 0, ok = 1;

	if (t->crl_file == NULL)
		return 0;
	b = BIO_new_file(t->crl_file, "r");
	if (b == NULL)
		return tls_fail(err, errlen, &t->w_crl, "cannot read the CRL",
				t->crl_file);
	while (ok && (crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		tls_crl_check_date(crl, t);
		ok = X509_STORE_add_crl(store, crl) == 1;
		X509_CRL_free(crl);
		n++;
	}
	BIO_free(b);
	if (!ok)
		return tls_fail(err, errlen, &t->w_crl, "cannot use the CRL",
				t->crl_file);
	if (n == 0)
		return tls_fail(err, errlen, &t->w_crl,
				"no PEM CRL (-----BEGIN X509 CRL-----) in",
				t->crl_file);
	ERR_clear_error(); /* the end of the file reads as an error */
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

/* ------------------------------------------------ client certificate expiry */

static int tls_check_identity_dates(SSL_CTX *ctx, const struct cfg_tls *t,
				    char *err, size_t errlen)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	char where[CFG_WHERE_TEXT_MAX], subj[TLS_NAME_MAX];
	char date[TLS_DATE_MAX];
	long days;

	if (cert == NULL ||
	    tls_cert_days_left(cert, &days, date, sizeof(date)) < 0)
		return 0;
	config_where_format(&t->w_cert, where, sizeof(where));
	tls_cert_subject(cert, subj, sizeof(subj));
	if (days < 0 && atomic_load(&tls_strict)) {
		snprintf(err, errlen, "%s: the client certificate '%s' (subject "
			 "'%s') expired on %s: servers will refuse it", where,
			 t->cert_file, subj, date);
		return -1;
	}
	if (days < 0)
		ENGINE_LOG(SHIM_LOG_ERROR, "%s: the client certificate '%s' "
			   "(subject '%s') expired on %s: servers will refuse "
			   "it", where, t->cert_file, subj, date);
	else if (days < TLS_EXPIRY_WARN_DAYS)
		ENGINE_LOG(SHIM_LOG_WARNING, "%s: the client certificate '%s' "
			   "(subject '%s') expires in %ld day%s, on %s", where,
			   t->cert_file, subj, days, days == 1 ? "" : "s",
			   date);
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		ENGINE_LOG(SHIM_LOG_WARNING, "%s: the client certificate '%s' "
			   "(subject '%s') is not valid yet: is the clock "
			   "right?", where, t->cert_file, subj);
	return 0;
}

/* ------------------------------------------------ SSLKEYLOGFILE */

static int tls_keylog_fd = -1;
static pthread_once_t tls_keylog_once = PTHREAD_ONCE_INIT;

/*
 * The key log holds what decrypts every connection, so it is used only if
 * nobody else can read it: a regular file of ours, mode 0600 or tighter,
 * not reached through a symbolic link (one could point it anywhere).  A
 * new file is created 0600 with O_EXCL; an existing one is opened with
 * O_NOFOLLOW and checked on the descriptor, so nothing can be swapped in
 * between the check and the use.  Refused: one error line, no key
 * logging, and the connection goes on.
 */
static int tls_keylog_usable(int fd, const char *path)
{
	struct stat st;
	const char *why = NULL;
	char detail[64] = "";

	if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != geteuid())
		why = "owned by another user, who can read it";
	else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		why = "readable or writable by group or others";
		snprintf(detail, sizeof(detail), " (mode %04o: chmod 600 it)",
			 (unsigned)(st.st_mode & 07777));
	}
	if (why == NULL)
		return 1;
	ENGINE_LOG(SHIM_LOG_ERROR, "SSLKEYLOGFILE=%s: refused: %s%s; no TLS "
		   "secrets are logged", path, why, detail);
	return 0;
}

static void tls_keylog_open(void)
{
	const char *path = getenv("SSLKEYLOGFILE");
	int fl = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	fd = open(path, fl | O_CREAT | O_EXCL, 0600);
	if (fd < 0 && errno == EEXIST)
		fd = open(path, fl);
	if (fd < 0) {
		ENGINE_LOG(SHIM_LOG_ERROR, "SSLKEYLOGFILE=%s: refused: %s; no "
			   "TLS secrets are logged", path,
			   errno == ELOOP ? "it is a symbolic link"
					  : strerror(errno));
		return;
	}
	if (!tls_keylog_usable(fd, path)) {
		close(fd);
		return;
	}
	/* O_NONBLOCK was for the open (a FIFO must not hang it) */
	(void)fcntl(fd, F_SETFL, O_APPEND);
	tls_keylog_fd = fd;
	ENGINE_LOG(SHIM_LOG_WARNING, "SSLKEYLOGFILE=%s: the TLS secrets of "
		   "every connection are written there: whoever can read that "
		   "file can decrypt the traffic (for debugging only)", path);
}

/* One NSS key log line per call; never logged anywhere else. */
#define TLS_KEYLOG_LINE_MAX 1024 /* longer than any NSS key log line */

static void tls_keylog_cb(const SSL *ssl, const char *line)
{
	char buf[TLS_KEYLOG_LINE_MAX];
	size_t n = strlen(line);

	if (n + 1 > sizeof(buf))
		return;
	memcpy(buf, line, n);
	buf[n] = '\n';
	(void)!write(tls_keylog_fd, buf, n + 1);
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* ------------------------------------------------ contexts */

static void tls_ctx_settings(SSL_CTX *ctx, const struct cfg_tls *t)
{
	SSL_CTX_set_min_proto_version(ctx, t->min_protocol ? t->min_protocol
							    : TLS1_2_VERSION);
	if (t->max_protocol)
		SSL_CTX_set_max_proto_version(ctx, t->max_protocol);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					      SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_cache_new_session);
	/* the name checks OpenSSL lacks run on the chain it verified */
	SSL_CTX_set_cert_verify_callback(ctx, tls_session_verify_chain, NULL);
	pthread_once(&tls_keylog_once, tls_keylog_open);
	if (tls_keylog_fd >= 0)
		SSL_CTX_set_keylog_callback(ctx, tls_keylog_cb);
}

SSL_CTX *tls_ctx_new(const struct cfg_endpoint *cfg, char *err,
		     size_t errlen)
{
	const struct cfg_tls *t = &cfg->tls;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		tls_fail(err, errlen, &cfg->where,
			 "cannot create a TLS context", NULL);
		return NULL;
	}
	tls_ctx_settings(ctx, t);
	if (tls_load_trust(ctx, t, err, errlen) < 0 ||
	    tls_load_crl(ctx, t, err, errlen) < 0 ||
	    tls_load_identity(ctx, t, err, errlen) < 0 ||
	    tls_check_identity_dates(ctx, t, err, errlen) < 0 ||
	    tls_set_suites(ctx, t, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void tls_ctx_locks_init(struct tls_endpoint *ep)
{
	pthread_rwlockattr_t attr;

	/* a reload must not wait behind a stream of new connections */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ep->ctx_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
}

void tls_ctx_fork_prepare(struct tls_endpoint *ep)
{
	pthread_rwlock_wrlock(&ep->ctx_lock);
	session_cache_lock(&ep->cache);
}

void tls_ctx_fork_after(struct tls_endpoint *ep, int child)
{
	if (child) {
		tls_ctx_locks_init(ep);
		session_cache_reinit_lock(&ep->cache);
		return;
	}
	session_cache_unlock(&ep->cache);
	pthread_rwlock_unlock(&ep->ctx_lock);
}

int tls_ctx_build(struct tls_endpoint *ep, const struct cfg_endpoint *cfg,
		  char *err, size_t errlen)
{
	memset(ep, 0, sizeof(*ep));
	ep->cfg = cfg;
	tls_ctx_locks_init(ep);
	session_cache_init(&ep->cache);
	ep->ctx = tls_ctx_new(cfg, err, errlen);
	if (ep->ctx == NULL) {
		tls_ctx_free(ep);
		return -1;
	}
	return 0;
}

void tls_ctx_free(struct tls_endpoint *ep)
{
	session_cache_destroy(&ep->cache);
	if (ep->ctx != NULL)
		SSL_CTX_free(ep->ctx);
	ep->ctx = NULL;
	pthread_rwlock_destroy(&ep->ctx_lock);
}

void tls_ctx_swap(struct tls_endpoint *ep, SSL_CTX *ctx)
{
	SSL_CTX *old;

	pthread_rwlock_wrlock(&ep->ctx_lock);
	session_cache_lock(&ep->cache);
	old = ep->ctx;
	ep->ctx = ctx;
	/* a resumed session skips verification: none may outlive the
	   trust it was verified with */
	session_cache_clear_locked(&ep->cache);
	session_cache_unlock(&ep->cache);
	pthread_rwlock_unlock(&ep->ctx_lock);
	SSL_CTX_free(old); /* open sessions keep their own reference */
}

void tls_ctx_read_lock(struct tls_endpoint *ep)
{
	pthread_rwlock_rdlock(&ep->ctx_lock);
}

void tls_ctx_read_unlock(struct tls_endpoint *ep)
{
	pthread_rwlock_unlock(&ep->ctx_lock);
}

int tls_ssl_mark(SSL *ssl)
{
	int was;

	pthread_once(&tls_ex_once, tls_ex_init);
	was = SSL_get_ex_data(ssl, tls_mark_index) != NULL;
	SSL_set_ex_data(ssl, tls_mark_index, (void *)1);
	return was;
}

int tls_ssl_resumed(const SSL *ssl)
{
	return SSL_session_reused(ssl);
}

int tls_ssl_finished(const SSL *ssl)
{
	return SSL_is_init_finished(ssl);
}

/* ------------------------------------------------ how long a check holds */

/* min(until, now + the time left before t's notAfter), when t is valid
   now; until when it is not (it changes nothing that passes). */
static time_t tls_until_after(const ASN1_TIME *t, time_t now, time_t until)
{
	int d, s;
	long long left;

	if (t == NULL || ASN1_TIME_diff(&d, &s, NULL, t) != 1)
		return until;
	left = (long long)d * 86400 + s;
	if (left <= 0 || (long long)now + left >= (long long)until)
		return until;
	return now + (time_t)left;
}

time_t tls_ctx_verdict_until(struct tls_endpoint *ep, time_t now,
			     time_t until)
{
	const struct cfg_tls *t = &ep->cfg->tls;
	X509 *cert;
	BIO *b;

	tls_ctx_read_lock(ep);
	cert = SSL_CTX_get0_certificate(ep->ctx);
	if (cert != NULL)
		until = tls_until_after(X509_get0_notAfter(cert), now, until);
	tls_ctx_read_unlock(ep);
	if (t->ca_file == NULL || (b = BIO_new_file(t->ca_file, "r")) == NULL) {
		ERR_clear_error();
		return until;
	}
	while ((cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		until = tls_until_after(X509_get0_notAfter(cert), now, until);
		X509_free(cert);
	}
	BIO_free(b);
	ERR_clear_error();
	return until;
}
