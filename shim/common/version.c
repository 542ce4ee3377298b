/*
 * version.c - the version of this build (see version.h).
 */
#include "version.h"

#include "shim_version.h" /* generated: SHIM_VERSION, SHIM_COMMIT */

const char *version_number(void)
{
	return SHIM_VERSION;
}

const char *version_commit(void)
{
	return SHIM_COMMIT;
}

const char *version_text(void)
{
	return SHIM_VERSION " (commit " SHIM_COMMIT ")";
}
