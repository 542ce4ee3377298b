/*
 * t_select - a non-blocking pipeline driven by select(), then by pselect().
 *
 * The socket is watched for reading, writing and exceptions beside an idle
 * pipe.  On each wake-up the program reads ONE small chunk (1 byte to
 * 1.5 KiB) even if more is available, so the rest must be reported readable
 * again, and writes one chunk when the socket is writable.
 *
 * Checks: ~5 MB of replies to 1200 SET/GET/INCR rounds byte-exact; the
 * return value equals the number of bits set in the three sets; the idle
 * pipe is never set; the socket never appears in exceptfds; the timeout is
 * not hit; once every reply is read, select() for reading times out after
 * 200 ms while writability is reported at once.
 */
#include <sys/select.h>

#include "torture.h"

static int count_set(const fd_set *s, int nfds)
{
	int n = 0;

	for (int i = 0; i < nfds; i++)
		n += FD_ISSET(i, s) != 0;
	return n;
}

static void run(int fd, int pipe_rd, int use_pselect, const char *prefix, const char *what)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct tpipe p;
	unsigned wakeups = 0;
	int nfds = (fd > pipe_rd ? fd : pipe_rd) + 1;
	sigset_t mask;
	fd_set rd, wr, ex;
	struct timeval tv;

	if (nfds > FD_SETSIZE)
		die("fd %d too large for select()", nfds - 1);
	sigemptyset(&mask);
	t_workload(&cmd, &exp, prefix, 1200, use_pselect ? 4 : 3);
	t_workload_cleanup(&cmd, &exp, prefix, 1200);
	tpipe_init(&p, fd, &cmd, &exp, what);

	while (!tpipe_done(&p)) {
		struct timespec ts = { 5, 0 };
		int n, seen;

		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_ZERO(&ex);
		FD_SET(fd, &rd);
		FD_SET(pipe_rd, &rd);
		FD_SET(fd, &ex);
		if (tpipe_want_write(&p))
			FD_SET(fd, &wr);
		tv = (struct timeval){ 5, 0 };
		n = use_pselect ? pselect(nfds, &rd, &wr, &ex, &ts, &mask)
				: select(nfds, &rd, &wr, &ex, &tv);
		if (n < 0)
			die_errno("%s: select", what);
		if (n == 0)
			die("%s: select timed out after 5s; %zu of %zu request bytes sent, "
			    "%zu of %zu reply bytes read", what, p.out_off, p.out_len,
			    p.in.pos, p.in.len);
		seen = count_set(&rd, nfds) + count_set(&wr, nfds) + count_set(&ex, nfds);
		if (seen != n)
			die("%s: select returned %d but %d bits are set", what, n, seen);
		if (FD_ISSET(pipe_rd, &rd))
			die("%s: the idle pipe was reported readable", what);
		if (FD_ISSET(fd, &ex))
			die("%s: the socket was reported in exceptfds", what);
		if (FD_ISSET(fd, &wr))
			tpipe_on_writable(&p, 0);
		if (FD_ISSET(fd, &rd))
			tpipe_on_readable(&p, 1500, 0);
		wakeups++;
	}

	/* all replies consumed: not readable, but writable */
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	tv = (struct timeval){ 0, 200000 };
	if (select(fd + 1, &rd, NULL, NULL, &tv) != 0)
		die("%s: socket reported readable after the last reply", what);
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(fd, &rd);
	FD_SET(fd, &wr);
	tv = (struct timeval){ 1, 0 };
	if (select(fd + 1, &rd, &wr, NULL, &tv) != 1 || !FD_ISSET(fd, &wr))
		die("%s: idle socket: expected writable and not readable", what);
	t_checked();
	printf("%s: %zu reply bytes in %u wake-ups, %u reads, %u writes\n",
	       what, p.in.len, wakeups, p.reads, p.writes);
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

int main(int argc, char **argv)
{
	t_pipeline_variants(argc, argv, run, "select", "pselect");
}
