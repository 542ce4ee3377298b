/*
 * tls_types.h - OpenSSL's types by name, for the engine's headers.
 *
 * The engine's headers declare functions that take an SSL or an X509, but
 * include no OpenSSL header: OpenSSL headers are read by the .c files of shim/engine/ only
 * (tests/tree-check.sh), so a file that includes an engine header does not
 * pull OpenSSL in by accident.  These are OpenSSL's own typedefs (C11
 * allows a typedef to be repeated), so a .c file may include both.
 */
#ifndef SHIM_TLS_TYPES_H
#define SHIM_TLS_TYPES_H

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_session_st SSL_SESSION;
typedef struct bio_st BIO;
typedef struct x509_st X509;
typedef struct X509_name_st X509_NAME;
typedef struct x509_store_ctx_st X509_STORE_CTX;
typedef struct asn1_string_st ASN1_TIME;

#endif
