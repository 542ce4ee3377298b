#!/bin/bash
# make install into a temporary DESTDIR (PREFIX=/usr), then the installed
# tree on its own: the wrapper and the entrypoint find the installed
# library (not the source tree's), the engine is loaded from beside it,
# --check works, and so does a symbolic link to the wrapper.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119,SC2016
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

DEST=$T_TMP/dest
ILIB=$DEST/usr/lib/redis-tls-shim
IBIN=$DEST/usr/bin

# The installed scripts must find their own library: no REDIS_TLS_LIB.
INSTALLED=(env -u REDIS_TLS_LIB -u REDIS_TLS_ENGINE)

case_install() {
	t_run make --no-print-directory -s -C "$T_ROOT" install BUILD="$BUILD" \
		DESTDIR="$DEST" PREFIX=/usr
	assert_rc 0 "make install DESTDIR=... PREFIX=/usr ($(t_short "$T_OUT $T_ERR" 600))" || return
	local f
	for f in "$ILIB/libredistls.so" "$ILIB/libredistls-engine.so" "$ILIB/redis-tls-ctl" \
		"$IBIN/redis-tls-run" "$IBIN/redis-tls-entrypoint"; do
		[ -f "$f" ] || fail "$f not installed"
	done
	for f in "$ILIB/redis-tls-ctl" "$IBIN/redis-tls-run" "$IBIN/redis-tls-entrypoint"; do
		[ -x "$f" ] || fail "$f not executable"
	done
}

case_installed_wrapper() {
	[ -x "$IBIN/redis-tls-run" ] || { fail "not installed"; return; }
	local args=(--endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt"
		--cert "$PKI/client.crt" --key "$PKI/client.key")
	t_run "${INSTALLED[@]}" "$IBIN/redis-tls-run" "${args[@]}" -- redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_rc 0 "the installed wrapper" || return
	assert_eq PONG "$T_OUT" "PING through the installed wrapper" || return
	# The installed library, and the engine beside it, are the ones used.
	t_run "${INSTALLED[@]}" "$IBIN/redis-tls-run" "${args[@]}" -- "$T_PY" -c '
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
assert r.ping()
print("".join(l for l in open("/proc/self/maps") if "libredistls" in l))
' "$REDIS_PORT"
	assert_rc 0 "python through the installed wrapper" || return
	assert_contains "$T_OUT" "$ILIB/libredistls.so" "the mapped switchboard" || return
	assert_contains "$T_OUT" "$ILIB/libredistls-engine.so" "the mapped engine" || return
	assert_not_contains "$T_OUT" "$BUILD/" "the mapped libraries"
}

case_installed_check() {
	t_run "${INSTALLED[@]}" "$IBIN/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --check
	assert_rc 0 "--check from the install" || return
	assert_contains "$T_OUT" "verdict      OK" "--check's verdict"
}

case_installed_entrypoint() {
	t_run env -i PATH=/usr/local/bin:/usr/bin:/bin "REDIS_TLS_ENDPOINTS=127.0.0.1:$REDIS_PORT" \
		"REDIS_TLS_CA_FILE=$PKI/ca.crt" "REDIS_TLS_CERT_FILE=$PKI/client.crt" \
		"REDIS_TLS_KEY_FILE=$PKI/client.key" "$IBIN/redis-tls-entrypoint" \
		sh -c 'printf "%s\n" "$LD_PRELOAD"; exec redis-cli -h 127.0.0.1 -p "$1" PING' _ "$REDIS_PORT"
	assert_rc 0 "the installed entrypoint" || return
	assert_eq "$ILIB/libredistls.so
PONG" "$T_OUT" "LD_PRELOAD and PING through the installed entrypoint"
}

case_symlinked_wrapper() {
	# /usr/local/bin/redis-tls-run -> /opt/.../bin/redis-tls-run, say.
	mkdir -p "$T_TMP/elsewhere"
	ln -sf "$IBIN/redis-tls-run" "$T_TMP/elsewhere/redis-tls-run"
	t_run "${INSTALLED[@]}" "$T_TMP/elsewhere/redis-tls-run" --endpoint "127.0.0.1:$REDIS_PORT" \
		--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" --print-env
	assert_rc 0 "a link to the installed wrapper" || return
	assert_contains "$T_OUT" "LD_PRELOAD=$ILIB/libredistls.so" "the library it found"
}

t_case "make install DESTDIR=tmp PREFIX=/usr: the files" case_install
t_case "installed redis-tls-run: PING, installed library and engine loaded" case_installed_wrapper
t_case "installed redis-tls-run --check" case_installed_check
t_case "installed redis-tls-entrypoint, clean environment" case_installed_entrypoint
t_case "a symbolic link to the installed wrapper" case_symlinked_wrapper
t_done
