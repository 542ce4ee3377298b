/*
 * redis-tls-ctl - the shim's companion tool.
 *
 *   redis-tls-ctl check-config   load the configuration exactly as the
 *                                shim would (file + REDIS_TLS_*), build
 *                                every TLS context, report the first
 *                                problem; exit 0 if it loads, 1 if not.
 *                                An expired client certificate is a
 *                                problem here (the shim only logs it).
 *                                Each CA certificate of a ca_file that
 *                                is expired or not yet valid is named
 *                                with its dates in a warning; only a
 *                                ca_file with no valid one is a problem.
 *   redis-tls-ctl check-config --record FILE
 *                                the same; if it loads, remember that
 *                                in FILE (check_cache.h) for
 *                                redis-tls-exec, which then need not ask
 *                                again while nothing it read changes.
 *   redis-tls-ctl check          the same, then for each endpoint that
 *                                names one address: connect, handshake,
 *                                PING, twice (to show resumption), and
 *                                print what was negotiated and presented.
 *
 * Used by redis-tls-run and redis-tls-entrypoint before they exec, so a
 * bad configuration is reported up front, not at the first connection.
 * `check` drives the engine through the same table of functions the
 * switchboard uses (open, handshake, write, read), on its own
 * non-blocking sockets, with poll(2) for the waits.
 */
#include "check_cache.h"
#include "config.h"
#include "deadline.h"
#include "engine.h"
#include "log_level.h"
#include "match.h"
#include "tls_cert.h"
#include "tls_session.h"
#include "version.h"
#include "supervise.h"
#include "switchboard/exec_image.h"
#include "switchboard/log.h"
#include "switchboard/real.h"

#include <errno.h>
#include <limits.h>
#include <link.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const struct shim_engine_ops *shim_engine_init(const struct shim_host *host,
					       char *why, size_t whylen);

#define CTL_LINE_MAX 1024   /* a log line, an error, a reason */
#define CTL_FAILED_MAX 1200 /* a step's name and CTL_LINE_MAX */
#define CTL_WHERE_MAX 80    /* "[ADDRESS]:PORT" */
#define CTL_REPLY_MAX 256   /* the server's answer to PING */
#define CTL_DAYS_MAX 96     /* "in N days (DATE) - renew it soon" */

static int ctl_level = SHIM_LOG_WARNING;
static int ctl_checking;         /* `check`: log lines go into the report */
static char ctl_last_error[CTL_LINE_MAX]; /* the engine's last error */

static void ctl_log(enum shim_log_level level, const char *fmt, ...)
{
	char line[CTL_LINE_MAX];
	va_list ap;

	if ((int)level < ctl_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!ctl_checking) {
		fprintf(stderr, "redis-tls-shim: %s\n", line);
		return;
	}
	if (level >= SHIM_LOG_ERROR) {
		/* the verdict quotes it */
		snprintf(ctl_last_error, sizeof(ctl_last_error), "%s", line);
		return;
	}
	printf("  %-12s %s\n", level == SHIM_LOG_WARNING ? "warning" : "log",
	       line);
}

static int ctl_log_enabled(enum shim_log_level level)
{
	return (int)level >= ctl_level;
}

static int ctl_log_configure(const char *level, const char *target,
			     const char **why)
{
	int l = log_level_parse(level);

	if (l >= 0 && l < ctl_level)
		ctl_level = l; /* more detail, never less */
	return 0;
}

static const struct shim_host ctl_host = {
	.abi = SHIM_ENGINE_ABI,
	.recv = recv,
	.send = send,
	.close = close,
	.getaddrinfo = getaddrinfo,
	.log = ctl_log,
	.log_enabled = ctl_log_enabled,
	.log_configure = ctl_log_configure,
};

static const struct shim_engine_ops *ctl_load(void)
{
	char why[CTL_LINE_MAX] = "";
	const struct shim_engine_ops *ops;

	engine_set_strict(1);
	ops = shim_engine_init(&ctl_host, why, sizeof(why));
	if (ops == NULL)
		fprintf(stderr, "redis-tls-shim: configuration error: %s\n", why);
	return ops;
}

/* The supervisor's host: the shim's own log module, so its lines, levels
   and targets (REDIS_TLS_LOG_LEVEL, REDIS_TLS_LOG_TARGET) are the preload
   path's. */
static const struct shim_host ctl_sup_host = {
	.abi = SHIM_ENGINE_ABI,
	.recv = recv,
	.send = send,
	.close = close,
	.getaddrinfo = getaddrinfo,
	.log = log_msg,
	.log_enabled = log_enabled,
	.log_configure = log_configure,
};

/* The supervisor's engine: loaded exactly as the shim loads it (not
   strict: an expiring certificate is logged, not refused). */
static const struct shim_engine_ops *ctl_load_shim(void)
{
	char why[CTL_LINE_MAX] = "";
	const struct shim_engine_ops *ops;

	ops = shim_engine_init(&ctl_sup_host, why, sizeof(why));
	if (ops == NULL)
		fprintf(stderr, "redis-tls-shim: configuration error: %s\n", why);
	return ops;
}

/* ------------------------------------------------ check-config --record */

/* 1 if the file at path holds an @include (whose files the record would
   not name). */
static int ctl_has_include(const char *path)
{
	char line[CTL_LINE_MAX];
	FILE *f = fopen(path, "r");
	int found = 0;

	if (f == NULL)
		return 1;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, "@include") != NULL;
	fclose(f);
	return found;
}

struct ctl_files {
	const char **v;
	size_t n, max;
};

static void ctl_files_add(struct ctl_files *fs, const char *path)
{
	if (path != NULL && fs->n < fs->max)
		fs->v[fs->n++] = path;
}

/* The TLS and configuration libraries this tool runs with. */
static int ctl_files_lib(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *name = info->dlpi_name;

	if (name != NULL && name[0] == '/' &&
	    (strstr(name, "/libssl.") != NULL ||
	     strstr(name, "/libcrypto.") != NULL ||
	     strstr(name, "/libconfig.") != NULL))
		ctl_files_add(arg, name);
	return 0;
}

/*
 * Remember an accepted configuration in `record`: every file it named
 * (the configuration file, each endpoint's certificates, keys, CA file
 * or folder, CRL, a log file), this tool and its TLS libraries, and how
 * long its certificates make it hold.  Not when a passphrase comes from
 * a variable (a secret the record would have to fingerprint) or the file
 * @includes others.  A failure only means the next run checks again.
 */
static void ctl_record(const char *record, const struct timespec *started)
{
	const struct shim_config *cfg = engine_config();
	static char self[PATH_MAX];
	struct ctl_files fs;
	ssize_t n;

	if (cfg->path != NULL && ctl_has_include(cfg->path))
		return;
	fs.max = cfg->nendpoints * 6 + 16;
	fs.n = 0;
	fs.v = calloc(fs.max, sizeof(*fs.v));
	if (fs.v == NULL)
		return;
	ctl_files_add(&fs, cfg->path);
	if (cfg->log_target != NULL && cfg->log_target[0] == '/')
		ctl_files_add(&fs, cfg->log_target);
	for (size_t i = 0; i < cfg->nendpoints; i++) {
		const struct cfg_tls *t = &cfg->endpoints[i].tls;

		if (t->key_passphrase_env != NULL) {
			free(fs.v);
			return;
		}
		ctl_files_add(&fs, t->ca_file);
		ctl_files_add(&fs, t->ca_path);
		ctl_files_add(&fs, t->cert_file);
		ctl_files_add(&fs, t->key_file);
		ctl_files_add(&fs, t->key_passphrase_file);
		ctl_files_add(&fs, t->crl_file);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		ctl_files_add(&fs, self);
	}
	dl_iterate_phdr(ctl_files_lib, &fs);
	(void)check_cache_write(record, started,
				engine_verdict_until(time(NULL),
						     time(NULL) + CHECK_CACHE_TTL_S),
				fs.v, fs.n);
	free(fs.v);
}

static int ctl_check_config(const char *record)
{
	struct timespec started;

	clock_gettime(CLOCK_REALTIME, &started);
	if (ctl_load() == NULL)
		return 1;
	if (record != NULL)
		ctl_record(record, &started);
	return 0;
}

/* ------------------------------------------------------------ check */

struct ctl_dial {
	const struct shim_engine_ops *ops;
	const char *name;         /* the NAME dialled, or NULL */
	struct sockaddr_storage sa;
	socklen_t salen;
	char where[CTL_WHERE_MAX]; /* "127.0.0.1:6379" */
	struct timespec deadline;
	char failed[CTL_FAILED_MAX]; /* why it failed, "" if it did not */
};

/* A wait's poll timeout: what is left of the deadline, at most a minute. */
#define CTL_WAIT_MAX_MS 60000

static int ctl_ms_left(const struct timespec *deadline)
{
	int ms = deadline_left_ms(deadline);

	return ms > CTL_WAIT_MAX_MS ? CTL_WAIT_MAX_MS : ms;
}

/* Wait for `events` on fd until the deadline: 0, or -1 on timeout. */
static int ctl_wait(struct ctl_dial *d, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc;

	do
		rc = poll(&p, 1, ctl_ms_left(&d->deadline));
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? 0 : -1;
}

static int ctl_fail(struct ctl_dial *d, const char *step, int err)
{
	if (ctl_last_error[0] != '\0')
		snprintf(d->failed, sizeof(d->failed), "%s: %s", step,
			 ctl_last_error);
	else
		snprintf(d->failed, sizeof(d->failed), "%s: %s", step,
			 err ? strerror(err) : "timed out");
	ctl_last_error[0] = '\0';
	return -1;
}

/* A TCP connection to d->sa: the fd, or -1. */
static int ctl_tcp(struct ctl_dial *d)
{
	int fd = socket(d->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
					       SOCK_CLOEXEC, 0);
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return ctl_fail(d, "socket", errno);
	if (connect(fd, (struct sockaddr *)&d->sa, d->salen) < 0 &&
	    errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return ctl_fail(d, "connect", err);
	}
	if (ctl_wait(d, fd, POLLOUT) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		close(fd);
		return ctl_fail(d, "connect", err);
	}
	return fd;
}

/* Run op until it stops asking to wait: its result, or SHIM_IO_ERROR. */
#define CTL_DRIVE(d, fd, rc, call, err)                                    \
	do {                                                               \
		(rc) = (call);                                             \
		if ((rc) != SHIM_IO_WANT_READ && (rc) != SHIM_IO_WANT_WRITE) \
			break;                                             \
		if (ctl_wait((d), (fd), (rc) == SHIM_IO_WANT_READ ? POLLIN \
								   : POLLOUT) < 0) { \
			(err) = ETIMEDOUT;                                 \
			(rc) = SHIM_IO_ERROR;                              \
			break;                                             \
		}                                                          \
	} while (1)

/* PING over the session; the first reply line into reply. */
static int ctl_ping(struct ctl_dial *d, int fd, struct shim_tls *t,
		    char *reply, size_t len)
{
	const char ping[] = "PING\r\n";
	size_t got = 0;
	ssize_t rc;
	int err = 0;

	CTL_DRIVE(d, fd, rc, d->ops->write(t, ping, sizeof(ping) - 1, &err),
		  err);
	if (rc != (ssize_t)sizeof(ping) - 1)
		return ctl_fail(d, "PING", rc < 0 ? err : EIO);
	while (got + 1 < len && memchr(reply, '\n', got) == NULL) {
		CTL_DRIVE(d, fd, rc, d->ops->read(t, reply + got,
						   len - 1 - got, 0, &err),
			  err);
		if (rc == 0)
			err = ECONNRESET;
		if (rc <= 0)
			return ctl_fail(d, "PING", err);
		got += (size_t)rc;
	}
	reply[got] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	if (reply[0] != '+' && reply[0] != '-') {
		snprintf(d->failed, sizeof(d->failed),
			 "PING: the server's answer is not Redis: '%.40s'",
			 reply);
		return -1;
	}
	return 0;
}

static void ctl_days_text(long days, const char *date, char *out, size_t len)
{
	if (days < 0)
		snprintf(out, len, "EXPIRED on %s", date);
	else
		snprintf(out, len, "in %ld day%s (%s)%s", days,
			 days == 1 ? "" : "s", date,
			 days < TLS_EXPIRY_WARN_DAYS ? " - renew it soon" : "");
}

static void ctl_print_facts(struct shim_tls *t, const struct cfg_tls *c,
			    const char *reply)
{
	struct tls_session_facts f;
	char date[TLS_DATE_MAX], text[CTL_DAYS_MAX];
	long days;

	tls_session_facts(t, &f);
	printf("  %-12s %s, cipher %s\n", "protocol", f.protocol, f.cipher);
	printf("  %-12s %s\n", "server", f.peer[0] ? f.peer : "(none)");
	if (engine_cert_days(t, 1, &days, date, sizeof(date)) == 0) {
		ctl_days_text(days, date, text, sizeof(text));
		printf("  %-12s %s\n", "expires", text);
	}
	if (f.client[0] != '\0' &&
	    engine_cert_days(t, 0, &days, date, sizeof(date)) == 0) {
		ctl_days_text(days, date, text, sizeof(text));
		printf("  %-12s '%s' from %s, expires %s\n", "client cert",
		       f.client, c->cert_file, text);
	} else {
		printf("  %-12s none configured\n", "client cert");
	}
	printf("  %-12s PING -> %s\n", "redis", reply);
}

/*
 * One connection: TCP, TLS through the engine, PING.  With `report`, the
 * negotiated facts are printed.  *resumed says whether the handshake
 * resumed a session.  0, or -1 with d->failed set.
 */
static int ctl_connect_once(struct ctl_dial *d, const struct cfg_tls *c,
			    int report, int *resumed)
{
	struct shim_session_info info = { 0 };
	struct shim_tls *t = NULL;
	char reply[CTL_REPLY_MAX] = "";
	int fd, err = 0, rc = -1, hs;
	enum shim_decision how;

	deadline_in_ms(&d->deadline, c->handshake_timeout_ms);
	ctl_last_error[0] = '\0';
	if ((fd = ctl_tcp(d)) < 0)
		return -1;
	how = d->ops->open(fd, (struct sockaddr *)&d->sa, d->salen, d->name,
			   &t, &info, &err);
	if (how != SHIM_WRAP) {
		if (how == SHIM_PASS)
			snprintf(d->failed, sizeof(d->failed),
				 "no endpoint matches %s", d->where);
		else
			ctl_fail(d, "TLS set-up", err);
		close(fd);
		return -1;
	}
	CTL_DRIVE(d, fd, hs, d->ops->handshake(t, &err), err);
	if (hs != 0)
		ctl_fail(d, "TLS handshake", err);
	else if (ctl_ping(d, fd, t, reply, sizeof(reply)) == 0)
		rc = 0;
	if (hs == 0) {
		struct tls_session_facts f;

		tls_session_facts(t, &f);
		*resumed = f.resumed;
		if (report && rc == 0)
			ctl_print_facts(t, c, reply);
		d->ops->shutdown(t);
	}
	d->ops->free(t);
	close(fd);
	return rc;
}

/* The addresses to try for an endpoint: 0 and n, or -1 (not dialable). */
static int ctl_targets(const struct match_spec *m, struct addr_ip *out,
		       size_t *n)
{
	if (m->port_lo != m->port_hi)
		return -1;
	switch (m->kind) {
	case MATCH_HOST_NAME:
		memcpy(out, m->resolved, m->nresolved * sizeof(*out));
		*n = m->nresolved;
		return 0;
	case MATCH_HOST_ADDR:
		out[0] = m->addr;
		*n = 1;
		return 0;
	case MATCH_HOST_WILDCARD:
	case MATCH_HOST_CIDR:
	default:
		return -1;
	}
}

static void ctl_sockaddr(struct ctl_dial *d, const struct addr_ip *a,
			 unsigned port)
{
	char ip[ADDR_TEXT_MAX];

	d->salen = addr_to_sockaddr(a, port, &d->sa);
	addr_format(a, ip, sizeof(ip));
	snprintf(d->where, sizeof(d->where),
		 a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* 0 if d->sa accepts a TCP connection within CTL_PROBE_MS. */
#define CTL_PROBE_MS 2000

static int ctl_probe(struct ctl_dial *d)
{
	int fd;

	deadline_in_ms(&d->deadline, CTL_PROBE_MS);
	fd = ctl_tcp(d);
	d->failed[0] = '\0';
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

enum ctl_outcome { CTL_OK, CTL_FAILED, CTL_SKIPPED };

static enum ctl_outcome ctl_check_endpoint(const struct shim_engine_ops *ops,
					   const struct cfg_endpoint *e)
{
	struct addr_ip addrs[MATCH_MAX_RESOLVED];
	struct ctl_dial d = { .ops = ops };
	char where[CFG_WHERE_TEXT_MAX];
	size_t n = 0, i;
	int first = 0, second = 0;

	printf("endpoint '%s' (%s)\n", e->match_text,
	       config_where_format(&e->where, where, sizeof(where)));
	if (ctl_targets(&e->match, addrs, &n) < 0) {
		printf("  %-12s skipped (not a single address)\n", "verdict");
		return CTL_SKIPPED;
	}
	d.name = e->match.kind == MATCH_HOST_NAME ? e->match.name : NULL;
	if (n == 0)
		snprintf(d.failed, sizeof(d.failed), "'%s' does not resolve",
			 e->match.name);
	/* like a client: the next address when one refuses the TCP connect */
	for (i = 0; i < n; i++) {
		ctl_sockaddr(&d, &addrs[i], e->match.port_lo);
		if (i + 1 == n || ctl_probe(&d) == 0)
			break;
	}
	if (i < n) {
		printf("  %-12s %s\n", "address", d.where);
		if (ctl_connect_once(&d, &e->tls, 1, &first) == 0)
			ctl_connect_once(&d, &e->tls, 0, &second);
	}
	if (d.failed[0] != '\0') {
		printf("  %-12s FAILED: %s\n", "verdict", d.failed);
		return CTL_FAILED;
	}
	printf("  %-12s %s\n", "resumed", second ? "yes: a second connection "
		"resumed the session" : "no: the server did not resume the "
		"session on a second connection");
	printf("  %-12s OK\n", "verdict");
	return CTL_OK;
}

static int ctl_check(void)
{
	const struct shim_engine_ops *ops = ctl_load();
	const struct shim_config *cfg;
	size_t count[3] = { 0, 0, 0 };

	if (ops == NULL)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl_checking = 1;
	cfg = engine_config();
	printf("redis-tls-shim %s\n", version_text());
	for (size_t i = 0; i < cfg->nendpoints; i++)
		count[ctl_check_endpoint(ops, &cfg->endpoints[i])]++;
	printf("%zu endpoint%s: %zu ok, %zu failed, %zu skipped\n",
	       cfg->nendpoints, cfg->nendpoints == 1 ? "" : "s",
	       count[CTL_OK], count[CTL_FAILED], count[CTL_SKIPPED]);
	return count[CTL_FAILED] > 0 ? 1 : 0;
}

/* We make our own TLS: a preloaded shim stands aside (engine_api.h). */
extern const int redis_tls_shim_stand_aside;
__attribute__((visibility("default"))) const int redis_tls_shim_stand_aside = 1;

static void ctl_usage(FILE *f)
{
	fprintf(f,
		"usage: redis-tls-ctl check-config [--record FILE] | check | "
		"supervise [OPTIONS] "
		"-- PROG [ARGS...]\n"
		"       redis-tls-ctl --version | --help\n"
		"  check-config  load the configuration (REDIS_TLS_CONFIG, else "
		"/etc/redis-tls-shim.conf,\n"
		"                and the REDIS_TLS_* variables) as the shim "
		"would; exit 0 if it is valid\n"
		"                (--record FILE: and remember that in FILE, for "
		"redis-tls-exec)\n"
		"  check         also connect to each endpoint that names one "
		"address,\n"
		"                handshake and PING; print protocol, cipher, "
		"resumption,\n"
		"                certificates and a verdict; exit 1 on any "
		"failure\n"
		"  reach -- PROG [ARGS...]\n"
		"                whether LD_PRELOAD reaches PROG (a path): "
		"prints preload (0),\n"
		"                supervise: WHY (3), privileged (4) or fails "
		"(5)\n"
		"  supervise [--argv0 NAME] [--env-count N] -- PROG [ARGS...]\n"
		"                run PROG (static, Go: any program) with its "
		"connects to\n"
		"                configured endpoints answered over verified "
		"TLS\n"
		"                (seccomp user notification); exit 2 if it "
		"cannot\n"
		"    --argv0 NAME    PROG's argv[0] (default: PROG)\n"
		"    --env-count N   the first N environment variables "
		"configure the\n"
		"                    supervisor only: PROG gets the "
		"environment after\n"
		"                    them (what the shim uses when a "
		"preloaded program\n"
		"                    execs one LD_PRELOAD cannot reach)\n");
}

/*
 * supervise [--argv0 NAME] [--env-count N] -- PROG [ARGS...]: the options
 * a preloaded program's exec uses (shim/switchboard/exec_env.c) to keep
 * the program's argv[0] and environment while the supervisor gets the
 * configuration.  2 (and the usage) for a bad command line.
 */
static int ctl_supervise(int argc, char **argv)
{
	const char *argv0 = NULL;
	unsigned long count = 0;
	char *end;
	int i;

	for (i = 2; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
		if (strcmp(argv[i], "--argv0") == 0) {
			argv0 = argv[i + 1];
		} else if (strcmp(argv[i], "--env-count") == 0) {
			errno = 0;
			count = strtoul(argv[i + 1], &end, 10);
			if (errno != 0 || *end != '\0' || argv[i + 1][0] == '\0')
				break;
		} else {
			break;
		}
	}
	if (i + 1 >= argc || strcmp(argv[i], "--") != 0) {
		ctl_usage(stderr);
		return 2;
	}
	if (sup_exec_options(argv0, count) < 0) {
		fprintf(stderr, "redis-tls-ctl supervise: --env-count %lu: "
			"the environment has fewer variables\n", count);
		return 2;
	}
	return sup_run(argv + i + 1, ctl_load_shim);
}

/*
 * reach -- PROG [ARGS...]: whether LD_PRELOAD reaches PROG (a path), told
 * as the shim's own exec hooks tell it (exec_image.c), for redis-tls-run:
 * "preload" (0), "supervise: WHY" (3), "privileged" (4: set-ID or file
 * capabilities that apply: neither path can protect it), "fails" (5: the
 * kernel would refuse it; its exec says why).
 */
static int ctl_reach(char **argv)
{
	struct exec_image img;
	const char *why;

	real_init();
	exec_image_classify(AT_FDCWD, argv[0], 0, &img);
	switch (img.kind) {
	case EXEC_KIND_PRELOADABLE:
		if ((why = exec_image_loader_why(&img, argv)) != NULL) {
			printf("supervise: %s\n", why);
			return 3;
		}
		puts("preload");
		return 0;
	case EXEC_KIND_UNREACHABLE:
		printf("supervise: %s\n", img.why);
		return 3;
	case EXEC_KIND_PRIVILEGED:
		puts("privileged");
		return 4;
	case EXEC_KIND_FAILS:
	default:
		puts("fails");
		return 5;
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "supervise") == 0)
		return ctl_supervise(argc, argv);
	if (argc == 2 && strcmp(argv[1], "check-config") == 0)
		return ctl_check_config(NULL);
	if (argc == 4 && strcmp(argv[1], "check-config") == 0 &&
	    strcmp(argv[2], "--record") == 0)
		return ctl_check_config(argv[3]);
	if (argc == 2 && strcmp(argv[1], "check") == 0)
		return ctl_check();
	if (argc >= 4 && strcmp(argv[1], "reach") == 0 &&
	    strcmp(argv[2], "--") == 0)
		return ctl_reach(argv + 3);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("redis-tls-ctl %s\n", version_text());
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0)) {
		ctl_usage(stdout);
		return 0;
	}
	ctl_usage(stderr);
	return 2;
}
