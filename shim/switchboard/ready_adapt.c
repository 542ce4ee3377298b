/*
 * ready_adapt.c - which way a program's EPOLL_CTL_DEL of a private socket
 * goes (see ready_adapt.h): measured in alternated windows, the cheaper
 * way kept for a while, measured again.
 *
 * A window's cost is the process's CPU time over it; windows hold the
 * same number of waits, and both ways give the program the same events,
 * so the sums of as many windows of each way compare the same work.  The
 * first window (connection set-up, handshakes) is not counted.
 *
 * Calls nothing.  Not thread-safe: the caller serialises (ready_lock).
 */
#include "ready_adapt.h"

#include <stddef.h>
#include <string.h>

void ready_adapt_init(struct ready_adapt *a, int fixed, enum ready_del_way way)
{
	memset(a, 0, sizeof(*a));
	a->fixed = fixed;
	a->way = fixed ? way : READY_DEL_KEEP;
	a->measuring = !fixed;
	a->left = 2 * READY_ADAPT_PAIRS;
	a->exploit = READY_ADAPT_EXPLOIT_MIN;
	a->chosen = -1;
	a->start_ns = -1;
}

static enum ready_del_way other(enum ready_del_way w)
{
	return w == READY_DEL_KEEP ? READY_DEL_PASS : READY_DEL_KEEP;
}

/* The measurement is over: the cheaper way, for a phase that grows while
   measurements agree. */
static void ready_adapt_choose(struct ready_adapt *a)
{
	enum ready_del_way best = READY_DEL_KEEP;

	if (a->cost_ns[READY_DEL_PASS] * 100 <
	    a->cost_ns[READY_DEL_KEEP] * (100 - READY_ADAPT_MARGIN_PCT))
		best = READY_DEL_PASS;
	if (a->chosen == (int)best) {
		a->exploit *= 2;
		if (a->exploit > READY_ADAPT_EXPLOIT_MAX)
			a->exploit = READY_ADAPT_EXPLOIT_MAX;
	} else {
		a->exploit = READY_ADAPT_EXPLOIT_MIN;
	}
	a->chosen = (int)best;
	a->way = best;
	a->measuring = 0;
	a->left = a->exploit;
	memcpy(a->last_ns, a->cost_ns, sizeof(a->last_ns));
	a->cost_ns[0] = a->cost_ns[1] = 0;
}

enum ready_del_way ready_adapt_window(struct ready_adapt *a, int64_t now_ns)
{
	int64_t spent;

	if (a->fixed)
		return (enum ready_del_way)a->way;
	if (now_ns < 0) { /* no clock: the way of fewer system calls */
		a->fixed = 1;
		a->way = READY_DEL_KEEP;
		return READY_DEL_KEEP;
	}
	if (a->start_ns < 0) { /* the warm-up window */
		a->start_ns = now_ns;
		return (enum ready_del_way)a->way;
	}
	spent = now_ns - a->start_ns;
	a->start_ns = now_ns;
	if (!a->measuring) {
		if (--a->left > 0)
			return (enum ready_del_way)a->way;
		a->measuring = 1; /* the way not in force first */
		a->left = 2 * READY_ADAPT_PAIRS;
		a->way = other((enum ready_del_way)a->way);
		return (enum ready_del_way)a->way;
	}
	a->cost_ns[a->way] += spent > 0 ? spent : 0;
	if (--a->left > 0) {
		a->way = other((enum ready_del_way)a->way);
		return (enum ready_del_way)a->way;
	}
	ready_adapt_choose(a);
	return (enum ready_del_way)a->way;
}

int ready_adapt_parse(const char *s, int *fixed, enum ready_del_way *way)
{
	*way = READY_DEL_KEEP;
	*fixed = 0;
	if (s == NULL || *s == '\0' || strcmp(s, "auto") == 0)
		return 0;
	*fixed = 1;
	if (strcmp(s, "keep") == 0)
		return 0;
	if (strcmp(s, "pass") == 0) {
		*way = READY_DEL_PASS;
		return 0;
	}
	*fixed = 0;
	return -1;
}
