/*
 * fuzz_match.c - libFuzzer target: endpoint match specs (shim/match.c).
 *
 * Input: a match spec, a NUL, then a connection attempt: family byte,
 * 16 address bytes, 2 port bytes (network order), the resolved name (the
 * rest; empty means none).
 *
 * Beyond "no crash": whatever parses must be well-formed (ports ordered and
 * in range, prefix within the family, name lower case, no trailing dot),
 * must match an attempt built from itself (its name, its address, its
 * first port), and an address spec must survive format-and-parse.
 * match_test must not care whether the name is set for address specs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "match.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_match: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const struct match_spec *m)
{
	size_t n = strnlen(m->name, sizeof(m->name));

	CHECK(n < sizeof(m->name));
	CHECK(m->port_lo >= 1 && m->port_lo <= m->port_hi &&
	      m->port_hi <= 65535);
	switch (m->kind) {
	case MATCH_HOST_NAME:
	case MATCH_HOST_WILDCARD:
		CHECK(n > 0);
		CHECK(m->name[n - 1] != '.');
		for (size_t i = 0; i < n; i++)
			CHECK(m->name[i] < 'A' || m->name[i] > 'Z');
		if (m->kind == MATCH_HOST_WILDCARD)
			CHECK(m->name[0] == '.' && n > 1);
		break;
	case MATCH_HOST_ADDR:
	case MATCH_HOST_CIDR:
		CHECK(m->addr.family == AF_INET || m->addr.family == AF_INET6);
		CHECK(m->prefix <= (m->addr.family == AF_INET ? 32u : 128u));
		break;
	default:
		CHECK(!"unknown kind");
	}
}

/* A spec matches an attempt made of its own parts. */
static void check_self_match(const struct match_spec *m)
{
	struct match_target t;
	char name[MATCH_NAME_MAX + 8];
	enum match_result r;

	memset(&t, 0, sizeof(t));
	t.port = m->port_lo;
	switch (m->kind) {
	case MATCH_HOST_NAME:
		t.addr.family = AF_INET;
		t.name = m->name;
		r = match_test(m, &t);
		CHECK(r == MATCH_BY_NAME);
		t.port = m->port_hi;
		CHECK(match_test(m, &t) == MATCH_BY_NAME);
		if (m->port_hi < 65535) {
			t.port = m->port_hi + 1;
			CHECK(match_test(m, &t) == MATCH_NONE);
		}
		break;
	case MATCH_HOST_WILDCARD:
		if (strlen(m->name) + 2 > MATCH_NAME_MAX)
			break;
		snprintf(name, sizeof(name), "x%s", m->name);
		t.addr.family = AF_INET;
		t.name = name;
		CHECK(match_test(m, &t) == MATCH_BY_NAME);
		/* the domain itself is not below itself */
		t.name = m->name + 1;
		CHECK(match_test(m, &t) == MATCH_NONE);
		break;
	case MATCH_HOST_ADDR:
	case MATCH_HOST_CIDR:
		t.addr = m->addr;
		CHECK(match_test(m, &t) == MATCH_BY_ADDR);
		t.name = "some.name.example";
		CHECK(match_test(m, &t) == MATCH_BY_ADDR);
		break;
	default:
		break;
	}
}

/* An address spec, printed and parsed again, is the same address. */
static void check_roundtrip(const struct match_spec *m)
{
	char addr[64], text[96], err[256];
	struct match_spec again;

	if (m->kind != MATCH_HOST_ADDR)
		return;
	addr_format(&m->addr, addr, sizeof(addr));
	snprintf(text, sizeof(text), m->addr.family == AF_INET6 ? "[%s]:%u"
								: "%s:%u",
		 addr, m->port_lo);
	CHECK(match_parse(text, &again, err, sizeof(err)) == 0);
	CHECK(again.kind == MATCH_HOST_ADDR);
	CHECK(again.addr.family == m->addr.family);
	CHECK(memcmp(again.addr.bytes, m->addr.bytes,
		     m->addr.family == AF_INET ? 4 : 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t speclen = nul ? (size_t)(nul - data) : size;
	char *spec_text = malloc(speclen + 1);
	char err[256];
	struct match_spec m;
	int rc;

	if (spec_text == NULL)
		return 0;
	memcpy(spec_text, data, speclen);
	spec_text[speclen] = '\0';
	memset(err, 0x55, sizeof(err));
	rc = match_parse(spec_text, &m, err, sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL);
	} else {
		check_spec(&m);
		check_self_match(&m);
		check_roundtrip(&m);
	}

	/* the name checks on the same text */
	memset(err, 0x55, sizeof(err));
	if (match_check_name(spec_text, err, sizeof(err)) < 0)
		CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0] != '\0');
	(void)addr_is_literal(spec_text);

	/* a connection attempt from the rest */
	if (nul != NULL && size - speclen - 1 >= 19) {
		const uint8_t *p = nul + 1;
		size_t rest = size - speclen - 1 - 19;
		struct sockaddr_storage ss;
		struct match_target t;
		char *name = NULL;
		socklen_t len;

		memset(&ss, 0, sizeof(ss));
		if (p[0] & 1) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, p + 1, 16);
			memcpy(&s6->sin6_port, p + 17, 2);
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, p + 1, 4);
			memcpy(&s4->sin_port, p + 17, 2);
			len = sizeof(*s4);
		}
		if (p[0] & 2)
			len = (socklen_t)(p[0] >> 2); /* short lengths too */
		if (rest > 0) {
			name = malloc(rest + 1);
			if (name != NULL) {
				memcpy(name, p + 19, rest);
				name[rest] = '\0';
			}
		}
		if (match_target_from_sockaddr((struct sockaddr *)&ss, len, name,
					       &t) == 0 && rc == 0) {
			enum match_result r = match_test(&m, &t), r2;
			CHECK(r >= MATCH_NONE && r <= MATCH_BY_RESOLVED);
			r2 = match_test(&m, &t);
			CHECK(r == r2);
			if (r == MATCH_BY_NAME)
				CHECK(t.name != NULL);
			if (m.kind == MATCH_HOST_ADDR || m.kind == MATCH_HOST_CIDR) {
				t.name = NULL;
				CHECK(match_test(&m, &t) == r);
			}
		}
		free(name);
	}
	free(spec_text);
	return 0;
}
