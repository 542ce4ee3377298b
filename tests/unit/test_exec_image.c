/*
 * test_exec_image.c - what an exec would run (shim/switchboard/exec_image.c),
 * on files made here: dynamic programs of this process's loader, the loader
 * itself, #! scripts (nested as deep as the kernel follows them, one level
 * more fails as the kernel's exec does: ELOOP), ELF files of another ABI,
 * truncated and non-executable files, a directory.  The kernel is asked
 * too where the answer is about what it would do.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec_image.h"
#include "real.h"

#define TRUE_BIN "/bin/true"
#define LOADER "/lib64/ld-linux-x86-64.so.2"

static char dir[] = "/tmp/test_exec_image.XXXXXX";

static const char *at(const char *name)
{
	static char path[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static void write_file(const char *name, const void *data, size_t len,
		       mode_t mode)
{
	int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(at(name), mode), 0);
}

/* A copy of /bin/true with byte `off` set to `v` (off < 0: unchanged). */
static void copy_true(const char *name, long off, unsigned char v, mode_t mode)
{
	static unsigned char buf[1 << 20];
	FILE *f = fopen(TRUE_BIN, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 64 && n < sizeof(buf));
	if (off >= 0)
		buf[off] = v;
	write_file(name, buf, n, mode);
}

static enum exec_kind kind_of(const char *path, int *script)
{
	struct exec_image img;

	exec_image_classify(AT_FDCWD, path, 0, &img);
	if (script != NULL)
		*script = img.script;
	return img.kind;
}

/* What the kernel says to execve(path): 0 (it ran), or the errno. */
static int kernel_exec(const char *path)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		char *argv[] = { (char *)path, NULL };

		execve(path, argv, argv + 1);
		_exit(100 + errno);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st) >= 100 ? WEXITSTATUS(st) - 100 : 0;
}

static int setup(void **state)
{
	(void)state;
	real_init();
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_dynamic_and_loader(void **state)
{
	(void)state;
	assert_int_equal(kind_of(TRUE_BIN, NULL), EXEC_KIND_PRELOADABLE);
	/* the loader run as a program loads LD_PRELOAD for its program */
	assert_int_equal(kind_of(LOADER, NULL), EXEC_KIND_PRELOADABLE);
}

/* The loader as a program: what it maps decides (ld.so ./static runs a
   static program); its options are skipped; none to run is ours. */
static void test_loader_run(void **state)
{
	struct exec_image img;
	char *dyn[] = { LOADER, "--argv0", "x", TRUE_BIN, NULL };
	char *none[] = { LOADER, "--help", NULL };
	char *bare[] = { LOADER, "true", NULL };
	char dyn644[64], abi32[64];
	char *plain[] = { LOADER, "--library-path", "/x", dyn644, NULL };
	char *other[] = { LOADER, abi32, NULL };

	(void)state;
	exec_image_classify(AT_FDCWD, LOADER, 0, &img);
	assert_true(img.loader);
	exec_image_loader_run(dyn, &img);
	assert_int_equal(img.kind, EXEC_KIND_PRELOADABLE);
	exec_image_loader_run(none, &img);
	assert_int_equal(img.kind, EXEC_KIND_PRELOADABLE);
	exec_image_loader_run(bare, &img);
	assert_int_equal(img.kind, EXEC_KIND_UNREACHABLE);
	copy_true("dyn644", -1, 0, 0644); /* no x bit: ld.so maps it anyway */
	snprintf(dyn644, sizeof(dyn644), "%s", at("dyn644"));
	exec_image_loader_run(plain, &img);
	assert_int_equal(img.kind, EXEC_KIND_PRELOADABLE);
	copy_true("abi32", 4, 1, 0644);     /* EI_CLASS: ELFCLASS32 */
	snprintf(abi32, sizeof(abi32), "%s", at("abi32"));
	exec_image_loader_run(other, &img);
	assert_int_equal(img.kind, EXEC_KIND_UNREACHABLE);
	exec_image_classify(AT_FDCWD, TRUE_BIN, 0, &img);
	assert_false(img.loader);
}

/* Set-ID bits that give the caller its own user or group change nothing:
   not a privileged exec. */
static void test_setid_own(void **state)
{
	(void)state;
	copy_true("suid-own", -1, 0, 04755);
	assert_int_equal(kind_of(at("suid-own"), NULL), EXEC_KIND_PRELOADABLE);
	copy_true("sgid-own", -1, 0, 02755);
	assert_int_equal(kind_of(at("sgid-own"), NULL), EXEC_KIND_PRELOADABLE);
}

static void test_refused_by_the_kernel(void **state)
{
	(void)state;
	assert_int_equal(kind_of(at("missing"), NULL), EXEC_KIND_FAILS);
	assert_int_equal(mkdir(at("adir"), 0755), 0);
	assert_int_equal(kind_of(at("adir"), NULL), EXEC_KIND_FAILS);
	copy_true("noexec", -1, 0, 0644);
	assert_int_equal(kind_of(at("noexec"), NULL), EXEC_KIND_FAILS);
	assert_int_equal(kernel_exec(at("noexec")), EACCES);
	write_file("short", "\177ELF\2\1\1", 7, 0755);
	assert_int_equal(kind_of(at("short"), NULL), EXEC_KIND_FAILS);
	assert_int_not_equal(kernel_exec(at("short")), 0);
}

static void test_other_abi(void **state)
{
	(void)state;
	copy_true("class32", 4, 1, 0755);     /* EI_CLASS: ELFCLASS32 */
	assert_int_equal(kind_of(at("class32"), NULL), EXEC_KIND_UNREACHABLE);
	copy_true("aarch64", 18, 183, 0755);  /* e_machine: EM_AARCH64 */
	assert_int_equal(kind_of(at("aarch64"), NULL), EXEC_KIND_UNREACHABLE);
}

static void test_scripts(void **state)
{
	char line[600];
	int script = 0, n;

	(void)state;
	write_file("s-sh", "#!/bin/sh\nexit 0\n", 17, 0755);
	assert_int_equal(kind_of(at("s-sh"), &script), EXEC_KIND_PRELOADABLE);
	assert_true(script);
	write_file("s-space", "#! \t/bin/sh -e\nexit 0\n", 22, 0755);
	assert_int_equal(kind_of(at("s-space"), NULL), EXEC_KIND_PRELOADABLE);
	write_file("s-missing", "#!/nonexistent/sh\n", 18, 0755);
	assert_int_equal(kind_of(at("s-missing"), NULL), EXEC_KIND_FAILS);
	assert_int_equal(kernel_exec(at("s-missing")), ENOENT);
	write_file("s-empty", "#!\n", 3, 0755);
	assert_int_equal(kind_of(at("s-empty"), NULL), EXEC_KIND_FAILS);
	/* a script whose interpreter is another ABI's program */
	copy_true("class32b", 4, 1, 0755);
	n = snprintf(line, sizeof(line), "#!%s\n", at("class32b"));
	write_file("s-class32", line, (size_t)n, 0755);
	assert_int_equal(kind_of(at("s-class32"), NULL), EXEC_KIND_UNREACHABLE);
}

/* s0 runs /bin/sh, s1 runs s0, ... : the kernel loads files 0..5 deep. */
static void test_script_depth(void **state)
{
	char name[16], prev[16] = "", line[600];

	(void)state;
	for (int i = 0; i <= 5; i++) {
		int n;

		snprintf(name, sizeof(name), "d%d", i);
		n = i == 0 ? snprintf(line, sizeof(line), "#!/bin/sh\nexit 0\n")
			   : snprintf(line, sizeof(line), "#!%s\n", at(prev));
		write_file(name, line, (size_t)n, 0755);
		memcpy(prev, name, sizeof(prev));
	}
	/* d4: 5 scripts and /bin/sh, as deep as the kernel goes */
	assert_int_equal(kernel_exec(at("d4")), 0);
	assert_int_equal(kind_of(at("d4"), NULL), EXEC_KIND_PRELOADABLE);
	/* d5: one level more, ELOOP */
	assert_int_equal(kernel_exec(at("d5")), ELOOP);
	assert_int_equal(kind_of(at("d5"), NULL), EXEC_KIND_FAILS);
}

static void test_other_formats(void **state)
{
	struct stat st;

	(void)state;
	/* with binfmt_misc mounted, a handler may run it: not this case */
	if (stat("/proc/sys/fs/binfmt_misc/status", &st) == 0)
		skip();
	write_file("junk", "\001\002\003 not a program\n", 20, 0755);
	assert_int_equal(kernel_exec(at("junk")), ENOEXEC);
	assert_int_equal(kind_of(at("junk"), NULL), EXEC_KIND_FAILS);
}

static void test_by_descriptor(void **state)
{
	struct exec_image img;
	int fd = open(TRUE_BIN, O_PATH | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	exec_image_classify(fd, "", AT_EMPTY_PATH, &img);
	assert_int_equal(img.kind, EXEC_KIND_PRELOADABLE);
	close(fd);
	exec_image_classify(AT_FDCWD, TRUE_BIN, AT_SYMLINK_NOFOLLOW, &img);
	assert_int_equal(img.kind, EXEC_KIND_PRELOADABLE);
	assert_int_equal(symlink(TRUE_BIN, at("link")), 0);
	exec_image_classify(AT_FDCWD, at("link"), AT_SYMLINK_NOFOLLOW, &img);
	assert_int_equal(img.kind, EXEC_KIND_FAILS); /* execveat: ELOOP */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dynamic_and_loader),
		cmocka_unit_test(test_loader_run),
		cmocka_unit_test(test_setid_own),
		cmocka_unit_test(test_refused_by_the_kernel),
		cmocka_unit_test(test_other_abi),
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_script_depth),
		cmocka_unit_test(test_other_formats),
		cmocka_unit_test(test_by_descriptor),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
