/*
 * block.h - waiting on a real fd the way a blocking socket call waits:
 * until ready, until a deadline (SO_RCVTIMEO / SO_SNDTIMEO / handshake
 * timeout), or until a signal interrupts it (EINTR exactly when the real
 * call would return it).  Thread-safe; holds no lock while waiting.
 */
#ifndef SHIM_BLOCK_H
#define SHIM_BLOCK_H

#include <sys/time.h>
#include <time.h>

#include "deadline.h"

/* block_deadline_tv - now + a socket timeout (SO_RCVTIMEO/SO_SNDTIMEO,
   rounded up to a millisecond) into *out and 1; a zero timeval means
   none: 0, *out untouched. */
int block_deadline_tv(struct timespec *out, const struct timeval *tv);

/*
 * block_wait - wait until fd has one of `events` (POLLIN/POLLOUT), an error
 * or hang-up.  deadline NULL waits forever.
 * Returns 0 when ready, -1 with errno EAGAIN at the deadline, or EINTR when
 * a signal arrived and the real call would not have been restarted (a
 * handler without SA_RESTART, or a socket timeout set: see signal(7)).
 */
int block_wait(int fd, short events, const struct timespec *deadline);

/* block_wait2 - block_wait, also returning 0 when wake_fd (if >= 0) is
   readable or hung up: the fast path's waits end when relay.c takes the
   connection over, since it then writes to the program's descriptor.
   restart 0: a signal ends the wait (EINTR) even after SA_RESTART
   handlers, as a call that has transferred part of its bytes returns
   that part rather than restart. */
int block_wait2(int fd, short events, int wake_fd, int restart,
		const struct timespec *deadline);

/* block_wait_handshake - block_wait for a blocking connect()'s handshake,
   whose deadline is the shim's own (the handshake timeout): a signal
   whose handlers all have SA_RESTART restarts the wait, as the kernel
   restarts a blocking connect, unless the program set a timeout of its
   own on the socket (prog_timeout: SO_SNDTIMEO; then EINTR, as the
   kernel's). */
int block_wait_handshake(int fd, short events, const struct timespec *deadline,
			 int prog_timeout);

#endif
