/*
 * test_config.c - loading the configuration: a full file, inheritance,
 * the environment over the file, relative paths, REDIS_TLS_ENDPOINTS, and
 * every class of error with the exact "FILE:LINE: ..." a user reads.
 *
 * Each test gets a fresh mkdtemp() folder with fixture files (their
 * contents do not matter here: the TLS layer parses them) and a fake
 * environment; the folder is removed afterwards.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* sha256("") in base64: a well-formed pin */
#define PIN1 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN2 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

/* ---- fixture ----------------------------------------------------------- */

struct fx {
	char dir[128];        /* the mkdtemp() folder */
	char conf[PATH_MAX]; /* dir/redis-tls.conf */
	char cwd[PATH_MAX];  /* to restore after tests that chdir */
	char err[512];
	struct shim_config cfg;
};

/* ---- the fake environment ---------------------------------------------- */

#define ENV_MAX 32

static struct {
	char name[64];
	char value[PATH_MAX + 64];
} env_vars[ENV_MAX];
static size_t env_n;

static const char *fake_getenv(const char *name)
{
	size_t i;

	for (i = 0; i < env_n; i++)
		if (strcmp(env_vars[i].name, name) == 0)
			return env_vars[i].value;
	return NULL;
}

__attribute__((format(printf, 2, 3))) static void
env_set(const char *name, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	for (i = 0; i < env_n && strcmp(env_vars[i].name, name) != 0; i++)
		;
	assert_true(i < ENV_MAX);
	if (i == env_n)
		env_n++;
	snprintf(env_vars[i].name, sizeof(env_vars[i].name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(env_vars[i].value, sizeof(env_vars[i].value), fmt, ap);
	va_end(ap);
}

/* ---- files ------------------------------------------------------------- */

static void write_file(const struct fx *f, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void make_dir(const struct fx *f, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* The config file, and REDIS_TLS_CONFIG pointing at it. */
static void write_conf(struct fx *f, const char *text)
{
	write_file(f, "redis-tls.conf", text);
	env_set("REDIS_TLS_CONFIG", "%s", f->conf);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(f->dir) || !getcwd(f->cwd, sizeof(f->cwd))) {
		free(f);
		return -1;
	}
	snprintf(f->conf, sizeof(f->conf), "%s/redis-tls.conf", f->dir);
	env_n = 0;
	config_system_file(NULL); /* the host's own is not the test's */
	write_file(f, "ca.pem", "ca\n");
	write_file(f, "other-ca.pem", "other ca\n");
	write_file(f, "client.crt", "cert\n");
	write_file(f, "client.key", "key\n");
	write_file(f, "crl.pem", "crl\n");
	write_file(f, "pass.txt", "secret\n");
	make_dir(f, "certs");
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;

	config_free(&f->cfg);
	rc = chdir(f->cwd);
	rc |= nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc == 0 ? 0 : -1;
}

/* ---- loading ----------------------------------------------------------- */

static void load_ok(struct fx *f)
{
	if (config_load(&f->cfg, fake_getenv, f->err, sizeof(f->err)) != 0)
		fail_msg("config_load failed: %s", f->err);
}

/* Loading must fail with exactly this message ("%D" style: the fixture
   folder is passed as needed by the caller's format). */
__attribute__((format(printf, 2, 3))) static void
load_fails(struct fx *f, const char *fmt, ...)
{
	char want[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	if (config_load(&f->cfg, fake_getenv, f->err, sizeof(f->err)) != -1)
		fail_msg("config_load succeeded; expected: %s", want);
	assert_string_equal(f->err, want);
	/* left freed */
	assert_null(f->cfg.endpoints);
	assert_int_equal(f->cfg.nendpoints, 0);
	assert_null(f->cfg.path);
	assert_null(f->cfg.defaults.ca_file);
}

static const char *where(const struct cfg_where *w)
{
	static char buf[2][400];
	static int i;

	i ^= 1;
	return config_where_format(w, buf[i], sizeof(buf[i]));
}

static const char *in_dir(const struct fx *f, const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", f->dir, rel);
	return buf[i];
}

/* ---- valid configurations ---------------------------------------------- */

static const char full_conf[] =
	"version = 1;\n"                                            /* 1 */
	"log = { level = \"info\"; target = \"syslog\"; };\n"       /* 2 */
	"defaults = {\n"                                            /* 3 */
	"  ca_file = \"ca.pem\";\n"                                 /* 4 */
	"  ca_path = \"certs\";\n"                                  /* 5 */
	"  crl_file = \"crl.pem\";\n"                               /* 6 */
	"  verify = \"full\";\n"                                    /* 7 */
	"  min_protocol = \"TLSv1.2\";\n"                           /* 8 */
	"  max_protocol = \"TLSv1.3\";\n"                           /* 9 */
	"  ciphers = \"HIGH:!aNULL\";\n"                            /* 10 */
	"  ciphersuites = \"TLS_AES_256_GCM_SHA384\";\n"            /* 11 */
	"  groups = \"X25519:P-256\";\n"                            /* 12 */
	"  handshake_timeout_ms = 2500;\n"                          /* 13 */
	"  pin_sha256 = [\"" PIN1 "\", \"" PIN2 "\"];\n"            /* 14 */
	"};\n"                                                      /* 15 */
	"endpoints = (\n"                                           /* 16 */
	"  { match = \"redis-16257.c1.example-cloud.com:16257\";\n" /* 17 */
	"    cert_file = \"client.crt\"; key_file = \"client.key\";\n" /* 18 */
	"    key_passphrase_file = \"pass.txt\"; },\n"              /* 19 */
	"  { match = \"*.internal.example.com:6379\";\n"            /* 20 */
	"    insecure = true; verify = \"none\"; },\n"              /* 21 */
	"  { match = \"10.1.0.0/16:10000-10099\";\n"                /* 22 */
	"    verify_name = \"cluster.example.com\";\n"              /* 23 */
	"    sni = \"Cluster.Example.com.\"; }\n"                   /* 24 */
	");\n";                                                     /* 25 */

static void test_full_file_is_loaded(void **state)
{
	struct fx *f = *state;
	const struct shim_config *c = &f->cfg;
	const struct cfg_tls *d = &c->defaults;

	write_conf(f, full_conf);
	load_ok(f);
	assert_string_equal(c->path, f->conf);
	assert_string_equal(c->log_level, "info");
	assert_string_equal(c->log_target, "syslog");
	assert_string_equal(d->ca_file, in_dir(f, "ca.pem"));
	assert_string_equal(d->ca_path, in_dir(f, "certs"));
	assert_string_equal(d->crl_file, in_dir(f, "crl.pem"));
	assert_int_equal(d->verify, CFG_VERIFY_FULL);
	assert_int_equal(d->min_protocol, CFG_TLS_1_2);
	assert_int_equal(d->max_protocol, CFG_TLS_1_3);
	assert_string_equal(d->ciphers, "HIGH:!aNULL");
	assert_string_equal(d->ciphersuites, "TLS_AES_256_GCM_SHA384");
	assert_string_equal(d->groups, "X25519:P-256");
	assert_int_equal(d->handshake_timeout_ms, 2500);
	assert_int_equal(d->npins, 2);
	assert_string_equal(d->pin_sha256[0], PIN1);
	assert_string_equal(d->pin_sha256[1], PIN2);
	assert_null(d->cert_file);
	assert_int_equal(c->nendpoints, 3);
}

static void test_full_file_endpoints(void **state)
{
	struct fx *f = *state;
	const struct cfg_endpoint *e;

	write_conf(f, full_conf);
	load_ok(f);
	e = &f->cfg.endpoints[0];
	assert_string_equal(e->match_text,
			    "redis-16257.c1.example-cloud.com:16257");
	assert_int_equal(e->match.kind, MATCH_HOST_NAME);
	assert_int_equal(e->match.port_lo, 16257);
	assert_string_equal(e->tls.cert_file, in_dir(f, "client.crt"));
	assert_string_equal(e->tls.key_file, in_dir(f, "client.key"));
	assert_string_equal(e->tls.key_passphrase_file, in_dir(f, "pass.txt"));
	assert_string_equal(where(&e->where), in_dir(f, "redis-tls.conf:17"));

	e = &f->cfg.endpoints[1];
	assert_int_equal(e->match.kind, MATCH_HOST_WILDCARD);
	assert_int_equal(e->tls.verify, CFG_VERIFY_NONE);
	assert_int_equal(e->tls.insecure, 1);
	assert_null(e->tls.cert_file);

	e = &f->cfg.endpoints[2];
	assert_int_equal(e->match.kind, MATCH_HOST_CIDR);
	assert_int_equal(e->match.port_hi, 10099);
	assert_string_equal(e->tls.verify_name, "cluster.example.com");
	assert_string_equal(e->tls.sni, "Cluster.Example.com");
}

static void test_endpoints_inherit_defaults(void **state)
{
	struct fx *f = *state;
	const struct cfg_tls *t;

	write_conf(f, full_conf);
	load_ok(f);
	t = &f->cfg.endpoints[2].tls;
	assert_string_equal(t->ca_file, in_dir(f, "ca.pem"));
	assert_string_equal(t->ca_path, in_dir(f, "certs"));
	assert_string_equal(t->crl_file, in_dir(f, "crl.pem"));
	assert_int_equal(t->min_protocol, CFG_TLS_1_2);
	assert_string_equal(t->ciphers, "HIGH:!aNULL");
	assert_int_equal(t->handshake_timeout_ms, 2500);
	assert_int_equal(t->npins, 2);
	assert_string_equal(t->pin_sha256[1], PIN2);
	/* separate copies: freeing one endpoint cannot free another's */
	assert_ptr_not_equal(t->ca_file, f->cfg.defaults.ca_file);
}

static void test_origins_are_recorded_for_tls_errors(void **state)
{
	struct fx *f = *state;
	const struct cfg_tls *t;

	write_conf(f, full_conf);
	load_ok(f);
	t = &f->cfg.endpoints[0].tls;
	/* the TLS layer reports "FILE:18: key does not match certificate" */
	assert_string_equal(where(&t->w_cert), in_dir(f, "redis-tls.conf:18"));
	assert_string_equal(where(&t->w_key), in_dir(f, "redis-tls.conf:18"));
	assert_string_equal(where(&t->w_ca), in_dir(f, "redis-tls.conf:4"));
	assert_string_equal(where(&t->w_crl), in_dir(f, "redis-tls.conf:6"));
	assert_string_equal(where(&t->w_ciphers),
			    in_dir(f, "redis-tls.conf:10"));
	assert_string_equal(where(&t->w_ciphersuites),
			    in_dir(f, "redis-tls.conf:11"));
	assert_string_equal(where(&t->w_groups),
			    in_dir(f, "redis-tls.conf:12"));
	assert_string_equal(where(&f->cfg.defaults.w_ca),
			    in_dir(f, "redis-tls.conf:4"));
}

static void test_endpoint_key_overrides_default(void **state)
{
	struct fx *f = *state;
	const struct cfg_endpoint *e;

	write_conf(f, "defaults = { ca_file = \"ca.pem\";\n"
		      "  handshake_timeout_ms = 500; };\n"
		      "endpoints = ( { match = \"a:1\";\n"
		      "  ca_file = \"other-ca.pem\"; handshake_timeout_ms = 7; },\n"
		      "  { match = \"b:2\"; } );\n");
	load_ok(f);
	e = f->cfg.endpoints;
	assert_string_equal(e[0].tls.ca_file, in_dir(f, "other-ca.pem"));
	assert_int_equal(e[0].tls.handshake_timeout_ms, 7);
	assert_string_equal(where(&e[0].tls.w_ca),
			    in_dir(f, "redis-tls.conf:4"));
	assert_string_equal(e[1].tls.ca_file, in_dir(f, "ca.pem"));
	assert_int_equal(e[1].tls.handshake_timeout_ms, 500);
	assert_string_equal(where(&e[1].tls.w_ca),
			    in_dir(f, "redis-tls.conf:1"));
}

static void test_builtin_defaults(void **state)
{
	struct fx *f = *state;
	const struct cfg_tls *t;

	env_set("REDIS_TLS_ENDPOINTS", "redis:6379");
	load_ok(f);
	assert_null(f->cfg.path);
	assert_null(f->cfg.log_level);
	assert_null(f->cfg.log_target);
	assert_int_equal(f->cfg.nendpoints, 1);
	t = &f->cfg.endpoints[0].tls;
	assert_int_equal(t->verify, CFG_VERIFY_FULL);
	assert_int_equal(t->insecure, 0);
	assert_int_equal(t->handshake_timeout_ms, 10000);
	assert_int_equal(t->min_protocol, 0);
	assert_int_equal(t->max_protocol, 0);
	assert_null(t->ca_file);
	assert_null(t->ca_path);
	assert_null(t->cert_file);
	assert_null(t->sni);
	assert_int_equal(t->npins, 0);
	assert_string_equal(t->w_ca.src, "");
}

static void test_version_is_optional(void **state)
{
	struct fx *f = *state;

	write_conf(f, "endpoints = ( { match = \"a:1\"; } );\n");
	load_ok(f);
	assert_int_equal(f->cfg.nendpoints, 1);
}

static void test_single_pin_string_and_empty_list(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = { pin_sha256 = \"" PIN1 "\"; };\n"
		      "endpoints = ( { match = \"a:1\"; },\n"
		      "  { match = \"b:1\"; pin_sha256 = []; } );\n");
	load_ok(f);
	assert_int_equal(f->cfg.endpoints[0].tls.npins, 1);
	assert_string_equal(f->cfg.endpoints[0].tls.pin_sha256[0], PIN1);
	/* an endpoint can drop the inherited pins */
	assert_int_equal(f->cfg.endpoints[1].tls.npins, 0);
}

static void test_passphrase_sources_replace_each_other(void **state)
{
	struct fx *f = *state;
	const struct cfg_tls *t;

	env_set("MY_KEY_PASS", "s3cret");
	write_conf(f, "defaults = { key_passphrase_file = \"pass.txt\"; };\n"
		      "endpoints = ( { match = \"a:1\";\n"
		      "  key_passphrase_env = \"MY_KEY_PASS\"; } );\n");
	load_ok(f);
	t = &f->cfg.endpoints[0].tls;
	assert_string_equal(t->key_passphrase_env, "MY_KEY_PASS");
	assert_null(t->key_passphrase_file);
	assert_string_equal(f->cfg.defaults.key_passphrase_file,
			    in_dir(f, "pass.txt"));
}

static void test_verify_name_accepts_ip_literals(void **state)
{
	struct fx *f = *state;

	write_conf(f, "endpoints = ( { match = \"a:1\"; verify_name = \"10.0.0.1\"; },\n"
		      "  { match = \"b:1\"; verify_name = \"2001:db8::1\"; } );\n");
	load_ok(f);
	assert_string_equal(f->cfg.endpoints[0].tls.verify_name, "10.0.0.1");
	assert_string_equal(f->cfg.endpoints[1].tls.verify_name, "2001:db8::1");
}

static void test_log_target_file_resolves_against_config(void **state)
{
	struct fx *f = *state;

	write_conf(f, "log = { level = \"debug\"; target = \"logs/shim.log\"; };\n"
		      "endpoints = ( { match = \"a:1\"; } );\n");
	load_ok(f);
	assert_string_equal(f->cfg.log_level, "debug");
	assert_string_equal(f->cfg.log_target, in_dir(f, "logs/shim.log"));
}

static void test_include_reports_included_file(void **state)
{
	struct fx *f = *state;

	write_file(f, "inc.conf", "defaults = {\n  cafile = \"ca.pem\";\n};\n");
	write_conf(f, "@include \"inc.conf\"\n"
		      "endpoints = ( { match = \"a:1\"; } );\n");
	load_fails(f, "%s:2: unknown key 'cafile' in defaults",
		   in_dir(f, "inc.conf"));
}

/* ---- relative paths ---------------------------------------------------- */

static void test_relative_paths_resolve_against_file_folder(void **state)
{
	struct fx *f = *state;

	make_dir(f, "etc");
	make_dir(f, "etc/tls");
	write_file(f, "etc/tls/ca.pem", "ca\n");
	write_file(f, "etc/app.conf",
		   "defaults = { ca_file = \"tls/ca.pem\"; crl_file = \"../crl.pem\"; };\n"
		   "endpoints = ( { match = \"a:1\"; } );\n");
	/* REDIS_TLS_CONFIG itself is relative to the working directory */
	assert_int_equal(chdir(f->dir), 0);
	env_set("REDIS_TLS_CONFIG", "etc/app.conf");
	load_ok(f);
	assert_string_equal(f->cfg.path, in_dir(f, "etc/app.conf"));
	assert_string_equal(f->cfg.defaults.ca_file, in_dir(f, "etc/tls/ca.pem"));
	assert_string_equal(f->cfg.defaults.crl_file,
			    in_dir(f, "etc/../crl.pem"));
}

static void test_relative_env_paths_resolve_against_cwd(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chdir(f->dir), 0);
	env_set("REDIS_TLS_CA_FILE", "ca.pem");
	env_set("REDIS_TLS_CA_PATH", "./certs");
	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	load_ok(f);
	assert_string_equal(f->cfg.endpoints[0].tls.ca_file, in_dir(f, "ca.pem"));
	assert_string_equal(f->cfg.endpoints[0].tls.ca_path,
			    in_dir(f, "./certs"));
}

/* ---- the environment --------------------------------------------------- */

static void test_env_overrides_defaults_not_endpoint_keys(void **state)
{
	struct fx *f = *state;
	const struct cfg_endpoint *e;

	write_conf(f, "defaults = { ca_file = \"ca.pem\"; sni = \"file.example\"; };\n"
		      "endpoints = ( { match = \"a:1\"; },\n"
		      "  { match = \"b:1\"; ca_file = \"ca.pem\"; } );\n");
	env_set("REDIS_TLS_CA_FILE", "%s", in_dir(f, "other-ca.pem"));
	env_set("REDIS_TLS_SNI", "env.example");
	env_set("REDIS_TLS_ENDPOINTS", "c:1");
	load_ok(f);
	e = f->cfg.endpoints;
	assert_int_equal(f->cfg.nendpoints, 3);
	assert_string_equal(f->cfg.defaults.ca_file, in_dir(f, "other-ca.pem"));
	assert_string_equal(e[0].tls.ca_file, in_dir(f, "other-ca.pem"));
	assert_string_equal(where(&e[0].tls.w_ca),
			    "environment REDIS_TLS_CA_FILE");
	assert_string_equal(e[0].tls.sni, "env.example");
	/* the endpoint's own key wins over the environment */
	assert_string_equal(e[1].tls.ca_file, in_dir(f, "ca.pem"));
	assert_string_equal(where(&e[1].tls.w_ca),
			    in_dir(f, "redis-tls.conf:3"));
	/* endpoints from REDIS_TLS_ENDPOINTS take the defaults after env */
	assert_string_equal(e[2].match_text, "c:1");
	assert_string_equal(e[2].tls.ca_file, in_dir(f, "other-ca.pem"));
	assert_string_equal(where(&e[2].where), "environment REDIS_TLS_ENDPOINTS");
}

static void test_every_env_variable_applies(void **state)
{
	struct fx *f = *state;
	const struct cfg_tls *t;

	env_set("MY_PASS", "pw");
	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	env_set("REDIS_TLS_CA_FILE", "%s", in_dir(f, "ca.pem"));
	env_set("REDIS_TLS_CA_PATH", "%s", in_dir(f, "certs"));
	env_set("REDIS_TLS_CERT_FILE", "%s", in_dir(f, "client.crt"));
	env_set("REDIS_TLS_KEY_FILE", "%s", in_dir(f, "client.key"));
	env_set("REDIS_TLS_KEY_PASSPHRASE_ENV", "MY_PASS");
	env_set("REDIS_TLS_CRL_FILE", "%s", in_dir(f, "crl.pem"));
	env_set("REDIS_TLS_PIN_SHA256", " %s , %s ", PIN1, PIN2);
	env_set("REDIS_TLS_SNI", "sni.example.com");
	env_set("REDIS_TLS_VERIFY_NAME", "verify.example.com");
	env_set("REDIS_TLS_VERIFY_IP_IN_CN", "true");
	env_set("REDIS_TLS_VERIFY", "none");
	env_set("REDIS_TLS_INSECURE", "yes");
	env_set("REDIS_TLS_MIN_PROTOCOL", "TLSv1.1");
	env_set("REDIS_TLS_MAX_PROTOCOL", "TLSv1.2");
	env_set("REDIS_TLS_CIPHERS", "HIGH");
	env_set("REDIS_TLS_CIPHERSUITES", "TLS_AES_128_GCM_SHA256");
	env_set("REDIS_TLS_GROUPS", "X25519");
	env_set("REDIS_TLS_HANDSHAKE_TIMEOUT_MS", "1234");
	env_set("REDIS_TLS_LOG_LEVEL", "warning");
	env_set("REDIS_TLS_LOG_TARGET", "stderr");
	load_ok(f);
	t = &f->cfg.endpoints[0].tls;
	assert_string_equal(t->ca_file, in_dir(f, "ca.pem"));
	assert_string_equal(t->ca_path, in_dir(f, "certs"));
	assert_string_equal(t->cert_file, in_dir(f, "client.crt"));
	assert_string_equal(t->key_file, in_dir(f, "client.key"));
	assert_string_equal(t->key_passphrase_env, "MY_PASS");
	assert_string_equal(t->crl_file, in_dir(f, "crl.pem"));
	assert_int_equal(t->npins, 2);
	assert_string_equal(t->pin_sha256[1], PIN2);
	assert_string_equal(t->sni, "sni.example.com");
	assert_string_equal(t->verify_name, "verify.example.com");
	assert_int_equal(t->verify_ip_in_cn, 1);
	assert_int_equal(t->verify, CFG_VERIFY_NONE);
	assert_int_equal(t->insecure, 1);
	assert_int_equal(t->min_protocol, CFG_TLS_1_1);
	assert_int_equal(t->max_protocol, CFG_TLS_1_2);
	assert_string_equal(t->ciphers, "HIGH");
	assert_string_equal(t->ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_string_equal(t->groups, "X25519");
	assert_int_equal(t->handshake_timeout_ms, 1234);
	assert_string_equal(f->cfg.log_level, "warning");
	assert_string_equal(f->cfg.log_target, "stderr");
	assert_string_equal(where(&t->w_cert), "environment REDIS_TLS_CERT_FILE");
}

static void test_env_log_overrides_file_log(void **state)
{
	struct fx *f = *state;

	write_conf(f, "log = { level = \"info\"; target = \"syslog\"; };\n"
		      "endpoints = ( { match = \"a:1\"; } );\n");
	env_set("REDIS_TLS_LOG_LEVEL", "error");
	load_ok(f);
	assert_string_equal(f->cfg.log_level, "error");
	assert_string_equal(f->cfg.log_target, "syslog");
}

static void test_env_insecure_spellings(void **state)
{
	static const char *const yes[] = { "1", "true", "YES" };
	static const char *const no[] = { "0", "false", "no" };
	struct fx *f = *state;
	size_t i;

	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	for (i = 0; i < 3; i++) {
		env_set("REDIS_TLS_INSECURE", "%s", yes[i]);
		load_ok(f);
		assert_int_equal(f->cfg.endpoints[0].tls.insecure, 1);
		config_free(&f->cfg);
		env_set("REDIS_TLS_INSECURE", "%s", no[i]);
		load_ok(f);
		assert_int_equal(f->cfg.endpoints[0].tls.insecure, 0);
		config_free(&f->cfg);
	}
}

static void test_empty_variables_count_as_unset(void **state)
{
	struct fx *f = *state;

	env_set("REDIS_TLS_CONFIG", "%s", "");
	env_set("REDIS_TLS_CA_FILE", "%s", "");
	env_set("REDIS_TLS_VERIFY", "%s", "");
	env_set("REDIS_TLS_LOG_LEVEL", "%s", "");
	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	load_ok(f);
	assert_null(f->cfg.path);
	assert_null(f->cfg.endpoints[0].tls.ca_file);
	assert_null(f->cfg.log_level);
}

static void test_env_endpoints_list(void **state)
{
	struct fx *f = *state;
	const struct cfg_endpoint *e;

	env_set("REDIS_TLS_ENDPOINTS",
		" redis.example.com:6379 ,10.0.0.0/8:*,\t[::1]:7000-7005 ");
	load_ok(f);
	e = f->cfg.endpoints;
	assert_int_equal(f->cfg.nendpoints, 3);
	assert_string_equal(e[0].match_text, "redis.example.com:6379");
	assert_int_equal(e[0].match.kind, MATCH_HOST_NAME);
	assert_string_equal(e[1].match_text, "10.0.0.0/8:*");
	assert_int_equal(e[1].match.kind, MATCH_HOST_CIDR);
	assert_int_equal(e[1].match.port_hi, 65535);
	assert_string_equal(e[2].match_text, "[::1]:7000-7005");
	assert_int_equal(e[2].match.kind, MATCH_HOST_ADDR);
	assert_int_equal(e[2].match.port_lo, 7000);
}

static void test_file_endpoints_come_before_env_endpoints(void **state)
{
	struct fx *f = *state;

	write_conf(f, "endpoints = ( { match = \"file:1\"; } );\n");
	env_set("REDIS_TLS_ENDPOINTS", "env:1");
	load_ok(f);
	assert_int_equal(f->cfg.nendpoints, 2);
	assert_string_equal(f->cfg.endpoints[0].match_text, "file:1");
	assert_string_equal(f->cfg.endpoints[1].match_text, "env:1");
}

/* ---- the system-wide file (/etc/redis-tls-shim.conf) --------------------- */

static const char system_conf[] =
	"defaults = { ca_file = \"ca.pem\"; };\n"
	"endpoints = ( { match = \"system:1\"; } );\n";

/* Read when REDIS_TLS_CONFIG is unset; the variables still apply on top. */
static void test_system_file_without_config_var(void **state)
{
	struct fx *f = *state;

	write_file(f, "system.conf", system_conf);
	config_system_file(in_dir(f, "system.conf"));
	env_set("REDIS_TLS_ENDPOINTS", "env:1");
	env_set("REDIS_TLS_CONFIG", "%s", ""); /* empty means unset */
	load_ok(f);
	assert_string_equal(f->cfg.path, in_dir(f, "system.conf"));
	assert_int_equal(f->cfg.nendpoints, 2);
	assert_string_equal(f->cfg.endpoints[0].match_text, "system:1");
	assert_string_equal(f->cfg.endpoints[1].match_text, "env:1");
	assert_string_equal(f->cfg.endpoints[1].tls.ca_file, in_dir(f, "ca.pem"));
}

/* REDIS_TLS_CONFIG names the file: the system-wide one is not read. */
static void test_config_var_replaces_system_file(void **state)
{
	struct fx *f = *state;

	write_file(f, "system.conf", system_conf);
	config_system_file(in_dir(f, "system.conf"));
	write_conf(f, "endpoints = ( { match = \"own:1\"; } );\n");
	load_ok(f);
	assert_int_equal(f->cfg.nendpoints, 1);
	assert_string_equal(f->cfg.endpoints[0].match_text, "own:1");
}

/* One that exists but cannot be read fails closed, it is not skipped. */
static void test_unreadable_system_file_fails(void **state)
{
	struct fx *f = *state;

	config_system_file(in_dir(f, "certs"));
	env_set("REDIS_TLS_ENDPOINTS", "env:1");
	load_fails(f, "system-wide configuration: '%s': not a regular file",
		   in_dir(f, "certs"));
}

/* None there: the variables alone, as without system-wide mode. */
static void test_absent_system_file_is_no_file(void **state)
{
	struct fx *f = *state;

	config_system_file(in_dir(f, "no-such.conf"));
	env_set("REDIS_TLS_ENDPOINTS", "env:1");
	load_ok(f);
	assert_null(f->cfg.path);
	assert_int_equal(f->cfg.nendpoints, 1);
}

/* ---- errors: structure -------------------------------------------------- */

static void test_no_endpoints(void **state)
{
	struct fx *f = *state;

	load_fails(f, "no endpoints configured (set REDIS_TLS_CONFIG or "
		      "REDIS_TLS_ENDPOINTS, or write /etc/redis-tls-shim.conf)");
}

static void test_file_without_endpoints(void **state)
{
	struct fx *f = *state;

	write_conf(f, "version = 1;\nendpoints = ();\n");
	load_fails(f, "no endpoints configured (set REDIS_TLS_CONFIG or "
		      "REDIS_TLS_ENDPOINTS, or write /etc/redis-tls-shim.conf)");
}

static void test_missing_config_file(void **state)
{
	struct fx *f = *state;

	env_set("REDIS_TLS_CONFIG", "%s", in_dir(f, "nope.conf"));
	load_fails(f, "environment REDIS_TLS_CONFIG: '%s': No such file or "
		      "directory",
		   in_dir(f, "nope.conf"));
}

static void test_syntax_error(void **state)
{
	struct fx *f = *state;

	write_conf(f, "version = 1;\n"
		      "defaults = {\n"
		      "  ca_file = ;\n"
		      "};\n");
	load_fails(f, "%s:3: syntax error", f->conf);
}

static void test_unterminated_string(void **state)
{
	struct fx *f = *state;

	write_conf(f, "version = 1;\ndefaults = { sni = \"abc; };\n");
	load_fails(f, "%s:3: syntax error", f->conf);
}

static void test_duplicate_key(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n"
		      "  ca_file = \"ca.pem\";\n"
		      "  ca_file = \"ca.pem\";\n"
		      "};\n");
	load_fails(f, "%s:3: syntax error: duplicate setting name", f->conf);
}

/* libconfig 1.5 would exit() the program on these: refused first. */
static void test_include_of_folder_or_nothing(void **state)
{
	struct fx *f = *state;

	write_conf(f, "version = 1;\n@include \".\"\n");
	load_fails(f, "%s:2: @include \".\": not a readable regular file",
		   f->conf);
	write_conf(f, "version = 1;\n\n  @include \"\"\n");
	load_fails(f, "%s:3: @include \"\": not a readable regular file",
		   f->conf);
	write_conf(f, "@include \"missing.conf\"\n");
	load_fails(f, "%s:1: @include \"missing.conf\": not a readable "
		      "regular file", f->conf);
}

static void test_unknown_keys_everywhere(void **state)
{
	struct fx *f = *state;

	write_conf(f, "version = 1;\nendpoint = ();\n");
	load_fails(f, "%s:2: unknown top-level key 'endpoint' (expected "
		      "version, log, defaults, endpoints)",
		   f->conf);

	write_conf(f, "defaults = {\n  ca_file = \"ca.pem\";\n  cafile = \"x\";\n};\n");
	load_fails(f, "%s:3: unknown key 'cafile' in defaults", f->conf);

	write_conf(f, "endpoints = (\n  { match = \"a:1\"; },\n"
		      "  { match = \"b:1\";\n    tls = true; }\n);\n");
	load_fails(f, "%s:4: unknown key 'tls' in endpoint", f->conf);

	write_conf(f, "log = {\n  level = \"info\";\n  file = \"x\"; };\n");
	load_fails(f, "%s:3: unknown key 'file' in log", f->conf);

	/* `match` is an endpoint key only */
	write_conf(f, "defaults = { match = \"a:1\"; };\n");
	load_fails(f, "%s:1: unknown key 'match' in defaults", f->conf);
}

static void test_wrong_types(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  ca_file = 5;\n};\n");
	load_fails(f, "%s:2: ca_file must be a string", f->conf);

	write_conf(f, "defaults = {\n  insecure = \"yes\";\n};\n");
	load_fails(f, "%s:2: insecure must be true or false", f->conf);

	write_conf(f, "defaults = {\n  handshake_timeout_ms = \"10\";\n};\n");
	load_fails(f, "%s:2: handshake_timeout_ms must be an integer", f->conf);

	write_conf(f, "defaults = {\n  handshake_timeout_ms = 1.5;\n};\n");
	load_fails(f, "%s:2: handshake_timeout_ms must be an integer", f->conf);

	write_conf(f, "defaults = {\n\n  pin_sha256 = 5;\n};\n");
	load_fails(f, "%s:3: pin_sha256 must be a string or a list of strings",
		   f->conf);

	write_conf(f, "defaults = {\n  pin_sha256 = (\"" PIN1 "\", 5);\n};\n");
	load_fails(f, "%s:2: pin_sha256 must be a string or a list of strings",
		   f->conf);

	write_conf(f, "defaults = {\n  sni = [\"a\"];\n};\n");
	load_fails(f, "%s:2: sni must be a string", f->conf);
}

static void test_wrong_section_types(void **state)
{
	struct fx *f = *state;

	write_conf(f, "version = \"1\";\n");
	load_fails(f, "%s:1: version must be an integer", f->conf);

	write_conf(f, "\nversion = 2;\n");
	load_fails(f, "%s:2: unsupported version 2 (this shim reads version 1)",
		   f->conf);

	write_conf(f, "defaults = 5;\n");
	load_fails(f, "%s:1: defaults must be a group: defaults = { ... };",
		   f->conf);

	write_conf(f, "log = \"stderr\";\n");
	load_fails(f, "%s:1: log must be a group: log = { level = \"notice\"; "
		      "target = \"stderr\"; };",
		   f->conf);

	write_conf(f, "endpoints = { match = \"a:1\"; };\n");
	load_fails(f, "%s:1: endpoints must be a list: endpoints = ( { match = "
		      "\"HOST:PORT\"; }, ... );",
		   f->conf);

	write_conf(f, "endpoints = (\n  \"a:1\",\n  { match = \"b:1\"; }\n);\n");
	load_fails(f, "%s:2: each entry of endpoints must be a group { match = "
		      "\"HOST:PORT\"; ... }",
		   f->conf);

	write_conf(f, "log = {\n  level = 3; };\n");
	load_fails(f, "%s:2: level must be a string", f->conf);
}

static void test_endpoint_without_match(void **state)
{
	struct fx *f = *state;

	write_conf(f, "endpoints = (\n  { match = \"a:1\"; },\n"
		      "  { sni = \"x.example\"; }\n);\n");
	load_fails(f, "%s:3: endpoint has no 'match' key", f->conf);

	write_conf(f, "endpoints = (\n  { match = 6379; }\n);\n");
	load_fails(f, "%s:2: match must be a string", f->conf);
}

static void test_bad_match_spec_names_its_line(void **state)
{
	struct fx *f = *state;

	write_conf(f, "endpoints = (\n  {\n    match = \"redis\";\n  }\n);\n");
	load_fails(f, "%s:3: match 'redis': missing ':PORT' in 'redis'",
		   f->conf);

	write_conf(f, "endpoints = ( { match = \"*:6379\"; } );\n");
	load_fails(f, "%s:1: match '*:6379': a bare '*' host is not allowed; "
		      "use 0.0.0.0/0:PORT and [::]/0:PORT for any address",
		   f->conf);
}

/* ---- errors: values ----------------------------------------------------- */

static void test_missing_files_are_reported_at_load(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  ca_file = \"nope.pem\";\n};\n");
	load_fails(f, "%s:2: ca_file '%s': No such file or directory", f->conf,
		   in_dir(f, "nope.pem"));

	write_conf(f, "endpoints = ( { match = \"a:1\";\n"
		      "  cert_file = \"client.crt\";\n"
		      "  key_file = \"/nonexistent/client.key\"; } );\n");
	load_fails(f, "%s:3: key_file '/nonexistent/client.key': No such file "
		      "or directory",
		   f->conf);

	write_conf(f, "defaults = {\n  crl_file = \"x/crl.pem\";\n};\n");
	load_fails(f, "%s:2: crl_file '%s': No such file or directory", f->conf,
		   in_dir(f, "x/crl.pem"));

	write_conf(f, "defaults = {\n  key_passphrase_file = \"nope\";\n};\n");
	load_fails(f, "%s:2: key_passphrase_file '%s': No such file or "
		      "directory",
		   f->conf, in_dir(f, "nope"));

	write_conf(f, "defaults = {\n  ca_path = \"nodir\";\n};\n");
	load_fails(f, "%s:2: ca_path '%s': No such file or directory", f->conf,
		   in_dir(f, "nodir"));
}

static void test_files_and_folders_must_be_the_right_kind(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  ca_file = \"certs\";\n};\n");
	load_fails(f, "%s:2: ca_file '%s': not a regular file", f->conf,
		   in_dir(f, "certs"));

	write_conf(f, "defaults = {\n  ca_path = \"ca.pem\";\n};\n");
	load_fails(f, "%s:2: ca_path '%s': not a directory", f->conf,
		   in_dir(f, "ca.pem"));

	write_conf(f, "defaults = {\n  cert_file = \"\";\n};\n");
	load_fails(f, "%s:2: cert_file is empty", f->conf);
}

/* load_without_caps - config_load in a child process that has dropped
   every capability (root without CAP_DAC_OVERRIDE meets file modes as any
   user does; access() even gives root its permitted set back, so that is
   emptied too).  Returns config_load's result; the message in f->err. */
static int load_without_caps(struct fx *f)
{
	int p[2], rc = -2, status;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = {
			_LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2] = { { 0 } };

		close(p[0]);
		if (syscall(SYS_capset, &h, d) == 0) {
			rc = config_load(&f->cfg, fake_getenv, f->err,
					 sizeof(f->err));
			config_free(&f->cfg);
		}
		if (write(p[1], &rc, sizeof(rc)) != sizeof(rc) ||
		    write(p[1], f->err, sizeof(f->err)) != sizeof(f->err))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &rc, sizeof(rc)), sizeof(rc));
	assert_int_equal(read(p[0], f->err, sizeof(f->err)), sizeof(f->err));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return rc;
}

static void test_unreadable_file(void **state)
{
	struct fx *f = *state;
	char want[2 * PATH_MAX];

	assert_int_equal(chmod(in_dir(f, "client.key"), 0), 0);
	write_conf(f, "defaults = {\n  key_file = \"client.key\";\n};\n");
	snprintf(want, sizeof(want), "%s:2: key_file '%s': Permission denied",
		 f->conf, in_dir(f, "client.key"));
	assert_int_equal(load_without_caps(f), -1);
	assert_string_equal(f->err, want);
}

static void test_verify_none_requires_insecure(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  verify = \"none\";\n};\n"
		      "endpoints = ( { match = \"a:1\"; insecure = true; },\n"
		      "  { match = \"b:2\"; } );\n");
	load_fails(f, "%s:2: verify \"none\" requires insecure = true "
		      "(endpoint 'b:2')",
		   f->conf);

	write_conf(f, "endpoints = (\n  { match = \"a:1\";\n"
		      "    verify = \"none\"; insecure = false; } );\n");
	load_fails(f, "%s:3: verify \"none\" requires insecure = true "
		      "(endpoint 'a:1')",
		   f->conf);

	write_conf(f, "defaults = { insecure = true; };\n"
		      "endpoints = ( { match = \"a:1\"; verify = \"none\"; } );\n");
	load_ok(f);
	assert_int_equal(f->cfg.endpoints[0].tls.verify, CFG_VERIFY_NONE);
}

static void test_verify_none_from_env_requires_insecure(void **state)
{
	struct fx *f = *state;

	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	env_set("REDIS_TLS_VERIFY", "none");
	load_fails(f, "environment REDIS_TLS_VERIFY: verify \"none\" requires "
		      "insecure = true (endpoint 'a:1')");
}

static void test_cert_and_key_come_together(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  cert_file = \"client.crt\";\n};\n"
		      "endpoints = ( { match = \"a:1\"; key_file = \"client.key\"; },\n"
		      "  { match = \"b:1\"; } );\n");
	load_fails(f, "%s:2: cert_file is set but key_file is not "
		      "(endpoint 'b:1')",
		   f->conf);

	write_conf(f, "endpoints = (\n  { match = \"a:1\";\n"
		      "    key_file = \"client.key\"; } );\n");
	load_fails(f, "%s:3: key_file is set but cert_file is not "
		      "(endpoint 'a:1')",
		   f->conf);
}

static void test_protocol_values_and_order(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  min_protocol = \"SSLv3\";\n};\n");
	load_fails(f, "%s:2: min_protocol 'SSLv3': must be one of TLSv1, "
		      "TLSv1.1, TLSv1.2, TLSv1.3",
		   f->conf);

	write_conf(f, "defaults = {\n  min_protocol = \"TLSv1.3\";\n};\n"
		      "endpoints = ( { match = \"a:1\";\n"
		      "  max_protocol = \"TLSv1.2\"; } );\n");
	load_fails(f, "%s:5: max_protocol TLSv1.2 is below min_protocol "
		      "TLSv1.3 (endpoint 'a:1')",
		   f->conf);
}

static void test_timeout_range(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  handshake_timeout_ms = 0;\n};\n");
	load_fails(f, "%s:2: handshake_timeout_ms 0: must be 1 to 600000 "
		      "(milliseconds)",
		   f->conf);

	write_conf(f, "defaults = {\n  handshake_timeout_ms = 600001;\n};\n");
	load_fails(f, "%s:2: handshake_timeout_ms 600001: must be 1 to 600000 "
		      "(milliseconds)",
		   f->conf);

	write_conf(f, "defaults = { handshake_timeout_ms = 600000; };\n"
		      "endpoints = ( { match = \"a:1\"; } );\n");
	load_ok(f);
	assert_int_equal(f->cfg.endpoints[0].tls.handshake_timeout_ms, 600000);
}

static void test_bad_pins(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  pin_sha256 = \"abc\";\n};\n");
	load_fails(f, "%s:2: pin_sha256 'abc': not base64 of a 32-byte SHA-256 "
		      "digest (44 characters ending in '=')",
		   f->conf);

	/* non-canonical: the last digit carries bits beyond 32 bytes */
	write_conf(f, "defaults = {\n  pin_sha256 = [\"" PIN1 "\",\n"
		      "  \"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\"];\n};\n");
	load_fails(f, "%s:2: pin_sha256 '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=': "
		      "not base64 of a 32-byte SHA-256 digest (44 characters "
		      "ending in '=')",
		   f->conf);

	write_conf(f, "defaults = {\n  pin_sha256 = [\"" PIN1 "\", \"" PIN1
		      "\", \"" PIN1 "\", \"" PIN1 "\", \"" PIN1 "\", \"" PIN1
		      "\", \"" PIN1 "\", \"" PIN1 "\", \"" PIN1 "\"];\n};\n");
	load_fails(f, "%s:2: pin_sha256 has 9 pins (at most 8)", f->conf);
}

static void test_passphrase_env_must_be_set(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  key_passphrase_env = \"MY_PASS\";\n};\n");
	load_fails(f, "%s:2: key_passphrase_env 'MY_PASS': variable is not set",
		   f->conf);

	env_set("MY_PASS", "%s", "");
	load_fails(f, "%s:2: key_passphrase_env 'MY_PASS': variable is empty",
		   f->conf);

	write_conf(f, "defaults = {\n  key_passphrase_env = \"MY-PASS\";\n};\n");
	load_fails(f, "%s:2: key_passphrase_env 'MY-PASS': not a valid "
		      "variable name",
		   f->conf);
}

static void test_both_passphrase_sources_in_one_group(void **state)
{
	struct fx *f = *state;

	env_set("MY_PASS", "pw");
	write_conf(f, "defaults = {\n  key_passphrase_file = \"pass.txt\";\n"
		      "  key_passphrase_env = \"MY_PASS\";\n};\n");
	load_fails(f, "%s:3: key_passphrase_file and key_passphrase_env are "
		      "both set; keep one",
		   f->conf);
}

static void test_bad_enumerations(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  verify = \"maybe\";\n};\n");
	load_fails(f, "%s:2: verify 'maybe': must be \"full\" or \"none\"",
		   f->conf);

	write_conf(f, "log = {\n  level = \"loud\"; };\n");
	load_fails(f, "%s:2: level 'loud': must be one of debug, info, notice, "
		      "warning, error",
		   f->conf);

	write_conf(f, "log = {\n  target = \"\"; };\n");
	load_fails(f, "%s:2: target is empty", f->conf);

	write_conf(f, "defaults = {\n  ciphers = \"\";\n};\n");
	load_fails(f, "%s:2: ciphers is empty", f->conf);

	/* an escaped newline in a value cannot split the log line */
	write_conf(f, "defaults = {\n  verify = \"no\\nne\";\n};\n");
	load_fails(f, "%s:2: verify 'no?ne': must be \"full\" or \"none\"",
		   f->conf);
}

static void test_bad_names(void **state)
{
	struct fx *f = *state;

	write_conf(f, "defaults = {\n  sni = \"10.0.0.1\";\n};\n");
	load_fails(f, "%s:2: sni '10.0.0.1': must be a host name; SNI is never "
		      "sent for IP addresses",
		   f->conf);

	write_conf(f, "defaults = {\n  verify_name = \"bad name\";\n};\n");
	load_fails(f, "%s:2: verify_name 'bad name': bad character ' ' in host "
		      "name 'bad name'",
		   f->conf);

	write_conf(f, "defaults = {\n  sni = \"*.example.com\";\n};\n");
	load_fails(f, "%s:2: sni '*.example.com': must be a host name; SNI is "
		      "never a pattern (verify_name may be one)",
		   f->conf);
}

/* verify_name "*.DOMAIN": kept without its trailing dot; "*", "*." and
   a '*' anywhere but as the whole first label refused, with file and
   line; a single-label DOMAIN ("*.test") is allowed. */
static void test_verify_name_patterns(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "*", "names no domain: a pattern is *.DOMAIN (DNS names one "
		       "or more labels below DOMAIN)" },
		{ "*.", "names no domain: a pattern is *.DOMAIN (DNS names one "
			"or more labels below DOMAIN)" },
		{ "*..", "names no domain: a pattern is *.DOMAIN (DNS names "
			 "one or more labels below DOMAIN)" },
		{ "*x.example.com", "'*' is only allowed as the whole first "
				    "label, as in *.example.com" },
		{ "**.example.com", "'*' is only allowed as the whole first "
				    "label, as in *.example.com" },
		{ "*.*.example.com", "'*' in '*.example.com' is only allowed "
				     "as the whole first label, as in "
				     "*.example.com" },
		{ "*.a*.example.com", "'*' in 'a*.example.com' is only allowed "
				      "as the whole first label, as in "
				      "*.example.com" },
		{ "*.10.0.0.1", "the domain of a pattern is a DNS name, not an "
				"IP address (verify an IP address by writing "
				"it alone)" },
		{ "*.example..com", "empty label in host name 'example..com'" },
	};
	struct fx *f = *state;

	write_conf(f, "endpoints = (\n"
		      "  { match = \"10.0.0.0/8:*\"; verify_name = \"*.Cluster.Test.\"; },\n"
		      "  { match = \"b:1\"; verify_name = \"*.test\"; } );\n");
	load_ok(f);
	assert_string_equal(f->cfg.endpoints[0].tls.verify_name,
			    "*.Cluster.Test");
	assert_string_equal(f->cfg.endpoints[1].tls.verify_name, "*.test");
	config_free(&f->cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char conf[256];

		snprintf(conf, sizeof(conf), "endpoints = (\n  { match = \"a:1\";"
			 "\n    verify_name = \"%s\"; } );\n", bad[i].text);
		write_conf(f, conf);
		load_fails(f, "%s:3: verify_name '%s': %s", f->conf,
			   bad[i].text, bad[i].why);
	}
	env_n = 0;
	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	env_set("REDIS_TLS_VERIFY_NAME", "*.");
	load_fails(f, "environment REDIS_TLS_VERIFY_NAME: '*.': names no "
		      "domain: a pattern is *.DOMAIN (DNS names one or more "
		      "labels below DOMAIN)");
}

/* verify_ip_in_cn: off by default, a bool in the file and the
   environment, its origin kept for the warning the engine logs. */
static void test_verify_ip_in_cn(void **state)
{
	struct fx *f = *state;

	write_conf(f, "endpoints = (\n  { match = \"a:1\"; },\n"
		      "  { match = \"b:1\";\n    verify_ip_in_cn = true; } );\n");
	load_ok(f);
	assert_int_equal(f->cfg.endpoints[0].tls.verify_ip_in_cn, 0);
	assert_int_equal(f->cfg.endpoints[1].tls.verify_ip_in_cn, 1);
	assert_string_equal(where(&f->cfg.endpoints[1].tls.w_ip_in_cn),
			    in_dir(f, "redis-tls.conf:4"));
	config_free(&f->cfg);

	write_conf(f, "endpoints = ( { match = \"a:1\";\n"
		      "  verify_ip_in_cn = \"yes\"; } );\n");
	load_fails(f, "%s:2: verify_ip_in_cn must be true or false", f->conf);

	env_n = 0;
	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	env_set("REDIS_TLS_VERIFY_IP_IN_CN", "1");
	load_ok(f);
	assert_int_equal(f->cfg.endpoints[0].tls.verify_ip_in_cn, 1);
	assert_string_equal(where(&f->cfg.endpoints[0].tls.w_ip_in_cn),
			    "environment REDIS_TLS_VERIFY_IP_IN_CN");
	config_free(&f->cfg);
	env_set("REDIS_TLS_VERIFY_IP_IN_CN", "sometimes");
	load_fails(f, "environment REDIS_TLS_VERIFY_IP_IN_CN: 'sometimes': "
		      "must be 1/0, true/false or yes/no");
}

/* ---- errors: the environment -------------------------------------------- */

static void test_env_errors_name_the_variable(void **state)
{
	struct fx *f = *state;

	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	env_set("REDIS_TLS_CA_FILE", "/x");
	load_fails(f, "environment REDIS_TLS_CA_FILE: '/x': No such file or "
		      "directory");

	env_set("REDIS_TLS_CA_FILE", "%s", "");
	env_set("REDIS_TLS_INSECURE", "maybe");
	load_fails(f, "environment REDIS_TLS_INSECURE: 'maybe': must be 1/0, "
		      "true/false or yes/no");

	env_set("REDIS_TLS_INSECURE", "%s", "");
	env_set("REDIS_TLS_HANDSHAKE_TIMEOUT_MS", "10s");
	load_fails(f, "environment REDIS_TLS_HANDSHAKE_TIMEOUT_MS: '10s': not "
		      "an integer");

	env_set("REDIS_TLS_HANDSHAKE_TIMEOUT_MS", "0");
	load_fails(f, "environment REDIS_TLS_HANDSHAKE_TIMEOUT_MS: 0: must be "
		      "1 to 600000 (milliseconds)");

	env_set("REDIS_TLS_HANDSHAKE_TIMEOUT_MS", "%s", "");
	env_set("REDIS_TLS_LOG_LEVEL", "verbose");
	load_fails(f, "environment REDIS_TLS_LOG_LEVEL: 'verbose': must be one "
		      "of debug, info, notice, warning, error");

	env_set("REDIS_TLS_LOG_LEVEL", "%s", "");
	env_set("REDIS_TLS_PIN_SHA256", "%s,,%s", PIN1, PIN2);
	load_fails(f, "environment REDIS_TLS_PIN_SHA256: empty item 2 in the "
		      "comma-separated list");

	env_set("REDIS_TLS_PIN_SHA256", "%s", "");
	env_set("REDIS_TLS_EPOLL_DELETE", "keep-them");
	load_fails(f, "environment REDIS_TLS_EPOLL_DELETE: 'keep-them': must be "
		      "auto, keep or pass");
	env_set("REDIS_TLS_EPOLL_DELETE", "%s", "");
}

static void test_env_relative_path_error_is_absolute(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chdir(f->dir), 0);
	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	env_set("REDIS_TLS_CERT_FILE", "missing.crt");
	load_fails(f, "environment REDIS_TLS_CERT_FILE: '%s': No such file or "
		      "directory",
		   in_dir(f, "missing.crt"));
}

static void test_env_endpoint_errors(void **state)
{
	struct fx *f = *state;

	env_set("REDIS_TLS_ENDPOINTS", "a:1,,b:2");
	load_fails(f, "environment REDIS_TLS_ENDPOINTS: empty match spec "
		      "(item 2)");

	env_set("REDIS_TLS_ENDPOINTS", "a:1, ");
	load_fails(f, "environment REDIS_TLS_ENDPOINTS: empty match spec "
		      "(item 2)");

	env_set("REDIS_TLS_ENDPOINTS", "a:1, redis");
	load_fails(f, "environment REDIS_TLS_ENDPOINTS: 'redis': missing "
		      "':PORT' in 'redis'");

	env_set("REDIS_TLS_ENDPOINTS", "10.0.0.0/33:6379");
	load_fails(f, "environment REDIS_TLS_ENDPOINTS: '10.0.0.0/33:6379': "
		      "CIDR prefix 33 too long for IPv4 (at most 32)");
}

static void test_both_passphrase_variables(void **state)
{
	struct fx *f = *state;

	env_set("REDIS_TLS_ENDPOINTS", "a:1");
	env_set("MY_PASS", "pw");
	env_set("REDIS_TLS_KEY_PASSPHRASE_FILE", "%s", in_dir(f, "pass.txt"));
	env_set("REDIS_TLS_KEY_PASSPHRASE_ENV", "MY_PASS");
	load_fails(f, "environment REDIS_TLS_KEY_PASSPHRASE_ENV: set only one "
		      "of REDIS_TLS_KEY_PASSPHRASE_FILE and "
		      "REDIS_TLS_KEY_PASSPHRASE_ENV");
}

/* ---- odds and ends ------------------------------------------------------ */

static void test_where_format(void **state)
{
	struct cfg_where file = { "/etc/redis-tls.conf", 12 };
	struct cfg_where env = { "environment REDIS_TLS_CA_FILE", 0 };
	struct cfg_where flag = { "--cacert", 0 };
	char small[8], buf[128];

	assert_string_equal(config_where_format(&file, buf, sizeof(buf)),
			    "/etc/redis-tls.conf:12");
	assert_string_equal(config_where_format(&env, buf, sizeof(buf)),
			    "environment REDIS_TLS_CA_FILE");
	assert_string_equal(config_where_format(&flag, buf, sizeof(buf)),
			    "--cacert");
	assert_string_equal(config_where_format(&file, small, sizeof(small)),
			    "/etc/re");
}

static void test_error_buffer_may_be_small_or_null(void **state)
{
	struct fx *f = *state;
	char small[10];

	assert_int_equal(config_load(&f->cfg, fake_getenv, small, sizeof(small)),
			 -1);
	assert_string_equal(small, "no endpoi");
	assert_int_equal(config_load(&f->cfg, fake_getenv, NULL, 0), -1);
}

static void test_reload_after_free(void **state)
{
	struct fx *f = *state;

	write_conf(f, full_conf);
	load_ok(f);
	config_free(&f->cfg);
	config_free(&f->cfg); /* twice is harmless */
	load_ok(f);
	assert_int_equal(f->cfg.nendpoints, 3);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_full_file_is_loaded),
		T(test_system_file_without_config_var),
		T(test_config_var_replaces_system_file),
		T(test_unreadable_system_file_fails),
		T(test_absent_system_file_is_no_file),
		T(test_full_file_endpoints),
		T(test_endpoints_inherit_defaults),
		T(test_origins_are_recorded_for_tls_errors),
		T(test_endpoint_key_overrides_default),
		T(test_builtin_defaults),
		T(test_version_is_optional),
		T(test_single_pin_string_and_empty_list),
		T(test_passphrase_sources_replace_each_other),
		T(test_verify_name_accepts_ip_literals),
		T(test_verify_name_patterns),
		T(test_verify_ip_in_cn),
		T(test_log_target_file_resolves_against_config),
		T(test_include_reports_included_file),
		T(test_relative_paths_resolve_against_file_folder),
		T(test_relative_env_paths_resolve_against_cwd),
		T(test_env_overrides_defaults_not_endpoint_keys),
		T(test_every_env_variable_applies),
		T(test_env_log_overrides_file_log),
		T(test_env_insecure_spellings),
		T(test_empty_variables_count_as_unset),
		T(test_env_endpoints_list),
		T(test_file_endpoints_come_before_env_endpoints),
		T(test_no_endpoints),
		T(test_file_without_endpoints),
		T(test_missing_config_file),
		T(test_syntax_error),
		T(test_unterminated_string),
		T(test_duplicate_key),
		T(test_include_of_folder_or_nothing),
		T(test_unknown_keys_everywhere),
		T(test_wrong_types),
		T(test_wrong_section_types),
		T(test_endpoint_without_match),
		T(test_bad_match_spec_names_its_line),
		T(test_missing_files_are_reported_at_load),
		T(test_files_and_folders_must_be_the_right_kind),
		T(test_unreadable_file),
		T(test_verify_none_requires_insecure),
		T(test_verify_none_from_env_requires_insecure),
		T(test_cert_and_key_come_together),
		T(test_protocol_values_and_order),
		T(test_timeout_range),
		T(test_bad_pins),
		T(test_passphrase_env_must_be_set),
		T(test_both_passphrase_sources_in_one_group),
		T(test_bad_enumerations),
		T(test_bad_names),
		T(test_env_errors_name_the_variable),
		T(test_env_relative_path_error_is_absolute),
		T(test_env_endpoint_errors),
		T(test_both_passphrase_variables),
		T(test_where_format),
		T(test_error_buffer_may_be_small_or_null),
		T(test_reload_after_free),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
