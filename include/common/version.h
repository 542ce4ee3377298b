/*
 * version.h - the version of this build: VERSION's number and the git
 * commit it was built from, both fixed at build time (the Makefile writes
 * them into $(BUILD)/gen/shim_version.h, which version.c alone includes).
 *
 * Linked into both libraries and the tool, so libc only.  Constant
 * strings: safe from any thread and from inside the hooks.
 */
#ifndef SHIM_VERSION_H
#define SHIM_VERSION_H

/* version_number - "0.9.0": the VERSION file's. */
const char *version_number(void);

/* version_commit - the commit's short hash, "-dirty" appended when the
   tree had uncommitted changes; "unknown" for a build without git. */
const char *version_commit(void);

/* version_text - "0.9.0 (commit 0123456789ab)": what --version, --check
   and the log at debug show. */
const char *version_text(void);

#endif
