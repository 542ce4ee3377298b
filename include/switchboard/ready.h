/*
 * ready.h - readiness emulation: poll/ppoll/select/pselect/epoll_* see a
 * TLS socket as the program expects, not as the kernel sees it.
 *
 * The kernel cannot see plaintext OpenSSL already holds, nor that a socket
 * whose TCP connect finished is still in its handshake.  For each tracked
 * socket, ready_prepare() says which events to ask the kernel for and which
 * to report without asking; ready_complete() turns the kernel's answer into
 * the program's, driving the handshake and flushing owned ciphertext on the
 * way.  epoll registrations of tracked sockets are mirrored (struct
 * ready_reg) so the kernel's registration can follow the socket's state,
 * the program's epoll_data is returned untouched, and one-shot and
 * edge-triggered registrations get no duplicate events.
 *
 * Thread-safety: registration lists are guarded by one mutex, never held
 * while a socket lock is taken.
 */
#ifndef SHIM_READY_H
#define SHIM_READY_H

#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

struct shim_sock;

/* The poll family, for programs that have tracked sockets (else the hooks
   call libc directly).  Same contracts as the real calls. */
int ready_poll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
	       const sigset_t *mask);
int ready_select(int nfds, fd_set *r, fd_set *w, fd_set *e,
		 struct timespec *timeout, const sigset_t *mask,
		 int update_timeout);
/* ready_select_has_tls - 1 if any fd in the sets is a TLS socket. */
int ready_select_has_tls(int nfds, fd_set *r, fd_set *w, fd_set *e);
int ready_epoll_ctl(struct shim_sock *s, int epfd, int op, int fd,
		    struct epoll_event *ev);
int ready_epoll_wait(int epfd, struct epoll_event *events, int max,
		     const struct timespec *timeout, const sigset_t *mask);

/* ready_has_set - 1 if epfd has registrations of tracked sockets. */
int ready_has_set(int epfd);

/* ready_is_epfd - 1 if fd is an epoll fd the shim keeps state for. */
int ready_is_epfd(int fd);

/* A tracked socket changed state: re-register it with the kernel where
   its registrations need other events.  Caller holds a reference. */
void ready_sync(struct shim_sock *s);

/* fd (a reference to s) was closed: forget registrations made through it. */
void ready_fd_closed(struct shim_sock *s, int fd);

/* fd was an epoll instance that is now closed. */
void ready_epfd_closed(int epfd);

/* The kernel descriptor behind s changes (connect moves the connection to
   its private socket; relay.c hands the program's descriptor back to the
   kernel): ready_detach removes s's registrations from the kernel before,
   ready_attach adds them again after; ready_rebind does both for every
   registration whose descriptor changed.  Caller holds a reference. */
void ready_detach(struct shim_sock *s);
void ready_attach(struct shim_sock *s);
void ready_rebind(struct shim_sock *s);

/* The socket is no longer tracked (connect passed through) or is freed. */
void ready_forget(struct shim_sock *s);

#endif
