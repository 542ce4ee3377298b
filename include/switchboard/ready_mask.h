/*
 * ready_mask.h - the readiness of one TLS socket as a pure function: from a
 * snapshot of the socket (its state and hints) and the events the program
 * asked for, which events to ask the kernel for, which are ready without
 * asking, and what the program sees once the kernel has answered.
 *
 * The kernel cannot see what the session holds: plaintext already
 * decrypted is readable though the kernel says nothing; a socket in its
 * handshake is not writable though its TCP connection is; kernel bytes
 * that are only a session ticket or part of a record are not readable; a
 * read that needs a write (or the reverse) waits on the other event.
 * Sockets not on the fast path (FRESH, RELAY, DONE) report the kernel's
 * events as they are.
 *
 * Events are EPOLL* bits (POLLIN/POLLOUT/POLLPRI/POLLERR/POLLHUP have the
 * same values).  No socket, no lock, no system call: the readiness
 * module's callers take the snapshot (sock_view) and do what the answer
 * needs (drive the handshake, flush, probe), and the unit tests call these
 * with tables (tests/unit/test_ready_mask.c).
 */
#ifndef SHIM_READY_MASK_H
#define SHIM_READY_MASK_H

#include <stdint.h>
#include <sys/epoll.h>

#include "sock.h"

/* Always reported when the kernel says so, asked for or not. */
#define READY_ALWAYS (EPOLLERR | EPOLLHUP)
/* The flags of an epoll registration (not events). */
#define READY_FLAGS (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)
/* ready_mask_epoll: a one-shot registration that fired, awaiting
   EPOLL_CTL_MOD (registered with the kernel as EPOLLONESHOT alone). */
#define READY_DISARMED 0xffffffffu

/* What the masks depend on: a snapshot of the socket. */
struct ready_facts {
	enum sock_state state;
	unsigned hints;    /* SOCK_HINT_* */
	int hs_want;       /* SHIM_IO_WANT_* the handshake waits for */
	int owned;         /* this process owns the session (not a fork child) */
	int seen_data;     /* plaintext has arrived before */
	int records;       /* READY, kernel readable: its bytes make something
			      a read returns (plaintext, an end, an error):
			      the probe's answer, 1 when not probed */
	int just_ready;    /* the handshake finished while answering */
};

/* ready_mask_handshaking - 1 for CONNECTING and HANDSHAKING. */
int ready_mask_handshaking(enum sock_state st);

/* ready_mask_kernel - the events to ask the kernel for, for `want`. */
uint32_t ready_mask_kernel(const struct ready_facts *f, uint32_t want);

/* ready_mask_synthetic - the events of `want` ready without asking. */
uint32_t ready_mask_synthetic(const struct ready_facts *f, uint32_t want);

/* ready_mask_needs_flush - the kernel said `got`: push the session's
   unsent ciphertext first (its writability is the session's). */
int ready_mask_needs_flush(const struct ready_facts *f, uint32_t got);

/* ready_mask_needs_probe - the kernel says readable and nothing decrypted
   waits: only a probe (sock_probe_readable) tells whether the bytes are
   something a read returns.  Its answer goes in f->records. */
int ready_mask_needs_probe(const struct ready_facts *f, uint32_t want,
			   uint32_t got);

/*
 * ready_mask_report - the kernel reported `got` on a socket asked for
 * `want`: what the program sees.  For a socket in its handshake this is
 * nothing: the caller drives the handshake first and asks again with the
 * state it reached (just_ready set when that is READY).
 */
uint32_t ready_mask_report(const struct ready_facts *f, uint32_t want,
			   uint32_t got);

/* ready_mask_steady - the common case of epoll: a READY socket that has
   had plaintext and owes nothing to the kernel; its report needs no flush
   and no handshake, only a probe when the kernel says readable. */
int ready_mask_steady(const struct ready_facts *f);

/*
 * ready_mask_epoll - the events of the kernel registration mirroring an
 * epoll registration for app_events (events and flags); armed 0 once a
 * one-shot registration fired (READY_DISARMED).  Sockets off the fast path
 * or not owned register the program's events as they are.
 */
uint32_t ready_mask_epoll(const struct ready_facts *f, uint32_t app_events,
			  int armed);

#endif
