/*
 * exec_image.h - what an exec would run, told from the file alone: a
 * dynamic program of this process's dynamic loader (LD_PRELOAD reaches
 * it, if its environment names the shim), a program LD_PRELOAD cannot
 * reach (static, Go, another loader or ABI), a privileged one, or a file
 * the kernel refuses anyway.
 *
 * Async-signal-safe: only fstatat, faccessat, open, pread, fgetxattr,
 * getdents64 and close, on small stack buffers; no allocation, no lock, no
 * hook (the real open and close, so the fd table is never written).  So
 * it may run in a vfork child, or after fork in a multi-threaded program
 * (CPython's _posixsubprocess execs from a vfork child).
 */
#ifndef SHIM_EXEC_IMAGE_H
#define SHIM_EXEC_IMAGE_H

enum exec_kind {
	/* The kernel refuses it (missing, not a regular file, not
	   executable, not a format it runs): the real call says why. */
	EXEC_KIND_FAILS,
	/* Set-user-ID, set-group-ID or file capabilities: the dynamic
	   loader ignores LD_PRELOAD, and the supervisor cannot run it
	   (no_new_privs). */
	EXEC_KIND_PRIVILEGED,
	/* A dynamic program of this process's loader, the loader itself
	   (loader: what it runs is told by exec_image_loader_run), or a #!
	   script whose interpreter is one of those. */
	EXEC_KIND_PRELOADABLE,
	/* Static, Go, another loader or ABI, unreadable, or a format
	   binfmt_misc may hand to an interpreter: only the supervisor can
	   protect it. */
	EXEC_KIND_UNREACHABLE,
};

struct exec_image {
	enum exec_kind kind;
	int script;      /* a #! script: the kind is its interpreter's */
	int no_interp;   /* an ELF file without PT_INTERP (static) */
	int loader;      /* this process's dynamic loader itself */
	const char *why; /* EXEC_KIND_UNREACHABLE: a phrase for the log */
};

/*
 * exec_image_classify - classify what execveat(dirfd, path, ..., flags)
 * would run (flags: AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW as execveat(2);
 * dirfd AT_FDCWD and flags 0 for execve).  A #! line is followed to its
 * interpreter, at most as deep as the kernel follows them.
 */
void exec_image_classify(int dirfd, const char *path, int flags,
			 struct exec_image *out);

/*
 * exec_image_loader_run - classify what the dynamic loader, run as a
 * program with these arguments (argv[0] the loader), would run: it maps
 * the program itself, whatever the program's PT_INTERP, x bit or kind
 * (`ld.so ./static` runs a static program, `ld.so ./go-program` a Go
 * one).  EXEC_KIND_PRELOADABLE for a dynamic program of ours, or for
 * options that run none (--help); else EXEC_KIND_UNREACHABLE (a file it
 * cannot run fails the same way under the supervisor).
 */
void exec_image_loader_run(char *const argv[], struct exec_image *out);

/* exec_image_search_goes_on - after an exec of one PATH candidate failed
   with errno: 1 if glibc's execvpe goes on to the next entry (the file is
   not there, or not ours to run), *eacces set on EACCES; 0 if it stops. */
int exec_image_search_goes_on(int *eacces);

/*
 * exec_image_loader_why - why img, if it is the dynamic loader run as a
 * program with argv, would run one the library cannot reach (ld.so
 * ./static_client); NULL if not, or if img is not the loader.  A #! line
 * naming the loader hands it the script (not told: unreachable).
 */
const char *exec_image_loader_why(const struct exec_image *img,
				  char *const argv[]);

/* exec_fd_path - "/proc/self/fd/FD" into out (at least EXEC_FD_PATH_MAX
   bytes): the name an exec by descriptor goes through. */
#define EXEC_FD_PATH_MAX 32
void exec_fd_path(int fd, char *out);

#endif
