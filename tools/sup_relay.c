/*
 * sup_relay.c - the supervisor's data path: the loopback pair each
 * configured connection is answered with, and one epoll thread carrying
 * bytes between the program's loopback connection ("far", our end) and the
 * connection's TLS session over the kernel socket to the server ("net").
 *
 * Invariants: only the relay thread touches a connection once
 * sup_relay_add() returned; a connection is freed after the epoll batch
 * that closed it (later events of that batch may still name it).  Ends:
 * the program's close or shutdown(SHUT_WR) becomes close_notify; the
 * server's orderly end becomes shutdown(SHUT_WR) of the program's
 * connection; any error resets the program's connection (SO_LINGER 0), so
 * it sees ECONNRESET, never a clean end after a TLS error.
 *
 * Reads (epoll is edge-triggered, one event per fd that became ready): a
 * read that found its fd empty (short, or EAGAIN) is not tried again
 * before that fd's next readable event, so a request costs one recv per
 * side, not a second one to hear EAGAIN; once an fd has reported a
 * hang-up its reads go on until they meet the end, which a short read may
 * have stopped just before; and plaintext or an error the TLS session
 * already holds is read whatever the kernel says.
 */
#include "supervise.h"
#include "switchboard/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SUP_BUF 65536        /* bytes in flight per direction */
#define SUP_EVENTS 64        /* epoll events per batch */
#define SUP_ACCEPT_MS 2000   /* the loopback connect's own accept */
#define SUP_BACKLOG 8        /* room for a few racers before ours */

struct sup_conn {
	struct shim_tls *t;
	int net, far;
	char up[SUP_BUF];   /* program -> server, not yet taken by TLS */
	size_t up_off, up_len;
	char down[SUP_BUF]; /* server -> program, not yet sent to far */
	size_t down_off, down_len;
	size_t skip; /* filler still ahead of the program's bytes on far */
	unsigned far_eof : 1, net_eof : 1, notify_sent : 1, far_shut : 1,
		dead : 1;
	/* The kernel may hold bytes (or an end) to read: set by a readable
	   event on that fd, cleared by a read that found it empty (short,
	   or EAGAIN) unless the fd has reported a hang-up (*_hup), whose end
	   a short read may have stopped before. */
	unsigned far_rd : 1, net_rd : 1, far_hup : 1, net_hup : 1;
	char label[SHIM_LABEL_MAX];
	struct sup_peer peer;
	struct sup_conn *next_peer; /* the list getpeername() searches */
};

enum sup_step {
	SUP_IDLE = 0,      /* waiting on the kernel */
	SUP_MOVED = 1,     /* progress: go round again */
	SUP_NET_FAILED = -1, /* TLS or server error: reset the program's end */
	SUP_FAR_GONE = -2  /* the program's end is gone: close_notify */
};

static const struct shim_engine_ops *relay_ops;
static atomic_int relay_live; /* connections not yet closed */
static int relay_epoll = -1;
/* Held while a batch is pumped and while a connection's two fds are added,
   so a connection is never closed between its two registrations. */
static pthread_mutex_t relay_lock = PTHREAD_MUTEX_INITIALIZER;
/* The live connections by the program's socket, for getpeername(). */
static pthread_mutex_t peer_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sup_conn *peer_list;

/* ---------------------------------------------------- the loopback pair */

/* sa (IPv4 or IPv6) as an IPv6 address: an IPv4 one mapped. */
static void sup_as_v6(const struct sockaddr_storage *sa,
		      struct sockaddr_in6 *out)
{
	struct sockaddr_in v4;

	if (sa->ss_family != AF_INET) {
		memmove(out, sa, sizeof(*out));
		return;
	}
	memcpy(&v4, sa, sizeof(v4));
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = v4.sin_port;
	out->sin6_addr.s6_addr[10] = 0xff;
	out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
}

/* a and b name the same address and port (an IPv4 address and its
   IPv4-mapped IPv6 form are the same). */
static int sup_same_addr(const struct sockaddr_storage *a,
			 const struct sockaddr_storage *b)
{
	struct sockaddr_in6 x, y;

	sup_as_v6(a, &x);
	sup_as_v6(b, &y);
	return x.sin6_port == y.sin6_port &&
	       memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(x.sin6_addr)) == 0;
}

/*
 * Accept on lis until the connection from *mine arrives.  Any other
 * local process that raced to the port between listen and accept is
 * closed unserved: it must never get the user's authenticated connection.
 */
static int sup_accept_mine(int lis, const struct sockaddr_storage *mine,
			   int *err)
{
	struct pollfd p = { .fd = lis, .events = POLLIN };
	struct sockaddr_storage peer;
	socklen_t len;
	int a;

	for (;;) {
		if (poll(&p, 1, SUP_ACCEPT_MS) <= 0) {
			*err = errno == EINTR ? EINTR : ETIMEDOUT;
			return -1;
		}
		len = sizeof(peer);
		a = accept4(lis, (struct sockaddr *)&peer, &len,
			    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (a < 0) {
			if (errno == EAGAIN || errno == ECONNABORTED)
				continue;
			*err = errno;
			return -1;
		}
		if (sup_same_addr(&peer, mine))
			return a;
		log_msg(SHIM_LOG_WARNING, "supervisor: a local process (port "
			"%u) connected to the loopback port first; closed "
			"unserved", ntohs(((struct sockaddr_in *)&peer)->sin_port));
		close(a);
	}
}

/* Start connecting sock to at without blocking (the accept must run
   meanwhile: racers may fill the listener's queue): 0, or -1 *err. */
static int sup_connect_start(int sock, const struct sockaddr_storage *at,
			     socklen_t len, int *err)
{
	if (connect(sock, (const struct sockaddr *)at, len) == 0 ||
	    errno == EINPROGRESS)
		return 0;
	*err = errno;
	return -1;
}

/* sock's connect, started, is done: 0, or -1 *err. */
static int sup_connect_done(int sock, int *err)
{
	struct pollfd p = { .fd = sock, .events = POLLOUT };
	socklen_t l = sizeof(*err);

	if (poll(&p, 1, SUP_ACCEPT_MS) <= 0)
		*err = ETIMEDOUT;
	else if (getsockopt(sock, SOL_SOCKET, SO_ERROR, err, &l) < 0)
		*err = errno;
	return *err != 0 ? -1 : 0;
}

/* A one-shot listener of the family on loopback: its fd and *at, or -1.
   rcvbuf (0: the kernel's) is set before any connection exists. */
static int sup_listener_at(sa_family_t family, int rcvbuf,
			   struct sockaddr_storage *at, socklen_t *atlen,
			   int *err)
{
	int lis = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	memset(at, 0, sizeof(*at));
	at->ss_family = family;
	if (family == AF_INET)
		((struct sockaddr_in *)at)->sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)at)->sin6_addr = in6addr_loopback;
	*atlen = family == AF_INET ? sizeof(struct sockaddr_in)
				   : sizeof(struct sockaddr_in6);
	if (lis < 0 ||
	    (rcvbuf > 0 && setsockopt(lis, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				      sizeof(rcvbuf)) < 0) ||
	    bind(lis, (struct sockaddr *)at, *atlen) < 0 ||
	    listen(lis, SUP_BACKLOG) < 0 ||
	    getsockname(lis, (struct sockaddr *)at, atlen) < 0) {
		*err = errno;
		if (lis >= 0)
			close(lis);
		return -1;
	}
	return lis;
}

/*
 * sock connected to a listener of the family (an IPv6 socket to the IPv4
 * one through its mapped address first): our accepted end, or -1.  A
 * blocking socket is made non-blocking for the connect (its flags are the
 * program's: put back; the program's thread is inside connect meanwhile).
 */
static int sup_attach_via(int sock, sa_family_t family, int rcvbuf, int *err)
{
	struct sockaddr_storage at, mine;
	socklen_t atlen, len = sizeof(mine), dl = sizeof(int);
	int lis, a = -1, domain = 0, fl = fcntl(sock, F_GETFL);

	if ((lis = sup_listener_at(family, rcvbuf, &at, &atlen, err)) < 0)
		return -1;
	getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &dl);
	if (domain == AF_INET6 && family == AF_INET) {
		sup_as_v6(&at, (struct sockaddr_in6 *)&at);
		atlen = sizeof(struct sockaddr_in6);
	}
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(sock, F_SETFL, fl | O_NONBLOCK);
	if (sup_connect_start(sock, &at, atlen, err) == 0 &&
	    getsockname(sock, (struct sockaddr *)&mine, &len) == 0 &&
	    (a = sup_accept_mine(lis, &mine, err)) >= 0 &&
	    sup_connect_done(sock, err) < 0) {
		close(a);
		a = -1;
	}
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(sock, F_SETFL, fl);
	close(lis); /* no listener left open, whatever happened */
	return a;
}

int sup_loopback_attach(int sock, int *far, int *err, int rcvbuf)
{
	int one = 1, domain = 0;
	socklen_t dl = sizeof(domain);

	getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &dl);
	*far = sup_attach_via(sock, AF_INET, rcvbuf, err);
	if (*far < 0 && domain == AF_INET6 &&
	    (*err == ENETUNREACH || *err == EAFNOSUPPORT))
		*far = sup_attach_via(sock, AF_INET6, rcvbuf, err); /* V6ONLY */
	if (*far < 0)
		return -1;
	setsockopt(*far, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int sup_loopback_pair(int *near, int *far, int *err)
{
	*near = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*near < 0) {
		*err = errno;
		return -1;
	}
	if (sup_loopback_attach(*near, far, err, 0) < 0) {
		close(*near);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- the pump */

/* program -> server: read the program's bytes, write them into TLS. */
static enum sup_step sup_up(struct sup_conn *c)
{
	ssize_t n;
	int err = 0;

	if (c->up_len == 0 && !c->far_eof && c->far_rd) {
		size_t want = c->skip > 0 && c->skip < sizeof(c->up)
				      ? c->skip : sizeof(c->up);

		n = recv(c->far, c->up, want, 0);
		if (n > 0 && c->skip > 0) {
			/* the filler: dropped */
			c->far_rd = c->far_hup || (size_t)n == want;
			c->skip -= (size_t)n;
			return SUP_MOVED;
		}
		if (n > 0) {
			c->far_rd = c->far_hup || (size_t)n == sizeof(c->up);
			c->up_off = 0;
			c->up_len = (size_t)n;
			return SUP_MOVED;
		}
		if (n == 0) {
			c->far_eof = 1;
			return SUP_MOVED;
		}
		if (errno == EAGAIN)
			c->far_rd = c->far_hup;
		else if (errno != EINTR)
			return SUP_FAR_GONE;
	}
	if (c->up_off < c->up_len) {
		n = relay_ops->write(c->t, c->up + c->up_off,
				     c->up_len - c->up_off, &err);
		if (n == SHIM_IO_ERROR)
			return SUP_NET_FAILED;
		if (n < 0)
			return SUP_IDLE;
		c->up_off += (size_t)n;
		if (c->up_off == c->up_len)
			c->up_off = c->up_len = 0;
		return SUP_MOVED;
	}
	if (relay_ops->unsent(c->t) > 0) {
		n = relay_ops->flush(c->t, &err);
		return n == SHIM_IO_ERROR ? SUP_NET_FAILED
		       : n == 0	      ? SUP_MOVED
				      : SUP_IDLE;
	}
	if (c->far_eof && !c->notify_sent) {
		relay_ops->shutdown(c->t); /* close_notify */
		c->notify_sent = 1;
		return SUP_MOVED;
	}
	return SUP_IDLE;
}

/* server -> program: read plaintext from TLS, send it to the program. */
static enum sup_step sup_down(struct sup_conn *c)
{
	ssize_t n;
	int err = 0;

	/* buffered: plaintext OpenSSL decrypted, or an error it holds for
	   the next read, which no event would announce */
	if (c->down_len == 0 && !c->net_eof &&
	    (c->net_rd || relay_ops->buffered(c->t))) {
		n = relay_ops->read(c->t, c->down, sizeof(c->down), 0, &err);
		if (n == SHIM_IO_ERROR)
			return SUP_NET_FAILED;
		/* a short read found no more bytes (engine_api.h) */
		if (n == SHIM_IO_WANT_READ ||
		    (n >= 0 && (size_t)n < sizeof(c->down)))
			c->net_rd = c->net_hup;
		if (n < 0)
			return SUP_IDLE;
		if (n == 0)
			c->net_eof = 1;
		c->down_off = 0;
		c->down_len = (size_t)n;
		return SUP_MOVED;
	}
	if (c->down_off < c->down_len) {
		n = send(c->far, c->down + c->down_off,
			 c->down_len - c->down_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? SUP_IDLE
								 : SUP_FAR_GONE;
		c->down_off += (size_t)n;
		if (c->down_off == c->down_len)
			c->down_off = c->down_len = 0;
		return SUP_MOVED;
	}
	if (c->net_eof && !c->far_shut) {
		shutdown(c->far, SHUT_WR);
		c->far_shut = 1;
		return SUP_MOVED;
	}
	return SUP_IDLE;
}

static void sup_peer_unlink(struct sup_conn *c)
{
	pthread_mutex_lock(&peer_lock);
	for (struct sup_conn **p = &peer_list; *p != NULL; p = &(*p)->next_peer)
		if (*p == c) {
			*p = c->next_peer;
			break;
		}
	pthread_mutex_unlock(&peer_lock);
}

int sup_relay_peer(ino_t ino, struct sup_peer *out)
{
	int rc = -1;

	pthread_mutex_lock(&peer_lock);
	for (struct sup_conn *c = peer_list; c != NULL; c = c->next_peer)
		if (c->peer.ino == ino) {
			*out = c->peer;
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&peer_lock);
	return rc;
}

static void sup_conn_close(struct sup_conn *c, enum sup_step why)
{
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };

	if (why == SUP_NET_FAILED)
		setsockopt(c->far, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	else if (!c->notify_sent)
		relay_ops->shutdown(c->t);
	close(c->far);
	relay_ops->free(c->t);
	close(c->net);
	sup_peer_unlink(c);
	c->dead = 1;
	atomic_fetch_sub(&relay_live, 1);
}

/* Move bytes until both directions wait on the kernel: 1 when done. */
static int sup_pump(struct sup_conn *c)
{
	enum sup_step u, d;

	for (;;) {
		u = sup_up(c);
		d = sup_down(c);
		if (u < 0 || d < 0) {
			sup_conn_close(c, u == SUP_NET_FAILED ||
						  d == SUP_NET_FAILED
					      ? SUP_NET_FAILED
					      : SUP_FAR_GONE);
			return 1;
		}
		if (c->notify_sent && c->far_shut && c->down_len == 0) {
			sup_conn_close(c, SUP_MOVED);
			return 1;
		}
		if (u == SUP_IDLE && d == SUP_IDLE)
			return 0;
	}
}

#define SUP_TAG_NET ((uintptr_t)1) /* in epoll data: the event is net's */
#define SUP_READABLE (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define SUP_HANGUP (EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/* The connection an event is about, with that fd's read flags set. */
static struct sup_conn *sup_event_conn(const struct epoll_event *e)
{
	uintptr_t v = (uintptr_t)e->data.u64;
	struct sup_conn *c = (struct sup_conn *)(v & ~SUP_TAG_NET);
	int rd = (e->events & SUP_READABLE) != 0;
	int hup = (e->events & SUP_HANGUP) != 0;

	if (v & SUP_TAG_NET) {
		c->net_rd |= rd;
		c->net_hup |= hup;
	} else {
		c->far_rd |= rd;
		c->far_hup |= hup;
	}
	return c;
}

static void *sup_relay_main(void *arg)
{
	struct epoll_event ev[SUP_EVENTS];
	struct sup_conn *dead[SUP_EVENTS];
	int n, ndead;

	(void)arg;
	for (;;) {
		n = epoll_wait(relay_epoll, ev, SUP_EVENTS, -1);
		ndead = 0;
		pthread_mutex_lock(&relay_lock);
		for (int i = 0; i < n; i++) {
			struct sup_conn *c = sup_event_conn(&ev[i]);

			if (!c->dead && sup_pump(c))
				dead[ndead++] = c;
		}
		pthread_mutex_unlock(&relay_lock);
		for (int i = 0; i < ndead; i++)
			free(dead[i]);
	}
	return NULL;
}

int sup_relay_live(void)
{
	return atomic_load(&relay_live);
}

int sup_relay_start(const struct shim_engine_ops *ops)
{
	pthread_t th;
	int rc;

	relay_ops = ops;
	relay_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (relay_epoll < 0)
		return -1;
	rc = pthread_create(&th, NULL, sup_relay_main, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	pthread_detach(th);
	return 0;
}

void sup_relay_add(struct shim_tls *t, int net, int far, const char *label,
		   const struct sup_peer *peer, size_t skip, ino_t held)
{
	struct sup_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
					    EPOLLET };
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };

	if (c == NULL) {
		if (held != 0)
			sup_pending_set(held, SUP_P_FREE, 0);
		setsockopt(far, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(far);
		relay_ops->shutdown(t);
		relay_ops->free(t);
		close(net);
		return;
	}
	atomic_fetch_add(&relay_live, 1);
	c->far_rd = c->net_rd = 1;
	c->t = t;
	c->net = net;
	c->far = far;
	c->skip = skip;
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->peer = *peer;
	pthread_mutex_lock(&peer_lock);
	c->next_peer = peer_list;
	peer_list = c;
	pthread_mutex_unlock(&peer_lock);
	/* no longer "connecting" (listed first: never neither), before the
	   relay can make the program's socket writable */
	if (held != 0)
		sup_pending_set(held, SUP_P_FREE, 0);
	/* Both are writable now: the first event runs the first pump. */
	pthread_mutex_lock(&relay_lock);
	ev.data.u64 = (uintptr_t)c;
	epoll_ctl(relay_epoll, EPOLL_CTL_ADD, far, &ev);
	ev.data.u64 = (uintptr_t)c | SUP_TAG_NET;
	epoll_ctl(relay_epoll, EPOLL_CTL_ADD, net, &ev);
	pthread_mutex_unlock(&relay_lock);
}

/*
 * 1 if c's program -> server direction holds nothing: nothing unread on
 * far (no bytes, no end not yet seen), nothing in up, the TLS records
 * handed to the kernel, and an end the program made answered with
 * close_notify.  Under relay_lock: the relay thread is not in c.
 */
static int sup_conn_quiet(struct sup_conn *c)
{
	struct pollfd p = { .fd = c->far, .events = POLLIN };

	if (c->up_len > 0 || relay_ops->unsent(c->t) > 0)
		return 0;
	if (c->far_eof)
		return c->notify_sent;
	return poll(&p, 1, 0) == 0;
}

int sup_relay_quiet(void)
{
	int quiet = 1;

	pthread_mutex_lock(&relay_lock);
	pthread_mutex_lock(&peer_lock);
	for (struct sup_conn *c = peer_list; c != NULL && quiet;
	     c = c->next_peer)
		quiet = sup_conn_quiet(c);
	pthread_mutex_unlock(&peer_lock);
	pthread_mutex_unlock(&relay_lock);
	return quiet;
}
