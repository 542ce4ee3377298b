/*
 * redis-tls-exec - redis-tls-run's last step, in one small process.
 *
 *   redis-tls-exec --lib LIB --ctl CTL [--supervise] [--classify]
 *                  -- CMD [ARGS...]
 *
 * redis-tls-run (a shell script) reads its options into REDIS_TLS_*
 * variables, finds the library, then execs this with the command.  In
 * order, as the script did itself before:
 *
 *  1. the configuration is checked (CTL check-config, when CTL exists):
 *     if it is rejected, its report and "redis-tls-run: configuration
 *     rejected; CMD not started" go to stderr, exit 2.  A verdict that
 *     check-config remembered (check_cache.h) for this very configuration
 *     spares that run of CTL, which loads OpenSSL and every file: the
 *     program's shim loads them anyway;
 *  2. LIB is added to LD_PRELOAD (unless it is there);
 *  3. with --classify, CMD is looked for as the shell's `command -v`
 *     looks (a name with a slash as it is, else the first executable
 *     file of that name in $PATH): not found, exit 2;
 *  4. CMD is exec'd as execvp does (PATH searched, going on past a file
 *     the kernel will not run, such as a #! script whose interpreter is
 *     missing; a file without #! under /bin/sh), each file tried told
 *     first (with --classify) as the shim's exec hooks tell a program
 *     (exec_image.h), a Go build-information marker anywhere in it
 *     counting as Go: a program LD_PRELOAD cannot reach runs under the
 *     supervisor, a privileged one is refused (exit 2).  With
 *     --supervise or that verdict, `CTL supervise -- CMD ARGS...` is
 *     exec'd, LIB taken out of LD_PRELOAD (what the supervisor runs is
 *     filtered, whichever file it is).
 *
 * Linked with libc alone (no OpenSSL, no libconfig): it starts in a
 * fraction of a millisecond, so the wrapper costs the program little more
 * than setting the variables by hand.  Messages are redis-tls-run's.
 */
#include "check_cache.h"
#include "version.h"
#include "switchboard/exec_image.h"
#include "switchboard/real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ME "redis-tls-run"
#define EX_REPORT_MAX (256 * 1024) /* check-config's report kept */
#define EX_GO_MARKER "Go buildinf:"
#define EX_SHELL "/bin/sh"                /* glibc's for ENOEXEC */
#define EX_DEFAULT_PATH "/bin:/usr/bin" /* glibc's, without PATH */

extern char **environ;

struct ex_opts {
	const char *lib, *ctl;
	int supervise, classify;
	char **cmd; /* CMD ARGS... */
};

static void ex_usage(void)
{
	fputs("usage: redis-tls-exec --lib LIB --ctl CTL [--supervise] "
	      "[--classify] -- CMD [ARGS...]\n"
	      "       redis-tls-exec --version\n"
	      "(redis-tls-run's last step; run redis-tls-run instead)\n",
	      stderr);
	exit(2);
}

__attribute__((format(printf, 1, 2), noreturn)) static void
ex_die(const char *fmt, ...)
{
	va_list ap;

	fputs(ME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* info: a line at log level info or debug, as the script's info(). */
__attribute__((format(printf, 1, 2))) static void ex_info(const char *fmt,
							  ...)
{
	const char *l = getenv("REDIS_TLS_LOG_LEVEL");
	va_list ap;

	if (l == NULL || (strcmp(l, "info") != 0 && strcmp(l, "debug") != 0))
		return;
	fputs(ME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void ex_parse(int argc, char **argv, struct ex_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("redis-tls-exec %s\n", version_text());
		exit(0);
	}
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--supervise") == 0)
			o->supervise = 1;
		else if (strcmp(argv[i], "--classify") == 0)
			o->classify = 1;
		else if (i + 1 >= argc)
			ex_usage();
		else if (strcmp(argv[i], "--lib") == 0)
			o->lib = argv[++i];
		else if (strcmp(argv[i], "--ctl") == 0)
			o->ctl = argv[++i];
		else
			ex_usage();
	}
	if (i + 1 >= argc || o->lib == NULL || o->ctl == NULL)
		ex_usage();
	o->cmd = argv + i + 1;
}

/* ------------------------------------------------ 1. the configuration */

/* CTL check-config [--record FILE]'s exit status (-1: it could not run),
   its stdout and stderr together in report. */
static int ex_run_check(const char *ctl, const char *record, char *report,
			size_t max, size_t *len)
{
	char *argv[] = { (char *)ctl, "check-config", "--record",
			 (char *)record, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], status, rc;
	ssize_t r;
	pid_t pid;

	if (record == NULL)
		argv[2] = NULL;
	*len = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	rc = posix_spawn(&pid, ctl, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -1;
	}
	for (;;) {
		char sink[4096];
		int full = *len >= max;

		r = read(p[0], full ? sink : report + *len,
			 full ? sizeof(sink) : max - *len);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!full)
			*len += (size_t)r;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The script's `out=$(ctl check-config 2>&1)`: a rejection shows the
   report (trailing newlines as $(...) strips them) and stops here. */
static void ex_check_config(const struct ex_opts *o)
{
	static char report[EX_REPORT_MAX];
	char record[CHECK_CACHE_PATH_MAX];
	const char *rec = NULL;
	size_t len;

	if (access(o->ctl, X_OK) != 0)
		return; /* as before: no tool, no up-front check */
	if (check_cache_path(record, sizeof(record), 1) == 0) {
		if (check_cache_hit(record))
			return;
		rec = record;
	}
	if (ex_run_check(o->ctl, rec, report, sizeof(report), &len) == 0)
		return;
	while (len > 0 && report[len - 1] == '\n')
		len--;
	if (len > 0) {
		fwrite(report, 1, len, stderr);
		fputc('\n', stderr);
	}
	ex_die("configuration rejected; %s not started", o->cmd[0]);
}

/* ------------------------------------------------ 2. LD_PRELOAD */

/* 1 if lib is one of the words of list (separated by spaces or colons),
   told as the script's case patterns tell it. */
static int ex_preload_has(const char *list, const char *lib)
{
	size_t n = strlen(lib);

	for (const char *p = list; (p = strstr(p, lib)) != NULL; p++) {
		int before = p == list || p[-1] == ' ' || p[-1] == ':';
		int after = p[n] == '\0' || p[n] == ' ' || p[n] == ':';

		if (before && after)
			return 1;
	}
	return 0;
}

static void ex_preload_add(const char *lib)
{
	const char *cur = getenv("LD_PRELOAD");
	char *v;

	if (cur == NULL)
		cur = "";
	if (ex_preload_has(cur, lib)) {
		setenv("LD_PRELOAD", cur, 1);
		return;
	}
	if (asprintf(&v, "%s%s%s", cur, *cur ? " " : "", lib) < 0)
		ex_die("out of memory");
	setenv("LD_PRELOAD", v, 1);
	free(v);
}

/* Under the supervisor nothing is preloaded: the supervisor's own
   connection, and a dynamic descendant's, would be wrapped twice. */
static void ex_preload_drop(const char *lib)
{
	const char *cur = getenv("LD_PRELOAD");
	char *copy, *out, *w, *save = NULL;
	size_t n;

	if (cur == NULL)
		return;
	n = strlen(cur);
	copy = strdup(cur);
	out = calloc(1, n + 1);
	if (copy == NULL || out == NULL)
		ex_die("out of memory");
	for (w = strtok_r(copy, ": \t\n", &save); w != NULL;
	     w = strtok_r(NULL, ": \t\n", &save)) {
		const char *base = strrchr(w, '/');

		if (strcmp(w, lib) == 0 || strcmp(w, "libredistls.so") == 0 ||
		    (base != NULL && strcmp(base, "/libredistls.so") == 0))
			continue;
		if (*out != '\0')
			strcat(out, " ");
		strcat(out, w);
	}
	if (*out != '\0')
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
	free(copy);
	free(out);
}

/* ------------------------------------------------ 3. the program */

/* 1 if Go's build-information marker is anywhere in the file. */
static int ex_has_go_marker(const char *path)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			found = memmem(m, (size_t)st.st_size, EX_GO_MARKER,
				       strlen(EX_GO_MARKER)) != NULL;
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
	return found;
}

/* The working directory as the shell names it ($PWD, if it is this
   folder), for the messages. */
static const char *ex_pwd(void)
{
	static char cwd[PATH_MAX];
	const char *pwd = getenv("PWD");
	struct stat a, b;

	if (pwd != NULL && pwd[0] == '/' && stat(pwd, &a) == 0 &&
	    stat(".", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return pwd;
	return getcwd(cwd, sizeof(cwd)) != NULL ? cwd : ".";
}

/* CMD as `command -v` finds it, into path: a name with a slash if it
   exists (made absolute), else the first regular file of that name in
   $PATH that we may execute.  0 found, -1 not. */
static int ex_find(const char *cmd, char *path, size_t len)
{
	const char *dirs = getenv("PATH"), *d, *end;
	struct stat st;
	int n;

	if (strchr(cmd, '/') != NULL) {
		if (stat(cmd, &st) < 0)
			return -1;
		n = cmd[0] == '/' ? snprintf(path, len, "%s", cmd)
				  : snprintf(path, len, "%s/%s", ex_pwd(), cmd);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	if (dirs == NULL)
		dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		       "/sbin:/bin";
	for (d = dirs;; d = end + 1) {
		end = strchr(d, ':');
		if (end == NULL)
			end = d + strlen(d);
		n = end == d ? snprintf(path, len, "%s", cmd)
			     : snprintf(path, len, "%.*s/%s", (int)(end - d), d,
					cmd);
		if (n >= 0 && (size_t)n < len && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(path, X_OK) == 0)
			return 0;
		if (*end == '\0')
			return -1;
	}
}

/* The script's check_binary for the file path, to be exec'd with argv
   (argv[0] as the program will see it): what `redis-tls-ctl reach`
   told, and the marker.  Sets o->supervise when it must; refuses a
   privileged file (exit 2). */
static void ex_classify_file(struct ex_opts *o, const char *path,
			     char **argv)
{
	struct exec_image img;
	const char *why = NULL;
	char *saved = argv[0];
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return; /* a folder...: the exec says why */
	if (access(o->ctl, X_OK) != 0)
		ex_die("%s not found (it is built and installed beside the "
		       "library)", o->ctl);
	real_init();
	exec_image_classify(AT_FDCWD, path, 0, &img);
	switch (img.kind) {
	case EXEC_KIND_PRELOADABLE:
		/* the loader's own view of its arguments: PATH ARGS... */
		argv[0] = (char *)path;
		why = exec_image_loader_why(&img, argv);
		argv[0] = saved;
		if (why == NULL && ex_has_go_marker(path))
			why = "it is a Go program (it makes its system calls "
			      "itself)";
		break;
	case EXEC_KIND_UNREACHABLE:
		why = img.why;
		break;
	case EXEC_KIND_PRIVILEGED:
		ex_die("%s is setuid/setgid or has file capabilities: the "
		       "dynamic loader ignores LD_PRELOAD for it and the "
		       "supervisor cannot run it, its connections would not "
		       "be protected", path);
	case EXEC_KIND_FAILS:
	default:
		return; /* the exec says why */
	}
	if (why == NULL)
		return;
	if (!o->supervise)
		ex_info("%s %s: LD_PRELOAD cannot reach it; running it under "
			"the supervisor", path,
			strncmp(why, "it ", 3) == 0 ? why + 3 : why);
	o->supervise = 1;
}

/* CMD must be found (as `command -v` finds it) before anything runs;
   to be supervised anyway, that file is told now (a privileged one is
   refused with the wrapper's line). */
static void ex_must_find(struct ex_opts *o)
{
	static char path[PATH_MAX];

	if (ex_find(o->cmd[0], path, sizeof(path)) < 0)
		ex_die("%s: command not found", o->cmd[0]);
	if (o->supervise)
		ex_classify_file(o, path, o->cmd);
}

/* ------------------------------------------------ 4. exec */

__attribute__((noreturn)) static void ex_supervise(const struct ex_opts *o)
{
	size_t n = 0;
	char **argv;

	ex_preload_drop(o->lib);
	if (access(o->ctl, X_OK) != 0)
		ex_die("%s not found: the supervisor is built and installed "
		       "beside the library", o->ctl);
	while (o->cmd[n] != NULL)
		n++;
	argv = calloc(n + 4, sizeof(*argv));
	if (argv == NULL)
		ex_die("out of memory");
	argv[0] = (char *)o->ctl;
	argv[1] = "supervise";
	argv[2] = "--";
	memcpy(argv + 3, o->cmd, n * sizeof(*argv));
	execv(o->ctl, argv);
	ex_die("%s: %s", o->ctl, strerror(errno));
}

/* One file execvp would try, told first (--classify): what it is
   decides, not what the first one on PATH was.  glibc's answer to
   ENOEXEC, /bin/sh FILE ARGS..., is told as well.  Returns when the exec
   failed (errno). */
static void ex_try(struct ex_opts *o, const char *path)
{
	size_t n = 0;
	char **sh;

	if (o->classify) {
		ex_classify_file(o, path, o->cmd);
		if (o->supervise)
			ex_supervise(o);
	}
	execv(path, o->cmd);
	if (errno != ENOEXEC)
		return;
	while (o->cmd[n] != NULL)
		n++;
	sh = calloc(n + 2, sizeof(*sh));
	if (sh == NULL)
		ex_die("out of memory");
	sh[0] = (char *)EX_SHELL;
	sh[1] = (char *)path;
	memcpy(sh + 2, o->cmd + 1, (n > 0 ? n - 1 : 0) * sizeof(*sh));
	if (o->classify) {
		ex_classify_file(o, EX_SHELL, sh);
		if (o->supervise)
			ex_supervise(o);
	}
	execv(EX_SHELL, sh);
	free(sh);
}

/* execvp, as the shell's exec: PATH searched (/bin:/usr/bin without
   it), an empty entry the working directory, a file without #! run
   under /bin/sh, the search going on past a file the kernel will not
   run; each file tried told first (a later one may be static). */
static void ex_execvp(struct ex_opts *o)
{
	const char *file = o->cmd[0], *dirs = getenv("PATH"), *d, *end;
	char path[PATH_MAX];
	int eacces = 0, n;

	if (*file == '\0') {
		errno = ENOENT;
		return;
	}
	if (strchr(file, '/') != NULL) {
		ex_try(o, file);
		return;
	}
	if (strlen(file) > NAME_MAX) {
		errno = ENAMETOOLONG;
		return;
	}
	for (d = dirs != NULL ? dirs : EX_DEFAULT_PATH;; d = end + 1) {
		end = strchrnul(d, ':');
		n = end == d ? snprintf(path, sizeof(path), "%s", file)
			     : snprintf(path, sizeof(path), "%.*s/%s",
					(int)(end - d), d, file);
		if (n >= 0 && (size_t)n < sizeof(path)) {
			ex_try(o, path);
			if (!exec_image_search_goes_on(&eacces))
				return;
		}
		if (*end == '\0')
			break;
	}
	errno = eacces ? EACCES : ENOENT;
}

static void ex_exec(struct ex_opts *o)
{
	if (o->supervise)
		ex_supervise(o);
	ex_execvp(o);
	fprintf(stderr, ME ": exec: %s: %s\n", o->cmd[0],
		errno == ENOENT ? "not found" : strerror(errno));
	exit(errno == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
	struct ex_opts o;

	ex_parse(argc, argv, &o);
	ex_check_config(&o);
	ex_preload_add(o.lib);
	if (o.classify)
		ex_must_find(&o);
	ex_exec(&o);
	return 2;
}
