/*
 * engine_api.h - the one table between the switchboard and the engine.
 *
 * The switchboard (libredistls.so, libc only) loads the engine
 * (libredistls-engine.so: configuration, matching, OpenSSL) on the first
 * connect() of an IPv4/IPv6 stream socket and calls shim_engine_init().
 * Everything else goes through struct shim_engine_ops.
 *
 * Contract of the I/O calls (hiredis style): they never block and never
 * touch errno of the caller.  They return
 *   >= 0              bytes transferred (0 from read: orderly end of stream),
 *   SHIM_IO_ERROR     failure; *err holds the errno value the program sees,
 *   SHIM_IO_WANT_READ / SHIM_IO_WANT_WRITE
 *                     retry once the kernel socket is readable / writable.
 *
 * Thread-safety: calls on one struct shim_tls are serialised by the caller
 * (the switchboard's per-socket lock).  Calls on different sessions may run
 * concurrently.
 */
#ifndef SHIM_ENGINE_API_H
#define SHIM_ENGINE_API_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

struct addrinfo;

#define SHIM_ENGINE_ABI 3
#define SHIM_ENGINE_INIT_SYMBOL "shim_engine_init"
/*
 * A program that makes its TLS with the engine itself (redis-tls-ctl)
 * exports this symbol: the preloaded switchboard stands aside in it,
 * however it was preloaded (LD_PRELOAD, /etc/ld.so.preload), instead of
 * wrapping the program's TLS connections a second time.
 */
#define SHIM_STAND_ASIDE_SYMBOL "redis_tls_shim_stand_aside"

/*
 * The configuration file of a whole host (system-wide mode, with
 * /etc/ld.so.preload): the engine reads it when REDIS_TLS_CONFIG is unset
 * or empty, and its existence makes a process configured for the exec
 * hooks as REDIS_TLS_CONFIG would.
 */
#define SHIM_SYSTEM_CONFIG "/etc/redis-tls-shim.conf"

#define SHIM_IO_ERROR (-1)
#define SHIM_IO_WANT_READ (-2)
#define SHIM_IO_WANT_WRITE (-3)

enum shim_log_level {
	SHIM_LOG_DEBUG,
	SHIM_LOG_INFO,
	SHIM_LOG_NOTICE,
	SHIM_LOG_WARNING,
	SHIM_LOG_ERROR,
};

/* What the switchboard lends the engine. */
struct shim_host {
	int abi;
	/* The real libc calls, never the hooks. */
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	int (*close)(int fd);
	/* The real getaddrinfo(3), never the name-capturing hook: the
	   engine's own lookups (resolve.c) are not the program's. */
	int (*getaddrinfo)(const char *node, const char *service,
			   const struct addrinfo *hints, struct addrinfo **res);
	/* Logging; printf format, no trailing newline. */
	void (*log)(enum shim_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	int (*log_enabled)(enum shim_log_level level);
	/* Apply the configuration's log section: returns 0, or -1 with *why. */
	int (*log_configure)(const char *level, const char *target,
			     const char **why);
	/* A variable of the configuration, as the process had it when it
	   started if it had it then (a program that cleared its environment
	   before its first connect keeps its configuration), else as it has
	   it now; NULL here: getenv(3). */
	const char *(*getenv)(const char *name);
};

struct shim_tls; /* one TLS session, opaque to the switchboard */

/* What the switchboard learns when it opens a session. */
#define SHIM_LABEL_MAX 320 /* a host name, ':' and a port, with room */

struct shim_session_info {
	int handshake_timeout_ms;
	char label[SHIM_LABEL_MAX]; /* "host:port" for log lines */
};

enum shim_decision {
	SHIM_PASS,  /* not a configured endpoint: leave the socket alone */
	SHIM_WRAP,  /* configured: *out is a new session */
	SHIM_REFUSE /* configured but unusable: fail the connect with *err */
};

struct shim_engine_ops {
	int abi;

	/*
	 * Decide what to do with connect(fd, addr) where the program resolved
	 * `name` for that address (NULL when it dialled a literal).  On
	 * SHIM_WRAP the session owns no fd yet beyond using `fd` for I/O.
	 * With out NULL it only answers (and fills info): no session is made,
	 * no ticket taken, nothing counted.
	 */
	enum shim_decision (*open)(int fd, const struct sockaddr *addr,
				   socklen_t addrlen, const char *name,
				   struct shim_tls **out,
				   struct shim_session_info *info, int *err);

	/*
	 * Use `fd` for the session's I/O from now on.  The program may reach
	 * one session through several fds (dup) and close any of them, so
	 * the switchboard names the fd it is serving before each call.
	 */
	void (*set_fd)(struct shim_tls *s, int fd);

	/* Advance the handshake: 0 done, or an SHIM_IO_* code. */
	int (*handshake)(struct shim_tls *s, int *err);

	/*
	 * Read plaintext; peek leaves it buffered.  Drains what is buffered:
	 * a read that returns less than len, or WANT_READ, found no more
	 * bytes in the kernel socket (its end of stream may still be there,
	 * unread, and an error held for the next read shows in buffered()).
	 */
	ssize_t (*read)(struct shim_tls *s, void *buf, size_t len, int peek,
			int *err);

	/*
	 * Write plaintext.  The session owns every record it has started, so
	 * a retry after WANT_WRITE may pass any buffer and length.
	 */
	ssize_t (*write)(struct shim_tls *s, const void *buf, size_t len,
			 int *err);

	/* Push out owned records: 0 when none remain, or an SHIM_IO_* code. */
	int (*flush)(struct shim_tls *s, int *err);

	/* Plaintext (or whole records) held in user space: 1 or 0. */
	int (*buffered)(struct shim_tls *s);

	/* Bytes of plaintext ready now (FIONREAD); may decrypt one record. */
	size_t (*pending)(struct shim_tls *s);

	/* Ciphertext owned but not yet accepted by the kernel. */
	size_t (*unsent)(struct shim_tls *s);

	/* Send close_notify without blocking (best effort). */
	void (*shutdown)(struct shim_tls *s);

	/* Free the session; never touches the socket. */
	void (*free)(struct shim_tls *s);

	/* At process exit: statistics line and the like. */
	void (*at_exit)(void);

	/* A thread of the switchboard that used sessions ends: free what
	   the TLS library keeps per thread. */
	void (*thread_stop)(void);
};

typedef const struct shim_engine_ops *(*shim_engine_init_fn)(
	const struct shim_host *host, char *why, size_t whylen);

#endif
