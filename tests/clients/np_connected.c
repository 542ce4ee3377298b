/*
 * np_connected MODE HOST PORT MARKER - connect() to a configured endpoint
 * on a socket that is already connected or listening.  The kernel answers
 * EISCONN and leaves the socket as it was; the shim must not replace it
 * (nor send anything).
 *
 * accepted: a loopback listener, a client connected to it, the accept()ed
 *   socket; connect(accepted, endpoint) must fail with EISCONN, and then
 *   write(accepted, "SET <MARKER> 1") must reach the local client (prints
 *   "peer got N").
 * listening: connect(listener, endpoint) must fail (EISCONN), and the
 *   listener must still accept a new client (prints "accepted again").
 * Exit 0: as the kernel; 4: connect succeeded; 5: another errno; 6: the
 * socket was harmed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener(struct sockaddr_in *a)
{
	socklen_t al = sizeof(*a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (void *)a, sizeof(*a)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (void *)a, &al) < 0) {
		perror("listener");
		exit(1);
	}
	return l;
}

int main(int argc, char **argv)
{
	struct sockaddr_in ep = { 0 }, la;
	char cmd[256], b[512];
	int l, c, fd, r, e, n;
	struct pollfd p;

	if (argc < 5)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	ep.sin_family = AF_INET;
	ep.sin_port = htons(atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &ep.sin_addr);
	n = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\n1\r\n",
		     strlen(argv[4]), argv[4]);
	l = listener(&la);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (void *)&la, sizeof(la)) < 0) {
		perror("connect to the listener");
		return 1;
	}
	fd = strcmp(argv[1], "listening") ? accept(l, NULL, NULL) : l;
	r = connect(fd, (void *)&ep, sizeof(ep));
	e = errno;
	printf("connect=%d %s\n", r, r < 0 ? strerror(e) : "");
	if (!strcmp(argv[1], "accepted")) {
		ssize_t w = write(fd, cmd, n);

		p = (struct pollfd){ c, POLLIN, 0 };
		n = poll(&p, 1, 2000) > 0 ? (int)read(c, b, sizeof(b)) : -1;
		printf("write=%zd peer got %d\n", w, n);
		if (r == 0)
			return 4;
		return e != EISCONN ? 5 : (w <= 0 || n <= 0 ? 6 : 0);
	}
	/* listening: a new client must still be accepted */
	{
		int c2 = socket(AF_INET, SOCK_STREAM, 0), a2;

		connect(c2, (void *)&la, sizeof(la));
		p = (struct pollfd){ l, POLLIN, 0 };
		a2 = poll(&p, 1, 2000) > 0 ? accept(l, NULL, NULL) : -1;
		printf("%s\n", a2 >= 0 ? "accepted again" : "listener gone");
		if (r == 0)
			return 4;
		return e != EISCONN ? 5 : (a2 < 0 ? 6 : 0);
	}
}
