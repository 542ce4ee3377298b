/*
 * sup_steal.c - a supervised program that takes the supervisor's own TLS
 * connection (pidfd_getfd on its parent's other children: the supervisor
 * is a process of the same user, outside the filter) and writes a command
 * on it in clear.  Used by tests/integration/47-supervisor.sh.
 *
 *   sup_steal PORT MARKER: connect to 127.0.0.1:PORT (configured), then
 *   write "SET MARKER stolen" on every socket of the supervisor whose
 *   peer is that port.  Prints "connect: 0" and "stolen: N"; exit 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int is_ours(int pid)
{
	char path[64], st[512], *r;
	int pp = -1;
	FILE *f;

	if (pid == getppid())
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(st, sizeof(st), f) && (r = strrchr(st, ')')) != NULL)
		sscanf(r + 2, "%*c %d", &pp);
	fclose(f);
	return pp == getppid();
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, p;
	struct dirent *e;
	char cmd[256];
	int port, s, n, stolen = 0;
	DIR *d;

	if (argc != 3)
		return 9;
	port = atoi(argv[1]);
	n = snprintf(cmd, sizeof(cmd), "SET %s stolen\r\n", argv[2]);
	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 3;
	}
	printf("connect: 0\n");
	if ((d = opendir("/proc")) == NULL)
		return 5;
	while ((e = readdir(d)) != NULL) {
		int pid = atoi(e->d_name), pfd, fd, c;

		if (pid <= 0 || pid == getpid() || !is_ours(pid))
			continue;
		if ((pfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
			continue;
		for (fd = 0; fd < 256; fd++) {
			socklen_t l = sizeof(p);

			if ((c = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0)) < 0)
				continue;
			if (getpeername(c, (struct sockaddr *)&p, &l) == 0 &&
			    p.sin_family == AF_INET && ntohs(p.sin_port) == port &&
			    write(c, cmd, (size_t)n) == n)
				stolen++;
			close(c);
		}
		close(pfd);
	}
	closedir(d);
	printf("stolen: %d\n", stolen);
	usleep(300000);
	return 0;
}
