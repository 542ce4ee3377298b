/*
 * exec_image.c - what an exec would run (exec_image.h).
 *
 * An ELF file is ours when it is built for this ABI and names this
 * process's dynamic loader in PT_INTERP (the same path, or the same file);
 * the loader itself, run as a program, is ours when the program it maps
 * is (exec_image_loader_run: it maps a static or Go one as readily).  Anything else cannot
 * load this library: no PT_INTERP (static, static-pie), another loader
 * (musl), another ABI (i386, x32).  A Go program is never ours, even a
 * dynamic (cgo) one: it makes connect(2) itself.  It is told the way Go's
 * debug/buildinfo tells it: the build information's magic at the start of
 * the .go.buildinfo section or, without section headers, at a 16-byte
 * boundary in the first 64 KiB of the first writable segment.
 *
 * A #! script is its interpreter's kind (the kernel runs the
 * interpreter).  A file that is neither: the kernel refuses it (ENOEXEC),
 * unless binfmt_misc has handlers, which may run it with an interpreter
 * of their own (qemu-user, static) we cannot see: then it is unreachable.
 */
#include "exec_image.h"
#include "real.h"
#include "setid.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#if defined(__x86_64__)
#define EXEC_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define EXEC_MACHINE EM_AARCH64
#elif defined(__riscv)
#define EXEC_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define EXEC_MACHINE EM_PPC64
#elif defined(__s390x__)
#define EXEC_MACHINE EM_S390
#else
#error "exec_image.c: name this architecture's ELF machine"
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define EXEC_DATA ELFDATA2LSB
#else
#define EXEC_DATA ELFDATA2MSB
#endif

#define EXEC_DEPTH_MAX 5     /* the kernel loads files 0..5 deep (exec_binprm) */
#define EXEC_HDR_MAX 256     /* what the kernel reads of a #! line */
#define EXEC_PHDR_MAX 64
#define EXEC_SHDR_MAX 4096
#define EXEC_SHDR_CHUNK 32
#define EXEC_NAMES_MAX 4096  /* section names read at once */
#define EXEC_GO_SCAN_MAX 65536
#define EXEC_GO_CHUNK 4096
#define EXEC_GO_ALIGN 16
#define EXEC_GO_MAGIC "\xff Go buildinf:"
#define EXEC_GO_MAGIC_LEN 14
#define EXEC_GO_SECTION ".go.buildinfo"
#define EXEC_DIRENT_BUF 2048

static void exec_classify_at(int dirfd, const char *path, int flags,
			     int depth, struct exec_image *out);

void exec_fd_path(int fd, char *out)
{
	static const char prefix[] = "/proc/self/fd/";
	char digits[16];
	int n = 0;
	unsigned v = fd < 0 ? 0 : (unsigned)fd;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	memcpy(out, prefix, sizeof(prefix) - 1);
	out += sizeof(prefix) - 1;
	while (n > 0)
		*out++ = digits[--n];
	*out = '\0';
}

static ssize_t exec_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return -1;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int exec_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return exec_pread(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
}

static void exec_set(struct exec_image *out, enum exec_kind kind,
		     const char *why)
{
	out->kind = kind;
	out->why = why;
}

/* ------------------------------------------------ this process's loader */

/* The program's PT_INTERP, from the auxiliary vector; NULL if unknown
   (no PT_PHDR to place it, or the loader was run as the program). */
static const char *exec_own_interp(void)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM), i;
	uintptr_t bias = 0;
	int placed = 0;

	if (ph == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR) {
			bias = (uintptr_t)ph - ph[i].p_vaddr;
			placed = 1;
		}
	for (i = 0; placed && i < n; i++)
		if (ph[i].p_type == PT_INTERP)
			return (const char *)(bias + ph[i].p_vaddr);
	return NULL;
}

static int exec_same_file(const char *a, const struct stat *sb)
{
	struct stat sa;

	return a != NULL && stat(a, &sa) == 0 && sa.st_dev == sb->st_dev &&
	       sa.st_ino == sb->st_ino;
}

/* 1 if a program naming `interp` gets this process's loader. */
static int exec_interp_is_ours(const char *interp)
{
	const char *own = exec_own_interp(), *base;
	struct stat st;

	if (own == NULL) {
		base = strrchr(interp, '/');
		return strncmp(base != NULL ? base + 1 : interp, "ld-linux",
			       8) == 0;
	}
	if (strcmp(own, interp) == 0)
		return 1;
	return stat(interp, &st) == 0 && exec_same_file(own, &st);
}

/* ------------------------------------------------------------- Go */

/* 1 if the section name at `at` is `want`. */
static int exec_name_is(int fd, const Elf64_Shdr *strs, const char *names,
			size_t nnames, uint64_t at, const char *want)
{
	size_t wlen = strlen(want) + 1;
	char name[32];

	if (at + wlen <= nnames)
		return memcmp(names + at, want, wlen) == 0;
	if (wlen > sizeof(name) || at + wlen > strs->sh_size ||
	    exec_pread_all(fd, name, wlen, strs->sh_offset + at) < 0)
		return 0;
	return memcmp(name, want, wlen) == 0;
}

/* The .go.buildinfo section: 1 (*off, *len), 0 (the sections were read,
   none is it), -1 (no section headers to read). */
static int exec_go_section(int fd, const Elf64_Ehdr *eh, uint64_t *off,
			   uint64_t *len)
{
	Elf64_Shdr sh[EXEC_SHDR_CHUNK], strs;
	char names[EXEC_NAMES_MAX];
	size_t nnames, i, j, n;

	if (eh->e_shoff == 0 || eh->e_shnum == 0 ||
	    eh->e_shnum > EXEC_SHDR_MAX ||
	    eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shstrndx >= eh->e_shnum ||
	    exec_pread_all(fd, &strs, sizeof(strs),
			   eh->e_shoff + eh->e_shstrndx * sizeof(strs)) < 0)
		return -1;
	nnames = strs.sh_size < sizeof(names) ? strs.sh_size : sizeof(names);
	if (exec_pread_all(fd, names, nnames, strs.sh_offset) < 0)
		return -1;
	for (i = 0; i < eh->e_shnum; i += n) {
		n = eh->e_shnum - i < EXEC_SHDR_CHUNK ? eh->e_shnum - i :
							EXEC_SHDR_CHUNK;
		if (exec_pread_all(fd, sh, n * sizeof(sh[0]),
				   eh->e_shoff + i * sizeof(sh[0])) < 0)
			return -1;
		for (j = 0; j < n; j++)
			if (exec_name_is(fd, &strs, names, nnames,
					 sh[j].sh_name, EXEC_GO_SECTION)) {
				*off = sh[j].sh_offset;
				*len = sh[j].sh_size;
				return 1;
			}
	}
	return 0;
}

/* The first writable, not executable segment (where Go's linker puts
   the build information): 0, or -1 if none. */
static int exec_first_data(const Elf64_Phdr *ph, size_t n, uint64_t *off,
			   uint64_t *len)
{
	for (size_t i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD &&
		    (ph[i].p_flags & (PF_X | PF_W)) == PF_W) {
			*off = ph[i].p_offset;
			*len = ph[i].p_filesz;
			return 0;
		}
	return -1;
}

/* 1 if the magic is at a 16-byte boundary in [off, off + len). */
static int exec_scan_go(int fd, uint64_t off, uint64_t len)
{
	char buf[EXEC_GO_CHUNK];

	if (len > EXEC_GO_SCAN_MAX)
		len = EXEC_GO_SCAN_MAX;
	for (uint64_t at = 0; at < len; at += EXEC_GO_CHUNK) {
		size_t want = len - at < EXEC_GO_CHUNK ? (size_t)(len - at) :
							  EXEC_GO_CHUNK;
		ssize_t n = exec_pread(fd, buf, want, off + at);

		for (ssize_t i = 0; i + EXEC_GO_MAGIC_LEN <= n;
		     i += EXEC_GO_ALIGN)
			if (memcmp(buf + i, EXEC_GO_MAGIC,
				   EXEC_GO_MAGIC_LEN) == 0)
				return 1;
		if (n < (ssize_t)want)
			break;
	}
	return 0;
}

static int exec_elf_is_go(int fd, const Elf64_Ehdr *eh, const Elf64_Phdr *ph)
{
	uint64_t off = 0, len = 0;
	int r = exec_go_section(fd, eh, &off, &len);

	if (r == 0)
		return 0;
	if (r < 0 && exec_first_data(ph, eh->e_phnum, &off, &len) < 0)
		return 0;
	return exec_scan_go(fd, off, len);
}

/* ------------------------------------------------------------- ELF */

/* File capabilities that give the exec some (ping's cap_net_raw, a Go
   server's cap_net_bind_service): not to root, which has all its bounding
   set allows from any file (unless SECBIT_NOROOT), nor under
   no_new_privs.  Root's were taken as a secure exec, and a static or Go
   program with them was run in clear. */
static int exec_fcaps_apply(int fd)
{
	int bits;

	if (fgetxattr(fd, "security.capability", NULL, 0) < 0 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return 0;
	bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	return geteuid() != 0 || getuid() != 0 ||
	       (bits >= 0 && (bits & SECBIT_NOROOT));
}

/* Set-ID bits that apply (setid.h: a set-user-ID file of the caller's
   own is a program like any other, and was run in clear), or file
   capabilities that do: a secure exec, where the loader ignores
   LD_PRELOAD. */
static int exec_privileged(int fd, const struct stat *st)
{
	return setid_applies(fd, st) || exec_fcaps_apply(fd);
}

/* PT_INTERP into out: 1, 0 if there is none, -1 if it cannot be read. */
static int exec_elf_interp(int fd, const Elf64_Phdr *ph, size_t n, char *out,
			   size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (ph[i].p_type != PT_INTERP)
			continue;
		if (ph[i].p_filesz < 2 || ph[i].p_filesz > len ||
		    exec_pread_all(fd, out, ph[i].p_filesz, ph[i].p_offset) < 0 ||
		    out[ph[i].p_filesz - 1] != '\0')
			return -1;
		return 1;
	}
	return 0;
}

static void exec_classify_elf(int fd, const struct stat *st,
			      struct exec_image *out)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[EXEC_PHDR_MAX];
	char interp[PATH_MAX];
	int r;

	if (exec_pread_all(fd, &eh, sizeof(eh), 0) < 0 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
		return exec_set(out, EXEC_KIND_FAILS, NULL);
	if (exec_privileged(fd, st))
		return exec_set(out, EXEC_KIND_PRIVILEGED, NULL);
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != EXEC_DATA || eh.e_machine != EXEC_MACHINE)
		return exec_set(out, EXEC_KIND_UNREACHABLE, "it is built for "
				"another ABI, which this library cannot be "
				"loaded into");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > EXEC_PHDR_MAX ||
	    exec_pread_all(fd, ph, eh.e_phnum * sizeof(ph[0]), eh.e_phoff) < 0)
		return exec_set(out, EXEC_KIND_UNREACHABLE, "its program "
				"headers cannot be read");
	r = exec_elf_interp(fd, ph, eh.e_phnum, interp, sizeof(interp));
	if (r < 0)
		return exec_set(out, EXEC_KIND_UNREACHABLE, "its PT_INTERP "
				"cannot be read");
	out->no_interp = r == 0;
	out->loader = r == 0 && exec_same_file(exec_own_interp(), st);
	if (r == 0) /* static; or the loader, run as a program */
		return exec_set(out, out->loader ? EXEC_KIND_PRELOADABLE :
				EXEC_KIND_UNREACHABLE, "it is statically linked");
	if (!exec_interp_is_ours(interp))
		return exec_set(out, EXEC_KIND_UNREACHABLE, "its dynamic "
				"loader is not this process's, so this library "
				"cannot be loaded into it");
	if (exec_elf_is_go(fd, &eh, ph))
		return exec_set(out, EXEC_KIND_UNREACHABLE, "it is a Go "
				"program (it makes its system calls itself)");
	exec_set(out, EXEC_KIND_PRELOADABLE, NULL);
}

/* -------------------------------------------------- scripts and others */

/* A #! line (NUL-terminated in line): the interpreter's kind. */
static void exec_classify_script(char *line, int depth,
				 struct exec_image *out)
{
	char *p = line + 2, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	for (end = p; *end != '\0' && *end != ' ' && *end != '\t' &&
		      *end != '\n';
	     end++)
		;
	if (end == p || depth + 1 > EXEC_DEPTH_MAX)
		return exec_set(out, EXEC_KIND_FAILS, NULL); /* ENOEXEC, ELOOP */
	*end = '\0';
	exec_classify_at(AT_FDCWD, p, 0, depth + 1, out);
	out->script = 1;
}

/* 1 if binfmt_misc is enabled and has a handler registered. */
static int exec_binfmt_misc_on(void)
{
	char buf[EXEC_DIRENT_BUF], status[8] = "";
	int dir, fd, found = 0;
	ssize_t n;

	dir = real.open("/proc/sys/fs/binfmt_misc",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return 0;
	fd = real.openat(dir, "status", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!exec_pread(fd, status, sizeof(status) - 1, 0);
		real.close(fd);
	}
	while (strncmp(status, "enabled", 7) == 0 && !found &&
	       (n = getdents64(dir, buf, sizeof(buf))) > 0)
		for (ssize_t at = 0; at < n && !found;) {
			struct dirent64 *d = (struct dirent64 *)(buf + at);

			found = strcmp(d->d_name, ".") != 0 &&
				strcmp(d->d_name, "..") != 0 &&
				strcmp(d->d_name, "register") != 0 &&
				strcmp(d->d_name, "status") != 0;
			at += d->d_reclen;
		}
	real.close(dir);
	return found;
}

static int exec_open(int dirfd, const char *path, int flags)
{
	char fdpath[EXEC_FD_PATH_MAX];

	if ((flags & AT_EMPTY_PATH) && path[0] == '\0') {
		exec_fd_path(dirfd, fdpath);
		return real.open(fdpath, O_RDONLY | O_CLOEXEC);
	}
	return real.openat(dirfd, path,
			   O_RDONLY | O_CLOEXEC |
				   ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
}

static void exec_classify_at(int dirfd, const char *path, int flags,
			     int depth, struct exec_image *out)
{
	int sflags = flags & (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	char hdr[EXEC_HDR_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, elf;

	out->script = 0;
	out->no_interp = 0;
	out->loader = 0;
	exec_set(out, EXEC_KIND_FAILS, NULL);
	if (fstatat(dirfd, path, &st, sflags) < 0 || !S_ISREG(st.st_mode) ||
	    faccessat(dirfd, path, X_OK, AT_EACCESS | (sflags & AT_EMPTY_PATH)) < 0)
		return; /* the kernel refuses it too */
	fd = exec_open(dirfd, path, flags);
	if (fd < 0)
		return exec_set(out, setid_applies(-1, &st) ?
				EXEC_KIND_PRIVILEGED : EXEC_KIND_UNREACHABLE,
				"it cannot be read (execute-only?), so what it "
				"is cannot be told");
	n = exec_pread(fd, hdr, EXEC_HDR_MAX, 0);
	hdr[n > 0 ? n : 0] = '\0';
	elf = n >= SELFMAG && memcmp(hdr, ELFMAG, SELFMAG) == 0;
	if (elf)
		exec_classify_elf(fd, &st, out);
	real.close(fd);
	if (elf)
		return;
	if (n >= 2 && hdr[0] == '#' && hdr[1] == '!')
		return exec_classify_script(hdr, depth, out);
	if (exec_binfmt_misc_on())
		exec_set(out, EXEC_KIND_UNREACHABLE, "binfmt_misc may hand it "
			 "to an interpreter of its own");
}

void exec_image_classify(int dirfd, const char *path, int flags,
			 struct exec_image *out)
{
	exec_classify_at(dirfd, path, flags, 0, out);
}

/* ------------------------------------------- the loader as a program */

/* The ELF file the loader maps for path (no x bit needed; a bare name it
   may look for in the library path: not told). */
static void exec_loader_program(const char *path, struct exec_image *out)
{
	char hdr[SELFMAG];
	struct stat st;
	int fd;

	exec_set(out, EXEC_KIND_UNREACHABLE, NULL);
	out->no_interp = 0;
	if (strchr(path, '/') == NULL)
		return;
	fd = real.open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    exec_pread_all(fd, hdr, SELFMAG, 0) == 0 &&
	    memcmp(hdr, ELFMAG, SELFMAG) == 0)
		exec_classify_elf(fd, &st, out);
	real.close(fd);
}

/* ld.so's options (glibc's rtld.c): 2 if a takes an argument, 1 if it is
   one without, 0 if it is the program. */
static int exec_loader_option(const char *a)
{
	static const char *const with[] = {
		"--library-path", "--inhibit-rpath", "--audit", "--preload",
		"--argv0", "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask",
	};
	static const char *const without[] = {
		"--list", "--verify", "--inhibit-cache", "--list-tunables",
		"--list-diagnostics", "--help", "--version",
	};

	for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++)
		if (strcmp(a, with[i]) == 0)
			return 2;
	for (size_t i = 0; i < sizeof(without) / sizeof(without[0]); i++)
		if (strcmp(a, without[i]) == 0)
			return 1;
	return 0;
}

void exec_image_loader_run(char *const argv[], struct exec_image *out)
{
	static const char *const why = "it is this process's dynamic loader, "
		"run as a program on one this library cannot be loaded into "
		"(static, Go, another ABI) or that cannot be told";
	size_t i = 1;
	int opt;

	exec_set(out, EXEC_KIND_PRELOADABLE, NULL);
	while (argv != NULL && argv[0] != NULL && argv[i] != NULL &&
	       (opt = exec_loader_option(argv[i])) != 0)
		i += argv[i + 1] != NULL ? (size_t)opt : 1;
	if (argv == NULL || argv[0] == NULL || argv[i] == NULL)
		return; /* no program to run */
	exec_loader_program(argv[i], out);
	if (out->kind != EXEC_KIND_PRELOADABLE || out->no_interp)
		exec_set(out, EXEC_KIND_UNREACHABLE, why);
}

const char *exec_image_loader_why(const struct exec_image *img,
				  char *const argv[])
{
	struct exec_image run;

	if (!img->loader)
		return NULL;
	if (img->script)
		return "its interpreter is the dynamic loader";
	exec_image_loader_run(argv, &run);
	return run.kind == EXEC_KIND_PRELOADABLE ? NULL : run.why;
}

int exec_image_search_goes_on(int *eacces)
{
	switch (errno) {
	case EACCES:
		*eacces = 1;
		return 1;
	case ENOENT:
	case ESTALE:
	case ENOTDIR:
	case ENODEV:
	case ETIMEDOUT:
		return 1;
	default:
		return 0;
	}
}
