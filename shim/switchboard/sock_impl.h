/*
 * sock_impl.h - the inside of a tracked socket, private to the socket
 * module: sock.c, sock_private.c, sock_io.c, sock_fd.c, sock_policy.c and
 * relay.c (the data path once relayed) include it, nothing else does (see sock.h for
 * the states and the rules).  Everything outside learns about a socket
 * through sock.h's functions: sock_fast() per hooked call, sock_view()
 * for readiness.
 *
 * Thread-safety: fields marked atomic are read without the lock; the rest
 * are changed under s->lock (nfds under the fd table's mutex, watched and
 * live_next under relay.c's).
 */
#ifndef SHIM_SOCK_IMPL_H
#define SHIM_SOCK_IMPL_H

#include "sock.h"

#include <pthread.h>
#include <sys/time.h>

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
	struct shim_sock *pool_next; /* recycled (sock.c) */
	int kfd;                /* the private TCP socket, or -1 */
	int shim_end;           /* our end of the socketpair, or -1 */
	int watched;            /* registered with relay.c (under its lock) */
	atomic_int orphan;      /* the program closed its last number while
				   another of its threads was inside a call
				   on it: the close is finished when the last
				   reference goes (sock_put) */
	struct relay_state *relay; /* RELAY: relay.c's buffers */
	struct shim_sock *live_next; /* relay.c's list of sessions */
};

/* sock_eng - the engine's table (loaded before any session exists). */
const struct shim_engine_ops *sock_eng(void);

/* sock_lock - take s->lock; -1 with errno EAGAIN if this thread already
   holds it (a signal handler re-entering).  sock_unlock releases it. */
int sock_lock(struct shim_sock *s);
void sock_unlock(struct shim_sock *s);
/* sock_lock_until - sock_lock, giving up (-1, ETIMEDOUT) at `until`
   (CLOCK_MONOTONIC): an exit must not wait for ever on a thread that a
   signal handler's _exit keeps from running on (one blocked in malloc
   behind the interrupted thread). */
int sock_lock_until(struct shim_sock *s, const struct timespec *until);
/* sock_held_here - 1 if this thread holds (or is taking) s->lock. */
int sock_held_here(const struct shim_sock *s);

/* sock_owned - 1 if this process owns the TLS session. */
static inline int sock_owned(const struct shim_sock *s)
{
	sock_fork_check();
	return s->owner_gen ==
	       atomic_load_explicit(&sock_fork_gen, memory_order_relaxed);
}

/* sock_kernel_fd - the descriptor the kernel must watch for the program's
   descriptor fd: the private socket on the owner's fast path, else fd. */
static inline int sock_kernel_fd(const struct shim_sock *s, int fd)
{
	return sock_fast(s) && sock_owned(s) && s->kfd >= 0 ? s->kfd : fd;
}

/* sock_notify - tell the observer (sock_observe) about s; no effect when
   none is registered. */
void sock_notify(struct shim_sock *s, enum sock_event ev, int fd);

/* sock_changed - s's state or hints changed (SOCK_EV_CHANGED). */
static inline void sock_changed(struct shim_sock *s)
{
	sock_notify(s, SOCK_EV_CHANGED, -1);
}

/* sock_place_high - move fd to a close-on-exec number above the program's
   own range (raising the soft RLIMIT_NOFILE when needed): the new number
   (fd closed), or -1 with errno (fd left as it was). */
int sock_place_high(int fd);


/* sock_open - the engine's open() for a connect to addr, with the name this
   thread resolved for it; refuses (one line) what only another thread's
   name would make a configured endpoint. */
enum shim_decision sock_open(const struct shim_engine_ops *e, int fd,
			     const struct sockaddr *addr, socklen_t len,
			     struct shim_tls **tls,
			     struct shim_session_info *info, int *err);
/* Within the module (callers hold s->lock where said). */
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

#endif
