/*
 * config.h - the configuration: a libconfig file (REDIS_TLS_CONFIG) and
 * REDIS_TLS_* environment variables, validated when loaded.
 *
 * Only config.c includes <libconfig.h>.  Loading is not thread-safe; the
 * loaded struct is read-only afterwards and may be shared by threads.
 *
 * Order of precedence: the file's `defaults`, then environment variables
 * applied to the defaults, then each endpoint's own keys.  Endpoints come
 * from the file's `endpoints` list, then from REDIS_TLS_ENDPOINTS (which
 * take the defaults alone).  Relative paths in the file resolve against the
 * file's folder; relative paths in the environment against the working
 * directory.  Every path is checked readable at load.
 */
#ifndef SHIM_CONFIG_H
#define SHIM_CONFIG_H

#include <stddef.h>
#include "engine_api.h"
#include "match.h"

#define CFG_TLS_1_0 0x0301
#define CFG_TLS_1_1 0x0302
#define CFG_TLS_1_2 0x0303
#define CFG_TLS_1_3 0x0304

enum cfg_verify { CFG_VERIFY_FULL, CFG_VERIFY_NONE };

/* Where a value came from, for error messages: "file.conf:12" or
   "environment REDIS_TLS_CA_FILE" or "--cacert" (src holds the text). */
#define CFG_WHERE_SRC_MAX 300
/* config_where_format's text: the source, ':' and a line number. */
#define CFG_WHERE_TEXT_MAX 400
/* A one-line reason a value is refused (before file and line). */
#define CFG_WHY_MAX 256

struct cfg_where {
	char src[CFG_WHERE_SRC_MAX];
	int line; /* 0 when not from a file */
};

#define CFG_MAX_PINS 8

/* Settings an endpoint inherits from the defaults.  Strings are owned and
   NULL when unset; paths are absolute after loading. */
struct cfg_tls {
	char *ca_file, *ca_path;
	char *cert_file, *key_file;
	char *key_passphrase_file; /* first line of the file */
	char *key_passphrase_env;  /* name of a variable holding it */
	char *crl_file;
	char *pin_sha256[CFG_MAX_PINS]; /* base64 SHA-256 of the SPKI */
	size_t npins;
	enum cfg_verify verify;
	int insecure;
	int min_protocol, max_protocol; /* CFG_TLS_*, 0 = library default */
	char *ciphers, *ciphersuites, *groups;
	int handshake_timeout_ms;
	char *sni;         /* name to send as SNI instead of the dialled one */
	char *verify_name; /* name to verify instead of the dialled one, or
			      a pattern "*.DOMAIN" (match_check_pattern) */
	int verify_ip_in_cn; /* a dialled IP may be the subject CN of a
				certificate with no SAN (tls_name.h) */
	/* origins of the values that can fail later, at TLS set-up (and of
	   verify_ip_in_cn, which is warned about at load) */
	struct cfg_where w_ca, w_cert, w_key, w_crl, w_ciphers, w_ciphersuites,
		w_groups, w_ip_in_cn;
};

struct cfg_endpoint {
	struct match_spec match;
	char *match_text; /* as written */
	struct cfg_tls tls;
	struct cfg_where where; /* the endpoint entry */
};

struct shim_config {
	char *path;      /* absolute path of the file, or NULL */
	char *log_level; /* "debug".."error", NULL = unset */
	char *log_target; /* "stderr" | "syslog" | a file path, NULL = unset */
	struct cfg_tls defaults;
	struct cfg_endpoint *endpoints;
	size_t nendpoints;
};

typedef const char *(*cfg_getenv_fn)(const char *name);

/* The configuration file of a whole host (system-wide mode, with
   /etc/ld.so.preload): read when REDIS_TLS_CONFIG is unset or empty. */
#define CONFIG_SYSTEM_FILE SHIM_SYSTEM_CONFIG

/* config_system_file - the path read in CONFIG_SYSTEM_FILE's place; NULL:
   none (the unit tests: the host's own file is not theirs).  Not
   thread-safe: call before config_load. */
void config_system_file(const char *path);

/*
 * config_load - read the file named by REDIS_TLS_CONFIG (if set; else
 * CONFIG_SYSTEM_FILE, if it exists) and the
 * REDIS_TLS_* variables, through `get` (getenv in production).
 * Returns 0, or -1 with err holding one line naming file and line (or the
 * variable) and what is wrong.  On -1, *cfg is left freed.  A configuration
 * with no endpoints is an error.
 */
int config_load(struct shim_config *cfg, cfg_getenv_fn get, char *err,
		size_t errlen);

/* config_free - release everything config_load allocated. */
void config_free(struct shim_config *cfg);

/* config_where_format - "FILE:LINE" or the source text, into buf. */
const char *config_where_format(const struct cfg_where *w, char *buf,
				size_t len);

#endif
