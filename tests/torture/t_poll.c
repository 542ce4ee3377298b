/*
 * t_poll - a non-blocking pipeline driven by poll(), then by ppoll().
 *
 * The socket sits in the middle of a pollfd array beside an idle pipe and a
 * negative (ignored) entry.  On each wake-up the program reads ONE small
 * chunk (1 byte to 1.5 KiB) even if more is available, so the rest must be
 * reported readable again (data buffered in user space counts as readable),
 * and writes one chunk when POLLOUT is reported.
 *
 * Checks: ~5 MB of replies to 1200 SET/GET/INCR rounds byte-exact; poll's
 * return value equals the number of entries with revents; the pipe and the
 * negative entry never get revents; no POLLERR/POLLHUP/POLLNVAL; once every
 * reply is read, poll(POLLIN, 200 ms) times out (no phantom readability),
 * while POLLOUT is reported at once.
 */
#include "torture.h"

enum { IDX_NEG, IDX_PIPE, IDX_SOCK, NFDS };

static void run(int fd, int pipe_rd, int use_ppoll, const char *prefix, const char *what)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct tpipe p;
	struct pollfd pfd[NFDS];
	unsigned wakeups = 0;
	sigset_t mask;

	sigemptyset(&mask);
	t_workload(&cmd, &exp, prefix, 1200, use_ppoll ? 2 : 1);
	t_workload_cleanup(&cmd, &exp, prefix, 1200);
	tpipe_init(&p, fd, &cmd, &exp, what);

	while (!tpipe_done(&p)) {
		struct timespec ts = { 5, 0 };
		int n, seen = 0;

		pfd[IDX_NEG] = (struct pollfd){ -1, POLLIN | POLLOUT, 0 };
		pfd[IDX_PIPE] = (struct pollfd){ pipe_rd, POLLIN, 0 };
		pfd[IDX_SOCK] = (struct pollfd){ fd, POLLIN | (tpipe_want_write(&p) ? POLLOUT : 0), 0 };
		n = use_ppoll ? ppoll(pfd, NFDS, &ts, &mask) : poll(pfd, NFDS, 5000);
		if (n < 0)
			die_errno("%s: poll", what);
		if (n == 0)
			die("%s: poll timed out after 5s; %zu of %zu request bytes sent, "
			    "%zu of %zu reply bytes read", what, p.out_off, p.out_len,
			    p.in.pos, p.in.len);
		for (int i = 0; i < NFDS; i++)
			seen += pfd[i].revents != 0;
		if (seen != n)
			die("%s: poll returned %d but %d entries have revents", what, n, seen);
		if (pfd[IDX_NEG].revents || pfd[IDX_PIPE].revents)
			die("%s: revents 0x%x on the negative entry, 0x%x on the idle pipe", what,
			    pfd[IDX_NEG].revents, pfd[IDX_PIPE].revents);
		if (pfd[IDX_SOCK].revents & (POLLERR | POLLHUP | POLLNVAL))
			die("%s: socket revents 0x%x at reply byte %zu", what,
			    pfd[IDX_SOCK].revents, p.in.pos);
		if (pfd[IDX_SOCK].revents & POLLOUT)
			tpipe_on_writable(&p, 0);
		if (pfd[IDX_SOCK].revents & POLLIN)
			tpipe_on_readable(&p, 1500, 0);
		wakeups++;
	}

	/* all replies consumed: not readable, but writable */
	pfd[0] = (struct pollfd){ fd, POLLIN, 0 };
	if (poll(pfd, 1, 200) != 0)
		die("%s: socket reported readable (revents 0x%x) after the last reply",
		    what, pfd[0].revents);
	pfd[0] = (struct pollfd){ fd, POLLIN | POLLOUT, 0 };
	if (poll(pfd, 1, 1000) != 1 || pfd[0].revents != POLLOUT)
		die("%s: idle socket: expected revents POLLOUT only, got 0x%x", what, pfd[0].revents);
	t_checked();
	printf("%s: %zu reply bytes in %u wake-ups, %u reads, %u writes\n",
	       what, p.in.len, wakeups, p.reads, p.writes);
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

int main(int argc, char **argv)
{
	t_pipeline_variants(argc, argv, run, "poll", "ppoll");
}
