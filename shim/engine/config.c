/*
 * config.c - load and validate the configuration (see config.h).
 *
 * The only file that includes <libconfig.h>.  Every value is checked when
 * it is read, with the place it came from ("FILE:LINE" or "environment
 * REDIS_TLS_X"), so a bad setting is reported at load time, never at the
 * first byte of traffic.
 *
 * Settings are applied in layers: the file's `defaults`, then the
 * REDIS_TLS_* variables, then (per endpoint) the endpoint's own keys.  Each
 * layer remembers where every key came from, so checks that combine keys
 * ("verify none needs insecure") can name the line of the culprit.
 *
 * Not thread-safe (see config.h); allocation failures are reported as
 * errors, and on any error everything allocated so far is freed.
 */
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log_level.h"

#define CFG_DEFAULT_TIMEOUT_MS 10000
#define CFG_MAX_TIMEOUT_MS 600000
#define CFG_PIN_B64_LEN 44 /* base64 of 32 bytes, with one '=' */
#define CFG_MSG_MAX 512
#define CFG_LINE_MAX 4096 /* a line of a file scanned for @include */
#define CFG_INCLUDE_WORD "@include"

/* Every key allowed in `defaults` and in an endpoint. */
enum cfg_key_id {
	CK_CA_FILE,
	CK_CA_PATH,
	CK_CERT_FILE,
	CK_KEY_FILE,
	CK_KEY_PASS_FILE,
	CK_KEY_PASS_ENV,
	CK_CRL_FILE,
	CK_PIN_SHA256,
	CK_VERIFY,
	CK_INSECURE,
	CK_MIN_PROTOCOL,
	CK_MAX_PROTOCOL,
	CK_CIPHERS,
	CK_CIPHERSUITES,
	CK_GROUPS,
	CK_TIMEOUT,
	CK_SNI,
	CK_VERIFY_NAME,
	CK_VERIFY_IP_IN_CN,
	CK_COUNT
};

enum cfg_kind {
	CFG_K_FILE,     /* path of a readable regular file */
	CFG_K_DIR,      /* path of a readable directory */
	CFG_K_TEXT,     /* non-empty string, checked later by the TLS layer */
	CFG_K_ENVNAME,  /* name of a variable that must be set */
	CFG_K_HOST,     /* host name */
	CFG_K_HOST_IP,  /* host name, *.DOMAIN pattern or IP literal */
	CFG_K_PINS,     /* string or list of base64 SHA-256 digests */
	CFG_K_VERIFY,   /* "full" | "none" */
	CFG_K_BOOL,     /* bool (file), 1/0/true/false/yes/no (environment) */
	CFG_K_PROTOCOL, /* "TLSv1".."TLSv1.3" */
	CFG_K_TIMEOUT,  /* integer milliseconds */
};

struct cfg_key {
	const char *name; /* in the file */
	const char *env;  /* the variable that sets it in the defaults */
	enum cfg_kind kind;
	size_t off; /* of the char * or int field in struct cfg_tls */
};

static const struct cfg_key cfg_keys[CK_COUNT] = {
	[CK_CA_FILE] = { "ca_file", "REDIS_TLS_CA_FILE", CFG_K_FILE,
			 offsetof(struct cfg_tls, ca_file) },
	[CK_CA_PATH] = { "ca_path", "REDIS_TLS_CA_PATH", CFG_K_DIR,
			 offsetof(struct cfg_tls, ca_path) },
	[CK_CERT_FILE] = { "cert_file", "REDIS_TLS_CERT_FILE", CFG_K_FILE,
			   offsetof(struct cfg_tls, cert_file) },
	[CK_KEY_FILE] = { "key_file", "REDIS_TLS_KEY_FILE", CFG_K_FILE,
			  offsetof(struct cfg_tls, key_file) },
	[CK_KEY_PASS_FILE] = { "key_passphrase_file",
			       "REDIS_TLS_KEY_PASSPHRASE_FILE", CFG_K_FILE,
			       offsetof(struct cfg_tls, key_passphrase_file) },
	[CK_KEY_PASS_ENV] = { "key_passphrase_env",
			      "REDIS_TLS_KEY_PASSPHRASE_ENV", CFG_K_ENVNAME,
			      offsetof(struct cfg_tls, key_passphrase_env) },
	[CK_CRL_FILE] = { "crl_file", "REDIS_TLS_CRL_FILE", CFG_K_FILE,
			  offsetof(struct cfg_tls, crl_file) },
	[CK_PIN_SHA256] = { "pin_sha256", "REDIS_TLS_PIN_SHA256", CFG_K_PINS,
			    0 },
	[CK_VERIFY] = { "verify", "REDIS_TLS_VERIFY", CFG_K_VERIFY, 0 },
	[CK_INSECURE] = { "insecure", "REDIS_TLS_INSECURE", CFG_K_BOOL,
			  offsetof(struct cfg_tls, insecure) },
	[CK_MIN_PROTOCOL] = { "min_protocol", "REDIS_TLS_MIN_PROTOCOL",
			      CFG_K_PROTOCOL,
			      offsetof(struct cfg_tls, min_protocol) },
	[CK_MAX_PROTOCOL] = { "max_protocol", "REDIS_TLS_MAX_PROTOCOL",
			      CFG_K_PROTOCOL,
			      offsetof(struct cfg_tls, max_protocol) },
	[CK_CIPHERS] = { "ciphers", "REDIS_TLS_CIPHERS", CFG_K_TEXT,
			 offsetof(struct cfg_tls, ciphers) },
	[CK_CIPHERSUITES] = { "ciphersuites", "REDIS_TLS_CIPHERSUITES",
			      CFG_K_TEXT,
			      offsetof(struct cfg_tls, ciphersuites) },
	[CK_GROUPS] = { "groups", "REDIS_TLS_GROUPS", CFG_K_TEXT,
			offsetof(struct cfg_tls, groups) },
	[CK_TIMEOUT] = { "handshake_timeout_ms",
			 "REDIS_TLS_HANDSHAKE_TIMEOUT_MS", CFG_K_TIMEOUT,
			 offsetof(struct cfg_tls, handshake_timeout_ms) },
	[CK_SNI] = { "sni", "REDIS_TLS_SNI", CFG_K_HOST,
		     offsetof(struct cfg_tls, sni) },
	[CK_VERIFY_NAME] = { "verify_name", "REDIS_TLS_VERIFY_NAME",
			     CFG_K_HOST_IP,
			     offsetof(struct cfg_tls, verify_name) },
	[CK_VERIFY_IP_IN_CN] = { "verify_ip_in_cn", "REDIS_TLS_VERIFY_IP_IN_CN",
				 CFG_K_BOOL,
				 offsetof(struct cfg_tls, verify_ip_in_cn) },
};

static const struct {
	const char *name;
	int version;
} cfg_protocols[] = {
	{ "TLSv1", CFG_TLS_1_0 },
	{ "TLSv1.1", CFG_TLS_1_1 },
	{ "TLSv1.2", CFG_TLS_1_2 },
	{ "TLSv1.3", CFG_TLS_1_3 },
};

/* Where one value being applied came from. */
struct cfg_src {
	struct cfg_where where;
	int from_env;     /* messages then omit the key: the variable says it */
	const char *base; /* folder that relative paths resolve against */
};

/* One layer of settings being built, with the origin of each key (src
   empty when the key still has its built-in default). */
struct cfg_layer {
	struct cfg_tls *tls;
	struct cfg_where *w; /* [CK_COUNT] */
};

struct cfg_loader {
	struct shim_config *cfg;
	cfg_getenv_fn get;
	char *err;
	size_t errlen;
	char cwd[PATH_MAX]; /* "" if unknown */
	char dir[PATH_MAX]; /* folder of the file */
	struct cfg_where dw[CK_COUNT]; /* origins of the defaults */
};

/* ---- errors ----------------------------------------------------------- */

const char *config_where_format(const struct cfg_where *w, char *buf,
				size_t len)
{
	if (!buf || len == 0)
		return buf;
	if (!w)
		snprintf(buf, len, "?");
	else if (w->line > 0)
		snprintf(buf, len, "%s:%d", w->src, w->line);
	else
		snprintf(buf, len, "%s", w->src);
	return buf;
}

/* Values quoted in messages may hold control characters ("a\nb" in the
   file); the message must stay one log line. */
static void cfg_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* "LOCATION: message" into the caller's buffer; returns -1. */
__attribute__((format(printf, 3, 4))) static int
cfg_fail(struct cfg_loader *ld, const struct cfg_where *w, const char *fmt,
	 ...)
{
	char loc[sizeof(w->src) + 16];
	char msg[CFG_MSG_MAX];
	va_list ap;

	if (!ld->err || ld->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w)
		snprintf(ld->err, ld->errlen, "%s: %s",
			 config_where_format(w, loc, sizeof(loc)), msg);
	else
		snprintf(ld->err, ld->errlen, "%s", msg);
	cfg_one_line(ld->err);
	return -1;
}

/* An error about one value: "FILE:LINE: key MSG" from the file,
   "environment VAR: MSG" from the environment. */
__attribute__((format(printf, 4, 5))) static int
cfg_value_fail(struct cfg_loader *ld, const struct cfg_src *src,
	       const char *key, const char *fmt, ...)
{
	char msg[CFG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (src->from_env)
		return cfg_fail(ld, &src->where, "%s", msg);
	return cfg_fail(ld, &src->where, "%s %s", key, msg);
}

static int cfg_oom(struct cfg_loader *ld)
{
	return cfg_fail(ld, NULL, "out of memory while loading configuration");
}

/* w = FILE:LINE; libconfig names an @include'd file as written, relative
   to the include folder, which is the config file's folder. */
static void cfg_where_file(struct cfg_loader *ld, struct cfg_where *w,
			   const char *file, int line)
{
	int n;

	if (!file)
		file = ld->cfg->path;
	if (file[0] == '/')
		n = snprintf(w->src, sizeof(w->src), "%s", file);
	else
		n = snprintf(w->src, sizeof(w->src), "%s/%s", ld->dir, file);
	if (n >= (int)sizeof(w->src)) /* show that it was cut */
		memcpy(w->src + sizeof(w->src) - 4, "...", 4);
	w->line = line;
}

/* Origin of a libconfig setting. */
static void cfg_src_setting(struct cfg_loader *ld,
			    const config_setting_t *s, struct cfg_src *src)
{
	memset(src, 0, sizeof(*src));
	cfg_where_file(ld, &src->where, config_setting_source_file(s),
		       (int)config_setting_source_line(s));
	src->base = ld->dir;
}

static void cfg_src_env(struct cfg_loader *ld, const char *var,
			struct cfg_src *src)
{
	memset(src, 0, sizeof(*src));
	snprintf(src->where.src, sizeof(src->where.src), "environment %s",
		 var);
	src->from_env = 1;
	src->base = ld->cwd;
}

static int cfg_setting_fail(struct cfg_loader *ld, const config_setting_t *s,
			    const char *msg)
{
	struct cfg_src src;

	cfg_src_setting(ld, s, &src);
	return cfg_fail(ld, &src.where, "%s", msg);
}

/* ---- the environment -------------------------------------------------- */

/* A variable's value, NULL when unset or empty. */
static const char *cfg_env(struct cfg_loader *ld, const char *name)
{
	const char *v = ld->get(name);

	return (v && v[0] != '\0') ? v : NULL;
}

/* ---- memory of struct cfg_tls ----------------------------------------- */

static int cfg_kind_is_string(enum cfg_kind k)
{
	switch (k) {
	case CFG_K_FILE:
	case CFG_K_DIR:
	case CFG_K_TEXT:
	case CFG_K_ENVNAME:
	case CFG_K_HOST:
	case CFG_K_HOST_IP:
		return 1;
	default:
		return 0;
	}
}

static char **cfg_str_field(struct cfg_tls *t, enum cfg_key_id k)
{
	return (char **)((char *)t + cfg_keys[k].off);
}

static const char *cfg_str_value(const struct cfg_tls *t, enum cfg_key_id k)
{
	return *(char *const *)((const char *)t + cfg_keys[k].off);
}

static int *cfg_int_field(struct cfg_tls *t, enum cfg_key_id k)
{
	return (int *)((char *)t + cfg_keys[k].off);
}

static void cfg_free_pins(struct cfg_tls *t)
{
	size_t i;

	for (i = 0; i < t->npins && i < CFG_MAX_PINS; i++) {
		free(t->pin_sha256[i]);
		t->pin_sha256[i] = NULL;
	}
	t->npins = 0;
}

static void cfg_tls_free(struct cfg_tls *t)
{
	int k;

	for (k = 0; k < CK_COUNT; k++) {
		if (!cfg_kind_is_string(cfg_keys[k].kind))
			continue;
		free(*cfg_str_field(t, k));
		*cfg_str_field(t, k) = NULL;
	}
	cfg_free_pins(t);
}

static void cfg_tls_init(struct cfg_tls *t)
{
	memset(t, 0, sizeof(*t));
	t->verify = CFG_VERIFY_FULL;
	t->handshake_timeout_ms = CFG_DEFAULT_TIMEOUT_MS;
}

/* Deep copy; on failure dst holds what was copied (free it). */
static int cfg_tls_copy(struct cfg_tls *dst, const struct cfg_tls *src)
{
	const char *v;
	size_t i;
	int k;

	*dst = *src;
	for (k = 0; k < CK_COUNT; k++)
		if (cfg_kind_is_string(cfg_keys[k].kind))
			*cfg_str_field(dst, k) = NULL;
	for (i = 0; i < CFG_MAX_PINS; i++)
		dst->pin_sha256[i] = NULL;
	dst->npins = 0;
	for (k = 0; k < CK_COUNT; k++) {
		if (!cfg_kind_is_string(cfg_keys[k].kind))
			continue;
		v = cfg_str_value(src, k);
		if (v && !(*cfg_str_field(dst, k) = strdup(v)))
			return -1;
	}
	for (i = 0; i < src->npins; i++) {
		dst->pin_sha256[i] = strdup(src->pin_sha256[i]);
		if (!dst->pin_sha256[i])
			return -1;
		dst->npins = i + 1;
	}
	return 0;
}

/* ---- storing values --------------------------------------------------- */

/* The two passphrase sources are one setting: setting one in a layer
   drops the other inherited from a lower layer. */
static void cfg_drop_other_passphrase(struct cfg_layer *ly, enum cfg_key_id k)
{
	enum cfg_key_id other;

	if (k == CK_KEY_PASS_FILE)
		other = CK_KEY_PASS_ENV;
	else if (k == CK_KEY_PASS_ENV)
		other = CK_KEY_PASS_FILE;
	else
		return;
	free(*cfg_str_field(ly->tls, other));
	*cfg_str_field(ly->tls, other) = NULL;
	memset(&ly->w[other], 0, sizeof(ly->w[other]));
}

static int cfg_store_string(struct cfg_loader *ld, struct cfg_layer *ly,
			    enum cfg_key_id k, const char *value,
			    const struct cfg_src *src)
{
	char *copy = strdup(value);
	char **f = cfg_str_field(ly->tls, k);

	if (!copy)
		return cfg_oom(ld);
	free(*f);
	*f = copy;
	ly->w[k] = src->where;
	cfg_drop_other_passphrase(ly, k);
	return 0;
}

static void cfg_store_int(struct cfg_layer *ly, enum cfg_key_id k, int value,
			  const struct cfg_src *src)
{
	*cfg_int_field(ly->tls, k) = value;
	ly->w[k] = src->where;
}

/* ---- checking values -------------------------------------------------- */

/* Absolute form of `path` in out: as is, or below src->base. */
static int cfg_resolve(struct cfg_loader *ld, const struct cfg_src *src,
		       const char *key, const char *path, char *out,
		       size_t outlen)
{
	int n;

	if (path[0] == '/')
		n = snprintf(out, outlen, "%s", path);
	else if (src->base[0] == '\0')
		return cfg_value_fail(ld, src, key,
				      "'%s': relative path, but the working "
				      "directory is unknown",
				      path);
	else
		n = snprintf(out, outlen, "%s/%s", src->base, path);
	if (n < 0 || (size_t)n >= outlen)
		return cfg_value_fail(ld, src, key, "'%.64s...': path too long",
				      path);
	return 0;
}

static int cfg_check_path(struct cfg_loader *ld, const struct cfg_src *src,
			  const char *key, const char *path, int want_dir)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return cfg_value_fail(ld, src, key, "'%s': %s", path,
				      strerror(errno));
	if (want_dir && !S_ISDIR(st.st_mode))
		return cfg_value_fail(ld, src, key, "'%s': not a directory",
				      path);
	if (!want_dir && !S_ISREG(st.st_mode))
		return cfg_value_fail(ld, src, key,
				      "'%s': not a regular file", path);
	if (access(path, want_dir ? R_OK | X_OK : R_OK) < 0)
		return cfg_value_fail(ld, src, key, "'%s': %s", path,
				      strerror(errno));
	return 0;
}

static int cfg_apply_path(struct cfg_loader *ld, struct cfg_layer *ly,
			  enum cfg_key_id k, const char *text,
			  const struct cfg_src *src)
{
	const char *key = cfg_keys[k].name;
	char path[PATH_MAX];

	if (cfg_resolve(ld, src, key, text, path, sizeof(path)) < 0 ||
	    cfg_check_path(ld, src, key, path, cfg_keys[k].kind == CFG_K_DIR) <
		    0)
		return -1;
	return cfg_store_string(ld, ly, k, path, src);
}

static int cfg_valid_env_name(const char *s)
{
	size_t i;

	if ((s[0] < 'A' || s[0] > 'Z') && (s[0] < 'a' || s[0] > 'z') &&
	    s[0] != '_')
		return 0;
	for (i = 1; s[i]; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int cfg_apply_envname(struct cfg_loader *ld, struct cfg_layer *ly,
			     enum cfg_key_id k, const char *text,
			     const struct cfg_src *src)
{
	const char *key = cfg_keys[k].name;
	const char *v;

	if (!cfg_valid_env_name(text))
		return cfg_value_fail(ld, src, key,
				      "'%s': not a valid variable name", text);
	v = ld->get(text);
	if (!v)
		return cfg_value_fail(ld, src, key,
				      "'%s': variable is not set", text);
	if (v[0] == '\0')
		return cfg_value_fail(ld, src, key, "'%s': variable is empty",
				      text);
	return cfg_store_string(ld, ly, k, text, src);
}

/* SNI and verify_name, stored without a trailing dot; verify_name may
   also be an IP literal or a *.DOMAIN pattern (match_check_pattern). */
static int cfg_apply_host(struct cfg_loader *ld, struct cfg_layer *ly,
			  enum cfg_key_id k, const char *text,
			  const struct cfg_src *src)
{
	const char *key = cfg_keys[k].name;
	int host_ip = cfg_keys[k].kind == CFG_K_HOST_IP;
	char why[CFG_WHY_MAX];
	char name[MATCH_NAME_MAX + 4];
	size_t n = strlen(text);

	if (!host_ip && addr_is_literal(text))
		return cfg_value_fail(ld, src, key,
				      "'%s': must be a host name; SNI is never "
				      "sent for IP addresses",
				      text);
	if (!host_ip && text[0] == '*')
		return cfg_value_fail(ld, src, key,
				      "'%s': must be a host name; SNI is never "
				      "a pattern (verify_name may be one)",
				      text);
	if (host_ip && addr_is_literal(text))
		return cfg_store_string(ld, ly, k, text, src);
	if (host_ip && text[0] == '*' &&
	    match_check_pattern(text, why, sizeof(why)) < 0)
		return cfg_value_fail(ld, src, key, "'%s': %s", text, why);
	if (text[0] != '*' && match_check_name(text, why, sizeof(why)) < 0)
		return cfg_value_fail(ld, src, key, "'%s': %s", text, why);
	if (text[n - 1] == '.')
		n--;
	memcpy(name, text, n);
	name[n] = '\0';
	return cfg_store_string(ld, ly, k, name, src);
}

static int cfg_apply_verify(struct cfg_loader *ld, struct cfg_layer *ly,
			    const char *text, const struct cfg_src *src)
{
	if (strcasecmp(text, "full") == 0)
		ly->tls->verify = CFG_VERIFY_FULL;
	else if (strcasecmp(text, "none") == 0)
		ly->tls->verify = CFG_VERIFY_NONE;
	else
		return cfg_value_fail(ld, src, "verify",
				      "'%s': must be \"full\" or \"none\"",
				      text);
	ly->w[CK_VERIFY] = src->where;
	return 0;
}

static const char *cfg_protocol_name(int version)
{
	size_t i;

	for (i = 0; i < sizeof(cfg_protocols) / sizeof(cfg_protocols[0]); i++)
		if (cfg_protocols[i].version == version)
			return cfg_protocols[i].name;
	return "?";
}

static int cfg_apply_protocol(struct cfg_loader *ld, struct cfg_layer *ly,
			      enum cfg_key_id k, const char *text,
			      const struct cfg_src *src)
{
	size_t i;

	for (i = 0; i < sizeof(cfg_protocols) / sizeof(cfg_protocols[0]); i++) {
		if (strcasecmp(text, cfg_protocols[i].name) == 0) {
			cfg_store_int(ly, k, cfg_protocols[i].version, src);
			return 0;
		}
	}
	return cfg_value_fail(ld, src, cfg_keys[k].name,
			      "'%s': must be one of TLSv1, TLSv1.1, TLSv1.2, "
			      "TLSv1.3",
			      text);
}

static int cfg_apply_timeout(struct cfg_loader *ld, struct cfg_layer *ly,
			     long long v, const struct cfg_src *src)
{
	if (v < 1 || v > CFG_MAX_TIMEOUT_MS)
		return cfg_value_fail(ld, src, "handshake_timeout_ms",
				      "%lld: must be 1 to %d (milliseconds)",
				      v, CFG_MAX_TIMEOUT_MS);
	cfg_store_int(ly, CK_TIMEOUT, (int)v, src);
	return 0;
}

/* ---- pins ------------------------------------------------------------- */

static int cfg_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Canonical base64 of exactly 32 bytes: 43 digits, then '='; the last
   digit carries 4 bits of data, so its low 2 bits must be zero. */
static int cfg_valid_pin(const char *s)
{
	int i, v = 0;

	if (strlen(s) != CFG_PIN_B64_LEN || s[CFG_PIN_B64_LEN - 1] != '=')
		return 0;
	for (i = 0; i < CFG_PIN_B64_LEN - 1; i++) {
		v = cfg_b64_value((unsigned char)s[i]);
		if (v < 0)
			return 0;
	}
	return (v & 3) == 0;
}

static int cfg_store_pins(struct cfg_loader *ld, struct cfg_layer *ly,
			  const char *const *pins, size_t n,
			  const struct cfg_src *src)
{
	size_t i;

	if (n > CFG_MAX_PINS)
		return cfg_value_fail(ld, src, "pin_sha256",
				      "has %zu pins (at most %d)", n,
				      CFG_MAX_PINS);
	for (i = 0; i < n; i++)
		if (!cfg_valid_pin(pins[i]))
			return cfg_value_fail(ld, src, "pin_sha256",
					      "'%s': not base64 of a 32-byte "
					      "SHA-256 digest (44 characters "
					      "ending in '=')",
					      pins[i]);
	cfg_free_pins(ly->tls);
	for (i = 0; i < n; i++) {
		ly->tls->pin_sha256[i] = strdup(pins[i]);
		if (!ly->tls->pin_sha256[i])
			return cfg_oom(ld);
		ly->tls->npins = i + 1;
	}
	ly->w[CK_PIN_SHA256] = src->where;
	return 0;
}

static char *cfg_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* Split a writable comma-separated list in place, trimming blanks; an
   empty item is an error.  Returns the count, or -1. */
static int cfg_split_list(struct cfg_loader *ld, const struct cfg_src *src,
			  const char *key, char *s, char **items, size_t max)
{
	size_t n = 0;
	char *next;

	for (; s; s = next) {
		next = strchr(s, ',');
		if (next)
			*next++ = '\0';
		s = cfg_trim(s);
		if (s[0] == '\0')
			return cfg_value_fail(ld, src, key,
					      "empty item %zu in the "
					      "comma-separated list",
					      n + 1);
		if (n == max)
			return cfg_value_fail(ld, src, key,
					      "more than %zu items", max);
		items[n++] = s;
	}
	return (int)n;
}

static int cfg_apply_pin_text(struct cfg_loader *ld, struct cfg_layer *ly,
			      const char *text, const struct cfg_src *src)
{
	char *items[CFG_MAX_PINS];
	char *copy = strdup(text);
	int n, rc;

	if (!copy)
		return cfg_oom(ld);
	n = cfg_split_list(ld, src, "pin_sha256", copy, items, CFG_MAX_PINS);
	rc = n < 0 ? -1
		   : cfg_store_pins(ld, ly, (const char *const *)items,
				    (size_t)n, src);
	free(copy);
	return rc;
}

/* ---- applying one value ----------------------------------------------- */

static int cfg_parse_bool_text(const char *s, int *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int cfg_parse_int_text(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0') ? -1 : 0;
}

/* A value given as text: any string from the file, or any variable. */
static int cfg_apply_text(struct cfg_loader *ld, struct cfg_layer *ly,
			  enum cfg_key_id k, const char *text,
			  const struct cfg_src *src)
{
	const char *key = cfg_keys[k].name;
	long long v;
	int b;

	if (text[0] == '\0')
		return cfg_value_fail(ld, src, key, "is empty");
	switch (cfg_keys[k].kind) {
	case CFG_K_FILE:
	case CFG_K_DIR:
		return cfg_apply_path(ld, ly, k, text, src);
	case CFG_K_TEXT:
		return cfg_store_string(ld, ly, k, text, src);
	case CFG_K_ENVNAME:
		return cfg_apply_envname(ld, ly, k, text, src);
	case CFG_K_HOST:
	case CFG_K_HOST_IP:
		return cfg_apply_host(ld, ly, k, text, src);
	case CFG_K_PINS:
		return cfg_apply_pin_text(ld, ly, text, src);
	case CFG_K_VERIFY:
		return cfg_apply_verify(ld, ly, text, src);
	case CFG_K_PROTOCOL:
		return cfg_apply_protocol(ld, ly, k, text, src);
	case CFG_K_BOOL:
		if (cfg_parse_bool_text(text, &b) < 0)
			return cfg_value_fail(ld, src, key,
					      "'%s': must be 1/0, true/false "
					      "or yes/no",
					      text);
		cfg_store_int(ly, k, b, src);
		return 0;
	case CFG_K_TIMEOUT:
		if (cfg_parse_int_text(text, &v) < 0)
			return cfg_value_fail(ld, src, key,
					      "'%s': not an integer", text);
		return cfg_apply_timeout(ld, ly, v, src);
	default:
		return cfg_value_fail(ld, src, key, "cannot be set");
	}
}

static int cfg_apply_pin_setting(struct cfg_loader *ld, struct cfg_layer *ly,
				 const config_setting_t *s,
				 const struct cfg_src *src)
{
	const char *pins[CFG_MAX_PINS];
	const config_setting_t *e;
	int i, n = config_setting_length(s);

	if (n > CFG_MAX_PINS)
		return cfg_value_fail(ld, src, "pin_sha256",
				      "has %d pins (at most %d)", n,
				      CFG_MAX_PINS);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (!e || config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_value_fail(ld, src, "pin_sha256",
					      "must be a string or a list of "
					      "strings");
		pins[i] = config_setting_get_string(e);
	}
	return cfg_store_pins(ld, ly, pins, (size_t)n, src);
}

static int cfg_type_fail(struct cfg_loader *ld, const struct cfg_src *src,
			 enum cfg_key_id k)
{
	switch (cfg_keys[k].kind) {
	case CFG_K_BOOL:
		return cfg_value_fail(ld, src, cfg_keys[k].name,
				      "must be true or false");
	case CFG_K_TIMEOUT:
		return cfg_value_fail(ld, src, cfg_keys[k].name,
				      "must be an integer");
	case CFG_K_PINS:
		return cfg_value_fail(ld, src, cfg_keys[k].name,
				      "must be a string or a list of strings");
	default:
		return cfg_value_fail(ld, src, cfg_keys[k].name,
				      "must be a string");
	}
}

/* A value from the file: check its type, then apply it. */
static int cfg_apply_setting(struct cfg_loader *ld, struct cfg_layer *ly,
			     enum cfg_key_id k, const config_setting_t *s)
{
	struct cfg_src src;
	int type = config_setting_type(s);
	enum cfg_kind kind = cfg_keys[k].kind;

	cfg_src_setting(ld, s, &src);
	if (kind == CFG_K_BOOL && type == CONFIG_TYPE_BOOL) {
		cfg_store_int(ly, k, config_setting_get_bool(s) ? 1 : 0, &src);
		return 0;
	}
	if (kind == CFG_K_TIMEOUT &&
	    (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64))
		return cfg_apply_timeout(ld, ly, config_setting_get_int64(s),
					 &src);
	if (kind == CFG_K_PINS &&
	    (type == CONFIG_TYPE_ARRAY || type == CONFIG_TYPE_LIST))
		return cfg_apply_pin_setting(ld, ly, s, &src);
	if (kind != CFG_K_BOOL && kind != CFG_K_TIMEOUT &&
	    type == CONFIG_TYPE_STRING)
		return cfg_apply_text(ld, ly, k, config_setting_get_string(s),
				      &src);
	return cfg_type_fail(ld, &src, k);
}

/* ---- groups: defaults and endpoints ----------------------------------- */

static int cfg_key_lookup(const char *name)
{
	int k;

	for (k = 0; k < CK_COUNT; k++)
		if (strcmp(cfg_keys[k].name, name) == 0)
			return k;
	return -1;
}

static int cfg_check_passphrase_pair(struct cfg_loader *ld,
				     const config_setting_t *group)
{
	const config_setting_t *f, *e;

	f = config_setting_get_member(group, "key_passphrase_file");
	e = config_setting_get_member(group, "key_passphrase_env");
	if (!f || !e)
		return 0;
	if (config_setting_source_line(e) < config_setting_source_line(f))
		e = f;
	return cfg_setting_fail(ld, e,
				"key_passphrase_file and key_passphrase_env "
				"are both set; keep one");
}

/* Apply every key of a `defaults` or endpoint group (what: its name for
   messages); an endpoint's `match` is the caller's. */
static int cfg_apply_group(struct cfg_loader *ld, struct cfg_layer *ly,
			   const config_setting_t *group, const char *what)
{
	const config_setting_t *s;
	struct cfg_src src;
	const char *name;
	int i, k, n = config_setting_length(group);

	if (cfg_check_passphrase_pair(ld, group) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(group, (unsigned)i);
		name = s ? config_setting_name(s) : NULL;
		if (!name)
			continue;
		if (strcmp(what, "endpoint") == 0 && strcmp(name, "match") == 0)
			continue;
		k = cfg_key_lookup(name);
		if (k < 0) {
			cfg_src_setting(ld, s, &src);
			return cfg_fail(ld, &src.where,
					"unknown key '%s' in %s", name, what);
		}
		if (cfg_apply_setting(ld, ly, k, s) < 0)
			return -1;
	}
	return 0;
}

/* The origins the TLS layer needs, from the layer's table. */
static void cfg_publish_where(struct cfg_tls *t, const struct cfg_where *w)
{
	t->w_ca = t->ca_file ? w[CK_CA_FILE] : w[CK_CA_PATH];
	t->w_cert = w[CK_CERT_FILE];
	t->w_key = w[CK_KEY_FILE];
	t->w_crl = w[CK_CRL_FILE];
	t->w_ciphers = w[CK_CIPHERS];
	t->w_ciphersuites = w[CK_CIPHERSUITES];
	t->w_groups = w[CK_GROUPS];
	t->w_ip_in_cn = w[CK_VERIFY_IP_IN_CN];
}

/* Checks that combine keys, on an endpoint's effective settings. */
static int cfg_check_endpoint(struct cfg_loader *ld,
			      const struct cfg_endpoint *ep,
			      const struct cfg_where *w)
{
	const struct cfg_tls *t = &ep->tls;

	if (t->verify == CFG_VERIFY_NONE && !t->insecure)
		return cfg_fail(ld, &w[CK_VERIFY],
				"verify \"none\" requires insecure = true "
				"(endpoint '%s')",
				ep->match_text);
	if (t->cert_file && !t->key_file)
		return cfg_fail(ld, &w[CK_CERT_FILE],
				"cert_file is set but key_file is not "
				"(endpoint '%s')",
				ep->match_text);
	if (t->key_file && !t->cert_file)
		return cfg_fail(ld, &w[CK_KEY_FILE],
				"key_file is set but cert_file is not "
				"(endpoint '%s')",
				ep->match_text);
	if (t->min_protocol && t->max_protocol &&
	    t->min_protocol > t->max_protocol)
		return cfg_fail(ld, &w[CK_MAX_PROTOCOL],
				"max_protocol %s is below min_protocol %s "
				"(endpoint '%s')",
				cfg_protocol_name(t->max_protocol),
				cfg_protocol_name(t->min_protocol),
				ep->match_text);
	return 0;
}

/* Append an endpoint matching `text` (from msrc) with the defaults,
   placed at `where`; w gets the defaults' origins.  Returns the endpoint,
   or NULL with the error set (the endpoint is then in cfg, to be freed). */
static struct cfg_endpoint *cfg_add_endpoint(struct cfg_loader *ld,
					     const char *text,
					     const struct cfg_src *msrc,
					     const struct cfg_where *where,
					     struct cfg_where *w)
{
	struct shim_config *cfg = ld->cfg;
	struct cfg_endpoint *ep;
	char why[CFG_WHY_MAX];

	ep = realloc(cfg->endpoints, (cfg->nendpoints + 1) * sizeof(*ep));
	if (!ep) {
		cfg_oom(ld);
		return NULL;
	}
	cfg->endpoints = ep;
	ep += cfg->nendpoints++;
	memset(ep, 0, sizeof(*ep));
	ep->where = *where;
	memcpy(w, ld->dw, sizeof(ld->dw));
	if (cfg_tls_copy(&ep->tls, &cfg->defaults) < 0 ||
	    !(ep->match_text = strdup(text))) {
		cfg_oom(ld);
		return NULL;
	}
	if (match_parse(text, &ep->match, why, sizeof(why)) < 0) {
		cfg_value_fail(ld, msrc, "match", "'%s': %s", text, why);
		return NULL;
	}
	return ep;
}

static int cfg_file_endpoint(struct cfg_loader *ld,
			     const config_setting_t *group)
{
	struct cfg_where w[CK_COUNT];
	struct cfg_layer ly = { NULL, w };
	const config_setting_t *m;
	struct cfg_endpoint *ep;
	struct cfg_src msrc, gsrc;

	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return cfg_setting_fail(ld, group,
					"each entry of endpoints must be a "
					"group { match = \"HOST:PORT\"; ... }");
	m = config_setting_get_member(group, "match");
	if (!m)
		return cfg_setting_fail(ld, group,
					"endpoint has no 'match' key");
	cfg_src_setting(ld, m, &msrc);
	if (config_setting_type(m) != CONFIG_TYPE_STRING)
		return cfg_value_fail(ld, &msrc, "match", "must be a string");
	cfg_src_setting(ld, group, &gsrc);
	ep = cfg_add_endpoint(ld, config_setting_get_string(m), &msrc,
			      &gsrc.where, w);
	if (!ep)
		return -1;
	ly.tls = &ep->tls;
	if (cfg_apply_group(ld, &ly, group, "endpoint") < 0 ||
	    cfg_check_endpoint(ld, ep, w) < 0)
		return -1;
	cfg_publish_where(&ep->tls, w);
	return 0;
}

static int cfg_file_endpoints(struct cfg_loader *ld,
			      const config_setting_t *list)
{
	int i, n;

	if (!list)
		return 0;
	n = config_setting_length(list);
	if (config_setting_type(list) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(list) == CONFIG_TYPE_ARRAY && n == 0))
		return cfg_setting_fail(ld, list,
					"endpoints must be a list: endpoints "
					"= ( { match = \"HOST:PORT\"; }, ... );");
	for (i = 0; i < n; i++)
		if (cfg_file_endpoint(ld, config_setting_get_elem(
						  list, (unsigned)i)) < 0)
			return -1;
	return 0;
}

static int cfg_env_endpoint(struct cfg_loader *ld, const char *text,
			    const struct cfg_src *src)
{
	struct cfg_where w[CK_COUNT];
	struct cfg_endpoint *ep = cfg_add_endpoint(ld, text, src, &src->where,
						   w);

	if (!ep || cfg_check_endpoint(ld, ep, w) < 0)
		return -1;
	cfg_publish_where(&ep->tls, w);
	return 0;
}

/* REDIS_TLS_ENDPOINTS: comma-separated match specs. */
static int cfg_env_endpoints(struct cfg_loader *ld)
{
	const char *v = cfg_env(ld, "REDIS_TLS_ENDPOINTS");
	char *copy, *item, *next;
	struct cfg_src src;
	int rc = 0, i = 1;

	if (!v)
		return 0;
	cfg_src_env(ld, "REDIS_TLS_ENDPOINTS", &src);
	copy = strdup(v);
	if (!copy)
		return cfg_oom(ld);
	for (item = copy; item && rc == 0; item = next, i++) {
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		item = cfg_trim(item);
		if (item[0] == '\0')
			rc = cfg_fail(ld, &src.where,
				      "empty match spec (item %d)", i);
		else
			rc = cfg_env_endpoint(ld, item, &src);
	}
	free(copy);
	return rc;
}

/* ---- the environment over the defaults -------------------------------- */

static int cfg_env_defaults(struct cfg_loader *ld)
{
	struct cfg_layer ly = { &ld->cfg->defaults, ld->dw };
	struct cfg_src src;
	const char *v;
	int k;

	if (cfg_env(ld, "REDIS_TLS_KEY_PASSPHRASE_FILE") &&
	    cfg_env(ld, "REDIS_TLS_KEY_PASSPHRASE_ENV")) {
		cfg_src_env(ld, "REDIS_TLS_KEY_PASSPHRASE_ENV", &src);
		return cfg_fail(ld, &src.where,
				"set only one of REDIS_TLS_KEY_PASSPHRASE_FILE "
				"and REDIS_TLS_KEY_PASSPHRASE_ENV");
	}
	for (k = 0; k < CK_COUNT; k++) {
		v = cfg_env(ld, cfg_keys[k].env);
		if (!v)
			continue;
		cfg_src_env(ld, cfg_keys[k].env, &src);
		if (cfg_apply_text(ld, &ly, k, v, &src) < 0)
			return -1;
	}
	return 0;
}

/* ---- log -------------------------------------------------------------- */

static int cfg_set_log_level(struct cfg_loader *ld, const char *v,
			     const struct cfg_src *src)
{
	int level = log_level_parse(v);

	if (level < 0)
		return cfg_value_fail(ld, src, "level",
				      "'%s': must be one of " LOG_LEVEL_CHOICES,
				      v);
	free(ld->cfg->log_level);
	ld->cfg->log_level = strdup(log_level_name(level));
	return ld->cfg->log_level ? 0 : cfg_oom(ld);
}

/* A log file path resolves like any other; stderr and syslog are words. */
static int cfg_set_log_target(struct cfg_loader *ld, const char *v,
			      const struct cfg_src *src)
{
	char path[PATH_MAX];

	if (v[0] == '\0')
		return cfg_value_fail(ld, src, "target", "is empty");
	if (strcmp(v, "stderr") != 0 && strcmp(v, "syslog") != 0) {
		if (cfg_resolve(ld, src, "target", v, path, sizeof(path)) < 0)
			return -1;
		v = path;
	}
	free(ld->cfg->log_target);
	ld->cfg->log_target = strdup(v);
	return ld->cfg->log_target ? 0 : cfg_oom(ld);
}

static int cfg_file_log_key(struct cfg_loader *ld, const config_setting_t *s)
{
	const char *name = config_setting_name(s);
	struct cfg_src src;
	int level;

	cfg_src_setting(ld, s, &src);
	level = name && strcmp(name, "level") == 0;
	if (!name || (!level && strcmp(name, "target") != 0))
		return cfg_fail(ld, &src.where, "unknown key '%s' in log",
				name ? name : "?");
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_value_fail(ld, &src, name, "must be a string");
	if (level)
		return cfg_set_log_level(ld, config_setting_get_string(s),
					 &src);
	return cfg_set_log_target(ld, config_setting_get_string(s), &src);
}

static int cfg_file_log(struct cfg_loader *ld, const config_setting_t *log)
{
	int i, n = config_setting_length(log);

	if (config_setting_type(log) != CONFIG_TYPE_GROUP)
		return cfg_setting_fail(ld, log,
					"log must be a group: log = { level = "
					"\"notice\"; target = \"stderr\"; };");
	for (i = 0; i < n; i++)
		if (cfg_file_log_key(ld, config_setting_get_elem(
						 log, (unsigned)i)) < 0)
			return -1;
	return 0;
}

static int cfg_env_log(struct cfg_loader *ld)
{
	struct cfg_src src;
	const char *v;

	v = cfg_env(ld, "REDIS_TLS_LOG_LEVEL");
	cfg_src_env(ld, "REDIS_TLS_LOG_LEVEL", &src);
	if (v && cfg_set_log_level(ld, v, &src) < 0)
		return -1;
	v = cfg_env(ld, "REDIS_TLS_LOG_TARGET");
	cfg_src_env(ld, "REDIS_TLS_LOG_TARGET", &src);
	if (v && cfg_set_log_target(ld, v, &src) < 0)
		return -1;
	return 0;
}

/* REDIS_TLS_EPOLL_DELETE is the switchboard's (ready_adapt.h), read there
   at the first registration of a TLS socket with epoll: checked here, when
   the rest is, so that a typo is a clear error, not a way silently not
   taken. */
static int cfg_env_epoll(struct cfg_loader *ld)
{
	const char *v = cfg_env(ld, "REDIS_TLS_EPOLL_DELETE");
	struct cfg_src src;

	if (v == NULL || strcmp(v, "auto") == 0 || strcmp(v, "keep") == 0 ||
	    strcmp(v, "pass") == 0)
		return 0;
	cfg_src_env(ld, "REDIS_TLS_EPOLL_DELETE", &src);
	return cfg_value_fail(ld, &src, "epoll_delete",
			      "'%s': must be auto, keep or pass", v);
}

/* ---- the file --------------------------------------------------------- */

static int cfg_file_version(struct cfg_loader *ld, const config_setting_t *s)
{
	int type = config_setting_type(s);
	struct cfg_src src;

	cfg_src_setting(ld, s, &src);
	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return cfg_fail(ld, &src.where, "version must be an integer");
	if (config_setting_get_int64(s) != 1)
		return cfg_fail(ld, &src.where,
				"unsupported version %lld (this shim reads "
				"version 1)",
				config_setting_get_int64(s));
	return 0;
}

static int cfg_file_defaults(struct cfg_loader *ld,
			     const config_setting_t *s)
{
	struct cfg_layer ly = { &ld->cfg->defaults, ld->dw };

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return cfg_setting_fail(ld, s,
					"defaults must be a group: defaults = "
					"{ ... };");
	return cfg_apply_group(ld, &ly, s, "defaults");
}

/* Top level: version, log and defaults now; endpoints (returned in *eps)
   after the environment has been laid over the defaults. */
static int cfg_file_root(struct cfg_loader *ld, const config_t *lc,
			 const config_setting_t **eps)
{
	const config_setting_t *root = config_root_setting(lc), *s;
	struct cfg_src src;
	const char *name;
	int i, rc, n = config_setting_length(root);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		name = config_setting_name(s);
		if (strcmp(name, "version") == 0)
			rc = cfg_file_version(ld, s);
		else if (strcmp(name, "log") == 0)
			rc = cfg_file_log(ld, s);
		else if (strcmp(name, "defaults") == 0)
			rc = cfg_file_defaults(ld, s);
		else if (strcmp(name, "endpoints") == 0)
			rc = (*eps = s, 0);
		else {
			cfg_src_setting(ld, s, &src);
			rc = cfg_fail(ld, &src.where,
				      "unknown top-level key '%s' (expected "
				      "version, log, defaults, endpoints)",
				      name);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int cfg_syntax_fail(struct cfg_loader *ld, const config_t *lc)
{
	const char *file = config_error_file(lc);
	const char *text = config_error_text(lc);
	struct cfg_where w;

	if (!text)
		text = "unknown error";
	cfg_where_file(ld, &w, file, config_error_line(lc));
	if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
		return cfg_fail(ld, &w, "cannot read: %s", text);
	if (strncmp(text, "syntax error", 12) == 0)
		return cfg_fail(ld, &w, "%s", text);
	return cfg_fail(ld, &w, "syntax error: %s", text);
}

static const char *cfg_system_path = CONFIG_SYSTEM_FILE;

void config_system_file(const char *path)
{
	cfg_system_path = path;
}

/* The file named by REDIS_TLS_CONFIG; unset, the system-wide one if it
   exists (any other answer than "no such file" is the loader's to report:
   an unreadable system file fails closed).  NULL: no file. */
static const char *cfg_which_file(struct cfg_loader *ld, struct cfg_src *src)
{
	const char *v = cfg_env(ld, "REDIS_TLS_CONFIG");
	struct stat st;

	if (v) {
		cfg_src_env(ld, "REDIS_TLS_CONFIG", src);
		return v;
	}
	if (cfg_system_path == NULL ||
	    (lstat(cfg_system_path, &st) < 0 && errno == ENOENT))
		return NULL;
	memset(src, 0, sizeof(*src));
	snprintf(src->where.src, sizeof(src->where.src),
		 "system-wide configuration");
	src->from_env = 1;
	src->base = "/";
	return cfg_system_path;
}

/* Path of the file from REDIS_TLS_CONFIG (or the system-wide one), made
   absolute and checked; NULL in cfg->path when there is none. */
static int cfg_locate_file(struct cfg_loader *ld)
{
	char path[PATH_MAX];
	struct cfg_src src;
	const char *v = cfg_which_file(ld, &src);
	char *slash;

	if (!v)
		return 0;
	if (cfg_resolve(ld, &src, "config", v, path, sizeof(path)) < 0 ||
	    cfg_check_path(ld, &src, "config", path, 0) < 0)
		return -1;
	ld->cfg->path = strdup(path);
	if (!ld->cfg->path)
		return cfg_oom(ld);
	slash = strrchr(path, '/');
	*(slash == path ? slash + 1 : slash) = '\0';
	snprintf(ld->dir, sizeof(ld->dir), "%s", path);
	return 0;
}

/*
 * libconfig 1.5 exit()s the whole program when an @include names a folder
 * or nothing (its scanner's fatal error).  So every @include is checked
 * first, recursively, for a readable regular file.  (An @include inside a
 * block comment is checked too: harmless.)
 */
#define CFG_INCLUDE_DEPTH 10

static int cfg_check_includes(struct cfg_loader *ld, const char *file,
			      int depth);

static int cfg_check_include_line(struct cfg_loader *ld, const char *file,
				  int lineno, const char *p, int depth)
{
	char name[PATH_MAX], path[PATH_MAX];
	struct cfg_where w;
	struct stat st;
	size_t n = 0;

	p += strlen(CFG_INCLUDE_WORD);
	p += strspn(p, " \t");
	if (*p != '"')
		return 0; /* libconfig reports the syntax error itself */
	for (p++; *p && *p != '"' && n + 1 < sizeof(name); p++)
		name[n++] = *p == '\\' && p[1] ? *++p : *p;
	name[n] = '\0';
	cfg_where_file(ld, &w, file, lineno);
	if ((name[0] == '/' ? snprintf(path, sizeof(path), "%s", name)
			    : snprintf(path, sizeof(path), "%.2000s/%.2000s",
				       ld->dir, name)) >= (int)sizeof(path))
		return cfg_fail(ld, &w, "@include: path too long");
	if (name[0] == '\0' || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    access(path, R_OK) != 0)
		return cfg_fail(ld, &w, "@include \"%s\": not a readable "
				"regular file", name);
	if (depth >= CFG_INCLUDE_DEPTH)
		return cfg_fail(ld, &w, "@include nested more than %d deep",
				CFG_INCLUDE_DEPTH);
	return cfg_check_includes(ld, path, depth + 1);
}

static int cfg_check_includes(struct cfg_loader *ld, const char *file,
			      int depth)
{
	char line[CFG_LINE_MAX];
	int lineno = 0, rc = 0;
	FILE *f = fopen(file, "re");

	if (f == NULL)
		return 0; /* reported by libconfig with its own words */
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		const char *p = line + strspn(line, " \t");

		lineno++;
		if (strncmp(p, CFG_INCLUDE_WORD, strlen(CFG_INCLUDE_WORD)) == 0)
			rc = cfg_check_include_line(ld, file, lineno, p, depth);
	}
	fclose(f);
	return rc;
}

static int cfg_load_all(struct cfg_loader *ld, config_t *lc)
{
	const config_setting_t *eps = NULL;

	if (cfg_locate_file(ld) < 0)
		return -1;
	if (ld->cfg->path) {
		config_set_include_dir(lc, ld->dir);
		if (cfg_check_includes(ld, ld->cfg->path, 0) < 0)
			return -1;
		if (config_read_file(lc, ld->cfg->path) != CONFIG_TRUE)
			return cfg_syntax_fail(ld, lc);
		if (cfg_file_root(ld, lc, &eps) < 0)
			return -1;
	}
	if (cfg_env_log(ld) < 0 || cfg_env_epoll(ld) < 0 || cfg_env_defaults(ld) < 0)
		return -1;
	cfg_publish_where(&ld->cfg->defaults, ld->dw);
	if (cfg_file_endpoints(ld, eps) < 0 || cfg_env_endpoints(ld) < 0)
		return -1;
	if (ld->cfg->nendpoints == 0)
		return cfg_fail(ld, NULL,
				"no endpoints configured (set REDIS_TLS_CONFIG "
				"or REDIS_TLS_ENDPOINTS, or write "
				CONFIG_SYSTEM_FILE ")");
	return 0;
}

static const char *cfg_real_getenv(const char *name)
{
	return getenv(name);
}

int config_load(struct shim_config *cfg, cfg_getenv_fn get, char *err,
		size_t errlen)
{
	struct cfg_loader *ld;
	config_t lc;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg_tls_init(&cfg->defaults);
	if (err && errlen > 0)
		err[0] = '\0';
	/* Large (paths and origins): keep it off the caller's stack, which
	   may be a small thread stack inside connect(). */
	ld = calloc(1, sizeof(*ld));
	if (!ld) {
		if (err && errlen > 0)
			snprintf(err, errlen, "out of memory while loading "
					      "configuration");
		return -1;
	}
	ld->cfg = cfg;
	ld->get = get ? get : cfg_real_getenv;
	ld->err = err;
	ld->errlen = errlen;
	if (!getcwd(ld->cwd, sizeof(ld->cwd)))
		ld->cwd[0] = '\0';
	config_init(&lc);
	rc = cfg_load_all(ld, &lc);
	config_destroy(&lc);
	free(ld);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

void config_free(struct shim_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nendpoints; i++) {
		free(cfg->endpoints[i].match_text);
		cfg_tls_free(&cfg->endpoints[i].tls);
	}
	free(cfg->endpoints);
	cfg_tls_free(&cfg->defaults);
	free(cfg->path);
	free(cfg->log_level);
	free(cfg->log_target);
	memset(cfg, 0, sizeof(*cfg));
}
