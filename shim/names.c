/*
 * names.c - address -> resolved name, newest first.
 *
 * A ring of NAMES_MAX entries under one mutex; look-ups scan from the
 * newest, so the name a program resolved last for an address wins.  Only
 * resolution and connect() touch it, never the data path.
 */
#include "names.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

struct names_entry {
	int family;
	unsigned char addr[16];
	char name[256];
};

static struct names_entry names_ring[NAMES_MAX];
static size_t names_next, names_count;
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;

static int names_is_numeric(const char *node)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, node, buf) == 1 ||
	       inet_pton(AF_INET6, node, buf) == 1;
}

/* Normalise to (family, bytes); v4-mapped v6 becomes v4.  0 on success. */
static int names_key(int family, const void *addr, int *kfam,
		     unsigned char kaddr[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0,
						  0, 0, 0, 0, 0xff, 0xff };

	memset(kaddr, 0, 16);
	if (family == AF_INET) {
		*kfam = AF_INET;
		memcpy(kaddr, addr, 4);
		return 0;
	}
	if (family != AF_INET6)
		return -1;
	if (memcmp(addr, mapped, 12) == 0) {
		*kfam = AF_INET;
		memcpy(kaddr, (const unsigned char *)addr + 12, 4);
		return 0;
	}
	*kfam = AF_INET6;
	memcpy(kaddr, addr, 16);
	return 0;
}

static void names_add(const char *name, int family, const void *addr)
{
	struct names_entry *e;
	int kfam;
	unsigned char kaddr[16];

	if (names_key(family, addr, &kfam, kaddr) < 0)
		return;
	pthread_mutex_lock(&names_lock);
	e = &names_ring[names_next];
	e->family = kfam;
	memcpy(e->addr, kaddr, 16);
	strncpy(e->name, name, sizeof(e->name) - 1);
	e->name[sizeof(e->name) - 1] = '\0';
	names_next = (names_next + 1) % NAMES_MAX;
	if (names_count < NAMES_MAX)
		names_count++;
	pthread_mutex_unlock(&names_lock);
}

static int names_usable(const char *name)
{
	return name != NULL && *name != '\0' && strlen(name) < 256 &&
	       !names_is_numeric(name);
}

void names_record_addrinfo(const char *node, const struct addrinfo *res)
{
	if (!names_usable(node))
		return;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addr == NULL)
			continue;
		if (ai->ai_family == AF_INET &&
		    ai->ai_addrlen >= sizeof(struct sockaddr_in))
			names_add(node, AF_INET,
				  &((struct sockaddr_in *)ai->ai_addr)->sin_addr);
		else if (ai->ai_family == AF_INET6 &&
			 ai->ai_addrlen >= sizeof(struct sockaddr_in6))
			names_add(node, AF_INET6,
				  &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
	}
}

void names_record_hostent(const char *name, const struct hostent *h)
{
	if (h == NULL || !names_usable(name) || h->h_addr_list == NULL)
		return;
	if (h->h_addrtype != AF_INET && h->h_addrtype != AF_INET6)
		return;
	if (h->h_length != (h->h_addrtype == AF_INET ? 4 : 16))
		return;
	for (char **a = h->h_addr_list; *a != NULL; a++)
		names_add(name, h->h_addrtype, *a);
}

int names_lookup(const struct sockaddr *sa, socklen_t len, char *out,
		 size_t outlen)
{
	int kfam, found = 0;
	unsigned char kaddr[16];
	const void *addr;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 &&
		 len >= sizeof(struct sockaddr_in6))
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		return 0;
	if (names_key(sa->sa_family, addr, &kfam, kaddr) < 0 || outlen == 0)
		return 0;
	pthread_mutex_lock(&names_lock);
	for (size_t i = 1; i <= names_count && !found; i++) {
		const struct names_entry *e =
			&names_ring[(names_next + NAMES_MAX - i) % NAMES_MAX];
		if (e->family == kfam && memcmp(e->addr, kaddr, 16) == 0) {
			strncpy(out, e->name, outlen - 1);
			out[outlen - 1] = '\0';
			found = 1;
		}
	}
	pthread_mutex_unlock(&names_lock);
	return found;
}

void names_reset(void)
{
	pthread_mutex_lock(&names_lock);
	names_next = names_count = 0;
	pthread_mutex_unlock(&names_lock);
}
