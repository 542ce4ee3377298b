/*
 * engine.h - what the engine's modules share: the host table the
 * switchboard lent at init (real recv/send/getaddrinfo, logging); and what
 * redis-tls-ctl, which links the engine's objects directly, asks of it.
 */
#ifndef SHIM_ENGINE_H
#define SHIM_ENGINE_H

#include "engine_api.h"
#include "addr.h"
#include "config.h"

#include <time.h>

struct shim_config;

extern const struct shim_host *engine_host;

#define ENGINE_LOG(level, ...) engine_host->log(level, __VA_ARGS__)

/*
 * engine_names - which name a connect() to endpoint `ep` verifies and
 * which it sends as SNI (DESIGN, security rule 2).  `how` is how the
 * destination matched ep; `name` is the host name the program resolved
 * for this address and port (NULL when it dialled a literal); `ip` is the
 * address dialled, as text.  Fills *out:
 *   dialled  the name the program dialled by: ep's own name when the
 *            address is one that name resolves to, else `name` without
 *            a trailing dot; or NULL;
 *   expect   verify_name, else dialled, else the IP (IP literals in
 *            their canonical form, which X509 IP checks need);
 *   pattern  1 if expect is verify_name's pattern "*.DOMAIN" (only the
 *            configuration makes one: a dialled name with a '*' in it is
 *            verified as the name it is);
 *   sni      the sni option, else dialled, else verify_name unless it is
 *            a pattern (a pattern is no host name); NULL for an IP
 *            literal (SNI is never sent for one).
 * The strings point into ep, `name`, `ip` or *out itself.
 */
struct engine_names {
	const char *dialled, *expect, *sni;
	int pattern;
	char ip[ADDR_TEXT_MAX]; /* the canonical form of an IP expect */
	char name[MATCH_NAME_MAX + 2]; /* `name` without its trailing dot */
};
void engine_names(const struct cfg_endpoint *ep, enum match_result how,
		  const char *name, const char *ip, struct engine_names *out);

/* ---- for redis-tls-ctl ------------------------------------------------ */

/* engine_set_strict - before shim_engine_init: an expired client
   certificate is a load error, not a logged one (tls_ctx_set_strict). */
void engine_set_strict(int on);

/* engine_config - the loaded configuration (after shim_engine_init). */
const struct shim_config *engine_config(void);

/* engine_verdict_until - the earliest of `until` and the first time the
   loaded configuration's certificates could make a strict load fail
   (tls_ctx_verdict_until, over every endpoint). */
time_t engine_verdict_until(time_t now, time_t until);

/*
 * engine_cert_days - for a finished handshake: whole days until the
 * server's certificate (peer = 1) or the one we sent (peer = 0) expires,
 * negative once expired, and its notAfter as text.  0, or -1 if there is
 * no such certificate.
 */
int engine_cert_days(struct shim_tls *s, int peer, long *days, char *date,
		     size_t len);

#endif
