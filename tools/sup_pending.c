/*
 * sup_pending.c - the program's sockets whose non-blocking connect the
 * supervisor answered with EINPROGRESS and has not finished: connecting
 * (connect() again says EALREADY, getpeername() ENOTCONN) or failed (the
 * error SO_ERROR and connect() report once, as the kernel's sk_err).
 *
 * A small table under one lock: a pending connect is one per socket, and
 * few run at once.  A failed entry the program never asks about is
 * dropped when its slot is needed.
 */
#include "supervise.h"

#include <pthread.h>

#define SUP_PENDING_MAX 256

static struct {
	ino_t ino;
	enum sup_pstate state;
	int err;
	unsigned long age; /* order of the last change: the oldest goes first */
} pend[SUP_PENDING_MAX];
static unsigned long pend_clock;
static pthread_mutex_t pend_lock = PTHREAD_MUTEX_INITIALIZER;

static int pend_find(ino_t ino)
{
	for (int i = 0; i < SUP_PENDING_MAX; i++)
		if (pend[i].state != SUP_P_FREE && pend[i].ino == ino)
			return i;
	return -1;
}

/* A free slot, else the oldest failed one's: its index, or -1. */
static int pend_slot(void)
{
	int old = -1;

	for (int i = 0; i < SUP_PENDING_MAX; i++) {
		if (pend[i].state == SUP_P_FREE)
			return i;
		if (pend[i].state == SUP_P_FAILED &&
		    (old < 0 || pend[i].age < pend[old].age))
			old = i;
	}
	return old;
}

int sup_pending_set(ino_t ino, enum sup_pstate state, int err)
{
	int i, rc = 0;

	pthread_mutex_lock(&pend_lock);
	i = pend_find(ino);
	if (i < 0 && state != SUP_P_FREE)
		i = pend_slot();
	if (i < 0)
		rc = state == SUP_P_FREE ? 0 : -1;
	else
		pend[i] = (__typeof__(pend[0])){ .ino = ino, .state = state,
						 .err = err,
						 .age = ++pend_clock };
	pthread_mutex_unlock(&pend_lock);
	return rc;
}

enum sup_pstate sup_pending_get(ino_t ino, int *err)
{
	enum sup_pstate st = SUP_P_FREE;
	int i;

	pthread_mutex_lock(&pend_lock);
	i = pend_find(ino);
	if (i >= 0) {
		st = pend[i].state;
		*err = pend[i].err;
		if (st == SUP_P_FAILED)
			pend[i].state = SUP_P_FREE; /* reported once */
	}
	pthread_mutex_unlock(&pend_lock);
	return st;
}

enum sup_pstate sup_pending_peek(ino_t ino)
{
	enum sup_pstate st = SUP_P_FREE;
	int i;

	pthread_mutex_lock(&pend_lock);
	if ((i = pend_find(ino)) >= 0)
		st = pend[i].state;
	pthread_mutex_unlock(&pend_lock);
	return st;
}
