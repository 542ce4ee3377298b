/*
 * check_cache.h - a remembered verdict of `redis-tls-ctl check-config`,
 * so that redis-tls-run started again and again with one configuration
 * (a script calling redis-cli in a loop) does not load OpenSSL and the
 * configuration twice per run: once to check, once in the program.
 *
 * Only an accepted configuration is remembered, as one small file per
 * configuration in a folder of the user's own (0700): the key (a hash of
 * the REDIS_TLS_* and OpenSSL variables, the working directory, the
 * user and, without REDIS_TLS_CONFIG, whether the system-wide file is
 * there), a time after which it no longer holds (the first expiry of a
 * client certificate or CA that the check relies on, at most
 * CHECK_CACHE_TTL_S from the check), and the identity (device, inode,
 * size, modification and change times) of every file the check read: the
 * configuration file, every certificate, key, passphrase file, CA folder
 * and CRL, the tool itself and the TLS libraries it loaded.  A verdict
 * holds only while all of that is unchanged; anything else (a file
 * touched, moved, chmod'ed, a variable changed, the time passed) is a
 * miss, and the full check runs again.  A rejected configuration is never
 * remembered: it is refused by the full check, with its message, every
 * time.  Nothing secret is written (a configuration with a passphrase in
 * an environment variable is not remembered at all).
 *
 * The remembered verdict spares the up-front report only: the shim in
 * the program loads and verifies the configuration itself, and fails
 * closed if it cannot.  libc only; not thread-safe (one caller, at start).
 */
#ifndef SHIM_CHECK_CACHE_H
#define SHIM_CHECK_CACHE_H

#include <stddef.h>
#include <time.h>

/* The longest a verdict is trusted, in seconds (files it cannot see
   change: a certificate edited in place inside a CA folder). */
#define CHECK_CACHE_TTL_S 60

/* A cache file's path: the folder and a 16-digit key. */
#define CHECK_CACHE_PATH_MAX 4200

/*
 * check_cache_path - the cache file of the configuration this process's
 * environment and working directory describe, into out; the folder
 * ($XDG_RUNTIME_DIR/redis-tls-shim, else /tmp/redis-tls-shim-UID) is made
 * (0700) when mkdir is set.  Returns 0, or -1 when no verdict may be
 * remembered: REDIS_TLS_RUN_CHECK_CACHE=0, a passphrase in an environment
 * variable, a folder that is not the user's own and private.
 */
int check_cache_path(char *out, size_t len, int mkdir);

/* check_cache_hit - 1 if path holds a verdict for this configuration that
   still holds now, else 0. */
int check_cache_hit(const char *path);

/*
 * check_cache_write - remember a configuration just accepted by a check
 * that started at *started (CLOCK_REALTIME): path (from check_cache_path) with the key,
 * until (a time, never later than CHECK_CACHE_TTL_S from now) and the
 * identity of each of the n files (NULL entries are skipped).  A file
 * changed since a second before the check (its change time, which only
 * the kernel sets) may have been read half old, half new: then nothing is
 * remembered, and the next run checks again.  The file is written whole
 * under a temporary name and renamed.  Returns 0, or -1 (nothing
 * remembered: a file that cannot be stat'ed or changed during the check,
 * a name with a newline, a write error).
 */
int check_cache_write(const char *path, const struct timespec *started,
		      time_t until, const char *const *files, size_t n);

#endif
