/*
 * sup_filter.c - the supervisor's seccomp filter (classic BPF), on its own
 * so that tests/unit/test_sup_filter.c can run it on every case.
 *
 * x86-64 only: any other ABI (i386, x32) gets ENOSYS, its arguments
 * cannot be read the same way.  Notified: connect, getpeername,
 * getsockname, getsockopt(SOL_SOCKET, SO_ERROR), and sendto/sendmsg/
 * sendmmsg with MSG_FASTOPEN, getsockopt at SUP_PROBE_LEVEL (a preloaded
 * shim asking whether the supervisor wraps a connect: sup_probe.h).
 * io_uring_setup gets ENOSYS (an io_uring
 * connect would pass unseen); pidfd_getfd gets EPERM (a program must not
 * take the supervisor's own TLS sockets and write past TLS: root could,
 * whatever the supervisor's dumpable flag).  The rest is allowed.
 */
#include "supervise.h"
#include "sup_probe.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define SUP_X32_BIT 0x40000000U
#define SUP_ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

/*
 * Jump offsets are counted from the next instruction; the layout is fixed
 * by the comments' indices.
 */
static struct sock_filter sup_filter[] = {
	/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
	/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	/* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	/* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
	/* 4 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SUP_X32_BIT, 21, 0),
	/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 19, 0),
	/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getpeername, 18, 0),
	/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getsockname, 17, 0),
	/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 17, 0),
	/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 5, 0),
	/* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmmsg, 4, 0),
	/* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmsg, 5, 0),
	/* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getsockopt, 6, 0),
	/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_getfd, 13, 0),
	/* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	/* 15 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SUP_ARG_LO(3)),
	/* 16 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN, 8, 7),
	/* 17 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SUP_ARG_LO(2)),
	/* 18 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN, 6, 5),
	/* 19 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SUP_ARG_LO(1)),
	/* 20 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 2),
	/* 21 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SUP_ARG_LO(2)),
	/* 22 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_ERROR, 2, 1),
	/* 23 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SUP_PROBE_LEVEL, 1, 0),
	/* 24 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	/* 25 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	/* 26 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	/* 27 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
};

void sup_filter_prog(struct sock_fprog *out)
{
	out->len = sizeof(sup_filter) / sizeof(sup_filter[0]);
	out->filter = sup_filter;
}
