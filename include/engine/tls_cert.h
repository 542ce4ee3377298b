/*
 * tls_cert.h - certificate facts the engine checks and logs: where the
 * certificate of a session or context is, how many days it has left, its
 * public-key pin; and the one set of certificate-text helpers every log
 * line uses (names as RFC 2253, times as "YYYY-MM-DD HH:MM:SSZ", SANs,
 * a whole certificate described).
 *
 * Reads certificates only: no state, thread-safe.  No reference is taken
 * or given by any function here.
 */
#ifndef SHIM_TLS_CERT_H
#define SHIM_TLS_CERT_H

#include <stddef.h>

#include "tls_types.h"

#define TLS_EXPIRY_WARN_DAYS 14
#define TLS_PIN_LEN 44   /* base64 of a SHA-256 digest */
#define TLS_DATE_MAX 32  /* "YYYY-MM-DD HH:MM:SSZ" and room */
#define TLS_NAME_MAX 256 /* a subject or issuer as printed in log lines */
#define TLS_SANS_MAX 256 /* "DNS:a,IP:b" as printed in log lines */
/* tls_cert_describe's text: subject, SANs, issuer, two dates, words */
#define TLS_CERT_TEXT_MAX 768

/* The server's certificate of a finished handshake, our own, or the
   client certificate of a context; NULL if none. */
X509 *tls_cert_peer(SSL *ssl);
X509 *tls_cert_own(SSL *ssl);
X509 *tls_cert_of_ctx(SSL_CTX *ctx);

/*
 * tls_cert_days_left - whole days from now to the certificate's notAfter
 * (negative once expired) into *days, its date ("2025-01-31 12:00:00Z")
 * into date.  Returns 0, or -1 if the certificate has no usable notAfter.
 */
int tls_cert_days_left(const X509 *cert, long *days, char *date, size_t len);

/* tls_name_text - a name as RFC 2253 text ("" if it cannot be printed);
   tls_time_text - a time as "YYYY-MM-DD HH:MM:SSZ" ("?" if unreadable). */
void tls_name_text(const X509_NAME *n, char *out, size_t len);
void tls_time_text(const ASN1_TIME *t, char *out, size_t len);

/* tls_cert_subject, tls_cert_issuer - that name as RFC 2253 text. */
void tls_cert_subject(const X509 *cert, char *out, size_t len);
void tls_cert_issuer(const X509 *cert, char *out, size_t len);

/* tls_cert_validity - notBefore into nb and notAfter into na (each `len`
   bytes), as tls_time_text prints them. */
void tls_cert_validity(const X509 *cert, char *nb, char *na, size_t len);

/* tls_cert_sans - the subject alternative names, "DNS:a,IP:b" ("none" if
   it has none). */
void tls_cert_sans(X509 *cert, char *out, size_t len);

/* tls_cert_describe - "subject 'CN=x', SANs DNS:a,IP:b, issuer 'CN=y',
   valid A to B": what a verification failure names. */
void tls_cert_describe(X509 *cert, char *out, size_t len);

/* tls_cert_pin - base64 SHA-256 of the SubjectPublicKeyInfo (the form of
   pin_sha256 and curl's --pinnedpubkey sha256//), into out
   (TLS_PIN_LEN + 1 bytes).  Returns 0 or -1. */
int tls_cert_pin(const X509 *cert, char *out);

#endif
