/*
 * exec.c - execve and what glibc builds on it, and posix_spawn (exec.h).
 *
 * Each exec is classified first (exec_image.h).  A target the kernel
 * would refuse, or a privileged one, goes to the real call unchanged, so
 * its errno is the real one.  A dynamic program of our loader goes to the
 * real call when its environment keeps the shim and the configuration
 * (exec_env.h); else it is supervised, like a static or Go program: the
 * exec becomes `redis-tls-ctl supervise ... -- TARGET ARGS`, which gives
 * the program exactly its own environment (without the shim).
 *
 * execvp, execvpe, execlp and posix_spawnp search PATH the way glibc
 * does; glibc's own execvpe would call its internal __execve, which no
 * hook sees, so the search is done here, each candidate an exec_execve.
 * posix_spawnp's candidates are told in turn up to the first the kernel
 * will run (glibc's search goes on past a #! script whose interpreter is
 * missing), then the real call searches.
 * Async-signal-safe (exec.h); system, popen and pclose are in
 * exec_shell.c.
 */
#include "exec.h"
#include "exec_env.h"
#include "exec_image.h"
#include "log.h"
#include "real.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXEC_SHELL "/bin/sh"
#define EXEC_DEFAULT_PATH "/bin:/usr/bin" /* glibc's, without PATH */
#define EXEC_ARGC_MAX 32768               /* arguments built on the stack */

/* One exec, as execveat(2) takes it. */
struct exec_call {
	int dirfd;
	const char *path;
	char *const *argv;
	char *const *envp;
	int flags;
};

static int exec_by_fd(const struct exec_call *c)
{
	return (c->flags & AT_EMPTY_PATH) && c->path != NULL &&
	       c->path[0] == '\0';
}

static const char *exec_name(const struct exec_call *c)
{
	return exec_by_fd(c) ? "(a file descriptor)" : c->path;
}

static int exec_real(const struct exec_call *c)
{
	if (c->dirfd == AT_FDCWD && c->flags == 0)
		return real.execve(c->path, c->argv, c->envp);
	if (c->flags == AT_EMPTY_PATH && exec_by_fd(c))
		return real.fexecve(c->dirfd, c->argv, c->envp);
	if (real.execveat != NULL)
		return real.execveat(c->dirfd, c->path, c->argv, c->envp,
				     c->flags);
	return (int)syscall(SYS_execveat, c->dirfd, c->path, c->argv, c->envp,
			    c->flags);
}

/* redis-tls-ctl, if it can be run; else NULL after one line. */
static const char *exec_ctl_for(const char *name, const char *why)
{
	const char *ctl = exec_env_ctl();

	if (ctl != NULL && faccessat(AT_FDCWD, ctl, X_OK, AT_EACCESS) == 0)
		return ctl;
	log_msg_async(SHIM_LOG_ERROR, "exec %s: %s; %s is needed to run it "
		      "under the supervisor and cannot be run: not run "
		      "(fail closed)", name, why,
		      ctl != NULL ? ctl : "redis-tls-ctl (beside this "
		      "library, whose path is unknown)");
	return NULL;
}

/* path with "./" before a bare name (the supervisor searches no PATH
   for a name with a '/'), into out. */
static int exec_pathname(const char *path, char *out, size_t len)
{
	int bare = strchr(path, '/') == NULL;
	size_t n = strlen(path);

	if (n + 3 > len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, "./", bare ? 2 : 0);
	memcpy(out + (bare ? 2 : 0), path, n + 1);
	return 0;
}

/*
 * The name the supervisor's child execs for c, into out: c's path when
 * it names the file from any directory, else /proc/self/fd/N of a
 * descriptor the supervisor inherits (*tmp: one made here, to close if
 * the exec fails; the program inherits it open).
 */
static int exec_target(const struct exec_call *c, char *out, size_t len,
		       int *tmp)
{
	int fd = c->dirfd, fdflags;

	*tmp = -1;
	if (!exec_by_fd(c) && (c->path[0] == '/' || c->dirfd == AT_FDCWD))
		return exec_pathname(c->path, out, len);
	if (!exec_by_fd(c)) {
		fd = real.openat(c->dirfd, c->path, O_PATH | O_CLOEXEC |
				 ((c->flags & AT_SYMLINK_NOFOLLOW) ?
					  O_NOFOLLOW : 0));
		if (fd < 0)
			return -1;
		*tmp = fd;
	}
	fdflags = real.fcntl(fd, F_GETFD);
	if (fdflags < 0)
		return -1;
	if (fdflags & FD_CLOEXEC) {
		fd = real.fcntl(fd, F_DUPFD, 0);
		if (*tmp >= 0)
			real.close(*tmp);
		*tmp = fd;
		if (fd < 0)
			return -1;
	}
	exec_fd_path(fd, out);
	return 0;
}

static int exec_ctl_execve(const char *ctl, char *const argv[],
			   char *const envp[], void *arg)
{
	(void)arg;
	return real.execve(ctl, argv, envp);
}

static int exec_supervised(const struct exec_call *c, const char *why)
{
	char target[PATH_MAX];
	int tmp, e;

	if (exec_ctl_for(exec_name(c), why) == NULL) {
		errno = EACCES;
		return -1;
	}
	if (exec_target(c, target, sizeof(target), &tmp) < 0) {
		e = errno;
		log_msg_async(SHIM_LOG_ERROR, "exec %s: %s, and no name to run "
			      "it by under the supervisor (%s): not run (fail "
			      "closed)", exec_name(c), why, strerrorname_np(e));
		errno = e;
		return -1;
	}
	log_msg_async(SHIM_LOG_INFO, "exec %s: %s: run under the supervisor",
		      exec_name(c), why);
	exec_env_supervise(target, c->argv, c->envp, exec_ctl_execve, NULL);
	e = errno;
	if (tmp >= 0)
		real.close(tmp);
	log_msg_async(SHIM_LOG_ERROR, "exec %s: %s, and the supervisor could "
		      "not be started (%s): not run (fail closed)",
		      exec_name(c), why, strerrorname_np(e));
	errno = e;
	return -1;
}

static int exec_cloexec(int fd)
{
	int f = real.fcntl(fd, F_GETFD);

	return f >= 0 && (f & FD_CLOEXEC);
}

/* Why c's img would run unprotected; NULL if it is protected, or if the
   real call is to run it (or fail) as it would.  redis-tls-ctl with a
   configuration is its own TLS (a nested redis-tls-run --supervise). */
static const char *exec_unprotected(const struct exec_call *c,
				    const struct exec_image *img)
{
	char *const none[] = { NULL };
	char *const *envp = c->envp != NULL ? c->envp : none;

	switch (img->kind) {
	case EXEC_KIND_PRELOADABLE:
		if (!exec_env_keeps_shim(envp) &&
		    !(exec_env_keeps_config(envp) &&
		      exec_env_is_ctl(c->dirfd, c->path, c->flags)))
			return "its environment does not load this library "
			       "with this process's configuration";
		return exec_image_loader_why(img, c->argv);
	case EXEC_KIND_UNREACHABLE:
		/* valgrind's tool is static, but it loads its client with
		   ld.so, which honours LD_PRELOAD */
		if (img->no_interp && exec_env_valgrind(envp) &&
		    exec_env_keeps_shim(envp))
			return NULL;
		return img->why;
	case EXEC_KIND_FAILS:
	case EXEC_KIND_PRIVILEGED:
	default:
		return NULL;
	}
}

static int exec_at(const struct exec_call *c)
{
	struct exec_image img;
	const char *why;

	exec_image_classify(c->dirfd, c->path, c->flags, &img);
	/* A script by a close-on-exec descriptor: its interpreter could not
	   open it, the kernel fails it (ENOENT). */
	if (img.script && exec_by_fd(c) && exec_cloexec(c->dirfd))
		return exec_real(c);
	/* the image goes, and the relay thread and private sockets with
	   it: what the program wrote goes first, as at an exit (a kernel
	   socket sends it whatever runs next); not for an exec the kernel
	   refuses, which a PATH search meets again and again */
	if (img.kind != EXEC_KIND_FAILS)
		relay_drain();
	why = exec_unprotected(c, &img);
	return why == NULL ? exec_real(c) : exec_supervised(c, why);
}

int exec_execve(const char *path, char *const argv[], char *const envp[])
{
	struct exec_call c = { AT_FDCWD, path, argv, envp, 0 };

	if (!exec_env_configured())
		return real.execve(path, argv, envp);
	return exec_at(&c);
}

int exec_execveat(int dirfd, const char *path, char *const argv[],
		  char *const envp[], int flags)
{
	struct exec_call c = { dirfd, path, argv, envp, flags };

	if (!exec_env_configured())
		return exec_real(&c);
	return exec_at(&c);
}

int exec_fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_call c = { fd, "", argv, envp, AT_EMPTY_PATH };

	if (!exec_env_configured())
		return real.fexecve(fd, argv, envp);
	return exec_at(&c);
}

/* ------------------------------------------------------- PATH search */

/* glibc's answer to ENOEXEC in execvp: /bin/sh FILE ARGS... */
static void exec_script(const char *file, char *const argv[],
			char *const envp[])
{
	size_t argc = 0;

	while (argv != NULL && argv[argc] != NULL)
		argc++;
	if (argc > EXEC_ARGC_MAX) {
		errno = E2BIG;
		return;
	}
	char *sh[argc > 1 ? argc + 2 : 3];

	sh[0] = (char *)EXEC_SHELL;
	sh[1] = (char *)file;
	if (argc > 1)
		memcpy(sh + 2, argv + 1, argc * sizeof(sh[0]));
	else
		sh[2] = NULL;
	exec_execve(EXEC_SHELL, sh, envp);
}

static void exec_try(const char *path, char *const argv[], char *const envp[])
{
	exec_execve(path, argv, envp);
	if (errno == ENOEXEC)
		exec_script(path, argv, envp);
}

int exec_execvpe(const char *file, char *const argv[], char *const envp[])
{
	const char *path = getenv("PATH"), *p, *end;
	size_t flen, plen;
	int eacces = 0;

	if (!exec_env_configured())
		return real.execvpe(file, argv, envp);
	if (*file == '\0' || strchr(file, '/') != NULL) {
		if (*file == '\0')
			errno = ENOENT;
		else
			exec_try(file, argv, envp);
		return -1;
	}
	flen = strlen(file);
	if (flen > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	path = path != NULL ? path : EXEC_DEFAULT_PATH;
	plen = strnlen(path, PATH_MAX - 1) + 1;
	char buf[plen + flen + 2];

	for (p = path;; p = end + 1) {
		end = strchrnul(p, ':');
		if ((size_t)(end - p) < plen) {
			char *o = mempcpy(buf, p, (size_t)(end - p));

			if (end > p)
				*o++ = '/';
			memcpy(o, file, flen + 1);
			exec_try(buf, argv, envp);
			if (!exec_image_search_goes_on(&eacces))
				return -1;
		}
		if (*end == '\0')
			break;
	}
	if (eacces)
		errno = EACCES;
	return -1;
}

/* ------------------------------------------------------- posix_spawn */

/* The next file posix_spawnp may try for file, into out: the next PATH
   entry (from *at, NULL at first) where it is a regular file we may
   execute.  0 (*at moved past it), or -1. */
static int exec_search(const char *file, char *out, size_t len,
		       const char **at)
{
	const char *path = getenv("PATH"), *p, *end;
	size_t flen = strlen(file), dlen;
	struct stat st;

	if (*at == NULL)
		*at = path != NULL ? path : EXEC_DEFAULT_PATH;
	else if (**at == '\0')
		return -1;
	for (p = *at;; p = end + 1) {
		end = strchrnul(p, ':');
		dlen = (size_t)(end - p);
		*at = *end == '\0' ? end : end + 1;
		if (dlen + flen + 2 <= len) {
			memcpy(out, p, dlen);
			if (dlen > 0)
				out[dlen++] = '/';
			memcpy(out + dlen, file, flen + 1);
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
			    faccessat(AT_FDCWD, out, X_OK, AT_EACCESS) == 0)
				return 0;
		}
		if (*end == '\0')
			return -1;
	}
}

struct exec_spawn_args {
	pid_t *pid;
	const posix_spawn_file_actions_t *actions;
	const posix_spawnattr_t *attr;
	int rc;
};

static int exec_ctl_spawn(const char *ctl, char *const argv[],
			  char *const envp[], void *arg)
{
	struct exec_spawn_args *a = arg;

	a->rc = real.posix_spawn(a->pid, ctl, a->actions, a->attr, argv, envp);
	return 0;
}

/* posix_spawn of ctl supervising file: 0 or an error number. */
static int exec_spawn_supervised(const char *file, const char *why,
				 struct exec_spawn_args *a,
				 char *const argv[], char *const envp[])
{
	char target[PATH_MAX];

	if (exec_ctl_for(file, why) == NULL)
		return EACCES;
	if (exec_pathname(file, target, sizeof(target)) < 0)
		return errno;
	log_msg_async(SHIM_LOG_INFO, "posix_spawn %s: %s: run under the "
		      "supervisor", file, why);
	if (exec_env_supervise(target, argv, envp, exec_ctl_spawn, a) < 0) {
		log_msg_async(SHIM_LOG_ERROR, "posix_spawn %s: %s, and the "
			      "supervisor could not be started (%s): not run "
			      "(fail closed)", file, why,
			      strerrorname_np(errno));
		return errno;
	}
	return a->rc;
}

int exec_spawn(pid_t *pid, const char *path,
	       const posix_spawn_file_actions_t *actions,
	       const posix_spawnattr_t *attr, char *const argv[],
	       char *const envp[], int search)
{
	struct exec_spawn_args a = { pid, actions, attr, 0 };
	char *const none[] = { NULL };
	char found[PATH_MAX];
	const char *file = path, *why;
	struct exec_image img;

	if (!exec_env_configured())
		file = NULL;
	/* no path, or not found on PATH: the real call says why.  A file
	   the kernel will not run (a #! script whose interpreter is
	   missing) does not end glibc's search: the next one is told too */
	if (file != NULL && search && strchr(path, '/') == NULL) {
		const char *at = NULL;

		while (exec_search(path, found, sizeof(found), &at) == 0) {
			struct exec_call c = { AT_FDCWD, found, argv, envp, 0 };

			exec_image_classify(AT_FDCWD, found, 0, &img);
			why = exec_unprotected(&c, &img);
			if (why != NULL)
				return exec_spawn_supervised(
					found, why, &a, argv,
					envp != NULL ? envp : none);
			if (img.kind != EXEC_KIND_FAILS)
				break;
		}
		file = NULL;
	}
	if (file != NULL) {
		struct exec_call c = { AT_FDCWD, file, argv, envp, 0 };

		exec_image_classify(AT_FDCWD, file, 0, &img);
		why = exec_unprotected(&c, &img);
		if (why != NULL)
			return exec_spawn_supervised(file, why, &a, argv,
						     envp != NULL ? envp : none);
	}
	if (search)
		return real.posix_spawnp(pid, path, actions, attr, argv, envp);
	return real.posix_spawn(pid, path, actions, attr, argv, envp);
}
