/*
 * cpu_time.c - the CPU time of one command, for scripts/bench.sh.
 *
 *   cpu_time FILE PROGRAM [ARGS...]
 *
 * Runs PROGRAM (searched in PATH) as a child, waits for it with wait4()
 * and writes one line to FILE:
 *
 *   user_us=U sys_us=S
 *
 * the user and system CPU time of the child process, in microseconds, as
 * the kernel accounted it (with its own children that it waited for).
 * PROGRAM's standard streams are this program's.
 *
 * Exit status: PROGRAM's own (128 + the signal that killed it); 127 when
 * it could not be started, 2 on a usage error or when FILE cannot be
 * written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static long long tv_us(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000LL + tv->tv_usec;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: cpu_time FILE PROGRAM [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("cpu_time: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "cpu_time: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("cpu_time: wait4");
			return 2;
		}
	}
	out = fopen(argv[1], "w");
	if (out == NULL || fprintf(out, "user_us=%lld sys_us=%lld\n",
				   tv_us(&ru.ru_utime), tv_us(&ru.ru_stime)) < 0 ||
	    fclose(out) != 0) {
		perror("cpu_time: cannot write the result");
		return 2;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
