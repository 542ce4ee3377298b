/*
 * t_fork - children that close inherited connections; the parent goes on.
 *
 * The parent holds two connections: A (blocking) and B (non-blocking,
 * registered in an epoll set the children inherit too).  Before each fork a
 * request is left in flight on A, so its reply is pending while the child
 * runs.  Children:
 *   1. closes every fd with close() in a loop, then exit() (atexit handlers
 *      and library destructors run);
 *   2. closes everything with close_range(0, ~0U, 0), then exit();
 *   3. marks everything close-on-exec with close_range(CLOSE_RANGE_CLOEXEC)
 *      and execs /bin/true;
 *   4. touches nothing and returns from a function into exit().
 *
 * Checks: each child exits 0; after each, the parent reads the pending reply
 * byte-exact and runs a pipeline on A and, through epoll, on B; at the end
 * both connections are still the same server-side clients (CLIENT ID
 * unchanged).
 */
#include <linux/close_range.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "torture.h"

#define TAG 0xf0f0ULL

enum child_kind { CHILD_CLOSE_LOOP, CHILD_CLOSE_RANGE, CHILD_CLOEXEC_EXEC, CHILD_EXIT_ONLY };

static const char *const child_name[] = {
	"child closing every fd with close()", "child using close_range()",
	"child using close_range(CLOSE_RANGE_CLOEXEC) and exec", "child exiting without closing",
};

static void child(enum child_kind kind)
{
	struct rlimit rl;
	unsigned max = 1024;

	switch (kind) {
	case CHILD_CLOSE_LOOP:
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			max = rl.rlim_cur < 65536 ? (unsigned)rl.rlim_cur : 65536;
		for (unsigned fd = 0; fd < max; fd++)
			close((int)fd);
		exit(0);
	case CHILD_CLOSE_RANGE:
		if (close_range(0, ~0U, 0) < 0)
			_exit(10);
		exit(0);
	case CHILD_CLOEXEC_EXEC:
		if (close_range(0, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			_exit(11);
		execl("/bin/true", "true", (char *)NULL);
		_exit(12);
	case CHILD_EXIT_ONLY:
	default:
		exit(0);
	}
}

static void run_child(enum child_kind kind)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0)
		child(kind);
	if (waitpid(pid, &status, 0) != pid)
		die_errno("waitpid");
	if (WIFSIGNALED(status))
		die("%s: killed by signal %d", child_name[kind], WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		die("%s: exit status %d", child_name[kind], WEXITSTATUS(status));
}

/* The pipeline on B, driven by epoll. */
static void use_b(int ep, int b, const char *key, int round, const char *after)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct epoll_event ev;
	char val[64], what[160];
	struct tpipe p;

	snprintf(what, sizeof(what), "connection B (epoll) after the %s", after);
	for (int i = 0; i < 50; i++) {
		snprintf(val, sizeof(val), "b-%d-%d", round, i);
		resp_cmd(&cmd, "SET", key, val, NULL);
		resp_cmd(&cmd, "GET", key, NULL);
		tbuf_add(&exp, "+OK\r\n", 5);
		resp_bulk(&exp, val, strlen(val));
	}
	tpipe_init(&p, b, &cmd, &exp, what);
	while (!tpipe_done(&p)) {
		int n;

		ev = (struct epoll_event){ EPOLLIN | (tpipe_want_write(&p) ? EPOLLOUT : 0), { .u64 = TAG } };
		if (epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev) < 0)
			die_errno("%s: epoll_ctl(MOD)", what);
		n = epoll_wait(ep, &ev, 1, 5000);
		if (n < 0)
			die_errno("%s: epoll_wait", what);
		if (n == 0)
			die("%s: no event within 5s at reply byte %zu", what, p.in.pos);
		if (ev.data.u64 != TAG || (ev.events & (EPOLLERR | EPOLLHUP)))
			die("%s: event 0x%x data 0x%llx", what, ev.events, (unsigned long long)ev.data.u64);
		if (ev.events & EPOLLOUT)
			tpipe_on_writable(&p, 1);
		if (ev.events & EPOLLIN)
			tpipe_on_readable(&p, 4096, 1);
	}
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

static char *client_id(int fd)
{
	struct tbuf cmd = { 0 };
	char *id;

	resp_cmd(&cmd, "CLIENT", "ID", NULL);
	t_write_all(fd, cmd.p, cmd.len);
	id = t_read_reply(fd, NULL, "CLIENT ID");
	if (id[0] != ':')
		die("CLIENT ID: unexpected reply %s", id);
	tbuf_free(&cmd);
	return id;
}

int main(int argc, char **argv)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG };
	char key_a[128], key_b[128], val[64], what[160], *id_a, *id_b, *id2;
	int a, b, ep;

	t_init(argc, argv);
	t_key(key_a, sizeof(key_a), "a");
	t_key(key_b, sizeof(key_b), "b");
	a = t_connect();
	b = t_connect();
	t_set_nonblock(b, 1);
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev) < 0)
		die_errno("epoll setup");
	id_a = client_id(a);
	t_cmd_expect(a, "+OK\r\n", "SET", key_a, "before-fork", NULL);
	t_set_nonblock(b, 0);
	id_b = client_id(b);
	t_set_nonblock(b, 1);

	for (int k = CHILD_CLOSE_LOOP; k <= CHILD_EXIT_ONLY; k++) {
		t_phase = child_name[k];
		/* a reply in flight across the fork */
		cmd.len = exp.len = 0;
		resp_cmd(&cmd, "GET", key_a, NULL);
		resp_bulk(&exp, k == 0 ? "before-fork" : val, strlen(k == 0 ? "before-fork" : val));
		t_write_all(a, cmd.p, cmd.len);
		run_child((enum child_kind)k);
		snprintf(what, sizeof(what), "reply pending on A across the %s", child_name[k]);
		t_expect(a, what, exp.p, exp.len);

		/* A goes on */
		cmd.len = exp.len = 0;
		for (int i = 0; i < 100; i++) {
			snprintf(val, sizeof(val), "a-after-%d-%d", k, i);
			resp_cmd(&cmd, "SET", key_a, val, NULL);
			resp_cmd(&cmd, "GET", key_a, NULL);
			tbuf_add(&exp, "+OK\r\n", 5);
			resp_bulk(&exp, val, strlen(val));
		}
		t_write_all(a, cmd.p, cmd.len);
		snprintf(what, sizeof(what), "connection A after the %s", child_name[k]);
		t_expect(a, what, exp.p, exp.len);
		use_b(ep, b, key_b, k, child_name[k]);
	}

	t_phase = "final checks";
	id2 = client_id(a);
	t_compare("CLIENT ID of A, unchanged by the children", id_a, strlen(id_a), id2, strlen(id2));
	free(id2);
	t_set_nonblock(b, 0);
	id2 = client_id(b);
	t_compare("CLIENT ID of B, unchanged by the children", id_b, strlen(id_b), id2, strlen(id2));
	free(id2);
	t_cmd_expect(a, ":2\r\n", "DEL", key_a, key_b, NULL);
	close(a);
	close(b);
	close(ep);
	free(id_a);
	free(id_b);
	tbuf_free(&cmd);
	tbuf_free(&exp);
	t_done();
}
