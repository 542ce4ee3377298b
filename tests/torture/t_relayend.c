/*
 * t_relayend.c - the end of a connection that holds bytes written but not
 * yet sent, once a raw syscall(SYS_write) has switched it to relay mode
 * (through the shim; on a kernel socket nothing is switched): the program
 * writes a pipeline of INCRs to a server that is stalled (a 1 s script on
 * another connection) until no room comes for 300 ms, then ends its side
 * at once.  A kernel socket sends everything write() counted before its FIN,
 * so the counter, read on another connection once the stall is over, must
 * be every whole INCR written.  Through the shim most of those bytes wait
 * in the socketpair for the relay.  Each case has its own connection
 * (T_RELAYEND_CASE=NAME runs one).
 *
 *   close     close()
 *   rdwr      shutdown(SHUT_RDWR), close() only once the counter is read
 *   wr        shutdown(SHUT_WR), likewise
 *   exit      in a child on its own connection, _exit(0) without a close
 *   exec      a child on its own connection forks a grandchild that
 *             writes with syscall(SYS_write) (so the child relays them),
 *             then exits; the child then execs /bin/true at once, the
 *             socket left open: a kernel socket sends what its owner
 *             wrote before the exec (the exec'd program's exit closes
 *             it); through the shim the exec waits for the relay, as an
 *             exit does
 *   rd        (no stall) shutdown(SHUT_RD) on a relayed connection, then a
 *             SET, 200 ms for its reply to come, then an INCR: both
 *             writes succeed (no EPIPE, no SIGPIPE, left at its default:
 *             the reading side only was shut), and the server has both
 *
 * CLIENT REPLY OFF first: a reply reaching a closed socket resets it, and
 * the kernel drops what it still had to send.
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include "torture.h"

enum end_how { END_CLOSE, END_RDWR, END_WR, END_EXIT, END_RD };

static const char *const end_names[] = { "close", "rdwr", "wr", "exit", "rd" };

/* Relayed (a raw write), CLIENT REPLY OFF, then b written without blocking
   until EAGAIN: the count written. */
static size_t queue_up(int fd, const struct tbuf *b)
{
	static const char off[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n";
	size_t w = 0;
	int sndbuf = 4096;

	if (syscall(SYS_write, fd, off, sizeof(off) - 1) != (long)sizeof(off) - 1)
		die_errno("%s: syscall(SYS_write) of CLIENT REPLY OFF", t_phase);
	/* a small send buffer: the bytes wait in the socketpair sooner */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		die_errno("%s: setsockopt(SO_SNDBUF)", t_phase);
	t_set_nonblock(fd, 1);
	while (w < b->len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n = write(fd, b->p + w, b->len - w);

		/* full once no room comes for 300 ms: every buffer on the way
		   holds bytes (through the shim: the socketpair too) */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (poll(&p, 1, 300) == 0)
				break;
			continue;
		}
		if (n <= 0)
			die_errno("%s: write at byte %zu", t_phase, w);
		w += (size_t)n;
	}
	if (w == 0 || w == b->len)
		die("%s: %zu of %zu bytes written to a stalled server: no EAGAIN",
		    t_phase, w, b->len);
	return w;
}

/* END_EXIT: the same in a child, which then _exit()s; its count.  The
   child connects before the stall (a TLS handshake waits for it). */
static size_t queue_up_child(const struct tbuf *b, int *stall)
{
	int sv[2], st;
	size_t w = 0;
	pid_t pid;
	char c = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die_errno("%s: socketpair", t_phase);
	pid = fork();
	if (pid < 0)
		die_errno("%s: fork", t_phase);
	if (pid == 0) {
		int fd = t_connect();

		close(sv[0]);
		t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
		if (write(sv[1], &c, 1) != 1 || read(sv[1], &c, 1) != 1)
			_exit(3);
		w = queue_up(fd, b);
		if (write(sv[1], &w, sizeof(w)) != sizeof(w))
			_exit(3);
		_exit(0);
	}
	close(sv[1]);
	if (read(sv[0], &c, 1) != 1)
		die("%s: the child did not connect", t_phase);
	*stall = t_stall_server(1000000);
	if (write(sv[0], &c, 1) != 1 || read(sv[0], &w, sizeof(w)) != sizeof(w))
		die("%s: the child wrote no count", t_phase);
	close(sv[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("%s: the child failed (status 0x%x)", t_phase, st);
	return w;
}

static void run_case(enum end_how how)
{
	struct tbuf one = { 0 }, b = { 0 };
	char key[128];
	int fd = -1, stall;
	size_t w;

	t_phase = end_names[how];
	t_key(key, sizeof(key), end_names[how]);
	resp_cmd(&one, "INCR", key, NULL);
	while (b.len < (32u << 20))
		tbuf_add(&b, one.p, one.len);
	if (how != END_EXIT) {
		fd = t_connect();
		t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	}
	if (how == END_EXIT) {
		w = queue_up_child(&b, &stall);
	} else {
		stall = t_stall_server(1000000);
		w = queue_up(fd, &b);
		if (how == END_CLOSE)
			close(fd);
		else if (shutdown(fd, how == END_RDWR ? SHUT_RDWR : SHUT_WR) < 0)
			die_errno("%s: shutdown", t_phase);
	}
	t_expect_str(stall, "the stalling script", ":1\r\n");
	t_expect_counter(stall, key, w / one.len);
	if (how == END_RDWR || how == END_WR)
		close(fd);
	t_cmd_expect(stall, ":1\r\n", "DEL", key, NULL);
	close(stall);
	printf("%s: ok (%zu bytes, %zu INCRs)\n", t_phase, w, w / one.len);
	tbuf_free(&one);
	tbuf_free(&b);
}

/* exec, the grandchild: b written with raw system calls, without blocking,
   until no room comes for 300 ms; the count to report. */
static void exec_grandchild(int fd, const struct tbuf *b, int report)
{
	size_t w = 0;

	if (syscall(SYS_fcntl, fd, F_SETFL, O_NONBLOCK) < 0)
		_exit(4);
	while (w < b->len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		struct timespec ts = { 0, 300 * 1000000L };
		long n = syscall(SYS_write, fd, b->p + w, b->len - w);

		if (n < 0 && errno == EAGAIN) {
			if (syscall(SYS_ppoll, &p, 1, &ts, NULL, 0) == 0)
				break;
			continue;
		}
		if (n <= 0)
			_exit(5);
		w += (size_t)n;
	}
	if (w == b->len || write(report, &w, sizeof(w)) != sizeof(w))
		_exit(6);
	_exit(0);
}

/* exec, the child: connected before the stall; never returns. */
static void exec_child(const struct tbuf *b, int ctl)
{
	static const char off[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n";
	int fd = t_connect(), st;
	char c = 0;
	pid_t pid;

	t_cmd_expect(fd, "+PONG\r\n", "PING", NULL);
	t_write_all(fd, off, sizeof(off) - 1);
	if (write(ctl, &c, 1) != 1 || read(ctl, &c, 1) != 1)
		_exit(3);
	pid = fork();
	if (pid < 0)
		_exit(3);
	if (pid == 0)
		exec_grandchild(fd, b, ctl);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 9);
	execl("/bin/true", "true", (char *)NULL);
	_exit(7);
}

static void case_exec(void)
{
	struct tbuf one = { 0 }, b = { 0 };
	char key[128], c = 0;
	int sv[2], st, stall;
	size_t w = 0;
	pid_t pid;

	t_phase = "exec";
	t_key(key, sizeof(key), "exec");
	resp_cmd(&one, "INCR", key, NULL);
	while (b.len < (32u << 20))
		tbuf_add(&b, one.p, one.len);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die_errno("exec: socketpair");
	pid = fork();
	if (pid < 0)
		die_errno("exec: fork");
	if (pid == 0) {
		close(sv[0]);
		exec_child(&b, sv[1]);
	}
	close(sv[1]);
	if (read(sv[0], &c, 1) != 1)
		die("exec: the child did not connect");
	stall = t_stall_server(1000000);
	if (write(sv[0], &c, 1) != 1 || read(sv[0], &w, sizeof(w)) != sizeof(w))
		die("exec: the grandchild wrote no count");
	close(sv[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("exec: the child failed (status 0x%x)", st);
	t_expect_str(stall, "the stalling script", ":1\r\n");
	t_expect_counter(stall, key, w / one.len);
	t_cmd_expect(stall, ":1\r\n", "DEL", key, NULL);
	close(stall);
	printf("exec: ok (%zu bytes, %zu INCRs)\n", w, w / one.len);
	tbuf_free(&one);
	tbuf_free(&b);
}

static void case_rd(void)
{
	struct tbuf set = { 0 }, incr = { 0 }, c = { 0 };
	char key[128], ckey[128];
	int fd = t_connect(), h = t_connect();

	t_phase = "rd";
	t_key(key, sizeof(key), "rd");
	t_key(ckey, sizeof(ckey), "rdcount");
	resp_cmd(&set, "SET", key, "v1", NULL);
	resp_cmd(&incr, "INCR", ckey, NULL);
	if (syscall(SYS_write, fd, "PING\r\n", 6) != 6)
		die_errno("rd: syscall(SYS_write) of a PING");
	t_expect_str(fd, "rd: the raw PING's reply", "+PONG\r\n");
	if (shutdown(fd, SHUT_RD) < 0)
		die_errno("rd: shutdown(SHUT_RD)");
	t_write_all(fd, set.p, set.len);
	t_sleep_ms(200); /* its reply meets the shut reading side */
	t_write_all(fd, incr.p, incr.len);
	t_checked();
	close(fd);
	for (int i = 0; i < 100; i++) {
		char *got;
		size_t n;

		tbuf_free(&c);
		resp_cmd(&c, "GET", ckey, NULL);
		t_write_all(h, c.p, c.len);
		got = t_read_reply(h, &n, "rd: GET of the counter");
		if (strcmp(got, "$1\r\n1\r\n") == 0 || i == 99) {
			t_compare("rd: the counter after the INCR", "$1\r\n1\r\n", 7,
				  got, n);
			free(got);
			break;
		}
		free(got);
		t_sleep_ms(50);
	}
	t_checked();
	t_cmd_expect(h, "$2\r\nv1\r\n", "GET", key, NULL);
	t_cmd_expect(h, ":2\r\n", "DEL", key, ckey, NULL);
	close(h);
	tbuf_free(&set);
	tbuf_free(&incr);
	tbuf_free(&c);
	printf("rd: ok\n");
}

int main(int argc, char **argv)
{
	const char *only = getenv("T_RELAYEND_CASE");

	t_init(argc, argv);
	for (int i = 0; i <= END_EXIT; i++)
		if (only == NULL || strcmp(only, end_names[i]) == 0)
			run_case((enum end_how)i);
	if (only == NULL || strcmp(only, "exec") == 0)
		case_exec();
	if (only == NULL || strcmp(only, "rd") == 0)
		case_rd();
	t_done();
}
