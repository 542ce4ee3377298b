/*
 * exec_env.c - the configuration an exec must keep, and the supervisor's
 * command line (exec_env.h).
 *
 * The snapshot lives in static storage written once, by the constructor,
 * before the program (or any thread of it) runs; the paths of this
 * library and of redis-tls-ctl are found then too (dladdr takes the
 * loader's lock, which an exec from a vfork child must not).  Later
 * readers only read.  /etc/ld.so.preload is read at the first exec that
 * asks, and the answer kept (racing first readers write the same value).
 */
#include "exec_env.h"
#include "log.h"
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXEC_ENV_PREFIX "REDIS_TLS_"
#define EXEC_ENV_PASS_VAR "REDIS_TLS_KEY_PASSPHRASE_ENV"
#define EXEC_ENV_PRELOAD "LD_PRELOAD="
#define EXEC_ENV_SYSTEM_PRELOAD "/etc/ld.so.preload"
#define EXEC_ENV_LIB_NAME "libredistls"
#define EXEC_ENV_CTL_NAME "redis-tls-ctl"
#define EXEC_ENV_SEPARATORS " :"         /* ld.so's, for LD_PRELOAD */
#define EXEC_ENV_FILE_SEPARATORS " :\t\n" /* and for ld.so.preload */
#define EXEC_ENV_SNAP_MAX 65536
#define EXEC_ENV_VARS_MAX 256
#define EXEC_ENV_VEC_MAX 16384   /* the command line's argv and envp entries on the stack */
#define EXEC_ENV_PRELOAD_MAX 65536
#define EXEC_ENV_SUP_ARGS 9      /* ctl supervise --env-count N --argv0 A -- T, NULL */
#define EXEC_ENV_FILE_MAX 4096

extern char **environ;
/* SHIM_STAND_ASIDE_SYMBOL, bound by the loader at load time: a dlsym()
   of a missing symbol here cost more than the rest of the start-up. */
extern const int redis_tls_shim_stand_aside __attribute__((weak));

static char exec_env_buf[EXEC_ENV_SNAP_MAX];
static size_t exec_env_used;
static char *exec_env_snap[EXEC_ENV_VARS_MAX + 1];
static size_t exec_env_nsnap;
static int exec_env_overflow; /* more configuration than the snapshot holds */
static int exec_env_has_config;
static char exec_env_lib[PATH_MAX]; /* this library, absolute */
static char exec_env_ctl_path[PATH_MAX];
static atomic_int exec_env_sys; /* ld.so.preload names us: 0 unknown, 1, 2 no */

/*
 * strncmp(s, p, n) == 0 for a prefix p of length n, and a copy loop: the
 * constructor runs in every process the shim is preloaded into, and its
 * first call of each libc string function would cost a lazy binding.
 */
static int exec_env_starts(const char *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != p[i])
			return 0;
	return 1;
}

/* Copy s (NUL included) to out, at most max bytes: its length, or -1. */
static long exec_env_copy(char *out, const char *s, size_t max)
{
	for (size_t i = 0; i < max; i++)
		if ((out[i] = s[i]) == '\0')
			return (long)i;
	return -1;
}

/* The value of NAME in v (name_eq is "NAME=", len its length), first
   match as getenv(3) finds it; NULL if absent. */
static const char *exec_env_first(char *const v[], const char *name_eq,
				  size_t len)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (exec_env_starts(v[i], name_eq, len))
			return v[i] + len;
	return NULL;
}

/* The last "LD_PRELOAD=" entry of v (the one ld.so uses), or NULL. */
static const char *exec_env_last_preload(char *const v[])
{
	const char *last = NULL;

	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (exec_env_starts(v[i], EXEC_ENV_PRELOAD,
				    sizeof(EXEC_ENV_PRELOAD) - 1))
			last = v[i];
	return last;
}

static size_t exec_env_count(char *const v[])
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* ------------------------------------------------------ the snapshot */

static void exec_env_keep(const char *entry)
{
	char *to = exec_env_buf + exec_env_used;
	long len = exec_env_nsnap == EXEC_ENV_VARS_MAX ? -1 :
		exec_env_copy(to, entry, sizeof(exec_env_buf) - exec_env_used);

	if (len < 0) {
		exec_env_overflow = 1;
		return;
	}
	exec_env_snap[exec_env_nsnap++] = to;
	exec_env_used += (size_t)len + 1;
}

/* 1 if the snapshot has NAME (name_eq "NAME=", len) set, not empty. */
static int exec_env_set_eq(const char *name_eq, size_t len)
{
	const char *v = exec_env_first(exec_env_snap, name_eq, len);

	return v != NULL && *v != '\0';
}

/* The variable REDIS_TLS_KEY_PASSPHRASE_ENV names is configuration too. */
static void exec_env_keep_passphrase(void)
{
	char name_eq[256];
	const char *name, *v;
	size_t n;

	name = exec_env_first(exec_env_snap, EXEC_ENV_PASS_VAR "=",
			      sizeof(EXEC_ENV_PASS_VAR));
	if (name == NULL || *name == '\0' ||
	    exec_env_starts(name, EXEC_ENV_PREFIX, sizeof(EXEC_ENV_PREFIX) - 1))
		return;
	n = strlen(name);
	if (n + 2 > sizeof(name_eq)) {
		exec_env_overflow = 1;
		return;
	}
	memcpy(name_eq, name, n);
	name_eq[n] = '=';
	v = exec_env_first(environ, name_eq, n + 1);
	if (v != NULL)
		exec_env_keep(v - n - 1);
}

/* redis-tls-ctl beside exec_env_lib (absolute), into exec_env_ctl_path. */
static void exec_env_ctl_beside(void)
{
	size_t dir = 0;

	for (size_t i = 0; exec_env_lib[i] != '\0'; i++)
		if (exec_env_lib[i] == '/')
			dir = i + 1;
	if (dir == 0 || dir + sizeof(EXEC_ENV_CTL_NAME) > sizeof(exec_env_ctl_path))
		return;
	for (size_t i = 0; i < dir; i++)
		exec_env_ctl_path[i] = exec_env_lib[i];
	(void)exec_env_copy(exec_env_ctl_path + dir, EXEC_ENV_CTL_NAME,
			    sizeof(EXEC_ENV_CTL_NAME));
}

/* The first absolute entry of LD_PRELOAD named libredistls*: the copy
   that serves (a second copy stands aside, its hooks never called).  An
   entry with a dynamic string token ($LIB, $PLATFORM, $ORIGIN) is the
   loader's to expand: the loader names the file then. */
static int exec_env_lib_from_preload(const char *list)
{
	while (list != NULL && *list != '\0') {
		size_t n = 0, base = 0;
		int token = 0;

		while (list[n] != '\0' && list[n] != ' ' && list[n] != ':') {
			if (list[n] == '/')
				base = n + 1;
			token |= list[n] == '$';
			n++;
		}
		if (list[0] == '/' && !token && n < sizeof(exec_env_lib) &&
		    n - base >= sizeof(EXEC_ENV_LIB_NAME) - 1 &&
		    exec_env_starts(list + base, EXEC_ENV_LIB_NAME,
				    sizeof(EXEC_ENV_LIB_NAME) - 1)) {
			for (size_t i = 0; i < n; i++)
				exec_env_lib[i] = list[i];
			exec_env_lib[n] = '\0';
			return 0;
		}
		list += n + (list[n] != '\0');
	}
	return -1;
}

/* Else (a relative or bare LD_PRELOAD entry, /etc/ld.so.preload): ask the
   loader, and make the answer absolute. */
static void exec_env_lib_from_loader(void)
{
	Dl_info info;
	size_t n = 0;

	if (!dladdr((void *)exec_env_lib_from_loader, &info) ||
	    info.dli_fname == NULL || info.dli_fname[0] == '\0')
		return;
	if (info.dli_fname[0] != '/') {
		if (getcwd(exec_env_lib, sizeof(exec_env_lib) - 1) == NULL) {
			exec_env_lib[0] = '\0';
			return;
		}
		n = strlen(exec_env_lib);
		exec_env_lib[n++] = '/';
	}
	if (exec_env_copy(exec_env_lib + n, info.dli_fname,
			  sizeof(exec_env_lib) - n) < 0)
		exec_env_lib[0] = '\0';
}

/* This library's absolute path, and redis-tls-ctl's beside it. */
static void exec_env_find_paths(const char *preload)
{
	if (exec_env_lib_from_preload(preload) < 0)
		exec_env_lib_from_loader();
	exec_env_ctl_beside();
}

/* Light by rule (DESIGN.md): a walk over the environment; the paths only
   when there is a configuration.  A program that makes its own TLS
   (redis-tls-ctl: SHIM_STAND_ASIDE_SYMBOL) runs its programs as it means
   to: its execs are left alone, as its connections are. */
__attribute__((constructor)) static void exec_env_load(void)
{
	const char *preload = NULL;

	for (char **e = environ; e != NULL && *e != NULL; e++)
		if (exec_env_starts(*e, EXEC_ENV_PREFIX,
				    sizeof(EXEC_ENV_PREFIX) - 1))
			exec_env_keep(*e);
		else if (exec_env_starts(*e, EXEC_ENV_PRELOAD,
					 sizeof(EXEC_ENV_PRELOAD) - 1))
			preload = *e + sizeof(EXEC_ENV_PRELOAD) - 1;
	exec_env_keep_passphrase();
	exec_env_snap[exec_env_nsnap] = NULL;
	/* the system-wide file counts when no variable names a file: the
	   engine reads it then (one access(2) in an unconfigured process) */
	exec_env_has_config = exec_env_set_eq("REDIS_TLS_ENDPOINTS=", 20) ||
			      exec_env_set_eq("REDIS_TLS_CONFIG=", 17) ||
			      access(SHIM_SYSTEM_CONFIG, F_OK) == 0;
	if (exec_env_has_config && &redis_tls_shim_stand_aside != NULL)
		exec_env_has_config = 0;
	if (!exec_env_has_config)
		return;
	exec_env_find_paths(preload);
	/* what a program that cleared its environment logs with */
	log_env_given(exec_env_first(exec_env_snap, "REDIS_TLS_LOG_LEVEL=", 20),
		      exec_env_first(exec_env_snap, "REDIS_TLS_LOG_TARGET=", 21));
}

const char *exec_env_getenv(const char *name)
{
	char name_eq[256];
	size_t n = strlen(name);
	const char *v = NULL;

	if (n + 2 <= sizeof(name_eq) && !exec_env_overflow) {
		memcpy(name_eq, name, n);
		name_eq[n] = '=';
		v = exec_env_first(exec_env_snap, name_eq, n + 1);
	}
	/* empty means unset: one the process sets itself later counts */
	return v != NULL && *v != '\0' ? v : getenv(name);
}

int exec_env_configured(void)
{
	return exec_env_has_config;
}

const char *exec_env_ctl(void)
{
	return exec_env_ctl_path[0] != '\0' ? exec_env_ctl_path : NULL;
}

/* ------------------------------------------- does it load this library */

/* 1 if the LD_PRELOAD entry p[0..n) loads this library: its path, or
   the same file.  Not a bare name: the loader looks for it in the new
   program's library path (LD_LIBRARY_PATH as envp has it, its RUNPATH),
   and one it does not find there it ignores, with a warning, and runs
   the program without it (in clear). */
static int exec_env_is_lib(const char *p, size_t n)
{
	char path[PATH_MAX];
	struct stat a, b;

	if (n == 0 || n >= sizeof(path) || exec_env_lib[0] != '/')
		return 0;
	memcpy(path, p, n);
	path[n] = '\0';
	if (strcmp(path, exec_env_lib) == 0)
		return 1;
	return strchr(path, '/') != NULL && stat(path, &a) == 0 && stat(exec_env_lib, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int exec_env_list_has_lib(const char *list, const char *separators)
{
	while (list != NULL && *list != '\0') {
		size_t n = strcspn(list, separators);

		if (exec_env_is_lib(list, n))
			return 1;
		list += n;
		if (*list != '\0')
			list++;
	}
	return 0;
}

/* 1 if /etc/ld.so.preload names this library (every program loads it). */
static int exec_env_system_preload(void)
{
	char buf[EXEC_ENV_FILE_MAX];
	int known = atomic_load_explicit(&exec_env_sys, memory_order_relaxed);
	int fd;
	ssize_t n = 0;

	if (known != 0)
		return known == 1;
	fd = real.open(EXEC_ENV_SYSTEM_PRELOAD, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		real.close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	known = exec_env_list_has_lib(buf, EXEC_ENV_FILE_SEPARATORS) ? 1 : 2;
	atomic_store_explicit(&exec_env_sys, known, memory_order_relaxed);
	return known == 1;
}

/* 1 if NAME, set (not empty) in the snapshot, is set in envp too. */
static int exec_env_kept(char *const envp[], const char *name_eq, size_t len)
{
	const char *v = exec_env_first(envp, name_eq, len);

	if (!exec_env_set_eq(name_eq, len))
		return 1;
	return v != NULL && *v != '\0';
}

/*
 * The configuration is kept when each variable naming endpoints that this
 * process has is set in envp too.  Its value may differ: a configuration
 * of the child's own (a nested redis-tls-run, REDIS_TLS_LOG_LEVEL=debug
 * for one command) is the child's to use, preloaded as before.  Other
 * variables dropped (a CA, a certificate) cannot put bytes in clear:
 * the child's handshakes fail.
 */
int exec_env_keeps_config(char *const envp[])
{
	return exec_env_kept(envp, "REDIS_TLS_ENDPOINTS=", 20) &&
	       exec_env_kept(envp, "REDIS_TLS_CONFIG=", 17);
}

int exec_env_keeps_shim(char *const envp[])
{
	const char *pre = exec_env_last_preload(envp);

	if (!(pre != NULL &&
	      exec_env_list_has_lib(pre + sizeof(EXEC_ENV_PRELOAD) - 1,
				    EXEC_ENV_SEPARATORS)) &&
	    !exec_env_system_preload())
		return 0;
	return exec_env_keeps_config(envp);
}

int exec_env_is_ctl(int dirfd, const char *path, int flags)
{
	struct stat a, b;

	return exec_env_ctl_path[0] != '\0' &&
	       fstatat(dirfd, path, &a,
		       flags & (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) == 0 &&
	       stat(exec_env_ctl_path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* VALGRIND_LAUNCHER alone is no proof: every child of a program run
   under valgrind inherits it, and a static one exec'd from there with
   it would run in clear.  The launcher names itself in it. */
int exec_env_valgrind(char *const envp[])
{
	const char *v = exec_env_first(envp, "VALGRIND_LAUNCHER=", 18);
	struct stat a, b;

	return v != NULL && *v != '\0' && stat(v, &a) == 0 &&
	       stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* --------------------------------------------- the supervisor's command */

/* An LD_PRELOAD entry that is a copy of the shim (this one or another). */
static int exec_env_is_shim(const char *p, size_t n)
{
	const char *base = p;

	for (size_t i = 0; i < n; i++)
		if (p[i] == '/')
			base = p + i + 1;
	return exec_env_is_lib(p, n) ||
	       ((size_t)(p + n - base) >= sizeof(EXEC_ENV_LIB_NAME) - 1 &&
		strncmp(base, EXEC_ENV_LIB_NAME,
			sizeof(EXEC_ENV_LIB_NAME) - 1) == 0);
}

/* entry ("LD_PRELOAD=...") without the shim into out: 1, or 0 if
   nothing is left (the variable is then dropped). */
static int exec_env_strip(const char *entry, char *out)
{
	const char *p = entry + sizeof(EXEC_ENV_PRELOAD) - 1;
	char *o = out + sizeof(EXEC_ENV_PRELOAD) - 1;
	int any = 0;

	memcpy(out, EXEC_ENV_PRELOAD, sizeof(EXEC_ENV_PRELOAD) - 1);
	while (*p != '\0') {
		size_t n = strcspn(p, EXEC_ENV_SEPARATORS);

		if (n > 0 && !exec_env_is_shim(p, n)) {
			if (any)
				*o++ = ' ';
			memcpy(o, p, n);
			o += n;
			any = 1;
		}
		p += n;
		if (*p != '\0')
			p++;
	}
	*o = '\0';
	return any;
}

static void exec_env_sup_envp(char **out, char *const envp[], char *preload)
{
	const char *last = exec_env_last_preload(envp);
	size_t k = 0;

	for (size_t i = 0; i < exec_env_nsnap; i++)
		out[k++] = exec_env_snap[i];
	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (strncmp(envp[i], EXEC_ENV_PRELOAD,
			    sizeof(EXEC_ENV_PRELOAD) - 1) != 0)
			out[k++] = envp[i];
		else if (envp[i] == last && exec_env_strip(last, preload))
			out[k++] = preload;
	}
	out[k] = NULL;
}

static void exec_env_utoa(size_t v, char *out)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*out++ = digits[--n];
	*out = '\0';
}

static void exec_env_sup_argv(char **out, const char *target,
			      char *const argv[], char *count)
{
	int has0 = argv != NULL && argv[0] != NULL;
	size_t k = 0;

	out[k++] = exec_env_ctl_path;
	out[k++] = (char *)"supervise";
	out[k++] = (char *)"--env-count";
	out[k++] = count;
	out[k++] = (char *)"--argv0";
	out[k++] = has0 ? argv[0] : (char *)"";
	out[k++] = (char *)"--";
	out[k++] = (char *)target;
	for (size_t i = 1; has0 && argv[i] != NULL; i++)
		out[k++] = argv[i];
	out[k] = NULL;
}

/* The command line into v (argc + EXEC_ENV_SUP_ARGS entries for the
   arguments, then the environment's) and preload, then fn. */
static int exec_env_run(const char *target, char *const argv[],
			char *const envp[], char **v, size_t argc,
			char *preload, exec_env_fn fn, void *arg)
{
	char count[24];

	exec_env_utoa(exec_env_nsnap, count);
	exec_env_sup_argv(v, target, argv, count);
	exec_env_sup_envp(v + argc + EXEC_ENV_SUP_ARGS, envp, preload);
	return fn(exec_env_ctl_path, v, v + argc + EXEC_ENV_SUP_ARGS, arg);
}

/*
 * Vectors too large for the stack (the kernel takes ~1/4 of the stack
 * limit of arguments, many more than EXEC_ENV_VEC_MAX short ones): an
 * anonymous mapping, unmapped if the exec fails.  (From a vfork child,
 * whose memory is its parent's, a successful exec leaves it mapped in
 * the parent: only for such command lines.)
 */
static int exec_env_run_mapped(const char *target, char *const argv[],
			       char *const envp[], size_t argc, size_t nv,
			       size_t plen, exec_env_fn fn, void *arg)
{
	size_t len = nv * sizeof(char *) + plen;
	char **v = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc, e;

	if (v == MAP_FAILED) {
		errno = E2BIG;
		return -1;
	}
	rc = exec_env_run(target, argv, envp, v, argc, (char *)(v + nv), fn,
			  arg);
	e = errno;
	munmap(v, len);
	errno = e;
	return rc;
}

int exec_env_supervise(const char *target, char *const argv[],
		       char *const envp[], exec_env_fn fn, void *arg)
{
	size_t argc = exec_env_count(argv), envc = exec_env_count(envp);
	const char *pre = exec_env_last_preload(envp);
	size_t plen = pre != NULL ? strlen(pre) + 1 : 1;
	size_t nv = argc + EXEC_ENV_SUP_ARGS + envc + exec_env_nsnap + 1;

	if (exec_env_ctl() == NULL) {
		errno = EACCES;
		return -1;
	}
	if (exec_env_overflow) {
		errno = E2BIG;
		return -1;
	}
	if (nv > EXEC_ENV_VEC_MAX || plen > EXEC_ENV_PRELOAD_MAX)
		return exec_env_run_mapped(target, argv, envp, argc, nv, plen,
					   fn, arg);
	char *v[nv];
	char preload[plen];

	return exec_env_run(target, argv, envp, v, argc, preload, fn, arg);
}
