/*
 * setid.c - whether an exec takes a file's set-ID bits (setid.h).
 *
 * The kernel applies S_ISUID, and S_ISGID with S_IXGRP (without it the bit
 * marks mandatory locking), unless the caller has no_new_privs or the
 * file's mount is nosuid; the exec is then a secure one (AT_SECURE) when
 * the effective IDs it gives differ from the caller's real or effective
 * ones.  Bits that give the caller the IDs it has change nothing.
 */
#include "setid.h"

#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

int setid_applies(int fd, const struct stat *st)
{
	struct statvfs v;
	int uid = (st->st_mode & S_ISUID) &&
		  (st->st_uid != getuid() || st->st_uid != geteuid());
	int gid = (st->st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
		  (st->st_gid != getgid() || st->st_gid != getegid());

	if (!uid && !gid)
		return 0;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return 0;
	return !(fd >= 0 && fstatvfs(fd, &v) == 0 && (v.f_flag & ST_NOSUID));
}
