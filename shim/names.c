/*
 * names.c - address -> resolved name.
 *
 * A ring of NAMES_MAX entries under one mutex.  Each entry remembers the
 * port the resolution was for (from the service, 0 if none) and the thread
 * that asked, so that when several names share an address the connect()
 * gets the one its own thread resolved for that port; otherwise the newest
 * wins.  A numeric "resolution" (getaddrinfo("10.0.0.1")) is recorded as
 * "no name": the program dials that address as an address.  Only
 * resolution and connect() touch the table, never the data path.
 */
#include "names.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct names_entry {
	int family;
	unsigned char addr[16];
	unsigned port;         /* host order; 0: any */
	unsigned long thread;  /* pthread_self() of the resolver */
	char name[256];        /* "" = dialled as an address */
};

/* allocated at the first resolution: a process that resolves nothing (and
   /bin/true under LD_PRELOAD) maps no 70 KiB of zeroes for it */
static struct names_entry *names_ring;
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

static void names_add(const char *name, int family, const void *addr,
		      unsigned port)
{
	struct names_entry *e;
	int kfam;
	unsigned char kaddr[16];

	if (names_key(family, addr, &kfam, kaddr) < 0)
		return;
	pthread_mutex_lock(&names_lock);
	if (names_ring == NULL &&
	    (names_ring = calloc(NAMES_MAX, sizeof(*names_ring))) == NULL) {
		pthread_mutex_unlock(&names_lock);
		return;
	}
	e = &names_ring[names_next];
	e->family = kfam;
	memcpy(e->addr, kaddr, 16);
	e->port = port;
	e->thread = (unsigned long)pthread_self();
	strncpy(e->name, name, sizeof(e->name) - 1);
	e->name[sizeof(e->name) - 1] = '\0';
	names_next = (names_next + 1) % NAMES_MAX;
	if (names_count < NAMES_MAX)
		names_count++;
	pthread_mutex_unlock(&names_lock);
}

static int names_usable(const char *name)
{
	return name != NULL && *name != '\0' && strlen(name) < 256;
}

void names_record_addrinfo(const char *node, const struct addrinfo *res)
{
	const char *name;

	if (!names_usable(node))
		return;
	/* a numeric node is recorded too, as "no name": the address it
	   resolves to is dialled as an address from now on */
	name = names_is_numeric(node) ? "" : node;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addr == NULL)
			continue;
		if (ai->ai_family == AF_INET &&
		    ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			const struct sockaddr_in *a = (void *)ai->ai_addr;
			names_add(name, AF_INET, &a->sin_addr, ntohs(a->sin_port));
		} else if (ai->ai_family == AF_INET6 &&
			   ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			const struct sockaddr_in6 *a = (void *)ai->ai_addr;
			names_add(name, AF_INET6, &a->sin6_addr,
				  ntohs(a->sin6_port));
		}
	}
}

void names_record_hostent(const char *name, const struct hostent *h)
{
	if (h == NULL || !names_usable(name) || h->h_addr_list == NULL)
		return;
	if (names_is_numeric(name))
		name = "";
	if (h->h_addrtype != AF_INET && h->h_addrtype != AF_INET6)
		return;
	if (h->h_length != (h->h_addrtype == AF_INET ? 4 : 16))
		return;
	for (char **a = h->h_addr_list; *a != NULL; a++)
		names_add(name, h->h_addrtype, *a, 0);
}

/* How well entry e fits a connect() to `port` from this thread. */
static int names_fit(const struct names_entry *e, unsigned port,
		     unsigned long self)
{
	int fit = e->thread == self ? 4 : 0;

	if (e->port == port)
		fit += 2;
	else if (e->port == 0)
		fit += 1;
	return fit;
}

int names_lookup(const struct sockaddr *sa, socklen_t len, char *out,
		 size_t outlen)
{
	const struct names_entry *best = NULL;
	unsigned long self = (unsigned long)pthread_self();
	int kfam, best_fit = -1, found = 0;
	unsigned char kaddr[16];
	const void *addr;
	unsigned port;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else if (sa->sa_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	} else {
		return 0;
	}
	if (names_key(sa->sa_family, addr, &kfam, kaddr) < 0 || outlen == 0)
		return 0;
	pthread_mutex_lock(&names_lock);
	/* newest first: among equally good fits the newest wins */
	for (size_t i = 1; i <= names_count; i++) {
		const struct names_entry *e =
			&names_ring[(names_next + NAMES_MAX - i) % NAMES_MAX];
		int fit;

		if (e->family != kfam || memcmp(e->addr, kaddr, 16) != 0)
			continue;
		fit = names_fit(e, port, self);
		if (fit > best_fit) {
			best = e;
			best_fit = fit;
		}
	}
	if (best != NULL && best->name[0] != '\0') {
		strncpy(out, best->name, outlen - 1);
		out[outlen - 1] = '\0';
		found = 1;
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
