/*
 * stdio_probe HOST PORT KEY [before] - stdio on a socket: fdopen() it
 * (after connect, or with "before", first), then SET KEY and GET it with
 * fprintf/fflush and fgets, reading and writing with libc's internal calls
 * that no hook sees.  Prints each reply line; exit 0 when both are right,
 * 1 when a reply is wrong, 2 when a call fails.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int reply(FILE *f, const char *want)
{
	char line[256];

	if (fgets(line, sizeof(line), f) == NULL) {
		printf("fgets: %s\n", feof(f) ? "end of stream" : strerror(errno));
		return 2;
	}
	line[strcspn(line, "\r\n")] = '\0';
	printf("reply: %s\n", line);
	return strcmp(line, want) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int before = argc == 5 && strcmp(argv[4], "before") == 0, fd, rc;
	FILE *f = NULL;

	if (argc < 4 || getaddrinfo(argv[1], argv[2], &hints, &res) != 0)
		return 2;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		return 2;
	if (before && (f = fdopen(fd, "r+")) == NULL) {
		perror("fdopen");
		return 2;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		perror("connect");
		return 2;
	}
	freeaddrinfo(res);
	if (!before && (f = fdopen(fd, "r+")) == NULL) {
		perror("fdopen");
		return 2;
	}
	fprintf(f, "SET %s stdio\r\n", argv[3]);
	fflush(f);
	if ((rc = reply(f, "+OK")) != 0)
		return rc;
	fprintf(f, "GET %s\r\n", argv[3]);
	fflush(f);
	if ((rc = reply(f, "$5")) != 0 || (rc = reply(f, "stdio")) != 0)
		return rc;
	fclose(f);
	return 0;
}
