/*
 * ready_drive.c - one socket's readiness, for poll/select (ready_poll.c)
 * and epoll (ready_epoll.c): take the socket's snapshot, let the pure mask
 * (ready_mask.c) decide, and do what its answer needs on the way: drive a
 * handshake the kernel woke (or whose deadline passed), push unsent
 * ciphertext, probe whether readable bytes are more than a session
 * ticket.
 *
 * Calls: the socket module (sock_view, sock_step, sock_flush,
 * sock_probe_readable), ready_mask.c, block.c, and the real poll() for a
 * socket that has just left the fast path.  Called by ready_poll.c and
 * ready_epoll.c.  Takes no lock of its own; the socket calls take the
 * socket's lock for their engine call and release it.
 */
#include "ready_impl.h"
#include "block.h"
#include "real.h"

#include <poll.h>

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

	if (got == 0 && !deadline_passed(&v->hs_deadline))
		return 0;
	sock_step(s, fd);
	ready_look(s, fd, &now, &f);
	if (f.state == SOCK_READY)
		f.just_ready = 1;
	else if (f.state != SOCK_FAILED)
		return 0; /* still in it, or relay.c took it over */
	return ready_mask_report(&f, want, got);
}

/* Relayed (or ended) after a session on the fast path: the program's
   descriptor is its socketpair end now. */
static int ready_left_fast_path(enum sock_state st)
{
	return st == SOCK_RELAY || st == SOCK_DONE;
}

/*
 * A socket that left the fast path, with an answer about another
 * descriptor (the private socket, asked before relay.c took the
 * connection over) or one not known to be the program's: that says
 * nothing of the program's descriptor (a read there would block: the
 * relay may hold only part of a record).  The kernel's answer for the
 * program's descriptor itself, now: one poll, in the round of the switch
 * only.
 */
static uint32_t ready_ask_program_fd(int fd, uint32_t want)
{
	struct pollfd p = { .fd = fd, .events = (short)(want & 0xffffu) };

	if (real.poll(&p, 1, 0) <= 0)
		return 0;
	return (uint16_t)p.revents & (want | READY_ALWAYS);
}

uint32_t ready_complete(struct shim_sock *s, int fd, uint32_t want,
			uint32_t got, int from)
{
	struct sock_view v;
	struct ready_facts f;

	ready_look(s, fd, &v, &f);
	if (ready_left_fast_path(f.state) && from != fd)
		return ready_ask_program_fd(fd, want);
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
	if (sock_emulated(f.state) && ready_left_fast_path(v.state))
		return ready_ask_program_fd(fd, want); /* switched meanwhile */
	return ready_mask_report(&f, want, got);
}

struct timespec *ready_deadline(const struct timespec *timeout,
				struct timespec *deadline)
{
	if (timeout == NULL)
		return NULL;
	deadline_in_ms(deadline, deadline_ts_to_ms(timeout));
	return deadline;
}

int ready_timeout_ms(const struct timespec *deadline)
{
	return deadline == NULL ? -1 : deadline_left_ms(deadline);
}
