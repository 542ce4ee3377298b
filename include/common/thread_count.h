/*
 * thread_count.h - the shim's own threads do not keep a process alive.
 *
 * glibc ends a process (exit(0)) when the last thread it counts ends
 * without calling exit(): main() called pthread_exit() and the last worker
 * returned.  Its count (__nptl_nthreads, exported GLIBC_PRIVATE for
 * libthread_db) includes every thread pthread_create() made, the shim's
 * too: a process whose program threads had all ended then lived on with
 * the shim's threads alone, blocked, every signal but SIGKILL held off.
 * A thread of the shim's is taken off that count once it runs, and put
 * back just before it ends (or, when the process is ending because the
 * count reached zero, it does not end but sleeps until the process is
 * gone).
 *
 * Where the count is not there (another libc), nothing changes.
 */
#ifndef REDIS_TLS_THREAD_COUNT_H
#define REDIS_TLS_THREAD_COUNT_H

/* Called once for a thread of the shim's by the thread that made it,
   right after pthread_create() (which counted it): then the maker is
   alive and counted too, whereas the new thread, left to do it itself,
   may first run after its maker has ended and leave it the count's last
   one.  1 if it was taken off the count, 0 if there is none (or it was
   not what we know). */
int shim_thread_uncount(void);

/* Before a thread of the shim's that shim_thread_uncount took off ends
   through glibc: back on the count, so that glibc's end of the thread
   takes it off again, as it does for any other.  0 when the count is 0:
   the process is ending because its last thread did (glibc's exit(0)),
   and the thread must not end through glibc, whose end of a thread would
   find the count at 0 and call exit() a second time: it is to
   shim_thread_park() instead. */
int shim_thread_recount(void);

/* A thread of the shim's that is done and may not end: it sleeps until
   the process ends, every signal blocked.  Never returns. */
__attribute__((noreturn)) void shim_thread_park(void);

#endif
