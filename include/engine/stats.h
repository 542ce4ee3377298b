/*
 * stats.h - connection statistics, written as one line at process exit
 * when REDIS_TLS_STATS is set ("1": through the shim's log, at notice;
 * a path: appended to that file).
 *
 * Thread-safety: counters are relaxed atomics; when REDIS_TLS_STATS is
 * unset nothing is counted (stats_add is one load of a read-only flag).
 */
#ifndef SHIM_STATS_H
#define SHIM_STATS_H

enum stats_counter {
	STATS_CONNECTIONS,    /* connects to configured endpoints */
	STATS_FULL,           /* handshakes done, full */
	STATS_RESUMED,        /* handshakes done, resumed */
	STATS_FAIL_VERIFY,    /* we rejected the server's certificate */
	STATS_FAIL_PIN,       /* ... its public key matched no pin */
	STATS_FAIL_REFUSED,   /* the server sent a fatal alert */
	STATS_FAIL_NOT_TLS,   /* the peer does not speak TLS */
	STATS_FAIL_CLOSED,    /* closed or reset during the handshake */
	STATS_FAIL_UNFINISHED, /* timed out, or closed by the program */
	STATS_FAIL_OTHER,     /* anything else, set-up included */
	STATS_BYTES_SENT,     /* plaintext written by the program */
	STATS_BYTES_RECEIVED, /* plaintext read by the program */
	STATS_COUNTERS
};

/* stats_init - read REDIS_TLS_STATS; start counting if it is set. */
void stats_init(void);

/* stats_add - add n to counter c (no-op when statistics are off). */
void stats_add(enum stats_counter c, unsigned long long n);

/* stats_report - write the line (at exit; no-op when off). */
void stats_report(void);

#endif
