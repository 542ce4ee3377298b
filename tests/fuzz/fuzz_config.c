/*
 * fuzz_config.c - libFuzzer target: configuration text (shim/config.c,
 * shim/match.c, libconfig).
 *
 * Input: the configuration file's text, optionally followed by a NUL and
 * environment lines ("REDIS_TLS_X=value\n...").  The text is written to
 * FUZZ_DIR/input.conf and config_load() is pointed at it through a fake
 * getenv (REDIS_TLS_CONFIG, when the text is not empty) that also serves
 * the environment lines.  FUZZ_DIR (made once, under $TMPDIR) holds
 * readable files the text may name: ca.crt, client.crt, client.key,
 * pass.txt, crl.pem and the folder cadir/.
 *
 * Beyond "no crash, no leak": a configuration that loads must keep the
 * documented invariants - at least one endpoint, every path absolute, a
 * handshake timeout in (0, 600000], and per endpoint: verify = none only
 * together with insecure = true (the security rule), cert_file and
 * key_file together, min_protocol <= max_protocol; an error must be one
 * non-empty line, and leave the struct freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_config: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[256];
static char conf_path[300];

#define MAX_ENV 32
static struct {
	char *name[MAX_ENV];
	char *value[MAX_ENV];
	int n;
	int have_file;
} fenv;

static const char *fake_getenv(const char *name)
{
	if (strcmp(name, "REDIS_TLS_CONFIG") == 0 && fenv.have_file)
		return conf_path;
	for (int i = fenv.n - 1; i >= 0; i--)
		if (strcmp(fenv.name[i], name) == 0)
			return fenv.value[i];
	return NULL;
}

static void put_file(const char *name, const char *text)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void remove_fuzz_dir(void)
{
	static const char *const names[] = { "ca.crt", "client.crt",
		"client.key", "pass.txt", "crl.pem", "input.conf" };
	char path[400];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/cadir", fuzz_dir);
	rmdir(path);
	rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char sub[400];

	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/redis-tls-fuzz-config.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(fuzz_dir) != NULL);
	atexit(remove_fuzz_dir);
	/* config.c only checks that files are readable; the TLS layer, not
	   fuzzed here, reads them */
	put_file("ca.crt", "ca\n");
	put_file("client.crt", "cert\n");
	put_file("client.key", "key\n");
	put_file("pass.txt", "passphrase\n");
	put_file("crl.pem", "crl\n");
	snprintf(sub, sizeof(sub), "%s/cadir", fuzz_dir);
	mkdir(sub, 0700);
	snprintf(conf_path, sizeof(conf_path), "%s/input.conf", fuzz_dir);
	/* a variable a key_passphrase_env may name */
	setenv("FUZZ_PASSPHRASE", "passphrase", 1);
	return 0;
}

static void env_clear(void)
{
	for (int i = 0; i < fenv.n; i++) {
		free(fenv.name[i]);
		free(fenv.value[i]);
	}
	fenv.n = 0;
}

/* "NAME=VALUE" lines, NAME must start with REDIS_TLS_ or be
   FUZZ_PASSPHRASE (so key_passphrase_env can name something set). */
static void env_parse(const char *p, size_t n)
{
	while (n > 0 && fenv.n < MAX_ENV) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) : n;
		const char *eq = memchr(p, '=', len);

		if (eq != NULL && eq > p) {
			fenv.name[fenv.n] = strndup(p, (size_t)(eq - p));
			fenv.value[fenv.n] = strndup(eq + 1, len - (size_t)(eq - p) - 1);
			if (fenv.name[fenv.n] && fenv.value[fenv.n])
				fenv.n++;
			else {
				free(fenv.name[fenv.n]);
				free(fenv.value[fenv.n]);
			}
		}
		if (nl == NULL)
			break;
		n -= len + 1;
		p += len + 1;
	}
}

/* What holds for the defaults as well as for endpoints. */
static void check_common(const struct cfg_tls *t)
{
	const char *paths[] = { t->ca_file, t->ca_path, t->cert_file,
				t->key_file, t->key_passphrase_file,
				t->crl_file };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		CHECK(paths[i] == NULL || paths[i][0] == '/');
	CHECK(t->handshake_timeout_ms > 0 && t->handshake_timeout_ms <= 600000);
}

/* What an endpoint (the settings actually used) must satisfy. */
static void check_tls(const struct cfg_tls *t)
{
	check_common(t);
	/* security rule: no verification only when insecure is explicit */
	CHECK(t->verify != CFG_VERIFY_NONE || t->insecure);
	CHECK(t->npins <= CFG_MAX_PINS);
	for (size_t i = 0; i < t->npins; i++)
		CHECK(t->pin_sha256[i] != NULL);
	CHECK(t->min_protocol == 0 || t->max_protocol == 0 ||
	      t->min_protocol <= t->max_protocol);
	/* a cert without its key (or the reverse) cannot be used */
	CHECK((t->cert_file == NULL) == (t->key_file == NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t flen = nul ? (size_t)(nul - data) : size;
	struct shim_config cfg;
	char err[600];
	int fd, rc;

	fd = open(conf_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (flen > 0)
		CHECK(write(fd, data, flen) == (ssize_t)flen);
	close(fd);
	fenv.have_file = flen > 0;
	if (nul != NULL)
		env_parse((const char *)nul + 1, size - flen - 1);

	memset(err, 0x55, sizeof(err));
	rc = config_load(&cfg, fake_getenv, err, sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		CHECK(memchr(err, 0, sizeof(err)) != NULL);
		CHECK(err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL);
		/* on error the struct is left freed */
		CHECK(cfg.endpoints == NULL && cfg.nendpoints == 0);
	} else {
		CHECK(cfg.nendpoints > 0 && cfg.endpoints != NULL);
		CHECK(cfg.path == NULL || cfg.path[0] == '/');
		check_common(&cfg.defaults);
		for (size_t i = 0; i < cfg.nendpoints; i++) {
			CHECK(cfg.endpoints[i].match_text != NULL);
			check_tls(&cfg.endpoints[i].tls);
		}
		config_free(&cfg);
	}
	env_clear();
	return 0;
}
