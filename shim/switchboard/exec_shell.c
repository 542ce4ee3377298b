/*
 * exec_shell.c - system(3), popen(3) and pclose(3) (exec.h).
 *
 * glibc runs /bin/sh for them with its internal posix_spawn, which no
 * hook sees.  While /bin/sh with the current environment is preloaded
 * (the usual case: its own execs are then checked when it makes them),
 * libc's functions run unchanged.  Otherwise (the program took LD_PRELOAD
 * or the configuration out of its environment, or /bin/sh is static) the
 * shell is started here through exec_spawn, which supervises it, with
 * what libc's would do around it: system ignores SIGINT and SIGQUIT and
 * blocks SIGCHLD while it waits, and its child gets them back; popen's
 * child closes the streams of this module's earlier popen calls, and
 * pclose waits for the child it started.  (Not reproduced: glibc's count
 * of concurrent system calls sharing the ignored signals, and its
 * thread-cancellation cleanup.)
 *
 * Not async-signal-safe, like the functions it stands for.  The list of
 * popen streams is guarded by one mutex.
 */
#include "exec.h"
#include "exec_env.h"
#include "exec_image.h"
#include "log.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#define EXEC_SHELL "/bin/sh"

extern char **environ;

/* One stream popen returned that pclose must wait for. */
struct exec_popened {
	FILE *fp;
	pid_t pid;
	struct exec_popened *next;
};

static struct exec_popened *exec_popen_list;
static pthread_mutex_t exec_popen_lock = PTHREAD_MUTEX_INITIALIZER;

/* 1 if libc's own call may run: /bin/sh with the current environment
   is preloaded with this configuration (or cannot run at all). */
static int exec_shell_direct(void)
{
	struct exec_image img;

	if (!exec_env_configured())
		return 1;
	exec_image_classify(AT_FDCWD, EXEC_SHELL, 0, &img);
	if (img.kind == EXEC_KIND_UNREACHABLE)
		return 0;
	return img.kind != EXEC_KIND_PRELOADABLE || exec_env_keeps_shim(environ);
}

/* `sh -c -- command`, as glibc's. */
static int exec_shell_spawn(pid_t *pid, const char *command,
			    const posix_spawn_file_actions_t *actions,
			    const posix_spawnattr_t *attr)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)"--",
			 (char *)command, NULL };

	return exec_spawn(pid, EXEC_SHELL, actions, attr, argv, environ, 0);
}

static int exec_shell_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* ------------------------------------------------------------ system */

/* The child's signals: SIGINT and SIGQUIT back to default unless the
   caller ignored them, the caller's mask. */
static int exec_system_attr(posix_spawnattr_t *attr,
			    const struct sigaction *intr,
			    const struct sigaction *quit,
			    const sigset_t *mask)
{
	sigset_t def;

	if (posix_spawnattr_init(attr) != 0)
		return -1;
	sigemptyset(&def);
	if (intr->sa_handler != SIG_IGN)
		sigaddset(&def, SIGINT);
	if (quit->sa_handler != SIG_IGN)
		sigaddset(&def, SIGQUIT);
	posix_spawnattr_setsigdefault(attr, &def);
	posix_spawnattr_setsigmask(attr, mask);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF |
					       POSIX_SPAWN_SETSIGMASK);
	return 0;
}

static int exec_system_run(const char *command)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, intr, quit;
	sigset_t chld, mask;
	posix_spawnattr_t attr;
	pid_t pid;
	int rc, status;

	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &intr);
	sigaction(SIGQUIT, &ign, &quit);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &mask);
	rc = exec_system_attr(&attr, &intr, &quit, &mask) == 0 ? 0 : ENOMEM;
	if (rc == 0) {
		rc = exec_shell_spawn(&pid, command, NULL, &attr);
		posix_spawnattr_destroy(&attr);
	}
	status = rc == 0 ? exec_shell_wait(pid) : W_EXITCODE(127, 0);
	sigaction(SIGINT, &intr, NULL);
	sigaction(SIGQUIT, &quit, NULL);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	if (rc != 0)
		errno = rc;
	return status;
}

int exec_system(const char *command)
{
	if (command == NULL || exec_shell_direct())
		return real.system(command);
	return exec_system_run(command);
}

/* ---------------------------------------------------------- wordexp */

int exec_wordexp(const char *words, wordexp_t *we, int flags)
{
	int rc;

	if ((flags & WRDE_NOCMD) || exec_shell_direct())
		return real.wordexp(words, we, flags);
	rc = real.wordexp(words, we, flags | WRDE_NOCMD);
	if (rc == WRDE_CMDSUB)
		log_msg(SHIM_LOG_ERROR, "wordexp: a command substitution: " EXEC_SHELL
			" would run unprotected (this process's environment no "
			"longer loads this library with its configuration), and "
			"glibc starts it where no hook sees: refused (WRDE_CMDSUB, "
			"fail closed)");
	return rc;
}

/* ------------------------------------------------------------- popen */

/* popen's mode: 'r' or 'w', and 'e' for a close-on-exec stream. */
static int exec_popen_mode(const char *mode, int *rd, int *cloexec)
{
	int r = 0, w = 0;

	*cloexec = 0;
	for (; *mode != '\0'; mode++)
		switch (*mode) {
		case 'r':
			r = 1;
			break;
		case 'w':
			w = 1;
			break;
		case 'e':
			*cloexec = 1;
			break;
		default:
			return -1;
		}
	*rd = r;
	return r ^ w ? 0 : -1;
}

/* The child's descriptors: its end of the pipe as stdin or stdout, the
   streams of earlier popen calls closed (POSIX).  Caller holds the lock. */
static int exec_popen_actions(posix_spawn_file_actions_t *fa, int child,
			      int std)
{
	if (posix_spawn_file_actions_init(fa) != 0)
		return -1;
	/* dup2 onto itself clears close-on-exec (glibc >= 2.29) */
	if (posix_spawn_file_actions_adddup2(fa, child, std) != 0)
		goto fail;
	for (struct exec_popened *p = exec_popen_list; p != NULL; p = p->next)
		if (fileno(p->fp) != std &&
		    posix_spawn_file_actions_addclose(fa, fileno(p->fp)) != 0)
			goto fail;
	return 0;
fail:
	posix_spawn_file_actions_destroy(fa);
	return -1;
}

/* Spawn the shell on pipe fds (ours at fds[rd ? 0 : 1]): its pid, or -1. */
static pid_t exec_popen_spawn(const char *command, const int fds[2], int rd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	int rc;

	if (exec_popen_actions(&fa, fds[rd ? 1 : 0], rd ? 1 : 0) < 0) {
		errno = ENOMEM;
		return -1;
	}
	rc = exec_shell_spawn(&pid, command, &fa, NULL);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return pid;
}

/* Ours: the stream over parent, the entry for pclose. */
static FILE *exec_popen_stream(struct exec_popened *e, int parent, int rd,
			       int cloexec)
{
	if (!cloexec)
		real.fcntl(parent, F_SETFD, 0);
	e->fp = fdopen(parent, rd ? "r" : "w");
	if (e->fp == NULL)
		return NULL;
	e->next = exec_popen_list;
	exec_popen_list = e;
	return e->fp;
}

static FILE *exec_popen_run(const char *command, int rd, int cloexec)
{
	struct exec_popened *e = malloc(sizeof(*e));
	int fds[2], parent, e_;
	FILE *fp = NULL;

	if (e == NULL || pipe2(fds, O_CLOEXEC) < 0) {
		free(e);
		return NULL;
	}
	parent = fds[rd ? 0 : 1];
	pthread_mutex_lock(&exec_popen_lock);
	e->pid = exec_popen_spawn(command, fds, rd);
	if (e->pid > 0)
		fp = exec_popen_stream(e, parent, rd, cloexec);
	pthread_mutex_unlock(&exec_popen_lock);
	e_ = errno;
	close(fds[rd ? 1 : 0]);
	if (fp == NULL) {
		close(parent);
		if (e->pid > 0)
			exec_shell_wait(e->pid);
		free(e);
	}
	errno = e_;
	return fp;
}

FILE *exec_popen(const char *command, const char *mode)
{
	int rd, cloexec;

	if (exec_shell_direct())
		return real.popen(command, mode);
	if (exec_popen_mode(mode, &rd, &cloexec) < 0) {
		errno = EINVAL;
		return NULL;
	}
	return exec_popen_run(command, rd, cloexec);
}

int exec_pclose(FILE *stream)
{
	struct exec_popened **p, *e = NULL;
	pid_t pid;

	pthread_mutex_lock(&exec_popen_lock);
	for (p = &exec_popen_list; *p != NULL; p = &(*p)->next)
		if ((*p)->fp == stream) {
			e = *p;
			*p = e->next;
			break;
		}
	pthread_mutex_unlock(&exec_popen_lock);
	if (e == NULL)
		return real.pclose(stream);
	pid = e->pid;
	free(e);
	fclose(stream);
	return exec_shell_wait(pid);
}
