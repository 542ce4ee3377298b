/*
 * sock.h - the switchboard's state for one socket it tracks, and the
 * emulation of every socket call on it.
 *
 * States: FRESH (an IPv4/IPv6 stream socket not yet connected: tracked so
 * epoll registrations and flags made before connect() are known), then, if
 * connect() targets a configured endpoint, CONNECTING -> HANDSHAKING ->
 * READY, or FAILED (the fast path), and from any of those, for good, RELAY;
 * DONE once the session has ended.  FRESH sockets whose connect() is not
 * configured leave the table: from then on every call on them is a straight
 * pass-through.
 *
 * The program never holds the network socket.  At connect() to a configured
 * endpoint the TCP connection is made on a private, close-on-exec socket
 * (kfd) placed above the program's range, and every number the program
 * knows for the socket becomes one end of an AF_UNIX socketpair whose other
 * end (shim_end) the shim keeps.  Hooked calls take the fast path straight
 * into the TLS session on kfd.  Bytes that reach the program's descriptor by
 * a path no hook saw land in the socketpair, never on the wire; relay.c
 * notices them and switches the connection to RELAY: from then on its
 * thread carries both directions between shim_end and the session, and the
 * hooks act on the program's descriptor as the kernel would.
 *
 * kfd is always O_NONBLOCK; the program's view (app_nonblock) is emulated on
 * the fast path and set on its socketpair end for everything else.  One
 * lock per socket covers each engine call and is never held across a wait,
 * so a reader blocked in poll() does not stop a writer; a signal handler
 * whose call finds the lock held by its own thread gets EAGAIN.  A child
 * process (fork) inherits sockets it does not own: it may close them
 * (silently) but its hooked calls never use the session; a vfork child
 * (same memory, other pid) never changes the parent's state.
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
	SOCK_RELAY,  /* relay.c's thread carries the bytes; hooks pass through */
	SOCK_DONE,   /* session over, private descriptors closed */
};

/* Lock-free hints for the readiness scans (sock.hints). */
#define SOCK_HINT_BUFFERED 0x1u  /* plaintext held in user space */
#define SOCK_HINT_UNSENT 0x2u    /* ciphertext not yet taken by the kernel */
#define SOCK_HINT_RD_WANTS_WR 0x4u
#define SOCK_HINT_WR_WANTS_RD 0x8u

struct ready_reg;
struct relay_state;

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
	int kfd;                /* the private TCP socket, or -1 */
	int shim_end;           /* our end of the socketpair, or -1 */
	atomic_ulong lock_owner; /* thread holding lock (0: none) */
	int watched;            /* registered with relay.c (under its lock) */
	atomic_int orphan;      /* the program closed its last number while
				   another of its threads was inside a call
				   on it: the close is finished when the last
				   reference goes (sock_put) */
	struct relay_state *relay; /* RELAY: relay.c's buffers */
	struct shim_sock *live_next; /* relay.c's list of sessions */
};

extern atomic_ulong sock_fork_gen;
/* The lowest number a private descriptor ever had (INT_MAX: none yet). */
extern atomic_int sock_private_min;

/* sock_new - a FRESH socket (refs = 0). */
struct shim_sock *sock_new(void);
void sock_get(struct shim_sock *s);
void sock_put(struct shim_sock *s);

/* sock_eng - the engine's table (loaded before any session exists). */
const struct shim_engine_ops *sock_eng(void);

/* sock_lock - take s->lock; -1 with errno EAGAIN if this thread already
   holds it (a signal handler re-entering).  sock_unlock releases it. */
int sock_lock(struct shim_sock *s);
void sock_unlock(struct shim_sock *s);
/* sock_held_here - 1 if this thread holds (or is taking) s->lock. */
int sock_held_here(const struct shim_sock *s);

/* sock_emulated - 1 if hooked calls on the socket go to its TLS session
   (the fast path); 0 for FRESH, RELAY and DONE (the program's descriptor
   then behaves as the kernel makes it). */
static inline int sock_emulated(enum sock_state st)
{
	return st == SOCK_CONNECTING || st == SOCK_HANDSHAKING ||
	       st == SOCK_READY || st == SOCK_FAILED;
}

/* sock_owned - 1 if this process owns the TLS session. */
static inline int sock_owned(const struct shim_sock *s)
{
	return s->owner_gen ==
	       atomic_load_explicit(&sock_fork_gen, memory_order_relaxed);
}

static inline int sock_fast(const struct shim_sock *s)
{
	return sock_emulated(atomic_load(&s->state));
}

/* sock_kernel_fd - the descriptor the kernel must watch for the program's
   descriptor fd: the private socket on the owner's fast path, else fd. */
static inline int sock_kernel_fd(const struct shim_sock *s, int fd)
{
	return sock_fast(s) && sock_owned(s) && s->kfd >= 0 ? s->kfd : fd;
}

/* sock_place_high - move fd to a close-on-exec number above the program's
   own range (raising the soft RLIMIT_NOFILE when needed): the new number
   (fd closed), or -1 with errno (fd left as it was). */
int sock_place_high(int fd);

/* sock_in_vfork_child - 1 in a vfork() child (the parent's memory, another
   pid): it must not change the parent's table or sessions. */
int sock_in_vfork_child(void);
/* sock_note_pid - remember this process's pid (start-up, fork child). */
void sock_note_pid(void);

int sock_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* sock_open - the engine's open() for a connect to addr, with the name this
   thread resolved for it; refuses (one line) what only another thread's
   name would make a configured endpoint. */
enum shim_decision sock_open(const struct shim_engine_ops *e, int fd,
			     const struct sockaddr *addr, socklen_t len,
			     struct shim_tls **tls,
			     struct shim_session_info *info, int *err);
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
/* sendmmsg/recvmmsg on a TLS socket: one message after another through
   sock_sendmsg/sock_recvmsg, as the kernel would count them. */
int sock_sendmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags);
int sock_recvmmsg(struct shim_sock *s, int fd, struct mmsghdr *v,
		  unsigned int n, int flags, struct timespec *timeout);
/* sendfile to a TLS socket: the file is read and sent through TLS. */
ssize_t sock_sendfile(struct shim_sock *s, int out, int in, off_t *off,
		      size_t count);
int sock_close(int fd);
int sock_close_range(unsigned first, unsigned last, int flags);
int sock_shutdown(struct shim_sock *s, int fd, int how);
int sock_dup(int oldfd, int newfd, int flags, int kind);
/* sock_fcntl - s NULL when fd is not tracked: F_DUPFD* are dup()s. */
int sock_fcntl(struct shim_sock *s, int fd, int cmd, unsigned long arg);
int sock_ioctl(struct shim_sock *s, int fd, unsigned long req, void *arg);
int sock_getsockopt(struct shim_sock *s, int fd, int level, int name,
		    void *val, socklen_t *len);
int sock_setsockopt(struct shim_sock *s, int fd, int level, int name,
		    const void *val, socklen_t len);
/* getpeername (peer 1) / getsockname (0): the private TCP socket's. */
int sock_getname(struct shim_sock *s, int fd, int peer, struct sockaddr *addr,
		 socklen_t *len);

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
 * session tickets, or part of a record?  Decrypts what is there; 1 if a
 * read would not block.
 */
int sock_probe_readable(struct shim_sock *s, int fd);

/* For sock_io.c, sock_fd.c and relay.c (callers hold s->lock where said). */
int sock_refresh_hints(struct shim_sock *s, int rd_want, int wr_want);
int sock_need_ready(struct shim_sock *s, int fd, int nonblock, int fail_errno);
int sock_failed_errno(struct shim_sock *s, int dflt);
/* locked: shut everything down; the program sees err. */
void sock_fail_locked(struct shim_sock *s, int err);
/* locked: one step of connect + handshake on *st: 1 done (READY), 0 wait
   (s->hs_want says for what), -1 failed (s->so_error set, logged). */
int sock_advance_locked(struct shim_sock *s, enum sock_state *st);
/* locked: end the session (close_notify first if notify), close the
   private descriptors, stop watching; DONE. */
void sock_end_locked(struct shim_sock *s, int notify);
/* sock_private.c, locked: move the connection to a private socket and make
   the program's numbers the socketpair end (0, or -1 with errno, nothing
   changed for the program); give it back after an immediate TCP failure
   (the program gets the private socket, unconnected; s is FRESH). */
int sock_move_private(struct shim_sock *s, int fd);
void sock_give_back(struct shim_sock *s, int fd);
/* sock_close_gently - before the shim closes a private TCP socket: send
   the FIN after what was sent, and read away what is unread (else the
   kernel resets the connection and drops what is still in flight). */
void sock_close_gently(int kfd);
/* The program's last number for s in this process is closed (not locked). */
void sock_last_close(struct shim_sock *s);

#define SOCK_DUP_DUP 0  /* dup / F_DUPFD: newfd is the lowest >= newfd */
#define SOCK_DUP_DUP2 1
#define SOCK_DUP_DUP3 2
#define SOCK_DUP_FCNTL 3
#define SOCK_DUP_FCNTL_CLOEXEC 4

/*
 * The calls hooks.c hands over whole.  s is the tracked socket of fd (a
 * reference held by the caller); where it may be NULL the call is also
 * made on sockets the shim does not track, and the function decides
 * whether anything but the real call applies.  Each passes through to the
 * real call where the kernel serves it (not a TLS socket on the fast
 * path), and mirrors it otherwise.
 */

/* sock_addr_is_inet - 1 if addr (len bytes) names an IPv4 or IPv6 peer:
   the only connects and sends with an address the shim looks at. */
int sock_addr_is_inet(const struct sockaddr *addr, socklen_t len);

/* recvfrom/sendto: a connected stream has no source address (*alen 0);
   a sendto with an address may be a connection request (s may be NULL).
   sock_sendmsg and sock_sendmmsg (above) take s NULL too. */
ssize_t sock_recvfrom(struct shim_sock *s, int fd, void *buf, size_t len,
		      int flags, struct sockaddr *addr, socklen_t *alen);
ssize_t sock_sendto(struct shim_sock *s, int fd, const void *buf, size_t len,
		    int flags, const struct sockaddr *addr, socklen_t alen);

/* preadv/pwritev (sock_pvec) and preadv2/pwritev2 (sock_pvec2): a socket
   has no offset (ESPIPE), but a v2 call at offset -1 is readv/writev
   (RWF_NOWAIT as MSG_DONTWAIT). */
enum sock_dir { SOCK_DIR_READ, SOCK_DIR_WRITE };
ssize_t sock_pvec(struct shim_sock *s, int fd, enum sock_dir dir,
		  const struct iovec *iov, int iovcnt, off_t off);
ssize_t sock_pvec2(struct shim_sock *s, int fd, enum sock_dir dir,
		   const struct iovec *iov, int iovcnt, off_t off, int rwf);

/* sock_atfork_child - in a fork() child: sessions inherited from here on
   belong to the parent, and the relay thread is the parent's. */
void sock_atfork_child(void);

#endif
