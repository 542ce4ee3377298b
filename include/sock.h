/*
 * sock.h - the switchboard's state for one socket it tracks, and the
 * emulation of every socket call on it.
 *
 * States: FRESH (an IPv4/IPv6 stream socket not yet connected: tracked so
 * epoll registrations and flags made before connect() are known), then, if
 * connect() targets a configured endpoint, CONNECTING -> HANDSHAKING ->
 * READY, or FAILED.  FRESH sockets whose connect() is not configured leave
 * the table: from then on every call on them is a straight pass-through.
 *
 * The kernel socket of a TLS session is always O_NONBLOCK; the program's
 * view (app_nonblock) is emulated.  One lock per socket covers each engine
 * call and is never held across a wait, so a reader blocked in poll() does
 * not stop a writer.  A child process (fork) inherits sockets it does not
 * own: it may close them (silently) but never use them.
 *
 * Errors: functions mirroring a syscall return what it would (-1 and errno).
 */
#ifndef SHIM_SOCK_H
#define SHIM_SOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>

#include "engine_api.h"

enum sock_state {
	SOCK_FRESH,
	SOCK_CONNECTING,
	SOCK_HANDSHAKING,
	SOCK_READY,
	SOCK_FAILED,
};

/* Lock-free hints for the readiness scans (sock.hints). */
#define SOCK_HINT_BUFFERED 0x1u  /* plaintext held in user space */
#define SOCK_HINT_UNSENT 0x2u    /* ciphertext not yet taken by the kernel */
#define SOCK_HINT_RD_WANTS_WR 0x4u
#define SOCK_HINT_WR_WANTS_RD 0x8u

struct ready_reg;

struct shim_sock {
	pthread_mutex_t lock;
	atomic_int refs;        /* fd references + calls in flight */
	int nfds;               /* fd references (under the table lock) */
	_Atomic enum sock_state state;
	atomic_uint hints;
	unsigned long owner_gen; /* fork generation that owns the session */
	struct shim_tls *tls;
	struct shim_session_info info;
	int app_nonblock;       /* the program's O_NONBLOCK */
	int so_error;           /* pending error for SO_ERROR / next call */
	int hs_want;            /* SHIM_IO_WANT_* of the handshake */
	int rd_shut, wr_shut;
	int child_warned;
	atomic_int seen_data;   /* plaintext has arrived (no more probing) */
	int stdio;              /* fdopen()ed before connect: stdio would
				   bypass TLS, so it must not become one */
	struct timespec hs_deadline;
	struct timeval rcvtimeo, sndtimeo;
	struct ready_reg *regs; /* epoll registrations (ready.c) */
	struct shim_sock *pool_next; /* recycled (sock.c) */
};

extern atomic_ulong sock_fork_gen;

/* sock_new - a FRESH socket (refs = 0). */
struct shim_sock *sock_new(void);
void sock_get(struct shim_sock *s);
void sock_put(struct shim_sock *s);

/* sock_owned - 1 if this process owns the TLS session. */
static inline int sock_owned(const struct shim_sock *s)
{
	return s->owner_gen ==
	       atomic_load_explicit(&sock_fork_gen, memory_order_relaxed);
}

int sock_connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t sock_recv(struct shim_sock *s, int fd, void *buf, size_t len,
		  int flags);
ssize_t sock_send(struct shim_sock *s, int fd, const void *buf, size_t len,
		  int flags);
ssize_t sock_readv(struct shim_sock *s, int fd, const struct iovec *iov,
		   int iovcnt, int flags);
ssize_t sock_writev(struct shim_sock *s, int fd, const struct iovec *iov,
		    int iovcnt, int flags);
ssize_t sock_recvmsg(struct shim_sock *s, int fd, struct msghdr *msg,
		     int flags);
ssize_t sock_sendmsg(struct shim_sock *s, int fd, const struct msghdr *msg,
		     int flags);
/* sendto() with an address on a socket not yet connected (TCP Fast Open):
   refused for configured endpoints, since it would skip the handshake. */
ssize_t sock_sendto_fresh(struct shim_sock *s, int fd, const void *buf,
			  size_t len, int flags, const struct sockaddr *addr,
			  socklen_t alen);
/* sendmmsg/recvmmsg on a TLS socket: one message after another through
   sock_sendmsg/sock_recvmsg, as the kernel would count them. */
int sock_sendmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags);
int sock_recvmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags);
/* sendfile to a TLS socket: the file is read and sent through TLS. */
ssize_t sock_sendfile(struct shim_sock *s, int out, int in, off_t *off,
		      size_t count);
int sock_close(int fd);
int sock_close_range(unsigned first, unsigned last, int flags);
int sock_shutdown(struct shim_sock *s, int fd, int how);
int sock_dup(int oldfd, int newfd, int flags, int kind);
int sock_fcntl(struct shim_sock *s, int fd, int cmd, unsigned long arg);
int sock_ioctl(struct shim_sock *s, int fd, unsigned long req, void *arg);
int sock_getsockopt(struct shim_sock *s, int fd, int level, int name,
		    void *val, socklen_t *len);
int sock_setsockopt(struct shim_sock *s, int fd, int level, int name,
		    const void *val, socklen_t len);

/* sock_track_new - a hooked socket()/accept() returned fd. */
void sock_track_new(int fd, int domain, int type);

/*
 * sock_step - advance a CONNECTING/HANDSHAKING socket without blocking
 * (and fail it once its handshake deadline has passed).  Caller holds a
 * reference, not the lock.
 */
void sock_step(struct shim_sock *s, int fd);

/* sock_flush - push owned ciphertext without blocking (best effort). */
void sock_flush(struct shim_sock *s, int fd);

/*
 * sock_probe_readable - the kernel says readable: is there plaintext (or
 * an end or error) for the program, or only TLS records of its own, like
 * session tickets?  Decrypts what is there; 1 if a read would not block.
 */
int sock_probe_readable(struct shim_sock *s, int fd);

/* sock_check_sendmsg - 1 (and a log line) if msg passes a TLS socket. */
int sock_check_sendmsg(const struct msghdr *msg);

#define SOCK_DUP_DUP 0  /* dup / F_DUPFD: newfd is the lowest >= newfd */
#define SOCK_DUP_DUP2 1
#define SOCK_DUP_DUP3 2
#define SOCK_DUP_FCNTL 3
#define SOCK_DUP_FCNTL_CLOEXEC 4

#endif
