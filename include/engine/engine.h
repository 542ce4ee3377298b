/*
 * engine.h - what the engine's modules share: the host table the
 * switchboard lent at init (real recv/send/getaddrinfo, logging); and what
 * redis-tls-ctl, which links the engine's objects directly, asks of it.
 */
#ifndef SHIM_ENGINE_H
#define SHIM_ENGINE_H

#include "engine_api.h"

struct shim_config;

extern const struct shim_host *engine_host;

#define ENGINE_LOG(level, ...) engine_host->log(level, __VA_ARGS__)

/* ---- for redis-tls-ctl ------------------------------------------------ */

/* engine_set_strict - before shim_engine_init: an expired client
   certificate is a load error, not a logged one (tls_ctx_set_strict). */
void engine_set_strict(int on);

/* engine_config - the loaded configuration (after shim_engine_init). */
const struct shim_config *engine_config(void);

/*
 * engine_cert_days - for a finished handshake: whole days until the
 * server's certificate (peer = 1) or the one we sent (peer = 0) expires,
 * negative once expired, and its notAfter as text.  0, or -1 if there is
 * no such certificate.
 */
int engine_cert_days(struct shim_tls *s, int peer, long *days, char *date,
		     size_t len);

#endif
