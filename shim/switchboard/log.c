/*
 * log.c - one line per event, written with a single write(2) so lines from
 * threads and processes sharing a target never interleave.
 *
 * Invariant: the level and target are read without locks on the hot path
 * (atomics); changing the target swaps an fd under a mutex and closes the
 * old one.
 */
#include "log.h"
#include "deadline.h"
#include "log_level.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum log_sink { LOG_SINK_STDERR, LOG_SINK_SYSLOG, LOG_SINK_FILE };

static atomic_int log_level = SHIM_LOG_NOTICE;
static atomic_int log_sink = LOG_SINK_STDERR;
static atomic_int log_fd = 2;
static atomic_int log_env_done;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int log_set_target(const char *target, const char **why)
{
	int fd = -1, sink;

	if (strcmp(target, "stderr") == 0) {
		sink = LOG_SINK_STDERR;
		fd = 2;
	} else if (strcmp(target, "syslog") == 0) {
		sink = LOG_SINK_SYSLOG;
	} else {
		real_init();
		fd = real.open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			       0600);
		if (fd < 0) {
			*why = "cannot open the log file";
			return -1;
		}
		sink = LOG_SINK_FILE;
	}
	pthread_mutex_lock(&log_lock);
	int old = atomic_exchange(&log_fd, fd);
	atomic_store(&log_sink, sink);
	pthread_mutex_unlock(&log_lock);
	if (old > 2 && old != fd)
		real.close(old);
	return 0;
}

int log_configure(const char *level, const char *target, const char **why)
{
	if (level != NULL) {
		int l = log_level_parse(level);
		if (l < 0) {
			*why = "unknown log level";
			return -1;
		}
		atomic_store(&log_level, l);
	}
	if (target != NULL && log_set_target(target, why) < 0)
		return -1;
	return 0;
}

/* REDIS_TLS_LOG_LEVEL and REDIS_TLS_LOG_TARGET as the process started
   with them (log_env_given), else as the environment has them now. */
static const char *log_start_level, *log_start_target;
static int log_start_given;

void log_env_given(const char *level, const char *target)
{
	log_start_level = level;
	log_start_target = target;
	log_start_given = 1;
}

static const char *log_env_level(void)
{
	return log_start_given ? log_start_level : getenv("REDIS_TLS_LOG_LEVEL");
}

static const char *log_env_target(void)
{
	return log_start_given ? log_start_target :
				 getenv("REDIS_TLS_LOG_TARGET");
}

/* The environment is read lazily: nothing runs in a constructor. */
static void log_from_env(void)
{
	const char *why;
	const char *level, *target;

	if (atomic_load_explicit(&log_env_done, memory_order_acquire))
		return;
	atomic_store(&log_env_done, 1);
	level = log_env_level();
	target = log_env_target();
	if (level != NULL && *level && log_configure(level, NULL, &why) < 0)
		log_msg(SHIM_LOG_WARNING, "REDIS_TLS_LOG_LEVEL '%s': %s", level,
			why);
	if (target != NULL && *target && log_configure(NULL, target, &why) < 0)
		log_msg(SHIM_LOG_WARNING, "REDIS_TLS_LOG_TARGET '%s': %s",
			target, why);
}

int log_enabled(enum shim_log_level level)
{
	log_from_env();
	return (int)level >= atomic_load_explicit(&log_level,
						   memory_order_relaxed);
}

static const int log_syslog_prio[] = {
	[SHIM_LOG_DEBUG] = LOG_DEBUG,	  [SHIM_LOG_INFO] = LOG_INFO,
	[SHIM_LOG_NOTICE] = LOG_NOTICE,	  [SHIM_LOG_WARNING] = LOG_WARNING,
	[SHIM_LOG_ERROR] = LOG_ERR,
};

/*
 * Programs retry (redis-cli connects twice before it gives up): the same
 * warning or error again within LOG_REPEAT_MS is not written again, so a
 * failure reads as one line and a retry loop cannot flood the log.
 */
#define LOG_REPEAT_MS 30000
static char log_last[512];
static struct timespec log_last_at;

/* Caller holds log_lock. */
static int log_is_repeat(enum shim_log_level level, const char *text)
{
	struct timespec now;
	long long ms;

	if (level < SHIM_LOG_WARNING)
		return 0;
	deadline_now(&now);
	ms = deadline_elapsed_ns(&log_last_at, &now) / DEADLINE_NS_PER_MS;
	if (strncmp(log_last, text, sizeof(log_last) - 1) == 0 &&
	    ms < LOG_REPEAT_MS)
		return 1;
	snprintf(log_last, sizeof(log_last), "%s", text);
	log_last_at = now;
	return 0;
}

/* "redis-tls-shim[PID]: LEVEL: " into line: its length, the text after
   it in *m (0 if it could not be made). */
static int log_format(char *line, size_t len, enum shim_log_level level,
		      int *m, const char *fmt, va_list ap)
{
	int n = snprintf(line, len, "redis-tls-shim[%d]: %s: ", (int)getpid(),
			 log_level_name(level));

	*m = vsnprintf(line + n, len - (size_t)n - 1, fmt, ap);
	if (*m < 0)
		*m = 0;
	return n;
}

void log_msg(enum shim_log_level level, const char *fmt, ...)
{
	char line[2048];
	int saved = errno, n, m;
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	n = log_format(line, sizeof(line), level, &m, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	m = log_is_repeat(level, line + n) ? -1 : m;
	pthread_mutex_unlock(&log_lock);
	if (m < 0) {
		errno = saved;
		return;
	}
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (atomic_load(&log_sink) == LOG_SINK_SYSLOG) {
		line[n] = '\0';
		syslog(LOG_USER | log_syslog_prio[level], "%s", line);
	} else {
		line[n++] = '\n';
		real_init();
		pthread_mutex_lock(&log_lock);
		(void)!real.write(atomic_load(&log_fd), line, (size_t)n);
		pthread_mutex_unlock(&log_lock);
	}
	errno = saved;
}

/*
 * The level log_msg_async() applies: the configured one once log_from_env
 * has run, else REDIS_TLS_LOG_LEVEL read now (nothing stored).
 */
static int log_async_level(void)
{
	int l;

	if (atomic_load_explicit(&log_env_done, memory_order_acquire))
		return atomic_load_explicit(&log_level, memory_order_relaxed);
	l = log_level_parse(log_env_level());
	return l < 0 ? SHIM_LOG_NOTICE : l;
}

/* Where log_msg_async() writes: the log file if one is open or named
   (then *own is set: opened for this line), else stderr. */
static int log_async_fd(int *own)
{
	const char *target;
	int fd;

	*own = 0;
	if (atomic_load_explicit(&log_env_done, memory_order_acquire))
		return atomic_load(&log_sink) == LOG_SINK_FILE ?
			atomic_load(&log_fd) : 2;
	target = log_env_target();
	if (target == NULL || *target == '\0' || strcmp(target, "stderr") == 0 ||
	    strcmp(target, "syslog") == 0)
		return 2;
	real_init();
	fd = real.open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return 2;
	*own = 1;
	return fd;
}

void log_msg_async(enum shim_log_level level, const char *fmt, ...)
{
	char line[1024];
	int saved = errno, n, m, fd, own;
	va_list ap;

	if ((int)level < log_async_level())
		return;
	va_start(ap, fmt);
	n = log_format(line, sizeof(line), level, &m, fmt, ap);
	va_end(ap);
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	real_init();
	fd = log_async_fd(&own);
	(void)!real.write(fd, line, (size_t)n);
	if (own)
		real.close(fd);
	errno = saved;
}
