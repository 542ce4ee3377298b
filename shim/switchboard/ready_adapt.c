/*
 * ready_adapt.c - which way a program's EPOLL_CTL_DEL of a private socket
 * goes (see ready_adapt.h): measured in alternated windows, the cheaper
 * way kept for a while, measured again.
 *
 * A window's cost is the process's CPU time over it; windows hold the
 * same number of waits, and both ways give the program the same events,
 * so windows of each way compare the same work: the median of each way's
 * is compared.  The first window (connection set-up, handshakes) is not
 * counted.
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

/* The median of n window costs (n <= READY_ADAPT_PAIRS): one window that
   met something else (a collection, a burst of other work) does not
   decide. */
static int64_t ready_adapt_median(const int64_t *v, unsigned n)
{
	int64_t s[READY_ADAPT_PAIRS];

	if (n == 0)
		return 0;
	memcpy(s, v, n * sizeof(*s));
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && s[j - 1] > s[j]; j--) {
			int64_t t = s[j];

			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The measurement is over: the cheaper way, for a phase that grows while
   measurements agree. */
static void ready_adapt_choose(struct ready_adapt *a)
{
	enum ready_del_way best = READY_DEL_KEEP;

	for (int w = 0; w < 2; w++)
		a->last_ns[w] = ready_adapt_median(a->win_ns[w], a->nwin[w]);
	if (a->last_ns[READY_DEL_PASS] * 100 <
	    a->last_ns[READY_DEL_KEEP] * (100 - READY_ADAPT_MARGIN_PCT))
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
	a->nwin[0] = a->nwin[1] = 0;
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
	if (a->nwin[a->way] < READY_ADAPT_PAIRS)
		a->win_ns[a->way][a->nwin[a->way]++] = spent > 0 ? spent : 0;
	if (--a->left > 0) {
		a->way = other((enum ready_del_way)a->way);
		return (enum ready_del_way)a->way;
	}
	ready_adapt_choose(a);
	return (enum ready_del_way)a->way;
}

void ready_adapt_forked(struct ready_adapt *a)
{
	a->start_ns = -1;
	if (a->measuring) {
		a->left = 2 * READY_ADAPT_PAIRS;
		a->nwin[0] = a->nwin[1] = 0;
	}
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
