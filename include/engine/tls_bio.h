/*
 * tls_bio.h - the BIO between OpenSSL and the kernel socket.
 *
 * It calls the switchboard's real recv/send (never read/write, which a
 * program-loaded libcrypto would route back into the hooks), always with
 * MSG_DONTWAIT | MSG_NOSIGNAL.  Writes never fail with "retry": whatever
 * the kernel does not take is kept in `out` and owned by the session, so
 * SSL_write never sees a retry and the program may retry a write with any
 * buffer.  Not thread-safe: used under the session lock.
 */
#ifndef SHIM_TLS_BIO_H
#define SHIM_TLS_BIO_H

#include "tls_types.h"
#include <stddef.h>

struct tls_bio {
	int fd;
	unsigned char *out; /* owned ciphertext the kernel has not taken */
	size_t off, len, cap;
	int last_errno;     /* errno of the last failed recv/send */
	int eof;            /* the peer closed the TCP stream */
	int drained;        /* the last recv took less than it asked for
			       (or found nothing): the kernel had no more */
};

/* tls_bio_new - a BIO over st (which must outlive it); NULL on failure. */
BIO *tls_bio_new(struct tls_bio *st);

/* tls_bio_flush - send owned bytes: 0 none left, 1 the kernel is full,
   -1 error (st->last_errno). */
int tls_bio_flush(struct tls_bio *st);

/* tls_bio_unsent - owned bytes not yet sent. */
size_t tls_bio_unsent(const struct tls_bio *st);

/* tls_bio_release - free the owned buffer. */
void tls_bio_release(struct tls_bio *st);

#endif
