/*
 * log_level.c - the log level names (see log_level.h).
 */
#include "log_level.h"

#include <stddef.h>
#include <strings.h>

static const char *const log_level_names[] = {
	[SHIM_LOG_DEBUG] = "debug",	[SHIM_LOG_INFO] = "info",
	[SHIM_LOG_NOTICE] = "notice",	[SHIM_LOG_WARNING] = "warning",
	[SHIM_LOG_ERROR] = "error",
};

#define LOG_LEVEL_COUNT (sizeof(log_level_names) / sizeof(log_level_names[0]))

int log_level_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < LOG_LEVEL_COUNT; i++)
		if (strcasecmp(name, log_level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < 0 || (size_t)level >= LOG_LEVEL_COUNT)
		return "?";
	return log_level_names[level];
}
