/*
 * supervise.h - `redis-tls-ctl supervise -- PROG ARGS...`: verified TLS for
 * programs LD_PRELOAD cannot reach (static binaries, Go).
 *
 * supervise.c   the run's three processes: P (what the user runs: the
 *               program's parent, its exit status), C (the program, under
 *               the seccomp filter: user notification on connect and the
 *               TCP Fast Open sends) and S (the supervisor, which serves
 *               until no filtered task remains, so descendants that
 *               outlive the program are served too); S's notification
 *               loop, one worker thread per connect (TCP + TLS handshake
 *               with the engine, then the loopback pair put into the
 *               program's fd).
 * sup_relay.c   the loopback pair (no listener left open) and the one
 *               epoll thread that carries bytes between the program's
 *               loopback connection and the TLS sessions.
 * sup_filter.c  the seccomp filter itself.
 * sup_pending.c the program's sockets whose non-blocking connect is still
 *               running or has failed.
 */
#ifndef SHIM_TOOLS_SUPERVISE_H
#define SHIM_TOOLS_SUPERVISE_H

#include "engine_api.h"

#include <sys/socket.h>
#include <sys/types.h>

struct sock_fprog;

/* The seccomp filter the program runs under (sup_filter.c). */
void sup_filter_prog(struct sock_fprog *out);

#define SUP_EXIT_REFUSED 2 /* as redis-tls-run's refusals: not run */

/*
 * Run argv[0] (looked up in PATH) under the supervisor; load_engine loads
 * the configuration in the supervisor's process (NULL after printing
 * why).  Returns, once the program has ended and what it wrote has been
 * carried, the program's exit status (128 + signal if killed), or
 * SUP_EXIT_REFUSED after one line saying why the program was not started.
 * The supervisor's process goes on while the program's descendants run.
 */
int sup_run(char **argv, const struct shim_engine_ops *(*load_engine)(void));

/*
 * sup_exec_options - how sup_run's child starts the program: argv0, if not
 * NULL, as its argv[0] (argv[0] of sup_run stays the file run); with
 * env_count > 0, the first env_count variables of the environment are the
 * supervisor's configuration only: the program gets the environment after
 * them, and the supervisor keeps those variables and, of the rest, all but
 * REDIS_TLS_* (the program's own, not ours).  0, or -1 if the
 * environment has fewer variables or memory is short.
 */
int sup_exec_options(const char *argv0, size_t env_count);

/*
 * A loopback TCP connection: *near (for the program) connected to *far
 * (ours), both close-on-exec and non-blocking.  The temporary listener is
 * closed before it returns, and only the connection from *near's own
 * address is accepted.  0, or -1 with *err.
 */
int sup_loopback_pair(int *near, int *far, int *err);

/*
 * Connect sock, our copy of the program's own socket, to a one-shot
 * loopback listener of ours (closed before it returns; only the
 * connection from sock's own address accepted): *far is our end.  An IPv6
 * socket goes through the IPv4 listener's mapped address, or ::1 if it is
 * IPv6-only.  rcvbuf (0: the kernel's) is our end's receive buffer from
 * the start, so its window never outgrows it (SUP_HOLD_RCVBUF: the
 * program's end can be made unwritable with a few KiB of filler while a
 * non-blocking connect's handshake runs, supervise.c).  0, or -1 *err.
 */
int sup_loopback_attach(int sock, int *far, int *err, int rcvbuf);

#define SUP_HOLD_RCVBUF 4096        /* our end's buffer while held */
#define SUP_FREE_RCVBUF (256 << 10) /* ... and once the connection is up */

/* Start the relay thread: 0, or -1 with errno. */
int sup_relay_start(const struct shim_engine_ops *ops);

/* What getpeername() and getsockname() on the program's end of a
   connection answer: the addresses of our connection to the server. */
struct sup_peer {
	ino_t ino;                   /* the program's socket (its end) */
	struct sockaddr_storage sa;  /* the server's address */
	socklen_t salen;
	struct sockaddr_storage local; /* our socket's own address */
	socklen_t locallen;
};

/*
 * Hand the relay a connection: t over the kernel socket net (handshake
 * done), far our end of the program's loopback connection, peer what the
 * program's end stands for, skip the filler bytes far holds before the
 * program's own (dropped).  The relay owns t, net and far from now on.
 * held, if not 0, is the program's socket's entry in the table of running
 * connects (sup_pending.c), freed once peer is listed and before the relay
 * starts: a shim's question in between (sup_probe.h) sees one of the two.
 */
void sup_relay_add(struct shim_tls *t, int net, int far, const char *label,
		   const struct sup_peer *peer, size_t skip, ino_t held);

/* The addresses behind the program's socket ino: 0, or -1 if none. */
int sup_relay_peer(ino_t ino, struct sup_peer *out);

/* Connections the relay still carries (not yet closed). */
int sup_relay_live(void);

/*
 * 1 if what the programs wrote has been carried: on every connection,
 * nothing unread on our end of the loopback, nothing buffered, the TLS
 * records handed to the kernel, and close_notify sent where the program
 * closed.  0 if something is still on its way.  Any thread.
 */
int sup_relay_quiet(void);

/* A non-blocking connect the supervisor answered with EINPROGRESS. */
enum sup_pstate {
	SUP_P_FREE = 0,       /* none (or done: the relay has it) */
	SUP_P_CONNECTING = 1, /* the handshake runs */
	SUP_P_FAILED = 2      /* failed with err, not yet reported */
};

/* Record ino's state (SUP_P_FREE forgets it): 0, or -1 if the table is
   full of running connects. */
int sup_pending_set(ino_t ino, enum sup_pstate state, int err);

/* ino's state and *err; a failure is reported once, then forgotten. */
enum sup_pstate sup_pending_get(ino_t ino, int *err);

/* ino's state, nothing forgotten. */
enum sup_pstate sup_pending_peek(ino_t ino);

#endif
