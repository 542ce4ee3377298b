/*
 * exec_probe MODE ENV PROG [ARGS...] - start PROG by one exec path
 * (12-never-plaintext: a preloaded program starting one LD_PRELOAD cannot
 * reach, or one whose environment loses the shim).
 *
 * MODE  execve execv execvp execvpe execl execlp execle execveat
 *       fexecve fexecve-cloexec (exec in place: the output is PROG's);
 *       forkexec vforkexec spawn spawnp (a child; then "status N");
 *       system popen (PROG is the shell command; popen prints what it
 *       read, then "status N"); wordexp (PROG the words: "wordexp N",
 *       then the words).
 * ENV   keep       the environment as it is
 *       empty      envp = { NULL } (environ untouched) for the calls that
 *                  take one; the others get environ
 *       cleared    unsetenv("LD_PRELOAD") first (what system, popen and
 *                  execv use is the environment of the moment)
 *
 * A failing call prints "failed: ENAME" (strerrorname_np) and exits 99.
 * For execl*, at most 8 arguments after PROG.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

extern char **environ;

static char *const empty_env[] = { NULL };
static char **env;

static int failed(int e)
{
	printf("failed: %s\n", strerrorname_np(e));
	fflush(stdout);
	return 99;
}

static int status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return failed(errno);
	printf("status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}

/* argv[i] or NULL, for execl's fixed list */
#define A(i) (argc > (i) ? argv[i] : NULL)

static int do_execl(const char *mode, int argc, char **argv)
{
	if (argc > 9) {
		fprintf(stderr, "exec_probe: execl*: at most 8 arguments\n");
		return 2;
	}
	if (strcmp(mode, "execl") == 0)
		execl(argv[0], argv[0], A(1), A(2), A(3), A(4), A(5), A(6), A(7),
		      A(8), (char *)NULL);
	else if (strcmp(mode, "execlp") == 0)
		execlp(argv[0], argv[0], A(1), A(2), A(3), A(4), A(5), A(6), A(7),
		       A(8), (char *)NULL);
	else
		execle(argv[0], argv[0], A(1), A(2), A(3), A(4), A(5), A(6), A(7),
		       A(8), (char *)NULL, env);
	return failed(errno);
}

static int do_fexecve(int cloexec, char **argv)
{
	int fd = open(argv[0], O_RDONLY | (cloexec ? O_CLOEXEC : 0));

	if (fd < 0)
		return failed(errno);
	fexecve(fd, argv, env);
	return failed(errno);
}

static int do_child(int use_vfork, char **argv)
{
	pid_t pid = use_vfork ? vfork() : fork();

	if (pid == 0) {
		execve(argv[0], argv, env);
		_exit(98);
	}
	if (pid < 0)
		return failed(errno);
	return status(pid);
}

static int do_spawn(int search, char **argv)
{
	pid_t pid;
	int rc = search ? posix_spawnp(&pid, argv[0], NULL, NULL, argv, env)
			: posix_spawn(&pid, argv[0], NULL, NULL, argv, env);

	if (rc != 0)
		return failed(rc);
	return status(pid);
}

static int do_popen(const char *command)
{
	char line[4096];
	FILE *f = popen(command, "r");
	int st;

	if (f == NULL)
		return failed(errno);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stdout);
	st = pclose(f);
	printf("status %d\n", st < 0 ? -1 : WEXITSTATUS(st));
	return 0;
}

static int do_wordexp(const char *words)
{
	wordexp_t we;
	int rc = wordexp(words, &we, 0);

	printf("wordexp %d\n", rc);
	for (size_t i = 0; rc == 0 && i < we.we_wordc; i++)
		printf("%s\n", we.we_wordv[i]);
	if (rc == 0)
		wordfree(&we);
	return 0;
}

static int run(const char *mode, int argc, char **argv)
{
	if (strcmp(mode, "execve") == 0)
		execve(argv[0], argv, env);
	else if (strcmp(mode, "execv") == 0)
		execv(argv[0], argv);
	else if (strcmp(mode, "execvp") == 0)
		execvp(argv[0], argv);
	else if (strcmp(mode, "execvpe") == 0)
		execvpe(argv[0], argv, env);
	else if (strncmp(mode, "execl", 5) == 0)
		return do_execl(mode, argc, argv);
	else if (strcmp(mode, "execveat") == 0)
		execveat(AT_FDCWD, argv[0], argv, env, 0);
	else if (strncmp(mode, "fexecve", 7) == 0)
		return do_fexecve(strcmp(mode, "fexecve-cloexec") == 0, argv);
	else if (strcmp(mode, "forkexec") == 0 || strcmp(mode, "vforkexec") == 0)
		return do_child(mode[0] == 'v', argv);
	else if (strcmp(mode, "spawn") == 0 || strcmp(mode, "spawnp") == 0)
		return do_spawn(mode[5] == 'p', argv);
	else if (strcmp(mode, "system") == 0) {
		int st = system(argv[0]);

		printf("status %d\n", st < 0 ? -1 : WEXITSTATUS(st));
		return 0;
	} else if (strcmp(mode, "popen") == 0)
		return do_popen(argv[0]);
	else if (strcmp(mode, "wordexp") == 0)
		return do_wordexp(argv[0]);
	else {
		fprintf(stderr, "exec_probe: unknown mode %s\n", mode);
		return 2;
	}
	return failed(errno);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: exec_probe MODE keep|empty|cleared PROG [ARGS...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	env = environ;
	if (strcmp(argv[2], "empty") == 0)
		env = (char **)empty_env;
	else if (strcmp(argv[2], "cleared") == 0)
		unsetenv("LD_PRELOAD");
	else if (strcmp(argv[2], "keep") != 0) {
		fprintf(stderr, "exec_probe: unknown ENV %s\n", argv[2]);
		return 2;
	}
	if (strcmp(argv[2], "cleared") == 0)
		env = environ;
	return run(argv[1], argc - 3, argv + 3);
}
