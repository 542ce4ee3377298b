/*
 * setid.h - whether an exec takes a file's set-user-ID and set-group-ID
 * bits: the shim runs such a program as it is (the loader ignores
 * LD_PRELOAD in it, and the supervisor cannot run it), the supervisor
 * refuses it.  Bits that change nothing (a file of the caller's own user
 * and group, a nosuid mount, a caller with no_new_privs) make a program
 * like any other: it must be protected like any other.
 *
 * Linked into the shim and the tool, so libc only; async-signal-safe
 * (an exec from a vfork child or a signal handler asks).
 */
#ifndef SHIM_SETID_H
#define SHIM_SETID_H

#include <sys/stat.h>

/* setid_applies - 1 if an exec of the file st describes (fd open on it,
   or -1 if none: its mount is then not asked) changes the caller's
   credentials by its set-ID bits. */
int setid_applies(int fd, const struct stat *st);

#endif
