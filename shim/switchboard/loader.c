/*
 * loader.c - load the engine once, on the first TCP connect().
 */
#include "loader.h"
#include "exec_env.h"
#include "log.h"
#include "real.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOADER_ENGINE_NAME "libredistls-engine.so"

static pthread_once_t loader_once = PTHREAD_ONCE_INIT;
static _Atomic(const struct shim_engine_ops *) loader_ops;
static atomic_int loader_aside;
static __thread int loader_in_init;

#ifdef SHIM_STATIC_ENGINE
const struct shim_engine_ops *shim_engine_init(const struct shim_host *host,
					       char *why, size_t whylen);
#endif

static ssize_t loader_recv(int fd, void *buf, size_t len, int flags)
{
	return real.recv(fd, buf, len, flags);
}

static ssize_t loader_send(int fd, const void *buf, size_t len, int flags)
{
	return real.send(fd, buf, len, flags);
}

static int loader_close(int fd)
{
	return real.close(fd);
}

static int loader_getaddrinfo(const char *node, const char *service,
			      const struct addrinfo *hints,
			      struct addrinfo **res)
{
	return real.getaddrinfo(node, service, hints, res);
}

static const struct shim_host loader_host = {
	.abi = SHIM_ENGINE_ABI,
	.recv = loader_recv,
	.send = loader_send,
	.close = loader_close,
	.getaddrinfo = loader_getaddrinfo,
	.log = log_msg,
	.log_enabled = log_enabled,
	.log_configure = log_configure,
	.getenv = exec_env_getenv,
};

#ifndef SHIM_STATIC_ENGINE
/* The engine beside this library, unless REDIS_TLS_ENGINE names one. */
static int loader_engine_path(char *out, size_t len)
{
	const char *env = getenv("REDIS_TLS_ENGINE");
	Dl_info info;
	const char *slash;

	if (env != NULL && *env != '\0') {
		snprintf(out, len, "%s", env);
		return 0;
	}
	if (!dladdr((void *)loader_engine_path, &info) || info.dli_fname == NULL)
		return -1;
	slash = strrchr(info.dli_fname, '/');
	if (slash == NULL)
		snprintf(out, len, "%s", LOADER_ENGINE_NAME);
	else
		snprintf(out, len, "%.*s/%s", (int)(slash - info.dli_fname),
			 info.dli_fname, LOADER_ENGINE_NAME);
	return 0;
}

static shim_engine_init_fn loader_open(char *why, size_t whylen)
{
	char path[PATH_MAX];
	void *h;
	shim_engine_init_fn init;

	if (loader_engine_path(path, sizeof(path)) < 0) {
		snprintf(why, whylen, "cannot locate %s", LOADER_ENGINE_NAME);
		return NULL;
	}
	/* DEEPBIND: the engine must get the system libssl even inside a
	   program (node) that exports OpenSSL symbols of its own. */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (h == NULL) {
		snprintf(why, whylen, "cannot load the engine: %s", dlerror());
		return NULL;
	}
	*(void **)&init = dlsym(h, SHIM_ENGINE_INIT_SYMBOL);
	if (init == NULL) {
		snprintf(why, whylen, "%.900s: no %s", path,
			 SHIM_ENGINE_INIT_SYMBOL);
		return NULL;
	}
	return init;
}
#endif

static void loader_at_exit(void)
{
	const struct shim_engine_ops *e = atomic_load(&loader_ops);

	if (e != NULL && e->at_exit != NULL)
		e->at_exit();
}

/* Block every signal but the faults' (a fault with its signal blocked
   kills the process, handler or not); the mask before goes to *old. */
static void loader_block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void loader_load(void)
{
	char why[1024] = "";
	shim_engine_init_fn init;
	const struct shim_engine_ops *ops = NULL;

	if (dlsym(RTLD_DEFAULT, SHIM_STAND_ASIDE_SYMBOL) != NULL) {
		atomic_store(&loader_aside, 1);
		return;
	}
#ifdef SHIM_STATIC_ENGINE
	init = shim_engine_init;
#else
	init = loader_open(why, sizeof(why));
#endif
	if (init != NULL)
		ops = init(&loader_host, why, sizeof(why));
	if (ops != NULL && ops->abi != SHIM_ENGINE_ABI) {
		snprintf(why, sizeof(why), "engine ABI %d, switchboard ABI %d",
			 ops->abi, SHIM_ENGINE_ABI);
		ops = NULL;
	}
	if (ops == NULL) {
		log_msg(SHIM_LOG_ERROR, "%s; every outbound TCP connection "
			"of this process is refused (fail closed)", why);
		return;
	}
	atomic_store(&loader_ops, ops);
	atexit(loader_at_exit);
	/* now, at the configuration's log level */
	if (real_other_copy() != NULL)
		log_msg(SHIM_LOG_INFO, "another copy of the shim is loaded "
			"(%s): it stands aside, this one serves",
			real_other_copy());
}

/*
 * The load, once: no handler runs on this thread meanwhile.  One would
 * interrupt malloc there (dlopen, OpenSSL's set-up), and a socket() or
 * connect() of its own would allocate in the middle of it, or wait for
 * the load it interrupted, for ever.  A handler that ran before the mask
 * is set finds loader_in_init and does not wait.
 */
static void loader_run_once(void)
{
	sigset_t old;

	if (loader_in_init)
		return;
	loader_in_init = 1;
	loader_block_signals(&old);
	pthread_once(&loader_once, loader_load);
	/* a signal that came meanwhile is handled now, while its handler's
	   connect() is still one made during the load (refused: the engine
	   was not there to decide it when it came) */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	loader_in_init = 0;
}

const struct shim_engine_ops *loader_engine(void)
{
	const struct shim_engine_ops *e = atomic_load(&loader_ops);

	if (e != NULL)
		return e;
	loader_run_once();
	return atomic_load(&loader_ops);
}

const struct shim_engine_ops *loader_loaded(void)
{
	return atomic_load_explicit(&loader_ops, memory_order_acquire);
}

int loader_stand_aside(void)
{
	loader_run_once();
	return atomic_load(&loader_aside);
}

int loader_busy(void)
{
	return loader_in_init;
}
