/*
 * relay.c - the watcher and relay thread (see relay.h).
 *
 * Part of the socket module: the data path of a connection once relayed,
 * so it reads struct shim_sock (sock_impl.h) and calls the module's
 * locked steps (sock_advance_locked, sock_end_locked, sock_fail_locked),
 * which call it back (relay_watch, relay_unwatch, relay_take) within the
 * module.  The readiness module hears of the switch to RELAY through the
 * socket module's observer (SOCK_EV_REBIND), never from here directly.
 *
 * Invariants:
 *  - s->watched is 1 exactly while s is in relay_list and its shim_end is
 *    registered with relay_epfd; it holds one reference on s;
 *  - a RELAY connection reads from the program's end only once its
 *    handshake is done and the peer verified, so a byte the program wrote
 *    before then waits in the socketpair, and goes nowhere if it fails;
 *  - epoll data is the socket's address with bit 0 telling kfd (1) from
 *    shim_end (0); an event for a socket no longer watched is dropped, and
 *    one for a recycled socket only makes it re-check its descriptors.
 */
#include "relay.h"
#include "thread_count.h"
#include "sock_impl.h"
#include "block.h"
#include "log.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RELAY_BUF 16384
#define RELAY_EVENTS 64
#define RELAY_TAG_KFD 1u
#define RELAY_HS_TICK_MS 50
#define RELAY_ROUNDS 64 /* moves per wake-up before others get a turn */
#define RELAY_DRAIN_MS 2000 /* at exit, for bytes still in flight */
#define RELAY_DRAIN_NAP_MS 2 /* ... looked at this often */
#define RELAY_TAKE_WAIT_MS 100 /* for a session's lock, at exit */
#define RELAY_END_WAIT_MS 10000 /* at exit, for the thread to stop */
#define RELAY_SEAL_TRIES 100  /* an exec's tries for the lock */
#define RELAY_WALK_MAX (1 << 22) /* sockets, for a walk without the lock */

struct relay_state {
	enum sock_state phase;  /* of the handshake: CONNECTING .. FAILED */
	char to_app[RELAY_BUF]; /* decrypted, not yet in the socketpair */
	size_t app_off, app_len;
	char to_tls[RELAY_BUF]; /* from the socketpair, not yet encrypted */
	size_t tls_off, tls_len;
	int tls_eof;            /* the peer ended (or failed) */
	int app_eof;            /* the program ended its writing */
	int app_gone;           /* nobody holds the program's end any more */
	int notified;           /* close_notify sent */
	int kfd_dead;           /* kfd reported an error or hang-up */
	int awaiting;           /* bytes went to the server since it last sent
				   any: at exit, its answer is waited for
				   (up to RELAY_DRAIN_MS) before the close,
				   which would make the server drop them */
	atomic_int err;         /* the session's failure, for the next read
				   that meets the end of stream */
	atomic_int reset;       /* ECONNRESET: the server reset it, for the
				   program's first write that fails */
	uint32_t end_ev, kfd_ev; /* registered interest; ~0: not registered */
};

static pthread_mutex_t relay_mu = PTHREAD_MUTEX_INITIALIZER;
/* 1 while this thread holds relay_mu or is taking it: an _exit() in a
   signal handler that interrupted it would wait for itself forever */
static __thread volatile sig_atomic_t relay_mu_here
	__attribute__((tls_model("initial-exec")));

static void relay_lock(void)
{
	relay_mu_here = 1;
	pthread_mutex_lock(&relay_mu);
}

static void relay_unlock(void)
{
	pthread_mutex_unlock(&relay_mu);
	relay_mu_here = 0;
}
static struct shim_sock *relay_list;
static int relay_epfd = -1;
static int relay_started;
static pthread_t relay_thread;
static sem_t relay_go;    /* posted by relay_start: the thread may run */
static sem_t relay_ended; /* posted by the thread when it is done */
static atomic_int relay_returns; /* ... and it returns (else it sleeps) */
static int relay_uncounted;      /* off glibc's count (thread_count.h) */
static int relay_wake_fd = -1;  /* eventfd: stop the thread at exit, or
				   hand it the sessions an exit waits for */
static atomic_int relay_stopping;
static int relay_pid;
static int relay_at_exit_set;

static void relay_stop(void);
static int relay_each(int (*fn)(struct shim_sock *),
		      const struct timespec *until);
static int relay_exit_take_locked(struct shim_sock *s);
static int relay_handshaking; /* RELAY sockets still in their handshake */

/* ------------------------------------------------------ registrations */

static int relay_ctl(int op, int fd, uint32_t events, struct shim_sock *s,
		     uint32_t tag)
{
	struct epoll_event ev = { .events = events };

	ev.data.u64 = (uint64_t)(uintptr_t)s | tag;
	return real.epoll_ctl(relay_epfd, op, fd, &ev);
}

/* Caller holds relay_mu. */
static void relay_list_del(struct shim_sock *s)
{
	for (struct shim_sock **pp = &relay_list; *pp != NULL;
	     pp = &(*pp)->live_next) {
		if (*pp == s) {
			*pp = s->live_next;
			s->live_next = NULL;
			return;
		}
	}
}

static void *relay_main(void *arg);

/* Caller holds relay_mu. */
static int relay_start(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (relay_started)
		return 0;
	if (relay_epfd < 0) {
		int fd = real.epoll_create1(EPOLL_CLOEXEC);
		if (fd < 0 || (relay_epfd = sock_place_high(fd)) < 0) {
			if (fd >= 0)
				real.close(fd);
			return -1;
		}
	}
	if (relay_wake_fd < 0) {
		int fd = real.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0 || (relay_wake_fd = sock_place_high(fd)) < 0) {
			if (fd >= 0)
				real.close(fd);
			return -1;
		}
		ev.data.u64 = 0; /* no socket */
		real.epoll_ctl(relay_epfd, EPOLL_CTL_ADD, relay_wake_fd, &ev);
	}
	/* no signal of the program may land on this thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sem_init(&relay_go, 0, 0);
	sem_init(&relay_ended, 0, 0);
	atomic_store(&relay_returns, 0);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&t, &attr, relay_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	/* off the count here, not in the thread: a maker that ended before
	   the thread first ran would have left it the count's last one */
	relay_uncounted = shim_thread_uncount();
	sem_post(&relay_go);
	relay_thread = t;
	relay_pid = (int)syscall(SYS_getpid);
	relay_started = 1;
	if (!relay_at_exit_set) {
		relay_at_exit_set = 1;
		atexit(relay_stop);
	}
	return 0;
}

int relay_watch(struct shim_sock *s)
{
	int rc = -1, err = 0;

	relay_lock();
	if (!s->watched && relay_start() == 0 &&
	    relay_ctl(EPOLL_CTL_ADD, s->shim_end, EPOLLIN | EPOLLRDHUP, s, 0) == 0) {
		sock_get(s);
		s->watched = 1;
		s->live_next = relay_list;
		relay_list = s;
		rc = 0;
	}
	err = errno;
	relay_unlock();
	errno = err;
	return rc;
}

void relay_unwatch(struct shim_sock *s)
{
	int was;

	relay_lock();
	was = s->watched;
	if (was) {
		real.epoll_ctl(relay_epfd, EPOLL_CTL_DEL, s->shim_end, NULL);
		if (s->relay != NULL && s->relay->kfd_ev != ~0u)
			real.epoll_ctl(relay_epfd, EPOLL_CTL_DEL, s->kfd, NULL);
		relay_list_del(s);
		s->watched = 0;
		if (s->relay != NULL &&
		    (s->relay->phase == SOCK_CONNECTING ||
		     s->relay->phase == SOCK_HANDSHAKING))
			relay_handshaking--;
	}
	relay_unlock();
	if (was)
		sock_put(s); /* never the last: the caller holds one */
}

/* Caller holds s->lock: make the registered interest what is needed. */
static void relay_interest(struct shim_sock *s, uint32_t end_ev, uint32_t kfd_ev)
{
	struct relay_state *r = s->relay;

	relay_lock();
	if (s->watched && end_ev != r->end_ev) {
		if (end_ev == ~0u)
			real.epoll_ctl(relay_epfd, EPOLL_CTL_DEL, s->shim_end, NULL);
		else
			relay_ctl(r->end_ev == ~0u ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
				  s->shim_end, end_ev, s, 0);
		r->end_ev = end_ev;
	}
	if (s->watched && kfd_ev != r->kfd_ev) {
		if (kfd_ev == ~0u)
			real.epoll_ctl(relay_epfd, EPOLL_CTL_DEL, s->kfd, NULL);
		else
			relay_ctl(r->kfd_ev == ~0u ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
				  s->kfd, kfd_ev, s, RELAY_TAG_KFD);
		r->kfd_ev = kfd_ev;
	}
	relay_unlock();
}

/* ------------------------------------------------------------ moving */

static uint32_t relay_want_ev(int want)
{
	return want == SHIM_IO_WANT_WRITE ? EPOLLOUT :
	       want == SHIM_IO_WANT_READ ? EPOLLIN : 0;
}

/* Peer to program: decrypt into to_app, then into the socketpair. */
static int relay_to_app(struct shim_sock *s, uint32_t *kfd_ev)
{
	struct relay_state *r = s->relay;
	int moved = 0, err = 0;

	if (r->app_len == 0 && !r->tls_eof) {
		ssize_t n = sock_eng()->read(s->tls, r->to_app, RELAY_BUF, 0, &err);

		if (n > 0) {
			r->app_off = 0;
			r->app_len = (size_t)n;
			r->awaiting = 0;
			moved = 1;
		} else if (n == 0 || n == SHIM_IO_ERROR) {
			if (n == SHIM_IO_ERROR)
				atomic_store(&r->err, err ? err : ECONNRESET);
			if (n == SHIM_IO_ERROR && err == ECONNRESET)
				atomic_store(&r->reset, ECONNRESET);
			r->tls_eof = 1;
			real.shutdown(s->shim_end, SHUT_WR);
			moved = 1;
		} else {
			*kfd_ev |= relay_want_ev((int)n);
		}
	}
	if (r->app_len > 0 && !r->app_gone) {
		ssize_t w = real.send(s->shim_end, r->to_app + r->app_off,
				      r->app_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			r->app_off += (size_t)w;
			r->app_len -= (size_t)w;
			moved = 1;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			r->app_gone = 1; /* nobody reads any more */
			moved = 1;
		}
	}
	if (r->app_gone)
		r->app_len = 0;
	return moved;
}

/* Program to peer: from the socketpair into to_tls, then encrypt. */
static int relay_to_tls(struct shim_sock *s, uint32_t *kfd_ev)
{
	struct relay_state *r = s->relay;
	int moved = 0, err = 0;

	if (r->tls_len == 0 && !r->app_eof) {
		ssize_t n = real.recv(s->shim_end, r->to_tls, RELAY_BUF,
				      MSG_DONTWAIT);

		if (n > 0) {
			r->tls_off = 0;
			r->tls_len = (size_t)n;
			moved = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->app_eof = 1;
			moved = 1;
		}
	}
	if (r->tls_len > 0) {
		ssize_t n = sock_eng()->write(s->tls, r->to_tls + r->tls_off,
					      r->tls_len, &err);

		if (n > 0) {
			r->tls_off += (size_t)n;
			r->tls_len -= (size_t)n;
			r->awaiting = 1;
			moved = 1;
		} else if (n == SHIM_IO_ERROR) {
			/* the session is broken: the program's writes fail */
			if (err == ECONNRESET)
				atomic_store(&r->reset, ECONNRESET);
			r->tls_len = 0;
			r->app_eof = r->tls_eof = 1;
			real.shutdown(s->shim_end, SHUT_RDWR);
			moved = 1;
		} else {
			*kfd_ev |= relay_want_ev((int)n);
		}
	}
	return moved;
}

/* 1 if nobody holds the program's end any more. */
static int relay_app_gone(struct shim_sock *s)
{
	struct pollfd p = { .fd = s->shim_end, .events = 0 };

	return real.poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* Caller holds s->lock: the handshake part.  1 when it is done. */
static int relay_handshake(struct shim_sock *s)
{
	struct relay_state *r = s->relay;
	int rc;

	if (r->phase != SOCK_CONNECTING && r->phase != SOCK_HANDSHAKING)
		return r->phase == SOCK_READY;
	rc = sock_advance_locked(s, &r->phase);
	if (rc > 0 || rc < 0) {
		relay_lock();
		relay_handshaking--;
		relay_unlock();
	}
	if (rc < 0) {
		r->phase = SOCK_FAILED;
		return 0;
	}
	if (rc == 0) {
		uint32_t ev = r->phase == SOCK_CONNECTING ||
				      s->hs_want == SHIM_IO_WANT_WRITE ?
			      EPOLLOUT : EPOLLIN;
		relay_interest(s, relay_app_gone(s) ? ~0u : 0, ev);
		return 0;
	}
	return 1;
}

/*
 * Caller holds s->lock: move what can be moved without blocking.
 * Returns 1 when the session is over (the caller ends it).
 */
static int relay_pump_locked(struct shim_sock *s)
{
	const struct shim_engine_ops *e = sock_eng();
	struct relay_state *r = s->relay;
	uint32_t kfd_ev = 0, end_ev = 0;
	int err = 0, fl, held;

	if (!relay_handshake(s))
		return r->phase == SOCK_FAILED;
	for (int i = 0; i < RELAY_ROUNDS; i++) {
		uint32_t k = 0;
		int moved = relay_to_app(s, &k) | relay_to_tls(s, &k);

		kfd_ev = k;
		if (!moved)
			break;
	}
	fl = e->flush(s->tls, &err);
	if (fl == SHIM_IO_ERROR)
		r->kfd_dead = 1;
	else if (fl != 0)
		kfd_ev |= relay_want_ev(fl);
	if (r->app_eof && r->tls_len == 0 && !r->notified) {
		e->shutdown(s->tls); /* close_notify, as the program ended */
		r->notified = 1;
		if (e->unsent(s->tls) > 0)
			kfd_ev |= EPOLLOUT;
	}
	/* what the program wrote before it hung up is still to be read: its
	   end of stream comes after it (app_eof, from relay_to_tls) */
	if (!r->app_gone && relay_app_gone(s))
		r->app_gone = 1;
	/* the end closes the private socket: not while the session holds
	   bytes the kernel has not taken (the program's, its close_notify),
	   as a kernel close sends what was written before the FIN */
	held = !r->kfd_dead && e->unsent(s->tls) > 0;
	if ((r->app_gone || r->tls_eof) && r->app_eof && r->tls_len == 0 &&
	    r->app_len == 0 && !held)
		return 1;
	if (r->kfd_dead && r->tls_eof)
		return 1;
	if (!r->app_eof && r->tls_len == 0)
		end_ev |= EPOLLIN;
	if (r->app_len > 0)
		end_ev |= EPOLLOUT;
	/* plaintext the session holds (RELAY_ROUNDS cut the moves short) is
	   no event of kfd's: ask for one of the end's that comes at once */
	else if (!r->tls_eof && !r->app_gone && e->buffered(s->tls))
		end_ev |= EPOLLOUT;
	if (!r->tls_eof && r->app_len == 0)
		kfd_ev |= EPOLLIN;
	/* a hang-up is reported whatever is asked: once seen, ask only
	   while what the program wrote before it can be read */
	relay_interest(s, r->app_gone && !(end_ev & EPOLLIN) ? ~0u : end_ev,
		       r->kfd_dead || kfd_ev == 0 ? ~0u : kfd_ev);
	return 0;
}

/* Caller holds s->lock and a reference: switch to RELAY. */
static void relay_switch_locked(struct shim_sock *s, const char *why)
{
	enum sock_state st = atomic_load(&s->state);
	struct relay_state *r;

	if (!sock_emulated(st) || !sock_owned(s) || !s->watched)
		return;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		log_msg(SHIM_LOG_ERROR, "%s: cannot relay the connection (%s): "
			"out of memory; it is closed", s->info.label, why);
		sock_fail_locked(s, ENOMEM);
		return;
	}
	r->phase = st;
	r->end_ev = EPOLLIN | EPOLLRDHUP;
	r->notified = s->wr_shut; /* close_notify sent on the fast path */
	r->kfd_ev = ~0u;
	s->relay = r;
	atomic_store(&s->state, SOCK_RELAY);
	if (st == SOCK_CONNECTING || st == SOCK_HANDSHAKING) {
		relay_lock();
		relay_handshaking++;
		relay_unlock();
	}
	log_msg(SHIM_LOG_INFO, "%s: relayed from now on: %s", s->info.label, why);
	sock_notify(s, SOCK_EV_REBIND, -1);
}

/* Caller holds s->lock and a reference. */
static void relay_run_locked(struct shim_sock *s)
{
	if (atomic_load(&s->state) == SOCK_RELAY && s->relay != NULL &&
	    s->watched && relay_pump_locked(s))
		sock_end_locked(s, 0);
}

void relay_take(struct shim_sock *s, const char *why)
{
	if (sock_lock(s) < 0)
		return;
	relay_switch_locked(s, why);
	relay_run_locked(s);
	sock_unlock(s);
}

static const char relay_why_written[] =
	"bytes reached the program's descriptor by a path the shim does not "
	"hook";

static const char relay_why_unsent[] =
	"its writing was shut down while the kernel had not taken all the "
	"bytes written";

/* The watcher thread notices such bytes too (relay_event), but a write
   the program makes right after them would reach the session first: the
   stream would carry them out of order. */
int relay_take_written_locked(struct shim_sock *s)
{
	char c;

	if (s->shim_end < 0 ||
	    real.recv(s->shim_end, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
		return 0;
	relay_switch_locked(s, relay_why_written);
	relay_run_locked(s);
	return !sock_fast(s);
}

static const char relay_why_exit[] =
	"the process is exiting while the kernel had not taken all the bytes "
	"written";

static int relay_take_unsent_why(struct shim_sock *s, const char *why)
{
	if (atomic_load(&s->state) != SOCK_READY ||
	    sock_eng()->unsent(s->tls) == 0)
		return 0;
	relay_switch_locked(s, why);
	relay_run_locked(s);
	return !sock_fast(s);
}

int relay_take_unsent_locked(struct shim_sock *s)
{
	return relay_take_unsent_why(s, relay_why_unsent);
}

void relay_shut_written_locked(struct shim_sock *s, int fd)
{
	relay_lock();
	if (s->watched && s->relay == NULL && s->shim_end >= 0 &&
	    relay_ctl(EPOLL_CTL_MOD, s->shim_end, 0, s, 0) == 0)
		real.shutdown(fd, SHUT_WR);
	relay_unlock();
}

/* ----------------------------------------------------------- thread */

int relay_end_state(const struct shim_sock *s)
{
	struct pollfd p = { .fd = s->shim_end, .events = POLLIN };
	char c;

	if (s->shim_end < 0 || real.poll(&p, 1, 0) != 1)
		return 0;
	if ((p.revents & (POLLHUP | POLLERR)) &&
	    real.recv(s->shim_end, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
		return 2;
	return 1;
}

static void relay_event(struct shim_sock *s)
{
	if (sock_lock(s) < 0)
		return;
	/* a FAILED socket hung its end up itself (sock_fail_locked) and is
	   no longer watched: it ends when the program closes it, its error
	   kept until then; an event still in flight is ignored */
	if (sock_emulated(atomic_load(&s->state)) &&
	    atomic_load(&s->state) != SOCK_FAILED && sock_owned(s)) {
		switch (relay_end_state(s)) {
		case 2: /* closed by a call no hook saw (a raw close) */
			log_msg(SHIM_LOG_DEBUG, "%s: the program's descriptor "
				"was closed past the hooks; the session ends",
				s->info.label);
			if (!relay_take_unsent_locked(s))
				sock_end_locked(s, 1);
			break;
		case 1:
			relay_switch_locked(s, relay_why_written);
			break;
		default:
			break;
		}
	}
	relay_run_locked(s);
	sock_unlock(s);
}

int relay_read_error(struct shim_sock *s)
{
	struct relay_state *r = s->relay;

	/* sticky, as the session's own read errors are: every later read
	   of the end says so, never a clean end of stream */
	return r != NULL ? atomic_load(&r->err) : 0;
}

int relay_write_reset(struct shim_sock *s)
{
	struct relay_state *r = s->relay;

	/* once, as tcp_sendmsg reports a reset once, then EPIPE */
	return r != NULL ? atomic_exchange(&r->reset, 0) : 0;
}

/* Serve each socket of batch (each with a reference, dropped here). */
static void relay_serve(struct shim_sock **batch, int n)
{
	for (int i = 0; i < n; i++) {
		relay_event(batch[i]);
		sock_put(batch[i]);
	}
}

/* Handshake deadlines: the RELAY sockets still in their handshake. */
static void relay_tick(void)
{
	struct shim_sock *batch[RELAY_EVENTS];
	int n = 0;

	relay_lock();
	for (struct shim_sock *s = relay_list; s != NULL && n < RELAY_EVENTS;
	     s = s->live_next) {
		if (atomic_load(&s->state) == SOCK_RELAY) {
			sock_get(s);
			batch[n++] = s;
		}
	}
	relay_unlock();
	relay_serve(batch, n);
}

/*
 * Woken through relay_wake_fd: 1 if the thread is to stop.  Else an exit
 * or exec waits for what the sessions hold, and the sessions with
 * ciphertext the kernel has not taken are handed to the relay here: that
 * allocates, which the exiting thread must not (its _exit may be in a
 * signal handler that interrupted malloc).
 */
static int relay_woken(void)
{
	struct timespec until;
	uint64_t v;

	(void)real.read(relay_wake_fd, &v, sizeof(v));
	if (atomic_load(&relay_stopping))
		return 1;
	/* a session whose lock the exiting thread holds (its handler
	   interrupted it there) is skipped, not waited for: the others
	   still go, and this thread still carries them */
	deadline_in_ms(&until, RELAY_TAKE_WAIT_MS);
	(void)relay_each(relay_exit_take_locked, &until);
	return 0;
}

/* The thread is done (stopped at exit, or its wait failed): back on
   glibc's count and returning, or, where the process is ending because
   its last counted thread did, asleep until it is gone (thread_count.h);
   relay_stop is told which. */
static void relay_done(void)
{
	if (sock_eng() != NULL && sock_eng()->thread_stop)
		sock_eng()->thread_stop();
	if (!relay_uncounted || shim_thread_recount()) {
		atomic_store(&relay_returns, 1);
		sem_post(&relay_ended);
		return;
	}
	sem_post(&relay_ended);
	shim_thread_park();
}

static void *relay_main(void *arg)
{
	struct epoll_event ev[RELAY_EVENTS];

	/* relay_start takes it off glibc's count (its maker is certainly
	   alive and counted then), and says whether it did, before it may
	   end (relay_done puts it back) */
	while (sem_wait(&relay_go) != 0)
		;
	for (;;) {
		struct shim_sock *got[RELAY_EVENTS];
		int n, ng = 0, ms, woken = 0;

		relay_lock();
		ms = relay_handshaking > 0 ? RELAY_HS_TICK_MS : -1;
		relay_unlock();
		n = real.epoll_wait(relay_epfd, ev, RELAY_EVENTS, ms);
		if (n < 0 && errno != EINTR) {
			log_msg(SHIM_LOG_ERROR, "relay: epoll_wait: %s",
				strerror(errno));
			relay_done();
			return NULL;
		}
		relay_lock();
		for (int i = 0; i < n; i++) {
			struct shim_sock *s = (struct shim_sock *)(uintptr_t)(
				ev[i].data.u64 & ~(uint64_t)RELAY_TAG_KFD);

			if (s == NULL) { /* relay_wake_fd */
				woken = 1;
				continue;
			}
			if (s->watched) {
				sock_get(s);
				got[ng++] = s;
			}
		}
		relay_unlock();
		relay_serve(got, ng);
		if (woken && relay_woken()) { /* the process is exiting */
			relay_done();
			return NULL;
		}
		if (n == 0)
			relay_tick();
	}
	return NULL;
}

static int relay_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int relay_in(int fd, unsigned first, unsigned last)
{
	return fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last;
}

int *relay_private_fds(unsigned first, unsigned last, int *n)
{
	size_t cap = 2;
	int *v;

	*n = 0;
	relay_lock();
	for (struct shim_sock *s = relay_list; s != NULL; s = s->live_next)
		cap += 2;
	v = malloc(cap * sizeof(*v));
	if (v == NULL) {
		relay_unlock();
		*n = -1;
		errno = ENOMEM;
		return NULL;
	}
	if (relay_in(relay_epfd, first, last))
		v[(*n)++] = relay_epfd;
	if (relay_in(relay_wake_fd, first, last))
		v[(*n)++] = relay_wake_fd;
	for (struct shim_sock *s = relay_list; s != NULL; s = s->live_next) {
		if (relay_in(s->kfd, first, last))
			v[(*n)++] = s->kfd;
		if (relay_in(s->shim_end, first, last))
			v[(*n)++] = s->shim_end;
	}
	relay_unlock();
	if (*n == 0) {
		free(v);
		return NULL;
	}
	qsort(v, (size_t)*n, sizeof(*v), relay_cmp_int);
	return v;
}

void relay_seal_private(void)
{
	sig_atomic_t was = relay_mu_here;
	int tries = 0;

	if (atomic_load_explicit(&sock_private_min, memory_order_relaxed) ==
	    INT_MAX)
		return; /* no private descriptor ever */
	/* never a wait: an exec may come from a signal handler, or from the
	   child of a raw clone that copied the lock held */
	relay_mu_here = 1;
	while (pthread_mutex_trylock(&relay_mu) != 0) {
		if (++tries > RELAY_SEAL_TRIES || sched_yield() < 0) {
			relay_mu_here = was;
			return;
		}
	}
	if (relay_epfd >= 0)
		real.fcntl(relay_epfd, F_SETFD, FD_CLOEXEC);
	if (relay_wake_fd >= 0)
		real.fcntl(relay_wake_fd, F_SETFD, FD_CLOEXEC);
	for (struct shim_sock *s = relay_list; s != NULL; s = s->live_next) {
		if (s->kfd >= 0)
			real.fcntl(s->kfd, F_SETFD, FD_CLOEXEC);
		if (s->shim_end >= 0)
			real.fcntl(s->shim_end, F_SETFD, FD_CLOEXEC);
	}
	relay_unlock();
}

/* Every hook asks this of a number that was ever private, in signal
   handlers too (a write() to a self-pipe): no malloc, and no wait when
   this thread holds relay_mu already or is taking it (the handler
   interrupted it there: it would wait for itself for ever).  Then the
   list is read as it is: nothing else changes it while this thread holds
   the lock, and its sockets are never freed (sock_put pools them); the
   walk has a bound for the case where the thread was still waiting. */
int relay_is_private_fd(int fd)
{
	sig_atomic_t was = relay_mu_here;
	int locked, found, steps = 0;

	if (fd < 0)
		return 0;
	relay_mu_here = 1;
	locked = was ? pthread_mutex_trylock(&relay_mu) == 0
		     : pthread_mutex_lock(&relay_mu) == 0;
	found = fd == relay_epfd || fd == relay_wake_fd;
	for (const struct shim_sock *s = relay_list; !found && s != NULL &&
	     steps < RELAY_WALK_MAX; s = s->live_next, steps++)
		found = s->kfd == fd || s->shim_end == fd;
	if (locked)
		pthread_mutex_unlock(&relay_mu);
	relay_mu_here = was;
	return found;
}

/* Caller holds s->lock: 1 while bytes of the program wait to be carried
   (on the fast path: until the relay thread has taken the session). */
static int relay_busy_locked(struct shim_sock *s)
{
	int n = 0;

	if (s->shim_end >= 0 && real.ioctl(s->shim_end, FIONREAD, &n) == 0 &&
	    n > 0)
		return 1;
	if (s->relay == NULL)
		return sock_fast(s) && sock_owned(s) &&
		       atomic_load(&s->state) == SOCK_READY &&
		       sock_eng()->unsent(s->tls) > 0;
	return !s->relay->tls_eof &&
	       (s->relay->tls_len > 0 || s->relay->awaiting ||
		(s->tls != NULL && sock_eng()->unsent(s->tls) > 0));
}

/* relay_lock, giving up at until (NULL: never). */
static int relay_lock_until(const struct timespec *until)
{
	if (until == NULL) {
		relay_lock();
		return 0;
	}
	relay_mu_here = 1;
	if (pthread_mutex_clocklock(&relay_mu, CLOCK_MONOTONIC, until) == 0)
		return 0;
	relay_mu_here = 0;
	return -1;
}

/*
 * fn on every watched socket, each locked and with a reference, until one
 * returns nonzero (returned).  No allocation: _exit may run in a signal
 * handler.  With until, a lock not had by then is given up (the socket
 * skipped, or the walk ended).  The list is walked a batch at a time; a
 * socket that comes or goes meanwhile may be skipped or seen twice.
 */
static int relay_each(int (*fn)(struct shim_sock *),
		      const struct timespec *until)
{
	struct shim_sock *batch[RELAY_EVENTS];
	int ret = 0;

	for (size_t skip = 0; ret == 0; skip += RELAY_EVENTS) {
		size_t i = 0;
		int n = 0;

		if (relay_lock_until(until) < 0)
			break;
		for (struct shim_sock *s = relay_list;
		     s != NULL && n < RELAY_EVENTS; s = s->live_next, i++) {
			if (i >= skip) {
				sock_get(s);
				batch[n++] = s;
			}
		}
		relay_unlock();
		for (int k = 0; k < n; k++) {
			if (ret == 0 &&
			    (until != NULL ? sock_lock_until(batch[k], until)
					   : sock_lock(batch[k])) == 0) {
				ret = fn(batch[k]);
				sock_unlock(batch[k]);
			}
			sock_put(batch[k]);
		}
		if (n < RELAY_EVENTS)
			break;
	}
	return ret;
}

/* Caller holds s->lock: the session holds ciphertext the kernel has not
   taken, on the fast path; a kernel socket sends it after the process
   ends, so the relay sends it while the exit waits.  Always 0. */
static int relay_exit_take_locked(struct shim_sock *s)
{
	if (sock_fast(s) && sock_owned(s))
		(void)relay_take_unsent_why(s, relay_why_exit);
	return 0;
}

void relay_drain(void)
{
	struct timespec nap, end;
	uint64_t one = 1;

	if (!relay_started || relay_pid != (int)syscall(SYS_getpid))
		return; /* not this process's thread (a fork or vfork child) */
	if (relay_mu_here)
		return; /* a handler's _exit, on a thread inside the list: the
			   bytes in flight cannot be looked at, the exit goes on */
	deadline_ms_to_ts(RELAY_DRAIN_NAP_MS, &nap);
	deadline_in_ms(&end, RELAY_DRAIN_MS);
	/* the thread hands the fast path's held ciphertext to the relay */
	(void)real.write(relay_wake_fd, &one, sizeof(one));
	while (relay_each(relay_busy_locked, &end) && !deadline_passed(&end))
		nanosleep(&nap, NULL);
}

/* At exit: 1 when the thread stopped (relay_done), 0 when
   RELAY_END_WAIT_MS went by first (a thread stuck in a call: the process
   ends all the same). */
static int relay_wait_ended(void)
{
	struct timespec until;
	int rc;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RELAY_END_WAIT_MS / 1000;
	until.tv_nsec += (long)(RELAY_END_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while ((rc = sem_timedwait(&relay_ended, &until)) != 0 && errno == EINTR)
		;
	return rc == 0;
}

/*
 * At exit: what the program wrote past the hooks just before exiting is
 * still in flight; give the thread a moment to carry it, then stop it.
 * Registered with atexit() when the thread starts, which is after the
 * engine loaded OpenSSL: so it runs before OpenSSL's own exit handler
 * tears down what the thread uses (the destructor is a second chance).
 */
static void relay_stop(void)
{
	uint64_t one = 1;

	if (!relay_started || relay_pid != (int)syscall(SYS_getpid) ||
	    relay_mu_here)
		return;
	relay_drain();
	atomic_store(&relay_stopping, 1);
	if (real.write(relay_wake_fd, &one, sizeof(one)) == sizeof(one) &&
	    relay_wait_ended() && atomic_load(&relay_returns))
		pthread_join(relay_thread, NULL);
	atomic_store(&relay_stopping, 0);
	relay_started = 0;
	/* the kernel closes the private sockets when the process ends: first
	   a FIN after what was sent, and nothing unread to turn it into a
	   reset that drops what is in flight */
	relay_lock();
	for (struct shim_sock *s = relay_list; s != NULL; s = s->live_next)
		if (s->kfd >= 0 && sock_owned(s))
			sock_close_gently(s->kfd);
	/* nothing watches them any more: the list is forgotten (a leak
	   checker at exit then sees sockets the program left open as its
	   own, held by the fd table alone) */
	relay_list = NULL;
	relay_unlock();
}

__attribute__((destructor)) static void relay_fini(void)
{
	relay_stop();
}

void relay_atfork_child(void)
{
	/* The parent's thread is not here; its epoll set and descriptors
	   are the parent's business.  The child keeps nothing of them. */
	pthread_mutex_init(&relay_mu, NULL);
	relay_mu_here = 0;
	for (struct shim_sock *s = relay_list; s != NULL; s = s->live_next) {
		if (s->kfd >= 0)
			real.close(s->kfd);
		if (s->shim_end >= 0)
			real.close(s->shim_end);
		s->kfd = s->shim_end = -1;
	}
	if (relay_epfd >= 0)
		real.close(relay_epfd);
	if (relay_wake_fd >= 0)
		real.close(relay_wake_fd);
	relay_epfd = relay_wake_fd = -1;
	relay_started = 0;
	relay_handshaking = 0;
	relay_list = NULL;
}
