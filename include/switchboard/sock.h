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
 *
 * The module: sock.c (pool, references, lock, connect + handshake),
 * sock_private.c (the move to the private socket), sock_io.c (the data
 * path), sock_fd.c (descriptor calls) and relay.c (the data path once
 * relayed).  struct shim_sock is opaque outside it: its definition is in
 * shim/switchboard/sock_impl.h.  Others learn about a socket through
 * sock_fast() (the hooks' per-call test) and sock_view() (a snapshot, for
 * the readiness module).
 *
 * Who calls whom: hooks.c and the readiness module call this module; it
 * calls the fd table, the engine loader, names, block and log, never the
 * readiness module: what readiness must hear (a state change, a closed
 * number, a changed kernel descriptor) goes through the one observer
 * function registered with sock_observe().
 */
#ifndef SHIM_SOCK_H
#define SHIM_SOCK_H

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

/* Lock-free hints for the readiness scans (sock_view's hints). */
#define SOCK_HINT_BUFFERED 0x1u  /* plaintext held in user space */
#define SOCK_HINT_UNSENT 0x2u    /* ciphertext not yet taken by the kernel */
#define SOCK_HINT_RD_WANTS_WR 0x4u
#define SOCK_HINT_WR_WANTS_RD 0x8u
#define SOCK_HINT_WR_BLOCKED 0x10u /* the last write met a full kernel
				      buffer (EAGAIN), none has gone since */

struct shim_sock;
extern atomic_ulong sock_fork_gen;
extern atomic_int *sock_fork_token;
/* sock_forked_unseen - in a child forked without the atfork handlers
   (_Fork(), raw clone): run what the child handler would have run. */
void sock_forked_unseen(void);
/* sock_fork_check - notice such a fork before anything asks who owns a
   session: one load of a wipe-on-fork word. */
static inline void sock_fork_check(void)
{
	atomic_int *t = sock_fork_token;

	if (__builtin_expect(t != NULL && atomic_load_explicit(
				     t, memory_order_relaxed) == 0, 0))
		sock_forked_unseen();
}
/* The lowest number a private descriptor ever had (INT_MAX: none yet). */
extern atomic_int sock_private_min;

/* A bit for each number below SOCK_PRIVATE_BITS that has ever been a
   private descriptor (set by sock_place_high, never cleared). */
#define SOCK_PRIVATE_BITS (1 << 20)
#define SOCK_PRIVATE_WORD (8 * (int)sizeof(unsigned long))
extern atomic_ulong sock_private_bits[SOCK_PRIVATE_BITS / SOCK_PRIVATE_WORD];

/* sock_maybe_private - 0 if fd has never been one of the shim's own
   descriptors: one compare for the program's own numbers, one bit for
   the numbers above them. */
static inline int sock_maybe_private(int fd)
{
	if (__builtin_expect(fd < atomic_load_explicit(&sock_private_min,
						       memory_order_relaxed), 1))
		return 0;
	if (fd >= SOCK_PRIVATE_BITS)
		return 1;
	return (atomic_load_explicit(&sock_private_bits[fd / SOCK_PRIVATE_WORD],
				     memory_order_relaxed) >>
		(fd % SOCK_PRIVATE_WORD)) & 1;
}

/* sock_is_private - 1 if fd is one of the shim's own descriptors now (a
   private TCP socket, a socketpair end, the relay's).  The program never
   had them: a hook meets them as closed (sock_refuse_private), or the
   program would hold a TLS connection's network socket. */
int sock_is_private(int fd);

/* sock_refuse_private - -1 with EBADF, as for a closed descriptor. */
int sock_refuse_private(void);

/* sock_new - a FRESH socket (refs = 0). */
struct shim_sock *sock_new(void);
void sock_get(struct shim_sock *s);
void sock_put(struct shim_sock *s);

/* sock_emulated - 1 if hooked calls on a socket in state st go to its TLS
   session (the fast path); 0 for FRESH, RELAY and DONE (the program's
   descriptor then behaves as the kernel makes it). */
static inline int sock_emulated(enum sock_state st)
{
	return st == SOCK_CONNECTING || st == SOCK_HANDSHAKING ||
	       st == SOCK_READY || st == SOCK_FAILED;
}

/* sock_fast - 1 if s is on the fast path (sock_emulated of its state).
   One atomic load, no lock: the hooks ask it on every call. */
int sock_fast(const struct shim_sock *s);

/*
 * sock_view - a snapshot of what readiness emulation needs to know about s,
 * read without its lock (each field atomically or as the lock-free scans
 * always read it; the next hooked call may change it).
 */
struct sock_view {
	enum sock_state state;
	int owned;              /* this process owns the TLS session */
	int kernel_fd;          /* what the kernel must watch for the
				   program's descriptor fd: the private socket
				   on the owner's fast path, else fd */
	unsigned hints;         /* SOCK_HINT_* */
	int hs_want;            /* SHIM_IO_WANT_* the handshake waits for */
	int seen_data;          /* plaintext has arrived */
	struct timespec hs_deadline; /* end of the handshake */
};
void sock_view(const struct shim_sock *s, int fd, struct sock_view *v);

/* What the observer hears (sock_observe). */
enum sock_event {
	SOCK_EV_CHANGED,   /* state or hints changed: what the kernel must
			      watch may be other now */
	SOCK_EV_CLOSED,    /* the program's number fd was closed; s is its
			      socket, or NULL for any other file */
	SOCK_EV_DETACH,    /* the kernel descriptor behind s is about to
			      change (connect, the relay's take-over) */
	SOCK_EV_ATTACH,    /* ... and has changed */
	SOCK_EV_REBIND,    /* it changed (both at once) */
	SOCK_EV_UNTRACKED, /* s is no longer tracked (its connect passed
			      through): the program's numbers of it are
			      plain sockets from now on (GONE follows) */
	SOCK_EV_GONE,      /* s's registrations are void: its session ended,
			      it is no longer tracked, or it is recycled */
};
typedef void sock_observer_fn(struct shim_sock *s, enum sock_event ev, int fd);

/* sock_observe - fn hears of every event from now on (one observer: the
   readiness module, which registers when it first mirrors an epoll
   registration; until then nothing needs telling).  Called with a
   reference held on s, sometimes with s's lock held. */
void sock_observe(sock_observer_fn *fn);

/* sock_in_vfork_child - 1 in a vfork() child (the parent's memory, another
   pid): it must not change the parent's table or sessions. */
int sock_in_vfork_child(void);
/* sock_note_pid - remember this process's pid (start-up, fork child). */
void sock_note_pid(void);

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
/* sock_fcntl, sock_ioctl - s NULL when fd is not tracked (F_DUPFD* are
   sock_dup()s, which the hooks call for them); one of the shim's own
   descriptors is EBADF, as if closed. */
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
