/*
 * log.h - the shim's log: one line per event, "redis-tls-shim[PID]: LEVEL:
 * message", to stderr (default), syslog, or a file (appended).
 *
 * Level and target come from REDIS_TLS_LOG_LEVEL / REDIS_TLS_LOG_TARGET at
 * first use, and may be changed once the engine has read the configuration
 * file (log_configure).  Thread-safe: each line is one write(2).
 * Never pass key material to these functions.
 */
#ifndef SHIM_LOG_H
#define SHIM_LOG_H

#include "engine_api.h"

void log_msg(enum shim_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * log_msg_async - log_msg for a caller that may run where no lock may be
 * taken: a vfork child, a fork child of a multi-threaded program, between
 * fork and exec.  No lock, no allocation, no repeat suppression; the
 * syslog target falls back to stderr.  The formats it is given are plain
 * (%s, %d): glibc's vsnprintf neither allocates nor locks for them.
 */
void log_msg_async(enum shim_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * log_env_given - the values of REDIS_TLS_LOG_LEVEL and
 * REDIS_TLS_LOG_TARGET (NULL: unset) the process was started with, kept by
 * exec_env.c's constructor; used instead of the environment of the moment,
 * which the program may have cleared (`env -i` clears it, then execs).
 * The strings must live as long as the process.
 */
void log_env_given(const char *level, const char *target);

/* log_enabled - 1 if a message at `level` would be written. */
int log_enabled(enum shim_log_level level);

/*
 * log_configure - set level (a log_level.h name) and target ("stderr",
 * "syslog" or a file path); NULL leaves that part as it is.
 * Returns 0, or -1 with *why set to a static reason.
 */
int log_configure(const char *level, const char *target, const char **why);

#endif
