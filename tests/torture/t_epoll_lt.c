/*
 * t_epoll_lt - a non-blocking pipeline driven by level-triggered epoll.
 *
 * The socket is registered with its own epoll_data (a 64-bit tag), beside a
 * pipe with another tag.  EPOLLOUT is added with EPOLL_CTL_MOD while requests
 * remain and removed when they are sent (the way ae and libevent do).  On
 * each wake-up ONE small chunk (1 byte to 1.5 KiB) is read, so buffered data
 * must be reported again and again.  The waits rotate through epoll_wait,
 * epoll_pwait and epoll_pwait2 (epoll_pwait where that is ENOSYS, as under
 * valgrind 3.19).  A third of the way through, the socket is removed
 * (EPOLL_CTL_DEL) and added back, normally with unread data; half way, one
 * byte is written into the pipe.
 *
 * Checks: ~5 MB of replies to 1200 rounds byte-exact; every event carries
 * one of the two tags; no fd twice in one result; no EPOLLERR/EPOLLHUP; the
 * pipe's event arrives with the pipe's tag; re-adding the socket with data
 * pending reports it readable; after the last reply, epoll_wait(EPOLLIN)
 * times out after 200 ms.
 */
#include <sys/epoll.h>

#include "torture.h"

#define TAG_SOCK 0x50c4e7f00dULL
#define TAG_PIPE 0x919e0000beefULL

static int no_pwait2;	/* kernel before 5.11, or valgrind: ENOSYS */

static int wait_rotating(int ep, struct epoll_event *evs, int max, int ms, unsigned turn)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	sigset_t mask;
	int n;

	sigemptyset(&mask);
	switch (turn % 3) {
	case 0:
		return epoll_wait(ep, evs, max, ms);
	case 1:
		return epoll_pwait(ep, evs, max, ms, &mask);
	default:
		if (no_pwait2)
			return epoll_pwait(ep, evs, max, ms, &mask);
		n = epoll_pwait2(ep, evs, max, &ts, &mask);
		if (n < 0 && errno == ENOSYS) {
			/* what libuv does too: fall back, once */
			printf("epoll_pwait2: ENOSYS, using epoll_pwait instead\n");
			no_pwait2 = 1;
			return epoll_pwait(ep, evs, max, ms, &mask);
		}
		return n;
	}
}

int main(int argc, char **argv)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct epoll_event evs[8];
	struct tpipe p;
	char prefix[128], c;
	int fd, ep, pipefd[2], pipe_written = 0, pipe_seen = 0, readded = 0;
	uint32_t interest = EPOLLIN;
	unsigned wakeups = 0;

	t_init(argc, argv);
	if (pipe(pipefd) < 0)
		die_errno("pipe");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die_errno("epoll_create1");
	fd = t_connect();
	t_set_nonblock(fd, 1);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], EPOLLIN, TAG_PIPE);
	t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, interest, TAG_SOCK);

	t_key(prefix, sizeof(prefix), "eplt");
	t_workload(&cmd, &exp, prefix, 1200, 5);
	t_workload_cleanup(&cmd, &exp, prefix, 1200);
	tpipe_init(&p, fd, &cmd, &exp, "epoll LT pipeline");

	while (!tpipe_done(&p) || (pipe_written && !pipe_seen)) {
		uint32_t want = EPOLLIN | (tpipe_want_write(&p) ? EPOLLOUT : 0);
		int n, sock_seen = 0;

		if (want != interest) {
			t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, want, TAG_SOCK);
			interest = want;
		}
		n = wait_rotating(ep, evs, 8, 5000, wakeups);
		if (n < 0)
			die_errno("epoll wait (turn %u)", wakeups % 3);
		if (n == 0)
			die("epoll wait timed out after 5s; %zu of %zu request bytes sent, "
			    "%zu of %zu reply bytes read", p.out_off, p.out_len, p.in.pos, p.in.len);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == TAG_PIPE) {
				if (!pipe_written || pipe_seen)
					die("pipe event 0x%x before the byte was written or after it was read",
					    evs[i].events);
				if (read(pipefd[0], &c, 1) != 1)
					die_errno("read(pipe)");
				pipe_seen = 1;
				continue;
			}
			if (evs[i].data.u64 != TAG_SOCK)
				die("event carries epoll_data 0x%llx, which was never registered",
				    (unsigned long long)evs[i].data.u64);
			if (sock_seen++)
				die("the socket appears twice in one epoll_wait result");
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				die("socket events 0x%x at reply byte %zu", evs[i].events, p.in.pos);
			if (evs[i].events & ~interest)
				die("socket events 0x%x outside the interest set 0x%x",
				    evs[i].events, interest);
			if (evs[i].events & EPOLLOUT)
				tpipe_on_writable(&p, 0);
			if (evs[i].events & EPOLLIN)
				tpipe_on_readable(&p, 1500, 0);
		}
		wakeups++;

		if (!readded && p.in.pos > p.in.len / 3) {
			t_epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, 0);
			t_epoll_ctl(ep, EPOLL_CTL_ADD, fd, interest, TAG_SOCK);
			readded = 1;
		}
		if (!pipe_written && p.in.pos > p.in.len / 2) {
			if (write(pipefd[1], "x", 1) != 1)
				die_errno("write(pipe)");
			pipe_written = 1;
		}
	}
	if (!pipe_seen)
		die("no event for the pipe");

	if (interest != EPOLLIN)
		t_epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN, TAG_SOCK);
	if (epoll_wait(ep, evs, 8, 200) != 0)
		die("an event (0x%x, data 0x%llx) after the last reply", evs[0].events,
		    (unsigned long long)evs[0].data.u64);
	t_checked();
	printf("epoll LT: %zu reply bytes in %u wake-ups, %u reads, %u writes\n",
	       p.in.len, wakeups, p.reads, p.writes);
	close(fd);
	close(ep);
	close(pipefd[0]);
	close(pipefd[1]);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
