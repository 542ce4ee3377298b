/*
 * fdopen_probe HOST PORT [before] - connect, then fdopen() the socket.
 * Prints "fdopen: accepted" (exit 1) or "fdopen: <error>" (exit 0).
 * Through the shim, a TLS socket must be refused: stdio reads and writes it
 * with libc's internal calls, which would bypass TLS.  With "before", the
 * socket is fdopen()ed first and then connected: prints "connect: <error>"
 * (exit 0) or "connect: accepted" (exit 1).
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

	if (argc < 3 || getaddrinfo(argv[1], argv[2], &hints, &res) != 0)
		return 2;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (argc == 4 && strcmp(argv[3], "before") == 0) {
		f = fdopen(fd, "r+");
		if (f == NULL)
			return 2;
		if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
			printf("connect: %s\n", strerror(errno));
			return 0;
		}
		printf("connect: accepted\n");
		return 1;
	}
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
