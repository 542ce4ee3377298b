/*
 * addr.h - IP addresses as both libraries see them: the one test for "is
 * this text an IP literal", the one reading of a connect() sockaddr, and
 * the one normalisation (IPv4-mapped IPv6 as IPv4; the any-address as the
 * host the kernel really dials).
 *
 * Linked into the switchboard (name capture) and the engine (matching,
 * configuration, verification), so it uses libc alone.  Pure: no
 * allocation, no global state, no I/O; safe from any thread and from
 * inside the interposed calls.
 */
#ifndef SHIM_ADDR_H
#define SHIM_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest text addr_format writes, with its NUL (INET6_ADDRSTRLEN). */
#define ADDR_TEXT_MAX 46

#define ADDR_V4_LEN 4  /* bytes of an IPv4 address */
#define ADDR_V6_LEN 16 /* bytes of an IPv6 address */
#define ADDR_V4MAPPED_PREFIX 12 /* ::ffff: before the IPv4 bytes */

struct addr_ip {
	int family; /* AF_INET or AF_INET6 */
	unsigned char bytes[ADDR_V6_LEN]; /* network order; IPv4 in the first
					     ADDR_V4_LEN, the rest zero */
};

/*
 * addr_parse - read `text` as an IP literal the way getaddrinfo() with
 * AI_NUMERICHOST does: IPv4 in every form inet_aton(3) takes ("127.1",
 * "0x7f.1", "2130706433", "0177.0.0.1"), or IPv6, with an optional
 * "%zone" (dropped).  *out keeps the family as written (no mapping).
 * Returns 0, or -1 if `text` is not an IP literal (a host name, NULL, "",
 * brackets, white space or anything after the address).
 */
int addr_parse(const char *text, struct addr_ip *out);

/*
 * addr_parse_dotted4 - IPv4 as four decimal parts only ("10.1.0.0"), into
 * *out; 0 or -1.  For the base of a CIDR block, where the short forms
 * addr_parse takes would surprise ("10.1/16" is 10.0.0.1, not 10.1.0.0).
 */
int addr_parse_dotted4(const char *text, struct addr_ip *out);

/* addr_is_literal - 1 if addr_parse would accept `text`, else 0. */
int addr_is_literal(const char *text);

/*
 * addr_canonical - if `text` is an IP literal, its canonical form
 * ("127.1" -> "127.0.0.1", "::ffff:10.0.0.1" -> "10.0.0.1") into buf and
 * 1; else 0 and buf untouched.
 */
int addr_canonical(const char *text, char *buf, size_t len);

/* addr_normalize - an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes
   IPv4, in place; anything else is left as it is. */
void addr_normalize(struct addr_ip *a);

/*
 * addr_from_sockaddr - the address and port of a connect() argument,
 * normalised.  Takes what the Linux kernel takes: AF_INET with len >= 16,
 * AF_INET6 with len >= 24 (SIN6_LEN_RFC2133: no sin6_scope_id, read as
 * 0).  Returns 0, or -1 for another family, a short length or NULL.
 */
int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
		       struct addr_ip *out, unsigned *port);

/* addr_from_bytes - an address of `len` raw network-order bytes (4: IPv4,
   16: IPv6, as an X.509 iPAddress holds it), not normalised; 0, or -1 for
   another length. */
int addr_from_bytes(const void *bytes, size_t len, struct addr_ip *out);

/* addr_to_sockaddr - the connect() argument for *a (AF_INET or AF_INET6)
   and `port`, into *out; returns its length. */
socklen_t addr_to_sockaddr(const struct addr_ip *a, unsigned port,
			   struct sockaddr_storage *out);

/* addr_equal - same family and bytes (compare normalised addresses). */
int addr_equal(const struct addr_ip *a, const struct addr_ip *b);

/* addr_is_any - 0.0.0.0 or :: (normalised: ::ffff:0.0.0.0 is 0.0.0.0). */
int addr_is_any(const struct addr_ip *a);

/* addr_loopback - 127.0.0.1 (AF_INET) or ::1 (AF_INET6) into *out. */
void addr_loopback(int family, struct addr_ip *out);

/*
 * addr_kernel_dest - the host Linux really dials for a connect() to *a
 * (normalised), in place; returns 1 if it changed *a.  A connect to the
 * any-address reaches the local host: for 0.0.0.0 the socket's bound
 * source address when it has one, else 127.0.0.1 (ip_route_connect); for
 * :: 127.0.0.1 when the socket is bound to an IPv4(-mapped) address, else
 * ::1 (tcp_v6_connect).  `bound` is the socket's normalised local address
 * (getsockname), or NULL when unbound or unknown.
 */
int addr_kernel_dest(struct addr_ip *a, const struct addr_ip *bound);

/* addr_format - the canonical text of *a into buf ("?" if it has no
   valid family or buf is too small); returns buf. */
const char *addr_format(const struct addr_ip *a, char *buf, size_t len);

#endif
