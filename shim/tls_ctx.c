/*
 * tls_ctx.c - SSL_CTX per endpoint, loaded and checked at init.
 */
#include "tls_ctx.h"
#include "engine.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tls_ex_index = -1;
static pthread_once_t tls_ex_once = PTHREAD_ONCE_INIT;

static void tls_ex_init(void)
{
	tls_ex_index = SSL_get_ex_new_index(0, "redis-tls-shim", NULL, NULL,
					    NULL);
}

int tls_ctx_ex_index(void)
{
	pthread_once(&tls_ex_once, tls_ex_init);
	return tls_ex_index;
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
	char where[400], ossl[256];
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
static char *tls_passphrase(const struct cfg_tls *t)
{
	char line[1024];
	FILE *f;
	size_t n;

	if (t->key_passphrase_env != NULL) {
		const char *v = getenv(t->key_passphrase_env);
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
	if (SSL_CTX_check_private_key(ctx) != 1)
		return tls_fail(err, errlen, &t->w_key,
				"the private key does not match the "
				"certificate", t->key_file);
	return 0;
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
	if (t->groups && SSL_CTX_set1_groups_list(ctx, t->groups) != 1)
		return tls_fail(err, errlen, &t->w_groups,
				"no usable group in", t->groups);
	return 0;
}

static int tls_new_session_cb(SSL *ssl, SSL_SESSION *sess);

int tls_ctx_build(struct tls_endpoint *ep, const struct cfg_endpoint *cfg,
		  char *err, size_t errlen)
{
	const struct cfg_tls *t = &cfg->tls;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	memset(ep, 0, sizeof(*ep));
	ep->cfg = cfg;
	pthread_mutex_init(&ep->cache_lock, NULL);
	if (ctx == NULL)
		return tls_fail(err, errlen, &cfg->where,
				"cannot create a TLS context", NULL);
	ep->ctx = ctx;
	SSL_CTX_set_min_proto_version(ctx, t->min_protocol ? t->min_protocol
							    : TLS1_2_VERSION);
	if (t->max_protocol)
		SSL_CTX_set_max_proto_version(ctx, t->max_protocol);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF |
					 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					      SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_new_session_cb);
	if (tls_load_trust(ctx, t, err, errlen) < 0 ||
	    tls_load_identity(ctx, t, err, errlen) < 0 ||
	    tls_set_suites(ctx, t, err, errlen) < 0) {
		tls_ctx_free(ep);
		return -1;
	}
	return 0;
}

void tls_ctx_free(struct tls_endpoint *ep)
{
	for (int i = 0; i < TLS_CACHE_SLOTS; i++) {
		if (ep->cache[i].sess != NULL)
			SSL_SESSION_free(ep->cache[i].sess);
		ep->cache[i].sess = NULL;
	}
	if (ep->ctx != NULL)
		SSL_CTX_free(ep->ctx);
	ep->ctx = NULL;
	pthread_mutex_destroy(&ep->cache_lock);
}

/* ------------------------------------------------ resumption cache */

SSL_SESSION *tls_cache_get(struct tls_endpoint *ep, const char *key)
{
	SSL_SESSION *s = NULL;

	pthread_mutex_lock(&ep->cache_lock);
	for (int i = 0; i < TLS_CACHE_SLOTS && s == NULL; i++) {
		struct tls_cache_slot *c = &ep->cache[i];
		if (c->sess != NULL && strcmp(c->key, key) == 0 &&
		    SSL_SESSION_is_resumable(c->sess)) {
			s = c->sess;
			SSL_SESSION_up_ref(s);
		}
	}
	pthread_mutex_unlock(&ep->cache_lock);
	return s;
}

void tls_cache_put(struct tls_endpoint *ep, const char *key, SSL_SESSION *s)
{
	struct tls_cache_slot *victim = &ep->cache[0];

	pthread_mutex_lock(&ep->cache_lock);
	for (int i = 0; i < TLS_CACHE_SLOTS; i++) {
		struct tls_cache_slot *c = &ep->cache[i];
		if (c->sess != NULL && strcmp(c->key, key) == 0) {
			victim = c;
			break;
		}
		if (c->sess == NULL || c->stamp < victim->stamp)
			victim = c;
	}
	if (victim->sess != NULL)
		SSL_SESSION_free(victim->sess);
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->sess = s;
	victim->stamp = ++ep->clock;
	pthread_mutex_unlock(&ep->cache_lock);
}

void tls_cache_drop(struct tls_endpoint *ep, const char *key)
{
	pthread_mutex_lock(&ep->cache_lock);
	for (int i = 0; i < TLS_CACHE_SLOTS; i++) {
		struct tls_cache_slot *c = &ep->cache[i];
		if (c->sess != NULL && strcmp(c->key, key) == 0) {
			SSL_SESSION_free(c->sess);
			c->sess = NULL;
		}
	}
	pthread_mutex_unlock(&ep->cache_lock);
}

/* defined in tls_session.c: which endpoint and key a session belongs to */
int tls_session_cache_target(SSL *ssl, struct tls_endpoint **ep,
			     const char **key);

static int tls_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_endpoint *ep;
	const char *key;

	if (tls_session_cache_target(ssl, &ep, &key) < 0)
		return 0;
	tls_cache_put(ep, key, sess);
	return 1; /* we keep the reference */
}
