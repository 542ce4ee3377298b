/*
 * redis-tls-ctl - the shim's companion tool.
 *
 *   redis-tls-ctl check-config   load the configuration exactly as the
 *                                shim would (file + REDIS_TLS_*), build
 *                                every TLS context, report the first
 *                                problem; exit 0 if it loads, 1 if not.
 *
 * Used by redis-tls-run and redis-tls-entrypoint before they exec, so a
 * bad configuration is reported up front, not at the first connection.
 */
#include "engine_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const struct shim_engine_ops *shim_engine_init(const struct shim_host *host,
					       char *why, size_t whylen);

static int ctl_level = SHIM_LOG_WARNING;

static void ctl_log(enum shim_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level < ctl_level)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "redis-tls-shim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int ctl_log_enabled(enum shim_log_level level)
{
	return (int)level >= ctl_level;
}

static int ctl_log_configure(const char *level, const char *target,
			     const char **why)
{
	return 0;
}

static const struct shim_host ctl_host = {
	.abi = SHIM_ENGINE_ABI,
	.recv = recv,
	.send = send,
	.close = close,
	.log = ctl_log,
	.log_enabled = ctl_log_enabled,
	.log_configure = ctl_log_configure,
};

static int ctl_check_config(void)
{
	char why[1024] = "";

	if (shim_engine_init(&ctl_host, why, sizeof(why)) == NULL) {
		fprintf(stderr, "redis-tls-shim: configuration error: %s\n", why);
		return 1;
	}
	return 0;
}

static void ctl_usage(FILE *f)
{
	fprintf(f, "usage: redis-tls-ctl check-config\n"
		   "  Load the configuration (REDIS_TLS_CONFIG and REDIS_TLS_* "
		   "variables)\n  as the shim would; exit 0 if it is valid.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "check-config") == 0)
		return ctl_check_config();
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0)) {
		ctl_usage(stdout);
		return 0;
	}
	ctl_usage(stderr);
	return 2;
}
