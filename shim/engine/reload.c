/*
 * reload.c - rebuild an endpoint's TLS context when its files change.
 *
 * The signature of the files is taken before the new context is built:
 * if they change again while it loads, the next check sees that and loads
 * again.  A certificate and key replaced one after the other make one
 * failed attempt (they do not match) and then a good one.
 */
#include "reload.h"
#include "deadline.h"
#include "engine.h"

#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The watched files: each one's key (for log lines) and its path's place
   in struct cfg_tls. */
static const struct {
	const char *key;
	size_t off; /* of the char * path */
} reload_files[RELOAD_FILES] = {
	{ "ca_file", offsetof(struct cfg_tls, ca_file) },
	{ "ca_path", offsetof(struct cfg_tls, ca_path) },
	{ "cert_file", offsetof(struct cfg_tls, cert_file) },
	{ "key_file", offsetof(struct cfg_tls, key_file) },
	{ "key_passphrase_file", offsetof(struct cfg_tls, key_passphrase_file) },
	{ "crl_file", offsetof(struct cfg_tls, crl_file) },
};

static const char *reload_path(const struct cfg_tls *t, int i)
{
	const char *const *field =
		(const void *)((const char *)t + reload_files[i].off);

	return *field;
}

static void reload_take(const struct cfg_tls *t, struct reload_sig *sig)
{
	struct stat st;

	memset(sig, 0, sizeof(*sig));
	for (int i = 0; i < RELOAD_FILES; i++) {
		struct reload_file *f = &sig->f[i];
		const char *path = reload_path(t, i);

		if (path == NULL)
			continue;
		if (stat(path, &st) < 0) {
			f->err = errno;
			continue;
		}
		f->present = 1;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->size = st.st_size;
		f->mtime = st.st_mtim;
		f->ctime = st.st_ctim;
	}
}

static int reload_file_eq(const struct reload_file *a,
			  const struct reload_file *b)
{
	if (a->present != b->present)
		return 0;
	if (!a->present)
		return a->err == b->err;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       deadline_cmp(&a->mtime, &b->mtime) == 0 &&
	       deadline_cmp(&a->ctime, &b->ctime) == 0;
}

/* The names of the files that differ, "cert_file, key_file". */
static int reload_diff(const struct reload_sig *a, const struct reload_sig *b,
		       char *out, size_t len)
{
	size_t n = 0;
	int changed = 0;

	out[0] = '\0';
	for (int i = 0; i < RELOAD_FILES; i++) {
		if (reload_file_eq(&a->f[i], &b->f[i]))
			continue;
		changed++;
		if (n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s",
					      n ? ", " : "", reload_files[i].key);
	}
	return changed;
}

static int reload_sig_eq(const struct reload_sig *a, const struct reload_sig *b)
{
	for (int i = 0; i < RELOAD_FILES; i++)
		if (!reload_file_eq(&a->f[i], &b->f[i]))
			return 0;
	return 1;
}

void reload_watch_init(struct reload_watch *w, struct tls_endpoint *ep)
{
	memset(w, 0, sizeof(*w));
	w->ep = ep;
	pthread_mutex_init(&w->lock, NULL);
	reload_take(&ep->cfg->tls, &w->loaded);
	__atomic_store_n(&w->next_ms,
			 deadline_coarse_ms() + RELOAD_INTERVAL_MS,
			 __ATOMIC_RELAXED);
}

void reload_watch_destroy(struct reload_watch *w)
{
	if (w->ep != NULL)
		pthread_mutex_destroy(&w->lock);
	w->ep = NULL;
}

#define RELOAD_WHAT_MAX 128 /* the keys of the changed files */
#define RELOAD_WHY_MAX 1024 /* why the new files do not load */

/* Caller holds w->lock. */
static void reload_check(struct reload_watch *w)
{
	const struct cfg_endpoint *cfg = w->ep->cfg;
	struct reload_sig now;
	char what[RELOAD_WHAT_MAX], why[RELOAD_WHY_MAX];
	SSL_CTX *ctx;

	reload_take(&cfg->tls, &now);
	if (reload_sig_eq(&now, &w->loaded) ||
	    (w->has_failed && reload_sig_eq(&now, &w->failed)))
		return;
	reload_diff(&w->loaded, &now, what, sizeof(what));
	ctx = tls_ctx_new(cfg, why, sizeof(why));
	if (ctx == NULL) {
		w->failed = now;
		w->has_failed = 1;
		ENGINE_LOG(SHIM_LOG_WARNING, "endpoint '%s': %s changed but "
			   "cannot be loaded; new connections keep using the "
			   "previous certificates: %s", cfg->match_text, what,
			   why);
		return;
	}
	tls_ctx_swap(w->ep, ctx);
	w->loaded = now;
	w->has_failed = 0;
	ENGINE_LOG(SHIM_LOG_NOTICE, "endpoint '%s': %s changed: reloaded; new "
		   "connections use the new certificates", cfg->match_text,
		   what);
}

void reload_poll(struct reload_watch *w)
{
	long long now = deadline_coarse_ms();

	if (now < __atomic_load_n(&w->next_ms, __ATOMIC_RELAXED))
		return;
	/* a thread already checking does it for everyone */
	if (pthread_mutex_trylock(&w->lock) != 0)
		return;
	if (now >= __atomic_load_n(&w->next_ms, __ATOMIC_RELAXED)) {
		reload_check(w);
		__atomic_store_n(&w->next_ms,
				 deadline_coarse_ms() + RELOAD_INTERVAL_MS,
				 __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&w->lock);
}

void reload_fork_prepare(struct reload_watch *w)
{
	pthread_mutex_lock(&w->lock);
}

void reload_fork_after(struct reload_watch *w, int child)
{
	if (child)
		pthread_mutex_init(&w->lock, NULL);
	else
		pthread_mutex_unlock(&w->lock);
}
