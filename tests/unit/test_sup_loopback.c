/*
 * test_sup_loopback.c - the supervisor's loopback pair (tools/sup_relay.c):
 * the two ends are connected to each other, and a local process that
 * connects to the temporary listener between listen() and accept() - the
 * race that would hand it the user's authenticated connection - is closed
 * unserved while the supervisor's own connection is still accepted; no
 * listener is left open.  Linked with -Wl,--wrap=listen: __wrap_listen
 * plays the racer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervise.h"

int __real_listen(int fd, int backlog);
int __wrap_listen(int fd, int backlog);

static int racers;       /* connections the racer makes before the pair's */
static int racer_fd[4];
static struct sockaddr_in listened; /* where the listener was */

int __wrap_listen(int fd, int backlog)
{
	socklen_t len = sizeof(listened);
	int rc = __real_listen(fd, backlog);

	if (rc < 0 || getsockname(fd, (struct sockaddr *)&listened, &len) < 0)
		return rc;
	for (int i = 0; i < racers; i++) {
		racer_fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(racer_fd[i], (struct sockaddr *)&listened,
			    sizeof(listened)) < 0) {
			close(racer_fd[i]);
			racer_fd[i] = -1;
		}
	}
	return rc;
}

static void assert_pair(int near, int far)
{
	struct sockaddr_in a, b;
	socklen_t la = sizeof(a), lb = sizeof(b);
	char buf[8];

	assert_int_equal(getpeername(near, (struct sockaddr *)&a, &la), 0);
	assert_int_equal(getsockname(far, (struct sockaddr *)&b, &lb), 0);
	assert_memory_equal(&a.sin_addr, &b.sin_addr, sizeof(a.sin_addr));
	assert_int_equal(a.sin_port, b.sin_port);
	assert_int_equal(send(near, "ping", 4, 0), 4);
	assert_int_equal(poll(&(struct pollfd){ .fd = far, .events = POLLIN },
			      1, 2000), 1);
	assert_int_equal(recv(far, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "ping", 4);
}

/* The listener is gone: a new connection to its port is refused. */
static void assert_no_listener(void)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(connect(c, (struct sockaddr *)&listened,
				 sizeof(listened)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(c);
}

static void test_pair(void **state)
{
	int near, far, err = 0;

	(void)state;
	racers = 0;
	assert_int_equal(sup_loopback_pair(&near, &far, &err), 0);
	assert_pair(near, far);
	assert_no_listener();
	close(near);
	close(far);
}

/* The racer's connection was closed unserved: it reads the end. */
static void assert_racer_closed(int fd)
{
	char buf[8];
	ssize_t n;

	assert_int_equal(poll(&(struct pollfd){ .fd = fd, .events = POLLIN },
			      1, 2000), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void test_racer_first(void **state)
{
	int near, far, err = 0;

	(void)state;
	/* backlog 1 takes one racer; a second may wait in the SYN queue */
	for (int n = 1; n <= 2; n++) {
		racers = n;
		assert_int_equal(sup_loopback_pair(&near, &far, &err), 0);
		assert_pair(near, far);
		assert_no_listener();
		assert_true(racer_fd[0] >= 0);
		assert_racer_closed(racer_fd[0]);
		for (int i = 0; i < n; i++)
			if (racer_fd[i] >= 0)
				close(racer_fd[i]);
		close(near);
		close(far);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair),
		cmocka_unit_test(test_racer_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
