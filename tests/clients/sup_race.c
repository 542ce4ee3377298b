/*
 * sup_race.c - races against the supervisor's decision on a connect
 * (tests/integration/47-supervisor.sh, case_race).
 *
 *   sup_race MODE CONF_PORT UNCONF_PORT MARKER SECONDS
 *
 * Another thread changes what the kernel will act on while the supervisor
 * decides, so that a call it judged unconfigured (and continued) acts on
 * the configured endpoint 127.0.0.1:CONF_PORT:
 *   addr   connect(), the sockaddr's port flipped UNCONF_PORT -> CONF_PORT
 *   tfo    sendto(MSG_FASTOPEN) of the command, the same flip
 *   fd     connect(N, CONF), N flipping between a UDP and a TCP socket
 *   ebadf  connect(N, CONF), N flipping between closed and a TCP socket
 *   unspec connect(CONF) on a socket connected to UNCONF_PORT (EISCONN),
 *          the socket disconnected meanwhile (connect AF_UNSPEC)
 * A plaintext TCP connection to CONF_PORT that the kernel made (the
 * supervisor's own answer is TLS, which a plaintext server fails) gets
 * the command SET MARKER 1 in clear: prints "leak: MODE after N tries",
 * exit 1.  None within SECONDS: "no leak: MODE, N tries", exit 0.
 *
 * The connects are raw syscalls (a static program's, which nothing but the
 * supervisor sees); with SUP_RACE_LIBC=1 in the environment they are libc's
 * connect(), which a preloaded shim hooks (its question to the supervisor
 * first: sup_probe.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RACE_FD 100

static struct sockaddr_in sa;   /* written by both threads */
static atomic_int armed, stop;
static int conf_port, unconf_port, tcp_src, udp_src;
static atomic_int unspec_fd;
static const char *mode;

static void spin(int n)
{
	for (volatile int i = 0; i < n; i++)
		;
}

static void *flipper(void *arg)
{
	unsigned seed = 1;

	(void)arg;
	while (!stop) {
		if (!strcmp(mode, "addr") || !strcmp(mode, "tfo")) {
			while (!armed && !stop)
				;
			spin(rand_r(&seed) % 20000);
			((volatile struct sockaddr_in *)&sa)->sin_port = htons(conf_port);
			armed = 0;
		} else if (!strcmp(mode, "unspec")) {
			struct sockaddr none = { .sa_family = AF_UNSPEC };

			while (!armed && !stop)
				;
			spin(rand_r(&seed) % 20000);
			connect(unspec_fd, &none, sizeof(none));
			armed = 0;
		} else if (!strcmp(mode, "fd")) {
			dup2(udp_src, RACE_FD);
			dup2(tcp_src, RACE_FD);
		} else {
			close(RACE_FD);
			spin(rand_r(&seed) % 2000);
			dup2(tcp_src, RACE_FD);
		}
	}
	return NULL;
}

/* 1 if fd is a TCP socket connected to the configured port. */
static int to_conf(int fd)
{
	struct sockaddr_in p;
	socklen_t l = sizeof(p);
	int type = 0;
	socklen_t tl = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
	       type == SOCK_STREAM &&
	       getpeername(fd, (struct sockaddr *)&p, &l) == 0 &&
	       ntohs(p.sin_port) == conf_port;
}

/* connect(2) as the raw syscall, or libc's with SUP_RACE_LIBC=1. */
static int race_connect(int fd, const struct sockaddr_in *to)
{
	static int libc = -1;

	if (libc < 0)
		libc = getenv("SUP_RACE_LIBC") != NULL &&
		       !strcmp(getenv("SUP_RACE_LIBC"), "1");
	if (libc)
		return connect(fd, (const struct sockaddr *)to, sizeof(*to));
	return (int)syscall(SYS_connect, fd, to, sizeof(*to));
}

int main(int argc, char **argv)
{
	char cmd[256];
	pthread_t th;
	time_t end;
	long tries = 0;
	int addr_mode;

	if (argc != 6)
		return 2;
	mode = argv[1];
	conf_port = atoi(argv[2]);
	unconf_port = atoi(argv[3]);
	end = time(NULL) + atoi(argv[5]);
	snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\n1\r\n",
		 strlen(argv[4]), argv[4]);
	addr_mode = !strcmp(mode, "addr") || !strcmp(mode, "tfo");
	if (!addr_mode) {
		udp_src = socket(AF_INET, SOCK_DGRAM, 0);
		tcp_src = socket(AF_INET, SOCK_STREAM, 0);
	}
	if (pthread_create(&th, NULL, flipper, NULL) != 0)
		return 2;
	for (; time(NULL) < end; tries++) {
		int fd = RACE_FD, rc, leak;

		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (!strcmp(mode, "unspec")) {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			unspec_fd = fd;
			sa.sin_port = htons(unconf_port);
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				perror("connect UNCONF_PORT");
				return 2;
			}
			sa.sin_port = htons(conf_port);
			armed = 1;
			rc = race_connect(fd, &sa);
			while (armed)
				;
			leak = rc == 0 && to_conf(fd);
		} else if (addr_mode) {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			sa.sin_port = htons(unconf_port);
			armed = 1;
			if (!strcmp(mode, "addr"))
				rc = race_connect(fd, &sa);
			else
				rc = (int)sendto(fd, cmd, strlen(cmd), MSG_FASTOPEN,
						 (struct sockaddr *)&sa, sizeof(sa));
			while (armed)
				;
			leak = rc >= 0 && to_conf(fd);
		} else {
			sa.sin_port = htons(conf_port);
			rc = race_connect(RACE_FD, &sa);
			fd = tcp_src;
			leak = rc == 0 && to_conf(tcp_src);
		}
		if (leak) {
			stop = 1;
			if (strcmp(mode, "tfo") != 0 &&
			    write(fd, cmd, strlen(cmd)) < 0)
				perror("write");
			usleep(200000); /* let it reach the server */
			printf("leak: %s after %ld tries\n", mode, tries + 1);
			return 1;
		}
		if (addr_mode || !strcmp(mode, "unspec"))
			close(fd);
	}
	stop = 1;
	pthread_join(th, NULL);
	printf("no leak: %s, %ld tries\n", mode, tries);
	return 0;
}
