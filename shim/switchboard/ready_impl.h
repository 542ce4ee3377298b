/*
 * ready_impl.h - what the readiness module's files share (ready_drive.c,
 * ready_poll.c, ready_epoll.c); included by nothing else.
 */
#ifndef SHIM_READY_IMPL_H
#define SHIM_READY_IMPL_H

#include "ready_mask.h"
#include "sock.h"

#include <time.h>

/* ready_facts_of - the facts of a snapshot (records 1, just_ready 0). */
void ready_facts_of(const struct sock_view *v, struct ready_facts *f);

/* ready_look - sock_view and ready_facts_of at once. */
void ready_look(struct shim_sock *s, int fd, struct sock_view *v,
		struct ready_facts *f);

/*
 * ready_complete - the kernel reported `got` about descriptor `from` (the
 * private socket, the program's fd, or -1: not known) for socket s (the
 * program's fd, asked for `want`): drive the handshake, flush or probe as
 * the answer needs, and say what the program sees.  Caller holds a
 * reference, no lock.
 */
uint32_t ready_complete(struct shim_sock *s, int fd, uint32_t want,
			uint32_t got, int from);

/* ready_deadline - the deadline of a poll-style timeout: NULL (wait
   forever) or *deadline. */
struct timespec *ready_deadline(const struct timespec *timeout,
				struct timespec *deadline);

/* ready_timeout_ms - milliseconds left to deadline (-1: none). */
int ready_timeout_ms(const struct timespec *deadline);

#endif
