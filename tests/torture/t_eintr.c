/*
 * t_eintr - blocking calls interrupted by a signal handler.
 *
 * A connection waits on "BLPOP key 0" (no answer until another connection
 * pushes).  A one-shot 200 ms ITIMER_REAL raises SIGALRM in the main thread.
 *   - handler without SA_RESTART: read() and then recv() fail with EINTR
 *     after about 200 ms, having run the handler once each;
 *   - handler with SA_RESTART: read() is restarted and returns the BLPOP
 *     reply when a helper thread pushes, 700 ms later; the handler ran while
 *     the read was blocked;
 *   - with SA_RESTART, poll() still fails with EINTR (poll is never
 *     restarted, see signal(7)).
 *   - with SA_RESTART, recv(MSG_WAITALL) for a PING's reply and a
 *     BLPOP's, interrupted after the first came: returns that part (a
 *     call that has transferred bytes is not restarted), and the rest
 *     follows in the next call.
 *   - with SA_RESTART and SIGALRM every 500 us, 30 blocking connect()s
 *     (no SO_SNDTIMEO) succeed: the kernel restarts a blocking connect
 *     after such a handler (through the shim the wait for the TLS
 *     handshake returned EINTR).
 *
 * Checks: errno and timing as above; the BLPOP replies byte-exact, so an
 * interrupted call loses or duplicates nothing.
 */
#include <sys/time.h>

#include "torture.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	alarms++;
}

static void handle(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die_errno("sigaction(SIGALRM)");
}

static void arm_timer(int ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die_errno("setitimer");
}

static void expect_eintr(int fd, int use_recv, const char *what)
{
	char buf[64];
	sig_atomic_t before = alarms;
	double t0, dt;
	ssize_t r;

	t_phase = what;
	arm_timer(200);
	t0 = t_now_ms();
	r = use_recv ? recv(fd, buf, sizeof(buf), 0) : read(fd, buf, sizeof(buf));
	dt = t_now_ms() - t0;
	if (r >= 0)
		die("%s: returned %zd after %.0f ms, expected -1/EINTR", what, r, dt);
	if (errno != EINTR)
		die_errno("%s: failed after %.0f ms, but not with EINTR", what, dt);
	if (alarms != before + 1)
		die("%s: EINTR, but the handler ran %d times", what, (int)(alarms - before));
	if (dt < 150 || dt > 3000)
		die("%s: EINTR after %.0f ms, timer was 200 ms", what, dt);
	printf("%s: EINTR after %.0f ms\n", what, dt);
	t_checked();
}

struct pusher {
	int fd;
	const char *key;
	const char *value;
	int delay_ms;
};

static void *pusher_main(void *arg)
{
	struct pusher *p = arg;

	t_sleep_ms(p->delay_ms);
	t_cmd_expect(p->fd, ":1\r\n", "LPUSH", p->key, p->value, NULL);
	return NULL;
}

/* Run pusher_main in a thread that never takes SIGALRM. */
static pthread_t start_pusher(struct pusher *p)
{
	sigset_t block, old;
	pthread_t th;

	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (pthread_create(&th, NULL, pusher_main, p) != 0)
		die("pthread_create(pusher) failed");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return th;
}

static void blpop_reply(struct tbuf *exp, const char *key, const char *value)
{
	exp->len = 0;
	tbuf_add(exp, "*2\r\n", 4);
	resp_bulk(exp, key, strlen(key));
	resp_bulk(exp, value, strlen(value));
}

int main(int argc, char **argv)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct pusher pu;
	struct pollfd pfd;
	char key[128];
	double t0, dt;
	pthread_t th;
	int c, p, n;

	t_init(argc, argv);
	t_key(key, sizeof(key), "list");
	c = t_connect();
	p = t_connect();
	t_cmd_expect(p, ":0\r\n", "DEL", key, NULL);
	resp_cmd(&cmd, "BLPOP", key, "0", NULL);
	t_write_all(c, cmd.p, cmd.len);

	handle(0);
	expect_eintr(c, 0, "read, handler without SA_RESTART");
	expect_eintr(c, 1, "recv, handler without SA_RESTART");

	/* SA_RESTART: the read continues through the signal */
	t_phase = "read, handler with SA_RESTART";
	handle(SA_RESTART);
	pu = (struct pusher){ p, key, "restarted", 700 };
	th = start_pusher(&pu);
	n = alarms;
	arm_timer(200);
	t0 = t_now_ms();
	blpop_reply(&exp, key, "restarted");
	t_expect(c, "BLPOP reply to a read restarted after SIGALRM (SA_RESTART)", exp.p, exp.len);
	dt = t_now_ms() - t0;
	pthread_join(th, NULL);
	if (alarms != n + 1)
		die("SA_RESTART: the handler ran %d times during the read, expected once",
		    (int)(alarms - n));
	if (dt < 500)
		die("SA_RESTART: the reply came after %.0f ms, before the push at 700 ms", dt);
	printf("read, handler with SA_RESTART: reply after %.0f ms, handler ran\n", dt);

	/* SA_RESTART does not restart poll() */
	t_phase = "poll, handler with SA_RESTART";
	t_write_all(c, cmd.p, cmd.len);
	pfd = (struct pollfd){ c, POLLIN, 0 };
	n = alarms;
	arm_timer(200);
	t0 = t_now_ms();
	if (poll(&pfd, 1, 5000) != -1 || errno != EINTR)
		die_errno("poll with SA_RESTART handler: expected -1/EINTR (revents 0x%x)", pfd.revents);
	dt = t_now_ms() - t0;
	if (alarms != n + 1 || dt < 150 || dt > 3000)
		die("poll: EINTR after %.0f ms with %d handler runs", dt, (int)(alarms - n));
	t_checked();
	t_cmd_expect(p, ":1\r\n", "LPUSH", key, "after-poll", NULL);
	blpop_reply(&exp, key, "after-poll");
	t_expect(c, "BLPOP reply after poll's EINTR", exp.p, exp.len);

	/* SA_RESTART does not restart a call that has moved bytes */
	t_phase = "recv(MSG_WAITALL) with part of it, handler with SA_RESTART";
	{
		struct tbuf two = { 0 }, want = { 0 };
		char got[256];
		ssize_t r;

		resp_cmd(&two, "PING", NULL);
		tbuf_add(&two, cmd.p, cmd.len);
		t_write_all(c, two.p, two.len);
		tbuf_add(&want, "+PONG\r\n", 7);
		blpop_reply(&exp, key, "waitall");
		tbuf_add(&want, exp.p, exp.len);
		pu = (struct pusher){ p, key, "waitall", 700 };
		th = start_pusher(&pu);
		n = alarms;
		arm_timer(200);
		r = recv(c, got, want.len, MSG_WAITALL);
		if (r != 7)
			die_errno("recv(MSG_WAITALL) interrupted after the PONG "
				  "(SA_RESTART): %zd, expected the 7 bytes it had",
				  r);
		if (alarms != n + 1)
			die("MSG_WAITALL: the handler ran %d times",
			    (int)(alarms - n));
		t_read_exact(c, got + 7, want.len - 7, "the rest after MSG_WAITALL");
		t_compare("PONG and BLPOP replies around the signal", want.p,
			  want.len, got, want.len);
		pthread_join(th, NULL);
		tbuf_free(&two);
		tbuf_free(&want);
	}

	/* SA_RESTART restarts a blocking connect() */
	t_phase = "blocking connect, SIGALRM every 500 us with SA_RESTART";
	{
		struct itimerval it = { { 0, 500 }, { 0, 500 } }, off = { 0 };

		n = alarms;
		if (setitimer(ITIMER_REAL, &it, NULL) < 0)
			die_errno("setitimer");
		for (int i = 0; i < 30; i++) {
			int fd = t_connect(); /* dies on EINTR */

			t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
			close(fd);
		}
		if (setitimer(ITIMER_REAL, &off, NULL) < 0)
			die_errno("setitimer");
		if (alarms == n)
			die("connect: the handler never ran (premise)");
		t_checked();
		printf("blocking connect, SA_RESTART: 30 connections, handler "
		       "ran %d times\n", (int)(alarms - n));
	}

	t_cmd_expect(c, "+PONG\r\n", "PING", NULL);
	close(c);
	close(p);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
