/*
 * exec.h - the exec paths of a preloaded program (execve and the calls
 * glibc builds on it, posix_spawn, system, popen): when the configuration
 * names endpoints and the new image would run unprotected (LD_PRELOAD
 * cannot reach it: static, Go, another loader; or its environment no
 * longer loads this library with this configuration: `env -i`), it is run
 * under `redis-tls-ctl supervise` instead, never unprotected.  Without a
 * configuration each call is libc's, unchanged.
 *
 * The exec calls are async-signal-safe (a vfork child calls them): the
 * checks use only system calls on stack buffers (exec_image.h), the new
 * command line is built on the stack (exec_env.h), nothing is allocated
 * or locked.  A failing exec reports the errno the real call would
 * (ENOENT, EACCES, ENOEXEC...): a target the kernel would refuse is
 * handed to the real call unchanged.  A target that would run
 * unprotected and cannot be supervised (redis-tls-ctl missing) fails with
 * EACCES and one log line: fail closed.  Set-ID programs are exec'd as
 * before (the supervisor cannot run them: a documented limit).
 */
#ifndef SHIM_EXEC_H
#define SHIM_EXEC_H

#include <spawn.h>
#include <stdio.h>
#include <sys/types.h>
#include <wordexp.h>

/* execve(2), execveat(2), fexecve(3): return only on failure (-1, errno). */
int exec_execve(const char *path, char *const argv[], char *const envp[]);
int exec_execveat(int dirfd, const char *path, char *const argv[],
		  char *const envp[], int flags);
int exec_fexecve(int fd, char *const argv[], char *const envp[]);

/* execvpe(3): glibc's PATH search (the current PATH, else /bin:/usr/bin;
   EACCES remembered, ENOEXEC run by /bin/sh), each candidate as
   exec_execve. */
int exec_execvpe(const char *file, char *const argv[], char *const envp[]);

/* posix_spawn(3) / posix_spawnp(3) (search 1): 0 or an error number. */
int exec_spawn(pid_t *pid, const char *path,
	       const posix_spawn_file_actions_t *actions,
	       const posix_spawnattr_t *attr, char *const argv[],
	       char *const envp[], int search);

/* system(3), popen(3), pclose(3): libc's own while /bin/sh with the
   current environment is preloaded; else /bin/sh under the supervisor. */
int exec_system(const char *command);
FILE *exec_popen(const char *command, const char *mode);
int exec_pclose(FILE *stream);

/* wordexp(3): libc's own; but glibc runs a command substitution's
   /bin/sh itself (its internal execve): while that shell would run
   unprotected, command substitution is refused (WRDE_CMDSUB, one line),
   as WRDE_NOCMD asks. */
int exec_wordexp(const char *words, wordexp_t *we, int flags);

#endif
