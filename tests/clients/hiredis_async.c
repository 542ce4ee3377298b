/*
 * hiredis_async.c - a hiredis asynchronous client on libevent, unmodified
 * by the shim, that checks every reply byte-exact.
 *
 *   hiredis_async HOST PORT
 *
 * Two async contexts, both connected without blocking (redisAsyncConnect:
 * connect() answers EINPROGRESS, hiredis waits for writability and reads
 * SO_ERROR):
 *   sub  SUBSCRIBEs to a channel before its connection is up (the command
 *        waits in hiredis's output buffer until the handshake is done);
 *   cmd  once the subscription is confirmed, SETs N_KEYS keys with values of
 *        0 bytes to 1 MiB, WINDOW commands in flight, a PUBLISH every
 *        PUB_EVERY SETs (payloads up to 256 KiB); then GETs every key in
 *        one burst (N_KEYS commands written before the first reply).
 * Every SET must answer +OK, every PUBLISH :1, every GET the exact bytes;
 * the subscriber must receive every message, in order, byte-exact.  Values
 * are binary (NUL, CR, LF included) and regenerated for the comparison.
 *
 * The libevent backend is libevent's choice (epoll here); EVENT_NOEPOLL=1
 * makes it poll, EVENT_NOEPOLL=1 EVENT_NOPOLL=1 select.  Exit status 0 and
 * "hiredis_async: ok (...)" on stdout when all is well; 1 and a "FAIL" line
 * on stderr otherwise; 3 when the watchdog (HIREDIS_ASYNC_TIMEOUT s, 60)
 * fires.
 */
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_KEYS    10000
#define WINDOW    200
#define PUB_EVERY 50
#define N_PUBS    (N_KEYS / PUB_EVERY)
#define MAX_VALUE (1 << 20)

static const char *phase = "start";
static char prefix[64];
static char channel[96];
static unsigned char *scratch; /* MAX_VALUE + 1 bytes for expected values */

static struct {
	int connected;
	int disconnected;
	int sets_sent, sets_ok;
	int pubs_sent, pubs_ok;
	int gets_sent, gets_ok;
	int msgs_ok;
	int subscribed;
	int finishing;
	size_t bytes_checked;
} st;

static redisAsyncContext *cmd_ctx, *sub_ctx;

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hiredis_async: FAIL [%s]: ", phase);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void on_alarm(int sig)
{
	char msg[160];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof msg, "hiredis_async: FAIL [%s]: watchdog fired "
		     "(sets %d/%d gets %d/%d msgs %d/%d)\n", phase, st.sets_ok,
		     N_KEYS, st.gets_ok, N_KEYS, st.msgs_ok, N_PUBS);
	if (n > 0)
		(void)!write(2, msg, (size_t)n);
	_exit(3);
}

/* Deterministic binary bytes: xorshift64 seeded from (kind, i). */
static void fill(unsigned char *buf, size_t len, uint64_t kind, uint64_t i)
{
	uint64_t x = (kind << 40) ^ (i * 0x9E3779B97F4A7C15ull) ^ 0x5DEECE66Dull;
	size_t k;

	for (k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[k] = (unsigned char)(x >> 24);
	}
}

/* Sizes: one empty value, ten of exactly 1 MiB, a hundred-odd of 64-128
 * KiB (many TLS records, several reads), the rest small (1-3000 bytes). */
static size_t value_len(int i)
{
	if (i == 0)
		return 0;
	if (i % 1000 == 999)
		return MAX_VALUE;
	if (i % 97 == 0)
		return 65536 + (size_t)(i * 31) % 65536;
	return 1 + (size_t)(i * 7919) % 3000;
}

/* Message j: "msg-<j>:" followed by up to 256 KiB of binary bytes. */
static size_t message(int j, unsigned char *buf)
{
	int n = snprintf((char *)buf, 32, "msg-%d:", j);
	size_t extra = (j % 20 == 7) ? 262144 - (size_t)j : (size_t)(j * 131) % 2000;

	fill(buf + n, extra, 2, (uint64_t)j);
	return (size_t)n + extra;
}

static void key_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "%skey:%d", prefix, i);
}

static void on_set(redisAsyncContext *c, void *r, void *priv);
static void on_get(redisAsyncContext *c, void *r, void *priv);
static void on_publish(redisAsyncContext *c, void *r, void *priv);

static void send_publish(int j)
{
	unsigned char *buf = malloc(262144 + 64);
	const char *argv[3];
	size_t argvlen[3];

	if (!buf)
		fail("malloc");
	argv[0] = "PUBLISH";
	argvlen[0] = 7;
	argv[1] = channel;
	argvlen[1] = strlen(channel);
	argv[2] = (const char *)buf;
	argvlen[2] = message(j, buf);
	if (redisAsyncCommandArgv(cmd_ctx, on_publish, (void *)(intptr_t)j, 3,
				  argv, argvlen) != REDIS_OK)
		fail("redisAsyncCommandArgv(PUBLISH %d): %s", j, cmd_ctx->errstr);
	free(buf);
	st.pubs_sent++;
}

static void send_set(int i)
{
	char key[96];
	size_t len = value_len(i);
	unsigned char *val = malloc(len + 1);
	const char *argv[3];
	size_t argvlen[3];

	if (!val)
		fail("malloc");
	key_of(i, key, sizeof key);
	fill(val, len, 1, (uint64_t)i);
	argv[0] = "SET";
	argvlen[0] = 3;
	argv[1] = key;
	argvlen[1] = strlen(key);
	argv[2] = (const char *)val;
	argvlen[2] = len;
	if (redisAsyncCommandArgv(cmd_ctx, on_set, (void *)(intptr_t)i, 3, argv,
				  argvlen) != REDIS_OK)
		fail("redisAsyncCommandArgv(SET %d): %s", i, cmd_ctx->errstr);
	free(val);
	st.sets_sent++;
	if (i % PUB_EVERY == PUB_EVERY - 1)
		send_publish(i / PUB_EVERY);
}

static void send_gets(void)
{
	char key[96];
	int i;

	phase = "GET burst";
	for (i = 0; i < N_KEYS; i++) {
		key_of(i, key, sizeof key);
		if (redisAsyncCommand(cmd_ctx, on_get, (void *)(intptr_t)i, "GET %s",
				      key) != REDIS_OK)
			fail("redisAsyncCommand(GET %d): %s", i, cmd_ctx->errstr);
		st.gets_sent++;
	}
}

/* Both contexts are done when every reply and every message is in. */
static void maybe_finish(void)
{
	if (st.finishing || st.gets_ok < N_KEYS || st.pubs_ok < N_PUBS ||
	    st.msgs_ok < N_PUBS)
		return;
	st.finishing = 1;
	phase = "disconnect";
	redisAsyncDisconnect(cmd_ctx);
	redisAsyncDisconnect(sub_ctx);
}

static redisReply *expect(redisAsyncContext *c, void *r, int type, const char *what,
			  int i)
{
	redisReply *reply = r;

	if (!reply)
		fail("%s %d: no reply (%s)", what, i, c->errstr ? c->errstr : "?");
	if (reply->type != type)
		fail("%s %d: reply type %d, wanted %d (%.*s)", what, i, reply->type,
		     type, reply->type == REDIS_REPLY_ERROR ? (int)reply->len : 0,
		     reply->type == REDIS_REPLY_ERROR ? reply->str : "");
	return reply;
}

static void on_set(redisAsyncContext *c, void *r, void *priv)
{
	int i = (int)(intptr_t)priv;
	redisReply *reply = expect(c, r, REDIS_REPLY_STATUS, "SET", i);

	if (strcmp(reply->str, "OK") != 0)
		fail("SET %d: +%s", i, reply->str);
	if (i != st.sets_ok)
		fail("SET reply %d arrived as reply number %d", i, st.sets_ok);
	st.sets_ok++;
	if (st.sets_sent < N_KEYS)
		send_set(st.sets_sent);
	else if (st.sets_ok == N_KEYS)
		send_gets();
}

static void on_publish(redisAsyncContext *c, void *r, void *priv)
{
	int j = (int)(intptr_t)priv;
	redisReply *reply = expect(c, r, REDIS_REPLY_INTEGER, "PUBLISH", j);

	if (reply->integer != 1)
		fail("PUBLISH %d reached %lld subscribers, wanted 1", j, reply->integer);
	st.pubs_ok++;
	maybe_finish();
}

static void on_get(redisAsyncContext *c, void *r, void *priv)
{
	int i = (int)(intptr_t)priv;
	redisReply *reply = expect(c, r, REDIS_REPLY_STRING, "GET", i);
	size_t len = value_len(i);

	if (i != st.gets_ok)
		fail("GET reply %d arrived as reply number %d", i, st.gets_ok);
	if (reply->len != len)
		fail("GET %d: %zu bytes, wanted %zu", i, reply->len, len);
	fill(scratch, len, 1, (uint64_t)i);
	if (memcmp(reply->str, scratch, len) != 0) {
		size_t k = 0;

		while (reply->str[k] == (char)scratch[k])
			k++;
		fail("GET %d: byte %zu of %zu differs", i, k, len);
	}
	st.bytes_checked += len;
	st.gets_ok++;
	maybe_finish();
}

static void on_sub(redisAsyncContext *c, void *r, void *priv)
{
	redisReply *reply = r, *kind;
	size_t len;
	int j;

	(void)priv;
	if (!reply) {
		if (st.finishing)
			return; /* the disconnect frees the subscription callback */
		fail("subscriber: no reply (%s)", c->errstr ? c->errstr : "?");
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
		fail("subscriber: reply type %d with %zu elements", reply->type,
		     reply->elements);
	kind = reply->element[0];
	if (kind->type != REDIS_REPLY_STRING)
		fail("subscriber: element 0 of type %d", kind->type);
	if (strcmp(kind->str, "subscribe") == 0) {
		if (st.subscribed++)
			fail("subscriber: confirmed twice");
		if (strcmp(reply->element[1]->str, channel) != 0)
			fail("subscriber: subscribed to '%s'", reply->element[1]->str);
		phase = "SET window";
		send_set(0);
		while (st.sets_sent < WINDOW)
			send_set(st.sets_sent);
		return;
	}
	if (strcmp(kind->str, "message") != 0)
		fail("subscriber: '%s' message", kind->str);
	j = st.msgs_ok;
	len = message(j, scratch);
	if (reply->element[2]->type != REDIS_REPLY_STRING ||
	    reply->element[2]->len != len ||
	    memcmp(reply->element[2]->str, scratch, len) != 0)
		fail("subscriber: message %d differs (%zu bytes, wanted %zu)", j,
		     reply->element[2]->len, len);
	st.bytes_checked += len;
	st.msgs_ok++;
	maybe_finish();
}

static void on_connect(const redisAsyncContext *c, int status)
{
	if (status != REDIS_OK)
		fail("connect: %s", c->errstr);
	st.connected++;
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
	if (status != REDIS_OK || !st.finishing)
		fail("disconnected before the end: %s", c->errstr ? c->errstr : "?");
	st.disconnected++;
}

static redisAsyncContext *open_ctx(struct event_base *base, const char *host,
				   int port)
{
	redisAsyncContext *c = redisAsyncConnect(host, port);

	if (!c || c->err)
		fail("redisAsyncConnect %s:%d: %s", host, port, c ? c->errstr : "OOM");
	if (redisLibeventAttach(c, base) != REDIS_OK)
		fail("redisLibeventAttach");
	redisAsyncSetConnectCallback(c, on_connect);
	redisAsyncSetDisconnectCallback(c, on_disconnect);
	return c;
}

int main(int argc, char **argv)
{
	struct event_base *base;
	const char *method, *tmo = getenv("HIREDIS_ASYNC_TIMEOUT");
	int port;

	if (argc != 3) {
		fprintf(stderr, "usage: hiredis_async HOST PORT\n");
		return 2;
	}
	port = atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(tmo ? (unsigned)atoi(tmo) : 60);
	snprintf(prefix, sizeof prefix, "ha:%d:", (int)getpid());
	snprintf(channel, sizeof channel, "%schan", prefix);
	scratch = malloc(MAX_VALUE + 1);
	base = event_base_new();
	if (!scratch || !base)
		fail("setup");
	method = event_base_get_method(base);

	phase = "connect";
	sub_ctx = open_ctx(base, argv[1], port);
	cmd_ctx = open_ctx(base, argv[1], port);
	/* Queued before the connection is up: hiredis sends it once writable. */
	if (redisAsyncCommand(sub_ctx, on_sub, NULL, "SUBSCRIBE %s", channel) != REDIS_OK)
		fail("SUBSCRIBE: %s", sub_ctx->errstr);

	if (event_base_dispatch(base) < 0)
		fail("event_base_dispatch failed");

	if (st.connected != 2 || st.disconnected != 2)
		fail("%d connects, %d clean disconnects; wanted 2 and 2", st.connected,
		     st.disconnected);
	if (st.sets_ok != N_KEYS || st.gets_ok != N_KEYS || st.pubs_ok != N_PUBS ||
	    st.msgs_ok != N_PUBS)
		fail("loop ended early: sets %d gets %d publishes %d messages %d",
		     st.sets_ok, st.gets_ok, st.pubs_ok, st.msgs_ok);
	event_base_free(base);
	free(scratch);
	printf("hiredis_async: ok (%d SET, %d GET, %d messages, %zu bytes checked, "
	       "libevent %s, keys %skey:0-%d)\n", N_KEYS, N_KEYS, N_PUBS,
	       st.bytes_checked, method, prefix, N_KEYS - 1);
	return 0;
}
