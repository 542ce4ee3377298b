/*
 * spawn_time.c - start-up cost of a preloaded library, for scripts/bench.sh.
 *
 *   spawn_time RUNS LIBRARY PROGRAM [ARGS...]
 *
 * Starts PROGRAM 2 x RUNS times with posix_spawn and waits for each, timing
 * from spawn to exit: RUNS times with LD_PRELOAD=LIBRARY added to the
 * environment, RUNS times without (any LD_PRELOAD inherited is removed
 * from both).  The two kinds alternate (A B, B A, A B, ...) so a noisy
 * machine slows both alike.  Prints one line:
 *
 *   spawn_time: runs=N plain_median_us=A preload_median_us=B ratio=B/A
 *
 * Exit status 0; 1 if a run failed to start or exited non-zero; 2 on a
 * usage error.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define WARMUP 20

extern char **environ;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* run_once: PROGRAM with envp, start to exit, in microseconds. */
static double run_once(char **argv, char **envp)
{
	double t0 = now_us();
	pid_t pid;
	int rc, status;

	rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, envp);
	if (rc != 0) {
		fprintf(stderr, "spawn_time: posix_spawn(%s): %s\n", argv[0], strerror(rc));
		exit(1);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("spawn_time: waitpid");
			exit(1);
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "spawn_time: %s did not exit with status 0 (%#x)\n", argv[0], status);
		exit(1);
	}
	return now_us() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* make_envs: the environment without LD_PRELOAD, and the same plus
 * LD_PRELOAD=lib. */
static void make_envs(const char *lib, char ***plain, char ***preload)
{
	size_t n = 0, i, j = 0;
	char *var;

	while (environ[n])
		n++;
	*plain = calloc(n + 1, sizeof(char *));
	*preload = calloc(n + 2, sizeof(char *));
	var = malloc(strlen(lib) + sizeof("LD_PRELOAD="));
	if (!*plain || !*preload || !var) {
		fputs("spawn_time: out of memory\n", stderr);
		exit(1);
	}
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) {
			(*plain)[j] = environ[i];
			(*preload)[j] = environ[i];
			j++;
		}
	strcpy(var, "LD_PRELOAD=");
	strcat(var, lib);
	(*preload)[j] = var;
}

int main(int argc, char **argv)
{
	char **env_plain, **env_pre;
	double *t_plain, *t_pre, mp, mq;
	long runs, i;

	if (argc < 4 || (runs = strtol(argv[1], NULL, 10)) < 1) {
		fputs("usage: spawn_time RUNS LIBRARY PROGRAM [ARGS...]\n", stderr);
		return 2;
	}
	make_envs(argv[2], &env_plain, &env_pre);
	t_plain = calloc((size_t)runs, sizeof(double));
	t_pre = calloc((size_t)runs, sizeof(double));
	if (!t_plain || !t_pre) {
		fputs("spawn_time: out of memory\n", stderr);
		return 1;
	}
	for (i = 0; i < WARMUP; i++) {
		run_once(argv + 3, env_plain);
		run_once(argv + 3, env_pre);
	}
	for (i = 0; i < runs; i++) {
		if (i % 2) {
			t_pre[i] = run_once(argv + 3, env_pre);
			t_plain[i] = run_once(argv + 3, env_plain);
		} else {
			t_plain[i] = run_once(argv + 3, env_plain);
			t_pre[i] = run_once(argv + 3, env_pre);
		}
	}
	mp = median(t_plain, runs);
	mq = median(t_pre, runs);
	printf("spawn_time: runs=%ld plain_median_us=%.1f preload_median_us=%.1f ratio=%.3f\n", runs,
	       mp, mq, mq / mp);
	return 0;
}
