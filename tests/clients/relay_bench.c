/*
 * relay_bench.c - the cost of relay mode, for scripts/bench.sh.
 *
 *   relay_bench stdio|write HOST PORT REQUESTS DEPTH
 *
 * Connects (blocking), stores a 3-byte value, then sends REQUESTS GETs of it
 * in batches of DEPTH (DEPTH 1: one request, one reply, the next request),
 * reading each batch's replies with read() before the next batch goes.  The
 * batches are written the bash way, through stdio (fprintf + fflush on a
 * FILE of the socket: libc-internal writes no hook sees, so through the shim
 * the connection is relayed), or with write() (hooked: the fast path).
 * Prints one line:
 *
 *   relay_bench: mode=M requests=N depth=D seconds=S rps=R
 *
 * Exit 0 when every reply was the value, 1 otherwise (with a message).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLY "$3\r\nabc\r\n"
#define REPLY_LEN (sizeof(REPLY) - 1)
#define GET "GET relay_bench:k\r\n"
#define GET_LEN (sizeof(GET) - 1)

static void die(const char *what)
{
	fprintf(stderr, "relay_bench: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* read exactly len bytes and compare them with want (repeated) */
static void read_replies(int fd, const char *want, size_t want_len, long count,
			 char *buf, size_t cap)
{
	size_t total = want_len * (size_t)count, got = 0;

	while (got < total) {
		size_t room = total - got < cap ? total - got : cap;
		ssize_t n = read(fd, buf, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? 0 : errno;
			die(n == 0 ? "read: the connection ended" : "read");
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != want[(got + (size_t)i) % want_len]) {
				errno = 0;
				die("unexpected reply");
			}
		got += (size_t)n;
	}
}

static void send_batch(int fd, FILE *f, const char *batch, size_t len)
{
	if (f != NULL) {
		if (fwrite(batch, 1, len, f) != len || fflush(f) != 0)
			die("fwrite");
		return;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, batch + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write");
		off += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	long requests, depth, done = 0;
	int fd, stdio;
	FILE *f = NULL;
	char *batch, *buf;
	double t0, t1;

	if (argc != 6 || (strcmp(argv[1], "stdio") && strcmp(argv[1], "write"))) {
		fputs("usage: relay_bench stdio|write HOST PORT REQUESTS DEPTH\n", stderr);
		return 2;
	}
	stdio = strcmp(argv[1], "stdio") == 0;
	requests = strtol(argv[4], NULL, 10);
	depth = strtol(argv[5], NULL, 10);
	if (requests < 1 || depth < 1 || depth > 100000)
		return 2;
	if (getaddrinfo(argv[2], argv[3], &hints, &res) != 0)
		die("getaddrinfo");
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0)
		die("connect");
	freeaddrinfo(res);
	if (stdio && (f = fdopen(fd, "w")) == NULL)
		die("fdopen");
	batch = malloc(GET_LEN * (size_t)depth);
	buf = malloc(65536);
	if (batch == NULL || buf == NULL)
		die("malloc");
	for (long i = 0; i < depth; i++)
		memcpy(batch + (size_t)i * GET_LEN, GET, GET_LEN);
	send_batch(fd, f, "SET relay_bench:k abc\r\n", 23);
	read_replies(fd, "+OK\r\n", 5, 1, buf, 65536);
	t0 = now_s();
	while (done < requests) {
		long k = requests - done < depth ? requests - done : depth;

		send_batch(fd, f, batch, GET_LEN * (size_t)k);
		read_replies(fd, REPLY, REPLY_LEN, k, buf, 65536);
		done += k;
	}
	t1 = now_s();
	printf("relay_bench: mode=%s requests=%ld depth=%ld seconds=%.3f rps=%.0f\n",
	       argv[1], requests, depth, t1 - t0, (double)requests / (t1 - t0));
	if (f != NULL)
		fclose(f);
	else
		close(fd);
	return 0;
}
