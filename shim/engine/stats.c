/*
 * stats.c - counters for REDIS_TLS_STATS and the line written at exit:
 *
 *   stats: connections=N handshakes=N (full=N resumed=N) failures=N
 *   (verify=N pin=N refused=N not_tls=N closed=N unfinished=N other=N)
 *   bytes_sent=N bytes_received=N
 *
 * A forked child starts from zero, so each process reports its own work.
 */
#include "stats.h"
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATS_LINE_MAX 512 /* the counters line */

static int stats_on;            /* read-only after stats_init */
static const char *stats_path;  /* NULL: through the log */
static atomic_ullong stats_count[STATS_COUNTERS];

static void stats_child_reset(void)
{
	for (int i = 0; i < STATS_COUNTERS; i++)
		atomic_store_explicit(&stats_count[i], 0, memory_order_relaxed);
}

void stats_init(void)
{
	const char *v = engine_host->getenv != NULL
				? engine_host->getenv("REDIS_TLS_STATS")
				: getenv("REDIS_TLS_STATS");

	if (v == NULL || *v == '\0' || strcmp(v, "0") == 0)
		return;
	if (strcmp(v, "1") != 0 && strcmp(v, "stderr") != 0 &&
	    strcmp(v, "log") != 0)
		stats_path = strdup(v);
	stats_on = 1;
	pthread_atfork(NULL, NULL, stats_child_reset);
}

void stats_add(enum stats_counter c, unsigned long long n)
{
	if (stats_on)
		atomic_fetch_add_explicit(&stats_count[c], n,
					  memory_order_relaxed);
}

static unsigned long long stats_get(enum stats_counter c)
{
	return atomic_load_explicit(&stats_count[c], memory_order_relaxed);
}

static void stats_format(char *out, size_t len)
{
	unsigned long long fails = 0;

	for (int c = STATS_FAIL_VERIFY; c <= STATS_FAIL_OTHER; c++)
		fails += stats_get(c);
	snprintf(out, len,
		 "stats: connections=%llu handshakes=%llu (full=%llu "
		 "resumed=%llu) failures=%llu (verify=%llu pin=%llu "
		 "refused=%llu not_tls=%llu closed=%llu unfinished=%llu "
		 "other=%llu) bytes_sent=%llu bytes_received=%llu",
		 stats_get(STATS_CONNECTIONS),
		 stats_get(STATS_FULL) + stats_get(STATS_RESUMED),
		 stats_get(STATS_FULL), stats_get(STATS_RESUMED), fails,
		 stats_get(STATS_FAIL_VERIFY), stats_get(STATS_FAIL_PIN),
		 stats_get(STATS_FAIL_REFUSED), stats_get(STATS_FAIL_NOT_TLS),
		 stats_get(STATS_FAIL_CLOSED),
		 stats_get(STATS_FAIL_UNFINISHED), stats_get(STATS_FAIL_OTHER),
		 stats_get(STATS_BYTES_SENT), stats_get(STATS_BYTES_RECEIVED));
}

/* "2025-01-31T12:00:00Z redis-cli[123]: stats: ..." in one write. */
#define STATS_STAMP_MAX 32   /* "2025-01-31T12:00:00Z" and room */
#define STATS_RECORD_MAX 1024 /* stamp, program, pid and the line */

static void stats_append(const char *line)
{
	char buf[STATS_RECORD_MAX], stamp[STATS_STAMP_MAX];
	time_t now = time(NULL);
	struct tm tm;
	int fd, n;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(buf, sizeof(buf), "%s %s[%d]: %s\n", stamp,
		     program_invocation_short_name, (int)getpid(), line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	fd = open(stats_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ENGINE_LOG(SHIM_LOG_WARNING, "REDIS_TLS_STATS=%s: %s",
			   stats_path, strerror(errno));
		return;
	}
	(void)!write(fd, buf, (size_t)n);
	close(fd);
}

void stats_report(void)
{
	char line[STATS_LINE_MAX];

	if (!stats_on)
		return;
	stats_format(line, sizeof(line));
	if (stats_path != NULL)
		stats_append(line);
	else
		ENGINE_LOG(SHIM_LOG_NOTICE, "%s", line);
}
