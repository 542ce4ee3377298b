/*
 * exec_env.h - the environment side of an exec: the configuration this
 * process was started with, whether a new environment still loads this
 * library with it, and the command line and environment that run a
 * program under `redis-tls-ctl supervise` instead.
 *
 * The configuration is every REDIS_TLS_* variable of the environment the
 * library was loaded with, and the variable REDIS_TLS_KEY_PASSPHRASE_ENV
 * names: copied by a constructor before the program runs, so a program
 * that later clears its own environment (clearenv, `env -i`) still has it
 * here.  Everything else is async-signal-safe: no allocation, no lock
 * (callers may be a vfork child, or a fork child of a multi-threaded
 * program).
 */
#ifndef SHIM_EXEC_ENV_H
#define SHIM_EXEC_ENV_H

/* exec_env_configured - 1 if the configuration can name endpoints
   (REDIS_TLS_ENDPOINTS or REDIS_TLS_CONFIG is set and not empty, or the
   system-wide SHIM_SYSTEM_CONFIG exists). */
int exec_env_configured(void);

/* exec_env_getenv - the engine's getenv (struct shim_host): a variable of
   the configuration (REDIS_TLS_*, the passphrase variable one names) as
   the process had it at its start (not empty: empty means unset), else
   getenv(3). */
const char *exec_env_getenv(const char *name);

/*
 * exec_env_keeps_shim - 1 if a dynamic program started with envp loads
 * this library (its LD_PRELOAD, or /etc/ld.so.preload, names it) with a
 * configuration: each of REDIS_TLS_ENDPOINTS and REDIS_TLS_CONFIG that
 * this process has set is set in envp (to this value, or to one of the
 * child's own: a nested redis-tls-run).
 */
int exec_env_keeps_shim(char *const envp[]);

/* exec_env_keeps_config - the second half of exec_env_keeps_shim: the
   variables naming endpoints are kept, whatever LD_PRELOAD says. */
int exec_env_keeps_config(char *const envp[]);

/* exec_env_is_ctl - 1 if execveat(dirfd, path, ..., flags) would run
   redis-tls-ctl beside this library: a program that makes its own TLS
   and supervises (its supervisor cannot run under another one: the
   kernel allows one listening filter in a process's chain, EBUSY). */
int exec_env_is_ctl(int dirfd, const char *path, int flags);

/* exec_env_valgrind - 1 if envp is the one valgrind's launcher gives its
   tool (VALGRIND_LAUNCHER is set, and names this process's executable:
   we are the launcher): a static program that runs its client through
   ld.so, LD_PRELOAD honoured. */
int exec_env_valgrind(char *const envp[]);

/* exec_env_ctl - redis-tls-ctl beside this library (an absolute path,
   not checked), or NULL when this library's path is unknown. */
const char *exec_env_ctl(void);

/*
 * exec_env_supervise - fn(ctl, sargv, senvp, arg) with the command line
 * that runs `target` (a path with a '/') under the supervisor:
 *   sargv  ctl supervise --env-count N --argv0 ARGV[0] -- TARGET ARGV[1]...
 *   senvp  the N variables of the configuration, then envp with this
 *          library taken out of LD_PRELOAD (neither the supervisor nor
 *          the program may load it: the supervisor would wrap its own TLS
 *          connections, a dynamic program's would be wrapped twice)
 * both built on this stack (an anonymous mapping when they are too large
 * for it).  Returns fn's value, or -1 with errno E2BIG (more
 * configuration than the snapshot holds, or no memory for the vectors)
 * or EACCES (redis-tls-ctl's path is unknown).
 */
typedef int (*exec_env_fn)(const char *ctl, char *const argv[],
			   char *const envp[], void *arg);
int exec_env_supervise(const char *target, char *const argv[],
		       char *const envp[], exec_env_fn fn, void *arg);

#endif
