/*
 * tls_cert.c - certificate facts and text (see tls_cert.h): days left,
 * subject, issuer, SANs, validity, public-key pin, and the one way names
 * and times are printed in the engine's log lines.
 *
 * Reads the certificate only; no state; thread-safe.
 */
#include "tls_cert.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"

X509 *tls_cert_peer(SSL *ssl)
{
	return SSL_get0_peer_certificate(ssl);
}

X509 *tls_cert_own(SSL *ssl)
{
	return SSL_get_certificate(ssl);
}

X509 *tls_cert_of_ctx(SSL_CTX *ctx)
{
	return SSL_CTX_get0_certificate(ctx);
}

int tls_cert_days_left(const X509 *cert, long *days, char *date, size_t len)
{
	const ASN1_TIME *na = X509_get0_notAfter(cert);
	int d, s;

	if (na == NULL || ASN1_TIME_diff(&d, &s, NULL, na) != 1)
		return -1;
	/* d and s share a sign; a part day left is a day not yet gone */
	*days = d < 0 || s < 0 ? (d < 0 ? d : -1) : d;
	if (len > 0)
		tls_time_text(na, date, len);
	return 0;
}

void tls_name_text(const X509_NAME *n, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int k;

	if (len == 0)
		goto done;
	out[0] = '\0';
	if (b == NULL)
		goto done;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	k = BIO_read(b, out, (int)len - 1);
	out[k > 0 ? k : 0] = '\0';
done:
	BIO_free(b);
}

void tls_time_text(const ASN1_TIME *t, char *out, size_t len)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(out, len, "?");
		return;
	}
	strftime(out, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

void tls_cert_subject(const X509 *cert, char *out, size_t len)
{
	tls_name_text(X509_get_subject_name(cert), out, len);
}

void tls_cert_issuer(const X509 *cert, char *out, size_t len)
{
	tls_name_text(X509_get_issuer_name(cert), out, len);
}

void tls_cert_validity(const X509 *cert, char *nb, char *na, size_t len)
{
	tls_time_text(X509_get0_notBefore(cert), nb, len);
	tls_time_text(X509_get0_notAfter(cert), na, len);
}

int tls_cert_pin(const X509 *cert, char *out)
{
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	int ok;

	out[0] = '\0';
	if (n <= 0)
		return -1;
	ok = EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, md, sizeof(md)) ==
			       TLS_PIN_LEN ? 0 : -1;
}

void tls_cert_sans(X509 *cert, char *out, size_t len)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
						NULL, NULL);
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		char ip[ADDR_TEXT_MAX] = "";
		int k = 0;

		if (g->type == GEN_DNS)
			k = snprintf(out + n, len - n, "%sDNS:%s", n ? "," : "",
				     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		else if (g->type == GEN_IPADD) {
			struct addr_ip a;
			int l = ASN1_STRING_length(g->d.iPAddress);
			if (l > 0 &&
			    addr_from_bytes(ASN1_STRING_get0_data(g->d.iPAddress),
					    (size_t)l, &a) == 0)
				addr_format(&a, ip, sizeof(ip));
			k = snprintf(out + n, len - n, "%sIP:%s", n ? "," : "", ip);
		}
		if (k < 0 || (size_t)k >= len - n)
			break;
		n += (size_t)k;
	}
	GENERAL_NAMES_free(names);
	if (n == 0)
		snprintf(out, len, "none");
}

void tls_cert_describe(X509 *cert, char *out, size_t len)
{
	char subj[TLS_NAME_MAX], iss[TLS_NAME_MAX], sans[TLS_SANS_MAX];
	char nb[TLS_DATE_MAX], na[TLS_DATE_MAX];

	tls_cert_subject(cert, subj, sizeof(subj));
	tls_cert_issuer(cert, iss, sizeof(iss));
	tls_cert_sans(cert, sans, sizeof(sans));
	tls_cert_validity(cert, nb, na, sizeof(nb));
	snprintf(out, len, "subject '%s', SANs %s, issuer '%s', valid %s to %s",
		 subj, sans, iss, nb, na);
}
