/*
 * ready_drive.c - one socket's readiness, for poll/select (ready_poll.c)
 * and epoll (ready_epoll.c): take the socket's snapshot, let the pure mask
 * (ready_mask.c) decide, and do what its answer needs on the way: drive a
 * handshake the kernel woke (or whose deadline passed), push unsent
 * ciphertext, probe whether readable bytes are more than a session
 * ticket.
 *
 * Calls: the socket module (sock_view, sock_step, sock_flush,
 * sock_probe_readable), ready_mask.c, block.c.  Called by ready_poll.c and
 * ready_epoll.c.  Takes no lock of its own; the socket calls take the
 * socket's lock for their engine call and release it.
 */
#include "ready_impl.h"
#include "block.h"

void ready_facts_of(const struct sock_view *v, struct ready_facts *f)
{
	f->state = v->state;
	f->hints = v->hints;
	f->hs_want = v->hs_want;
	f->owned = v->owned;
	f->seen_data = v->seen_data;
	f->records = 1;
	f->just_ready = 0;
}

void ready_look(struct shim_sock *s, int fd, struct sock_view *v,
		struct ready_facts *f)
{
	sock_view(s, fd, v);
	ready_facts_of(v, f);
}

/* A socket in its handshake: the kernel's answer (or the deadline) moves
   the handshake on; the program sees nothing until it has ended. */
static uint32_t ready_complete_handshake(struct shim_sock *s, int fd,
					 const struct sock_view *v,
					 uint32_t want, uint32_t got)
{
	struct sock_view now;
	struct ready_facts f;

	if (got == 0 && !block_expired(&v->hs_deadline))
		return 0;
	sock_step(s, fd);
	ready_look(s, fd, &now, &f);
	if (f.state == SOCK_READY)
		f.just_ready = 1;
	else if (f.state != SOCK_FAILED)
		return 0; /* still in it, or relay.c took it over */
	return ready_mask_report(&f, want, got);
}

uint32_t ready_complete(struct shim_sock *s, int fd, uint32_t want,
			uint32_t got)
{
	struct sock_view v;
	struct ready_facts f;

	ready_look(s, fd, &v, &f);
	if (ready_mask_handshaking(f.state))
		return ready_complete_handshake(s, fd, &v, want, got);
	if (ready_mask_needs_flush(&f, got))
		sock_flush(s, fd);
	/* the hints as the flush left them; the state as the answer began */
	sock_view(s, fd, &v);
	f.hints = v.hints;
	if (ready_mask_needs_probe(&f, want, got)) {
		f.records = sock_probe_readable(s, fd);
		sock_view(s, fd, &v);
		f.hints = v.hints;
	}
	return ready_mask_report(&f, want, got);
}

struct timespec *ready_deadline(const struct timespec *timeout,
				struct timespec *deadline)
{
	if (timeout == NULL)
		return NULL;
	block_deadline_ms(deadline, timeout->tv_sec * 1000 +
					    (timeout->tv_nsec + 999999) / 1000000);
	return deadline;
}

int ready_timeout_ms(const struct timespec *deadline)
{
	return deadline == NULL ? -1 : block_remaining_ms(deadline);
}
