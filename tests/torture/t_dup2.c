/*
 * t_dup2 - dup/dup2/dup3/F_DUPFD_CLOEXEC on connection fds.
 *
 * Conn1 is opened as fd c; d = dup(c).  Then:
 *   - dup2(/dev/null, c): c is /dev/null now (write accepts, read gives EOF),
 *     conn1 lives on through d;
 *   - conn2 is opened and dup2()'d onto c, its own fd closed: c is conn2,
 *     d is conn1, and each answers as itself (CLIENT GETNAME);
 *   - dup3(d, c, O_CLOEXEC) drops conn2's last reference: the server sees
 *     conn2 go away; c is conn1 with FD_CLOEXEC;
 *   - e = fcntl(d, F_DUPFD_CLOEXEC, 100); d and c closed: conn1 still lives
 *     (on e); close(e): the server sees conn1 go away.
 *
 * Checks: every reply byte-exact; a third connection watches CLIENT LIST:
 * a connection stays while any fd refers to it and is gone (within 3 s)
 * once the last one is closed or replaced.
 */
#include "torture.h"

static char name1[96], name2[96];

/* Whether CLIENT LIST on monitor m shows a client named `name`. */
static int listed(int m, const char *name)
{
	struct tbuf cmd = { 0 };
	char needle[128], *list;
	int found;

	resp_cmd(&cmd, "CLIENT", "LIST", NULL);
	t_write_all(m, cmd.p, cmd.len);
	list = t_read_reply(m, NULL, "CLIENT LIST");
	snprintf(needle, sizeof(needle), " name=%s ", name);
	found = strstr(list, needle) != NULL;
	free(list);
	tbuf_free(&cmd);
	return found;
}

static void expect_listed(int m, const char *name, const char *why)
{
	if (!listed(m, name))
		die("server no longer lists client %s, but %s", name, why);
	t_checked();
}

static void expect_gone(int m, const char *name, const char *why)
{
	double deadline = t_now_ms() + 3000;

	while (listed(m, name)) {
		if (t_now_ms() > deadline)
			die("server still lists client %s 3s after %s", name, why);
		t_sleep_ms(10);
	}
	t_checked();
}

/* CLIENT GETNAME on fd must answer `name`: which connection the fd reaches. */
static void expect_name(int fd, const char *fdname, const char *name)
{
	struct tbuf cmd = { 0 }, exp = { 0 };
	char what[128];

	resp_cmd(&cmd, "CLIENT", "GETNAME", NULL);
	resp_bulk(&exp, name, strlen(name));
	snprintf(what, sizeof(what), "CLIENT GETNAME on fd %s", fdname);
	t_write_all(fd, cmd.p, cmd.len);
	t_expect(fd, what, exp.p, exp.len);
	tbuf_free(&cmd);
	tbuf_free(&exp);
}

static void echo(int fd, const char *text)
{
	struct tbuf exp = { 0 };

	resp_bulk(&exp, text, strlen(text));
	t_cmd_expect(fd, exp.p, "ECHO", text, NULL);
	tbuf_free(&exp);
}

int main(int argc, char **argv)
{
	int c, d, e, c2, m, devnull, fl;
	char buf[16];

	t_init(argc, argv);
	snprintf(name1, sizeof(name1), "torture-dup2-%ld-conn1", (long)getpid());
	snprintf(name2, sizeof(name2), "torture-dup2-%ld-conn2", (long)getpid());
	m = t_connect();
	c = t_connect();
	t_cmd_expect(c, "+OK\r\n", "CLIENT", "SETNAME", name1, NULL);
	d = dup(c);
	if (d < 0)
		die_errno("dup");
	echo(c, "on c");
	echo(d, "on d, the dup");
	expect_name(d, "d", name1);

	/* dup2 something else over the original */
	t_phase = "dup2(/dev/null) over the connection fd";
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		die_errno("open(/dev/null)");
	if (dup2(devnull, c) != c)
		die_errno("dup2(/dev/null, c)");
	if (write(c, "PING\r\n", 6) != 6)
		die_errno("write to c (now /dev/null)");
	if (read(c, buf, sizeof(buf)) != 0)
		die_errno("read from c (now /dev/null) did not return EOF");
	echo(d, "d still works after dup2 over c");
	expect_listed(m, name1, "d still refers to it");

	/* a second connection dup2'd onto the same number */
	t_phase = "dup2(conn2) over the old number";
	c2 = t_connect();
	t_cmd_expect(c2, "+OK\r\n", "CLIENT", "SETNAME", name2, NULL);
	if (dup2(c2, c) != c)
		die_errno("dup2(c2, c)");
	if (close(c2) < 0)
		die_errno("close(c2)");
	expect_listed(m, name2, "c refers to it after dup2 and close of the original fd");
	for (int i = 0; i < 20; i++) {
		expect_name(c, "c (conn2)", name2);
		expect_name(d, "d (conn1)", name1);
	}
	echo(c, "conn2 via c");
	echo(d, "conn1 via d");

	/* dup3 over conn2's last reference */
	t_phase = "dup3(d, c, O_CLOEXEC) over conn2's last fd";
	if (dup3(d, c, O_CLOEXEC) != c)
		die_errno("dup3(d, c, O_CLOEXEC)");
	fl = fcntl(c, F_GETFD);
	if (fl < 0 || !(fl & FD_CLOEXEC))
		die("fd c after dup3(O_CLOEXEC): F_GETFD 0x%x lacks FD_CLOEXEC", fl);
	expect_gone(m, name2, "dup3 replaced its last fd");
	expect_name(c, "c (conn1 now)", name1);
	echo(c, "conn1 via c after dup3");
	echo(d, "conn1 via d after dup3");

	/* F_DUPFD_CLOEXEC, then close references one by one */
	t_phase = "F_DUPFD_CLOEXEC and closing references";
	e = fcntl(d, F_DUPFD_CLOEXEC, 100);
	if (e < 100)
		die_errno("fcntl(F_DUPFD_CLOEXEC, 100) returned %d", e);
	if (close(d) < 0 || close(c) < 0)
		die_errno("close(d), close(c)");
	echo(e, "conn1 via e, the last reference");
	expect_listed(m, name1, "fd e still refers to it");
	if (close(e) < 0)
		die_errno("close(e)");
	expect_gone(m, name1, "its last fd was closed");

	close(devnull);
	close(m);
	t_done();
}
