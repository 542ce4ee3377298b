/*
 * tls_name.c - a verify_name pattern "*.DOMAIN" against a certificate's
 * DNS names, and the IP address in the CN of a certificate without SANs
 * (see tls_name.h).
 *
 * Reads the certificate only; no state; thread-safe.  Letters are folded
 * by hand, never by tolower(): the program's locale must not decide what
 * a certificate names.
 */
#include "tls_name.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static int tls_name_fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int tls_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* 1 if [s, s + n) is labels joined by single dots, the first of them
   possibly a '*' alone: no empty label, no NUL, no other byte. */
static int tls_name_shape(const unsigned char *s, size_t n)
{
	size_t label = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (s[i] == '*' ? i != 0 || n < 2 || s[1] != '.'
				: !tls_name_char(s[i]))
			return 0;
		label++;
	}
	return label > 0;
}

/* 1 if [s, s + n) ends in "." domain (or, with `same`, is domain). */
static int tls_name_ends_in(const unsigned char *s, size_t n,
			    const char *domain, int same)
{
	size_t dn = strlen(domain), off;

	if (dn == 0 || n < dn || (n == dn && !same))
		return 0;
	off = n - dn;
	if (off > 0 && s[off - 1] != '.')
		return 0;
	for (size_t i = 0; i < dn; i++)
		if (tls_name_fold(s[off + i]) !=
		    tls_name_fold((unsigned char)domain[i]))
			return 0;
	return 1;
}

/* One dNSName, [s, s + n): see tls_name_under for what counts. */
static int tls_name_san_under(const unsigned char *s, size_t n,
			      const char *domain)
{
	if (n > 0 && s[n - 1] == '.')
		n--; /* "node1.DOMAIN." is the same absolute name */
	if (!tls_name_shape(s, n))
		return 0;
	if (s[0] == '*')
		return tls_name_ends_in(s + 2, n - 2, domain, 1);
	return tls_name_ends_in(s, n, domain, 0);
}

int tls_name_under(X509 *cert, const char *domain, char *found, size_t len)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
						NULL, NULL);
	int ok = 0;

	if (len > 0)
		found[0] = '\0';
	for (int i = 0; !ok && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *s;
		int n;

		if (g->type != GEN_DNS)
			continue; /* an IP SAN is never a DNS name */
		s = ASN1_STRING_get0_data(g->d.dNSName);
		n = ASN1_STRING_length(g->d.dNSName);
		ok = s != NULL && n > 0 &&
		     tls_name_san_under(s, (size_t)n, domain);
		if (ok && len > 0)
			snprintf(found, len, "%.*s", n, (const char *)s);
	}
	GENERAL_NAMES_free(names);
	return ok;
}

int tls_name_ip_in_cn(X509 *cert, const char *ip)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	unsigned char *cn = NULL;
	int n, ok;

	/* with any SAN at all the CN names nothing (RFC 6125, 6.4.4); two
	   CNs are two claims, and neither is taken */
	if (X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0 ||
	    i < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0)
		return 0;
	n = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(
					     X509_NAME_get_entry(subj, i)));
	ok = n > 0 && (size_t)n == strlen(ip) && memcmp(cn, ip, (size_t)n) == 0;
	OPENSSL_free(cn);
	return ok;
}
