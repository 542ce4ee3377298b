/*
 * np_nofork MODE HOST PORT MARKER - a fork that runs no pthread_atfork
 * handlers, then both processes write on one TLS connection.
 *
 * MODE: fork (control: glibc fork(), atfork handlers run), _Fork (glibc
 * 2.34+, public, async-signal-safe, runs NO atfork handlers), sysfork
 * (syscall(SYS_clone, SIGCHLD): what a raw-syscall runtime does).
 *
 * connect() (the shim wraps it), SET <MARKER>_first by write() and its reply;
 * fork by MODE; the child write()s "SET <MARKER> 1" through the hooks and
 * prints "child write=N"; after the child has exited the parent write()s a
 * command of the same length (the marker with every 'S' made 'T').  If the
 * child's write went out on the parent's TLS session, both records were
 * sealed with the same key and sequence number (AEAD nonce reuse): the XOR
 * of their ciphertexts is the XOR of the plaintexts.
 * Exit 0 when it ran (the verdict is the caller's), 1 setup failure.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void reply(int fd, const char *who)
{
	char b[256];
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, 3000) <= 0) {
		printf("%s reply: (timeout)\n", who);
		return;
	}
	n = read(fd, b, sizeof(b) - 1);
	if (n <= 0) {
		printf("%s reply: (%s)\n", who, n < 0 ? strerror(errno) : "eof");
		return;
	}
	b[n] = 0;
	b[strcspn(b, "\r\n")] = 0;
	printf("%s reply: %s\n", who, b);
}

static int set_cmd(char *c, size_t sz, const char *k)
{
	return snprintf(c, sz, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\n1\r\n",
			strlen(k), k);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { 0 };
	char k[160], c[256];
	int fd, n, st;
	ssize_t w;
	pid_t p;

	if (argc < 5)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	a.sin_family = AF_INET;
	a.sin_port = htons(atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (void *)&a, sizeof(a)) < 0) {
		perror("connect");
		return 1;
	}
	snprintf(k, sizeof(k), "%s_first", argv[4]);
	n = set_cmd(c, sizeof(c), k);
	if (write(fd, c, n) != n)
		return 1;
	reply(fd, "parent");
	fflush(stdout);
	if (!strcmp(argv[1], "_Fork"))
		p = _Fork();
	else if (!strcmp(argv[1], "sysfork"))
		p = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	else if (!strcmp(argv[1], "fork"))
		p = fork();
	else
		return 2;
	if (p < 0) {
		perror("fork");
		return 1;
	}
	if (p == 0) {
		n = set_cmd(c, sizeof(c), argv[4]);
		w = write(fd, c, n);
		printf("child write=%zd%s%s\n", w, w < 0 ? " " : "",
		       w < 0 ? strerror(errno) : "");
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, &st, 0);
	snprintf(k, sizeof(k), "%s", argv[4]);
	for (char *q = k; *q; q++)
		if (*q == 'S')
			*q = 'T';
	n = set_cmd(c, sizeof(c), k);
	w = write(fd, c, n);
	printf("parent write=%zd\n", w);
	reply(fd, "parent");
	return 0;
}
