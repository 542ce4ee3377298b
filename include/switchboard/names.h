/*
 * names.h - capture of the host names a program resolves, so that its next
 * connect() to one of the addresses can send SNI and verify that name.
 *
 * DESIGN, security rule 2: the name verified for a connection is one the
 * program resolved FOR THIS CONNECTION, never a name another thread or
 * another port resolved (or any certificate for any name pointed at the
 * Redis address would pass).  So each thread has its own bounded ring of
 * its newest NAMES_MAX resolved addresses, and connect() looks only in the
 * ring of the thread that calls it.  A resolution that gave a port (a
 * getaddrinfo service) counts for that port only; one without (no
 * service, gethostbyname*) for any port.  A numeric lookup ("10.0.0.1",
 * "127.1": addr_is_literal) records "no name": that address is dialled as
 * an address from then on.  The newest fitting entry wins.
 *
 * Thread-safety: names_lookup touches the calling thread's ring only, so
 * it takes no lock; recording also copies into one shared ring under a
 * mutex, read by names_lookup_other.  A ring is allocated at the thread's first
 * resolution and freed when the thread exits.
 */
#ifndef SHIM_NAMES_H
#define SHIM_NAMES_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>

#define NAMES_MAX 64 /* addresses remembered per thread */

/* Record every IPv4/IPv6 address of `res` as resolved from `node`. */
void names_record_addrinfo(const char *node, const struct addrinfo *res);

/* Record every address of a hostent (gethostbyname*) as `name`. */
void names_record_hostent(const char *name, const struct hostent *h);

/*
 * names_lookup - the name this thread resolved most recently for the
 * address of `sa` (v4-mapped IPv6 compared as IPv4; an AF_INET6 length of
 * 24 counts) and for sa's port (or for no port), into out.  Returns 1 if
 * found; 0 if none, or if the newest fit was a numeric lookup.
 */
int names_lookup(const struct sockaddr *sa, socklen_t len, char *out,
		 size_t outlen);

/*
 * names_lookup_other - like names_lookup, but among the names OTHER
 * threads resolved (a process-wide ring of the newest NAMES_MAX).  Never
 * for verifying or SNI: only so that connect() can tell that a name
 * resolved elsewhere (a resolver thread, as in libuv) would make this a
 * configured endpoint, and refuse rather than send plaintext.
 */
int names_lookup_other(const struct sockaddr *sa, socklen_t len, char *out,
		       size_t outlen);

/* names_reset - forget what the calling thread resolved, and the shared
   ring (tests). */
void names_reset(void);

#endif
