/*
 * deny_seccomp.c - run a command as on a kernel that lacks a feature the
 * supervisor needs, for its refusals (47-supervisor):
 *
 *   deny_seccomp notif CMD...   seccomp(2) fails with EINVAL, as on a
 *                               kernel without user notification
 *   deny_seccomp getfd CMD...   pidfd_getfd(2) fails with ENOSYS, as
 *                               before Linux 5.6
 *
 * A seccomp filter of its own (no_new_privs), then exec CMD.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int getfd = argc > 2 && strcmp(argv[1], "getfd") == 0;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 getfd ? __NR_pidfd_getfd : __NR_seccomp, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | (getfd ? ENOSYS : EINVAL)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (argc < 3 || (!getfd && strcmp(argv[1], "notif") != 0)) {
		fprintf(stderr, "usage: deny_seccomp notif|getfd CMD...\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		perror("deny_seccomp");
		return 2;
	}
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
