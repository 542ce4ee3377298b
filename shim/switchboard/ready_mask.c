/*
 * ready_mask.c - the readiness of one TLS socket, a pure function of its
 * snapshot (see ready_mask.h).
 *
 * Invariants: no socket, no lock, no system call, no global state; the
 * readiness module (ready_drive.c, ready_epoll.c) and the unit tests call
 * it, it calls nothing but sock.h's inline sock_emulated().  Thread-safe.
 */
#include "ready_mask.h"

int ready_mask_handshaking(enum sock_state st)
{
	return st == SOCK_CONNECTING || st == SOCK_HANDSHAKING;
}

/* An open session is writable without asking the kernel while nothing
   says otherwise: no ciphertext waits for the kernel, the last write did
   not meet a full buffer, no write waits for a read.  A program that then
   meets EAGAIN waits on the kernel from there on (SOCK_HINT_WR_BLOCKED),
   until a write goes. */
static int ready_mask_writable(unsigned h)
{
	return !(h & (SOCK_HINT_UNSENT | SOCK_HINT_WR_BLOCKED |
		      SOCK_HINT_WR_WANTS_RD));
}

/* An open session waits on the kernel for what the program asked and is
   not known ready, and for what its own records need: unsent ciphertext,
   a read that needs a write, a write that needs a read. */
static uint32_t ready_mask_kernel_open(unsigned h, uint32_t want)
{
	uint32_t k = want;

	if (ready_mask_writable(h))
		k &= ~(uint32_t)EPOLLOUT;

	if (h & SOCK_HINT_UNSENT)
		k |= EPOLLOUT;
	if ((h & SOCK_HINT_RD_WANTS_WR) && (want & EPOLLIN))
		k |= EPOLLOUT;
	if ((h & SOCK_HINT_WR_WANTS_RD) && (want & EPOLLOUT))
		k |= EPOLLIN;
	return k;
}

uint32_t ready_mask_kernel(const struct ready_facts *f, uint32_t want)
{
	switch (f->state) {
	case SOCK_FRESH:
	case SOCK_RELAY:
	case SOCK_DONE:
		return want;
	case SOCK_CONNECTING:
		return EPOLLOUT;
	case SOCK_HANDSHAKING:
		return f->hs_want == SHIM_IO_WANT_READ ? EPOLLIN : EPOLLOUT;
	case SOCK_FAILED:
		return 0;
	case SOCK_READY:
	default:
		return ready_mask_kernel_open(f->hints, want);
	}
}

uint32_t ready_mask_synthetic(const struct ready_facts *f, uint32_t want)
{
	switch (f->state) {
	case SOCK_FAILED:
		return READY_ALWAYS | (want & (EPOLLIN | EPOLLOUT));
	case SOCK_READY: {
		uint32_t r = 0;

		if ((want & EPOLLIN) && (f->hints & SOCK_HINT_BUFFERED))
			r |= EPOLLIN;
		if ((want & EPOLLOUT) && ready_mask_writable(f->hints))
			r |= EPOLLOUT;
		return r;
	}
	default:
		return 0;
	}
}

int ready_mask_needs_flush(const struct ready_facts *f, uint32_t got)
{
	return f->state == SOCK_READY && (got & EPOLLOUT) &&
	       (f->hints & SOCK_HINT_UNSENT);
}

int ready_mask_needs_probe(const struct ready_facts *f, uint32_t want,
			   uint32_t got)
{
	return f->state == SOCK_READY && (want & EPOLLIN) && (got & EPOLLIN) &&
	       !(got & READY_ALWAYS) && !(f->hints & SOCK_HINT_BUFFERED);
}

/* READY: the kernel's answer seen through the session. */
static uint32_t ready_mask_report_open(const struct ready_facts *f,
				       uint32_t want, uint32_t got)
{
	unsigned h = f->hints;
	uint32_t r = got & (READY_ALWAYS | (want & (EPOLLRDHUP | EPOLLPRI)));

	/* readable means a read would return something: not a session
	   ticket, not part of a record */
	if (!f->records && (want & EPOLLIN) && !(got & READY_ALWAYS))
		got &= ~(uint32_t)EPOLLIN;
	if ((want & EPOLLIN) &&
	    ((got & (EPOLLIN | READY_ALWAYS)) || (h & SOCK_HINT_BUFFERED) ||
	     ((h & SOCK_HINT_RD_WANTS_WR) && (got & EPOLLOUT))))
		r |= EPOLLIN;
	if ((want & EPOLLOUT) &&
	    (((got & EPOLLOUT) && !(h & SOCK_HINT_UNSENT)) ||
	     ready_mask_writable(h) ||
	     ((h & SOCK_HINT_WR_WANTS_RD) && (got & EPOLLIN))))
		r |= EPOLLOUT;
	return r;
}

uint32_t ready_mask_report(const struct ready_facts *f, uint32_t want,
			   uint32_t got)
{
	if (!sock_emulated(f->state))
		return got & (want | READY_ALWAYS);
	if (ready_mask_handshaking(f->state))
		return 0;
	if (f->state == SOCK_FAILED)
		return ready_mask_synthetic(f, want);
	/* the handshake just finished: the connect is done (writable) */
	if (f->just_ready)
		return (want & EPOLLOUT) | ready_mask_synthetic(f, want);
	return ready_mask_report_open(f, want, got);
}

int ready_mask_steady(const struct ready_facts *f)
{
	return f->state == SOCK_READY && f->seen_data &&
	       !(f->hints & ~SOCK_HINT_BUFFERED);
}

uint32_t ready_mask_epoll(const struct ready_facts *f, uint32_t app_events,
			  int armed)
{
	uint32_t want = app_events & ~READY_FLAGS;

	if (!armed) /* a one-shot that fired, until the program re-arms it */
		return READY_DISARMED;
	if (!sock_emulated(f->state) || !f->owned)
		return app_events;
	if (f->state != SOCK_READY)
		return ready_mask_kernel(f, want);
	/* an edge-triggered or one-shot registration hears its edges from
	   the kernel: writability is the kernel's too */
	if (app_events & (EPOLLET | EPOLLONESHOT))
		return ready_mask_kernel(f, want) | (want & EPOLLOUT) |
		       (app_events & (EPOLLET | EPOLLONESHOT));
	return ready_mask_kernel(f, want);
}
