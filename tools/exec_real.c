/*
 * exec_real.c - the table of real libc functions (real.h) for
 * redis-tls-exec, which is not preloaded into anything: the classifier
 * (exec_image.c) opens and closes files through it, and nothing else is
 * used.  libc's own functions, bound at link time: no dlsym lookup of
 * every hooked function at start (real.c's), which would cost this small
 * process a good part of its run.
 */
#include "real.h"

#include <fcntl.h>
#include <unistd.h>

struct real_fns real = {
	.open = open,
	.openat = openat,
	.close = close,
};

void real_init(void)
{
}
