/*
 * engine.h - what the engine's modules share: the host table the
 * switchboard lent at init (real recv/send, logging).
 */
#ifndef SHIM_ENGINE_H
#define SHIM_ENGINE_H

#include "engine_api.h"

extern const struct shim_host *engine_host;

#define ENGINE_LOG(level, ...) engine_host->log(level, __VA_ARGS__)

#endif
