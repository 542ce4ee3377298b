/*
 * names.h - capture of the host names a program resolves, so that a later
 * connect() to one of the addresses can send SNI and verify that name.
 *
 * A bounded table (the newest NAMES_MAX resolutions) from address to the
 * name the program asked for.  A numeric lookup records "no name" for its
 * address.  When several names share an address, connect() gets the one
 * resolved by the same thread for the same port, then for any port, then
 * by any thread; the newest among equals.  Thread-safe.
 */
#ifndef SHIM_NAMES_H
#define SHIM_NAMES_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>

#define NAMES_MAX 256

/* Record every IPv4/IPv6 address of `res` as resolved from `node`. */
void names_record_addrinfo(const char *node, const struct addrinfo *res);

/* Record every address of a hostent (gethostbyname*) as `name`. */
void names_record_hostent(const char *name, const struct hostent *h);

/*
 * names_lookup - the name recorded for the address of `sa` (v4-mapped IPv6
 * compared as IPv4) that best fits this thread and sa's port, into out.
 * Returns 1 if found; 0 if none, or if the best fit was a numeric lookup.
 */
int names_lookup(const struct sockaddr *sa, socklen_t len, char *out,
		 size_t outlen);

/* names_reset - forget everything (tests). */
void names_reset(void);

#endif
