/*
 * sock_refusal.c - the one table of refusals (sock_policy.h): for each
 * reason the switchboard fails a call the kernel would carry out, the
 * errno the program sees and the log line that says why.
 *
 * Each line is a printf format of two %s, the subject first (an endpoint's
 * label, "fd 5", "dup2(5, 1023)"), then the detail; a line may leave the
 * detail out, never add another conversion (tests/unit/test_refusal.c).
 * A reason without a line is one the program can tell from its errno, or
 * one another module has logged already.  Pure data: no locks, no state.
 */
#include "sock_policy.h"

#include <errno.h>
#include <stddef.h>

struct sock_refusal_row {
	int err;
	const char *line; /* NULL: refused without a line */
};

#define SOCK_INHERITED_LINE                                                \
	"%s: %s: this process inherited the TLS connection from its parent " \
	"(fork) and cannot use it; only the parent can"

static const struct sock_refusal_row sock_refusals[SOCK_REFUSE_COUNT] = {
	[SOCK_REFUSE_FASTOPEN] = { EOPNOTSUPP,
		"%s: TCP Fast Open (data sent with the connection request) "
		"would send data before the TLS handshake; refused" },
	[SOCK_REFUSE_UNTRACKABLE] = { EOPNOTSUPP,
		"%s: the socket's number is beyond the shim's table; refused" },
	[SOCK_REFUSE_NO_ENGINE] = { EACCES, NULL },
	[SOCK_REFUSE_BY_ENGINE] = { EACCES, NULL },
	[SOCK_REFUSE_OTHERS_NAME] = { EACCES,
		"%s: refused: another thread resolved '%s', a configured "
		"endpoint, for this address, and a connection verifies only a "
		"name its own thread resolved (resolve and connect on one "
		"thread, or configure the address)" },
	[SOCK_REFUSE_LOADING] = { EAGAIN,
		"%s: connect() while this thread loads the shim's engine (from "
		"a signal handler?) is refused" },
	[SOCK_REFUSE_VFORK] = { EACCES,
		"%s: connect() in a vfork() child is refused (the TLS session "
		"would live in the parent's memory)" },
	[SOCK_REFUSE_INHERITED_READ] = { ENOTCONN, SOCK_INHERITED_LINE },
	[SOCK_REFUSE_INHERITED_WRITE] = { EPIPE, SOCK_INHERITED_LINE },
	[SOCK_REFUSE_OVER_PRIVATE] = { EBUSY,
		"%s: %s is a private descriptor of a TLS connection; refused" },
	[SOCK_REFUSE_CLOSE_PRIVATE] = { EBADF, NULL },
	[SOCK_REFUSE_ANCILLARY] = { EOPNOTSUPP, NULL },
	[SOCK_REFUSE_OFFSET] = { ESPIPE, NULL },
	[SOCK_REFUSE_SUPERVISOR_PASSED] = { EACCES,
		"%s: the supervisor this program runs under said it would do "
		"this connection's TLS and then left it to the kernel (its "
		"configuration changed meanwhile?): refused, nothing sent" },
};

int sock_refusal_errno(enum sock_refusal why)
{
	if ((unsigned)why >= SOCK_REFUSE_COUNT)
		return EACCES;
	return sock_refusals[why].err;
}

const char *sock_refusal_line(enum sock_refusal why)
{
	if ((unsigned)why >= SOCK_REFUSE_COUNT)
		return NULL;
	return sock_refusals[why].line;
}
