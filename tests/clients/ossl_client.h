/*
 * ossl_client.h - the OpenSSL client of the test programs that speak TLS
 * themselves (idle_conns.c, first_reply.c): libssl loaded with dlopen (so
 * that their plaintext mode carries no OpenSSL into a process the shim
 * runs in), a context with the CA, a client certificate and its key, a
 * handshake verifying the server's name or address, and the target's
 * address.  Header-only: each program is one file plus this header, as
 * scripts/bench.sh compiles them.  Define OSSL_CLIENT_NAME (the program's
 * name, for messages) before including it.
 */
#ifndef OSSL_CLIENT_H
#define OSSL_CLIENT_H
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(OSSL_CLIENT_NAME ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---------------------------------------------------------------- OpenSSL */

static struct {
	typeof(TLS_client_method) *TLS_client_method;
	typeof(SSL_CTX_new) *SSL_CTX_new;
	typeof(SSL_CTX_free) *SSL_CTX_free;
	typeof(SSL_CTX_load_verify_locations) *SSL_CTX_load_verify_locations;
	typeof(SSL_CTX_use_certificate_chain_file) *SSL_CTX_use_certificate_chain_file;
	typeof(SSL_CTX_use_PrivateKey_file) *SSL_CTX_use_PrivateKey_file;
	typeof(SSL_CTX_check_private_key) *SSL_CTX_check_private_key;
	typeof(SSL_CTX_set_verify) *SSL_CTX_set_verify;
	typeof(SSL_CTX_ctrl) *SSL_CTX_ctrl;
	typeof(SSL_CTX_sess_set_new_cb) *SSL_CTX_sess_set_new_cb;
	typeof(SSL_new) *SSL_new;
	typeof(SSL_free) *SSL_free;
	typeof(SSL_set_fd) *SSL_set_fd;
	typeof(SSL_set_session) *SSL_set_session;
	typeof(SSL_SESSION_free) *SSL_SESSION_free;
	typeof(SSL_session_reused) *SSL_session_reused;
	typeof(SSL_get0_param) *SSL_get0_param;
	typeof(X509_VERIFY_PARAM_set1_ip_asc) *X509_VERIFY_PARAM_set1_ip_asc;
	typeof(SSL_set1_host) *SSL_set1_host;
	typeof(SSL_ctrl) *SSL_ctrl;
	typeof(SSL_connect) *SSL_connect;
	typeof(SSL_write) *SSL_write;
	typeof(SSL_read) *SSL_read;
	typeof(SSL_shutdown) *SSL_shutdown;
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
	OSSL_SYM(h, SSL_CTX_free);
	OSSL_SYM(h, SSL_CTX_load_verify_locations);
	OSSL_SYM(h, SSL_CTX_use_certificate_chain_file);
	OSSL_SYM(h, SSL_CTX_use_PrivateKey_file);
	OSSL_SYM(h, SSL_CTX_check_private_key);
	OSSL_SYM(h, SSL_CTX_set_verify);
	OSSL_SYM(h, SSL_CTX_ctrl);
	OSSL_SYM(h, SSL_CTX_sess_set_new_cb);
	OSSL_SYM(h, SSL_new);
	OSSL_SYM(h, SSL_free);
	OSSL_SYM(h, SSL_set_fd);
	OSSL_SYM(h, SSL_set_session);
	OSSL_SYM(h, SSL_SESSION_free);
	OSSL_SYM(h, SSL_session_reused);
	OSSL_SYM(h, SSL_get0_param);
	OSSL_SYM(h, X509_VERIFY_PARAM_set1_ip_asc);
	OSSL_SYM(h, SSL_set1_host);
	OSSL_SYM(h, SSL_ctrl);
	OSSL_SYM(h, SSL_connect);
	OSSL_SYM(h, SSL_write);
	OSSL_SYM(h, SSL_read);
	OSSL_SYM(h, SSL_shutdown);
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

/* tls_start: the handshake on connected socket fd, verifying host (an
   address when is_ip, else a name, also sent as SNI), offering session
   `resume` when not NULL. */
static SSL *tls_start(SSL_CTX *ctx, int fd, const char *host, int is_ip,
		      SSL_SESSION *resume)
{
	SSL *ssl = ossl.SSL_new(ctx);

	if (!ssl || ossl.SSL_set_fd(ssl, fd) != 1)
		die("SSL_new/SSL_set_fd failed");
	if (is_ip) {
		if (ossl.X509_VERIFY_PARAM_set1_ip_asc(ossl.SSL_get0_param(ssl), host) != 1)
			die("X509_VERIFY_PARAM_set1_ip_asc(%s) failed", host);
	} else if (ossl.SSL_set1_host(ssl, host) != 1 ||
		   ossl.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
				 TLSEXT_NAMETYPE_host_name, (void *)host) != 1) {
		die("SSL_set1_host/SNI(%s) failed", host);
	}
	if (resume && ossl.SSL_set_session(ssl, resume) != 1)
		die("SSL_set_session failed");
	if (ossl.SSL_connect(ssl) != 1) {
		long v = ossl.SSL_get_verify_result(ssl);

		ossl.ERR_print_errors_fp(stderr);
		die("TLS handshake with %s failed (verify: %s)", host,
		    ossl.X509_verify_cert_error_string(v));
	}
	return ssl;
}

/* ------------------------------------------------------------- targets */

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

/* ------------------------------------------------------------- arguments */

/* The command line both programs take: plain HOST PORT N, or tls HOST
   PORT N CAFILE CERTFILE KEYFILE.  Returns 1 for tls, 0 for plain; N in
   *n; usage() (which exits) for anything else. */
static int ossl_client_args(int argc, char **argv, long *n, void (*usage)(void))
{
	int tls;

	if (argc < 5)
		usage();
	tls = strcmp(argv[1], "tls") == 0;
	if (!tls && strcmp(argv[1], "plain") != 0)
		usage();
	if ((tls && argc != 8) || (!tls && argc != 5))
		usage();
	*n = strtol(argv[4], NULL, 10);
	if (*n < 1)
		usage();
	return tls;
}

#endif
