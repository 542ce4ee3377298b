/*
 * ready_adapt.h - which way a program's EPOLL_CTL_DEL of a private socket
 * goes, chosen by what each way costs the process (ready_adapt.c).
 *
 * Both ways are exact (the program sees the same events): KEEP leaves the
 * kernel registration dormant (no system call; re-adding it costs none or
 * one EPOLL_CTL_MOD), PASS deletes it in the kernel as the program asked.
 * Which is cheaper depends on the machine: a system call costs 0.1-0.7 µs
 * (KEEP saves two or four a request in event loops such as redis's ae),
 * but on some VMs a CPU whose sleeps follow no deletion stops its tick on
 * every sleep and pays more for that than the calls saved (the RCU free of
 * a deleted registration keeps the tick).  So the shim measures: windows
 * of waits in one way and the other, the process's CPU time per window,
 * and the cheaper way (the median window of each compared) for a long
 * while, measured again from time to time.
 *
 * Pure logic: the caller counts waits, reads the clock and serialises
 * calls.
 */
#ifndef REDIS_TLS_READY_ADAPT_H
#define REDIS_TLS_READY_ADAPT_H

#include <stdint.h>

enum ready_del_way {
	READY_DEL_KEEP = 0,
	READY_DEL_PASS = 1,
};

/* Waits (rounds that returned events) per window. */
#define READY_ADAPT_WAITS 256
/* Windows of each way per measurement (alternated). */
#define READY_ADAPT_PAIRS 3
/* Windows in the chosen way after a measurement: the first, doubled each
   time a measurement chooses the same way again, up to the last. */
#define READY_ADAPT_EXPLOIT_MIN 32
#define READY_ADAPT_EXPLOIT_MAX 1024
/* PASS is chosen only when it costs less than KEEP by this share
   (percent): otherwise the way with fewer system calls. */
#define READY_ADAPT_MARGIN_PCT 5

struct ready_adapt {
	int way;          /* enum ready_del_way, in force now */
	int fixed;        /* 1: never measured (a way given, or no clock) */
	int measuring;    /* 1: the windows alternate ways */
	unsigned left;    /* windows left in this phase */
	unsigned exploit; /* the length of the next exploiting phase */
	int chosen;       /* the last measurement's way, -1 before any */
	int64_t start_ns; /* CPU time at the window's start, -1: warming up */
	int64_t win_ns[2][READY_ADAPT_PAIRS]; /* this measurement's windows'
						 CPU time, per way */
	unsigned nwin[2];
	int64_t last_ns[2]; /* the last finished measurement's median window,
			       per way */
};

/* A controller measuring from now, or fixed to way when fixed is 1. */
void ready_adapt_init(struct ready_adapt *a, int fixed, enum ready_del_way way);

/* A window of READY_ADAPT_WAITS waits ended at process CPU time now_ns
   (negative: the clock failed, and the controller stays with KEEP for
   good); returns the way for the next window. */
enum ready_del_way ready_adapt_window(struct ready_adapt *a, int64_t now_ns);

/* In a fork child: the CPU clock is the child's now, so the window under
   way is a warm-up, and a measurement under way starts again. */
void ready_adapt_forked(struct ready_adapt *a);

/* "auto", "keep" or "pass" (REDIS_TLS_EPOLL_DELETE) into *fixed and
   *way; NULL or "" is auto.  -1 for anything else. */
int ready_adapt_parse(const char *s, int *fixed, enum ready_del_way *way);

#endif
