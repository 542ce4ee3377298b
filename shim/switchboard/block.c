/*
 * block.c - blocking emulation on the real (non-blocking) kernel socket.
 */
#include "block.h"
#include "real.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>

void block_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

void block_deadline_ms(struct timespec *out, long ms)
{
	block_now(out);
	out->tv_sec += ms / 1000;
	out->tv_nsec += (ms % 1000) * 1000000L;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}

int block_deadline_tv(struct timespec *out, const struct timeval *tv)
{
	if (tv->tv_sec == 0 && tv->tv_usec == 0)
		return 0;
	block_deadline_ms(out, (long)tv->tv_sec * 1000 +
				       (tv->tv_usec + 999) / 1000);
	return 1;
}

int block_remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	block_now(&now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
	if (ms < 0)
		return 0;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

int block_expired(const struct timespec *deadline)
{
	struct timespec now;

	block_now(&now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
		now.tv_nsec >= deadline->tv_nsec);
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
	return block_wait2(fd, events, -1, deadline);
}

int block_wait2(int fd, short events, int wake_fd,
		const struct timespec *deadline)
{
	struct pollfd p[2] = { { .fd = fd, .events = events },
			       { .fd = wake_fd, .events = POLLIN } };

	for (;;) {
		int ms = deadline ? block_remaining_ms(deadline) : -1;
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
		if (deadline != NULL || !block_all_handlers_restart())
			return -1;
	}
}
