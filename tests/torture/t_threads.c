/*
 * t_threads - threads sharing one connection, and threads with their own.
 *
 * 1. Full duplex on one blocking connection: a reader thread blocks in
 *    read() BEFORE anything is sent; the main thread then writes 20000
 *    commands in batches while the reader consumes the replies.  A lock held
 *    across the reader's wait would stall the first write (the watchdog
 *    names the phase).
 * 2. Pub/sub: a reader thread blocks reading a subscribed connection while
 *    the main thread writes SUBSCRIBE and, later, UNSUBSCRIBE on that same
 *    connection; 2000 messages published from a second connection arrive in
 *    order.
 * 3. Eight threads, each with its own connection, run a pipelined workload.
 *
 * Checks: every reply and message byte-exact and counted; nothing more.
 */
#include "torture.h"

#define NCMDS 20000
#define NMSGS 2000
#define NTHREADS 8

struct reader {
	int fd;
	struct texp x;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char buf[8192];
	size_t want = 1;

	pthread_mutex_lock(&r->mu);
	r->started = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	while (!texp_done(&r->x)) {
		size_t left = r->x.len - r->x.pos, n = want < left ? want : left;
		ssize_t got = read(r->fd, buf, n);

		if (got < 0)
			die_errno("%s: reader thread: read at byte %zu", r->x.what, r->x.pos);
		if (got == 0)
			die("%s: reader thread: EOF at byte %zu of %zu", r->x.what, r->x.pos, r->x.len);
		texp_feed(&r->x, buf, (size_t)got);
		want = want * 3 % 8191 + 1;
	}
	return NULL;
}

/* Start the reader and return once it is (very likely) blocked in read(). */
static void start_reader(struct reader *r, pthread_t *th)
{
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(th, NULL, reader_main, r) != 0)
		die("pthread_create(reader) failed");
	pthread_mutex_lock(&r->mu);
	while (!r->started)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	t_sleep_ms(100);
}

static void full_duplex(void)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct reader r = { 0 };
	char key[128], val[64];
	size_t off = 0, batch = 1;
	pthread_t th;

	t_key(key, sizeof(key), "duplex");
	resp_cmd(&cmd, "DEL", key, NULL);
	tbuf_add(&exp, ":0\r\n", 4);
	for (int i = 1; i <= NCMDS; i++) {
		if (i % 3) {
			resp_cmd(&cmd, "INCR", key, NULL);
			tbuf_addf(&exp, ":%d\r\n", i - i / 3);
		} else {
			snprintf(val, sizeof(val), "echo-%d-%.*s", i, i % 37, "0123456789012345678901234567890123456");
			resp_cmd(&cmd, "ECHO", val, NULL);
			resp_bulk(&exp, val, strlen(val));
		}
	}
	resp_cmd(&cmd, "DEL", key, NULL);
	tbuf_add(&exp, ":1\r\n", 4);

	r.fd = t_connect();
	r.x = (struct texp){ "full duplex, 20000 replies", exp.p, exp.len, 0 };
	t_phase = "full duplex: first write while the reader thread is blocked in read()";
	start_reader(&r, &th);
	while (off < cmd.len) {
		size_t n = batch < cmd.len - off ? batch : cmd.len - off;

		t_write_all(r.fd, cmd.p + off, n);
		off += n;
		batch = batch * 7 % 65521 + 1;
		t_phase = "full duplex: writing while the reader thread reads";
	}
	t_phase = "full duplex: waiting for the reader thread";
	pthread_join(th, NULL);
	printf("full duplex: %d commands written, all replies read by the other thread\n",
	       NCMDS + 2);
	close(r.fd);
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

static void subscribe_reply(struct tbuf *b, const char *kind, const char *ch, int count)
{
	tbuf_addf(b, "*3\r\n$%zu\r\n%s\r\n", strlen(kind), kind);
	resp_bulk(b, ch, strlen(ch));
	tbuf_addf(b, ":%d\r\n", count);
}

static void pubsub(void)
{
	struct tbuf cmd = { 0 }, exp = { 0 }, pub = { 0 }, pubexp = { 0 };
	struct reader r = { 0 };
	char ch1[128], ch2[128], msg[96], *numsub;
	const char *ch;
	double deadline;
	int pfd;
	pthread_t th;

	t_key(ch1, sizeof(ch1), "ch1");
	t_key(ch2, sizeof(ch2), "ch2");
	r.fd = t_connect();
	pfd = t_connect();
	resp_cmd(&cmd, "SUBSCRIBE", ch1, NULL);
	t_write_all(r.fd, cmd.p, cmd.len);
	subscribe_reply(&exp, "subscribe", ch1, 1);
	t_expect(r.fd, "SUBSCRIBE ch1", exp.p, exp.len);

	exp.len = 0;
	subscribe_reply(&exp, "subscribe", ch2, 2);
	for (int i = 0; i < NMSGS; i++) {
		ch = i % 2 ? ch2 : ch1;
		snprintf(msg, sizeof(msg), "message %d %.*s", i, i % 50,
			 "\r\n-+$*:0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL");
		resp_cmd(&pub, "PUBLISH", ch, msg, NULL);
		tbuf_add(&pubexp, ":1\r\n", 4);
		tbuf_add(&exp, "*3\r\n$7\r\nmessage\r\n", 17);
		resp_bulk(&exp, ch, strlen(ch));
		resp_bulk(&exp, msg, strlen(msg));
	}
	subscribe_reply(&exp, "unsubscribe", ch2, 1);
	subscribe_reply(&exp, "unsubscribe", ch1, 0);

	r.x = (struct texp){ "pub/sub stream read by the reader thread", exp.p, exp.len, 0 };
	t_phase = "pub/sub: SUBSCRIBE written while the reader thread is blocked in read()";
	start_reader(&r, &th);
	cmd.len = 0;
	resp_cmd(&cmd, "SUBSCRIBE", ch2, NULL);
	t_write_all(r.fd, cmd.p, cmd.len);

	/* publish only once the server has the second subscription */
	t_phase = "pub/sub: waiting for the second subscription";
	deadline = t_now_ms() + 5000;
	for (;;) {
		struct tbuf want = { 0 };

		tbuf_add(&want, "*2\r\n", 4);
		resp_bulk(&want, ch2, strlen(ch2));
		tbuf_add(&want, ":1\r\n", 4);
		cmd.len = 0;
		resp_cmd(&cmd, "PUBSUB", "NUMSUB", ch2, NULL);
		t_write_all(pfd, cmd.p, cmd.len);
		numsub = t_read_reply(pfd, NULL, "PUBSUB NUMSUB");
		if (strcmp(numsub, want.p) == 0) {
			free(numsub);
			tbuf_free(&want);
			break;
		}
		free(numsub);
		tbuf_free(&want);
		if (t_now_ms() > deadline)
			die("pub/sub: SUBSCRIBE written by the main thread not in effect after 5s");
		t_sleep_ms(5);
	}

	t_phase = "pub/sub: publishing";
	t_write_all(pfd, pub.p, pub.len);
	t_expect(pfd, "PUBLISH replies", pubexp.p, pubexp.len);
	t_phase = "pub/sub: UNSUBSCRIBE written while the reader thread reads";
	cmd.len = 0;
	resp_cmd(&cmd, "UNSUBSCRIBE", ch2, NULL);
	resp_cmd(&cmd, "UNSUBSCRIBE", ch1, NULL);
	t_write_all(r.fd, cmd.p, cmd.len);
	t_phase = "pub/sub: waiting for the reader thread";
	pthread_join(th, NULL);
	t_cmd_expect(r.fd, "+PONG\r\n", "PING", NULL);
	printf("pub/sub: %d messages received by the reader thread\n", NMSGS);
	close(r.fd);
	close(pfd);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	tbuf_free(&pub);
	tbuf_free(&pubexp);
}

static void *worker_main(void *arg)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	char prefix[128], what[64];
	long id = (long)(intptr_t)arg;
	int fd = t_connect();

	snprintf(what, sizeof(what), "thread-%ld", id);
	t_key(prefix, sizeof(prefix), what);
	t_workload(&cmd, &exp, prefix, 200, (uint64_t)id + 100);
	t_workload_cleanup(&cmd, &exp, prefix, 200);
	t_write_all(fd, cmd.p, cmd.len);
	snprintf(what, sizeof(what), "thread %ld's own connection", id);
	t_expect(fd, what, exp.p, exp.len);
	close(fd);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	return NULL;
}

static void many(void)
{
	pthread_t th[NTHREADS];

	t_phase = "eight threads with their own connections";
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, worker_main, (void *)(intptr_t)i) != 0)
			die("pthread_create(worker %ld) failed", i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	printf("%d threads with their own connections: done\n", NTHREADS);
}

int main(int argc, char **argv)
{
	t_init(argc, argv);
	full_duplex();
	pubsub();
	many();
	t_done();
}
