/*
 * reload.h - certificate and CA reload: when an endpoint's files change on
 * disk, new connections use the new material without a restart.
 *
 * Watched: ca_file, ca_path (the folder's own mtime: files added, removed
 * or renamed), cert_file, key_file, key_passphrase_file, crl_file.  A file
 * counts as changed when its inode, size, mtime or ctime differ (an atomic
 * rename, a Kubernetes Secret update through its ..data symlink, and an
 * in-place rewrite all do).
 *
 * Thread-safety: reload_poll may be called from any thread.  It costs one
 * clock read and one atomic load when no check is due; at most one thread
 * per endpoint checks, at most once per RELOAD_INTERVAL_MS.
 */
#ifndef SHIM_RELOAD_H
#define SHIM_RELOAD_H

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include "tls_ctx.h"

#define RELOAD_INTERVAL_MS 1000
#define RELOAD_FILES 6

/* What stat(2) says of one watched path. */
struct reload_file {
	int present; /* 0: unset, or stat failed (err) */
	int err;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct reload_sig {
	struct reload_file f[RELOAD_FILES];
};

struct reload_watch {
	struct tls_endpoint *ep;
	pthread_mutex_t lock; /* the checker; guards the fields below */
	long long next_ms;    /* atomic: monotonic time of the next check */
	struct reload_sig loaded; /* the files the current context came from */
	struct reload_sig failed; /* files a reload failed on: not retried */
	int has_failed;
};

/* reload_watch_init - start watching ep's files as they are now (call
   right after ep's context was built). */
void reload_watch_init(struct reload_watch *w, struct tls_endpoint *ep);
void reload_watch_destroy(struct reload_watch *w);

/*
 * reload_poll - if a check is due and the files changed, build a new
 * context from them and swap it in (tls_ctx_swap; cached sessions are
 * dropped).  If the new files do not load, the current context stays and
 * one warning says why; the same files are not tried again.
 */
void reload_poll(struct reload_watch *w);

/* Around fork(2): take w's lock; give it back (child: anew). */
void reload_fork_prepare(struct reload_watch *w);
void reload_fork_after(struct reload_watch *w, int child);

#endif
