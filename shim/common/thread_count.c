/*
 * thread_count.c - the shim's own threads off glibc's count of threads
 * (see thread_count.h).
 *
 * Calls dlvsym, and pause().  Thread-safe: the count is changed with the
 * atomic operations glibc uses on it.
 */
#include "thread_count.h"

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

static unsigned int *shim_thread_count(void)
{
	return dlvsym(RTLD_DEFAULT, "__nptl_nthreads", "GLIBC_PRIVATE");
}

int shim_thread_uncount(void)
{
	unsigned int *n = shim_thread_count(), v;

	if (n == NULL)
		return 0;
	/* this thread and the one that made it at least: a count below
	   that is not the one we know, and is left alone */
	v = __atomic_load_n(n, __ATOMIC_SEQ_CST);
	while (v >= 2 && !__atomic_compare_exchange_n(n, &v, v - 1, 0, __ATOMIC_SEQ_CST,
						      __ATOMIC_SEQ_CST))
		;
	return v >= 2;
}

int shim_thread_recount(void)
{
	unsigned int *n = shim_thread_count(), v;

	if (n == NULL)
		return 1;
	v = __atomic_load_n(n, __ATOMIC_SEQ_CST);
	while (v >= 1 && !__atomic_compare_exchange_n(n, &v, v + 1, 0, __ATOMIC_SEQ_CST,
						      __ATOMIC_SEQ_CST))
		;
	return v >= 1;
}

void shim_thread_park(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (;;)
		pause();
}
