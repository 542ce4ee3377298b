/*
 * test_sup_filter.c - the supervisor's seccomp filter (tools/sup_filter.c),
 * run by a small classic-BPF interpreter on every case it must decide:
 * which calls reach the supervisor, which get ENOSYS, which pass.  Its
 * jump offsets are hand-counted; a slip sends a call to the wrong answer,
 * and the kernel would accept the program as long as it stays in bounds.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "supervise.h"
#include "sup_probe.h"

#define NOTIF SECCOMP_RET_USER_NOTIF
#define ALLOW SECCOMP_RET_ALLOW
#define NOSYS (SECCOMP_RET_ERRNO | ENOSYS)

/* The subset of classic BPF the filter may use; anything else fails. */
static uint32_t run(const struct seccomp_data *d)
{
	struct sock_fprog p;
	uint32_t a = 0;

	sup_filter_prog(&p);
	for (unsigned pc = 0; pc < p.len; pc++) {
		const struct sock_filter *f = &p.filter[pc];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(f->k + 4 <= sizeof(*d));
			memcpy(&a, (const char *)d + f->k, 4);
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & f->k) ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			fail_msg("instruction %u: code %#x", pc, f->code);
		}
	}
	fail_msg("ran off the end");
	return 0;
}

static uint32_t call(int nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct seccomp_data d = { .nr = nr, .arch = AUDIT_ARCH_X86_64 };

	d.args[1] = a1;
	d.args[2] = a2;
	d.args[3] = a3;
	return run(&d);
}

static void test_notified(void **state)
{
	(void)state;
	assert_int_equal(call(__NR_connect, 0, 0, 0), NOTIF);
	assert_int_equal(call(__NR_getpeername, 0, 0, 0), NOTIF);
	assert_int_equal(call(__NR_getsockname, 0, 0, 0), NOTIF);
	assert_int_equal(call(__NR_getsockopt, SOL_SOCKET, SO_ERROR, 0), NOTIF);
	/* a preloaded shim's question (sup_probe.h), whatever the optname */
	assert_int_equal(call(__NR_getsockopt, SUP_PROBE_LEVEL, 16, 0), NOTIF);
	assert_int_equal(call(__NR_getsockopt, SUP_PROBE_LEVEL, 28, 0), NOTIF);
	/* flags: sendto's and sendmmsg's 4th argument, sendmsg's 3rd */
	assert_int_equal(call(__NR_sendto, 0, 0, MSG_FASTOPEN), NOTIF);
	assert_int_equal(call(__NR_sendmmsg, 0, 0, MSG_FASTOPEN | MSG_NOSIGNAL), NOTIF);
	assert_int_equal(call(__NR_sendmsg, 0, MSG_FASTOPEN, 0), NOTIF);
}

static void test_allowed(void **state)
{
	(void)state;
	assert_int_equal(call(__NR_read, 0, 0, 0), ALLOW);
	assert_int_equal(call(__NR_write, 0, 0, 0), ALLOW);
	assert_int_equal(call(__NR_socket, 0, 0, 0), ALLOW);
	assert_int_equal(call(__NR_sendto, 0, 0, MSG_NOSIGNAL), ALLOW);
	assert_int_equal(call(__NR_sendto, 0, MSG_FASTOPEN, 0), ALLOW); /* len, not flags */
	assert_int_equal(call(__NR_sendmsg, 0, MSG_NOSIGNAL, MSG_FASTOPEN), ALLOW);
	assert_int_equal(call(__NR_sendmmsg, 0, MSG_FASTOPEN, 0), ALLOW);
	/* getsockopt: only SOL_SOCKET + SO_ERROR */
	assert_int_equal(call(__NR_getsockopt, SOL_SOCKET, SO_RCVBUF, 0), ALLOW);
	assert_int_equal(call(__NR_getsockopt, 6 /* IPPROTO_TCP */, SO_ERROR, 0), ALLOW);
	assert_int_equal(call(__NR_getsockopt, SUP_PROBE_LEVEL + 1, 16, 0), ALLOW);
	assert_int_equal(call(__NR_setsockopt, SUP_PROBE_LEVEL, 16, 0), ALLOW);
	assert_int_equal(call(__NR_setsockopt, SOL_SOCKET, SO_ERROR, 0), ALLOW);
}

static void test_int_arguments(void **state)
{
	(void)state;
	/* the kernel takes level, optname and flags as int: their low word,
	   whatever the high one holds, as the filter reads them */
	assert_int_equal(call(__NR_getsockopt, 0xffffffff00000000ULL | SOL_SOCKET,
			      0x100000000ULL | SO_ERROR, 0), NOTIF);
	assert_int_equal(call(__NR_sendto, 0, 0, 0x100000000ULL | MSG_FASTOPEN), NOTIF);
	assert_int_equal(call(__NR_sendto, 0, 0, 0x100000000ULL), ALLOW);
}

static void test_refused(void **state)
{
	struct seccomp_data d = { .nr = __NR_connect, .arch = AUDIT_ARCH_I386 };

	(void)state;
	assert_int_equal(call(__NR_io_uring_setup, 0, 0, 0), NOSYS);
	assert_int_equal(call(__NR_pidfd_getfd, 0, 0, 0), SECCOMP_RET_ERRNO | EPERM);
	assert_int_equal(call(__NR_pidfd_open, 0, 0, 0), ALLOW);
	assert_int_equal(call(0x40000000 | __NR_connect, 0, 0, 0), NOSYS); /* x32 */
	assert_int_equal(call(0x40000000 | __NR_read, 0, 0, 0), NOSYS);
	assert_int_equal(run(&d), NOSYS);
	d.nr = 102; /* i386 socketcall */
	assert_int_equal(run(&d), NOSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notified),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_int_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
