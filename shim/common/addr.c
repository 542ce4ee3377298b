/*
 * addr.c - IP literals, connect() addresses and their normalisation (see
 * addr.h).
 *
 * Why inet_aton and not inet_pton for IPv4: getaddrinfo() takes "127.1",
 * "0x7f.1" and "2130706433" as numeric hosts and dials 127.0.0.1, so a
 * program that resolves one of them dials an address, not a name.  A test
 * that disagreed with getaddrinfo would verify (and send as SNI) text the
 * TLS layer cannot check against an IP SAN.
 *
 * Pure logic on the caller's memory; thread-safe.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The kernel's smallest AF_INET6 length (RFC 2133 had no sin6_scope_id);
   glibc does not export <linux/in6.h>'s name for it. */
#define ADDR_SIN6_LEN_MIN 24

static size_t addr_len(int family)
{
	return family == AF_INET ? ADDR_V4_LEN : ADDR_V6_LEN;
}

static const unsigned char addr_v4mapped_prefix[ADDR_V4MAPPED_PREFIX] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

/* inet_aton stops at white space and ignores what follows ("1.2.3.4 x");
   getaddrinfo's exact variant does not.  Allow only what a number can
   hold: digits, hex digits, 'x' and dots. */
static int addr_v4_chars(const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F') || c == 'x' || c == 'X' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

static int addr_parse_v4(const char *text, struct addr_ip *out)
{
	struct in_addr in;

	if (!addr_v4_chars(text) || inet_aton(text, &in) == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	memcpy(out->bytes, &in, ADDR_V4_LEN);
	return 0;
}

static int addr_parse_v6(const char *text, struct addr_ip *out)
{
	char buf[ADDR_TEXT_MAX + 1];
	size_t n = strcspn(text, "%"); /* zone: "fe80::1%eth0" */

	if (n >= sizeof(buf) || !memchr(text, ':', n))
		return -1;
	if (text[n] == '%' && text[n + 1] == '\0')
		return -1; /* an empty zone */
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET6, buf, out->bytes) != 1)
		return -1;
	out->family = AF_INET6;
	return 0;
}

int addr_parse(const char *text, struct addr_ip *out)
{
	struct addr_ip tmp;

	if (out == NULL)
		out = &tmp;
	if (text == NULL || text[0] == '\0')
		return -1;
	if (addr_parse_v4(text, out) == 0 || addr_parse_v6(text, out) == 0)
		return 0;
	return -1;
}

int addr_parse_dotted4(const char *text, struct addr_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL || inet_pton(AF_INET, text, out->bytes) != 1)
		return -1;
	out->family = AF_INET;
	return 0;
}

int addr_is_literal(const char *text)
{
	return addr_parse(text, NULL) == 0;
}

int addr_canonical(const char *text, char *buf, size_t len)
{
	struct addr_ip a;

	if (addr_parse(text, &a) < 0)
		return 0;
	addr_normalize(&a);
	addr_format(&a, buf, len);
	return 1;
}

void addr_normalize(struct addr_ip *a)
{
	if (a->family != AF_INET6 ||
	    memcmp(a->bytes, addr_v4mapped_prefix, ADDR_V4MAPPED_PREFIX) != 0)
		return;
	a->family = AF_INET;
	memmove(a->bytes, a->bytes + ADDR_V4MAPPED_PREFIX, ADDR_V4_LEN);
	memset(a->bytes + ADDR_V4_LEN, 0, ADDR_V6_LEN - ADDR_V4_LEN);
}

int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
		       struct addr_ip *out, unsigned *port)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa == NULL || out == NULL || len < (socklen_t)sizeof(sa_family_t))
		return -1;
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		out->family = AF_INET;
		memcpy(out->bytes, &sin.sin_addr, ADDR_V4_LEN);
		if (port)
			*port = ntohs(sin.sin_port);
		return 0;
	}
	/* The kernel takes an RFC 2133 sockaddr_in6 (24 bytes, no scope
	   id): so must we, or such a connect would pass by unmatched. */
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)ADDR_SIN6_LEN_MIN) {
		memset(&sin6, 0, sizeof(sin6));
		memcpy(&sin6, sa, len < sizeof(sin6) ? len : sizeof(sin6));
		out->family = AF_INET6;
		memcpy(out->bytes, &sin6.sin6_addr, ADDR_V6_LEN);
		if (port)
			*port = ntohs(sin6.sin6_port);
		addr_normalize(out);
		return 0;
	}
	return -1;
}


int addr_from_bytes(const void *bytes, size_t len, struct addr_ip *out)
{
	if (len != ADDR_V4_LEN && len != ADDR_V6_LEN)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = len == ADDR_V4_LEN ? AF_INET : AF_INET6;
	memcpy(out->bytes, bytes, len);
	return 0;
}

socklen_t addr_to_sockaddr(const struct addr_ip *a, unsigned port,
			   struct sockaddr_storage *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons((uint16_t)port) };

	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET) {
		memcpy(&sin.sin_addr, a->bytes, ADDR_V4_LEN);
		memcpy(out, &sin, sizeof(sin));
		return (socklen_t)sizeof(sin);
	}
	memcpy(&sin6.sin6_addr, a->bytes, ADDR_V6_LEN);
	memcpy(out, &sin6, sizeof(sin6));
	return (socklen_t)sizeof(sin6);
}

int addr_equal(const struct addr_ip *a, const struct addr_ip *b)
{
	return a->family == b->family &&
	       (a->family == AF_INET || a->family == AF_INET6) &&
	       memcmp(a->bytes, b->bytes, addr_len(a->family)) == 0;
}

int addr_is_any(const struct addr_ip *a)
{
	static const unsigned char zero[ADDR_V6_LEN];

	return (a->family == AF_INET || a->family == AF_INET6) &&
	       memcmp(a->bytes, zero, addr_len(a->family)) == 0;
}

void addr_loopback(int family, struct addr_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET6) {
		out->family = AF_INET6;
		out->bytes[ADDR_V6_LEN - 1] = 1; /* ::1 */
	} else {
		out->family = AF_INET;
		out->bytes[0] = 127;
		out->bytes[3] = 1;
	}
}

int addr_kernel_dest(struct addr_ip *a, const struct addr_ip *bound)
{
	int bound_v4 = bound != NULL && bound->family == AF_INET;

	if (!addr_is_any(a))
		return 0;
	if (a->family == AF_INET && bound_v4 && !addr_is_any(bound))
		*a = *bound;
	else
		addr_loopback(a->family == AF_INET || bound_v4 ? AF_INET
							       : AF_INET6,
			      a);
	return 1;
}

const char *addr_format(const struct addr_ip *a, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return buf;
	if (a == NULL || (a->family != AF_INET && a->family != AF_INET6) ||
	    inet_ntop(a->family, a->bytes, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}
