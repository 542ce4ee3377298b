/*
 * ready.h - readiness emulation: poll/ppoll/select/pselect/epoll_* see a
 * TLS socket as the program expects, not as the kernel sees it.
 *
 * The kernel cannot see plaintext OpenSSL already holds, nor that a socket
 * whose TCP connect finished is still in its handshake.  For each TLS
 * socket the pure mask (ready_mask.h) says which events to ask the kernel
 * for, which to report without asking, and what the kernel's answer means
 * to the program; ready_drive.c applies it to a socket's snapshot
 * (sock_view), driving the handshake, flushing owned ciphertext and
 * probing for records on the way.  poll and select are ready_poll.c; the
 * epoll mirror is ready_epoll.c: it owns a copy (struct ready_reg) of
 * each epoll registration of a tracked socket, so the kernel's
 * registration can follow the socket's state, the program's epoll_data is
 * returned untouched, and one-shot and edge-triggered registrations get no
 * duplicate events.
 *
 * Who calls whom: hooks.c calls these; they call the socket module and the
 * fd table.  The socket module never calls the readiness module: it tells
 * the epoll mirror of its changes through the observer (sock_observe) the
 * mirror registers at its first registration.
 *
 * Thread-safety: registrations are guarded by one mutex, never held while
 * a socket call that takes the socket's lock is made.
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
/* ready_epoll_ctl_plain - epoll_ctl of a descriptor the shim does not
   track (the kernel's call, once the set's deferred deletions that could
   share its data are done). */
int ready_epoll_ctl_plain(int epfd, int op, int fd, struct epoll_event *ev);
int ready_epoll_wait(int epfd, struct epoll_event *events, int max,
		     const struct timespec *timeout, const sigset_t *mask);

/* ready_has_set - 1 if a tracked socket has ever been registered in epfd
   (its waits are then the shim's, whatever it holds now). */
int ready_has_set(int epfd);

/* ready_bypass_begin / ready_bypass_end - around the kernel's wait on an
   epoll set that has had no TLS socket (!ready_has_set): begin returns 1
   if the wait may bypass the shim (0: take ready_epoll_wait); end takes
   the kernel's result n and returns it, its events translated if a TLS
   socket was added to the set during the wait, or READY_AGAIN if none of
   them is left (then wait again with ready_epoll_wait).  errno is kept. */
#define READY_AGAIN (-2)
int ready_bypass_begin(int epfd);
int ready_bypass_end(int epfd, struct epoll_event *ev, int n);

/* ready_atfork_prepare / ready_atfork_release - around fork() (hooks.c's
   handlers, before the fd table's lock and after it): a child never
   inherits the epoll mirror's lock held by another thread.  The mirror's
   lock is a leaf: nothing under it takes another lock of the shim. */
void ready_atfork_prepare(void);
void ready_atfork_release(void);
/* ready_atfork_child - the child's release: the waits other threads had
   in progress are no longer (none will end in the child). */
void ready_atfork_child(void);

/* ready_is_epfd - 1 if fd is an epoll fd the shim keeps state for. */
int ready_is_epfd(int fd);

/* ready_epfd_new - epfd is a new epoll set (epoll_create*): its state,
   kept from the start so that polling it is seen whenever it happens. */
void ready_epfd_new(int epfd);

/* ready_epfd_dup - newfd is a new number of oldfd (dup, dup2, dup3,
   F_DUPFD): if oldfd is an epoll set, newfd is the same set, waited on
   and changed as it is, until the last of its numbers is closed. */
void ready_epfd_dup(int oldfd, int newfd);

/* ready_epfd_reused - a hooked call handed out fd as a new file: if it
   was an epoll set's number (closed past the hooks), the set forgets it
   (and goes with its last number). */
void ready_epfd_reused(int fd);

/* ready_closing_range - close_range(first, last) or closefrom(first) is
   about to close every number in [first, last]: the epoll sets' among
   them go (as ready's close observer does for each close()). */
void ready_closing_range(unsigned first, unsigned last);

/* ready_epfd_watched - fd is polled by the program (poll, select, or
   registered in an epoll set): if it is an epoll set, the kernel's
   readiness of it is the program's from now on (no synthetic
   writability, no deferred deletion). */
void ready_epfd_watched(int fd);

#endif
