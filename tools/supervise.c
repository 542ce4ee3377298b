/*
 * supervise.c - `redis-tls-ctl supervise -- PROG ARGS...`.
 *
 * Three processes, forked before any thread exists:
 *
 *   P  the process the user runs.  It stays the parent of C, forwards
 *      SIGINT/SIGTERM/SIGHUP/SIGQUIT to it, reaps every child (as PID 1
 *      of a container it is handed the orphans), and when C ends waits
 *      until S says what C wrote has been carried (or S ends, at most
 *      SUP_ANSWER_MS), then exits with C's status: as redis-tls-run with
 *      the preload path, it returns with the program while the
 *      program's background jobs go on.
 *   C  sets no_new_privs, installs the seccomp filter whose listener goes
 *      to S over a socketpair, waits for S's go and execs PROG.  No go
 *      (S refused: a configuration error) and C exits SUP_EXIT_REFUSED
 *      without running it.
 *   S  the supervisor: receives the listener, loads the engine, starts
 *      the relay, tells C to go, and serves notifications until no task
 *      under the filter remains (the kernel's POLLHUP on the listener,
 *      once the last one is reaped), so descendants that outlive C are
 *      served too; then the drain, the statistics line, and the end of
 *      its socket to P.  It ignores the signals a terminal sends to the
 *      group (the programs' own end ends it), and its stdin and stdout
 *      are /dev/null.  If S dies, the filtered programs' connects fail
 *      closed (ENOSYS, the kernel's answer without a listener).
 *
 * The filter (inherited by every thread and child, whatever their
 * environment) sends S connect(2), getpeername(2) and getsockname(2) (a
 * connection we answered names the server and our own connection's
 * address, not the loopback pair's), getsockopt(2) of SO_ERROR (the outcome
 * of a non-blocking connect we answered EINPROGRESS) and the TCP Fast Open
 * sends (sendto/sendmsg/sendmmsg with MSG_FASTOPEN); io_uring_setup gets ENOSYS
 * (an io_uring connect would pass unseen) and so does any system call of
 * another ABI (x32, i386), which the filter cannot read safely.
 *
 * For each connect we read the address from the program's memory, check
 * the notification is still live (no pid reuse), and ask the engine.  Not
 * configured, or not an IPv4/IPv6 stream socket: the connect is made as
 * asked, on our copy of the socket.  Configured: a worker thread makes our
 * own TCP connection and completes the verified TLS handshake, and the
 * program's own socket (through our pidfd_getfd copy: every dup and fork
 * copy of it is the same socket) is connected to a loopback end of ours
 * that the relay carries over TLS; the listener is closed before the
 * connect is answered, and only the program's socket accepted
 * (sup_relay.c).  A blocking connect is answered when all that is done,
 * a non-blocking one at once with EINPROGRESS (sup_connect_async).  On
 * failure the connect fails with the preload path's errno and the
 * engine's one log line.
 *
 * Threads (in S only): the main thread receives notifications and talks
 * to P; one detached worker per connect; the relay thread.  Workers share
 * the engine (thread-safe), the listener fd and the table of connects
 * still running (sup_pending.c).  P and C have one thread each.
 */
#include "supervise.h"
#include "sup_probe.h"
#include "deadline.h"
#include "setid.h"
#include "switchboard/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define SUP_NOTIF_MAX 512   /* room for the kernel's struct seccomp_notif */
#define SUP_PATH_MAX 4096
#define SUP_LINE_MAX 256

static const struct shim_engine_ops *sup_ops;
static int sup_listener = -1;
static const char *sup_argv0;  /* --argv0 */
static char **sup_prog_env;    /* --env-count: the program's environment */

/* One configured connect, handed to a worker thread. */
struct sup_job {
	__u64 id;
	pid_t pid;
	int fd;                 /* the program's descriptor */
	int dup;                /* our copy of it (pidfd_getfd) */
	int nonblock;           /* its O_NONBLOCK (shared with our copy) */
	struct sockaddr_storage sa;
	socklen_t salen;
	struct shim_session_info info;
	int plain;              /* not ours to wrap: the connect as asked */
	int addr_err;           /* SUP_ADDR_BAD: the kernel's errno */
	ino_t held;             /* dup's socket, recorded as connecting */
};

enum { SUP_ADDR_INET = 1, SUP_ADDR_OTHER = 2, SUP_ADDR_BAD = 3 };

/* ------------------------------------------------------------- filter */

static int sup_seccomp(unsigned op, unsigned flags, void *arg)
{
	return (int)syscall(SYS_seccomp, op, flags, arg);
}

/* The listener of a filter installed on this thread, or -1. */
static int sup_install_filter(void)
{
	struct sock_fprog prog;
	int fd;

	sup_filter_prog(&prog);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	/* Killable wait: a signal (Go's preemption) must not restart a
	   connect we are already answering. */
	fd = sup_seccomp(SECCOMP_SET_MODE_FILTER,
			 SECCOMP_FILTER_FLAG_NEW_LISTENER |
				 SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
			 &prog);
	if (fd < 0 && errno == EINVAL)
		fd = sup_seccomp(SECCOMP_SET_MODE_FILTER,
				 SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	return fd;
}

/* -------------------------------------------------------------- child */

/* One byte and room for one descriptor: the message that carries the
   filter's listener from the child to the supervisor. */
struct sup_fd_msg {
	char byte;
	struct iovec iov;
	struct msghdr m;
	/* last: clang counts CMSG_SPACE() as a variable size */
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
};

static void sup_fd_msg_init(struct sup_fd_msg *x)
{
	memset(x, 0, sizeof(*x));
	x->byte = 'L';
	x->iov = (struct iovec){ .iov_base = &x->byte, .iov_len = 1 };
	x->m = (struct msghdr){ .msg_iov = &x->iov, .msg_iovlen = 1,
				.msg_control = x->u.buf,
				.msg_controllen = sizeof(x->u.buf) };
}

static int sup_send_fd(int sock, int fd)
{
	struct sup_fd_msg x;
	struct cmsghdr *c;

	sup_fd_msg_init(&x);
	c = CMSG_FIRSTHDR(&x.m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &x.m, 0) == 1 ? 0 : -1;
}

static int sup_recv_fd(int sock)
{
	struct sup_fd_msg x;
	struct cmsghdr *c;
	int fd = -1;

	sup_fd_msg_init(&x);
	if (recvmsg(sock, &x.m, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&x.m);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * The shim is never preloaded under the supervisor: in a dynamic
 * descendant it would make TLS that the supervisor then wraps again.  Its
 * entries (libredistls.so, any folder) leave LD_PRELOAD; the others stay.
 * In the child before exec, one thread: setenv is fine.
 */
static void sup_unpreload(void)
{
	const char *lp = getenv("LD_PRELOAD"), *base;
	char copy[SUP_PATH_MAX], out[SUP_PATH_MAX] = "", *save = NULL;
	size_t n = 0;

	if (lp == NULL || strstr(lp, "libredistls") == NULL ||
	    strlen(lp) >= sizeof(copy))
		return;
	memcpy(copy, lp, strlen(lp) + 1);
	for (char *t = strtok_r(copy, " :", &save); t != NULL;
	     t = strtok_r(NULL, " :", &save)) {
		base = strrchr(t, '/');
		if (strcmp(base != NULL ? base + 1 : t, "libredistls.so") == 0)
			continue;
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s",
				      n > 0 ? " " : "", t);
	}
	if (n > 0)
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
}

static void sup_child(int sock, char **argv)
{
	char go, *file;
	int lis;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	lis = sup_install_filter();
	if (lis < 0) {
		dprintf(2, "redis-tls-ctl supervise: refused: cannot install "
			"the seccomp filter with user notification: %s\n",
			strerror(errno));
		_exit(SUP_EXIT_REFUSED);
	}
	if (sup_send_fd(sock, lis) < 0 || read(sock, &go, 1) != 1)
		_exit(SUP_EXIT_REFUSED);
	close(lis);
	close(sock);
	file = argv[0];
	if (sup_argv0 != NULL)
		argv[0] = (char *)sup_argv0;
	if (sup_prog_env != NULL)
		environ = sup_prog_env;
	sup_unpreload();
	execvp(file, argv);
	dprintf(2, "redis-tls-ctl supervise: %s: %s\n", file, strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int sup_exec_options(const char *argv0, size_t env_count)
{
	size_t n = 0, k = 0;
	char **own;

	sup_argv0 = argv0;
	if (env_count == 0)
		return 0;
	while (environ[n] != NULL)
		n++;
	if (env_count > n || (own = calloc(n + 1, sizeof(*own))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (i < env_count || strncmp(environ[i], "REDIS_TLS_", 10) != 0)
			own[k++] = environ[i];
	sup_prog_env = environ + env_count;
	environ = own;
	return 0;
}

/* ------------------------------------------------ checks before the run */

/* The file execvp would run, into path: 0, or -1 (not found). */
static int sup_which(const char *prog, char *path, size_t len)
{
	const char *p = getenv("PATH");
	char dirs[SUP_PATH_MAX], *save = NULL;

	if (strchr(prog, '/') != NULL) {
		snprintf(path, len, "%s", prog);
		return access(path, X_OK);
	}
	snprintf(dirs, sizeof(dirs), "%s", p ? p : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d != NULL;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(path, len, "%s/%s", *d ? d : ".", prog);
		if (access(path, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* 0 if the kernel and the program allow supervision; else one line. */
static int sup_precheck(const char *prog)
{
	unsigned action = SECCOMP_RET_USER_NOTIF;
	char path[SUP_PATH_MAX];
	struct stat st;
	int fd, setid;

	if (sup_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0) {
		fprintf(stderr, "redis-tls-ctl supervise: refused: this kernel "
			"lacks seccomp user notification (%s); the program's "
			"connections could not be protected\n",
			strerror(errno));
		return -1;
	}
	if (sup_which(prog, path, sizeof(path)) < 0)
		return 0; /* execvp reports it */
	fd = open(path, O_PATH | O_CLOEXEC);
	setid = fd >= 0 && fstat(fd, &st) == 0 && setid_applies(fd, &st);
	if (fd >= 0)
		close(fd);
	if (setid) {
		fprintf(stderr, "redis-tls-ctl supervise: refused: %s is "
			"set-user-ID or set-group-ID: it cannot run under the "
			"supervisor (no_new_privs), and is not run\n", path);
		return -1;
	}
	return 0;
}

/* 0 if the kernel gives us a copy of a process's descriptor
   (pidfd_getfd, Linux 5.6): every connect is made on one. */
static int sup_check_getfd(void)
{
	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0), copy = -1;

	if (pfd >= 0)
		copy = (int)syscall(SYS_pidfd_getfd, pfd, 2, 0);
	if (copy >= 0 || (pfd >= 0 && errno == EBADF)) {
		if (copy >= 0)
			close(copy);
		close(pfd);
		return 0;
	}
	fprintf(stderr, "redis-tls-ctl supervise: refused: this kernel lacks "
		"pidfd_getfd (%s); the program's connections could not be "
		"protected\n", strerror(errno));
	if (pfd >= 0)
		close(pfd);
	return -1;
}

/* ------------------------------------------------- answering the kernel */

static void sup_respond(__u64 id, int err, int cont)
{
	struct seccomp_notif_resp r = { .id = id };

	if (cont)
		r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else
		r.error = err ? -err : 0;
	/* ENOENT: the program's thread was killed meanwhile; nothing to do */
	ioctl(sup_listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* The notified call returns val (no error). */
static void sup_respond_val(__u64 id, __s64 val)
{
	struct seccomp_notif_resp r = { .id = id, .val = val };

	ioctl(sup_listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

static int sup_id_valid(__u64 id)
{
	return ioctl(sup_listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* Read len bytes at addr in pid's memory: 0, or -1 with errno. */
static int sup_peek(pid_t pid, __u64 addr, void *buf, size_t len)
{
	struct iovec mine = { .iov_base = buf, .iov_len = len };
	struct iovec theirs = { .iov_base = (void *)(uintptr_t)addr,
				.iov_len = len };
	char mem[SUP_LINE_MAX];
	ssize_t n;
	int fd;

	n = process_vm_readv(pid, &mine, 1, &theirs, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0 || errno == EFAULT) {
		errno = EFAULT;
		return -1;
	}
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)pid);
	if ((fd = open(mem, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		errno = EFAULT;
	return -1;
}

/* ---------------------------------------------- the program's socket */

/* Our copy of the program's fd: -1 if it is none of its. */
static int sup_grab_fd(pid_t tid, int fd)
{
	int pfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	int copy;

	if (pfd < 0)
		pfd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (pfd < 0)
		return -1;
	copy = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	close(pfd);
	return copy;
}

/* 1 if copy is an IPv4/IPv6 stream socket whose family is the address's
   (else the kernel refuses the connect: EAFNOSUPPORT). */
static int sup_is_inet_stream(int copy, sa_family_t family)
{
	int type = 0, domain = 0;
	socklen_t l1 = sizeof(type), l2 = sizeof(domain);

	if (getsockopt(copy, SOL_SOCKET, SO_TYPE, &type, &l1) < 0 ||
	    getsockopt(copy, SOL_SOCKET, SO_DOMAIN, &domain, &l2) < 0)
		return 0;
	return type == SOCK_STREAM && (domain == AF_INET || domain == AF_INET6) &&
	       domain == family;
}

/*
 * The kernel's errno for a connect on copy if it is connecting, connected
 * or listening already (EALREADY, EISCONN), else 0.  Such a connect is
 * never a new connection of ours; with a configured address it is
 * answered without a connect: another thread could disconnect the socket
 * (connect AF_UNSPEC) before ours ran, which would then reach the
 * configured endpoint in clear.
 */
static int sup_taken_err(int copy)
{
	struct sockaddr_storage ss;
	struct tcp_info ti;
	socklen_t len = sizeof(ti), l = sizeof(int);
	int listening = 0;

	if (getsockopt(copy, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    len >= sizeof(ti.tcpi_state))
		return ti.tcpi_state == TCP_CLOSE ? 0
		       : ti.tcpi_state == TCP_SYN_SENT ||
				 ti.tcpi_state == TCP_SYN_RECV
			       ? EALREADY
			       : EISCONN;
	if (getsockopt(copy, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == 0 &&
	    listening)
		return EISCONN;
	len = sizeof(ss);
	return getpeername(copy, (struct sockaddr *)&ss, &len) == 0 ? EISCONN
								    : 0;
}

/*
 * A connect on a socket whose non-blocking connect we answered: EALREADY
 * while it runs, its error once if it failed (as the kernel's).  1 if
 * answered.
 */
static int sup_answer_pending(const struct sup_job *j)
{
	struct stat st;
	int err = 0;

	if (fstat(j->dup, &st) < 0)
		return 0;
	switch (sup_pending_get(st.st_ino, &err)) {
	case SUP_P_CONNECTING:
		sup_respond(j->id, EALREADY, 0);
		return 1;
	case SUP_P_FAILED:
		sup_respond(j->id, err, 0);
		return 1;
	case SUP_P_FREE:
	default:
		return 0;
	}
}

/* ------------------------------------------------------------ worker */

static int sup_wait(int fd, short events, const struct timespec *until)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ms = deadline_left_ms(until), rc;

	if (ms <= 0)
		return -1;
	do
		rc = poll(&p, 1, ms);
	while (rc < 0 && errno == EINTR && (ms = deadline_left_ms(until)) > 0);
	return rc > 0 ? 0 : -1;
}

/* Our TCP connection to the server: the fd, or -1 with *err. */
static int sup_dial(const struct sup_job *j, const struct timespec *until,
		    int *err)
{
	int fd = socket(j->sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	socklen_t len = sizeof(*err);

	*err = 0;
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&j->sa, j->salen) < 0 &&
	    errno != EINPROGRESS)
		*err = errno;
	else if (sup_wait(fd, POLLOUT, until) < 0)
		*err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0)
		*err = errno;
	if (*err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The verified handshake on net: the session, or NULL with *err. */
static struct shim_tls *sup_handshake(struct sup_job *j, int net,
				      const struct timespec *until, int *err)
{
	struct shim_tls *t = NULL;
	int rc;

	if (sup_ops->open(net, (const struct sockaddr *)&j->sa, j->salen,
			  NULL, &t, &j->info, err) != SHIM_WRAP) {
		if (*err == 0)
			*err = EACCES;
		return NULL;
	}
	while ((rc = sup_ops->handshake(t, err)) == SHIM_IO_WANT_READ ||
	       rc == SHIM_IO_WANT_WRITE) {
		if (sup_wait(net, rc == SHIM_IO_WANT_READ ? POLLIN : POLLOUT,
			     until) < 0) {
			log_msg(SHIM_LOG_ERROR, "%s: TLS handshake timed out "
				"after %d ms (no answer from the server)",
				j->info.label, j->info.handshake_timeout_ms);
			*err = ETIMEDOUT;
			rc = SHIM_IO_ERROR;
			break;
		}
	}
	if (rc != 0) {
		sup_ops->free(t);
		return NULL;
	}
	return t;
}

/* The relay takes the connection (t, net, far; skip bytes of filler):
   the program's socket (our copy j->dup) is far's peer; no longer
   "connecting" once the relay lists it (sup_relay_add). */
static void sup_hand_over(struct sup_job *j, struct shim_tls *t, int net,
			  int far, size_t skip)
{
	struct sup_peer peer = { .sa = j->sa, .salen = j->salen,
				 .locallen = sizeof(peer.local) };
	struct stat st;

	if (fstat(j->dup, &st) == 0)
		peer.ino = st.st_ino;
	if (getsockname(net, (struct sockaddr *)&peer.local,
			&peer.locallen) < 0)
		peer.locallen = 0; /* the kernel's own answer, then */
	sup_relay_add(t, net, far, j->info.label, &peer, skip, j->held);
	j->held = 0;
}

/* j's socket is no longer "connecting" for a second connect. */
static void sup_done_connecting(struct sup_job *j)
{
	if (j->held != 0)
		sup_pending_set(j->held, SUP_P_FREE, 0);
	j->held = 0;
}

/*
 * A connect that is not ours to wrap, made as the program asked but on our
 * copy of its socket and address (the same socket: its flags, a
 * non-blocking connect's EINPROGRESS, its options are the program's).  A
 * relative AF_UNIX path is the program's: looked up from its working
 * directory.
 */
static void sup_connect_plain(struct sup_job *j)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&j->sa;
	char cwd[64];
	int dir, rc, err = 0;

	if (j->sa.ss_family == AF_UNIX && j->salen > sizeof(sa_family_t) &&
	    un->sun_path[0] != '\0' && un->sun_path[0] != '/') {
		snprintf(cwd, sizeof(cwd), "/proc/%d/cwd", (int)j->pid);
		dir = open(cwd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0 || unshare(CLONE_FS) < 0 || fchdir(dir) < 0) {
			if (dir >= 0)
				close(dir);
			sup_respond(j->id, EACCES, 0);
			return;
		}
		close(dir);
	}
	rc = connect(j->dup, (const struct sockaddr *)&j->sa, j->salen);
	if (rc < 0)
		err = errno;
	sup_respond(j->id, err, 0);
}

/* Our verified connection to the server: the session and *net, or NULL
   with *err. */
static struct shim_tls *sup_reach(struct sup_job *j, int *net, int *err)
{
	struct timespec until;
	struct shim_tls *t = NULL;

	deadline_in_ms(&until, j->info.handshake_timeout_ms);
	if ((*net = sup_dial(j, &until, err)) >= 0 &&
	    (t = sup_handshake(j, *net, &until, err)) == NULL) {
		close(*net);
		*net = -1;
	}
	if (t == NULL && *err == 0)
		*err = ECONNREFUSED;
	return t;
}

static void sup_close_all(struct shim_tls *t, int net, int far)
{
	if (t != NULL)
		sup_ops->free(t);
	if (net >= 0)
		close(net);
	if (far >= 0)
		close(far);
}

/* The program's socket could not be connected to our loopback end. */
static void sup_unattached(const struct sup_job *j, int err)
{
	log_msg(SHIM_LOG_ERROR, "%s: supervisor: cannot connect the "
		"program's socket to its loopback end: %s", j->info.label,
		strerror(err));
}

/*
 * A blocking connect: our verified connection first, then the program's
 * own socket connected to our loopback end (so every copy of it, dup or
 * fork, is the connected one), and the connect answered 0; or the
 * preload path's errno, the program's socket untouched.
 */
static void sup_connect_sync(struct sup_job *j)
{
	struct shim_tls *t;
	int net = -1, far = -1, err = 0;

	if ((t = sup_reach(j, &net, &err)) != NULL) {
		if (sup_loopback_attach(j->dup, &far, &err, 0) == 0) {
			/* registered first: the program may ask
			   getpeername() at once */
			sup_hand_over(j, t, net, far, 0);
			sup_done_connecting(j);
			sup_respond(j->id, 0, 0);
			return;
		}
		sup_unattached(j, err);
	}
	sup_done_connecting(j);
	sup_respond(j->id, err ? err : ECONNREFUSED, 0);
	sup_close_all(t, net, far);
}

#define SUP_FILL_CHUNK 4096
#define SUP_FILL_MAX (1 << 20) /* more means the hold does not work here */

/*
 * Make sock, the program's socket, unwritable until we let it go, as a
 * connecting socket is: TCP_NOTSENT_LOWAT 1 (writable only with nothing
 * unsent) and *filler bytes until our end's small window (SUP_HOLD_RCVBUF)
 * is full.  *lowat is the program's own TCP_NOTSENT_LOWAT, to put back.
 * 0, or -1: it could not be held (what was written is still counted).
 */
static int sup_hold(int sock, size_t *filler, int *lowat)
{
	static const char zeros[SUP_FILL_CHUNK];
	struct pollfd p = { .fd = sock, .events = POLLOUT };
	socklen_t len = sizeof(*lowat);
	int one = 1;
	ssize_t n = 0;

	*lowat = 0;
	*filler = 0;
	getsockopt(sock, IPPROTO_TCP, TCP_NOTSENT_LOWAT, lowat, &len);
	if (setsockopt(sock, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &one,
		       sizeof(one)) < 0)
		return -1;
	while (*filler < SUP_FILL_MAX &&
	       (n = send(sock, zeros, sizeof(zeros), MSG_NOSIGNAL)) > 0)
		*filler += (size_t)n;
	return n < 0 && errno == EAGAIN && poll(&p, 1, 0) == 0 ? 0 : -1;
}

/* Our end of a held connection that failed: reset, so the program's end
   wakes (POLLERR) and its SO_ERROR is asked. */
static void sup_reset(int far)
{
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(far, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(far);
}

/* The held connection is up: the relay drops the filler, then the
   program's socket becomes writable (its TCP_NOTSENT_LOWAT back). */
static void sup_release(struct sup_job *j, struct shim_tls *t, int net,
			int far, size_t filler, int lowat)
{
	int big = SUP_FREE_RCVBUF;

	/* the window the small buffer clamped (autotuning is off for a set
	   buffer) opens again, as far as the window scale lets it */
	setsockopt(far, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(far, IPPROTO_TCP, TCP_WINDOW_CLAMP, &big, sizeof(big));
	/* Forgotten (in sup_relay_add) before the relay can make it
	   writable, so a program woken by POLLOUT never sees it
	   "connecting"; but listed first, so a shim asking whether we hold
	   the socket (sup_on_probe) never finds it in neither table. */
	sup_hand_over(j, t, net, far, filler);
	setsockopt(j->dup, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
		   sizeof(lowat));
}

/*
 * A non-blocking connect, answered at once with EINPROGRESS as the kernel
 * answers one: the program's socket is connected to our loopback end but
 * held unwritable (a write says EAGAIN, poll shows no POLLOUT) while the
 * handshake runs.  Done: the relay takes it and POLLOUT comes.  Failed:
 * it is reset and its SO_ERROR (or a second connect) says the preload
 * path's errno.  If it cannot be held (or the table of running connects
 * is full), answered when done, as a blocking connect (0: a non-blocking
 * connect may complete at once).
 */
static void sup_connect_async(struct sup_job *j)
{
	struct shim_tls *t;
	int net = -1, far = -1, err = 0, lowat = 0, held;
	size_t filler = 0;

	if (j->held == 0) {
		sup_connect_sync(j);
		return;
	}
	if (sup_loopback_attach(j->dup, &far, &err, SUP_HOLD_RCVBUF) < 0) {
		sup_unattached(j, err);
		sup_done_connecting(j);
		sup_respond(j->id, err, 0);
		return;
	}
	if ((held = sup_hold(j->dup, &filler, &lowat) == 0))
		sup_respond(j->id, EINPROGRESS, 0);
	if ((t = sup_reach(j, &net, &err)) != NULL) {
		sup_release(j, t, net, far, filler, lowat);
		if (!held)
			sup_respond(j->id, 0, 0);
		return;
	}
	if (held) { /* recorded before the reset wakes the program */
		sup_pending_set(j->held, SUP_P_FAILED, err);
		j->held = 0;
		sup_reset(far);
	} else {
		sup_reset(far);
		sup_done_connecting(j);
		sup_respond(j->id, err, 0);
	}
}

static void *sup_worker(void *arg)
{
	struct sup_job *j = arg;

	if (j->plain)
		sup_connect_plain(j);
	else if (j->nonblock)
		sup_connect_async(j);
	else
		sup_connect_sync(j);
	sup_done_connecting(j);
	close(j->dup);
	free(j);
	sup_ops->thread_stop();
	return NULL;
}

/* ------------------------------------------------------ notifications */

/*
 * The destination address of a notified call into sa: SUP_ADDR_INET (an
 * IPv4/IPv6 address), SUP_ADDR_OTHER (another family: the kernel will
 * say what it makes of it), SUP_ADDR_BAD (the kernel's error without
 * looking further, into *bad: a bad pointer or length), -1 on a read
 * failure other than that (fail closed).
 */
static int sup_read_addr(pid_t pid, __u64 addr, __u64 len,
			 struct sockaddr_storage *sa, socklen_t *salen,
			 int *bad)
{
	*bad = EINVAL;
	if (len > sizeof(*sa))
		return SUP_ADDR_BAD;
	memset(sa, 0, sizeof(*sa));
	*salen = (socklen_t)len;
	if (len == 0)
		return SUP_ADDR_OTHER;
	if (addr == 0 || sup_peek(pid, addr, sa, (size_t)len) < 0) {
		*bad = EFAULT;
		return addr == 0 || errno == EFAULT ? SUP_ADDR_BAD : -1;
	}
	return len >= sizeof(sa_family_t) &&
		       (sa->ss_family == AF_INET || sa->ss_family == AF_INET6)
		       ? SUP_ADDR_INET
		       : SUP_ADDR_OTHER;
}

static enum shim_decision sup_decide(const struct sockaddr_storage *sa,
				     socklen_t salen,
				     struct shim_session_info *info, int *err)
{
	*err = 0;
	return sup_ops->open(-1, (const struct sockaddr *)sa, salen, NULL,
			     NULL, info, err);
}

/* Fail the connect closed, with one line: we could not see enough. */
static void sup_refuse_unseen(const struct sup_job *j, const char *what)
{
	log_msg(SHIM_LOG_ERROR, "supervisor: cannot read %s of pid %d's "
		"connect (%s): connection refused", what, (int)j->pid,
		strerror(errno));
	sup_respond(j->id, EACCES, 0);
}

/*
 * A second connect on j's socket while ours runs gets EALREADY, as from
 * the kernel, not a second connection put over the first (examined one
 * at a time: no two workers for one socket).  Not recorded if the table
 * is full.
 */
static void sup_mark_connecting(struct sup_job *j)
{
	struct stat st;

	if (fstat(j->dup, &st) == 0 && st.st_ino != 0 &&
	    sup_pending_set(st.st_ino, SUP_P_CONNECTING, 0) == 0)
		j->held = st.st_ino;
}

/*
 * What to do with j's connect: 1 hand it to a worker (j->plain: one that
 * makes the connect itself), 0 answered here.  Never "continue": the
 * kernel would then read the address and look the descriptor up again,
 * and another thread of the program could have changed either meanwhile
 * (seccomp_unotify(2)); every connect is made on our copy of the socket
 * with our copy of the address.  Whatever cannot be read fails closed.
 */
static int sup_examine(struct sup_job *j, const struct seccomp_notif *n)
{
	int got, err = 0;

	if ((j->dup = sup_grab_fd(j->pid, j->fd)) < 0) {
		if (errno == EBADF)
			sup_respond(j->id, EBADF, 0);
		else
			sup_refuse_unseen(j, "the socket");
		return 0;
	}
	got = sup_read_addr(j->pid, n->data.args[1], n->data.args[2], &j->sa,
			    &j->salen, &j->addr_err);
	if (!sup_id_valid(n->id))
		return 0; /* the thread is gone; its pid may be reused */
	if (got < 0) {
		sup_refuse_unseen(j, "the address");
		return 0;
	}
	if (got == SUP_ADDR_BAD) {
		sup_respond(j->id, j->addr_err, 0);
		return 0;
	}
	if (sup_answer_pending(j))
		return 0;
	if (got == SUP_ADDR_OTHER || !sup_is_inet_stream(j->dup, j->sa.ss_family) ||
	    sup_decide(&j->sa, j->salen, &j->info, &err) == SHIM_PASS) {
		j->plain = 1;
		return 1;
	}
	if (err != 0 || (err = sup_taken_err(j->dup)) != 0) {
		sup_respond(j->id, err, 0); /* SHIM_REFUSE (logged), EISCONN.. */
		return 0;
	}
	j->nonblock = (fcntl(j->dup, F_GETFL) & O_NONBLOCK) != 0;
	sup_mark_connecting(j);
	return 1;
}

static void sup_on_connect(const struct seccomp_notif *n)
{
	struct sup_job *j = calloc(1, sizeof(*j));
	pthread_t th;
	int err;

	if (j == NULL) {
		sup_respond(n->id, ENOMEM, 0);
		return;
	}
	*j = (struct sup_job){ .id = n->id, .pid = (pid_t)n->pid,
			       .fd = (int)n->data.args[0], .dup = -1 };
	if (sup_examine(j, n)) {
		if ((err = pthread_create(&th, NULL, sup_worker, j)) == 0) {
			pthread_detach(th);
			return;
		}
		if (j->held != 0)
			sup_pending_set(j->held, SUP_P_FREE, 0);
		sup_respond(n->id, err, 0);
	}
	if (j->dup >= 0)
		close(j->dup);
	free(j);
}

/*
 * TCP Fast Open would send the first bytes with the SYN, before any
 * handshake.  Refused whatever the destination: letting the kernel go on
 * with an address judged unconfigured would let another thread of the
 * program change it to a configured one meanwhile (seccomp_unotify(2));
 * the program falls back to connect().
 */
static void sup_on_fastopen(const struct seccomp_notif *n)
{
	if (sup_id_valid(n->id))
		sup_respond(n->id, EOPNOTSUPP, 0);
}

/* Write len bytes at addr in pid's memory: 0, or -1. */
static int sup_poke(pid_t pid, __u64 addr, const void *buf, size_t len)
{
	struct iovec mine = { .iov_base = (void *)buf, .iov_len = len };
	struct iovec theirs = { .iov_base = (void *)(uintptr_t)addr,
				.iov_len = len };

	return process_vm_writev(pid, &mine, 1, &theirs, 1, 0) == (ssize_t)len
		       ? 0 : -1;
}

/*
 * getpeername / getsockname on a socket we put in the program: the
 * server's address / our connection's own, as the kernel would write it
 * (truncated to the caller's length, the full length reported), not the
 * loopback pair's.  Anything else, or any doubt: the kernel's own.
 */
static void sup_on_getname(const struct seccomp_notif *n, int local)
{
	pid_t pid = (pid_t)n->pid;
	int copy = sup_grab_fd(pid, (int)n->data.args[0]), len;
	struct sup_peer p;
	struct stat st;
	socklen_t salen;
	const void *sa;

	if (copy < 0) {
		sup_respond(n->id, 0, 1);
		return;
	}
	if (!local && fstat(copy, &st) == 0 &&
	    sup_pending_peek(st.st_ino) != SUP_P_FREE && sup_id_valid(n->id)) {
		close(copy);
		sup_respond(n->id, ENOTCONN, 0); /* still connecting, or failed */
		return;
	}
	if (fstat(copy, &st) < 0 || sup_relay_peer(st.st_ino, &p) < 0 ||
	    (local && p.locallen == 0) ||
	    sup_peek(pid, n->data.args[2], &len, sizeof(len)) < 0 || len < 0 ||
	    !sup_id_valid(n->id)) {
		close(copy);
		sup_respond(n->id, 0, 1);
		return;
	}
	close(copy);
	sa = local ? (const void *)&p.local : (const void *)&p.sa;
	salen = local ? p.locallen : p.salen;
	if ((len > 0 && sup_poke(pid, n->data.args[1], sa,
				 (size_t)len < salen ? (size_t)len : salen) < 0) ||
	    sup_poke(pid, n->data.args[2], &salen, sizeof(int)) < 0) {
		sup_respond(n->id, EFAULT, 0);
		return;
	}
	sup_respond(n->id, 0, 0);
}

/*
 * getsockopt(SOL_SOCKET, SO_ERROR) on a socket whose non-blocking connect
 * failed: that error, once (the reset's own ECONNRESET is cleared).
 * Anything else, a connect still running included (0): the kernel's own.
 */
static void sup_on_so_error(const struct seccomp_notif *n)
{
	pid_t pid = (pid_t)n->pid;
	int copy = sup_grab_fd(pid, (int)n->data.args[0]), err = 0, len = 0;
	int junk;
	socklen_t jl = sizeof(junk);
	struct stat st;

	if (copy < 0 || fstat(copy, &st) < 0 ||
	    sup_pending_peek(st.st_ino) != SUP_P_FAILED ||
	    sup_peek(pid, n->data.args[4], &len, sizeof(len)) < 0 ||
	    len < (int)sizeof(int) || !sup_id_valid(n->id) ||
	    sup_pending_get(st.st_ino, &err) != SUP_P_FAILED) {
		if (copy >= 0)
			close(copy);
		sup_respond(n->id, 0, 1);
		return;
	}
	getsockopt(copy, SOL_SOCKET, SO_ERROR, &junk, &jl);
	close(copy);
	len = sizeof(int);
	if (sup_poke(pid, n->data.args[3], &err, sizeof(int)) < 0 ||
	    sup_poke(pid, n->data.args[4], &len, sizeof(int)) < 0) {
		sup_respond(n->id, EFAULT, 0);
		return;
	}
	sup_respond(n->id, 0, 0);
}

/*
 * A preloaded shim's questions (sup_probe.h).  With an address (args[3],
 * args[2] bytes): will the supervisor wrap a connect to it?
 * SUP_PROBE_WRAPS (not 1: sup_probe.h) when its configuration wraps or
 * refuses it (the shim must then add no TLS of its own: the supervisor
 * does it, or fails the connect closed), 0 when it passes it by (the
 * shim's own configuration decides); an address that cannot be read:
 * SUP_PROBE_WRAPS, so that nothing goes past both.  Without one, after
 * that connect: is the socket (args[0]) ours, connecting or relayed?
 * SUP_PROBE_HOLDS or 0: the shim refuses a connection we did not take.
 */
static void sup_on_probe(const struct seccomp_notif *n)
{
	struct sockaddr_storage sa;
	struct shim_session_info info;
	struct sup_peer p;
	struct stat st;
	socklen_t salen = 0;
	int addr_err = 0, err = 0, got, copy;

	if (n->data.args[3] == 0) {
		copy = sup_grab_fd((pid_t)n->pid, (int)n->data.args[0]);
		got = copy >= 0 && fstat(copy, &st) == 0 &&
		      (sup_pending_peek(st.st_ino) != SUP_P_FREE ||
		       sup_relay_peer(st.st_ino, &p) == 0);
		if (copy >= 0)
			close(copy);
		sup_respond_val(n->id, got ? SUP_PROBE_HOLDS : 0);
		return;
	}
	got = sup_read_addr((pid_t)n->pid, n->data.args[3], n->data.args[2], &sa,
			    &salen, &addr_err);
	memset(&info, 0, sizeof(info));
	if (got < 0 || got == SUP_ADDR_BAD)
		sup_respond_val(n->id, SUP_PROBE_WRAPS);
	else if (got == SUP_ADDR_OTHER)
		sup_respond_val(n->id, 0);
	else
		sup_respond_val(n->id, sup_decide(&sa, salen, &info, &err) !=
					       SHIM_PASS ? SUP_PROBE_WRAPS : 0);
}

static void sup_on_notification(void)
{
	union {
		struct seccomp_notif n;
		char room[SUP_NOTIF_MAX];
	} u;

	memset(&u, 0, sizeof(u));
	if (ioctl(sup_listener, SECCOMP_IOCTL_NOTIF_RECV, &u.n) < 0)
		return; /* EINTR, or ENOENT: the caller went away */
	switch (u.n.data.nr) {
	case __NR_connect:
		sup_on_connect(&u.n);
		break;
	case __NR_getpeername:
		sup_on_getname(&u.n, 0);
		break;
	case __NR_getsockname:
		sup_on_getname(&u.n, 1);
		break;
	case __NR_getsockopt:
		if ((int)u.n.data.args[1] == SUP_PROBE_LEVEL)
			sup_on_probe(&u.n);
		else
			sup_on_so_error(&u.n);
		break;
	case __NR_sendto:
	case __NR_sendmsg:
	case __NR_sendmmsg:
		sup_on_fastopen(&u.n);
		break;
	default:
		sup_respond(u.n.id, 0, 1);
		break;
	}
}

/* ----------------------------------------------- S: the supervisor */

/*
 * P -> S: the program has ended (P reaped it).  S -> P: what it wrote
 * has been carried; or S's end closes, when S is done (no filtered task
 * remains, drained, statistics written).
 */
#define SUP_MSG_EXITED 'x'
#define SUP_MSG_CARRIED 'c'

/*
 * How long the relay gets to carry what a program wrote before it ended
 * (a SET then exit), and at the very end to see the servers' ends, as the
 * preload path does at exit.  P waits for S's drain and a little more.
 */
#define SUP_DRAIN_MS 2000
#define SUP_DRAIN_STEP_US 10000
#define SUP_QUIET_STEP_MS 10
#define SUP_ANSWER_MS (SUP_DRAIN_MS + 1000)

static void sup_drain(void)
{
	struct timespec until;

	deadline_in_ms(&until, SUP_DRAIN_MS);
	while (sup_relay_live() > 0 && !deadline_passed(&until))
		usleep(SUP_DRAIN_STEP_US);
}

/* 1 once no filtered task remains: the kernel sets POLLHUP on the
   listener when the filter's last user is released (reaped). */
static int sup_unfiltered(void)
{
	struct pollfd p = { .fd = sup_listener, .events = POLLIN };

	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/*
 * A message from P, or its end: -1 if the run is over, 1 if P now waits
 * for SUP_MSG_CARRIED (until: how long it may), else 0.
 */
static int sup_on_parent(struct pollfd *p, struct timespec *until)
{
	char m;
	ssize_t n = recv(p->fd, &m, 1, MSG_DONTWAIT);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		p->fd = -1; /* P is gone */
		return 0;
	}
	if (m != SUP_MSG_EXITED)
		return 0;
	/* P reaped the program before it told us: with no descendant left
	   the listener is HUP already, and P waits for our end, which
	   comes after the drain and the statistics line. */
	if (sup_unfiltered())
		return -1;
	deadline_in_ms(until, SUP_DRAIN_MS);
	return 1;
}

/*
 * Serve notifications until no filtered task remains (the program and
 * every descendant ended, whoever reaped them).  parent: P, answered
 * SUP_MSG_CARRIED once the relay is quiet or SUP_DRAIN_MS passed.
 */
static void sup_serve(int parent)
{
	struct pollfd p[2] = { { .fd = sup_listener, .events = POLLIN },
			       { .fd = parent, .events = POLLIN } };
	const char carried = SUP_MSG_CARRIED;
	struct timespec until;
	int waiting = 0, rc;

	for (;;) {
		if (poll(p, 2, waiting ? SUP_QUIET_STEP_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents & POLLIN)
			sup_on_notification();
		if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			return;
		rc = p[1].revents != 0 ? sup_on_parent(&p[1], &until) : 0;
		if (rc < 0)
			return;
		waiting |= rc;
		if (waiting && (sup_relay_quiet() || deadline_passed(&until))) {
			/* fails unseen (EPIPE) if P is gone meanwhile */
			send(parent, &carried, 1, MSG_NOSIGNAL);
			waiting = 0;
		}
	}
}

/* The child's listener, the engine, the relay: 0, or -1 (refused). */
static int sup_setup(int sock, const struct shim_engine_ops *(*load)(void))
{
	sup_listener = sup_recv_fd(sock);
	if (sup_listener < 0) {
		fprintf(stderr, "redis-tls-ctl supervise: refused: the seccomp "
			"filter was not installed\n");
		return -1;
	}
	if (sup_check_getfd() < 0)
		return -1;
	sup_ops = load();
	if (sup_ops == NULL)
		return -1; /* fail closed: it said why */
	if (sup_relay_start(sup_ops) < 0) {
		fprintf(stderr, "redis-tls-ctl supervise: refused: relay "
			"thread: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * S may outlive P: it must hold neither the terminal's input nor the pipe
 * a caller reads P's output from (`$(...)` would wait for S).  Its stderr
 * stays: the engine's log lines go there.
 */
static void sup_detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	if (fd > STDOUT_FILENO)
		close(fd);
}

/*
 * S: the listener from the program's process over sock, the engine, the
 * relay; then the program's go, and notifications served until no
 * filtered task remains; the drain, the statistics line, and only then
 * the end of parent (P waits for it).  A Ctrl-C to the foreground group,
 * or any of the signals P forwards, must not end S under a program that
 * survives it: the programs' own end ends S.  S's exit status.
 */
static int sup_supervisor(int sock, int parent,
			  const struct shim_engine_ops *(*load)(void))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_IGN);
	/* Not dumpable: a program of the same user cannot ptrace us, read or
	   write our memory, or take our descriptors (our TLS sockets: bytes
	   written there would pass TLS by); the filter refuses pidfd_getfd
	   even to root. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sup_detach_stdio();
	/* Refused: the program's process reads our end's EOF, not a go,
	   and exits SUP_EXIT_REFUSED without running the program. */
	if (sup_setup(sock, load) < 0 || write(sock, "g", 1) != 1)
		return SUP_EXIT_REFUSED;
	close(sock);
	sup_serve(parent);
	sup_drain();
	if (sup_ops->at_exit != NULL)
		sup_ops->at_exit();
	close(parent);
	return 0;
}

/* ------------------------------------------------------- P: the run */

static int sup_program_pidfd = -1;
static int sup_program_signal; /* what killed the program, or 0 */

static void sup_forward(int sig)
{
	int saved = errno;

	syscall(SYS_pidfd_send_signal, sup_program_pidfd, sig, NULL, 0);
	errno = saved;
}

/*
 * The signals a sender means for the program go on to it (the pidfd:
 * never to a process that reused its pid once reaped): the ones that end
 * a foreground program, and those a parent sends its child (SIGUSR1 to
 * reopen logs, SIGWINCH, real-time ones), which killed us before, and
 * with us the program (PR_SET_PDEATHSIG).  Not job control (Ctrl-Z
 * stops us and the program alike), not the faults, nor what we ignore
 * (the program, forked before, ignores it too).  SIGCHLD's default
 * action, whatever our caller left: waitpid must see every child.
 */
static void sup_forward_signals(void)
{
	static const int sigs[] = {
		SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM,
		SIGWINCH, SIGURG, SIGIO, SIGPWR, SIGVTALRM, SIGPROF,
	};
	struct sigaction sa = { .sa_handler = sup_forward }, old;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sig, &sa, NULL);
	signal(SIGCHLD, SIG_DFL);
}

/*
 * Reap every child until the program ends: its exit status (128 + signal
 * if killed).  Not only the program: S may end first, and as PID 1 of a
 * container we are handed the orphans, which must not pile up as zombies.
 */
static int sup_reap_program(pid_t prog)
{
	int st = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &st, 0)) != prog) {
		if (pid < 0 && errno != EINTR) {
			perror("redis-tls-ctl supervise: waitpid");
			return 1;
		}
	}
	if (WIFSIGNALED(st)) {
		sup_program_signal = WTERMSIG(st);
		return 128 + WTERMSIG(st);
	}
	return WEXITSTATUS(st);
}

/*
 * The program was killed by sig: so are we, so that our parent, which
 * knows our pid for the program's, sees what it would have seen
 * (WIFSIGNALED; a shell's $? is 128 + sig either way).  No core of ours
 * (the program's, if any, is written).
 */
static void sup_die_like_program(int sig)
{
	struct rlimit none = { 0, 0 };
	sigset_t set;

	setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

/*
 * The program has ended: tell S, and wait until S says what it wrote has
 * been carried, or S's end closes (S is done), at most SUP_ANSWER_MS.
 * Then a native client that reads what the program wrote finds it.
 */
static void sup_await_carried(int sup)
{
	const char exited = SUP_MSG_EXITED;
	struct timespec until;

	if (send(sup, &exited, 1, MSG_NOSIGNAL) != 1)
		return; /* S is gone */
	deadline_in_ms(&until, SUP_ANSWER_MS);
	(void)sup_wait(sup, POLLIN, &until); /* an answer or the end */
}

/*
 * socketpair(2), both ends above stdio: started with stdin or stdout
 * closed (`prog <&-`), an end would take its number, which S's
 * sup_detach_stdio then puts /dev/null over (and the program's process
 * would hand the program a descriptor it never had).  0, or -1.
 */
static int sup_socketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		int fd = sv[i] > STDERR_FILENO ? sv[i] :
			 fcntl(sv[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

		if (fd < 0) {
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		if (fd != sv[i])
			close(sv[i]);
		sv[i] = fd;
	}
	return 0;
}

/* S, forked with parent its end of a new socketpair to P (*p_end): its
   pid, or -1 with errno. */
static pid_t sup_fork_supervisor(int sock, int *p_end,
				 const struct shim_engine_ops *(*load)(void))
{
	int ps[2], err;
	pid_t pid;

	if (sup_socketpair(ps) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		close(ps[0]);
		exit(sup_supervisor(sock, ps[1], load));
	}
	err = errno;
	close(ps[1]);
	if (pid < 0) {
		close(ps[0]);
		errno = err;
		return -1;
	}
	*p_end = ps[0];
	return pid;
}

int sup_run(char **argv, const struct shim_engine_ops *(*load_engine)(void))
{
	int sv[2], sup = -1, status;
	pid_t prog;

	if (sup_precheck(argv[0]) < 0)
		return SUP_EXIT_REFUSED;
	if (sup_socketpair(sv) < 0) {
		perror("redis-tls-ctl supervise: socketpair");
		return SUP_EXIT_REFUSED;
	}
	/* The program's process and S are forked before any thread exists:
	   the engine is loaded in S alone. */
	if ((prog = fork()) < 0) {
		perror("redis-tls-ctl supervise: fork");
		return SUP_EXIT_REFUSED;
	}
	if (prog == 0) {
		close(sv[0]);
		sup_child(sv[1], argv);
	}
	close(sv[1]);
	sup_program_pidfd = (int)syscall(SYS_pidfd_open, prog, 0);
	sup_forward_signals();
	if (sup_program_pidfd < 0 ||
	    sup_fork_supervisor(sv[0], &sup, load_engine) < 0) {
		perror("redis-tls-ctl supervise: the supervisor");
		close(sv[0]); /* the program's process reads EOF: not run */
		sup_reap_program(prog);
		return SUP_EXIT_REFUSED;
	}
	close(sv[0]);
	status = sup_reap_program(prog);
	sup_await_carried(sup);
	if (sup_program_signal != 0)
		sup_die_like_program(sup_program_signal);
	return status;
}
