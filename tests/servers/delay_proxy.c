/*
 * delay_proxy.c - a slow link on loopback: a TCP proxy that delays every
 * chunk by D ms in each direction, for tests/integration/16-slowlink.sh
 * and scripts/bench-lib/slowlink.sh (no kernel qdisc here: netem needs
 * privileges the tests do not have).
 *
 *   delay_proxy [-d MS] [-l PORT] [-p PORT_FILE] [-t TRACE_FILE]
 *               [-T LIFETIME_S] TARGET_PORT
 *
 * Listens on 127.0.0.1:PORT (default 0: the kernel picks; the port is
 * written to PORT_FILE, atomically through a rename, once it listens) and
 * forwards each connection to 127.0.0.1:TARGET_PORT.  Every chunk read on
 * one side is written to the other MS ms (default 20) after it arrived,
 * in order; an end of stream (FIN) is passed on the same way, as a
 * shutdown(SHUT_WR), so half-closes survive.  TCP_NODELAY on both sides:
 * the delay is the proxy's, never Nagle's.  Only the data is delayed: the
 * client's TCP connect completes at once (the kernel answers it), so a
 * connection costs the TLS and Redis round trips over the slow link, not
 * TCP's own.
 *
 * The trace (TRACE_FILE, appended, one line per event, flushed at once)
 * counts round trips without any clock: a "flight" is a run of chunks in
 * one direction, as they arrive at the proxy; a new flight starts when
 * the direction changes.  With a delay far above the peers' reaction
 * time, the peers cannot interleave, so the flights are exactly the
 * protocol's.  Per connection N (from 1, in accept order):
 *
 *   conn N accept
 *   conn N flight K c2s|s2c bytes B chunks C at_ms T   (T: the flight's
 *                                                       first chunk, from
 *                                                       the accept)
 *   conn N eof c2s|s2c after_flight K at_ms T          (that side's FIN)
 *   conn N reset c2s|s2c after_flight K                (an error reading
 *                                                       or writing)
 *   conn N end flights K
 *
 * The flight lines of a connection are written when the next flight
 * starts, when an end of stream arrives, and at its end; "end" comes
 * last, once both ends of stream were delivered (or on a reset).
 *
 * Loopback only, one thread, ppoll(2).  Exits on SIGTERM or after
 * LIFETIME_S seconds (default 600), in case whoever started it forgot to
 * stop it.  Exit status 0, 1 on a setup error, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define CHUNK_MAX 65536
#define QUEUE_MAX (4 << 20) /* bytes held per direction before reading stops */

enum { C2S, S2C };
static const char *const dir_name[] = { "c2s", "s2c" };

struct chunk {
	struct chunk *next;
	int64_t due_ns;
	size_t len, off;
	int eof; /* an end of stream to pass on, no data */
	char data[];
};

/* One direction: what was read from `from`, waiting for its time. */
struct dir {
	struct chunk *head, *tail;
	size_t queued;
	int read_eof;  /* `from` ended: read no more */
	int done;      /* the end of stream was passed on */
	int blocked;   /* `to` is full: wait for POLLOUT */
};

struct flight {
	int dir; /* -1: none yet */
	long long bytes;
	int chunks;
	int64_t first_ns;
};

struct conn {
	int id;
	int fd[2]; /* [C2S] the client's side, [S2C] the server's: a direction
		      reads fd[d] and writes fd[!d] */
	struct dir d[2];
	int64_t t0;
	struct flight cur;
	int nflights;
};

static struct conn *conns[MAX_CONNS];
static int delay_ms = 20;
static FILE *trace;
static int next_id = 1;
static volatile sig_atomic_t stop;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("delay_proxy: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	if (trace == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(trace, fmt, ap);
	va_end(ap);
	fputc('\n', trace);
	fflush(trace);
}

static double ms_since(const struct conn *c, int64_t t)
{
	return (double)(t - c->t0) / 1e6;
}

/* The current flight to the trace, if there is one. */
static void flight_close(struct conn *c)
{
	if (c->cur.dir < 0)
		return;
	say("conn %d flight %d %s bytes %lld chunks %d at_ms %.3f", c->id,
	    c->nflights, dir_name[c->cur.dir], c->cur.bytes, c->cur.chunks,
	    ms_since(c, c->cur.first_ns));
	c->cur.dir = -1;
}

/* n bytes arrived in direction d: the same flight, or the next one. */
static void flight_note(struct conn *c, int d, size_t n, int64_t t)
{
	if (c->cur.dir != d) {
		flight_close(c);
		c->nflights++;
		c->cur = (struct flight){ .dir = d, .first_ns = t };
	}
	c->cur.bytes += (long long)n;
	c->cur.chunks++;
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		die("setsockopt(TCP_NODELAY): %s", strerror(errno));
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		die("fcntl(O_NONBLOCK): %s", strerror(errno));
}

static void queue_push(struct dir *q, const char *data, size_t len, int eof)
{
	struct chunk *k = malloc(sizeof(*k) + len);

	if (k == NULL)
		die("out of memory");
	k->next = NULL;
	k->due_ns = now_ns() + (int64_t)delay_ms * 1000000;
	k->len = len;
	k->off = 0;
	k->eof = eof;
	if (len > 0)
		memcpy(k->data, data, len);
	if (q->tail)
		q->tail->next = k;
	else
		q->head = k;
	q->tail = k;
	q->queued += len;
}

static void conn_free(int slot)
{
	struct conn *c = conns[slot];
	int d;

	for (d = 0; d < 2; d++) {
		struct chunk *k = c->d[d].head;

		while (k) {
			struct chunk *n = k->next;

			free(k);
			k = n;
		}
		close(c->fd[d]);
	}
	flight_close(c);
	say("conn %d end flights %d", c->id, c->nflights);
	free(c);
	conns[slot] = NULL;
}

static void conn_reset(int slot, int d)
{
	struct conn *c = conns[slot];

	flight_close(c);
	say("conn %d reset %s after_flight %d", c->id, dir_name[d], c->nflights);
	conn_free(slot);
}

/* Read what fd[d] has: 0, or -1 when the connection must go. */
static int conn_read(int slot, int d)
{
	struct conn *c = conns[slot];
	char buf[CHUNK_MAX];
	ssize_t n = recv(c->fd[d], buf, sizeof(buf), 0);
	int64_t t = now_ns();

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0) {
		conn_reset(slot, d);
		return -1;
	}
	if (n == 0) {
		c->d[d].read_eof = 1;
		flight_close(c);
		say("conn %d eof %s after_flight %d at_ms %.3f", c->id,
		    dir_name[d], c->nflights, ms_since(c, t));
		queue_push(&c->d[d], NULL, 0, 1);
		return 0;
	}
	flight_note(c, d, (size_t)n, t);
	queue_push(&c->d[d], buf, (size_t)n, 0);
	return 0;
}

/* Write what is due in direction d: 0, or -1 when the connection went. */
static int conn_write(int slot, int d, int64_t now)
{
	struct conn *c = conns[slot];
	struct dir *q = &c->d[d];
	int to = c->fd[!d];

	q->blocked = 0;
	while (q->head && q->head->due_ns <= now) {
		struct chunk *k = q->head;

		if (k->eof) {
			shutdown(to, SHUT_WR);
			q->done = 1;
		} else {
			ssize_t n = send(to, k->data + k->off, k->len - k->off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				q->blocked = 1;
				return 0;
			}
			if (n < 0) {
				conn_reset(slot, d);
				return -1;
			}
			k->off += (size_t)n;
			q->queued -= (size_t)n;
			if (k->off < k->len) {
				q->blocked = 1;
				return 0;
			}
		}
		q->head = k->next;
		if (q->head == NULL)
			q->tail = NULL;
		free(k);
	}
	if (c->d[C2S].done && c->d[S2C].done) {
		conn_free(slot);
		return -1;
	}
	return 0;
}

static void conn_accept(int lfd, int target)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)target) };
	struct conn *c;
	int cfd, sfd, slot;

	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	for (slot = 0; slot < MAX_CONNS && conns[slot]; slot++)
		;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (slot == MAX_CONNS || sfd < 0 ||
	    connect(sfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "delay_proxy: cannot take a connection: %s\n",
			slot == MAX_CONNS ? "too many" : strerror(errno));
		close(cfd);
		if (sfd >= 0)
			close(sfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		die("out of memory");
	set_nodelay(cfd);
	set_nodelay(sfd);
	set_nonblock(cfd);
	set_nonblock(sfd);
	c->id = next_id++;
	c->fd[C2S] = cfd;
	c->fd[S2C] = sfd;
	c->t0 = now_ns();
	c->cur.dir = -1;
	conns[slot] = c;
	say("conn %d accept", c->id);
}

static int listen_on(int port, const char *port_file)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		die("listen on 127.0.0.1:%d: %s", port, strerror(errno));
	if (port_file != NULL) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (f == NULL || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 ||
		    fclose(f) != 0 || rename(tmp, port_file) != 0)
			die("cannot write %s: %s", port_file, strerror(errno));
	}
	return fd;
}

/* The poll set: the listener, then each connection's two sockets; and how
   long to sleep until the next chunk is due (to the nanosecond: ppoll, so
   a chunk is not held up to a millisecond more than asked). */
static int poll_set(struct pollfd *p, int *slot_of, int lfd, int64_t now,
		    int64_t *wait_ns)
{
	int n = 1, s, d;
	int64_t next = -1;

	p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	for (s = 0; s < MAX_CONNS; s++) {
		struct conn *c = conns[s];

		if (c == NULL)
			continue;
		for (d = 0; d < 2; d++) {
			struct dir *q = &c->d[d], *back = &c->d[!d];
			short ev = 0;

			/* fd[d] is read for direction d, written for !d */
			if (!q->read_eof && q->queued < QUEUE_MAX)
				ev |= POLLIN;
			if (back->blocked)
				ev |= POLLOUT;
			else if (back->head && (next < 0 || back->head->due_ns < next))
				next = back->head->due_ns;
			p[n] = (struct pollfd){ .fd = c->fd[d], .events = ev };
			slot_of[n++] = s;
		}
	}
	*wait_ns = next < 0 ? 1000000000 : next <= now ? 0 : next - now;
	return n;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fputs("usage: delay_proxy [-d MS] [-l PORT] [-p PORT_FILE] [-t TRACE_FILE] "
	      "[-T LIFETIME_S] TARGET_PORT\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct pollfd p[1 + 2 * MAX_CONNS];
	static int slot_of[1 + 2 * MAX_CONNS];
	const char *port_file = NULL;
	int port = 0, lifetime = 600, target, lfd, opt;
	int64_t end;

	while ((opt = getopt(argc, argv, "d:l:p:t:T:")) != -1) {
		switch (opt) {
		case 'd': delay_ms = atoi(optarg); break;
		case 'l': port = atoi(optarg); break;
		case 'p': port_file = optarg; break;
		case 't':
			trace = fopen(optarg, "a");
			if (trace == NULL)
				die("%s: %s", optarg, strerror(errno));
			break;
		case 'T': lifetime = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || delay_ms < 0 || lifetime <= 0)
		usage();
	target = atoi(argv[optind]);
	if (target <= 0 || target > 65535)
		usage();
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(port, port_file);
	end = now_ns() + (int64_t)lifetime * 1000000000;
	while (!stop && now_ns() < end) {
		int n, i;
		int64_t now = now_ns(), wait_ns;
		struct timespec ts;

		n = poll_set(p, slot_of, lfd, now, &wait_ns);
		ts.tv_sec = (time_t)(wait_ns / 1000000000);
		ts.tv_nsec = (long)(wait_ns % 1000000000);
		if (ppoll(p, (nfds_t)n, &ts, NULL) < 0 && errno != EINTR)
			die("ppoll: %s", strerror(errno));
		if (p[0].revents & POLLIN)
			conn_accept(lfd, target);
		/* reads first, each stamped as it arrives; then what is due */
		for (i = 1; i < n; i++) {
			struct conn *c = conns[slot_of[i]];

			int d = (i - 1) % 2;

			if (c == NULL || c->fd[d] != p[i].fd)
				continue; /* gone, or a new one in its slot */
			if ((p[i].revents & POLLERR) && c->d[d].read_eof)
				conn_reset(slot_of[i], d);
			else if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
				 !c->d[d].read_eof)
				conn_read(slot_of[i], d);
		}
		now = now_ns();
		for (i = 0; i < MAX_CONNS; i++) {
			if (conns[i] && conn_write(i, C2S, now) == 0)
				conn_write(i, S2C, now);
		}
	}
	return 0;
}
