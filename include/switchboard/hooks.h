/*
 * hooks.h - the glibc entry points hooks.c interposes that no public
 * header declares: the _FORTIFY_SOURCE checking variants a program built
 * with -D_FORTIFY_SOURCE calls instead of read(), recv(), poll()...
 * Declared here, as glibc defines them, so the definitions are checked
 * against a prototype like every other exported function.
 */
#ifndef SHIM_HOOKS_H
#define SHIM_HOOKS_H

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *alen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
		const sigset_t *mask, size_t fdslen);

#endif
