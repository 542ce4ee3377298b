/*
 * t_switch.c - bytes written past the hooks (a raw syscall(SYS_write))
 * mixed with the program's hooked calls on one connection: through the
 * shim the first such bytes switch the connection from the fast path to
 * relay mode; on a kernel socket nothing changes.  Each case has its own
 * connection (T_SWITCH_CASE=NAME runs one).
 *
 *   shutwr    a PING by syscall(SYS_write), then shutdown(SHUT_WR): the
 *             reply, then the end of stream
 *   mix       ECHOs by every write form (write, writev, send MSG_DONTWAIT,
 *             sendmsg, sendto), each after one by syscall(SYS_write): the
 *             replies in the order written
 *   buffered  40 ECHOs written at once, the replies read 1 byte only, then
 *             a raw ECHO and a hooked ECHO: every reply in order, none lost
 *             or repeated
 *   blockfull a blocking write of 8 MiB while the server is busy (a 1 s
 *             script on another connection): the write returns every byte
 *             (a blocking socket's write is short only for a signal or
 *             SO_SNDTIMEO)
 *   blockpart the same, and meanwhile another thread clears FD_CLOEXEC
 *             (through the shim: a switch to relay mode in the middle of
 *             the write): every byte, in order
 *   waitall   recv(MSG_WAITALL) for two replies while the second command
 *             is written by syscall(SYS_write) in another thread: both
 *             replies whole in the one call
 *   names     getpeername, setsockopt(TCP_NODELAY), SO_TYPE after the
 *             switch: the TCP connection's, as before it
 *   peek      recv(MSG_PEEK) of a reply on the fast path, a switch, the
 *             same peek again: the same bytes, then every reply in order
 *   etswitch  EPOLLIN|EPOLLET, a reply read to EAGAIN, then a raw ECHO
 *             (the switch): its reply reported, and the next one too
 *   pollswitch  a non-blocking read meets EAGAIN, a raw PING (the switch):
 *             poll() reports its reply
 *   fork      a child's raw ECHO between two of the parent's (hooked):
 *             the replies in order; a child's raw ECHO while the parent
 *             waits for its reply in a hooked read
 *   dup       a raw ECHO on a dup2()ed number, a hooked one on the first,
 *             the dup closed, another: the replies in order
 *   etout     relayed, non-blocking, EPOLLOUT|EPOLLET: 8 MiB written to
 *             EAGAIN while the server is stalled, each edge awaited: all
 *             of it goes, the SET is answered
 *   wrshut    a PING, shutdown(SHUT_WR), then a raw syscall(SYS_write):
 *             EPIPE (the bytes can go nowhere), and still the PING's reply
 *             then the end of stream
 *   shutunsent  while the server is stalled, a non-blocking write of a
 *             pipeline of INCRs returns short (n bytes), then at once
 *             shutdown(SHUT_WR): the server gets those n bytes whole
 *             before the end (the counter, read on another connection,
 *             is n / one INCR's length); through the shim the session
 *             still held some of them when the FIN was asked for
 *   closeunsent the same with CLIENT REPLY OFF and close() for the
 *             shutdown: a kernel close sends what was written first too
 *   exitunsent  the same in a child on its own connection, which calls
 *             exit(0), then in another that calls _exit(0), neither
 *             closing it: the kernel closes a process's sockets at its
 *             end and sends what they hold (through the shim: the exit
 *             waits up to 2 s for it, longer than the server's stall)
 *   shutblock another thread blocked in a write of 8 MiB to a stalled
 *             server, then shutdown(SHUT_WR): the write returns what it
 *             had sent (a partial transfer: no SIGPIPE, which is left at
 *             its default here), and the shim logs no error for it
 *   relaybig  relayed (a raw PING), 300 GETs of a 1 MiB value, each
 *             reply awaited by poll() (5 s at most): all of every reply
 *             (plaintext the session holds past the relay's moves per
 *             wake-up is carried too)
 *
 * Checks: every reply byte-exact, and the counts and events above; after
 * each case that keeps its connection, a PING answered with nothing before
 * its reply (no byte lost or repeated).
 */
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "torture.h"

static void raw_write(int fd, const char *s)
{
	size_t n = strlen(s);

	if (syscall(SYS_write, fd, s, n) != (long)n)
		die_errno("%s: syscall(SYS_write)", t_phase);
}

static void read_eof(int fd, const char *what)
{
	char c;
	ssize_t r = read(fd, &c, 1);

	if (r != 0)
		die("%s: %zd (%s), not the end of stream", what, r,
		    r < 0 ? strerror(errno) : "a byte");
}

static void case_shutwr(int fd)
{
	t_phase = "shutwr";
	raw_write(fd, "PING\r\n");
	if (shutdown(fd, SHUT_WR) < 0)
		die_errno("shutwr: shutdown(SHUT_WR)");
	t_expect_str(fd, "shutwr: the reply to the raw PING", "+PONG\r\n");
	t_checked();
	read_eof(fd, "shutwr: after the reply");
	t_checked();
}

static void case_mix(int fd)
{
	struct tbuf exp = { 0 };
	char cmd[64];

	t_phase = "mix";
	for (int form = 0; form < 5; form++) {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		int n;

		snprintf(cmd, sizeof(cmd), "ECHO raw%d\r\n", form);
		raw_write(fd, cmd);
		tbuf_addf(&exp, "$4\r\nraw%d\r\n", form);
		n = snprintf(cmd, sizeof(cmd), "ECHO hook%d\r\n", form);
		tbuf_addf(&exp, "$5\r\nhook%d\r\n", form);
		iov[0].iov_base = cmd;
		iov[0].iov_len = 5;
		iov[1].iov_base = cmd + 5;
		iov[1].iov_len = (size_t)n - 5;
		switch (form) {
		case 0:
			t_write_all(fd, cmd, (size_t)n);
			break;
		case 1:
			if (writev(fd, iov, 2) != n)
				die_errno("mix: writev");
			break;
		case 2:
			if (send(fd, cmd, (size_t)n, MSG_DONTWAIT) != n)
				die_errno("mix: send(MSG_DONTWAIT)");
			break;
		case 3:
			if (sendmsg(fd, &mh, 0) != n)
				die_errno("mix: sendmsg");
			break;
		default:
			if (sendto(fd, cmd, (size_t)n, 0, NULL, 0) != n)
				die_errno("mix: sendto");
			break;
		}
	}
	t_expect(fd, "mix: the replies in order", exp.p, exp.len);
	t_checked();
	tbuf_free(&exp);
}

static void case_buffered(int fd)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	char c;

	t_phase = "buffered";
	for (int i = 0; i < 40; i++) {
		tbuf_addf(&cmd, "ECHO e%02d\r\n", i);
		tbuf_addf(&exp, "$3\r\ne%02d\r\n", i);
	}
	t_write_all(fd, cmd.p, cmd.len);
	/* the whole pipeline answered (decrypted, or in the kernel) first */
	t_sleep_ms(200);
	t_read_exact(fd, &c, 1, "buffered: the first byte");
	if (c != exp.p[0])
		die("buffered: first byte 0x%02x", (unsigned char)c);
	raw_write(fd, "ECHO raw\r\n");
	t_write_all(fd, "ECHO hook\r\n", 11);
	tbuf_addf(&exp, "$3\r\nraw\r\n$4\r\nhook\r\n");
	t_expect(fd, "buffered: the rest of the replies", exp.p + 1, exp.len - 1);
	t_checked();
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

struct rawlater {
	int fd;
	long ms;
	const char *s; /* NULL: clear FD_CLOEXEC (through the shim: relayed) */
};

static void *rawlater_main(void *arg)
{
	struct rawlater *r = arg;

	if (r->ms < 0) /* nothing to do */
		return NULL;
	t_sleep_ms(r->ms);
	if (r->s != NULL)
		raw_write(r->fd, r->s);
	else if (fcntl(r->fd, F_SETFD, 0) < 0)
		die_errno("fcntl(F_SETFD, 0)");
	return NULL;
}

/* A blocking write of 8 MiB while the server is stalled: every byte
   accepted in the one call; ms >= 0: another thread clears FD_CLOEXEC
   (through the shim: the switch to relay mode) ms into it. */
static void blockpart(int fd, long ms)
{
	size_t big = 8u << 20, hdr;
	struct tbuf b = { 0 };
	struct rawlater rl = { fd, ms, NULL };
	char key[128];
	pthread_t th;
	ssize_t w;
	int stall;

	t_key(key, sizeof(key), "big");
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ 256 * 1024 },
		       sizeof(int)) < 0)
		die_errno("setsockopt(SO_SNDBUF)");
	resp_cmd(&b, "SET", key, "", NULL);
	b.len -= 5; /* "0\r\n\r\n" out: the value's length instead */
	tbuf_addf(&b, "%zu\r\n", big);
	hdr = b.len;
	tbuf_reserve(&b, big + 2);
	memset(b.p + hdr, 'x', big);
	memcpy(b.p + hdr + big, "\r\n", 2);
	b.len = hdr + big + 2;
	stall = t_stall_server(1000000);
	if (pthread_create(&th, NULL, rawlater_main, &rl) != 0)
		die("pthread_create");
	w = write(fd, b.p, b.len);
	if (w < 0)
		die_errno("%s: write(%zu)", t_phase, b.len);
	if ((size_t)w != b.len)
		die("%s: a blocking write of %zu bytes returned %zd, no signal",
		    t_phase, b.len, w);
	t_checked();
	pthread_join(th, NULL);
	t_expect_str(stall, "the stalling script", ":1\r\n");
	close(stall);
	t_expect_str(fd, "the SET", "+OK\r\n");
	t_checked();
	tbuf_free(&b);
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
}

static void case_blockpart(int fd)
{
	t_phase = "blockpart";
	blockpart(fd, 300);
}

static void case_blockfull(int fd)
{
	t_phase = "blockfull";
	blockpart(fd, -1);
}

static void case_waitall(int fd)
{
	static const char exp[] = "+PONG\r\n$2\r\nwa\r\n";
	char got[sizeof(exp)];
	struct rawlater rl = { fd, 300, "ECHO wa\r\n" };
	pthread_t th;
	ssize_t r;

	t_phase = "waitall";
	t_write_all(fd, "PING\r\n", 6);
	if (pthread_create(&th, NULL, rawlater_main, &rl) != 0)
		die("pthread_create");
	r = recv(fd, got, sizeof(exp) - 1, MSG_WAITALL);
	pthread_join(th, NULL);
	if (r != (ssize_t)sizeof(exp) - 1)
		die("waitall: recv(%zu, MSG_WAITALL) returned %zd, no signal, "
		    "no end", sizeof(exp) - 1, r);
	t_compare("waitall: replies", exp, sizeof(exp) - 1, got, (size_t)r);
	t_checked();
}

/* the reply to a PING written just before shutdown(SHUT_WR) still comes,
   and a raw write after it fails as on a kernel socket */
static void case_wrshut(int fd)
{
	long w;

	t_phase = "wrshut";
	signal(SIGPIPE, SIG_IGN);
	t_write_all(fd, "PING\r\n", 6);
	if (shutdown(fd, SHUT_WR) < 0)
		die_errno("wrshut: shutdown(SHUT_WR)");
	w = syscall(SYS_write, fd, "PING\r\n", 6);
	if (w != -1 || errno != EPIPE)
		die("wrshut: syscall(SYS_write) after SHUT_WR: %ld (%s), not "
		    "EPIPE", w, w < 0 ? strerror(errno) : "written");
	t_checked();
	t_expect_str(fd, "wrshut: the reply sent before the shutdown",
		     "+PONG\r\n");
	t_checked();
	read_eof(fd, "wrshut: the end");
	t_checked();
	signal(SIGPIPE, SIG_DFL);
}

/* a child writes past the hooks (raw), the parent by hooked calls before
   and after it: the replies in that order; then a child's raw write while
   the parent waits in a hooked read for its reply */
static void case_fork(int fd)
{
	int st;
	pid_t pid;

	t_phase = "fork";
	t_write_all(fd, "ECHO p1\r\n", 9);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		raw_write(fd, "ECHO c1\r\n");
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("fork: the first child failed (status 0x%x)", st);
	t_write_all(fd, "ECHO p2\r\n", 9);
	t_expect_str(fd, "fork: p1, c1, p2",
		     "$2\r\np1\r\n$2\r\nc1\r\n$2\r\np2\r\n");
	t_checked();
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		t_sleep_ms(200);
		raw_write(fd, "ECHO c2\r\n");
		_exit(0);
	}
	t_expect_str(fd, "fork: the second child's reply", "$2\r\nc2\r\n");
	t_checked();
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("fork: the second child failed (status 0x%x)", st);
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
}

/* a raw write on a dup2()ed number, a hooked write on the first, the dup
   closed, another hooked write: every reply in order */
static void case_dup(int fd)
{
	int d = dup2(fd, 77);

	t_phase = "dup";
	if (d != 77)
		die_errno("dup: dup2(%d, 77)", fd);
	raw_write(d, "ECHO d1\r\n");
	t_write_all(fd, "ECHO o1\r\n", 9);
	if (close(d) < 0)
		die_errno("dup: close(77)");
	t_write_all(fd, "ECHO o2\r\n", 9);
	t_expect_str(fd, "dup: d1, o1, o2",
		     "$2\r\nd1\r\n$2\r\no1\r\n$2\r\no2\r\n");
	t_checked();
}

/* relayed (a raw PING), non-blocking, EPOLLOUT|EPOLLET: 8 MiB written
   to EAGAIN while the server is stalled, each new edge awaited: every
   byte goes, the SET is answered */
static void case_etout(int fd)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	size_t big = 8u << 20, off = 0;
	struct tbuf b = { 0 };
	unsigned eagains = 0;
	char key[128];
	int ep = epoll_create1(EPOLL_CLOEXEC), stall;

	t_phase = "etout";
	t_key(key, sizeof(key), "etout");
	raw_write(fd, "PING\r\n");
	t_expect_str(fd, "etout: raw PING", "+PONG\r\n");
	resp_cmd(&b, "SET", key, "", NULL);
	b.len -= 5;
	tbuf_addf(&b, "%zu\r\n", big);
	tbuf_reserve(&b, big + 2);
	memset(b.p + b.len, 'y', big);
	memcpy(b.p + b.len + big, "\r\n", 2);
	b.len += big + 2;
	t_set_nonblock(fd, 1);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die_errno("etout: epoll");
	if (epoll_wait(ep, &ev, 1, 1000) != 1)
		die("etout: idle socket not writable");
	stall = t_stall_server(1000000);
	while (off < b.len) {
		ssize_t w = write(fd, b.p + off, b.len - off);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN)
			die_errno("etout: write at %zu", off);
		eagains++;
		if (epoll_wait(ep, &ev, 1, 10000) != 1)
			die("etout: no EPOLLOUT edge in 10 s at %zu of %zu "
			    "(%u EAGAIN)", off, b.len, eagains);
	}
	if (eagains == 0)
		die("etout: 8 MiB without EAGAIN");
	t_checked();
	t_set_nonblock(fd, 0);
	t_expect_str(stall, "the stalling script", ":1\r\n");
	close(stall);
	t_expect_str(fd, "etout: the SET", "+OK\r\n");
	t_checked();
	t_cmd_expect(fd, ":1\r\n", "DEL", key, NULL);
	tbuf_free(&b);
	close(ep);
}

enum unsent_how { BY_SHUTDOWN, BY_CLOSE, BY_EXIT, BY__EXIT };

/* exitunsent: the write of b in a child on its own connection, which ends
   by how without closing it; the count written, as the child saw it */
static ssize_t unsent_child(const struct tbuf *b, enum unsent_how how)
{
	int pfd[2], st;
	ssize_t w = -1;
	pid_t pid;

	if (pipe(pfd) < 0)
		die_errno("%s: pipe", t_phase);
	pid = fork();
	if (pid < 0)
		die_errno("%s: fork", t_phase);
	if (pid == 0) {
		int c = t_connect();

		t_set_nonblock(c, 1);
		w = write(c, b->p, b->len);
		if (write(pfd[1], &w, sizeof(w)) != sizeof(w))
			_exit(3);
		if (how == BY_EXIT)
			exit(0);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &w, sizeof(w)) != sizeof(w))
		die("%s: the child wrote no count", t_phase);
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("%s: the child failed (status 0x%x)", t_phase, st);
	return w;
}

/* shutunsent, closeunsent, exitunsent: fd is closed by the second; the
   others use their own connections */
static void unsent_end(int fd, enum unsent_how how)
{
	static const char *const names[] = { "shutunsent", "closeunsent",
					     "exitunsent (exit)",
					     "exitunsent (_exit)" };
	struct tbuf one = { 0 }, b = { 0 };
	char key[128];
	ssize_t w;
	size_t want, pre;
	int stall;

	t_phase = names[how];
	t_key(key, sizeof(key), how == BY_SHUTDOWN ? "shutunsent" : "unsent");
	/* no replies: a reply reaching a closed socket resets it, and the
	   kernel drops what it still had to send */
	if (how != BY_SHUTDOWN)
		resp_cmd(&b, "CLIENT", "REPLY", "OFF", NULL);
	pre = b.len;
	resp_cmd(&one, "INCR", key, NULL);
	while (b.len < (16u << 20))
		tbuf_add(&b, one.p, one.len);
	stall = t_stall_server(1000000);
	if (how == BY_EXIT || how == BY__EXIT) {
		w = unsent_child(&b, how);
	} else {
		t_set_nonblock(fd, 1);
		w = write(fd, b.p, b.len);
	}
	if (w <= 0 || (size_t)w == b.len)
		die_errno("%s: write of %zu bytes to a stalled server: %zd",
			  t_phase, b.len, w);
	if (how == BY_CLOSE)
		close(fd);
	else if (how == BY_SHUTDOWN && shutdown(fd, SHUT_WR) < 0)
		die_errno("shutunsent: shutdown(SHUT_WR)");
	t_expect_str(stall, "the stalling script", ":1\r\n");
	want = ((size_t)w - pre) / one.len;
	t_expect_counter(stall, key, want);
	t_cmd_expect(stall, ":1\r\n", "DEL", key, NULL);
	close(stall);
	tbuf_free(&one);
	tbuf_free(&b);
}

static void case_shutunsent(int fd)
{
	unsent_end(fd, BY_SHUTDOWN);
}

static void case_closeunsent(int fd)
{
	unsent_end(fd, BY_CLOSE);
}

static void case_exitunsent(int fd)
{
	unsent_end(fd, BY_EXIT);
	unsent_end(fd, BY__EXIT);
}

struct shutblock {
	int fd;
	const char *p;
	size_t len;
	ssize_t w;
	int err;
};

static void *shutblock_main(void *arg)
{
	struct shutblock *b = arg;

	b->w = write(b->fd, b->p, b->len);
	b->err = errno;
	return NULL;
}

static void case_shutblock(int fd)
{
	struct shutblock b = { .fd = fd, .len = 8u << 20 };
	char *big = malloc(b.len);
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	pthread_t t;
	int stall;
	static const char head[] =
		"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$99999999\r\n";

	t_phase = "shutblock";
	if (big == NULL)
		die("out of memory");
	/* a bulk string longer than what is sent: nothing runs */
	memset(big, 'b', b.len);
	memcpy(big, head, sizeof(head) - 1);
	b.p = big;
	stall = t_stall_server(1500000);
	if (pthread_create(&t, NULL, shutblock_main, &b) != 0)
		die("shutblock: pthread_create");
	t_sleep_ms(300);
	if (shutdown(fd, SHUT_WR) < 0)
		die_errno("shutblock: shutdown(SHUT_WR)");
	pthread_join(t, NULL);
	if (b.w <= 0 || (size_t)b.w >= b.len) {
		errno = b.err;
		die_errno("shutblock: the blocked write returned %zd, not the "
			  "part it had sent", b.w);
	}
	t_checked();
	t_expect_str(stall, "the stalling script", ":1\r\n");
	close(stall);
	signal(SIGPIPE, old);
	free(big);
}

/* what the kernel says of the TCP connection, before and after a switch */
static void case_names(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b);
	int one = 1, type = 0;
	socklen_t tl = sizeof(type);

	t_phase = "names";
	if (getpeername(fd, (struct sockaddr *)&a, &al) < 0)
		die_errno("names: getpeername before");
	raw_write(fd, "PING\r\n");
	t_expect_str(fd, "names: raw PING", "+PONG\r\n");
	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL); /* relayed by now */
	if (getpeername(fd, (struct sockaddr *)&b, &bl) < 0)
		die_errno("names: getpeername after the switch");
	if (bl != al || b.ss_family != a.ss_family || memcmp(&a, &b, al) != 0)
		die("names: getpeername after the switch: family %d length %u, "
		    "before: family %d length %u", b.ss_family, (unsigned)bl,
		    a.ss_family, (unsigned)al);
	t_checked();
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die_errno("names: setsockopt(TCP_NODELAY) after the switch");
	t_checked();
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    type != SOCK_STREAM)
		die("names: SO_TYPE %d", type);
	t_checked();
}

/* MSG_PEEK on the fast path, a switch, MSG_PEEK again: the same bytes */
static void case_peek(int fd)
{
	char a[7], b[7];

	t_phase = "peek";
	t_write_all(fd, "PING\r\n", 6);
	if (recv(fd, a, 7, MSG_PEEK | MSG_WAITALL) != 7)
		die_errno("peek: recv(MSG_PEEK) before");
	raw_write(fd, "ECHO pk\r\n");
	t_write_all(fd, "ECHO ho\r\n", 9);
	if (recv(fd, b, 7, MSG_PEEK | MSG_WAITALL) != 7)
		die_errno("peek: recv(MSG_PEEK) after");
	t_compare("peek: peeked twice", a, 7, b, 7);
	t_checked();
	t_expect_str(fd, "peek: the replies",
		     "+PONG\r\n$2\r\npk\r\n$2\r\nho\r\n");
	t_checked();
}

/* EPOLLET|EPOLLIN on the fast path; the reply to a raw ECHO (the switch)
   must be reported once more: a new edge */
static void case_etswitch(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;
	char buf[64];

	t_phase = "etswitch";
	t_set_nonblock(fd, 1);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die_errno("etswitch: epoll");
	if (write(fd, "PING\r\n", 6) != 6)
		die_errno("etswitch: write");
	if (epoll_wait(ep, &ev, 1, 5000) != 1)
		die("etswitch: the PONG not reported");
	if (read(fd, buf, sizeof(buf)) != 7)
		die_errno("etswitch: read PONG");
	if (read(fd, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		die("etswitch: not drained");
	raw_write(fd, "ECHO et\r\n");
	n = epoll_wait(ep, &ev, 1, 5000);
	if (n != 1 || !(ev.events & EPOLLIN))
		die("etswitch: the reply to the raw ECHO not reported (%d)", n);
	t_checked();
	n = (int)read(fd, buf, sizeof(buf));
	t_compare("etswitch: reply", "$2\r\net\r\n", 8, buf, n > 0 ? (size_t)n : 0);
	t_checked();
	if (write(fd, "ECHO e2\r\n", 9) != 9)
		die_errno("etswitch: write 2");
	n = epoll_wait(ep, &ev, 1, 5000);
	if (n != 1 || !(ev.events & EPOLLIN))
		die("etswitch: the reply to the second ECHO not reported (%d)", n);
	t_checked();
	t_set_nonblock(fd, 0);
	t_expect_str(fd, "etswitch: reply 2", "$2\r\ne2\r\n");
	close(ep);
}

/* a nonblocking read meets EAGAIN, then poll() must see the reply to a
   raw PING */
static void case_pollswitch(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	t_phase = "pollswitch";
	t_set_nonblock(fd, 1);
	if (read(fd, &c, 1) != -1 || errno != EAGAIN)
		die("pollswitch: idle read not EAGAIN");
	raw_write(fd, "PING\r\n");
	if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLIN))
		die("pollswitch: the reply not reported (revents 0x%x)", p.revents);
	t_checked();
	t_set_nonblock(fd, 0);
	t_expect_str(fd, "pollswitch: reply", "+PONG\r\n");
	t_checked();
}

static void case_relaybig(int fd)
{
	size_t vlen = (size_t)1 << 20;
	struct tbuf cmd = { 0 }, exp = { 0 };
	char key[64], *buf, *v = malloc(vlen);
	const char *a[] = { "SET", t_key(key, sizeof(key), "relaybig"), v };
	size_t l[] = { 3, strlen(key), vlen };

	t_phase = "relaybig";
	if (v == NULL || (buf = malloc(vlen + 64)) == NULL)
		die("relaybig: out of memory");
	t_fill(v, vlen, 7);
	raw_write(fd, "PING\r\n");
	t_expect_str(fd, "relaybig: the raw PING's reply", "+PONG\r\n");
	resp_cmdv(&cmd, 3, a, l);
	t_write_all(fd, cmd.p, cmd.len);
	t_expect_str(fd, "relaybig: SET", "+OK\r\n");
	tbuf_free(&cmd);
	resp_cmd(&cmd, "GET", key, NULL);
	resp_bulk(&exp, v, vlen);
	for (int i = 0; i < 300; i++) {
		size_t got = 0;

		t_write_all(fd, cmd.p, cmd.len);
		while (got < exp.len) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			size_t want = exp.len - got;
			ssize_t r;

			if (poll(&p, 1, 5000) != 1)
				die("relaybig: no POLLIN for 5 s at byte %zu of "
				    "GET %d", got, i);
			r = read(fd, buf, want < vlen + 64 ? want : vlen + 64);
			if (r <= 0)
				die("relaybig: read %zd at byte %zu of GET %d",
				    r, got, i);
			if (memcmp(buf, exp.p + got, (size_t)r) != 0)
				die("relaybig: GET %d differs near byte %zu", i,
				    got);
			got += (size_t)r;
		}
	}
	t_checked();
	tbuf_free(&cmd);
	resp_cmd(&cmd, "DEL", key, NULL);
	t_write_all(fd, cmd.p, cmd.len);
	t_expect_str(fd, "relaybig: DEL", ":1\r\n");
	tbuf_free(&cmd);
	tbuf_free(&exp);
	free(buf);
	free(v);
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_SWITCH_CASE");
	static const struct {
		const char *name;
		void (*run)(int);
	} cases[] = {
		{ "shutwr", case_shutwr },	 { "mix", case_mix },
		{ "buffered", case_buffered },	 { "blockpart", case_blockpart },
		{ "blockfull", case_blockfull }, { "waitall", case_waitall },
		{ "names", case_names },	 { "peek", case_peek },
		{ "etswitch", case_etswitch },	 { "pollswitch", case_pollswitch },
		{ "fork", case_fork },		 { "dup", case_dup },
		{ "etout", case_etout },
		{ "wrshut", case_wrshut },	 { "shutunsent", case_shutunsent },
		{ "closeunsent", case_closeunsent },
		{ "exitunsent", case_exitunsent },
		{ "shutblock", case_shutblock }, { "relaybig", case_relaybig },
	};

	t_init(argc, argv);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd;

		if (only != NULL && strcmp(only, cases[i].name) != 0)
			continue;
		fd = t_connect();
		t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
		cases[i].run(fd);
		/* nothing repeated after the last reply: the next one is
		   this PING's (but where the case ended the stream) */
		if (strcmp(cases[i].name, "shutwr") != 0 &&
		    strcmp(cases[i].name, "wrshut") != 0 &&
		    strcmp(cases[i].name, "shutunsent") != 0 &&
		    strcmp(cases[i].name, "closeunsent") != 0 &&
		    strcmp(cases[i].name, "shutblock") != 0) {
			t_set_nonblock(fd, 0);
			t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
		}
		if (strcmp(cases[i].name, "closeunsent") != 0)
			close(fd);
		printf("%s: ok\n", cases[i].name);
	}
	t_done();
}
