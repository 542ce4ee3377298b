/*
 * deny_seccomp.c - run a command as on a kernel that lacks a seccomp
 * feature, for the supervisor's refusals (47-supervisor):
 *
 *   deny_seccomp notif CMD...   seccomp(2) fails with EINVAL, as on a
 *                               kernel without user notification
 *   deny_seccomp addfd CMD...   ioctl(SECCOMP_IOCTL_NOTIF_ADDFD) fails
 *                               with EINVAL, as before Linux 5.9
 *
 * A seccomp filter of its own (no_new_privs), then exec CMD.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR offsetof(struct seccomp_data, nr)
#define ARG1 offsetof(struct seccomp_data, args[1])

int main(int argc, char **argv)
{
	int addfd = argc > 2 && strcmp(argv[1], "addfd") == 0;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 addfd ? __NR_ioctl : __NR_seccomp, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG1),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 addfd ? (unsigned)SECCOMP_IOCTL_NOTIF_ADDFD : 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, addfd ? SECCOMP_RET_ALLOW
						: SECCOMP_RET_ERRNO | EINVAL),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (argc < 3 || (!addfd && strcmp(argv[1], "notif") != 0)) {
		fprintf(stderr, "usage: deny_seccomp notif|addfd CMD...\n");
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
