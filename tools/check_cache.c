/*
 * check_cache.c - a remembered verdict of check-config (check_cache.h).
 *
 * The file, one item a line:
 *
 *   redis-tls-check-cache 1
 *   key 0123456789abcdef
 *   until 1764654321
 *   file DEV INO SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS PATH
 *   ...
 *
 * The key is FNV-1a (64 bits) over the user, the working directory and
 * the variables that can change what the check concludes, sorted: a
 * collision could at worst skip the up-front report, never the shim's
 * own load of the configuration.
 */
#include "check_cache.h"
#include "engine_api.h" /* SHIM_SYSTEM_CONFIG */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CC_MAGIC "redis-tls-check-cache 1\n"
#define CC_FILE_MAX 65536 /* a cache file read whole */
#define CC_VARS_MAX 256   /* variables hashed (more: not remembered) */

extern char **environ;

/* Besides REDIS_TLS_*: the engine's key log, what OpenSSL reads (its
   configuration, modules, default trust store) and where the tool's
   libraries come from. */
static const char *const cc_other_vars[] = {
	"SSLKEYLOGFILE", "OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "LD_LIBRARY_PATH",
};

static int cc_var_counts(const char *entry)
{
	size_t n;

	if (strncmp(entry, "REDIS_TLS_", 10) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(cc_other_vars) / sizeof(*cc_other_vars);
	     i++) {
		n = strlen(cc_other_vars[i]);
		if (strncmp(entry, cc_other_vars[i], n) == 0 && entry[n] == '=')
			return 1;
	}
	return 0;
}

static uint64_t cc_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int cc_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "1" if the shim reads the system-wide file besides the variables
   (REDIS_TLS_CONFIG unset or empty, and the file is there: any answer
   but "no such file", as the loader tells it), else "0".  A record names
   the file when it was read; one made without it must not hold once it
   appears. */
static const char *cc_system_file(void)
{
	const char *v = getenv("REDIS_TLS_CONFIG");
	struct stat st;

	if (v != NULL && *v != '\0')
		return "0";
	return lstat(SHIM_SYSTEM_CONFIG, &st) == 0 || errno != ENOENT ? "1"
								       : "0";
}

/* The key of this process's configuration; -1 if none may be kept. */
static int cc_key(uint64_t *key)
{
	const char *vars[CC_VARS_MAX];
	char cwd[PATH_MAX], uid[32];
	size_t n = 0;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (char **e = environ; e != NULL && *e != NULL; e++) {
		if (!cc_var_counts(*e))
			continue;
		if (n == CC_VARS_MAX)
			return -1;
		vars[n++] = *e;
	}
	qsort(vars, n, sizeof(*vars), cc_strcmp);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	h = cc_fnv(h, uid, strlen(uid) + 1);
	h = cc_fnv(h, cwd, strlen(cwd) + 1);
	h = cc_fnv(h, cc_system_file(), 2);
	for (size_t i = 0; i < n; i++)
		h = cc_fnv(h, vars[i], strlen(vars[i]) + 1);
	*key = h;
	return 0;
}

/* 0 if dir is a folder of this user's that no one else may write or
   read; made when absent and mk is set. */
static int cc_dir_ok(const char *dir, int mk)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT || !mk || mkdir(dir, 0700) < 0 ||
		    lstat(dir, &st) < 0)
			return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		return -1;
	return 0;
}

int check_cache_path(char *out, size_t len, int mk)
{
	const char *off = getenv("REDIS_TLS_RUN_CHECK_CACHE");
	const char *run = getenv("XDG_RUNTIME_DIR");
	char dir[CHECK_CACHE_PATH_MAX - 32];
	uint64_t key;
	int n;

	if ((off != NULL && strcmp(off, "0") == 0) ||
	    getenv("REDIS_TLS_KEY_PASSPHRASE_ENV") != NULL || cc_key(&key) < 0)
		return -1;
	if (run != NULL && run[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/redis-tls-shim", run);
	else
		n = snprintf(dir, sizeof(dir), "/tmp/redis-tls-shim-%u",
			     (unsigned)geteuid());
	if (n < 0 || (size_t)n >= sizeof(dir) || cc_dir_ok(dir, mk) < 0)
		return -1;
	n = snprintf(out, len, "%s/%016" PRIx64, dir, key);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* 1 if a is at or after b. */
static int cc_not_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

/* The identity line of path (without "file " and the path); -1 also
   when it changed at or after *since (NULL: any time will do). */
static int cc_ident(const char *path, const struct timespec *since,
		    char *out, size_t len)
{
	struct stat st;
	int n;

	if (stat(path, &st) < 0 ||
	    (since != NULL && cc_not_before(&st.st_ctim, since)))
		return -1;
	n = snprintf(out, len, "%ju %ju %jd %jd %ld %jd %ld",
		     (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		     (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
		     st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec,
		     st.st_ctim.tv_nsec);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The file whole, NUL-terminated, if it is a private file of ours. */
static ssize_t cc_read(const char *path, char *buf, size_t len)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return -1;
	}
	while (got + 1 < len && (r = read(fd, buf + got, len - 1 - got)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	if (got + 1 >= len)
		return -1; /* larger than any we write */
	buf[got] = '\0';
	return (ssize_t)got;
}

/* 1 if the "file ..." line (without "file ") is the file as it is. */
static int cc_file_same(char *line)
{
	char ident[160], *path = line;
	size_t n;

	/* the path is what follows the seventh space */
	for (int i = 0; i < 7; i++) {
		path = strchr(path, ' ');
		if (path == NULL)
			return 0;
		path++;
	}
	n = (size_t)(path - 1 - line);
	if (cc_ident(path, NULL, ident, sizeof(ident)) < 0)
		return 0;
	return strlen(ident) == n && memcmp(ident, line, n) == 0;
}

int check_cache_hit(const char *path)
{
	static char buf[CC_FILE_MAX];
	char want[32], *line, *next;
	long long until;
	time_t now = time(NULL);
	uint64_t key;
	int files = 0;

	if (cc_key(&key) < 0 || cc_read(path, buf, sizeof(buf)) < 0 ||
	    strncmp(buf, CC_MAGIC, strlen(CC_MAGIC)) != 0)
		return 0;
	snprintf(want, sizeof(want), "key %016" PRIx64, key);
	for (line = buf + strlen(CC_MAGIC); *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next == NULL)
			return 0; /* cut short */
		*next++ = '\0';
		if (strncmp(line, "key ", 4) == 0) {
			if (strcmp(line, want) != 0)
				return 0;
			files |= 1;
		} else if (sscanf(line, "until %lld", &until) == 1) {
			if (until <= (long long)now ||
			    until > (long long)now + CHECK_CACHE_TTL_S)
				return 0;
			files |= 2;
		} else if (strncmp(line, "file ", 5) == 0) {
			if (!cc_file_same(line + 5))
				return 0;
		} else {
			return 0;
		}
	}
	return files == 3;
}

/* Take out the folder's records that can no longer hold (each is written
   at most CHECK_CACHE_TTL_S before its end), and temporary files left by
   a writer that died: one file per configuration ever used would pile
   up. */
static void cc_prune(const char *path)
{
	char dir[CHECK_CACHE_PATH_MAX];
	const char *slash = strrchr(path, '/');
	time_t old = time(NULL) - CHECK_CACHE_TTL_S - 5;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if ((d = opendir(dir)) == NULL)
		return;
	fd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_mtime < old)
			unlinkat(fd, e->d_name, 0);
	}
	closedir(d);
}

int check_cache_write(const char *path, const struct timespec *started,
		      time_t until, const char *const *files, size_t n)
{
	char tmp[CHECK_CACHE_PATH_MAX + 16], ident[160];
	time_t cap = time(NULL) + CHECK_CACHE_TTL_S;
	/* a second before: the kernel's file times lag its clock a tick */
	struct timespec since = { started->tv_sec - 1, started->tv_nsec };
	uint64_t key;
	FILE *f;
	int fd, ok = 1;

	if (cc_key(&key) < 0)
		return -1;
	if (until > cap)
		until = cap;
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(f, CC_MAGIC "key %016" PRIx64 "\nuntil %lld\n", key,
		(long long)until);
	for (size_t i = 0; ok && i < n; i++) {
		if (files[i] == NULL)
			continue;
		if (strchr(files[i], '\n') != NULL ||
		    cc_ident(files[i], &since, ident, sizeof(ident)) < 0)
			ok = 0;
		else
			fprintf(f, "file %s %s\n", ident, files[i]);
	}
	if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	cc_prune(path);
	return 0;
}
