/*
 * block.c - blocking emulation on the real (non-blocking) kernel socket.
 * Deadline arithmetic is deadline.c's.
 */
#include "block.h"
#include "real.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>

int block_deadline_tv(struct timespec *out, const struct timeval *tv)
{
	if (tv->tv_sec == 0 && tv->tv_usec == 0)
		return 0;
	deadline_in_ms(out, (long)tv->tv_sec * DEADLINE_MS_PER_S +
				    (tv->tv_usec + DEADLINE_US_PER_MS - 1) /
					    DEADLINE_US_PER_MS);
	return 1;
}

/*
 * A blocking recv()/send() is restarted after a handler with SA_RESTART,
 * but poll() never is.  We cannot tell which signal arrived, so restart
 * only when every installed handler asks for it.
 */
static int block_all_handlers_restart(void)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		/* faults are raised by the faulting thread itself: they
		   cannot be what interrupted a wait (sanitizers and crash
		   reporters install these without SA_RESTART) */
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV ||
		    sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
		    sig == SIGTRAP || sig == SIGSYS)
			continue;
		if (sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
			continue;
		if (!(sa.sa_flags & SA_RESTART))
			return 0;
	}
	return 1;
}

int block_wait(int fd, short events, const struct timespec *deadline)
{
	return block_wait2(fd, events, -1, 1, deadline);
}

static int block_wait_core(int fd, short events, int wake_fd, int restart,
			   const struct timespec *deadline, int own_deadline);

int block_wait2(int fd, short events, int wake_fd, int restart,
		const struct timespec *deadline)
{
	return block_wait_core(fd, events, wake_fd, restart, deadline, 0);
}

int block_wait_handshake(int fd, short events, const struct timespec *deadline,
			 int prog_timeout)
{
	return block_wait_core(fd, events, -1, !prog_timeout, deadline, 1);
}

static int block_wait_core(int fd, short events, int wake_fd, int restart,
			   const struct timespec *deadline, int own_deadline)
{
	struct pollfd p[2] = { { .fd = fd, .events = events },
			       { .fd = wake_fd, .events = POLLIN } };

	for (;;) {
		int ms = deadline ? deadline_left_ms(deadline) : -1;
		int rc;

		if (deadline != NULL && ms == 0) {
			errno = EAGAIN;
			return -1;
		}
		rc = real.poll(p, wake_fd >= 0 ? 2 : 1, ms);
		if (rc > 0)
			return 0;
		if (rc == 0)
			continue; /* re-check: poll may round down */
		if (errno != EINTR)
			return -1;
		if (!restart || (deadline != NULL && !own_deadline) ||
		    !block_all_handlers_restart())
			return -1;
	}
}
