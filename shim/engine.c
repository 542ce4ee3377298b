/*
 * engine.c - the engine's entry point: load the configuration, build a TLS
 * context per endpoint, and decide for each connect() whether and how to
 * wrap it.  Exports one symbol, shim_engine_init.
 *
 * Initialisation runs once (the switchboard serialises it); afterwards the
 * configuration and contexts are read-only and shared by all threads.
 */
#include "config.h"
#include "engine.h"
#include "match.h"
#include "tls_ctx.h"
#include "tls_session.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE_EXPORT __attribute__((visibility("default")))

const struct shim_host *engine_host;
static struct shim_config engine_cfg;
static struct tls_endpoint *engine_eps;

static const char *engine_getenv(const char *name)
{
	return getenv(name);
}

/* A NAME spec also matches the addresses it resolves to now, so a program
   that dials the address gets TLS too (fail closed, not open). */
static void engine_resolve(struct match_spec *m)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;

	if (m->kind != MATCH_HOST_NAME ||
	    getaddrinfo(m->name, NULL, &hints, &res) != 0)
		return;
	for (ai = res; ai && m->nresolved < MATCH_MAX_RESOLVED; ai = ai->ai_next) {
		struct match_target t;
		if (match_target_from_sockaddr(ai->ai_addr, ai->ai_addrlen,
					       NULL, &t) == 0)
			m->resolved[m->nresolved++] = t.addr;
	}
	freeaddrinfo(res);
}

static const struct tls_endpoint *engine_find(const struct match_target *t,
					      enum match_result *how)
{
	for (size_t i = 0; i < engine_cfg.nendpoints; i++) {
		*how = match_test(&engine_cfg.endpoints[i].match, t);
		if (*how != MATCH_NONE)
			return &engine_eps[i];
	}
	return NULL;
}

static enum shim_decision engine_open(int fd, const struct sockaddr *addr,
				      socklen_t addrlen, const char *name,
				      struct shim_tls **out,
				      struct shim_session_info *info, int *err)
{
	const struct tls_endpoint *ep;
	const struct cfg_tls *c;
	struct match_target t;
	enum match_result how = MATCH_NONE;
	char ip[64], key[700];
	const char *dialled, *expect, *sni;
	struct tls_target tg;

	if (match_target_from_sockaddr(addr, addrlen, name, &t) < 0 ||
	    (ep = engine_find(&t, &how)) == NULL)
		return SHIM_PASS;
	c = &ep->cfg->tls;
	match_addr_format(&t.addr, ip, sizeof(ip));
	dialled = how == MATCH_BY_RESOLVED ? ep->cfg->match.name : name;
	expect = c->verify_name ? c->verify_name : dialled ? dialled : ip;
	sni = c->sni ? c->sni : dialled ? dialled : c->verify_name;
	if (dialled != NULL)
		snprintf(info->label, sizeof(info->label), "%s:%u", dialled,
			 t.port);
	else
		snprintf(info->label, sizeof(info->label),
			 t.addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
			 t.port);
	snprintf(key, sizeof(key), "%s|%s|%s|%u", expect, sni ? sni : "", ip,
		 t.port);
	info->handshake_timeout_ms = c->handshake_timeout_ms;
	tg = (struct tls_target){ .label = info->label, .expect = expect,
				  .sni = sni, .cache_key = key };
	if (engine_host->log_enabled(SHIM_LOG_DEBUG))
		ENGINE_LOG(SHIM_LOG_DEBUG, "%s: matches endpoint '%s'; "
			   "verifying '%s', SNI %s", info->label,
			   ep->cfg->match_text, expect, sni ? sni : "(none)");
	*out = tls_session_new((struct tls_endpoint *)ep, fd, &tg, err);
	return *out != NULL ? SHIM_WRAP : SHIM_REFUSE;
}

static int engine_handshake(struct shim_tls *s, int *err)
{
	return tls_session_handshake(s, err);
}

static ssize_t engine_read(struct shim_tls *s, void *buf, size_t len, int peek,
			   int *err)
{
	return tls_session_read(s, buf, len, peek, err);
}

static ssize_t engine_write(struct shim_tls *s, const void *buf, size_t len,
			    int *err)
{
	return tls_session_write(s, buf, len, err);
}

static void engine_at_exit(void)
{
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
	.free = tls_session_free,
	.at_exit = engine_at_exit,
};

static int engine_build(char *why, size_t whylen)
{
	engine_eps = calloc(engine_cfg.nendpoints, sizeof(*engine_eps));
	if (engine_eps == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < engine_cfg.nendpoints; i++) {
		engine_resolve(&engine_cfg.endpoints[i].match);
		if (tls_ctx_build(&engine_eps[i], &engine_cfg.endpoints[i], why,
				  whylen) < 0) {
			while (i-- > 0)
				tls_ctx_free(&engine_eps[i]);
			free(engine_eps);
			engine_eps = NULL;
			return -1;
		}
	}
	return 0;
}

ENGINE_EXPORT const struct shim_engine_ops *
shim_engine_init(const struct shim_host *host, char *why, size_t whylen);

ENGINE_EXPORT const struct shim_engine_ops *
shim_engine_init(const struct shim_host *host, char *why, size_t whylen)
{
	const char *reason = NULL;

	if (host == NULL || host->abi != SHIM_ENGINE_ABI) {
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
	if (engine_build(why, whylen) < 0) {
		config_free(&engine_cfg);
		return NULL;
	}
	return &engine_ops;
}
