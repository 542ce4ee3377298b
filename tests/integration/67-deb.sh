#!/bin/bash
# The Debian package (make deb) and what it installs, on its own: built
# from `make install`, its version VERSION's and its Depends dpkg-shlibdeps',
# lintian without errors or warnings; unpacked into a scratch root (dpkg -x),
# its redis-tls-run runs redis-cli's PING against the TLS-only redis, each
# tool says its version and commit, each man page renders; the README and
# man-page drift check fails when one side loses a name; system-wide mode
# (/etc/ld.so.preload + /etc/redis-tls-shim.conf) in a private mount
# namespace, alone, beside a program's own LD_PRELOAD of a second copy or
# of the same one (one TLS layer: a recording TLS server reads the
# plaintext), a static program a preloaded shell starts (supervised), and
# failing closed on a broken system file; the systemd
# example's EnvironmentFile from --print-env.
#
# The host's /etc is never written: each system-wide case runs in
# `unshare -m` with an overlay on /etc whose upper folder is scratch (the
# two files are made there); the host's /etc/ld.so.preload is checked
# untouched at the end.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119,SC2016
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

VERSION=$(cat "$T_ROOT/VERSION")
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ROOT=$T_TMP/root
RLIB=$ROOT/usr/lib/$MULTIARCH/redis-tls-shim
RBIN=$ROOT/usr/bin
DEB=""
# The installed tools must find their own library: no REDIS_TLS_LIB.
INSTALLED=(env -u REDIS_TLS_LIB -u REDIS_TLS_ENGINE)
CREDS=(--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")

# -------------------------------------------------------------- the package

case_build() {
	t_run make --no-print-directory -s -C "$T_ROOT" deb BUILD="$BUILD"
	assert_rc 0 "make deb ($(t_short "$T_ERR" 600))" || return
	DEB=$(tail -1 <<<"$T_OUT")
	[ -f "$DEB" ] || { fail "no package: $T_OUT"; return; }
	assert_eq "redis-tls-shim" "$(dpkg-deb -f "$DEB" Package)" "Package" || return
	assert_eq "$VERSION" "$(dpkg-deb -f "$DEB" Version)" "Version (VERSION's)" || return
	local dep
	dep=$(dpkg-deb -f "$DEB" Depends)
	for lib in libc6 libssl3 libconfig9; do
		assert_contains "$dep" "$lib" "Depends (dpkg-shlibdeps)" || return
	done
}

case_contents() {
	[ -f "$DEB" ] || { fail "no package"; return; }
	rm -rf "$ROOT"
	t_run dpkg -x "$DEB" "$ROOT"
	assert_rc 0 "dpkg -x" || return
	local f
	for f in "$RLIB/libredistls.so" "$RLIB/libredistls-engine.so" "$RLIB/redis-tls-ctl" \
		"$RLIB/redis-tls-exec" "$RBIN/redis-tls-run" "$RBIN/redis-tls-entrypoint" "$RBIN/redis-tls-ctl" \
		"$ROOT/usr/share/doc/redis-tls-shim/examples/redis-tls-shim.conf" \
		"$ROOT/usr/share/doc/redis-tls-shim/examples/systemd-redis-tls.conf" \
		"$ROOT/usr/share/doc/redis-tls-shim/copyright"; do
		[ -e "$f" ] || fail "${f#"$ROOT"} not in the package"
	done
	for f in redis-tls-run redis-tls-entrypoint redis-tls-ctl; do
		[ -x "$RBIN/$f" ] || fail "/usr/bin/$f not executable"
	done
	# Stripped: no symbol table left (the build's own copies keep theirs).
	file -L "$RLIB/libredistls.so" "$RBIN/redis-tls-ctl" "$RLIB/redis-tls-exec" |
		grep -q 'not stripped' &&
		fail "unstripped binaries: $(file -L "$RLIB/libredistls.so" "$RBIN/redis-tls-ctl" "$RLIB/redis-tls-exec")"
	return 0
}

case_lintian() {
	[ -f "$DEB" ] || { fail "no package"; return; }
	T_TIMEOUT=120 t_run lintian --display-level '>=warning' "$DEB"
	assert_rc 0 "lintian's status ($(t_short "$T_OUT $T_ERR" 600))" || return
	assert_not_contains "$T_OUT" "E: " "lintian errors" || return
	assert_not_contains "$T_OUT" "W: " "lintian warnings"
}

case_installed_ping() {
	[ -x "$RBIN/redis-tls-run" ] || { fail "not installed"; return; }
	t_run "${INSTALLED[@]}" "$RBIN/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" \
		"${CREDS[@]}" -- redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_rc 0 "the package's redis-tls-run ($(t_short "$T_ERR"))" || return
	assert_eq PONG "$T_OUT" "redis-cli PING through the package's redis-tls-run" || return
	# The package's library (found from /usr/bin through the multiarch
	# folder), not the build's.
	t_run "${INSTALLED[@]}" "$RBIN/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" \
		"${CREDS[@]}" -- sh -c 'printf "%s\n" "$LD_PRELOAD"'
	assert_eq "$RLIB/libredistls.so" "$T_OUT" "LD_PRELOAD the wrapper set" || return
	t_run "${INSTALLED[@]}" "$RBIN/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" \
		"${CREDS[@]}" --check
	assert_rc 0 "the package's --check" || return
	assert_contains "$T_OUT" "verdict      OK" "--check's verdict"
}

# "NAME VERSION (commit C)", C the commit make wrote into the build.
case_versions() {
	local commit want tool
	commit=$(sed -n 's/^#define SHIM_COMMIT "\(.*\)"$/\1/p' "$BUILD/gen/shim_version.h")
	case $commit in
	"$(git -C "$T_ROOT" rev-parse --short=12 HEAD 2>/dev/null)"*) ;;
	*) fail "build commit '$commit' is not git's HEAD" ;;
	esac
	for tool in redis-tls-run redis-tls-entrypoint redis-tls-ctl; do
		t_run "${INSTALLED[@]}" "$RBIN/$tool" --version
		assert_rc 0 "$tool --version" || return
		assert_eq "$tool $VERSION (commit $commit)" "$T_OUT" "$tool --version" || return
	done
	t_run "${INSTALLED[@]}" "$RLIB/redis-tls-exec" --version
	assert_eq "redis-tls-exec $VERSION (commit $commit)" "$T_OUT" "redis-tls-exec --version (the wrapper's last step)" || return
	t_run "$T_RUN" --version
	assert_eq "redis-tls-run $VERSION (commit $commit)" "$T_OUT" "the source tree's --version" || return
	want="redis-tls-shim $VERSION (commit $commit)"
	t_run "${INSTALLED[@]}" "$RBIN/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" \
		"${CREDS[@]}" --check
	assert_eq "$want" "$(head -1 <<<"$T_OUT")" "--check's first line" || return
	t_run "${INSTALLED[@]}" "$RBIN/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" \
		"${CREDS[@]}" --log-level debug -- redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_eq PONG "$T_OUT" "PING at debug" || return
	assert_contains "$T_ERR" "debug: $want: engine loaded" "the log at debug"
}

case_man_pages() {
	local p out
	for p in man1/redis-tls-run.1.gz man1/redis-tls-entrypoint.1.gz man1/redis-tls-ctl.1.gz \
		man5/redis-tls-shim.conf.5.gz man7/redis-tls-shim.7.gz; do
		out=$(MANWIDTH=80 man -l "$ROOT/usr/share/man/$p" 2>&1)
		assert_contains "$out" "NAME" "man -l $p" || return
		assert_contains "$out" "redis-tls-shim $VERSION" "man -l $p: the version" || return
	done
	out=$(MANWIDTH=80 man -l "$ROOT/usr/share/man/man5/redis-tls-shim.conf.5.gz")
	assert_contains "$out" "REDIS_TLS_HANDSHAKE_TIMEOUT_MS" "redis-tls-shim.conf(5)'s variables" || return
	assert_contains "$out" "/etc/redis-tls-shim.conf" "redis-tls-shim.conf(5)'s file"
}

# The drift check is a test that fails: a README or a man page that
# loses a variable or an option is named.
case_doc_check_fails() {
	t_run "$T_ROOT/tests/doc-check.sh"
	assert_rc 0 "doc-check on the tree ($(t_short "$T_OUT" 600))" || return
	grep -v '^| `REDIS_TLS_STATS`' "$T_ROOT/README.md" >"$T_TMP/README.md"
	README=$T_TMP/README.md t_run "$T_ROOT/tests/doc-check.sh"
	assert_rc 1 "doc-check, the README without REDIS_TLS_STATS" || return
	assert_contains "$T_OUT" "only in the shim's list: REDIS_TLS_STATS" "what doc-check says" || return
	rm -rf "$T_TMP/man" && cp -r "$T_ROOT/man" "$T_TMP/man"
	sed -i '/^\.BI \\-\\-stats\\-file " file"$/d' "$T_TMP/man/redis-tls-run.1"
	MAN=$T_TMP/man t_run "$T_ROOT/tests/doc-check.sh"
	assert_rc 1 "doc-check, redis-tls-run(1) without --stats-file" || return
	assert_contains "$T_OUT" "only in the script: --stats-file" "what doc-check says"
}

# The example configuration loads once its paths are the test PKI's.
case_example_config() {
	sed -e "s|/etc/redis-tls/ca.crt|$PKI/ca.crt|" -e "s|/etc/redis-tls/client.crt|$PKI/client.crt|" \
		-e "s|/etc/redis-tls/client.key|$PKI/client.key|" -e 's|"syslog"|"stderr"|' \
		"$ROOT/usr/share/doc/redis-tls-shim/examples/redis-tls-shim.conf" >"$T_TMP/example.conf"
	REDIS_TLS_CONFIG=$T_TMP/example.conf t_run "${INSTALLED[@]}" "$RBIN/redis-tls-ctl" check-config
	assert_rc 0 "the example configuration ($(t_short "$T_ERR"))"
}

# systemd's EnvironmentFile= from --print-env: NAME=VALUE lines, read as
# systemd reads them (no shell), are all a program needs.
case_systemd_env_file() {
	local -a vars=()
	local line
	"${INSTALLED[@]}" "$RBIN/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" "${CREDS[@]}" \
		--print-env >"$T_TMP/service.env" || { fail "--print-env"; return; }
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; esac
		vars+=("$line")
	done <"$T_TMP/service.env"
	assert_contains "${vars[*]}" "LD_PRELOAD=$RLIB/libredistls.so" "the env file's LD_PRELOAD" || return
	t_run env -i PATH=/usr/bin:/bin "${vars[@]}" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_eq PONG "$T_OUT" "PING with the env file's variables alone ($(t_short "$T_ERR"))" || return
	local dropin=$ROOT/usr/share/doc/redis-tls-shim/examples/systemd-redis-tls.conf
	assert_file_has "$dropin" "EnvironmentFile=" "the systemd drop-in" || return
	assert_file_has "$dropin" "[Service]" "the systemd drop-in"
}

# ------------------------------------------------------ system-wide mode

UPPER=$T_TMP/etc-upper
WORK=$T_TMP/etc-work

# sys_files PRELOAD CONF: the two files the namespace's /etc will have.
sys_files() {
	rm -rf "$UPPER" "$WORK"
	mkdir -p "$UPPER" "$WORK"
	printf '%s\n' "$1" >"$UPPER/ld.so.preload"
	printf '%s\n' "$2" >"$UPPER/redis-tls-shim.conf"
}

# in_ns CMD...: CMD in a private mount namespace whose /etc is the host's
# with the files of sys_files over it (an overlay; without overlayfs, a
# bind mount of a scratch copy of /etc).  Nothing of it outlives CMD.
in_ns() {
	t_run unshare -m --propagation private sh -c '
		u=$1 w=$2; shift 2
		if ! mount -t overlay overlay -o "lowerdir=/etc,upperdir=$u,workdir=$w" /etc 2>/dev/null; then
			cp -a /etc/. "$w/etc" && cp "$u"/* "$w/etc/" && mount --bind "$w/etc" /etc || exit 99
		fi
		exec "$@"' in_ns "$UPPER" "$WORK" "$@"
}

SYS_CONF() {
	cat <<EOF
log = { level = "info"; };
defaults = { ca_file = "$PKI/ca.crt"; cert_file = "$PKI/client.crt"; key_file = "$PKI/client.key"; };
endpoints = ( { match = "127.0.0.1:$1"; } );
EOF
}

case_system_wide() {
	[ -r "$RLIB/libredistls.so" ] || { fail "not installed"; return; }
	sys_files "$RLIB/libredistls.so" "$(SYS_CONF "$REDIS_PORT")"
	# No LD_PRELOAD, no REDIS_TLS_*: the plain redis-cli speaks TLS.
	in_ns env -u LD_PRELOAD -u REDIS_TLS_LIB redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_rc 0 "system-wide redis-cli ($(t_short "$T_ERR"))" || return
	assert_eq PONG "$T_OUT" "PING, system-wide" || return
	assert_contains "$T_ERR" "TLS handshake done" "the handshake line (the system file's log level)" || return
	# The same command outside the namespace is plain redis-cli: refused.
	t_run env -u LD_PRELOAD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_not_contains "$T_OUT" "PONG" "redis-cli outside the namespace"
}

# Preloaded twice: ld.so.preload's copy and LD_PRELOAD's, a second copy
# (the build's) or the same file.  One TLS layer: the recording TLS
# server decrypts the marker; one statistics line, one handshake.
case_system_wide_and_ld_preload() {
	[ -r "$RLIB/libredistls.so" ] || { fail "not installed"; return; }
	start_record_server tls twice --cert "$PKI/server.crt" --key "$PKI/server.key" || return
	sys_files "$RLIB/libredistls.so" "$(SYS_CONF "$REC_PORT")"
	local copy m
	for copy in "$T_LIB" "$RLIB/libredistls.so"; do
		m=$(marker)
		rm -f "$T_TMP/stats"
		in_ns env LD_PRELOAD="$copy" REDIS_TLS_STATS="$T_TMP/stats" \
			redis-cli -h 127.0.0.1 -p "$REC_PORT" ECHO "$m"
		assert_eq PONG "$T_OUT" "a reply, LD_PRELOAD=$copy too ($(t_short "$T_ERR"))" || return
		assert_file_has "$REC.plain" "$m" "the recorder's plaintext (one TLS layer)" || return
		assert_eq 1 "$(grep -c 'stats:' "$T_TMP/stats" 2>/dev/null)" "statistics lines" || return
		assert_contains "$(cat "$T_TMP/stats")" "handshakes=1 " "one handshake" || return
		assert_eq 1 "$(grep -c 'TLS handshake done' <<<"$T_ERR")" "handshake lines" || return
	done
	# The second copy is named as standing aside (at info, the system
	# file's level); the same file is loaded once, and says nothing.
	in_ns env LD_PRELOAD="$T_LIB" redis-cli -h 127.0.0.1 -p "$REC_PORT" PING
	assert_eq 1 "$(grep -c "info: another copy of the shim is loaded ($RLIB/libredistls.so): it stands aside" <<<"$T_ERR")" \
		"the stand-aside line ($(t_short "$T_ERR"))" || return
	in_ns env LD_PRELOAD="$RLIB/libredistls.so" redis-cli -h 127.0.0.1 -p "$REC_PORT" PING
	assert_not_contains "$T_ERR" "another copy" "one file preloaded twice" || return
	# And the installed wrapper, whose library is ld.so.preload's.
	in_ns "${INSTALLED[@]}" "$RBIN/redis-tls-run" --endpoint "127.0.0.1:$REC_PORT" \
		-- redis-cli -h 127.0.0.1 -p "$REC_PORT" PING
	assert_eq PONG "$T_OUT" "redis-tls-run, system-wide ($(t_short "$T_ERR"))"
}

# A static program a preloaded shell starts: the exec hooks take the
# system file for a configuration and run it under the supervisor.
case_system_wide_static_exec() {
	[ -r "$RLIB/libredistls.so" ] || { fail "not installed"; return; }
	local sc
	sc=$(static_client) || return
	sys_files "$RLIB/libredistls.so" "$(SYS_CONF "$REDIS_PORT")"
	in_ns env -u LD_PRELOAD sh -c '"$1" 127.0.0.1 "$2" ping' sh "$sc" "$REDIS_PORT"
	assert_rc 0 "a static client from a preloaded sh ($(t_short "$T_ERR"))" || return
	assert_eq PONG "$T_OUT" "its PING, supervised"
}

# A broken system file: every TCP connect fails closed, with one line.
case_system_wide_fails_closed() {
	[ -r "$RLIB/libredistls.so" ] || { fail "not installed"; return; }
	start_plain_redis || return
	sys_files "$RLIB/libredistls.so" 'endpoints = ( { match = "127.0.0.1:1"; ca_fiel = "x"; } );'
	in_ns env -u LD_PRELOAD redis-cli -h 127.0.0.1 -p "$PLAIN_PORT" PING
	assert_not_contains "$T_OUT" "PONG" "a plaintext server's reply" || return
	assert_contains "$T_ERR" "/etc/redis-tls-shim.conf:1: unknown key 'ca_fiel'" "the error line" || return
	assert_contains "$T_ERR" "fail closed" "the error line"
}

case_host_untouched() {
	[ ! -e /etc/redis-tls-shim.conf ] || fail "/etc/redis-tls-shim.conf exists on the host"
	grep -qs "$T_TMP" /etc/ld.so.preload && fail "the host's /etc/ld.so.preload names the test's library"
	return 0
}

t_case "make deb: package, version, Depends" case_build
t_case "dpkg -x: the files, stripped" case_contents
t_case "lintian: no error, no warning" case_lintian
t_case "the package's redis-tls-run: redis-cli PING, its own library, --check" case_installed_ping
t_case "--version of each tool, --check and the debug log: version and commit" case_versions
t_case "man -l renders each page of the package" case_man_pages
t_case "the README / man page drift check fails on a lost name" case_doc_check_fails
t_case "the example configuration loads" case_example_config
t_case "systemd EnvironmentFile from --print-env" case_systemd_env_file
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	t_case "system-wide (ld.so.preload + /etc/redis-tls-shim.conf, mount namespace)" case_system_wide
	t_case "system-wide and LD_PRELOAD of a second copy or the same: one TLS layer" \
		case_system_wide_and_ld_preload
	t_case "system-wide: a static program a preloaded shell starts is supervised" \
		case_system_wide_static_exec
	t_case "system-wide with a broken configuration fails closed" case_system_wide_fails_closed
else
	fail "system-wide cases need root and unshare -m"
fi
t_case "the host's /etc untouched" case_host_untouched
t_done
