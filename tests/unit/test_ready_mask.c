/*
 * test_ready_mask.c - the readiness mask of a TLS socket (ready_mask.c) as
 * tables: state x hints x requested events x kernel events -> the events
 * the program sees, what the kernel is asked for, what is ready without
 * asking, and the kernel registration mirroring an epoll registration.
 * Each row is a case a user of poll/select/epoll would notice: a socket in
 * its handshake that looked writable would get the program's request
 * written before the peer is verified (refused, or lost); plaintext the
 * session holds that did not look readable would hang an event loop; a
 * session ticket that looked readable would make a non-blocking read
 * return EAGAIN after poll said "readable" (busy loops, or a blocking read
 * that hangs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ready_mask.h"

#define IN EPOLLIN
#define OUT EPOLLOUT
#define PRI EPOLLPRI
#define ERR EPOLLERR
#define HUP EPOLLHUP
#define RDHUP EPOLLRDHUP
#define ET EPOLLET
#define ONESHOT EPOLLONESHOT
#define EXCL EPOLLEXCLUSIVE

#define BUF SOCK_HINT_BUFFERED
#define UNSENT SOCK_HINT_UNSENT
#define RDWR SOCK_HINT_RD_WANTS_WR
#define WRRD SOCK_HINT_WR_WANTS_RD
#define BLK SOCK_HINT_WR_BLOCKED

#define HS_RD SHIM_IO_WANT_READ
#define HS_WR SHIM_IO_WANT_WRITE

/* records: 1 kernel bytes make something a read returns (or not probed),
   0 they are only TLS records of the session's own (a ticket). */
#define TICKET 0
#define DATA 1

static struct ready_facts facts(enum sock_state st, unsigned hints,
				int hs_want, int records, int just_ready)
{
	struct ready_facts f;

	memset(&f, 0, sizeof(f));
	f.state = st;
	f.hints = hints;
	f.hs_want = hs_want;
	f.owned = 1;
	f.seen_data = 1;
	f.records = records;
	f.just_ready = just_ready;
	return f;
}

static void check(const char *what, const char *why, uint32_t got,
		  uint32_t want)
{
	if (got != want)
		fail_msg("%s: %s: got 0x%x, expected 0x%x", what, why,
			 (unsigned)got, (unsigned)want);
}

/* ---- what the program sees once the kernel answered ------------------ */

struct report_row {
	const char *why;
	enum sock_state st;
	unsigned hints;
	int records, just_ready;
	uint32_t want, kernel, expect;
};

static const struct report_row report_rows[] = {
	/* off the fast path: the kernel's events, as they are */
	{ "not connected yet: the kernel's readability", SOCK_FRESH, 0, DATA, 0, IN, IN, IN },
	{ "not connected yet: events not asked for are not reported", SOCK_FRESH, 0, DATA, 0, IN, OUT, 0 },
	{ "not connected yet: a hang-up is always reported", SOCK_FRESH, 0, DATA, 0, IN, HUP, HUP },
	{ "relayed: readable and writable as the socketpair is", SOCK_RELAY, 0, DATA, 0, IN | OUT, IN | OUT, IN | OUT },
	{ "relayed: hints of the old session are ignored", SOCK_RELAY, BUF | UNSENT, TICKET, 0, IN | OUT, OUT, OUT },
	{ "relayed: an error is always reported", SOCK_RELAY, 0, DATA, 0, OUT, ERR, ERR },
	{ "ended: a peer half-close asked for", SOCK_DONE, 0, DATA, 0, IN | RDHUP, IN | RDHUP, IN | RDHUP },
	{ "ended: a half-close not asked for", SOCK_DONE, 0, DATA, 0, IN, IN | RDHUP, IN },
	/* connect and handshake: nothing until it is over */
	{ "TCP connect done, no TLS yet: not writable", SOCK_CONNECTING, 0, DATA, 0, OUT, OUT, 0 },
	{ "handshaking: not writable though the kernel is", SOCK_HANDSHAKING, 0, DATA, 0, OUT, OUT, 0 },
	{ "handshaking: the server's flight is not readable", SOCK_HANDSHAKING, 0, DATA, 0, IN, IN, 0 },
	{ "handshaking: an error waits for the handshake step", SOCK_HANDSHAKING, 0, DATA, 0, IN | OUT, ERR | HUP, 0 },
	{ "handshake just done: writable whatever woke it", SOCK_READY, 0, DATA, 1, OUT, IN, OUT },
	{ "handshake just done: not readable without plaintext", SOCK_READY, 0, DATA, 1, IN, IN, 0 },
	{ "handshake just done: plaintext that came with it is readable", SOCK_READY, BUF, DATA, 1, IN | OUT, IN, IN | OUT },
	/* a failed connection: an error, readable and writable so the call
	   reports it */
	{ "failed: readable, to read the error", SOCK_FAILED, 0, DATA, 0, IN, 0, IN | ERR | HUP },
	{ "failed: writable, to get the error", SOCK_FAILED, 0, DATA, 0, OUT, 0, OUT | ERR | HUP },
	{ "failed: error and hang-up even when nothing is asked", SOCK_FAILED, 0, DATA, 0, 0, 0, ERR | HUP },
	{ "failed: the kernel's events do not matter", SOCK_FAILED, BUF, DATA, 0, IN, IN | OUT, IN | ERR | HUP },
	/* an open session: readability */
	{ "buffered plaintext is readable though the kernel says nothing", SOCK_READY, BUF, DATA, 0, IN, 0, IN },
	{ "a session ticket alone is not readable", SOCK_READY, 0, TICKET, 0, IN, IN, 0 },
	{ "part of a record is not readable", SOCK_READY, 0, TICKET, 0, IN | RDHUP, IN, 0 },
	{ "kernel bytes that make a record are readable", SOCK_READY, 0, DATA, 0, IN, IN, IN },
	{ "a ticket after buffered plaintext: still readable", SOCK_READY, BUF, TICKET, 0, IN, IN, IN },
	{ "a ticket while writable: only writable", SOCK_READY, 0, TICKET, 0, IN | OUT, IN | OUT, OUT },
	{ "a hang-up is readable: the read returns the end", SOCK_READY, 0, TICKET, 0, IN, IN | HUP, IN | HUP },
	{ "an error is readable: the read returns it", SOCK_READY, 0, DATA, 0, IN, ERR, IN | ERR },
	{ "a peer half-close asked for is reported", SOCK_READY, 0, DATA, 0, IN | RDHUP, IN | RDHUP, IN | RDHUP },
	{ "urgent data asked for is reported", SOCK_READY, 0, DATA, 0, PRI, PRI, PRI },
	{ "a hang-up when nothing is asked", SOCK_READY, 0, DATA, 0, 0, HUP, HUP },
	{ "writable is not readable", SOCK_READY, 0, DATA, 0, IN, OUT, 0 },
	{ "a read that needs a write: readable once writable", SOCK_READY, RDWR, DATA, 0, IN, OUT, IN },
	{ "a read that needs a write: not readable before", SOCK_READY, RDWR, DATA, 0, IN, 0, 0 },
	/* an open session: writability */
	{ "writable with nothing unsent", SOCK_READY, 0, DATA, 0, OUT, OUT, OUT },
	{ "unsent ciphertext: not writable yet", SOCK_READY, UNSENT, DATA, 0, OUT, OUT, 0 },
	{ "unsent ciphertext does not stop readability", SOCK_READY, UNSENT | BUF, DATA, 0, IN | OUT, OUT, IN },
	{ "a write that needs a read: writable once readable", SOCK_READY, WRRD, DATA, 0, OUT, IN, OUT },
	{ "writable without the kernel while no write met a full buffer", SOCK_READY, 0, DATA, 0, OUT, IN, OUT },
	{ "after a full buffer, readable is not writable", SOCK_READY, BLK, DATA, 0, OUT, IN, 0 },
	{ "after a full buffer, writable when the kernel says so", SOCK_READY, BLK, DATA, 0, OUT, OUT, OUT },
	{ "after a full buffer, an error is not writability", SOCK_READY, BLK, DATA, 0, OUT, ERR, ERR },
	{ "an error on a writable session: both, the write gets it", SOCK_READY, 0, DATA, 0, OUT, ERR, OUT | ERR },
	{ "readable and writable at once", SOCK_READY, 0, DATA, 0, IN | OUT, IN | OUT, IN | OUT },
};

static void test_report(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(report_rows) / sizeof(report_rows[0]); i++) {
		const struct report_row *r = &report_rows[i];
		struct ready_facts f = facts(r->st, r->hints, HS_RD, r->records,
					     r->just_ready);

		check("report", r->why,
		      ready_mask_report(&f, r->want, r->kernel), r->expect);
	}
}

/* ---- what the kernel is asked for, and what is ready without it ------- */

struct ask_row {
	const char *why;
	enum sock_state st;
	unsigned hints;
	int hs_want;
	uint32_t want, kernel, synthetic;
};

static const struct ask_row ask_rows[] = {
	{ "not connected: the program's events", SOCK_FRESH, 0, 0, IN | OUT, IN | OUT, 0 },
	{ "relayed: the program's events", SOCK_RELAY, BUF, 0, IN, IN, 0 },
	{ "ended: the program's events", SOCK_DONE, 0, 0, IN, IN, 0 },
	{ "connecting: the TCP connect's end, whatever is asked", SOCK_CONNECTING, 0, 0, IN, OUT, 0 },
	{ "handshake waits to read", SOCK_HANDSHAKING, 0, HS_RD, OUT, IN, 0 },
	{ "handshake waits to write", SOCK_HANDSHAKING, 0, HS_WR, IN, OUT, 0 },
	{ "handshaking: nothing is ready without asking", SOCK_HANDSHAKING, BUF, HS_RD, IN, IN, 0 },
	{ "failed: nothing to ask, the error is ready", SOCK_FAILED, 0, 0, IN | OUT, 0, IN | OUT | ERR | HUP },
	{ "open: readability asked as it is", SOCK_READY, 0, 0, IN, IN, 0 },
	{ "open: buffered plaintext is ready at once", SOCK_READY, BUF, 0, IN, IN, IN },
	{ "open: writable without asking the kernel", SOCK_READY, 0, 0, OUT, 0, OUT },
	{ "open: after a full buffer, writability is the kernel's", SOCK_READY, BLK, 0, OUT, OUT, 0 },
	{ "open: buffered plaintext is not writability", SOCK_READY, BUF | BLK, 0, OUT, OUT, 0 },
	{ "open: readable asked, writable known", SOCK_READY, 0, 0, IN | OUT, IN, OUT },
	{ "open: unsent ciphertext waits for writability too", SOCK_READY, UNSENT, 0, IN, IN | OUT, 0 },
	{ "open: a read that needs a write waits to write", SOCK_READY, RDWR, 0, IN, IN | OUT, 0 },
	{ "open: a read's need does not touch writes", SOCK_READY, RDWR, 0, OUT, 0, OUT },
	{ "open: a read's need does not touch a full buffer's wait", SOCK_READY, RDWR | BLK, 0, OUT, OUT, 0 },
	{ "open: a write that needs a read waits to read", SOCK_READY, WRRD, 0, OUT, OUT | IN, 0 },
	{ "open: a write's need does not touch reads", SOCK_READY, WRRD, 0, IN, IN, 0 },
	{ "open: nothing asked, nothing unsent", SOCK_READY, 0, 0, 0, 0, 0 },
};

static void test_ask(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ask_rows) / sizeof(ask_rows[0]); i++) {
		const struct ask_row *r = &ask_rows[i];
		struct ready_facts f = facts(r->st, r->hints, r->hs_want, DATA, 0);

		check("kernel", r->why, ready_mask_kernel(&f, r->want), r->kernel);
		check("synthetic", r->why, ready_mask_synthetic(&f, r->want),
		      r->synthetic);
	}
}

/* ---- the kernel registration mirroring an epoll registration ---------- */

struct epoll_row {
	const char *why;
	enum sock_state st;
	unsigned hints;
	int owned, armed;
	uint32_t app, expect;
};

static const struct epoll_row epoll_rows[] = {
	{ "not connected: registered as the program asked", SOCK_FRESH, 0, 1, 1, IN | ET, IN | ET },
	{ "relayed: registered as the program asked", SOCK_RELAY, 0, 1, 1, IN | OUT | ONESHOT, IN | OUT | ONESHOT },
	{ "a fork child's inherited session: as the program asked", SOCK_READY, UNSENT, 0, 1, IN | ET, IN | ET },
	{ "open, edge-triggered", SOCK_READY, 0, 1, 1, IN | ET, IN | ET },
	{ "open, level-triggered: writability not asked of the kernel", SOCK_READY, 0, 1, 1, IN | OUT, IN },
	{ "open, level-triggered, after a full buffer: the kernel's", SOCK_READY, BLK, 1, 1, IN | OUT, IN | OUT },
	{ "open, edge-triggered: writability's edges are the kernel's", SOCK_READY, 0, 1, 1, OUT | ET, OUT | ET },
	{ "open, one-shot: writability is the kernel's", SOCK_READY, 0, 1, 1, OUT | ONESHOT, OUT | ONESHOT },
	{ "open: exclusive wake-ups are an ADD-time flag", SOCK_READY, 0, 1, 1, IN | ONESHOT | EXCL, IN | ONESHOT },
	{ "open: unsent ciphertext watches writability too", SOCK_READY, UNSENT, 1, 1, IN | ET, IN | OUT | ET },
	{ "a one-shot that fired stays disarmed", SOCK_READY, 0, 1, 0, IN | ONESHOT, READY_DISARMED },
	{ "relayed: a one-shot that fired stays disarmed until re-armed", SOCK_RELAY, 0, 1, 0, IN | ONESHOT, READY_DISARMED },
	{ "a fork child's one-shot that fired stays disarmed", SOCK_READY, 0, 0, 0, IN | ONESHOT, READY_DISARMED },
	{ "handshaking: what the handshake needs, level-triggered", SOCK_HANDSHAKING, 0, 1, 1, OUT | ET, IN },
	{ "connecting: the connect's end, level-triggered", SOCK_CONNECTING, 0, 1, 1, IN | ONESHOT, OUT },
	{ "failed: nothing from the kernel", SOCK_FAILED, 0, 1, 1, IN | ET, 0 },
};

static void test_epoll(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(epoll_rows) / sizeof(epoll_rows[0]); i++) {
		const struct epoll_row *r = &epoll_rows[i];
		struct ready_facts f = facts(r->st, r->hints, HS_RD, DATA, 0);

		f.owned = r->owned;
		check("epoll", r->why, ready_mask_epoll(&f, r->app, r->armed),
		      r->expect);
	}
}

/* ---- when the driver must act: flush, probe, the steady case ---------- */

static void test_actions(void **state)
{
	struct ready_facts f;

	(void)state;
	f = facts(SOCK_READY, UNSENT, 0, DATA, 0);
	assert_true(ready_mask_needs_flush(&f, OUT));
	assert_false(ready_mask_needs_flush(&f, IN));
	f = facts(SOCK_READY, 0, 0, DATA, 0);
	assert_false(ready_mask_needs_flush(&f, OUT));
	f = facts(SOCK_RELAY, UNSENT, 0, DATA, 0);
	assert_false(ready_mask_needs_flush(&f, OUT));

	/* a probe decrypts: only when the kernel's bytes decide */
	f = facts(SOCK_READY, 0, 0, DATA, 0);
	assert_true(ready_mask_needs_probe(&f, IN, IN));
	assert_false(ready_mask_needs_probe(&f, OUT, IN));
	assert_false(ready_mask_needs_probe(&f, IN, OUT));
	assert_false(ready_mask_needs_probe(&f, IN, IN | HUP));
	f = facts(SOCK_READY, BUF, 0, DATA, 0);
	assert_false(ready_mask_needs_probe(&f, IN, IN));
	f = facts(SOCK_HANDSHAKING, 0, HS_RD, DATA, 0);
	assert_false(ready_mask_needs_probe(&f, IN, IN));

	f = facts(SOCK_READY, BUF, 0, DATA, 0);
	assert_true(ready_mask_steady(&f));
	f.seen_data = 0; /* the first reply may follow a ticket */
	assert_false(ready_mask_steady(&f));
	f = facts(SOCK_READY, UNSENT, 0, DATA, 0);
	assert_false(ready_mask_steady(&f));
	f = facts(SOCK_HANDSHAKING, 0, HS_RD, DATA, 0);
	assert_false(ready_mask_steady(&f));
	assert_true(ready_mask_handshaking(SOCK_CONNECTING));
	assert_false(ready_mask_handshaking(SOCK_READY));
}

/* Whatever the hints and the kernel say, a socket in its handshake is
   never reported, and a relayed one never gets more than the kernel said. */
static void test_every_combination(void **state)
{
	static const uint32_t evs[] = { 0, IN, OUT, IN | OUT, ERR, HUP,
					IN | HUP, IN | OUT | ERR | HUP | RDHUP };

	(void)state;
	for (unsigned h = 0; h < 16; h++)
		for (size_t w = 0; w < 8; w++)
			for (size_t k = 0; k < 8; k++) {
				struct ready_facts f;
				uint32_t want = evs[w], got = evs[k];

				f = facts(SOCK_HANDSHAKING, h, HS_WR, DATA, 0);
				assert_int_equal(ready_mask_report(&f, want, got), 0);
				f = facts(SOCK_RELAY, h, 0, TICKET, 0);
				assert_int_equal(ready_mask_report(&f, want, got) & ~got, 0);
				f = facts(SOCK_READY, h, 0, DATA, 0);
				assert_int_equal(ready_mask_report(&f, want, got) &
						 ~(want | READY_ALWAYS), 0);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_ask),
		cmocka_unit_test(test_epoll),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_every_combination),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
