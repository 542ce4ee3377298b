#!/bin/bash
# scripts/redis-tls-run itself: flags to REDIS_TLS_* variables, LD_PRELOAD
# kept and appended to, refusals (bad usage, setuid programs) with exit
# status 2 and the command not started, static and Go programs and
# --supervise under the supervisor, --check-config.  (--check and --print-env against a server:
# 65-operate.sh.)
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119,SC2016
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

LIBC=$(ldd /bin/true | awk '/libc\.so/ { print $3 }')

case_mapping() {
	t_run "$T_RUN" --endpoint 127.0.0.1:7001 --endpoint=localhost:7002 \
		--cacert "$PKI/ca.crt" --cacertdir "$PKI/cadir" --cert "$PKI/client.crt" \
		--key "$PKI/client-enc.key" --key-passphrase-file "$PKI/passphrase.txt" \
		--sni sni.example --verify-name name.example --tls-ciphers 'ECDHE+AESGCM' \
		--tls-ciphersuites TLS_AES_128_GCM_SHA256 --insecure --log-level error -- env
	assert_rc 0 || return
	local want
	for want in REDIS_TLS_ENDPOINTS=127.0.0.1:7001,localhost:7002 \
		"REDIS_TLS_CA_FILE=$PKI/ca.crt" "REDIS_TLS_CA_PATH=$PKI/cadir" \
		"REDIS_TLS_CERT_FILE=$PKI/client.crt" "REDIS_TLS_KEY_FILE=$PKI/client-enc.key" \
		"REDIS_TLS_KEY_PASSPHRASE_FILE=$PKI/passphrase.txt" \
		REDIS_TLS_SNI=sni.example REDIS_TLS_VERIFY_NAME=name.example \
		REDIS_TLS_CIPHERS=ECDHE+AESGCM REDIS_TLS_CIPHERSUITES=TLS_AES_128_GCM_SHA256 \
		REDIS_TLS_INSECURE=1 REDIS_TLS_VERIFY=none REDIS_TLS_LOG_LEVEL=error \
		"LD_PRELOAD=$T_LIB"; do
		grep -qxF -- "$want" <<<"$T_OUT" || fail "env lacks $want"
	done
}

case_operate_flags_mapping() {
	local pin1 pin2 crl=$T_TMP/ca.crl
	pin1=$(printf '%043d=' 0 | tr 0 A)
	pin2=$(printf '%043d=' 0 | tr 0 E)
	# an empty CRL of the test CA (the wrapper checks the configuration)
	mkdir -p "$T_TMP/cadb"
	: >"$T_TMP/cadb/index.txt"
	printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s\ndefault_md=sha256\ndefault_crl_days=1\n' \
		"$T_TMP/cadb/index.txt" >"$T_TMP/ca.cnf"
	openssl ca -config "$T_TMP/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" -gencrl \
		-out "$crl" 2>"$T_TMP/ca.err" || { fail "openssl ca -gencrl: $(cat "$T_TMP/ca.err")"; return; }
	t_run "$T_RUN" --endpoint 127.0.0.1:7001 --cacert "$PKI/ca.crt" --crl-file "$crl" \
		--pin-sha256 "$pin1" --pin-sha256 "sha256//$pin2" --stats -- env
	assert_rc 0 || return
	local want
	for want in "REDIS_TLS_CRL_FILE=$crl" "REDIS_TLS_PIN_SHA256=$pin1,$pin2" REDIS_TLS_STATS=1; do
		grep -qxF -- "$want" <<<"$T_OUT" || fail "env lacks $want"
	done
	t_run "$T_RUN" --endpoint 127.0.0.1:7001 --cacert "$PKI/ca.crt" --stats-file "$T_TMP/s.log" -- env
	grep -qxF -- "REDIS_TLS_STATS=$T_TMP/s.log" <<<"$T_OUT" || fail "env lacks REDIS_TLS_STATS=$T_TMP/s.log"
}

case_check_config() {
	t_run "$T_RUN" --endpoint 127.0.0.1:7001 --cacert "$PKI/ca.crt" --check-config
	assert_rc 0 "--check-config of a good configuration" || return
	assert_contains "$T_ERR" "configuration OK" "--check-config"
	t_run "$T_RUN" --endpoint 127.0.0.1:7001 --cert "$PKI/client.crt" --key "$PKI/server.key" --check-config
	assert_rc 2 "--check-config of a key that does not match" || return
	assert_contains "$T_ERR" "the private key does not match the certificate" "--check-config's reason"
	refused "--print-env=FORMAT" "formats are" --endpoint 127.0.0.1:7001 --print-env=json
}

case_passphrase_env_mapping() {
	local pass
	pass=$(head -1 "$PKI/passphrase.txt")
	t_run env WRAPPER_TEST_PASS="$pass" "$T_RUN" --endpoint 127.0.0.1:7001 \
		--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client-enc.key" \
		--key-passphrase-env WRAPPER_TEST_PASS -- env
	assert_rc 0 || return
	grep -qxF REDIS_TLS_KEY_PASSPHRASE_ENV=WRAPPER_TEST_PASS <<<"$T_OUT" ||
		fail "env lacks REDIS_TLS_KEY_PASSPHRASE_ENV=WRAPPER_TEST_PASS"
}

case_config_mapping() {
	local conf=$T_TMP/w.conf
	printf 'version = 1;\ndefaults = { ca_file = "%s"; };\nendpoints = ( { match = "127.0.0.1:7001"; } );\n' \
		"$PKI/ca.crt" >"$conf"
	t_run "$T_RUN" --config "$conf" -- env
	assert_rc 0 || return
	grep -qxF "REDIS_TLS_CONFIG=$conf" <<<"$T_OUT" || fail "env lacks REDIS_TLS_CONFIG"
}

case_preload_appended() {
	t_run env LD_PRELOAD="$LIBC" "$T_RUN" --endpoint 127.0.0.1:7001 \
		--cacert "$PKI/ca.crt" -- sh -c 'printf "%s\n" "$LD_PRELOAD"'
	assert_rc 0 || return
	assert_eq "$LIBC $T_LIB" "$T_OUT" "LD_PRELOAD"
}

case_preload_not_doubled() {
	t_run env LD_PRELOAD="$LIBC:$T_LIB" "$T_RUN" --endpoint 127.0.0.1:7001 \
		--cacert "$PKI/ca.crt" -- sh -c 'printf "%s\n" "$LD_PRELOAD"'
	assert_rc 0 || return
	assert_eq "$LIBC:$T_LIB" "$T_OUT" "LD_PRELOAD"
}

case_exit_status() {
	t_run "$T_RUN" --endpoint 127.0.0.1:7001 --cacert "$PKI/ca.crt" -- sh -c 'exit 7'
	assert_rc 7 "the command's own exit status"
}

# refused WHAT ERE WRAPPER-ARGS...: exit 2, the error matches ERE, no
# COMMAND-RAN on stdout.
refused() {
	local what=$1 ere=$2
	shift 2
	t_run "$T_RUN" "$@"
	assert_rc 2 "$what" || return
	assert_not_contains "$T_OUT" COMMAND-RAN "$what: output"
	assert_match "$T_ERR" "$ere" "$what: error"
}

case_usage_errors() {
	local run=(sh -c 'echo COMMAND-RAN')
	refused "no endpoint" "endpoint|config" -- "${run[@]}"
	refused "unknown option" "unknown option" --endpoint 127.0.0.1:7001 --frobnicate -- "${run[@]}"
	refused "missing value" "needs a value" --endpoint
	refused "no command" "no command" --endpoint 127.0.0.1:7001 --
	refused "unreadable --cacert" "cannot read" --endpoint 127.0.0.1:7001 --cacert "$T_TMP/none.pem" -- "${run[@]}"
	refused "unset passphrase variable" "not set" --endpoint 127.0.0.1:7001 \
		--key-passphrase-env WRAPPER_TEST_UNSET_VAR -- "${run[@]}"
	refused "bad log level" "log-level" --endpoint 127.0.0.1:7001 --log-level chatty -- "${run[@]}"
	REDIS_TLS_LIB=$T_TMP/nolib.so refused "missing library" "no such library" \
		--endpoint 127.0.0.1:7001 -- "${run[@]}"
	t_run "$T_RUN" --help
	assert_rc 0 "--help"
	assert_contains "$T_OUT" "--endpoint" "--help"
}

case_unreachable_programs() {
	# Programs LD_PRELOAD cannot reach would talk plaintext: they run under
	# the supervisor, with nothing preloaded (their TLS would be doubled).
	# The redis is TLS-only with client certificates: a PONG is verified TLS.
	local go=$T_TMP/fake-go sc=$BUILD/clients/static_client
	local tls=(--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")
	[ -x "$sc" ] || make -s -C "$T_ROOT" "$sc" >/dev/null 2>&1 || { fail "cannot build $sc"; return; }
	start_tls_redis || return
	t_run env LD_PRELOAD="$T_LIB" "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" "${tls[@]}" \
		--log-level info -- "$sc" 127.0.0.1 "$REDIS_PORT" ping
	assert_rc 0 "a static client" || return
	assert_eq PONG "$T_OUT" "its PING over verified TLS" || return
	assert_match "$T_ERR" "static_client is statically linked: .*under the supervisor" "the info line" || return
	# A fake Go program (true with Go's build-info marker) runs under it too.
	cp /bin/true "$go"
	printf '\377 Go buildinf:' >>"$go"
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" "${tls[@]}" --log-level info -- "$go"
	assert_rc 0 "a Go program" || return
	assert_match "$T_ERR" "is a Go program .*under the supervisor" "the info line" || return
	# Not a word at the default log level.
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" "${tls[@]}" -- "$go"
	assert_eq "" "$T_ERR" "stderr at the default level"
	stop_pid "$REDIS_PID"
}

case_supervise_option() {
	# --supervise and REDIS_TLS_SUPERVISE=1: any program under the
	# supervisor, the shim out of LD_PRELOAD (kept: the others), the
	# variable not passed on; a bad value refused.
	start_tls_redis || return
	local tls=(--endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt"
		--key "$PKI/client.key")
	local probe='echo "LD_PRELOAD=${LD_PRELOAD-unset} SUPERVISE=${REDIS_TLS_SUPERVISE-unset}"; grep -c "^Seccomp_filters:[[:space:]]*[1-9]" /proc/self/status; exec redis-cli -p '"$REDIS_PORT"' PING'
	t_run env LD_PRELOAD="$LIBC $T_LIB" "$T_RUN" "${tls[@]}" --supervise -- sh -c "$probe"
	assert_rc 0 "--supervise" || return
	assert_eq "LD_PRELOAD=$LIBC SUPERVISE=unset"$'\n1\nPONG' "$T_OUT" \
		"the program's environment, its seccomp filter, redis-cli's PING" || return
	t_run env REDIS_TLS_SUPERVISE=1 "$T_RUN" "${tls[@]}" -- sh -c "$probe"
	assert_rc 0 "REDIS_TLS_SUPERVISE=1" || return
	assert_eq "LD_PRELOAD=unset SUPERVISE=unset"$'\n1\nPONG' "$T_OUT" "the same" || return
	# Without it, redis-cli is preloaded and not filtered.
	t_run "$T_RUN" "${tls[@]}" -- sh -c "$probe"
	assert_eq "LD_PRELOAD=$T_LIB SUPERVISE=unset"$'\n0\nPONG' "$T_OUT" "preloaded" || return
	# --stats: the supervisor's statistics line at exit, as the shim's.
	t_run "$T_RUN" "${tls[@]}" --supervise --stats -- redis-cli -p "$REDIS_PORT" PING
	assert_match "$T_ERR" "connections=1 handshakes=1 .*failures=0" "the --stats line" || return
	REDIS_TLS_SUPERVISE=yes refused "REDIS_TLS_SUPERVISE=yes" "use 1" "${tls[@]}" -- sh -c 'echo COMMAND-RAN'
	stop_pid "$REDIS_PID"
}

case_setuid_refused() {
	# The loader ignores LD_PRELOAD when the set-user-ID bit changes the
	# effective user: a copy of true owned by nobody, mode 4755.
	local suid=$T_TMP/suid-true
	if [ "$(id -u)" != 0 ]; then
		echo "    (not root: cannot make a set-user-ID file of another user; not run)"
		return 0
	fi
	cp /bin/true "$suid"
	if ! chown 65534 "$suid" || ! chmod 4755 "$suid"; then
		fail "chown/chmod of $suid"
		return
	fi
	refused "setuid program" "setuid/setgid" --endpoint 127.0.0.1:7001 --cacert "$PKI/ca.crt" -- "$suid"
	refused "setuid program, --supervise" "supervisor cannot run it" --endpoint 127.0.0.1:7001 \
		--cacert "$PKI/ca.crt" --supervise -- "$suid"
}

t_case "flags map to REDIS_TLS_* variables" case_mapping
t_case "--crl-file, --pin-sha256, --stats, --stats-file map to variables" case_operate_flags_mapping
t_case "--check-config: OK, or the reason and status 2" case_check_config
t_case "--key-passphrase-env maps to REDIS_TLS_KEY_PASSPHRASE_ENV" case_passphrase_env_mapping
t_case "--config maps to REDIS_TLS_CONFIG" case_config_mapping
t_case "LD_PRELOAD kept, the shim appended" case_preload_appended
t_case "LD_PRELOAD already holding the shim is left alone" case_preload_not_doubled
t_case "the command's exit status is the wrapper's" case_exit_status
t_case "usage errors: exit 2, command not started" case_usage_errors
t_case "static and Go programs run under the supervisor" case_unreachable_programs
t_case "--supervise / REDIS_TLS_SUPERVISE=1: any program under the supervisor" case_supervise_option
t_case "setuid programs refused" case_setuid_refused
t_done
