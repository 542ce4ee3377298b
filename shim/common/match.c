/*
 * match.c - endpoint match specs: parsing and testing (see match.h).
 *
 * Pure logic: no allocation, no I/O, no global state, so every function is
 * safe to call from any thread and from inside the interposed calls.
 * Addresses are read and normalised by addr.c alone, so a spec, a target
 * and the name capture agree on what an IP literal is.
 *
 * Invariants of a parsed spec: names are lower case without a trailing dot;
 * CIDR blocks have their host bits cleared; an IPv4-mapped IPv6 address (or
 * a block inside ::ffff:0:0/96) is stored as IPv4, because targets are
 * compared in that form.
 */
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "match.h"

#define MATCH_LABEL_MAX 63
#define MATCH_HOST_BUF 300 /* longest host part we look at, with brackets */
#define MATCH_PORT_MAX 65535u
#define MATCH_V4_BITS (ADDR_V4_LEN * CHAR_BIT) /* longest IPv4 prefix */
#define MATCH_V6_BITS (ADDR_V6_LEN * CHAR_BIT) /* longest IPv6 prefix */
/* ::ffff:0:0/96, the IPv4-mapped block */
#define MATCH_V4MAPPED_BITS (ADDR_V4MAPPED_PREFIX * CHAR_BIT)

__attribute__((format(printf, 3, 4))) static int
match_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		/* the spec is quoted: keep the reason on one line */
		for (; *err; err++)
			if ((unsigned char)*err < 0x20 || *err == 0x7f)
				*err = '?';
	}
	return -1;
}

static int match_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int match_is_name_char(int c)
{
	/* '_' is not legal in DNS host names but Docker and Compose service
	   names use it, and those resolve fine inside their networks. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       match_is_digit(c) || c == '-' || c == '_';
}

static int match_all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!match_is_digit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* ---- names ------------------------------------------------------------ */

static int match_bad_char(const char *name, size_t n, int c, char *err,
			  size_t errlen)
{
	if (c == '*')
		return match_fail(err, errlen,
				  "'*' in '%.*s' is only allowed as the whole "
				  "first label, as in *.example.com",
				  (int)n, name);
	if (c >= 0x20 && c < 0x7f)
		return match_fail(err, errlen,
				  "bad character '%c' in host name '%.*s'", c,
				  (int)n, name);
	return match_fail(err, errlen,
			  "bad character 0x%02x in host name '%.*s'",
			  (unsigned)c & 0xffu, (int)n, name);
}

/* One label [s, s + n) of `name` (the whole name, for messages). */
static int match_check_label(const char *s, size_t n, const char *name,
			     size_t namelen, char *err, size_t errlen)
{
	size_t i;

	if (n == 0)
		return match_fail(err, errlen, "empty label in host name '%.*s'",
				  (int)namelen, name);
	for (i = 0; i < n; i++)
		if (!match_is_name_char((unsigned char)s[i]))
			return match_bad_char(name, namelen,
					      (unsigned char)s[i], err, errlen);
	if (n > MATCH_LABEL_MAX)
		return match_fail(err, errlen,
				  "label '%.20s...' in host name is %zu "
				  "characters long (at most %d)",
				  s, n, MATCH_LABEL_MAX);
	if (s[0] == '-' || s[n - 1] == '-')
		return match_fail(err, errlen,
				  "label '%.*s' in host name '%.*s' starts or "
				  "ends with '-'",
				  (int)n, s, (int)namelen, name);
	return 0;
}

/* Length of `s` without one trailing dot. */
static size_t match_trimmed_len(const char *s, size_t n)
{
	return (n > 0 && s[n - 1] == '.') ? n - 1 : n;
}

/* A host name in [name, name + n), one trailing dot allowed. */
static int match_check_name_n(const char *name, size_t n, char *err,
			      size_t errlen)
{
	const char *p = name, *end, *dot;
	const char *last = name;

	n = match_trimmed_len(name, n);
	if (n == 0)
		return match_fail(err, errlen, "empty host name");
	if (n > MATCH_NAME_MAX)
		return match_fail(err, errlen,
				  "host name is %zu characters long (at most %d)",
				  n, MATCH_NAME_MAX);
	end = name + n;
	while (p <= end) {
		dot = memchr(p, '.', (size_t)(end - p));
		if (!dot)
			dot = end;
		if (match_check_label(p, (size_t)(dot - p), name, n, err,
				      errlen) < 0)
			return -1;
		last = p;
		p = dot + 1;
	}
	/* An all-numeric last label is a mistyped address, never a name. */
	if (match_all_digits(last, (size_t)(end - last)))
		return match_fail(err, errlen,
				  "'%.*s' is neither a valid IPv4 address nor a "
				  "host name",
				  (int)n, name);
	return 0;
}

int match_check_name(const char *name, char *err, size_t errlen)
{
	if (!name)
		return match_fail(err, errlen, "empty host name");
	return match_check_name_n(name, strlen(name), err, errlen);
}

/* Lower-case [s, s + n) without a trailing dot into dst (room checked by
   the caller through match_check_name_n). */
static void match_copy_lower(char *dst, const char *s, size_t n)
{
	size_t i;

	n = match_trimmed_len(s, n);
	for (i = 0; i < n; i++) {
		char c = s[i];
		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	dst[n] = '\0';
}

/* ---- addresses -------------------------------------------------------- */

static void match_mask(unsigned char *b, unsigned prefix, size_t nbytes)
{
	size_t i;
	unsigned bits;

	for (i = 0; i < nbytes; i++) {
		bits = prefix > CHAR_BIT * i ? prefix - CHAR_BIT * (unsigned)i
					     : 0;
		if (bits < CHAR_BIT)
			b[i] &= (unsigned char)(0xffu << (CHAR_BIT - bits));
	}
}

static int match_prefix_equal(const unsigned char *a, const unsigned char *b,
			      unsigned prefix)
{
	size_t full = prefix / CHAR_BIT;
	unsigned rem = prefix % CHAR_BIT;
	unsigned char m;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rem == 0)
		return 1;
	m = (unsigned char)(0xffu << (CHAR_BIT - rem));
	return (a[full] & m) == (b[full] & m);
}

/* ---- ports ------------------------------------------------------------ */

static int match_port_number(const char *s, size_t n, unsigned *out,
			     char *err, size_t errlen)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0)
		return match_fail(err, errlen, "empty port");
	for (i = 0; i < n; i++) {
		if (!match_is_digit((unsigned char)s[i]))
			return match_fail(err, errlen, "bad port '%.*s'",
					  (int)n, s);
		if (v <= MATCH_PORT_MAX) /* stop growing: no overflow */
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > MATCH_PORT_MAX)
		return match_fail(err, errlen,
				  "port %.*s out of range (1-65535)", (int)n, s);
	*out = (unsigned)v;
	return 0;
}

static int match_parse_port(const char *s, struct match_spec *spec, char *err,
			    size_t errlen)
{
	const char *dash = strchr(s, '-');

	if (strcmp(s, "*") == 0) {
		spec->port_lo = 1;
		spec->port_hi = MATCH_PORT_MAX;
		return 0;
	}
	if (!dash) {
		if (match_port_number(s, strlen(s), &spec->port_lo, err,
				      errlen) < 0)
			return -1;
		spec->port_hi = spec->port_lo;
		return 0;
	}
	if (dash == s || dash[1] == '\0')
		return match_fail(err, errlen,
				  "bad port range '%s' (expected A-B)", s);
	if (match_port_number(s, (size_t)(dash - s), &spec->port_lo, err,
			      errlen) < 0 ||
	    match_port_number(dash + 1, strlen(dash + 1), &spec->port_hi, err,
			      errlen) < 0)
		return -1;
	if (spec->port_lo > spec->port_hi)
		return match_fail(err, errlen,
				  "port range %u-%u is reversed (A must be <= B)",
				  spec->port_lo, spec->port_hi);
	return 0;
}

/* ---- hosts ------------------------------------------------------------ */

static int match_parse_prefix(const char *s, unsigned max, const char *fam,
			      unsigned *out, char *err, size_t errlen)
{
	size_t n = strlen(s);
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 3 || !match_all_digits(s, n))
		return match_fail(err, errlen, "bad CIDR prefix '/%s'", s);
	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > max)
		return match_fail(err, errlen,
				  "CIDR prefix %u too long for %s (at most %u)",
				  v, fam, max);
	*out = v;
	return 0;
}

/* Turn a spec's address or block inside ::ffff:0:0/96 into IPv4. */
static void match_spec_normalize(struct match_spec *spec)
{
	struct addr_ip a = spec->addr;

	addr_normalize(&a);
	if (a.family == spec->addr.family)
		return;
	if (spec->kind == MATCH_HOST_CIDR) {
		if (spec->prefix < MATCH_V4MAPPED_BITS)
			return;
		spec->prefix -= MATCH_V4MAPPED_BITS;
	}
	spec->addr = a;
}

static int match_set_v6(const char *addr, const char *prefix,
			struct match_spec *spec, char *err, size_t errlen)
{
	if (strchr(addr, '%'))
		return match_fail(err, errlen,
				  "'[%s]': a zone (%%...) cannot be matched; "
				  "write the address alone",
				  addr);
	if (addr_parse(addr, &spec->addr) < 0)
		return match_fail(err, errlen, "'%s' is not an IPv6 address",
				  addr);
	if (spec->addr.family != AF_INET6)
		return match_fail(err, errlen,
				  "'[%s]': write IPv4 addresses without "
				  "brackets",
				  addr);
	spec->kind = MATCH_HOST_ADDR;
	if (prefix) {
		if (match_parse_prefix(prefix, MATCH_V6_BITS, "IPv6", &spec->prefix, err,
				       errlen) < 0)
			return -1;
		spec->kind = MATCH_HOST_CIDR;
		match_mask(spec->addr.bytes, spec->prefix, ADDR_V6_LEN);
	}
	match_spec_normalize(spec);
	return 0;
}

/* "[addr]", "[addr]/N" or "[addr/N]" (buf is writable). */
static int match_parse_bracketed(char *buf, struct match_spec *spec, char *err,
				 size_t errlen)
{
	char *close = strchr(buf, ']');
	char *inner = buf + 1, *slash, *prefix = NULL;

	if (!close)
		return match_fail(err, errlen, "missing ']' after '%s'", buf);
	*close = '\0';
	slash = strchr(inner, '/');
	if (slash) {
		*slash = '\0';
		prefix = slash + 1;
	}
	if (close[1] != '\0') {
		if (close[1] != '/')
			return match_fail(err, errlen,
					  "unexpected '%s' after ']'",
					  close + 1);
		if (prefix)
			return match_fail(err, errlen,
					  "two CIDR prefixes in '[%s/%s]%s'",
					  inner, prefix, close + 1);
		prefix = close + 2;
	}
	return match_set_v6(inner, prefix, spec, err, errlen);
}

static int match_parse_cidr4(char *buf, struct match_spec *spec, char *err,
			     size_t errlen)
{
	char *slash = strchr(buf, '/');

	*slash = '\0';
	if (addr_parse_dotted4(buf, &spec->addr) < 0)
		return match_fail(err, errlen,
				  "'%s' is not an IPv4 address (IPv6 blocks "
				  "are written [fd00::]/8)",
				  buf);
	if (match_parse_prefix(slash + 1, MATCH_V4_BITS, "IPv4", &spec->prefix, err,
			       errlen) < 0)
		return -1;
	spec->kind = MATCH_HOST_CIDR;
	match_mask(spec->addr.bytes, spec->prefix, ADDR_V4_LEN);
	return 0;
}

static int match_parse_wildcard(const char *buf, struct match_spec *spec,
				char *err, size_t errlen)
{
	size_t n;

	if (buf[1] == '\0')
		return match_fail(err, errlen,
				  "a bare '*' host is not allowed; use "
				  "0.0.0.0/0:PORT and [::]/0:PORT for any "
				  "address");
	if (buf[1] != '.')
		return match_fail(err, errlen,
				  "'*' in '%s' is only allowed as the whole "
				  "first label, as in *.example.com",
				  buf);
	n = strlen(buf + 2);
	if (match_trimmed_len(buf + 2, n) == 0)
		return match_fail(err, errlen, "missing domain after '*.'");
	if (match_check_name_n(buf + 2, n, err, errlen) < 0)
		return -1;
	spec->kind = MATCH_HOST_WILDCARD;
	spec->name[0] = '.';
	match_copy_lower(spec->name + 1, buf + 2, n);
	return 0;
}

/* ---- verify_name patterns ---------------------------------------------- */

int match_is_pattern(const char *s)
{
	return s != NULL && s[0] == '*' && s[1] == '.';
}

int match_check_pattern(const char *text, char *err, size_t errlen)
{
	const char *d = text + 2;
	size_t n;

	if (text[0] != '*' || (text[1] != '.' && text[1] != '\0'))
		return match_fail(err, errlen,
				  "'*' is only allowed as the whole first "
				  "label, as in *.example.com");
	n = text[1] == '\0' ? 0 : strlen(d);
	if (match_trimmed_len(d, n) == 0)
		return match_fail(err, errlen,
				  "names no domain: a pattern is *.DOMAIN "
				  "(DNS names one or more labels below DOMAIN)");
	if (addr_is_literal(d))
		return match_fail(err, errlen,
				  "the domain of a pattern is a DNS name, not "
				  "an IP address (verify an IP address by "
				  "writing it alone)");
	return match_check_name_n(d, n, err, errlen);
}

static int match_parse_host(const char *h, size_t n, struct match_spec *spec,
			    char *err, size_t errlen)
{
	char buf[MATCH_HOST_BUF];

	if (n == 0)
		return match_fail(err, errlen, "missing host before ':'");
	if (n >= sizeof(buf))
		return match_fail(err, errlen,
				  "host part is %zu characters long (at most "
				  "%d)",
				  n, MATCH_NAME_MAX);
	memcpy(buf, h, n);
	buf[n] = '\0';
	if (buf[0] == '[')
		return match_parse_bracketed(buf, spec, err, errlen);
	if (strchr(buf, '/'))
		return match_parse_cidr4(buf, spec, err, errlen);
	if (addr_parse_dotted4(buf, &spec->addr) == 0) {
		spec->kind = MATCH_HOST_ADDR;
		return 0;
	}
	/* "127.1" is an address to getaddrinfo, never a name; in a spec it
	   is more likely a typo than meant, so it is said, not guessed */
	if (addr_parse(buf, &spec->addr) == 0) {
		char full[ADDR_TEXT_MAX];

		addr_format(&spec->addr, full, sizeof(full));
		return match_fail(err, errlen,
				  "'%s' is an IPv4 address written short "
				  "(%s): write all four parts",
				  buf, full);
	}
	memset(&spec->addr, 0, sizeof(spec->addr));
	if (buf[0] == '*')
		return match_parse_wildcard(buf, spec, err, errlen);
	if (match_check_name_n(buf, n, err, errlen) < 0)
		return -1;
	spec->kind = MATCH_HOST_NAME;
	match_copy_lower(spec->name, buf, n);
	return 0;
}

/* Find the ':' that separates host and port; NULL with err set if none. */
static const char *match_port_colon(const char *text, char *err,
				    size_t errlen)
{
	const char *colon;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close) {
			match_fail(err, errlen, "missing ']' in '%s'", text);
			return NULL;
		}
		colon = strchr(close, ':');
	} else {
		colon = strrchr(text, ':');
		if (colon && memchr(text, ':', (size_t)(colon - text))) {
			match_fail(err, errlen,
				   "IPv6 addresses must be in brackets, as in "
				   "[::1]:6379");
			return NULL;
		}
	}
	if (!colon)
		match_fail(err, errlen, "missing ':PORT' in '%s'", text);
	return colon;
}

int match_parse(const char *text, struct match_spec *spec, char *err,
		size_t errlen)
{
	const char *colon;

	memset(spec, 0, sizeof(*spec));
	if (!text || text[0] == '\0')
		return match_fail(err, errlen, "empty match spec");
	colon = match_port_colon(text, err, errlen);
	if (!colon)
		return -1;
	if (colon[1] == '\0')
		return match_fail(err, errlen, "missing port after ':' in '%s'",
				  text);
	if (match_parse_port(colon + 1, spec, err, errlen) < 0 ||
	    match_parse_host(text, (size_t)(colon - text), spec, err,
			     errlen) < 0) {
		memset(spec, 0, sizeof(*spec));
		return -1;
	}
	return 0;
}

/* ---- testing ---------------------------------------------------------- */

int match_target_from_sockaddr(const struct sockaddr *sa, socklen_t len,
			       const char *name, struct match_target *t)
{
	if (!t)
		return -1;
	memset(t, 0, sizeof(*t));
	if (addr_from_sockaddr(sa, len, &t->addr, &t->port) < 0)
		return -1;
	t->name = name;
	return 0;
}

/* `target` equals `name` (lower case, no trailing dot), ignoring case and
   one trailing dot of target. */
static int match_name_equal(const char *name, const char *target)
{
	size_t n = match_trimmed_len(target, strlen(target));

	return strlen(name) == n && strncasecmp(name, target, n) == 0;
}

/* `target` lies one or more labels below `suffix` (".domain"). */
static int match_name_below(const char *suffix, const char *target)
{
	size_t n = match_trimmed_len(target, strlen(target));
	size_t sl = strlen(suffix);

	return n > sl && strncasecmp(target + n - sl, suffix, sl) == 0;
}

static int match_in_set(const struct addr_ip *set, size_t n,
			const struct addr_ip *a)
{
	struct addr_ip r;
	size_t i;

	for (i = 0; set != NULL && i < n; i++) {
		r = set[i];
		addr_normalize(&r);
		if (addr_equal(&r, a))
			return 1;
	}
	return 0;
}

static enum match_result match_host(const struct match_spec *spec,
				    const struct match_target *t,
				    const struct addr_ip *a,
				    const struct addr_ip *set, size_t n)
{
	switch (spec->kind) {
	case MATCH_HOST_NAME:
		if (t->name && match_name_equal(spec->name, t->name))
			return MATCH_BY_NAME;
		return match_in_set(set, n, a) ? MATCH_BY_RESOLVED
					       : MATCH_NONE;
	case MATCH_HOST_WILDCARD:
		if (t->name && match_name_below(spec->name, t->name))
			return MATCH_BY_NAME;
		return MATCH_NONE;
	case MATCH_HOST_ADDR:
		return addr_equal(&spec->addr, a) ? MATCH_BY_ADDR : MATCH_NONE;
	case MATCH_HOST_CIDR:
		if (a->family == spec->addr.family &&
		    match_prefix_equal(a->bytes, spec->addr.bytes,
				       spec->prefix))
			return MATCH_BY_ADDR;
		return MATCH_NONE;
	default:
		return MATCH_NONE;
	}
}

enum match_result match_test_set(const struct match_spec *spec,
				 const struct match_target *t,
				 const struct addr_ip *set, size_t n)
{
	struct addr_ip a;

	if (!spec || !t || t->port < spec->port_lo || t->port > spec->port_hi)
		return MATCH_NONE;
	/* Callers should have normalised already; be safe if not. */
	a = t->addr;
	addr_normalize(&a);
	return match_host(spec, t, &a, set, n);
}

enum match_result match_test(const struct match_spec *spec,
			     const struct match_target *t)
{
	if (!spec)
		return MATCH_NONE;
	return match_test_set(spec, t, spec->resolved,
			      spec->nresolved < MATCH_MAX_RESOLVED
				      ? spec->nresolved
				      : MATCH_MAX_RESOLVED);
}
