/*
 * log_level.h - the one table of log level names: what the configuration
 * (log.level, REDIS_TLS_LOG_LEVEL), the switchboard's log and redis-tls-ctl
 * accept and print.
 *
 * Linked into both libraries and the tool, so libc only.  Pure: a constant
 * table, no state; safe from any thread and from inside the hooks.
 */
#ifndef SHIM_LOG_LEVEL_H
#define SHIM_LOG_LEVEL_H

#include "engine_api.h"

/* The accepted names in order, for messages; log_level_name agrees
   (tests/unit/test_log_level.c). */
#define LOG_LEVEL_CHOICES "debug, info, notice, warning, error"

/* log_level_parse - "notice" (any case) -> SHIM_LOG_NOTICE; -1 if `name`
   is NULL or no level's name. */
int log_level_parse(const char *name);

/* log_level_name - "debug".."error"; "?" for a value outside the enum. */
const char *log_level_name(int level);

#endif
