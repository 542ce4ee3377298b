/*
 * match.h - endpoint match specs: parse them, and test a connection
 * attempt against one.  Pure logic: no I/O, no allocation, thread-safe.
 *
 * Forms (host part, then ':' and a port part):
 *   redis.example.com:6379        a host name (case-insensitive, a trailing
 *                                 dot ignored)
 *   *.example.com:6379            any name below example.com (one or more
 *                                 labels), not example.com itself
 *   10.0.0.5:6379  [::1]:6379     an address; IPv4-mapped IPv6 addresses of
 *                                 targets are compared as IPv4
 *   10.1.0.0/16:6379  [fd00::]/8:6379   a CIDR block (a v6 block may also
 *                                 be written [fd00::/8])
 * Port part: N, A-B (inclusive, A <= B), or '*' (any port 1-65535).
 */
#ifndef SHIM_MATCH_H
#define SHIM_MATCH_H

#include <stddef.h>
#include <sys/socket.h>

#include "addr.h"

#define MATCH_NAME_MAX 253
#define MATCH_MAX_RESOLVED 16

enum match_host_kind {
	MATCH_HOST_NAME,
	MATCH_HOST_WILDCARD,
	MATCH_HOST_ADDR,
	MATCH_HOST_CIDR,
};

struct match_spec {
	enum match_host_kind kind;
	char name[MATCH_NAME_MAX + 2]; /* NAME: "host"; WILDCARD: ".domain";
					  lower case, no trailing dot */
	struct addr_ip addr;        /* ADDR and CIDR */
	unsigned prefix;               /* CIDR prefix length */
	unsigned port_lo, port_hi;     /* inclusive */
	/* Addresses a NAME spec resolved to when the configuration was loaded
	   (filled by the caller), so a program that dials the address itself
	   still gets TLS.  The engine keeps a fresher set of its own and
	   passes it to match_test_set. */
	struct addr_ip resolved[MATCH_MAX_RESOLVED];
	size_t nresolved;
};

/* One connection attempt. */
struct match_target {
	struct addr_ip addr; /* normalised (addr_normalize) */
	unsigned port;
	const char *name; /* the name the program resolved, or NULL */
};

enum match_result {
	MATCH_NONE = 0,
	MATCH_BY_NAME,     /* the program's name matched a NAME or WILDCARD */
	MATCH_BY_ADDR,     /* the address matched an ADDR or CIDR spec */
	MATCH_BY_RESOLVED, /* the address is one a NAME spec resolved to */
};

/*
 * match_parse - parse `text` into *spec.
 * Returns 0, or -1 with a one-line reason in err (e.g. "port 70000 out of
 * range", "CIDR prefix 33 too long for IPv4").
 */
int match_parse(const char *text, struct match_spec *spec, char *err,
		size_t errlen);

/*
 * match_target_from_sockaddr - fill *t from a connect() address, read by
 * addr_from_sockaddr (an AF_INET6 length of 24-27 counts, as the kernel's
 * does).  The any-address is left as it is: see addr_kernel_dest.
 * Returns 0, or -1 if the family is neither AF_INET nor AF_INET6 or the
 * length is short.
 */
int match_target_from_sockaddr(const struct sockaddr *sa, socklen_t len,
			       const char *name, struct match_target *t);

/* match_test - how `t` matches `spec`, or MATCH_NONE. */
enum match_result match_test(const struct match_spec *spec,
			     const struct match_target *t);

/*
 * match_test_set - match_test, with `set` (n addresses) standing for
 * spec->resolved: the addresses a NAME spec's name resolves to now.
 */
enum match_result match_test_set(const struct match_spec *spec,
				 const struct match_target *t,
				 const struct addr_ip *set, size_t n);

/*
 * match_check_name - 0 if `name` is a valid host name (labels of letters,
 * digits, '-' and '_', 1-63 characters, at most 253 in all, one trailing
 * dot allowed, last label not all digits); -1 with a one-line reason in
 * err otherwise.  Wildcards and IP literals are not names.
 */
int match_check_name(const char *name, char *err, size_t errlen);

/*
 * match_is_pattern - 1 if `s` is a verify_name pattern "*.DOMAIN" (as
 * match_check_pattern accepts them), else 0.
 *
 * match_check_pattern - 0 if `text` is such a pattern: "*." then a host
 * name (match_check_name; one trailing dot allowed; a single label, as in
 * "*.test", is allowed, for local domains); -1 with a one-line reason
 * otherwise ("*", "*.", "*x.example.com", "*.*.example.com", "*.10.0.0.1").
 * The pattern stands for every DNS name one or more labels below DOMAIN,
 * never DOMAIN itself.
 */
int match_is_pattern(const char *s);
int match_check_pattern(const char *text, char *err, size_t errlen);

#endif
