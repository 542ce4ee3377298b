/*
 * epoll_pattern.c - what the kernel alone charges a one-client loop, for
 * three ways of using epoll, for scripts/bench.sh.
 *
 *   epoll_pattern steady|perwait|steadydel PORT N
 *
 * Sends N plaintext GETs ("GET key", one at a time) to a redis-server on
 * 127.0.0.1:PORT over one non-blocking TCP connection, waiting in
 * epoll_wait() for every reply, and prints one line:
 *
 *   cpu_us_per_request=C wall_us_per_request=W
 *
 * steady:  one registration (EPOLLIN) for the whole run: write, wait,
 *          read; 3 system calls a request.  This is what the kernel sees
 *          of a program through the shim, whose sockets stay registered
 *          while the program's own epoll_ctl calls are answered in the
 *          library.
 * perwait: the registration changed around every wait, as redis's ae
 *          loop (redis-benchmark, natively) does it: MOD, DEL, ADD
 *          EPOLLOUT, wait, write, DEL, ADD EPOLLIN, wait, read; 9 calls.
 * steadydel: steady, and an eventfd that has nothing to do with the
 *          connection added to the same epoll set and deleted again before
 *          each wait; 5 calls.  What a DEL does to the cost of the next
 *          sleep, apart from the socket's own registration.
 *
 * No TLS and no shim: the differences between them are the kernel's (and
 * the machine's) alone.  CPU time is the process's own (getrusage).
 * Exit status 0, 1 when the server could not be reached or a call failed,
 * 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char req[] = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";

static int wait_for(int ep, int fd, uint32_t what)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(ep, &ev, 1, 5000);
	while (n < 0 && errno == EINTR);
	if (n < 0 || n == 0) {
		fprintf(stderr, "epoll_pattern: no event (%s)\n",
			n < 0 ? strerror(errno) : "timed out");
		return -1;
	}
	if (ev.data.fd != fd || !(ev.events & what)) {
		fprintf(stderr, "epoll_pattern: events 0x%x, not 0x%x\n",
			(unsigned)ev.events, (unsigned)what);
		return -1;
	}
	return 0;
}

static int ctl(int ep, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(ep, op, fd, &ev) < 0) {
		perror("epoll_pattern: epoll_ctl");
		return -1;
	}
	return 0;
}

/* One reply: ":..." or "$-1" or a bulk string, all in one read on
   loopback; a short read of the reply is read on. */
static int read_reply(int ep, int fd)
{
	char buf[512];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof buf);
		if (n > 0 && buf[n - 1] == '\n')
			return 0;
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			fprintf(stderr, "epoll_pattern: read: %s\n",
				n == 0 ? "the server closed" : strerror(errno));
			return -1;
		}
		if (wait_for(ep, fd, EPOLLIN) < 0)
			return -1;
	}
}

static int one_steady(int ep, int fd)
{
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
		return -1;
	if (wait_for(ep, fd, EPOLLIN) < 0)
		return -1;
	return read_reply(ep, fd);
}

static int one_steadydel(int ep, int fd, int efd)
{
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
		return -1;
	if (ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN) < 0 ||
	    ctl(ep, EPOLL_CTL_DEL, efd, 0) < 0)
		return -1;
	if (wait_for(ep, fd, EPOLLIN) < 0)
		return -1;
	return read_reply(ep, fd);
}

static int one_perwait(int ep, int fd)
{
	if (ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN) < 0 ||
	    ctl(ep, EPOLL_CTL_DEL, fd, 0) < 0 ||
	    ctl(ep, EPOLL_CTL_ADD, fd, EPOLLOUT) < 0 ||
	    wait_for(ep, fd, EPOLLOUT) < 0)
		return -1;
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
		return -1;
	if (ctl(ep, EPOLL_CTL_DEL, fd, 0) < 0 ||
	    ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN) < 0 ||
	    wait_for(ep, fd, EPOLLIN) < 0)
		return -1;
	return read_reply(ep, fd);
}

static double us_of(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timespec t0, t1;
	struct rusage r0, r1;
	int pattern, n, fd, ep, efd, one = 1;

	pattern = argc != 4 ? -1 :
		  strcmp(argv[1], "steady") == 0 ? 0 :
		  strcmp(argv[1], "perwait") == 0 ? 1 :
		  strcmp(argv[1], "steadydel") == 0 ? 2 : -1;
	if (pattern < 0 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: epoll_pattern steady|perwait|steadydel "
				"PORT N\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("epoll_pattern: connect");
		return 1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC);
	/* perwait starts each request with a MOD: registered, like ae */
	if (ep < 0 || efd < 0 || ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN) < 0) {
		perror("epoll_pattern: epoll_create1, eventfd");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	getrusage(RUSAGE_SELF, &r0);
	for (int i = 0; i < n; i++) {
		int rc = pattern == 1 ? one_perwait(ep, fd) :
			 pattern == 2 ? one_steadydel(ep, fd, efd) :
					one_steady(ep, fd);

		if (rc < 0) {
			fprintf(stderr, "epoll_pattern: request %d failed\n", i);
			return 1;
		}
	}
	getrusage(RUSAGE_SELF, &r1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("cpu_us_per_request=%.3f wall_us_per_request=%.3f\n",
	       (us_of(&r1.ru_utime) + us_of(&r1.ru_stime) -
		us_of(&r0.ru_utime) - us_of(&r0.ru_stime)) / n,
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / n);
	return 0;
}
