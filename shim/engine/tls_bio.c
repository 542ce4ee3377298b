/*
 * tls_bio.c - a source/sink BIO on the real recv/send.
 */
#include "tls_bio.h"
#include "engine.h"

#include <errno.h>
#include <openssl/bio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TLS_BIO_IOFLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)

static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

static int tls_bio_keep(struct tls_bio *st, const unsigned char *p, size_t n)
{
	if (st->off > 0 && st->off == st->len)
		st->off = st->len = 0;
	if (st->len + n > st->cap) {
		size_t cap = st->cap ? st->cap : 4096;
		unsigned char *q;

		if (st->off > 0) {
			memmove(st->out, st->out + st->off, st->len - st->off);
			st->len -= st->off;
			st->off = 0;
		}
		while (cap < st->len + n)
			cap *= 2;
		if (cap != st->cap) {
			q = realloc(st->out, cap);
			if (q == NULL)
				return -1;
			st->out = q;
			st->cap = cap;
		}
	}
	memcpy(st->out + st->len, p, n);
	st->len += n;
	return 0;
}

int tls_bio_flush(struct tls_bio *st)
{
	while (st->off < st->len) {
		ssize_t n = engine_host->send(st->fd, st->out + st->off,
					      st->len - st->off,
					      TLS_BIO_IOFLAGS);
		if (n > 0) {
			st->off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		st->last_errno = n < 0 ? errno : EPIPE;
		return -1;
	}
	/* idle connections keep no buffer */
	tls_bio_release(st);
	return 0;
}

size_t tls_bio_unsent(const struct tls_bio *st)
{
	return st->len - st->off;
}

void tls_bio_release(struct tls_bio *st)
{
	free(st->out);
	st->out = NULL;
	st->off = st->len = st->cap = 0;
}

static int tls_bio_write(BIO *b, const char *data, int dlen)
{
	struct tls_bio *st = BIO_get_data(b);
	size_t sent = 0;

	BIO_clear_retry_flags(b);
	if (dlen <= 0)
		return 0;
	if (tls_bio_unsent(st) == 0) {
		ssize_t n;
		do
			n = engine_host->send(st->fd, data, (size_t)dlen,
					      TLS_BIO_IOFLAGS);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			st->last_errno = errno;
			return -1;
		}
		sent = n > 0 ? (size_t)n : 0;
	}
	if (sent < (size_t)dlen &&
	    tls_bio_keep(st, (const unsigned char *)data + sent,
			 (size_t)dlen - sent) < 0) {
		st->last_errno = ENOMEM;
		return -1;
	}
	return dlen;
}

static int tls_bio_read(BIO *b, char *buf, int len)
{
	struct tls_bio *st = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do
		n = engine_host->recv(st->fd, buf, (size_t)len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	st->drained = n < len;
	if (n > 0)
		return (int)n;
	if (n == 0) {
		st->eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		BIO_set_retry_read(b);
		return -1;
	}
	st->last_errno = errno;
	return -1;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_bio *st = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; /* the session flushes owned bytes itself */
	case BIO_CTRL_EOF:
		return st != NULL && st->eof;
	case BIO_CTRL_WPENDING:
		return st != NULL ? (long)tls_bio_unsent(st) : 0;
	case BIO_CTRL_PENDING:
		return 0;
	default:
		return 0;
	}
}

static int tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void tls_bio_init_method(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "redis-tls-shim socket");

	if (m == NULL)
		return;
	BIO_meth_set_write(m, tls_bio_write);
	BIO_meth_set_read(m, tls_bio_read);
	BIO_meth_set_ctrl(m, tls_bio_ctrl);
	BIO_meth_set_create(m, tls_bio_create);
	tls_bio_method = m;
}

BIO *tls_bio_new(struct tls_bio *st)
{
	BIO *b;

	pthread_once(&tls_bio_once, tls_bio_init_method);
	if (tls_bio_method == NULL || (b = BIO_new(tls_bio_method)) == NULL)
		return NULL;
	BIO_set_data(b, st);
	return b;
}
