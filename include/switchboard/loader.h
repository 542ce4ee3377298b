/*
 * loader.h - loading the engine on the first connect() of an IPv4/IPv6
 * stream socket: dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND) of
 * libredistls-engine.so beside the switchboard (or $REDIS_TLS_ENGINE),
 * then shim_engine_init() with the host table.
 *
 * If the engine cannot be loaded or its configuration is bad, every
 * outbound TCP connect fails closed (EACCES) and one log line says why.
 * Thread-safe (pthread_once).  Calls made by the engine while it
 * initialises (a TCP DNS lookup, say) pass straight through.
 */
#ifndef SHIM_LOADER_H
#define SHIM_LOADER_H

#include "engine_api.h"

/* loader_engine - the engine's table, or NULL when failing closed. */
const struct shim_engine_ops *loader_engine(void);

/*
 * loader_stand_aside - 1 when this program makes its own TLS with the
 * engine (it exports SHIM_STAND_ASIDE_SYMBOL): then loader_engine() is
 * NULL and every connection passes untouched.
 */
int loader_stand_aside(void);

/* loader_busy - 1 on the thread that is loading the engine right now. */
int loader_busy(void);

/* loader_loaded - the engine if already loaded (no loading), else NULL. */
const struct shim_engine_ops *loader_loaded(void);

#endif
