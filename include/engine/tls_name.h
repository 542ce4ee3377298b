/*
 * tls_name.h - the two checks of a server certificate's name that
 * OpenSSL's X509_check_host and X509_check_ip do not make:
 *
 *   - a verify_name pattern "*.DOMAIN": the certificate must carry a DNS
 *     name (a SAN dNSName) one or more labels below DOMAIN;
 *   - verify_ip_in_cn: the dialled IP address as the subject CN of a
 *     certificate that has no SAN at all (Google Memorystore's).
 *
 * X509_check_host(".DOMAIN") is OpenSSL's own subdomain check, but it does
 * not fit the first: in that mode it looks at no wildcard (it accepts
 * "f*.DOMAIN", "a.*.DOMAIN" and ".DOMAIN", whatever
 * X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS says) and refuses a dNSName with a
 * trailing dot.  So the SAN walk is here, in one function.
 *
 * Both run after OpenSSL has verified the chain (tls_session.c); they
 * read the certificate only, keep no state and are thread-safe.
 */
#ifndef SHIM_TLS_NAME_H
#define SHIM_TLS_NAME_H

#include <stddef.h>

#include "tls_types.h"

/*
 * tls_name_under - 1 if one of cert's SAN dNSNames stands only for DNS
 * names one or more labels below `domain` (the pattern's DOMAIN, without
 * its trailing dot), else 0; the first such dNSName into found (`len`
 * bytes, "" if none).  A dNSName counts when:
 *   - it is labels of letters, digits, '-' and '_' joined by single dots
 *     (one trailing dot ignored): no NUL, no empty label, no other byte;
 *     IDNA A-labels ("xn--...") are compared as the bytes they are;
 *   - it ends in "." DOMAIN, ASCII case-insensitively (not DOMAIN itself:
 *     "node1.DOMAIN" and "a.b.DOMAIN" count);
 *   - or it is a wildcard "*.NAME" (RFC 6125: '*' only as the whole
 *     left-most label, no other '*') whose NAME is DOMAIN or below it:
 *     "*.DOMAIN" counts, "*.test" does not for DOMAIN "cluster.test" (it
 *     also stands for other.test); "f*.DOMAIN" and "a.*.DOMAIN" never do.
 * IP SANs and the subject CN never count.
 */
int tls_name_under(X509 *cert, const char *domain, char *found, size_t len);

/*
 * tls_name_ip_in_cn - 1 if cert has no subjectAltName extension at all,
 * exactly one subject CN, and that CN is exactly `ip` (an IP literal in
 * canonical text form, addr_canonical: "10.0.0.5", "2001:db8::1"), byte
 * for byte; else 0.
 */
int tls_name_ip_in_cn(X509 *cert, const char *ip);

#endif
