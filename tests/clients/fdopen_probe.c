/*
 * fdopen_probe HOST PORT - connect, then fdopen() the socket.  Prints
 * "fdopen: accepted" (exit 1) or "fdopen: <error>" (exit 0).  Through the
 * shim, a TLS socket must be refused: stdio reads and writes it with libc's
 * internal calls, which would bypass TLS.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	FILE *f;
	int fd;

	if (argc != 3 || getaddrinfo(argv[1], argv[2], &hints, &res) != 0)
		return 2;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		perror("connect");
		return 2;
	}
	freeaddrinfo(res);
	f = fdopen(fd, "r+");
	printf("fdopen: %s\n", f ? "accepted" : strerror(errno));
	if (f != NULL)
		fclose(f);
	else
		close(fd);
	return f ? 1 : 0;
}
