/*
 * engine.c - the engine's entry point: load the configuration, build a TLS
 * context per endpoint, and decide for each connect() whether and how to
 * wrap it.  Exports shim_engine_init (and, in libredistls-engine.so,
 * engine_alloc.c's malloc family: tests/exports/libredistls-engine.syms).
 *
 * Around the TLS sessions it adds the operator's concerns: reloading an
 * endpoint's certificates when its files change (reload.c, polled from
 * engine_open), the checks after a handshake (public-key pins, server
 * certificate close to expiry), and statistics (stats.c).
 *
 * Which endpoint a connect() is, and which name it verifies (DESIGN,
 * security rule 2): the destination is read and normalised as the kernel
 * dials it (addr.c: v4-mapped IPv6 as IPv4, the any-address as the local
 * host); a host-name endpoint also matches every address its name
 * resolves to now (resolve.c); the name verified is the endpoint's
 * verify_name (a name, an IP, or a pattern "*.DOMAIN": tls_name.h), else
 * the configured name it matched through, else the name the connecting
 * thread resolved for this address and port (names.c), else the IP
 * against IP SANs (or, with verify_ip_in_cn, the CN of a certificate
 * without SANs).
 *
 * Initialisation runs once (the switchboard serialises it); afterwards the
 * configuration is read-only, contexts change only through tls_ctx_swap,
 * and the per-endpoint state below has its own locks.
 */
#include "config.h"
#include "engine.h"
#include "match.h"
#include "reload.h"
#include "resolve.h"
#include "stats.h"
#include "tls_cache.h"
#include "tls_cert.h"
#include "tls_ctx.h"
#include "tls_session.h"
#include "version.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENGINE_EXPORT __attribute__((visibility("default")))

/* A server certificate close to expiry is named once an hour per server
   (endpoint, label and notAfter), not on every connection. */
#define ENGINE_WARN_SLOTS 8
#define ENGINE_WARN_EVERY_S 3600
/* A resumption cache key: two names, an address and a port, with room. */
#define ENGINE_CACHE_KEY_MAX 700

struct engine_warned {
	uint64_t key;
	time_t at;
};

/* One configured endpoint: everything the engine keeps for it, in the
   order of the configuration (the first match wins). */
struct engine_ep {
	struct tls_endpoint tls; /* context and resumption cache; tls.cfg is
				    the configuration's entry */
	const struct resolve_name *names; /* its name's addresses, or NULL */
	struct reload_watch watch;
	pthread_mutex_t warn_lock;
	struct engine_warned warned[ENGINE_WARN_SLOTS];
};

const struct shim_host *engine_host;
static struct shim_config engine_cfg;
static struct engine_ep *engine_eps; /* engine_neps of them */
static size_t engine_neps;

/* The endpoint a session's tls_endpoint belongs to. */
static struct engine_ep *engine_ep_of(struct tls_endpoint *tls)
{
	return (struct engine_ep *)((char *)tls -
				    offsetof(struct engine_ep, tls));
}

static const char *engine_getenv(const char *name)
{
	return engine_host->getenv != NULL ? engine_host->getenv(name)
					   : getenv(name);
}

/*
 * The first endpoint `t` matches into *found (NULL if none).  A NAME
 * endpoint matches the addresses its name resolves to now, so a program
 * that dials the address gets TLS too (fail closed, not open).  Returns
 * 0, or -1 if those addresses cannot be read (the connect() is then
 * refused, never let through unmatched).
 */
static int engine_find(const struct match_target *t, enum match_result *how,
		       struct engine_ep **found)
{
	*found = NULL;
	if (resolve_read_lock() < 0)
		return -1;
	for (size_t i = 0; i < engine_neps && *found == NULL; i++) {
		struct engine_ep *ep = &engine_eps[i];
		size_t n;
		const struct addr_ip *set = resolve_set(ep->names, &n);

		*how = match_test_set(&ep->tls.cfg->match, t, set, n);
		if (*how != MATCH_NONE)
			*found = ep;
	}
	resolve_read_unlock();
	return 0;
}

/* The socket's local address, normalised; 0, or -1 if unbound/unknown. */
static int engine_bound(int fd, struct addr_ip *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    addr_from_sockaddr((struct sockaddr *)&ss, len, out, NULL) < 0)
		return -1;
	return 0;
}

/*
 * Find the endpoint of a connect() to t->addr.  A connect to 0.0.0.0 or
 * :: reaches the local host (addr_kernel_dest), so it is matched as that
 * host: t->addr becomes the loopback address actually dialled, and if no
 * endpoint is configured for it, the other loopback family's (a server
 * on [::]:P answers 127.0.0.1 and ::1 alike), so 127.0.0.1:P, [::1]:P and
 * localhost:P all cover 0.0.0.0:P and [::]:P.  The endpoint into *ep
 * (NULL if none); 0, or -1 as engine_find.
 */
static int engine_find_dest(int fd, struct match_target *t,
			    enum match_result *how, struct engine_ep **ep)
{
	struct addr_ip bound, lo, other;

	if (!addr_is_any(&t->addr))
		return engine_find(t, how, ep);
	addr_kernel_dest(&t->addr, engine_bound(fd, &bound) == 0 ? &bound
								 : NULL);
	if (engine_find(t, how, ep) < 0)
		return -1;
	if (*ep != NULL)
		return 0;
	addr_loopback(t->addr.family, &lo);
	if (!addr_equal(&t->addr, &lo))
		return 0; /* a bound source address: that host, no other */
	other = t->addr;
	addr_loopback(lo.family == AF_INET ? AF_INET6 : AF_INET, &t->addr);
	if (engine_find(t, how, ep) < 0)
		return -1;
	if (*ep == NULL)
		t->addr = other;
	return 0;
}

/* What one connection verifies and sends (DESIGN, security rule 2), and
   the storage behind its tls_target. */
struct engine_conn {
	char ip[ADDR_TEXT_MAX];        /* the address dialled */
	struct engine_names nm;        /* what is verified and sent */
	char key[ENGINE_CACHE_KEY_MAX]; /* "expect|sni|ip|port" */
	struct tls_target tg;
};

/* The endpoint a connect() goes to into *ep (NULL if none matches, or
   not IPv4/IPv6), with t filled and *how saying by what it matched; 0,
   or -1 as engine_find. */
static int engine_match(int fd, const struct sockaddr *addr,
			socklen_t addrlen, const char *name,
			struct match_target *t, enum match_result *how,
			struct engine_ep **ep)
{
	*ep = NULL;
	/* a name that is an IP literal ("127.1") is that address, dialled
	   as an address: never verified or sent as a name */
	if (name != NULL && addr_is_literal(name))
		name = NULL;
	if (match_target_from_sockaddr(addr, addrlen, name, t) < 0)
		return 0;
	resolve_poll();
	return engine_find_dest(fd, t, how, ep);
}

void engine_names(const struct cfg_endpoint *ep, enum match_result how,
		  const char *name, const char *ip, struct engine_names *out)
{
	const struct cfg_tls *c = &ep->tls;

	size_t n = name != NULL ? strlen(name) : 0;

	/* "host." is the same host, but no certificate names it so and
	   SNI carries no trailing dot (RFC 6066) */
	if (n > 1 && n < sizeof(out->name) && name[n - 1] == '.') {
		memcpy(out->name, name, n - 1);
		out->name[n - 1] = '\0';
		name = out->name;
	}
	out->dialled = how == MATCH_BY_RESOLVED ? ep->match.name : name;
	out->expect = c->verify_name ? c->verify_name
		    : out->dialled   ? out->dialled
				     : ip;
	/* X509 IP checks take the canonical form only */
	if (addr_canonical(out->expect, out->ip, sizeof(out->ip)))
		out->expect = out->ip;
	out->pattern = out->expect == c->verify_name &&
		       match_is_pattern(c->verify_name);
	/* a pattern names no one host: no SNI at all unless sni is set */
	out->sni = c->sni			     ? c->sni
		 : match_is_pattern(c->verify_name) ? NULL
		 : out->dialled			     ? out->dialled
						     : c->verify_name;
	if (out->sni != NULL && addr_is_literal(out->sni))
		out->sni = NULL; /* never SNI for an IP literal */
}

/* The name verified and sent as SNI (engine_names), the label of log
   lines, the resumption cache key: into *cn and info. */
static void engine_name_conn(const struct engine_ep *ep,
			     const struct match_target *t,
			     enum match_result how, struct engine_conn *cn,
			     struct shim_session_info *info)
{
	const struct engine_names *nm = &cn->nm;

	addr_format(&t->addr, cn->ip, sizeof(cn->ip));
	engine_names(ep->tls.cfg, how, t->name, cn->ip, &cn->nm);
	if (nm->dialled != NULL)
		snprintf(info->label, sizeof(info->label), "%s:%u",
			 nm->dialled, t->port);
	else
		snprintf(info->label, sizeof(info->label),
			 t->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 cn->ip, t->port);
	snprintf(cn->key, sizeof(cn->key), "%s|%s|%s|%u", nm->expect,
		 nm->sni ? nm->sni : "", cn->ip, t->port);
	info->handshake_timeout_ms = ep->tls.cfg->tls.handshake_timeout_ms;
	cn->tg = (struct tls_target){ .label = info->label,
				      .expect = nm->expect, .sni = nm->sni,
				      .pattern = nm->pattern,
				      .cache_key = cn->key };
}


static enum shim_decision engine_open(int fd, const struct sockaddr *addr,
				      socklen_t addrlen, const char *name,
				      struct shim_tls **out,
				      struct shim_session_info *info, int *err)
{
	struct engine_ep *ep;
	struct match_target t;
	enum match_result how = MATCH_NONE;
	struct engine_conn cn;

	if (engine_match(fd, addr, addrlen, name, &t, &how, &ep) < 0) {
		ENGINE_LOG(SHIM_LOG_ERROR, "cannot read the addresses the "
			   "endpoints' names resolve to (lock failed): "
			   "connection refused");
		*err = EAGAIN;
		return SHIM_REFUSE;
	}
	if (ep == NULL)
		return SHIM_PASS;
	engine_name_conn(ep, &t, how, &cn, info);
	if (engine_host->log_enabled(SHIM_LOG_DEBUG))
		ENGINE_LOG(SHIM_LOG_DEBUG, "%s: matches endpoint '%s'; "
			   "verifying '%s', SNI %s", info->label,
			   ep->tls.cfg->match_text, cn.tg.expect,
			   cn.tg.sni ? cn.tg.sni : "(none)");
	if (out == NULL)
		return SHIM_WRAP; /* a question only: no session, not counted */
	reload_poll(&ep->watch);
	stats_add(STATS_CONNECTIONS, 1);
	tls_ctx_read_lock(&ep->tls);
	*out = tls_session_new(&ep->tls, fd, &cn.tg, err);
	tls_ctx_read_unlock(&ep->tls);
	if (*out == NULL) {
		stats_add(STATS_FAIL_OTHER, 1);
		return SHIM_REFUSE;
	}
	return SHIM_WRAP;
}

/* ------------------------------------------- checks after the handshake */

/* FNV-1a, 64 bits: a server's key in the warning slots. */
#define ENGINE_FNV_OFFSET 0xcbf29ce484222325ULL
#define ENGINE_FNV_PRIME 0x100000001b3ULL

static uint64_t engine_hash(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * ENGINE_FNV_PRIME;
	return h;
}

/* 1 if this server's certificate was not named within the last hour. */
static int engine_warn_due(struct engine_ep *ep, const char *label,
			   const char *date)
{
	uint64_t key = engine_hash(engine_hash(ENGINE_FNV_OFFSET, label),
				   date);
	time_t now = time(NULL);
	struct engine_warned *slot = &ep->warned[0];
	int due = 1;

	pthread_mutex_lock(&ep->warn_lock);
	for (int i = 0; i < ENGINE_WARN_SLOTS; i++) {
		struct engine_warned *w = &ep->warned[i];
		if (w->key == key) {
			slot = w;
			due = now - w->at >= ENGINE_WARN_EVERY_S;
			break;
		}
		if (w->at < slot->at)
			slot = w;
	}
	if (due) {
		slot->key = key;
		slot->at = now;
	}
	pthread_mutex_unlock(&ep->warn_lock);
	return due;
}

/*
 * A certificate in use that expires within TLS_EXPIRY_WARN_DAYS: the
 * server's after every handshake, ours too (a long-running program loaded
 * it long ago), each named at most once an hour.
 */
static void engine_warn_expiry(struct engine_ep *ep, const char *label,
			       const char *whose, X509 *cert)
{
	char date[TLS_DATE_MAX], subj[TLS_NAME_MAX];
	long days;

	if (cert == NULL ||
	    tls_cert_days_left(cert, &days, date, sizeof(date)) < 0 ||
	    days >= TLS_EXPIRY_WARN_DAYS || !engine_warn_due(ep, label, date))
		return;
	tls_cert_subject(cert, subj, sizeof(subj));
	if (days < 0)
		ENGINE_LOG(SHIM_LOG_WARNING, "%s: the %s certificate (subject "
			   "'%s') expired on %s", label, whose, subj, date);
	else
		ENGINE_LOG(SHIM_LOG_WARNING, "%s: the %s certificate (subject "
			   "'%s') expires in %ld day%s, on %s", label, whose,
			   subj, days, days == 1 ? "" : "s", date);
}

/* 0 if no pin is set or the server's public key matches one; else one
   error line and -1. */
static int engine_check_pins(const struct engine_ep *ep, struct shim_tls *s,
			     X509 *peer)
{
	const struct cfg_tls *c = &ep->tls.cfg->tls;
	char got[TLS_PIN_LEN + 1] = "", subj[TLS_NAME_MAX] = "";
	char want[CFG_MAX_PINS * (TLS_PIN_LEN + 2) + 1];
	size_t n = 0;

	if (c->npins == 0)
		return 0;
	if (peer != NULL && tls_cert_pin(peer, got) == 0)
		for (size_t i = 0; i < c->npins; i++)
			if (strcmp(got, c->pin_sha256[i]) == 0)
				return 0;
	want[0] = '\0';
	for (size_t i = 0; i < c->npins && n < sizeof(want); i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%s",
				      i ? ", " : "", c->pin_sha256[i]);
	if (peer != NULL)
		tls_cert_subject(peer, subj, sizeof(subj));
	ENGINE_LOG(SHIM_LOG_ERROR, "%s: the server's public key matches no "
		   "pin of endpoint '%s': expected pin_sha256 %s; server "
		   "presented %s (subject '%s'); connection refused",
		   tls_session_label(s), ep->tls.cfg->match_text, want,
		   got[0] ? got : "no key", subj);
	return -1;
}

static enum stats_counter engine_fail_counter(enum tls_failure f)
{
	switch (f) {
	case TLS_FAIL_VERIFY:
		return STATS_FAIL_VERIFY;
	case TLS_FAIL_REFUSED:
		return STATS_FAIL_REFUSED;
	case TLS_FAIL_NOT_TLS:
		return STATS_FAIL_NOT_TLS;
	case TLS_FAIL_CLOSED:
		return STATS_FAIL_CLOSED;
	case TLS_FAIL_NONE:
	case TLS_FAIL_OTHER:
	default:
		return STATS_FAIL_OTHER;
	}
}

/* Count a session's outcome once (the mark lives on its SSL). */
static void engine_count(SSL *ssl, enum stats_counter c)
{
	if (!tls_ssl_mark(ssl))
		stats_add(c, 1);
}

/*
 * The handshake, then the engine's own checks.  The switchboard writes no
 * application byte before this returns 0, so a pin mismatch refuses the
 * connection before the program has said anything.
 */
static int engine_handshake(struct shim_tls *s, int *err)
{
	SSL *ssl = tls_session_ssl(s);
	struct tls_endpoint *tls;
	struct engine_ep *ep;
	const char *key;
	X509 *peer;
	int rc = tls_session_handshake(s, err);

	if (rc == SHIM_IO_ERROR)
		engine_count(ssl, engine_fail_counter(tls_session_failure(s)));
	if (rc != 0 || tls_session_cache_target(ssl, &tls, &key) < 0)
		return rc;
	ep = engine_ep_of(tls);
	peer = tls_cert_peer(ssl);
	if (engine_check_pins(ep, s, peer) < 0) {
		tls_cache_drop(tls, key);
		engine_count(ssl, STATS_FAIL_PIN);
		*err = EACCES;
		return SHIM_IO_ERROR;
	}
	engine_warn_expiry(ep, tls_session_label(s), "server", peer);
	engine_warn_expiry(ep, ep->tls.cfg->match_text, "client",
			   tls_cert_own(ssl));
	engine_count(ssl, tls_ssl_resumed(ssl) ? STATS_RESUMED : STATS_FULL);
	return 0;
}

static ssize_t engine_read(struct shim_tls *s, void *buf, size_t len, int peek,
			   int *err)
{
	ssize_t n = tls_session_read(s, buf, len, peek, err);

	if (n > 0 && !peek)
		stats_add(STATS_BYTES_RECEIVED, (unsigned long long)n);
	return n;
}

static ssize_t engine_write(struct shim_tls *s, const void *buf, size_t len,
			    int *err)
{
	ssize_t n = tls_session_write(s, buf, len, err);

	if (n > 0)
		stats_add(STATS_BYTES_SENT, (unsigned long long)n);
	return n;
}

/* A session freed before its handshake ended or failed: a timeout, or the
   program gave up on it. */
static void engine_free(struct shim_tls *s)
{
	if (s != NULL && !tls_ssl_finished(tls_session_ssl(s)))
		engine_count(tls_session_ssl(s), STATS_FAIL_UNFINISHED);
	tls_session_free(s);
}

static void engine_thread_stop(void)
{
	OPENSSL_thread_stop();
}

static void engine_at_exit(void)
{
	stats_report();
}

static const struct shim_engine_ops engine_ops = {
	.abi = SHIM_ENGINE_ABI,
	.open = engine_open,
	.set_fd = tls_session_set_fd,
	.handshake = engine_handshake,
	.read = engine_read,
	.write = engine_write,
	.flush = tls_session_flush,
	.buffered = tls_session_buffered,
	.pending = tls_session_pending,
	.unsent = tls_session_unsent,
	.shutdown = tls_session_shutdown,
	.free = engine_free,
	.at_exit = engine_at_exit,
	.thread_stop = engine_thread_stop,
};

/* tls_ctx_new has just warned about our certificate: the next warning
   after a handshake is due in an hour. */
static void engine_seed_warned(struct engine_ep *ep)
{
	X509 *own = tls_cert_of_ctx(ep->tls.ctx);
	char date[TLS_DATE_MAX];
	long days;

	if (own != NULL &&
	    tls_cert_days_left(own, &days, date, sizeof(date)) == 0 &&
	    days < TLS_EXPIRY_WARN_DAYS)
		engine_warn_due(ep, ep->tls.cfg->match_text, date);
}

/*
 * fork(2) copies locks as they are: one held by another thread would stay
 * held in the child for ever.  So every lock of ours is taken before the
 * fork (in the order the code nests them) and given back on both sides.
 */
static void engine_fork_prepare(void)
{
	resolve_fork_prepare();
	for (size_t i = 0; i < engine_neps; i++) {
		reload_fork_prepare(&engine_eps[i].watch);
		tls_ctx_fork_prepare(&engine_eps[i].tls);
		pthread_mutex_lock(&engine_eps[i].warn_lock);
	}
}

static void engine_fork_parent(void)
{
	for (size_t i = engine_neps; i-- > 0;) {
		pthread_mutex_unlock(&engine_eps[i].warn_lock);
		tls_ctx_fork_after(&engine_eps[i].tls, 0);
		reload_fork_after(&engine_eps[i].watch, 0);
	}
	resolve_fork_parent();
}

static void engine_fork_child(void)
{
	for (size_t i = engine_neps; i-- > 0;) {
		pthread_mutex_init(&engine_eps[i].warn_lock, NULL);
		tls_ctx_fork_after(&engine_eps[i].tls, 1);
		reload_fork_after(&engine_eps[i].watch, 1);
	}
	resolve_fork_child();
}

/* verify_ip_in_cn loosens verification: said once, at load. */
static void engine_warn_ip_in_cn(const struct cfg_endpoint *cfg)
{
	char where[CFG_WHERE_TEXT_MAX];

	if (!cfg->tls.verify_ip_in_cn || cfg->tls.verify == CFG_VERIFY_NONE)
		return;
	config_where_format(&cfg->tls.w_ip_in_cn, where, sizeof(where));
	ENGINE_LOG(SHIM_LOG_WARNING, "endpoint '%s': verify_ip_in_cn is on "
		   "(%s): a dialled IP address is also accepted from the "
		   "subject CN of a server certificate without SANs, which "
		   "OpenSSL and RFC 6125 ignore; this loosens verification: "
		   "use it only with a CA that signs for your servers alone "
		   "(as Memorystore's per-instance CA does)", cfg->match_text,
		   where);
}

/* Undo engine_build for the first n endpoints (all that were built). */
static void engine_unbuild(size_t n)
{
	while (n-- > 0) {
		reload_watch_destroy(&engine_eps[n].watch);
		pthread_mutex_destroy(&engine_eps[n].warn_lock);
		tls_ctx_free(&engine_eps[n].tls);
	}
	resolve_free();
	free(engine_eps);
	engine_eps = NULL;
	engine_neps = 0;
}

/* One endpoint object per configured endpoint, in the configuration's
   order: its context, its name's addresses, its reload watch. */
static int engine_build(char *why, size_t whylen)
{
	engine_eps = calloc(engine_cfg.nendpoints ? engine_cfg.nendpoints : 1,
			    sizeof(*engine_eps));
	if (engine_eps == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (resolve_init(&engine_cfg, why, whylen) < 0) {
		engine_unbuild(0);
		return -1;
	}
	for (size_t i = 0; i < engine_cfg.nendpoints; i++) {
		struct engine_ep *ep = &engine_eps[i];

		if (tls_ctx_build(&ep->tls, &engine_cfg.endpoints[i], why,
				  whylen) < 0) {
			engine_unbuild(i);
			return -1;
		}
		ep->names = resolve_names_of(&engine_cfg.endpoints[i]);
		reload_watch_init(&ep->watch, &ep->tls);
		pthread_mutex_init(&ep->warn_lock, NULL);
		engine_seed_warned(ep);
		engine_warn_ip_in_cn(ep->tls.cfg);
		engine_neps = i + 1;
	}
	return 0;
}

/* ------------------------------------------------ for redis-tls-ctl */

void engine_set_strict(int on)
{
	tls_ctx_set_strict(on);
}

const struct shim_config *engine_config(void)
{
	return &engine_cfg;
}

time_t engine_verdict_until(time_t now, time_t until)
{
	for (size_t i = 0; i < engine_neps; i++)
		until = tls_ctx_verdict_until(&engine_eps[i].tls, now, until);
	return until;
}

int engine_cert_days(struct shim_tls *s, int peer, long *days, char *date,
		     size_t len)
{
	SSL *ssl = tls_session_ssl(s);
	X509 *cert = peer ? tls_cert_peer(ssl) : tls_cert_own(ssl);

	if (cert == NULL)
		return -1;
	return tls_cert_days_left(cert, days, date, len);
}

ENGINE_EXPORT const struct shim_engine_ops *
shim_engine_init(const struct shim_host *host, char *why, size_t whylen);

/* 1 if host is of this engine's ABI and lends every call. */
static int engine_host_complete(const struct shim_host *host)
{
	return host != NULL && host->abi == SHIM_ENGINE_ABI &&
	       host->recv != NULL && host->send != NULL &&
	       host->close != NULL && host->getaddrinfo != NULL &&
	       host->log != NULL && host->log_enabled != NULL &&
	       host->log_configure != NULL;
}

ENGINE_EXPORT const struct shim_engine_ops *
shim_engine_init(const struct shim_host *host, char *why, size_t whylen)
{
	const char *reason = NULL;

	if (!engine_host_complete(host)) {
		snprintf(why, whylen, "switchboard and engine do not match");
		return NULL;
	}
	engine_host = host;
	if (config_load(&engine_cfg, engine_getenv, why, whylen) < 0)
		return NULL;
	if ((engine_cfg.log_level || engine_cfg.log_target) &&
	    host->log_configure(engine_cfg.log_level, engine_cfg.log_target,
				&reason) < 0) {
		snprintf(why, whylen, "%s: log: %s",
			 engine_cfg.path ? engine_cfg.path : "configuration",
			 reason);
		config_free(&engine_cfg);
		return NULL;
	}
	ENGINE_LOG(SHIM_LOG_DEBUG, "redis-tls-shim %s: engine loaded; "
		   "configuration %s, %zu endpoint%s", version_text(),
		   engine_cfg.path ? engine_cfg.path : "from the environment",
		   engine_cfg.nendpoints, engine_cfg.nendpoints == 1 ? "" : "s");
	if (engine_build(why, whylen) < 0) {
		config_free(&engine_cfg);
		return NULL;
	}
	stats_init();
	pthread_atfork(engine_fork_prepare, engine_fork_parent,
		       engine_fork_child);
	resolve_start();
	return &engine_ops;
}
