/*
 * leak_probe MODE HOST PORT MARKER [ARGS...] - send "SET MARKER 1" to a
 * Redis at HOST:PORT by one particular path the shim's hooks may not see,
 * then read the reply (5 s at most) and print it.  For
 * tests/integration/12-never-plaintext.sh: through the shim, no byte of the
 * command may reach the network in clear, whatever the path.
 *
 * Prints "reply: LINE" for every reply line it reads (non-printable bytes
 * as \xNN), "error: WHAT: ERRNO-TEXT" when a call fails, and "note: ..."
 * lines.  Exit status: 0 the expected reply ("+OK", "+PONG" where said)
 * was read; 1 another reply, none, a call failed, or the probe was still
 * running after 12 s (the watchdog says so); 2 bad usage or the
 * setup failed (socket, connect, a file); 3 the path is not available in
 * this build or kernel (io_uring).
 *
 * Modes (the socket is blocking and connected with connect() unless said):
 *   write        write() (the control: the path the hooks do see)
 *   anyaddr      = write; the test passes HOST 0.0.0.0 or ::ffff:0.0.0.0
 *   vfork        PING by write(); vfork(), child close(fd) + exec
 *                /bin/true; parent write()s the SET
 *   dprintf      dprintf(fd, ...)
 *   stdio        dup2(fd, 1), fputs + fflush on stdout, read(fd)
 *   pwritev2     pwritev2(fd, iov, 1, -1, 0), then read()
 *   preadv2      write(), then the reply by preadv2(fd, iov, 1, -1, 0)
 *   aio          aio_write + aio_suspend, then read()
 *   spawn        posix_spawn /bin/sh -c 'printf ...' with fd dup2()ed to 1
 *   fionclex     SOCK_CLOEXEC socket, ioctl(FIONCLEX), fork + exec
 *                /bin/bash -c 'printf ... >&FD'
 *   glibc_alias  __connect, then __write and __send (two SETs)
 *   alias_io     connect(), then __write and __send (two SETs)
 *   fastopen_sendmsg   unconnected socket, sendmsg(MSG_FASTOPEN, msg_name)
 *   fastopen_sendmmsg  the same with sendmmsg
 *   v6len LEN    AF_INET6 socket, ::ffff:HOST, connect() with addrlen LEN
 *   race         a second thread write()s the SET in a loop from before
 *                connect() until after it returned
 *   syscall      syscall(SYS_write) then syscall(SYS_sendto) (two SETs)
 *   sendfile     sendfile() from a temporary file holding the command
 *   splice       splice() from a pipe holding the command
 *   fork_writev  fork(); the child writev()s the SET and exits; the parent
 *                reads (2 s), then sends PING itself
 *   iouring      io_uring write then io_uring send (two SETs)
 *   collateral PLAINPORT WAITMS
 *                non-blocking connect to HOST:PORT (a server that never
 *                answers), close at once; a new socket (same fd number)
 *                to 127.0.0.1:PLAINPORT (blocking); wait WAITMS; PING
 *                on it must get +PONG
 *   anybound6 BIND  AF_INET6 socket bound to [BIND]:0 (a v4-mapped
 *                loopback address such as ::ffff:127.0.0.2), connect to
 *                [::]:PORT (the kernel dials 127.0.0.1 for a v4-mapped
 *                source), write()
 *   sigload [raw]  SIGALRM every 200 us whose handler, while the process's
 *                first connect() is running (the engine loads), connects
 *                a socket of its own to HOST:PORT and write()s the SET
 *                (raw: the handler's socket made by the socket system
 *                call, which the shim does not see)
 *   bigfd        root: raise RLIMIT_NOFILE's hard limit after the first
 *                socket, move a new socket above the old limit with
 *                F_DUPFD, connect + write (exit 3 if not permitted)
 *   closeloop    connect + SET by write(); then close() every descriptor
 *                from 3 up to 4096 but fd and the report channel (as a
 *                daemon does); then a second connection whose SET goes
 *                by dprintf() (relayed)
 *   closefrom    connect + SET by write(); closefrom(fd + 1) (glibc);
 *                then a second connection and SET on it; a SET on the
 *                first (may fail); then PING on the second must +PONG
 *   closeloop_exit  connect + SET; close() every fd 3..4095 (a daemon);
 *                open six files in $TMPDIR (closeloop-file-N), write
 *                "data\n" to each, exit with them open
 *   raceconnect  20 rounds: two threads connect() one new blocking socket
 *                at the same moment; then SET by write() on it
 *   dupbefore    dup() and syscall(SYS_dup) of the socket before connect();
 *                SET via the dup() (+OK); writes via the raw dup must fail
 *   bindport     bind to 127.0.0.1:0, learn the port, connect + write
 *   shutwr       connect, shutdown(SHUT_WR), then write() (must fail)
 *   nbstdio      non-blocking connect, dprintf() the SET at once (before
 *                the handshake), then poll + read the reply
 *   epolldup     connect; epoll set with dup(fd) only; write() on fd;
 *                epoll_wait must report the dup readable, read from it
 *   signal       SIGALRM every 1 ms whose handler send()s PING on the
 *                socket, while the main thread connects and SETs (10
 *                times and for 300 ms at least); prints how many SETs
 *                got +OK and how often the handler ran
 *   execself     connect, then exec (no fork) bash that writes the SET to
 *                the inherited socket and reads the reply (tcpclient)
 *   scm WAIT|EXEC|EXIT  a child forked before connect gets the connected
 *                socket by SCM_RIGHTS, SETs and reads; EXEC: the child is
 *                a non-preloaded python3; EXIT: the parent exits at once
 *   exitflush EXIT|_EXIT|DPRINTF|DPRINTF_EXIT  SET by fdopen+fprintf+
 *                fflush (EXIT, _EXIT) or dprintf (DPRINTF*), then exit(0)
 *                (EXIT, DPRINTF) or _exit(0) (_EXIT, DPRINTF_EXIT)
 *   childrw PRELOAD|NOPRELOAD  fork + dup2 fd to 0 and 1 + exec bash
 *                (NOPRELOAD: env -u LD_PRELOAD) writes SET, reads the
 *                reply; then the parent PINGs by write()
 *   bigstdio     SET of an 8 MiB value by fwrite + fflush, reply by read()
 *   mixwrite     200 SETs by fprintf+fflush and 200 by write(), two threads
 *   closeread CLOSE|DUP2  a thread blocked in read() while the main thread
 *                closes the fd (or dup2()s a second connection over it);
 *                the reader must get its own reply (*-1), never the
 *                second connection's
 *   forkbefore   fork() before connect; the parent connects; the child's
 *                copy is unconnected; the child connects it itself
 *   etswitch     EPOLLET reader across the switch to relay mode with a
 *                reply pending in the session
 *   forkexit     relayed connection; a fork child exit(0)s; parent PINGs
 *   special OOB|REPAIR|ZC|VMSPLICE  MSG_OOB, TCP_REPAIR, MSG_ZEROCOPY,
 *                vmsplice + raw splice
 *   bigselect    the socket at fd 1500, select() with a large set
 *   inherit HOW VIA  connect + PING; clear close-on-exec on every
 *                descriptor 3..65535 (HOW fcntl, ioctl: FIONCLEX, raw: the
 *                fcntl system call), as a daemon handing all it has to a
 *                new program; exec bash (VIA exec: in place; fork, vfork,
 *                spawn: posix_spawn), which writes the SET to every socket
 *                it inherited; then (not after exec) read the reply
 *   toctou HOW QPORT  connections for 4 s (HOW connect: connect() then the
 *                SET; sendto, sendmsg, sendmmsg: the SET sent with
 *                MSG_FASTOPEN and the address; sendmsg_long, sendmmsg_long:
 *                the same with a msg_namelen of 256) from one
 *                address whose port another thread flips between PORT and
 *                QPORT all along; prints how many connected
 *   touchall HOW connect + PING; the SET to every socket among the
 *                descriptors 3..65535 (HOW dup: to a dup() of each; write,
 *                send: to each itself, as fstat() finds them); read the
 *                reply
 *   dlsym HOW    connect() looked up with dlsym, then write(): HOW next
 *                (RTLD_NEXT), default (RTLD_DEFAULT), libc (the handle of
 *                dlopen("libc.so.6"), as Python's ctypes.CDLL and Ruby's
 *                Fiddle take it), libc_alias (__connect in that handle),
 *                libc_fastopen (sendto from that handle, MSG_FASTOPEN and
 *                the address on an unconnected socket)
 */
#include <aio.h>
#include <dlfcn.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

extern char **environ;

/* glibc's exported aliases (not in its headers). */
extern ssize_t __write(int fd, const void *buf, size_t n);
extern ssize_t __send(int fd, const void *buf, size_t n, int flags);
extern int __connect(int fd, const struct sockaddr *addr, socklen_t len);

#define REPLY_MS 5000

static int g_quiet;   /* signal mode: do not print every reply line */
static int g_out = 1; /* our report channel: a copy of the original stdout */
static const char *g_host, *g_port, *g_marker;
static char g_cmd[256];
static size_t g_cmdlen;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(g_out, buf, (size_t)n) < 0)
		_exit(2);
}

static void err(const char *what)
{
	say("error: %s: %s", what, strerror(errno));
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* make_addr HOST PORT: IPv4 or IPv6 literal. */
static socklen_t make_addr(const char *host, const char *port,
			   struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)atoi(port));
		return sizeof *in4;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)atoi(port));
		return sizeof *in6;
	}
	say("error: not an address literal: %s", host);
	exit(2);
}

static int dial_with(int (*conn)(int, const struct sockaddr *, socklen_t),
		     int extra_type)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | extra_type, 0);

	if (fd < 0) {
		err("socket");
		exit(2);
	}
	if (conn(fd, (struct sockaddr *)&ss, len) != 0) {
		err("connect");
		exit(2);
	}
	return fd;
}

static int dial(void)
{
	return dial_with(connect, 0);
}

enum reader { R_READ, R_PREADV2 };

/* read_line: one reply line (up to CRLF) from fd within ms; prints it.
 * Returns 1 when it starts with expect, 0 for another line, -1 for none. */
static char g_rbuf[4096];
static size_t g_rlen;

static int read_line(int fd, const char *expect, long ms, enum reader how)
{
	long deadline = now_ms() + ms;
	char *eol, shown[400];
	size_t i, n, o = 0;

	for (;;) {
		eol = g_rlen ? memmem(g_rbuf, g_rlen, "\r\n", 2) : NULL;
		if (eol || g_rlen == sizeof g_rbuf)
			break;
		long left = deadline - now_ms();
		if (left <= 0) {
			say("error: no reply line within %ld ms (%zu bytes "
			    "read)",
			    ms, g_rlen);
			return -1;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err("poll");
			return -1;
		}
		if (r == 0)
			continue;
		ssize_t got;
		if (how == R_PREADV2) {
			struct iovec iov = { g_rbuf + g_rlen,
					     sizeof g_rbuf - g_rlen };
			got = preadv2(fd, &iov, 1, -1, 0);
		} else {
			got = read(fd, g_rbuf + g_rlen, sizeof g_rbuf - g_rlen);
		}
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			err(how == R_PREADV2 ? "preadv2" : "read");
			return -1;
		}
		if (got == 0) {
			say("error: connection closed (%zu bytes read)",
			    g_rlen);
			if (g_rlen)
				break;
			return -1;
		}
		g_rlen += (size_t)got;
	}
	n = eol ? (size_t)(eol - g_rbuf) : g_rlen;
	for (i = 0; i < n && o < sizeof shown - 5; i++) {
		unsigned char c = (unsigned char)g_rbuf[i];
		if (c >= 0x20 && c < 0x7f)
			shown[o++] = (char)c;
		else
			o += (size_t)snprintf(shown + o, 5, "\\x%02x", c);
	}
	shown[o] = 0;
	if (!g_quiet)
		say("reply: %s", shown);
	int ok = n >= strlen(expect) && memcmp(g_rbuf, expect, strlen(expect)) == 0;
	if (eol)
		n += 2;
	memmove(g_rbuf, g_rbuf + n, g_rlen - n);
	g_rlen -= n;
	return ok;
}

static int expect_reply(int fd, const char *expect)
{
	return read_line(fd, expect, REPLY_MS, R_READ) == 1 ? 0 : 1;
}

/* write_all by write(): for the control paths. */
static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err("write");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int wait_child(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			err("waitpid");
			return -1;
		}
	}
	say("note: %s exited with status %d", what,
	    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}

/* ---------------------------------------------------------------- modes */

static int m_write(void)
{
	int fd = dial();

	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

static int m_vfork(void)
{
	int fd = dial();
	pid_t pid;

	if (write_all(fd, "PING\r\n", 6) < 0 || expect_reply(fd, "+PONG"))
		return 1;
	pid = vfork();
	if (pid < 0) {
		err("vfork");
		return 1;
	}
	if (pid == 0) {
		close(fd);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (wait_child(pid, "vfork child") < 0)
		return 1;
	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

static int m_dprintf(void)
{
	int fd = dial();

	if (dprintf(fd, "SET %s 1\r\n", g_marker) < 0) {
		err("dprintf");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_stdio(void)
{
	int fd = dial();

	if (dup2(fd, 1) < 0) {
		err("dup2");
		return 1;
	}
	if (fputs(g_cmd, stdout) < 0 || fflush(stdout) != 0) {
		err("fputs/fflush on stdout");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_pwritev2(void)
{
	int fd = dial();
	struct iovec iov = { g_cmd, g_cmdlen };
	ssize_t w = pwritev2(fd, &iov, 1, -1, 0);

	if (w < 0) {
		err("pwritev2");
		return 1;
	}
	if ((size_t)w != g_cmdlen) {
		say("error: pwritev2 wrote %zd of %zu bytes", w, g_cmdlen);
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_preadv2(void)
{
	int fd = dial();

	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	return read_line(fd, "+OK", REPLY_MS, R_PREADV2) == 1 ? 0 : 1;
}

static int m_aio(void)
{
	int fd = dial();
	struct aiocb cb;
	const struct aiocb *list[1] = { &cb };
	struct timespec ts = { 5, 0 };
	ssize_t w;

	memset(&cb, 0, sizeof cb);
	cb.aio_fildes = fd;
	cb.aio_buf = g_cmd;
	cb.aio_nbytes = g_cmdlen;
	cb.aio_sigevent.sigev_notify = SIGEV_NONE;
	if (aio_write(&cb) != 0) {
		err("aio_write");
		return 1;
	}
	while (aio_error(&cb) == EINPROGRESS) {
		if (aio_suspend(list, 1, &ts) != 0 && errno != EINTR) {
			err("aio_suspend");
			return 1;
		}
	}
	w = aio_return(&cb);
	if (w < 0) {
		errno = aio_error(&cb);
		err("aio_write (completion)");
		return 1;
	}
	say("note: aio_write wrote %zd bytes", w);
	return expect_reply(fd, "+OK");
}

static int m_spawn(void)
{
	int fd = dial();
	posix_spawn_file_actions_t fa;
	pid_t pid;
	char *argv[] = { "sh", "-c", "printf 'SET %s 1\\r\\n' \"$0\"",
			 (char *)g_marker, NULL };
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	r = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		errno = r;
		err("posix_spawn");
		return 1;
	}
	if (wait_child(pid, "spawned sh") < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

static int m_fionclex(void)
{
	int fd = dial_with(connect, SOCK_CLOEXEC);
	char fdstr[16];
	pid_t pid;

	if (ioctl(fd, FIONCLEX) != 0) {
		err("ioctl(FIONCLEX)");
		return 1;
	}
	snprintf(fdstr, sizeof fdstr, "%d", fd);
	pid = fork();
	if (pid < 0) {
		err("fork");
		return 1;
	}
	if (pid == 0) {
		execl("/bin/bash", "bash", "-c",
		      "printf 'SET %s 1\\r\\n' \"$1\" >&$0", fdstr, g_marker,
		      (char *)NULL);
		_exit(127);
	}
	if (wait_child(pid, "bash child") < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

/* bash -c: the SET to every socket the shell inherited */
#define INHERIT_SH "for f in /proc/self/fd/*; do n=${f##*/};" \
	" [ \"$n\" -ge 3 ] || continue;" \
	" case $(readlink \"$f\") in socket:*)" \
	" printf 'SET %s 1\\r\\n' \"$0\" >&\"$n\";; esac;" \
	" done 2>/dev/null"

static int m_inherit(const char *how, const char *via)
{
	char *argv[] = { "bash", "-c", INHERIT_SH, (char *)g_marker, NULL };
	int fd = dial();
	pid_t pid;

	if (write_all(fd, "PING\r\n", 6) < 0 || expect_reply(fd, "+PONG"))
		return 1;
	for (int i = 3; i < 65536; i++) {
		if (i == g_out)
			continue;
		if (!strcmp(how, "fcntl"))
			fcntl(i, F_SETFD, 0);
		else if (!strcmp(how, "ioctl"))
			ioctl(i, FIONCLEX);
		else
			syscall(SYS_fcntl, i, F_SETFD, 0);
	}
	if (!strcmp(via, "exec")) {
		execv("/bin/bash", argv);
		err("execv");
		return 1;
	}
	if (!strcmp(via, "spawn")) {
		errno = posix_spawn(&pid, "/bin/bash", NULL, NULL, argv, environ);
		if (errno != 0)
			pid = -1;
	} else {
		pid = !strcmp(via, "vfork") ? vfork() : fork();
		if (pid == 0) {
			execv("/bin/bash", argv);
			_exit(127);
		}
	}
	if (pid < 0) {
		err(via);
		return 1;
	}
	if (wait_child(pid, "bash child") < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

/* touchall HOW: the SET to every socket 3..65535 (HOW dup: to a dup() of
   each descriptor; write, send: to each descriptor fstat() says is a
   socket), then the reply on the probe's own connection. */
static int m_touchall(const char *how)
{
	int fd = dial();
	struct stat st;

	if (write_all(fd, "PING\r\n", 6) < 0 || expect_reply(fd, "+PONG"))
		return 1;
	for (int i = 3; i < 65536; i++) {
		int d = i == g_out ? -1 : !strcmp(how, "dup") ? dup(i) : i;
		ssize_t w = -1;

		if (d >= 0 && fstat(d, &st) == 0 && S_ISSOCK(st.st_mode))
			w = strcmp(how, "send") ? write(d, g_cmd, g_cmdlen)
						: send(d, g_cmd, g_cmdlen, MSG_NOSIGNAL);
		if (w > 0)
			say("note: wrote to fd %d%s", i, d != i ? " (a copy)" : "");
		if (d >= 0 && d != i)
			close(d);
	}
	return expect_reply(fd, "+OK");
}

/* toctou: the address another thread rewrites, PORT and QPORT in turn;
   in a buffer longer than any address, for a msg_namelen the kernel cuts
   to sizeof(struct sockaddr_storage) (sendmsg, sendmmsg) and reads
   again. */
static struct {
	struct sockaddr_in a;
	char tail[256 - sizeof(struct sockaddr_in)];
} g_flip;
#define g_flip_addr g_flip.a
static unsigned short g_flip_ports[2];
static atomic_int g_flip_stop;

static void *flipper(void *arg)
{
	volatile unsigned short *p = &g_flip_addr.sin_port;

	(void)arg;
	for (unsigned k = 0; !atomic_load(&g_flip_stop); k++) {
		*p = g_flip_ports[k & 1];
		for (volatile int j = 0; j < 50; j++)
			;
	}
	return NULL;
}

/* toctou HOW QPORT: connections for 4 s to 127.0.0.1 by connect() (HOW
   connect) or sendto/sendmsg/sendmmsg with MSG_FASTOPEN from an address whose
   port another thread flips between PORT and QPORT all along; the SET on
   each that connected.  Prints how many did; 0 always (no reply read). */
static int m_toctou(const char *how, const char *qport)
{
	pthread_t t;
	int ok = 0;

	g_flip_addr.sin_family = AF_INET;
	inet_pton(AF_INET, g_host, &g_flip_addr.sin_addr);
	g_flip_ports[0] = htons((unsigned short)atoi(g_port));
	g_flip_ports[1] = htons((unsigned short)atoi(qport));
	if (pthread_create(&t, NULL, flipper, NULL) != 0)
		return 2;
	for (long end = now_ms() + 4000; now_ms() < end;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		const struct sockaddr *a = (const struct sockaddr *)&g_flip_addr;

		int long_name = strstr(how, "_long") != NULL;
		struct iovec iov = { g_cmd, g_cmdlen };
		struct mmsghdr mm = { .msg_hdr = { .msg_name = (void *)a,
			.msg_namelen = long_name ? sizeof g_flip : sizeof g_flip_addr,
			.msg_iov = &iov, .msg_iovlen = 1 } };

		if (!strcmp(how, "sendto")) {
			if (sendto(fd, g_cmd, g_cmdlen, MSG_FASTOPEN, a,
				   sizeof g_flip_addr) > 0)
				ok++;
		} else if (!strncmp(how, "sendmsg", 7)) {
			if (sendmsg(fd, &mm.msg_hdr, MSG_FASTOPEN) > 0)
				ok++;
		} else if (!strncmp(how, "sendmmsg", 8)) {
			if (sendmmsg(fd, &mm, 1, MSG_FASTOPEN) == 1)
				ok++;
		} else if (connect(fd, a, sizeof g_flip_addr) == 0) {
			ok++;
			(void)!write(fd, g_cmd, g_cmdlen);
		}
		close(fd);
	}
	atomic_store(&g_flip_stop, 1);
	pthread_join(t, NULL);
	say("note: %d connected", ok);
	return 0;
}

static int alias_writes(int fd)
{
	ssize_t w = __write(fd, g_cmd, g_cmdlen);

	if (w != (ssize_t)g_cmdlen) {
		err("__write");
		return 1;
	}
	if (expect_reply(fd, "+OK"))
		return 1;
	w = __send(fd, g_cmd, g_cmdlen, MSG_NOSIGNAL);
	if (w != (ssize_t)g_cmdlen) {
		err("__send");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_glibc_alias(void)
{
	return alias_writes(dial_with(__connect, 0));
}

static int m_alias_io(void)
{
	return alias_writes(dial());
}

static int m_fastopen(int mmsg)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	struct iovec iov = { g_cmd, g_cmdlen };
	struct msghdr mh = { .msg_name = &ss, .msg_namelen = len,
			     .msg_iov = &iov, .msg_iovlen = 1 };
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0) {
		err("socket");
		return 2;
	}
	if (mmsg) {
		struct mmsghdr v = { .msg_hdr = mh };
		int r = sendmmsg(fd, &v, 1, MSG_FASTOPEN);
		if (r != 1) {
			err("sendmmsg(MSG_FASTOPEN)");
			return 1;
		}
		say("note: sendmmsg sent %u bytes", v.msg_len);
	} else {
		ssize_t r = sendmsg(fd, &mh, MSG_FASTOPEN);
		if (r < 0) {
			err("sendmsg(MSG_FASTOPEN)");
			return 1;
		}
		say("note: sendmsg sent %zd bytes", r);
	}
	return expect_reply(fd, "+OK");
}

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

/* The function `name` as dlsym finds it by `how` (m_dlsym). */
static void *dl_find(const char *how, const char *name)
{
	void *h = RTLD_DEFAULT, *p;

	if (!strcmp(how, "next"))
		h = RTLD_NEXT;
	else if (strncmp(how, "libc", 4) == 0 &&
		 (h = dlopen("libc.so.6", RTLD_LAZY)) == NULL) {
		say("error: dlopen libc.so.6: %s", dlerror());
		exit(2);
	}
	p = dlsym(h, name);
	if (p == NULL) {
		say("error: dlsym %s %s: %s", how, name, dlerror());
		exit(2);
	}
	return p;
}

static int m_dlsym(const char *how)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	ssize_t (*send_to)(int, const void *, size_t, int,
			   const struct sockaddr *, socklen_t);
	connect_fn conn;
	int fd;

	if (strcmp(how, "libc_fastopen") != 0) {
		*(void **)&conn = dl_find(how, strcmp(how, "libc_alias") ?
					       "connect" : "__connect");
		fd = dial_with(conn, 0);
		if (write_all(fd, g_cmd, g_cmdlen) < 0)
			return 1;
		return expect_reply(fd, "+OK");
	}
	*(void **)&send_to = dl_find(how, "sendto");
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		err("socket");
		return 2;
	}
	if (send_to(fd, g_cmd, g_cmdlen, MSG_FASTOPEN, (struct sockaddr *)&ss,
		    len) < 0) {
		err("sendto(MSG_FASTOPEN)");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_v6len(const char *lenarg)
{
	struct sockaddr_in6 a;
	char mapped[64];
	socklen_t len = (socklen_t)atoi(lenarg);
	int fd;

	memset(&a, 0, sizeof a);
	a.sin6_family = AF_INET6;
	a.sin6_port = htons((unsigned short)atoi(g_port));
	snprintf(mapped, sizeof mapped, "::ffff:%s", g_host);
	if (inet_pton(AF_INET6, mapped, &a.sin6_addr) != 1) {
		say("error: bad address %s", mapped);
		return 2;
	}
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0) {
		err("socket(AF_INET6)");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&a, len) != 0) {
		err("connect");
		return 2;
	}
	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

static atomic_int race_fd = -1, race_connected, race_stop;
static atomic_int race_ok_before, race_ok_after, race_fail;

static void *race_writer(void *arg)
{
	(void)arg;
	while (!atomic_load(&race_stop)) {
		int fd = atomic_load(&race_fd);
		int connected = atomic_load(&race_connected);
		ssize_t w = write(fd, g_cmd, g_cmdlen);
		if (w > 0 && connected) {
			if (atomic_fetch_add(&race_ok_after, 1) + 1 >= 5)
				break;
		} else if (w > 0) {
			atomic_fetch_add(&race_ok_before, 1);
		} else {
			atomic_fetch_add(&race_fail, 1);
		}
	}
	return NULL;
}

static int m_race(void)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	pthread_t t;
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), r;
	long deadline;

	if (fd < 0) {
		err("socket");
		return 2;
	}
	atomic_store(&race_fd, fd);
	pthread_create(&t, NULL, race_writer, NULL);
	while (atomic_load(&race_fail) + atomic_load(&race_ok_before) < 100)
		usleep(100);
	r = connect(fd, (struct sockaddr *)&ss, len);
	if (r != 0)
		err("connect");
	atomic_store(&race_connected, 1);
	deadline = now_ms() + (r == 0 ? 3000 : 0);
	while (atomic_load(&race_ok_after) < 5 && now_ms() < deadline)
		usleep(1000);
	atomic_store(&race_stop, 1);
	pthread_join(t, NULL);
	say("note: writes: %d failed, %d accepted before connect() returned, "
	    "%d after",
	    atomic_load(&race_fail), atomic_load(&race_ok_before),
	    atomic_load(&race_ok_after));
	if (r != 0)
		return 2;
	return expect_reply(fd, "+OK");
}

static int m_syscall(void)
{
	int fd = dial();
	long w = syscall(SYS_write, fd, g_cmd, g_cmdlen);

	if (w != (long)g_cmdlen) {
		err("syscall(SYS_write)");
		return 1;
	}
	if (expect_reply(fd, "+OK"))
		return 1;
	w = syscall(SYS_sendto, fd, g_cmd, g_cmdlen, MSG_NOSIGNAL, NULL, 0);
	if (w != (long)g_cmdlen) {
		err("syscall(SYS_sendto)");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_sendfile(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[512];
	int fd, tf;
	ssize_t w;

	snprintf(path, sizeof path, "%s/leak_probe.XXXXXX", tmp ? tmp : "/tmp");
	tf = mkstemp(path);
	if (tf < 0) {
		err("mkstemp");
		return 2;
	}
	unlink(path);
	if (write_all(tf, g_cmd, g_cmdlen) < 0 || lseek(tf, 0, SEEK_SET) != 0)
		return 2;
	fd = dial();
	w = sendfile(fd, tf, NULL, g_cmdlen);
	if (w != (ssize_t)g_cmdlen) {
		err("sendfile");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_splice(void)
{
	int p[2], fd;
	ssize_t w;

	if (pipe(p) != 0) {
		err("pipe");
		return 2;
	}
	if (write_all(p[1], g_cmd, g_cmdlen) < 0)
		return 2;
	fd = dial();
	w = splice(p[0], NULL, fd, NULL, g_cmdlen, 0);
	if (w != (ssize_t)g_cmdlen) {
		err("splice");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_fork_writev(void)
{
	int fd = dial();
	pid_t pid = fork();

	if (pid < 0) {
		err("fork");
		return 1;
	}
	if (pid == 0) {
		struct iovec iov[2] = { { g_cmd, 4 },
					{ g_cmd + 4, g_cmdlen - 4 } };
		ssize_t w = writev(fd, iov, 2);
		if (w < 0)
			err("child writev");
		else
			say("note: child writev wrote %zd bytes", w);
		_exit(w == (ssize_t)g_cmdlen ? 0 : 1);
	}
	if (wait_child(pid, "forked child") < 0)
		return 1;
	int r = read_line(fd, "+OK", 2000, R_READ);
	if (write_all(fd, "PING\r\n", 6) == 0)
		read_line(fd, "+PONG", REPLY_MS, R_READ);
	return r == 1 ? 0 : 1;
}

static int m_iouring(void)
{
#ifdef HAVE_LIBURING
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int fd, r, i;

	r = io_uring_queue_init(4, &ring, 0);
	if (r < 0) {
		errno = -r;
		err("io_uring_queue_init");
		return 3;
	}
	fd = dial();
	for (i = 0; i < 2; i++) {
		sqe = io_uring_get_sqe(&ring);
		if (i == 0)
			io_uring_prep_write(sqe, fd, g_cmd, (unsigned)g_cmdlen,
					    0);
		else
			io_uring_prep_send(sqe, fd, g_cmd, g_cmdlen,
					   MSG_NOSIGNAL);
		io_uring_submit(&ring);
		r = io_uring_wait_cqe(&ring, &cqe);
		if (r < 0) {
			errno = -r;
			err("io_uring_wait_cqe");
			return 1;
		}
		r = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (r != (int)g_cmdlen) {
			errno = r < 0 ? -r : 0;
			say("error: io_uring %s: %d (%s)",
			    i ? "send" : "write", r, strerror(errno));
			return 1;
		}
		if (expect_reply(fd, "+OK"))
			return 1;
	}
	io_uring_queue_exit(&ring);
	return 0;
#else
	say("error: io_uring: leak_probe was built without liburing");
	return 3;
#endif
}

static int m_collateral(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	int fd, fd2, waitms;
	char port[16];

	if (argc < 7) {
		say("error: collateral needs PLAINPORT WAITMS");
		return 2;
	}
	waitms = atoi(argv[6]);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err("socket");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		say("note: non-blocking connect returned 0");
	else if (errno == EINPROGRESS)
		say("note: non-blocking connect: in progress");
	else
		err("non-blocking connect");
	close(fd);
	snprintf(port, sizeof port, "%s", argv[5]);
	len = make_addr("127.0.0.1", port, &ss);
	fd2 = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd2 < 0) {
		err("socket");
		return 2;
	}
	say("note: first fd %d, second fd %d (%s)", fd, fd2,
	    fd == fd2 ? "same number" : "different numbers");
	if (fd2 != fd)
		return 2;
	if (connect(fd2, (struct sockaddr *)&ss, len) != 0) {
		err("connect (plaintext)");
		return 2;
	}
	usleep((useconds_t)waitms * 1000);
	if (write_all(fd2, "PING\r\n", 6) < 0)
		return 1;
	return expect_reply(fd2, "+PONG");
}

static volatile sig_atomic_t sig_fd = -1;
static atomic_int sig_count;

static void on_alarm(int sig)
{
	int e = errno;

	(void)sig;
	if (sig_fd >= 0)
		send(sig_fd, "PING\r\n", 6, MSG_NOSIGNAL);
	atomic_fetch_add(&sig_count, 1);
	errno = e;
}

/* alarm_handler: HANDLER runs on SIGALRM, with SA_RESTART. */
static void alarm_handler(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
}

/* alarm_every: SIGALRM every USEC microseconds (< 1 s); 0 stops it. */
static void alarm_every(long usec)
{
	struct itimerval it = { { 0, usec }, { 0, usec } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static int m_signal(void)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	int fd, i, oks = 0;

	alarm_handler(on_alarm);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		err("socket");
		return 2;
	}
	sig_fd = fd;
	alarm_every(1000);
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		if (errno != EINTR) {
			err("connect");
			alarm_every(0);
			return 2;
		}
		/* Interrupted: the connection goes on; wait for it. */
		say("note: connect interrupted, waiting for it");
		long deadline = now_ms() + 10000;
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int e = 0;
			socklen_t el = sizeof e;
			if (now_ms() > deadline) {
				say("error: connect never completed");
				alarm_every(0);
				return 1;
			}
			if (poll(&p, 1, 100) <= 0)
				continue;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			if (e) {
				errno = e;
				err("connect (SO_ERROR)");
				alarm_every(0);
				return 2;
			}
			break;
		}
	}
	/* At least 10 SETs and 300 ms, so the timer fires throughout. */
	long until = now_ms() + 300;
	g_quiet = 1;
	for (i = 0; i < 20000 && (i < 10 || now_ms() < until); i++) {
		if (write_all(fd, g_cmd, g_cmdlen) < 0)
			break;
		/* Skip the handler's +PONGs; give each SET 1 s. */
		long deadline = now_ms() + 1000;
		while (now_ms() < deadline) {
			int r = read_line(fd, "+OK", deadline - now_ms(),
					  R_READ);
			if (r < 0)
				break;
			if (r == 1) {
				oks++;
				break;
			}
		}
	}
	alarm_every(0);
	g_quiet = 0;
	say("note: %d of %d SETs answered +OK; the handler ran %d times", oks,
	    i, atomic_load(&sig_count));
	return oks > 0 ? 0 : 1;
}


static int m_anybound6(const char *bindaddr)
{
	struct sockaddr_in6 b, a;
	int fd = socket(AF_INET6, SOCK_STREAM, 0), off = 0;

	if (fd < 0) {
		err("socket(AF_INET6)");
		return 2;
	}
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
	memset(&b, 0, sizeof b);
	b.sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, bindaddr, &b.sin6_addr) != 1) {
		say("error: bad address %s", bindaddr);
		return 2;
	}
	if (bind(fd, (struct sockaddr *)&b, sizeof b) != 0) {
		err("bind");
		return 2;
	}
	memset(&a, 0, sizeof a);
	a.sin6_family = AF_INET6;
	a.sin6_port = htons((unsigned short)atoi(g_port));
	a.sin6_addr = in6addr_any;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		err("connect");
		return 1;
	}
	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

static atomic_int sl_done, sl_fired, sl_sent;

static int sl_raw; /* the handler's socket by the raw system call */

static void on_sigload(int sig)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int e = errno, fd;

	(void)sig;
	atomic_fetch_add(&sl_fired, 1);
	if (atomic_exchange(&sl_done, 1))
		return;
	len = make_addr(g_host, g_port, &ss);
	fd = sl_raw ? (int)syscall(SYS_socket, ss.ss_family, SOCK_STREAM, 0)
		    : socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0 &&
	    write(fd, g_cmd, g_cmdlen) == (ssize_t)g_cmdlen)
		atomic_store(&sl_sent, fd);
	errno = e;
}

static int m_sigload(const char *how)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	int fd, hfd;

	sl_raw = how != NULL && !strcmp(how, "raw");
	alarm_handler(on_sigload);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		err("socket");
		return 2;
	}
	alarm_every(200);
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINTR)
		err("connect (main)");
	alarm_every(0);
	hfd = atomic_load(&sl_sent);
	say("note: the handler ran %d times; its connect+write %s",
	    atomic_load(&sl_fired), hfd > 0 ? "succeeded" : "did not happen or failed");
	if (hfd <= 0)
		return 1;
	return expect_reply(hfd, "+OK");
}

static int m_bigfd(void)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	struct rlimit rl;
	int first = socket(ss.ss_family, SOCK_STREAM, 0), fd, hi;

	if (first < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		err("socket/getrlimit");
		return 2;
	}
	hi = (int)(rl.rlim_max > rl.rlim_cur ? rl.rlim_max : rl.rlim_cur) + 100;
	rl.rlim_cur = rl.rlim_max = (rlim_t)hi + 1000;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		err("setrlimit (raising the hard limit needs root)");
		return 3;
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	hi = fcntl(fd, F_DUPFD, hi);
	if (hi < 0) {
		err("F_DUPFD");
		return 2;
	}
	close(fd);
	say("note: socket moved to fd %d", hi);
	if (connect(hi, (struct sockaddr *)&ss, len) != 0) {
		err("connect");
		return 1;
	}
	if (write_all(hi, g_cmd, g_cmdlen) < 0)
		return 1;
	return expect_reply(hi, "+OK");
}

static int m_closeloop(void)
{
	int fd = dial(), fd2, i;

	if (write_all(fd, g_cmd, g_cmdlen) < 0 || expect_reply(fd, "+OK"))
		return 1;
	for (i = 3; i < 4096; i++)
		if (i != fd && i != g_out)
			close(i);
	fd2 = dial();
	say("note: second connection on fd %d", fd2);
	if (dprintf(fd2, "SET %s 2\r\n", g_marker) < 0) {
		err("dprintf");
		return 1;
	}
	return expect_reply(fd2, "+OK");
}

static int m_closefrom(void)
{
	int fd = dial(), fd2;

	if (write_all(fd, g_cmd, g_cmdlen) < 0 || expect_reply(fd, "+OK"))
		return 1;
	if (g_out > fd) { /* keep the report channel below the cut */
		int o = dup2(g_out, 0);
		if (o < 0)
			return 2;
		g_out = o;
	}
	closefrom(fd + 1);
	fd2 = dial();
	say("note: second connection on fd %d", fd2);
	if (write_all(fd2, g_cmd, g_cmdlen) < 0 || expect_reply(fd2, "+OK"))
		return 1;
	/* the first connection's private socket is gone: this may fail, but
	   must not touch the second connection */
	if (write(fd, g_cmd, g_cmdlen) < 0)
		err("write on the first connection");
	else
		read_line(fd, "+OK", 1000, R_READ);
	if (write_all(fd2, "PING\r\n", 6) < 0)
		return 1;
	return expect_reply(fd2, "+PONG");
}

static int m_closeloop_exit(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[512];
	int fd = dial(), i;

	if (write_all(fd, g_cmd, g_cmdlen) < 0 || expect_reply(fd, "+OK"))
		return 1;
	for (i = 3; i < 4096; i++)
		if (i != fd && i != g_out)
			close(i);
	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof path, "%s/closeloop-file-%d", tmp ? tmp : "/tmp", i);
		int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (f < 0 || write_all(f, "data\n", 5) < 0) {
			err("open/write a file");
			return 2;
		}
		say("note: file %d is fd %d", i, f);
	}
	say("note: exiting with the files open");
	return 0;
}

static int m_bindport(void)
{
	struct sockaddr_in b;
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss), bl = sizeof b;
	struct sockaddr_in got;
	socklen_t gl = sizeof got;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&b, 0, sizeof b);
	b.sin_family = AF_INET;
	b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&b, sizeof b) != 0 ||
	    getsockname(fd, (struct sockaddr *)&b, &bl) != 0) {
		err("bind/getsockname");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		err("connect");
		return 1;
	}
	if (getsockname(fd, (struct sockaddr *)&got, &gl) != 0) {
		err("getsockname after connect");
		return 1;
	}
	say("note: bound port %u, local port after connect %u",
	    ntohs(b.sin_port), ntohs(got.sin_port));
	if (got.sin_port != b.sin_port) {
		say("error: the connection does not use the bound port");
		return 1;
	}
	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	return expect_reply(fd, "+OK");
}

static int m_shutwr(void)
{
	int fd = dial();
	ssize_t w;

	if (shutdown(fd, SHUT_WR) != 0) {
		err("shutdown");
		return 1;
	}
	w = write(fd, g_cmd, g_cmdlen);
	if (w >= 0) {
		say("note: write after shutdown(SHUT_WR) returned %zd", w);
		expect_reply(fd, "+OK");
		return 1;
	}
	err("write after shutdown(SHUT_WR)");
	return errno == EPIPE ? 0 : 1;
}

static int m_nbstdio(void)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		err("socket");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
		err("connect");
		return 2;
	}
	if (dprintf(fd, "SET %s 1\r\n", g_marker) < 0) {
		err("dprintf");
		return 1;
	}
	return expect_reply(fd, "+OK");
}

static int m_epolldup(void)
{
	int fd = dial(), d = dup(fd), ep = epoll_create1(0), n;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 4242 }, out[4];
	char buf[256];

	if (d < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev) != 0) {
		err("dup/epoll");
		return 2;
	}
	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	n = epoll_wait(ep, out, 4, 5000);
	if (n != 1 || out[0].data.u64 != 4242) {
		say("error: epoll_wait returned %d (data %llu)", n,
		    n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
		return 1;
	}
	ssize_t r = read(d, buf, sizeof buf - 1);
	if (r <= 0) {
		err("read from the dup");
		return 1;
	}
	buf[r] = 0;
	say("reply: %.*s", (int)strcspn(buf, "\r\n"), buf);
	return strncmp(buf, "+OK", 3) == 0 ? 0 : 1;
}

static pthread_barrier_t rc_bar;
static atomic_int rc_fd;
static struct sockaddr_storage rc_ss;
static socklen_t rc_len;

static void *rc_thread(void *arg)
{
	long r;

	pthread_barrier_wait(&rc_bar);
	r = connect(atomic_load(&rc_fd), (struct sockaddr *)&rc_ss, rc_len);
	*(int *)arg = r == 0 ? 0 : errno;
	return NULL;
}

static int m_raceconnect(void)
{
	int round, bad = 0;

	rc_len = make_addr(g_host, g_port, &rc_ss);
	for (round = 0; round < 20 && !bad; round++) {
		pthread_t t[2];
		int res[2] = { -1, -1 };
		int fd = socket(rc_ss.ss_family, SOCK_STREAM, 0);

		atomic_store(&rc_fd, fd);
		pthread_barrier_init(&rc_bar, NULL, 2);
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, rc_thread, &res[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&rc_bar);
		if (res[0] != 0 && res[1] != 0) {
			say("error: round %d: both connects failed (%s, %s)",
			    round, strerror(res[0]), strerror(res[1]));
			bad = 1;
			break;
		}
		g_rlen = 0;
		if (write_all(fd, g_cmd, g_cmdlen) < 0 ||
		    read_line(fd, "+OK", 2000, R_READ) != 1) {
			say("error: round %d: connect results %s / %s, then "
			    "the SET failed", round,
			    res[0] ? strerror(res[0]) : "0",
			    res[1] ? strerror(res[1]) : "0");
			bad = 1;
		}
		close(fd);
	}
	say("note: %d rounds", round);
	return bad;
}

static int m_dupbefore(void)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	int d = dup(fd), raw = (int)syscall(SYS_dup, fd);

	if (fd < 0 || d < 0 || raw < 0) {
		err("socket/dup");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		err("connect");
		return 1;
	}
	if (write_all(d, g_cmd, g_cmdlen) < 0 || expect_reply(d, "+OK"))
		return 1;
	/* the raw dup is the original socket, never connected: must fail */
	if (syscall(SYS_write, raw, g_cmd, g_cmdlen) >= 0 ||
	    write(raw, g_cmd, g_cmdlen) >= 0) {
		say("error: a write on the raw dup succeeded");
		return 1;
	}
	err("write on the raw dup (expected to fail)");
	return 0;
}

/* The watchdog: a call that blocks where no reply comes (an unhooked
 * blocking read, a deadlock in a hook) ends the probe with a line saying so,
 * well within the test's own timeout. */
/* ------------------------------------------------ attack, second pass */

/* execself: connect, then exec (no fork) a bash that writes the SET to
   the inherited socket and reads the reply (ucspi tcpclient, nc -e). */
static int m_execself(void)
{
	int fd = dial();
	char fdstr[16], outstr[16];

	snprintf(fdstr, sizeof fdstr, "%d", fd);
	snprintf(outstr, sizeof outstr, "%d", g_out);
	execl("/bin/bash", "bash", "-c",
	      "printf 'SET %s 1\\r\\n' \"$1\" >&$0 || echo 'error: printf' >&$2;"
	      " if read -r -t 5 line <&$0; then echo \"reply: ${line%$'\\r'}\" >&$2;"
	      " [[ $line == +OK* ]] && exit 0; else echo 'error: no reply' >&$2; fi; exit 1",
	      fdstr, g_marker, outstr, (char *)NULL);
	err("execl");
	return 1;
}

static int send_fd(int via, int fd)
{
	char c = 'f', ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof ctl };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(ctl, 0, sizeof ctl);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(via, &mh, 0) != 1) {
		err("sendmsg(SCM_RIGHTS)");
		return -1;
	}
	return 0;
}

static int recv_fd(int via)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof ctl };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(via, &mh, 0) != 1) {
		err("recvmsg(SCM_RIGHTS)");
		return -1;
	}
	cm = CMSG_FIRSTHDR(&mh);
	if (cm == NULL || cm->cmsg_type != SCM_RIGHTS) {
		say("error: no descriptor received");
		return -1;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* scm WAIT|EXIT|EXEC: a child forked BEFORE connect (nothing of the
   connection in it) receives the connected socket by SCM_RIGHTS, writes
   the SET, reads the reply.  The parent closes its copy and waits for the
   child (WAIT), exits at once (EXIT), or the child is a non-preloaded
   python3 (EXEC: env -u LD_PRELOAD), the parent waiting. */
static int m_scm(const char *how)
{
	int u[2], fd, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, u) < 0) {
		err("socketpair");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		err("fork");
		return 2;
	}
	if (pid == 0) {
		close(u[0]);
		if (!strcmp(how, "EXEC")) {
			char ustr[16], ostr[16];
			snprintf(ustr, sizeof ustr, "%d", u[1]);
			snprintf(ostr, sizeof ostr, "%d", g_out);
			execl("/usr/bin/env", "env", "-u", "LD_PRELOAD", "python3", "-c",
			      "import socket,sys,os\n"
			      "u=socket.socket(fileno=int(sys.argv[1]))\n"
			      "out=int(sys.argv[3])\n"
			      "msg,anc,fl,ad=u.recvmsg(1,socket.CMSG_SPACE(4))\n"
			      "fd=int.from_bytes(anc[0][2][:4],'little')\n"
			      "os.write(fd,('SET %s 1\\r\\n'%sys.argv[2]).encode())\n"
			      "import select\n"
			      "r,_,_=select.select([fd],[],[],5)\n"
			      "b=os.read(fd,4096) if r else b''\n"
			      "os.write(out,('reply: '+b.decode(errors='replace').strip()+'\\n').encode())\n"
			      "sys.exit(0 if b.startswith(b'+OK') else 1)\n",
			      ustr, g_marker, ostr, (char *)NULL);
			_exit(127);
		}
		fd = recv_fd(u[1]);
		if (fd < 0)
			_exit(1);
		if (write_all(fd, g_cmd, g_cmdlen) < 0)
			_exit(1);
		_exit(expect_reply(fd, "+OK"));
	}
	close(u[1]);
	fd = dial();
	if (send_fd(u[0], fd) < 0)
		return 1;
	close(fd);
	if (!strcmp(how, "EXIT")) {
		say("note: parent exits at once");
		exit(0); /* the child's status tells */
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	say("note: child exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* exitflush EXIT|_EXIT: the SET by an unhooked path (fdopen + fprintf +
   fflush, or dprintf), then exit(0) / _exit(0) at once: the server must
   still execute it. */
static int m_exitflush(const char *how)
{
	int fd = dial();

	if (!strcmp(how, "EXIT") || !strcmp(how, "_EXIT")) {
		FILE *f = fdopen(fd, "w");
		if (f == NULL || fprintf(f, "%s", g_cmd) < 0 || fflush(f) != 0) {
			err("fdopen/fprintf/fflush");
			return 1;
		}
	} else if (dprintf(fd, "%s", g_cmd) < 0) {
		err("dprintf");
		return 1;
	}
	say("note: written; exiting");
	if (how[0] == '_' || !strcmp(how, "DPRINTF_EXIT"))
		_exit(0);
	exit(0);
}

/* childrw PRELOAD|NOPRELOAD: fork + dup2(fd, 0) + dup2(fd, 1) + exec
   bash that writes the SET to stdout and reads the reply from stdin
   (NOPRELOAD: env -u LD_PRELOAD); then the parent PINGs by write(). */
static int m_childrw(const char *how)
{
	int fd = dial();
	char ostr[16];
	pid_t pid;
	int st;

	snprintf(ostr, sizeof ostr, "%d", g_out);
	pid = fork();
	if (pid < 0) {
		err("fork");
		return 2;
	}
	if (pid == 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
		const char *sc =
			"printf 'SET %s 1\\r\\n' \"$1\";"
			" if read -r -t 5 line; then echo \"reply: ${line%$'\\r'}\" >&$0;"
			" [[ $line == +OK* ]] && exit 0; else echo 'error: child: no reply' >&$0; fi; exit 1";
		if (!strcmp(how, "NOPRELOAD"))
			execl("/usr/bin/env", "env", "-u", "LD_PRELOAD", "/bin/bash",
			      "-c", sc, ostr, g_marker, (char *)NULL);
		else
			execl("/bin/bash", "bash", "-c", sc, ostr, g_marker,
			      (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	say("note: child exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	if (write_all(fd, "PING\r\n", 6) < 0)
		return 1;
	return expect_reply(fd, "+PONG");
}

/* bigstdio: SET MARKER <8 MiB> by fdopen + fwrite + fflush, the reply by
   read(). */
static int m_bigstdio(void)
{
	int fd = dial();
	size_t n = 8u << 20;
	char *v = malloc(n), hdr[256];
	FILE *f;
	int hl;

	if (v == NULL)
		return 2;
	memset(v, 'x', n);
	hl = snprintf(hdr, sizeof hdr, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n",
		      strlen(g_marker), g_marker, n);
	f = fdopen(dup(fd), "w");
	if (f == NULL || fwrite(hdr, 1, (size_t)hl, f) != (size_t)hl ||
	    fwrite(v, 1, n, f) != n || fwrite("\r\n", 1, 2, f) != 2 ||
	    fflush(f) != 0) {
		err("fwrite/fflush");
		return 1;
	}
	return read_line(fd, "+OK", 10000, R_READ) == 1 ? 0 : 1;
}

/* mixwrite: 200 SETs by fprintf + fflush (stdio, relayed) in one thread
   and 200 SETs by write() in another, at once; then 400 +OK. */
#define MIX_N 200
static int g_mixfd;
static FILE *g_mixf;
static void *mix_stdio(void *arg)
{
	(void)arg;
	for (int i = 0; i < MIX_N; i++) {
		fprintf(g_mixf, "SET %s:s%d 1\r\n", g_marker, i);
		if (fflush(g_mixf) != 0) {
			err("fflush");
			return (void *)1;
		}
	}
	return NULL;
}
static int m_mixwrite(void)
{
	int fd = dial(), bad = 0, ok = 0;
	pthread_t t;
	char c[128];

	g_mixfd = fd;
	g_mixf = fdopen(dup(fd), "w");
	if (g_mixf == NULL) {
		err("fdopen");
		return 2;
	}
	pthread_create(&t, NULL, mix_stdio, NULL);
	for (int i = 0; i < MIX_N; i++) {
		int l = snprintf(c, sizeof c, "SET %s:w%d 1\r\n", g_marker, i);
		if (write_all(fd, c, (size_t)l) < 0)
			return 1;
	}
	pthread_join(t, NULL);
	g_quiet = 1;
	for (int i = 0; i < 2 * MIX_N; i++) {
		int r = read_line(fd, "+OK", REPLY_MS, R_READ);
		if (r < 0)
			break;
		if (r == 1)
			ok++;
		else
			bad++;
	}
	g_quiet = 0;
	say("note: %d +OK, %d other replies of %d", ok, bad, 2 * MIX_N);
	if (ok == 2 * MIX_N && write_all(fd, g_cmd, g_cmdlen) == 0)
		return expect_reply(fd, "+OK");
	return 1;
}

/* closeread CLOSE|DUP2: thread T read()s the socket (blocking) while the
   server works on "BLPOP MARKER:l 1" (1 s); the main thread, 200 ms in,
   closes the descriptor and makes a second connection (it gets the same
   number), or makes the second connection and dup2()s it over the first
   number.  The second connection is relayed (dprintf): SET, then 1.5 s
   later (the BLPOP answered) PING, both replies to the main thread.  As
   natively, T's read() is on the first connection: it gets the BLPOP's
   answer (*-1) or an error, and never a byte of the second one. */
static int g_crfd;
static char g_crbuf[256];
static atomic_long g_crn;
static int g_crerr;
static void *cr_reader(void *arg)
{
	ssize_t n;

	(void)arg;
	n = read(g_crfd, g_crbuf, sizeof g_crbuf - 1);
	g_crerr = errno;
	atomic_store(&g_crn, n == 0 ? -2 : n);
	return NULL;
}
static int m_closeread(const char *how)
{
	int fd = dial(), fd2, rc;
	char blpop[200];
	int l = snprintf(blpop, sizeof blpop, "BLPOP %s:l 1\r\n", g_marker);
	pthread_t t;
	struct timespec nap = { 0, 200 * 1000 * 1000 };
	long n;

	g_crfd = fd;
	pthread_create(&t, NULL, cr_reader, NULL);
	nanosleep(&nap, NULL);
	if (write_all(fd, blpop, (size_t)l) < 0)
		return 1;
	nanosleep(&nap, NULL);
	if (!strcmp(how, "DUP2")) {
		fd2 = dial();
		if (dup2(fd2, fd) < 0) {
			err("dup2");
			return 1;
		}
	} else {
		close(fd);
		fd2 = dial();
	}
	say("note: first fd %d, second fd %d", fd, fd2);
	if (dprintf(fd2, "%s", g_cmd) < 0) {
		err("dprintf");
		return 1;
	}
	rc = expect_reply(fd2, "+OK");
	for (int i = 0; i < 8; i++)
		nanosleep(&nap, NULL);
	if (rc == 0 && (dprintf(fd2, "PING\r\n") < 0 ||
			read_line(fd2, "+PONG", 3000, R_READ) != 1)) {
		say("error: the second connection's PING got no +PONG");
		rc = 1;
	}
	for (int i = 0; i < 10 && atomic_load(&g_crn) == 0; i++)
		nanosleep(&nap, NULL);
	n = atomic_load(&g_crn);
	if (n > 0) {
		g_crbuf[n] = 0;
		for (char *p = g_crbuf; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
		say("note: the reader got %ld bytes: %s", n, g_crbuf);
		if (strstr(g_crbuf, "+OK") || strstr(g_crbuf, "+PONG")) {
			say("error: the reader of the first connection got "
			    "the second connection's reply");
			rc = 1;
		}
	} else if (n == -1) {
		say("note: the reader got error %s", strerror(g_crerr));
	} else if (n == -2) {
		say("note: the reader got end of stream");
	} else {
		say("error: the reader is still blocked, 3 s after its "
		    "connection's BLPOP was answered");
		rc = 1;
	}
	return rc;
}
/* forkbefore: socket(), fork() before connect.  The parent connects and
   SETs; the child, 300 ms later, write()s the SET to its copy (must fail:
   it is not connected), then connect()s its copy itself and SETs
   MARKER:child by write(), and by dprintf() MARKER:child2. */
static int m_forkbefore(void)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(g_host, g_port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), st;
	pid_t pid;

	if (fd < 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		struct timespec nap = { 0, 300 * 1000 * 1000 };
		char c[200];
		int l;

		nanosleep(&nap, NULL);
		if (write(fd, g_cmd, g_cmdlen) >= 0)
			say("error: child: write on the unconnected copy succeeded");
		else
			say("note: child: write on its copy: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
			err("child connect");
			_exit(1);
		}
		l = snprintf(c, sizeof c, "SET %s:child 1\r\n", g_marker);
		if (write_all(fd, c, (size_t)l) < 0 || expect_reply(fd, "+OK"))
			_exit(1);
		if (dprintf(fd, "SET %s:child2 1\r\n", g_marker) < 0)
			_exit(1);
		_exit(expect_reply(fd, "+OK"));
	}
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		err("connect");
		return 2;
	}
	if (write_all(fd, g_cmd, g_cmdlen) < 0 || expect_reply(fd, "+OK"))
		return 1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	say("note: child exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
	if (write_all(fd, "PING\r\n", 6) < 0 || expect_reply(fd, "+PONG"))
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* etswitch: EPOLLET reader.  Fast path: "PING\r\nPING\r\n" by write(),
   read 7 bytes (the second +PONG stays in the session); then the SET by
   dprintf() (the connection switches to relay mode with a reply
   pending); every later reply must be reported by the edge-triggered
   epoll and read: +PONG, +OK, then a PING by write() +PONG. */
static int et_read_line(int ep, int fd, const char *expect)
{
	long deadline = now_ms() + REPLY_MS;

	for (;;) {
		char *eol = g_rlen ? memmem(g_rbuf, g_rlen, "\r\n", 2) : NULL;
		struct epoll_event ev;
		if (eol)
			return read_line(fd, expect, 1, R_READ) == 1 ? 0 : 1;
		long left = deadline - now_ms();
		if (left <= 0) {
			say("error: edge-triggered epoll reported nothing for "
			    "%d ms (%zu bytes buffered)", REPLY_MS, g_rlen);
			return 1;
		}
		int n = epoll_wait(ep, &ev, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		/* edge-triggered: drain */
		for (;;) {
			ssize_t got = recv(fd, g_rbuf + g_rlen, sizeof g_rbuf - g_rlen,
					   MSG_DONTWAIT);
			if (got > 0) {
				g_rlen += (size_t)got;
				continue;
			}
			if (got == 0) {
				say("error: end of stream");
				return 1;
			}
			break;
		}
	}
}
static int m_etswitch(void)
{
	int fd = dial(), ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	char b[7];
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ev.data.fd = fd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err("epoll");
		return 2;
	}
	if (write_all(fd, "PING\r\nPING\r\n", 12) < 0)
		return 1;
	/* both replies in (one record or two), then take the first */
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	poll(&p, 1, 3000);
	nanosleep(&nap, NULL);
	if (read(fd, b, 7) != 7 || memcmp(b, "+PONG\r\n", 7)) {
		say("error: the first +PONG");
		return 1;
	}
	say("reply: +PONG");
	if (dprintf(fd, "%s", g_cmd) < 0)
		return 1;
	if (et_read_line(ep, fd, "+PONG") || et_read_line(ep, fd, "+OK"))
		return 1;
	if (write_all(fd, "PING\r\n", 6) < 0)
		return 1;
	return et_read_line(ep, fd, "+PONG");
}

/* forkexit: relayed connection (dprintf SET, +OK); fork; the child
   calls exit(0) (atexit handlers, destructors); then the parent PINGs by
   dprintf and by write(). */
static int m_forkexit(void)
{
	int fd = dial();
	pid_t pid;

	if (dprintf(fd, "%s", g_cmd) < 0 || expect_reply(fd, "+OK"))
		return 1;
	pid = fork();
	if (pid == 0)
		exit(0);
	if (pid < 0 || wait_child(pid, "exit(0) child") < 0)
		return 1;
	if (dprintf(fd, "PING\r\n") < 0 || expect_reply(fd, "+PONG"))
		return 1;
	if (write_all(fd, "PING\r\n", 6) < 0)
		return 1;
	return expect_reply(fd, "+PONG");
}

/* oob ZC|OOB|REPAIR|VMSPLICE: a path with special kernel semantics. */
static int m_special(const char *how)
{
	int fd = dial();
	int one = 1;

	if (!strcmp(how, "OOB")) {
		if (send(fd, g_cmd, g_cmdlen, MSG_OOB) < 0)
			say("note: send(MSG_OOB): %s", strerror(errno));
		else
			say("note: send(MSG_OOB) accepted");
		return 0;
	}
	if (!strcmp(how, "ZC")) {
		if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) < 0)
			say("note: SO_ZEROCOPY: %s", strerror(errno));
		if (send(fd, g_cmd, g_cmdlen, MSG_ZEROCOPY) < 0) {
			say("note: send(MSG_ZEROCOPY): %s", strerror(errno));
			if (write_all(fd, g_cmd, g_cmdlen) < 0)
				return 1;
		}
		return expect_reply(fd, "+OK");
	}
	if (!strcmp(how, "REPAIR")) {
		if (setsockopt(fd, IPPROTO_TCP, 19 /* TCP_REPAIR */, &one, sizeof one) < 0) {
			say("note: TCP_REPAIR: %s", strerror(errno));
		} else {
			say("note: TCP_REPAIR on");
			int q = 2; /* TCP_SEND_QUEUE */
			setsockopt(fd, IPPROTO_TCP, 20 /* TCP_REPAIR_QUEUE */, &q, sizeof q);
			if (send(fd, g_cmd, g_cmdlen, 0) >= 0)
				say("note: send in repair mode accepted");
			int zero = 0;
			setsockopt(fd, IPPROTO_TCP, 19, &zero, sizeof zero);
		}
		return 0;
	}
	if (!strcmp(how, "VMSPLICE")) {
		int pp[2];
		struct iovec iov = { g_cmd, g_cmdlen };
		if (pipe(pp) < 0)
			return 2;
		if (vmsplice(pp[1], &iov, 1, 0) != (ssize_t)g_cmdlen) {
			err("vmsplice");
			return 1;
		}
		if (syscall(SYS_splice, pp[0], NULL, fd, NULL, g_cmdlen, 0) != (long)g_cmdlen) {
			err("raw splice");
			return 1;
		}
		return expect_reply(fd, "+OK");
	}
	return 2;
}

/* bigselect: the socket moved to fd 1500 (F_DUPFD; RLIMIT_NOFILE raised
   if needed), the SET by write(), the reply awaited by select() with a
   set sized for fd 1500 (larger than an fd_set). */
static int m_bigselect(void)
{
	int fd0 = dial(), fd;
	struct rlimit rl;
	size_t words = (1501 + NFDBITS - 1) / NFDBITS;
	fd_set *rs = calloc(words, sizeof(fd_mask));

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2048) {
		rl.rlim_cur = rl.rlim_max < 2048 ? rl.rlim_max : 2048;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fd = fcntl(fd0, F_DUPFD, 1500);
	if (fd < 0) {
		err("F_DUPFD 1500");
		return 3;
	}
	close(fd0);
	say("note: socket at fd %d", fd);
	if (write_all(fd, g_cmd, g_cmdlen) < 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		struct timeval tv = { 5, 0 };
		memset(rs, 0, words * sizeof(fd_mask));
		rs->fds_bits[fd / NFDBITS] |= (fd_mask)1 << (fd % NFDBITS);
		int n = select(fd + 1, rs, NULL, NULL, &tv);
		if (n <= 0 || !(rs->fds_bits[fd / NFDBITS] & ((fd_mask)1 << (fd % NFDBITS)))) {
			say("error: select(%d) returned %d%s", fd + 1, n,
			    n < 0 ? strerror(errno) : "");
			return 1;
		}
		if (i == 0 && read_line(fd, "+OK", REPLY_MS, R_READ) != 1)
			return 1;
		if (i == 0 && dprintf(fd, "PING\r\n") < 0) /* relayed from now on */
			return 1;
	}
	return read_line(fd, "+PONG", REPLY_MS, R_READ) == 1 ? 0 : 1;
}

#define WATCHDOG_S 12
static void on_watchdog(int sig)
{
	static const char msg[] = "error: watchdog: still running after "
				  "12 s (a call blocked)\n";

	(void)sig;
	if (write(g_out, msg, sizeof msg - 1) < 0)
		_exit(1);
	_exit(1);
}

int main(int argc, char **argv)
{
	const char *mode;

	if (argc < 5) {
		fprintf(stderr, "usage: leak_probe MODE HOST PORT MARKER [ARGS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	g_out = dup(1);
	if (g_out < 0)
		return 2;
	mode = argv[1];
	g_host = argv[2];
	g_port = argv[3];
	g_marker = argv[4];
	g_cmdlen = (size_t)snprintf(g_cmd, sizeof g_cmd, "SET %s 1\r\n",
				    g_marker);
	if (g_cmdlen >= sizeof g_cmd)
		return 2;
	if (strcmp(mode, "signal") != 0 && strcmp(mode, "sigload") != 0) { /* which uses SIGALRM itself */
		signal(SIGALRM, on_watchdog);
		alarm(WATCHDOG_S);
	}

	if (!strcmp(mode, "write") || !strcmp(mode, "anyaddr"))
		return m_write();
	if (!strcmp(mode, "vfork"))
		return m_vfork();
	if (!strcmp(mode, "dprintf"))
		return m_dprintf();
	if (!strcmp(mode, "stdio"))
		return m_stdio();
	if (!strcmp(mode, "pwritev2"))
		return m_pwritev2();
	if (!strcmp(mode, "preadv2"))
		return m_preadv2();
	if (!strcmp(mode, "aio"))
		return m_aio();
	if (!strcmp(mode, "spawn"))
		return m_spawn();
	if (!strcmp(mode, "fionclex"))
		return m_fionclex();
	if (!strcmp(mode, "glibc_alias"))
		return m_glibc_alias();
	if (!strcmp(mode, "alias_io"))
		return m_alias_io();
	if (!strcmp(mode, "fastopen_sendmsg"))
		return m_fastopen(0);
	if (!strcmp(mode, "fastopen_sendmmsg"))
		return m_fastopen(1);
	if (!strcmp(mode, "toctou") && argc >= 7)
		return m_toctou(argv[5], argv[6]);
	if (!strcmp(mode, "touchall") && argc >= 6)
		return m_touchall(argv[5]);
	if (!strcmp(mode, "inherit") && argc >= 7)
		return m_inherit(argv[5], argv[6]);
	if (!strcmp(mode, "dlsym") && argc >= 6)
		return m_dlsym(argv[5]);
	if (!strcmp(mode, "v6len") && argc >= 6)
		return m_v6len(argv[5]);
	if (!strcmp(mode, "race"))
		return m_race();
	if (!strcmp(mode, "syscall"))
		return m_syscall();
	if (!strcmp(mode, "sendfile"))
		return m_sendfile();
	if (!strcmp(mode, "splice"))
		return m_splice();
	if (!strcmp(mode, "fork_writev"))
		return m_fork_writev();
	if (!strcmp(mode, "iouring"))
		return m_iouring();
	if (!strcmp(mode, "collateral"))
		return m_collateral(argc, argv);
	if (!strcmp(mode, "signal"))
		return m_signal();
	if (!strcmp(mode, "anybound6") && argc >= 6)
		return m_anybound6(argv[5]);
	if (!strcmp(mode, "sigload"))
		return m_sigload(argc >= 6 ? argv[5] : NULL);
	if (!strcmp(mode, "bigfd"))
		return m_bigfd();
	if (!strcmp(mode, "closeloop"))
		return m_closeloop();
	if (!strcmp(mode, "closeloop_exit"))
		return m_closeloop_exit();
	if (!strcmp(mode, "closefrom"))
		return m_closefrom();
	if (!strcmp(mode, "raceconnect"))
		return m_raceconnect();
	if (!strcmp(mode, "dupbefore"))
		return m_dupbefore();
	if (!strcmp(mode, "bindport"))
		return m_bindport();
	if (!strcmp(mode, "shutwr"))
		return m_shutwr();
	if (!strcmp(mode, "nbstdio"))
		return m_nbstdio();
	if (!strcmp(mode, "epolldup"))
		return m_epolldup();
	if (!strcmp(mode, "execself"))
		return m_execself();
	if (!strcmp(mode, "scm") && argc >= 6)
		return m_scm(argv[5]);
	if (!strcmp(mode, "exitflush") && argc >= 6)
		return m_exitflush(argv[5]);
	if (!strcmp(mode, "childrw") && argc >= 6)
		return m_childrw(argv[5]);
	if (!strcmp(mode, "bigstdio"))
		return m_bigstdio();
	if (!strcmp(mode, "mixwrite"))
		return m_mixwrite();
	if (!strcmp(mode, "closeread") && argc >= 6)
		return m_closeread(argv[5]);
	if (!strcmp(mode, "forkbefore"))
		return m_forkbefore();
	if (!strcmp(mode, "etswitch"))
		return m_etswitch();
	if (!strcmp(mode, "forkexit"))
		return m_forkexit();
	if (!strcmp(mode, "special") && argc >= 6)
		return m_special(argv[5]);
	if (!strcmp(mode, "bigselect"))
		return m_bigselect();
	fprintf(stderr, "leak_probe: unknown mode or missing argument: %s\n",
		mode);
	return 2;
}
