/*
 * relay.h - the watcher and relay for bytes that reach a TLS connection's
 * socketpair by paths no hook sees (stdio, dprintf, aio, io_uring, raw
 * syscall(), a child that was given the descriptor...).
 *
 * One thread per process, started with the first TLS connection, all
 * signals blocked.  It watches the shim's end of every connection's
 * socketpair (one epoll set; nothing arrives there while the program
 * uses the hooks, so it sleeps).  When bytes or a hang-up arrive, the
 * connection switches for good to RELAY: the thread then carries both
 * directions between the socketpair and the TLS session, finishing the
 * handshake first (the program's bytes wait in the socketpair until the
 * peer is verified), and ends the session when the program's end is closed
 * by everyone holding it.
 *
 * Locking: relay's own mutex guards its list and epoll registrations; it
 * may be taken while a socket lock is held, never the other way round.
 */
#ifndef SHIM_RELAY_H
#define SHIM_RELAY_H

struct shim_sock;

/* relay_watch - watch s->shim_end (caller holds s->lock).  Takes a
   reference on s, dropped by relay_unwatch.  0, or -1 with errno. */
int relay_watch(struct shim_sock *s);

/* relay_unwatch - stop watching s (caller holds s->lock and a reference
   of its own).  No effect if s is not watched. */
void relay_unwatch(struct shim_sock *s);

/* relay_take - switch s to RELAY now (caller holds a reference, not the
   lock), saying why at info; no effect unless s is on the fast path. */
void relay_take(struct shim_sock *s, const char *why);

/* relay_take_written_locked - before a write on the fast path (caller
   holds s->lock): if bytes wait at s's end of the socketpair (written to
   the program's descriptor past the hooks), switch s to RELAY now, so the
   write goes after them.  1 if s has left the fast path (relayed, or
   ended by the relay's first moves), else 0.  One system call. */
int relay_take_written_locked(struct shim_sock *s);

/* relay_take_unsent_locked - the program shut its writing down or closed
   its last descriptor on the fast path (caller holds s->lock) while the
   session still holds ciphertext the kernel has not taken: a FIN on the
   private socket now would cut those bytes off, so s switches to RELAY,
   which sends them, then the close_notify (and ends the session after
   them if nobody holds the program's end).  1 if s has left the fast
   path, else 0 (nothing unsent: the caller sends the FIN or ends the
   session itself). */
int relay_take_unsent_locked(struct shim_sock *s);

/* relay_shut_written_locked - the program shut its writing down on the
   fast path (caller holds s->lock; the TLS session said close_notify):
   its end of the socketpair is shut for writing too, so a write past the
   hooks fails with EPIPE as after a kernel shutdown(SHUT_WR), and the
   watcher looks only for a hang-up (the end of stream it now sees there
   is no byte to carry). */
void relay_shut_written_locked(struct shim_sock *s, int fd);

/* relay_end_state - what waits at s's end of the socketpair: 0 nothing, 1
   bytes (or a half-close), 2 a hang-up with nothing unread: nobody holds
   the program's end any more. */
int relay_end_state(const struct shim_sock *s);

/* relay_private_fds - the shim's own descriptors in [first, last], sorted,
   in a malloc'ed array of *n (NULL when none; *n = -1 on ENOMEM). */
int *relay_private_fds(unsigned first, unsigned last, int *n);

/* relay_seal_private - before an exec: every descriptor of the shim's own
   closes on exec again, whatever cleared the flag (a raw fcntl system
   call), so that the new program cannot inherit a connection's network
   socket.  Never waits for the lock: if another thread holds it for long,
   nothing is done.  Safe in a fork or vfork child and a signal handler. */
void relay_seal_private(void);

/* relay_is_private_fd - 1 if fd is one of the shim's own descriptors. */
int relay_is_private_fd(int fd);

/* relay_read_error - the error a relayed session ended with (0 if none):
   a hooked read that meets the end of stream reports it, every time, as
   the fast path's session does (a cut or forged stream never reads as a
   clean end). */
int relay_read_error(struct shim_sock *s);

/* relay_write_reset - ECONNRESET once if the server reset the relayed
   session (the relay met it), for the program's first write that then
   fails: the kernel's socketpair can only say EPIPE. */
int relay_write_reset(struct shim_sock *s);

/* relay_drain - the process is ending (exit, _exit) or its image is
   (an exec): give the thread up to 2 s to carry what the program wrote
   past the hooks and is still in flight.  No effect outside the process
   that runs the thread. */
void relay_drain(void);

/* relay_atfork_child - in a fork() child: forget the parent's thread and
   close the child's copies of the parent's private descriptors. */
void relay_atfork_child(void);

#endif
