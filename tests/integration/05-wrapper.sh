#!/bin/bash
# scripts/redis-tls-run itself: flags to REDIS_TLS_* variables, LD_PRELOAD
# kept and appended to, refusals (bad usage, setuid programs) with exit
# status 2 and the command not started, static and Go programs and
# --supervise under the supervisor, --check-config, --url / --url-env
# (endpoints, the redis:// form handed on, bad URLs refused, passwords
# masked).  (--check and --print-env against a server: 65-operate.sh; URLs
# end to end: 06-url.sh.)
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
	local go=$T_TMP/fake-go sc
	local tls=(--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")
	sc=$(static_client) || return
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

# ------------------------------------------------------------ URLs

# A password the URL cases look for where it must not be.
URL_PW=pw-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

case_url_mapping() {
	# --url adds the URL's HOST:PORT, as --endpoint would (6379 when the
	# URL has no port, as redis-py and Jedis dial); once per spec.
	t_run "$T_RUN" --endpoint 127.0.0.1:7001 --url "rediss://default:$URL_PW@127.0.0.1:7002/2" \
		--url rediss://cache.example --url 'rediss://[::1]:7003?db=3' --url 'rediss://[fd00::7]' \
		--url 'REDISS://Host-1.example:7004/' --url rediss://127.0.0.1:7002 -- env
	assert_rc 0 || return
	grep -qxF 'REDIS_TLS_ENDPOINTS=127.0.0.1:7001,127.0.0.1:7002,cache.example:6379,[::1]:7003,[fd00::7]:6379,Host-1.example:7004' <<<"$T_OUT" ||
		fail "REDIS_TLS_ENDPOINTS: $(grep REDIS_TLS_ENDPOINTS <<<"$T_OUT")"
	# The URL itself is not the program's (nothing passed on but the spec).
	assert_not_contains "$T_OUT" "$URL_PW" "the program's environment"
	assert_eq "" "$T_ERR" "stderr"
}

case_url_env_rewrite() {
	# The program gets the same URL with redis://, byte for byte the rest:
	# percent-encoded user and password, IPv6, db, query, fragment.
	local url="rediss://us%40er:$URL_PW%3A@[::1]:7003/3?socket_timeout=5&client_name=a:b#f"
	local show='printf "%s\n" "$WRAPPER_URL" "$REDIS_TLS_ENDPOINTS" "${REDIS_TLS_URL_ENV-unset}"'
	t_run env WRAPPER_URL="$url" "$T_RUN" --url-env WRAPPER_URL --endpoint 127.0.0.1:7001 \
		--log-level info -- sh -c "$show"
	assert_rc 0 || return
	assert_eq "redis://${url#rediss://}"$'\n127.0.0.1:7001,[::1]:7003\nunset' "$T_OUT" \
		"the program's URL, endpoints, REDIS_TLS_URL_ENV" || return
	assert_eq "redis-tls-run: WRAPPER_URL: rediss://us%40er:***@[::1]:7003/3?... -> endpoint [::1]:7003; the program is given redis://us%40er:***@[::1]:7003/3?..." \
		"$T_ERR" "the info line, password and query masked" || return
	# REDIS_TLS_URL_ENV (the entrypoint's): one or more variables, their
	# endpoints added to REDIS_TLS_ENDPOINTS (not replacing it), once.
	t_run env A="rediss://:$URL_PW@a.example:7005" B=rediss://b.example REDIS_TLS_ENDPOINTS=c.example:7006,b.example:6379 \
		REDIS_TLS_URL_ENV=A,B "$T_RUN" -- sh -c 'printf "%s\n" "$A" "$B" "$REDIS_TLS_ENDPOINTS" "${REDIS_TLS_URL_ENV-unset}"'
	assert_rc 0 || return
	assert_eq "redis://:$URL_PW@a.example:7005"$'\nredis://b.example\nc.example:7006,b.example:6379,a.example:7005\nunset' \
		"$T_OUT" "REDIS_TLS_URL_ENV=A,B" || return
	# --url-env is an option: it overrides REDIS_TLS_URL_ENV, and its
	# endpoint joins --endpoint's, which replace REDIS_TLS_ENDPOINTS.
	t_run env A=rediss://a.example:7005 B=rediss://b.example:7007 REDIS_TLS_ENDPOINTS=c.example:7006 \
		REDIS_TLS_URL_ENV=A "$T_RUN" --url-env B --endpoint d.example:7008 -- \
		sh -c 'printf "%s\n" "$A" "$B" "$REDIS_TLS_ENDPOINTS"'
	assert_rc 0 || return
	assert_eq $'rediss://a.example:7005\nredis://b.example:7007\nd.example:7008,b.example:7007' \
		"$T_OUT" "--url-env B over REDIS_TLS_URL_ENV=A"
}

# url_refused WHAT ERE URL: refused as --url URL and as --url-env with URL
# in the variable: exit 2, one line matching ERE, without the password,
# the command not started.
url_refused() {
	local what=$1 ere=$2 url=$3 how
	for how in --url --url-env; do
		if [ "$how" = --url ]; then
			t_run "$T_RUN" --url "$url" -- sh -c 'echo COMMAND-RAN'
		else
			t_run env WRAPPER_URL="$url" "$T_RUN" --url-env WRAPPER_URL -- sh -c 'echo COMMAND-RAN'
		fi
		assert_rc 2 "$what ($how)" || return
		assert_not_contains "$T_OUT" COMMAND-RAN "$what ($how): the command" || return
		assert_eq 1 "$(grep -c . <<<"$T_ERR")" "$what ($how): lines on stderr ($T_ERR)" || return
		assert_match "$T_ERR" "$ere" "$what ($how): the error" || return
		assert_not_contains "$T_ERR" "$URL_PW" "$what ($how): the error" || return
	done
}

case_url_refusals() {
	local p=$URL_PW
	url_refused "a redis:// URL" "redis://u:\*\*\*@h.example:7001:? .*plaintext" \
		"redis://u:$p@h.example:7001"
	url_refused "another scheme" "not a rediss:// URL" "unix://u:$p@/tmp/redis.sock"
	url_refused "no scheme" "^redis-tls-run: .*u:\*\*\*@h.example:7001: not a rediss:// URL" "u:$p@h.example:7001"
	url_refused "no host" "no host" "rediss://u:$p@"
	url_refused "no host, a port" "no host" "rediss://u:$p@:7001"
	url_refused "no port after ':'" "no port" "rediss://u:$p@h.example:/0"
	url_refused "port 0" "port is not a number from 1 to 65535" "rediss://u:$p@h.example:0"
	url_refused "port 65536" "port is not" "rediss://u:$p@h.example:65536"
	url_refused "port 1234567" "port is not" "rediss://u:$p@h.example:1234567"
	url_refused "a named port" "port is not" "rediss://u:$p@h.example:redis"
	url_refused "a space" "no spaces" "rediss://u:$p @h.example:7001"
	url_refused "a tab" "no spaces or control" "rediss://u:$p@h.example:7001"$'\t'
	url_refused "a newline" "no spaces or control" "rediss://u:$p@h.example:7001"$'\n'
	url_refused "an unbracketed IPv6 address" "in brackets" "rediss://u:$p@::1:7001"
	url_refused "an unclosed bracket" "\[ADDRESS\]" "rediss://u:$p@[::1:7001"
	url_refused "junk after the bracket" "\[ADDRESS\]:PORT" "rediss://u:$p@[::1]x:7001"
	url_refused "not IPv6 in brackets" "not an IPv6 address" "rediss://u:$p@[h.example]:7001"
	url_refused "a wildcard host" "not a name or an address" "rediss://u:$p@*.example:7001"
	url_refused "two hosts" "not a name or an address" "rediss://u:$p@a.example,b.example"
	url_refused "a path that is not a db" "database number" "rediss://u:$p@h.example:7001/zero"
	url_refused "ssl_cert_reqs" "'ssl_cert_reqs' sets the client's own TLS" \
		"rediss://u:$p@h.example:7001/0?ssl_cert_reqs=none"
	url_refused "a password with '/'" "percent-encode" "rediss://u:a/$p@h.example:7001"
	url_refused "a password with '?'" "^redis-tls-run: .*rediss://\*\*\*@h.example:7001: an '@' after the host" \
		"rediss://u:a?$p@h.example:7001"
	url_refused "an empty URL" "empty URL" ""
}

case_url_env_refusals() {
	local run=(sh -c 'echo COMMAND-RAN')
	refused "--url-env of an unset variable" "^redis-tls-run: --url-env WRAPPER_UNSET_URL: that variable is not set$" \
		--url-env WRAPPER_UNSET_URL -- "${run[@]}"
	refused "--url-env of a bad name" "not a variable name" --url-env 'REDIS-URL' -- "${run[@]}"
	refused "--url without its value" "needs a value" --url
	REDIS_TLS_URL_ENV=WRAPPER_UNSET_URL refused "REDIS_TLS_URL_ENV naming an unset variable" \
		"REDIS_TLS_URL_ENV names 'WRAPPER_UNSET_URL': that variable is not set" -- "${run[@]}"
	REDIS_TLS_URL_ENV=A,,B A=rediss://a.example refused "REDIS_TLS_URL_ENV=A,,B" "'': not a variable name" \
		-- "${run[@]}"
	# redis:// in the variable: handed on as it is, it would be plaintext.
	WRAPPER_URL="redis://:$URL_PW@h.example:7001" refused "--url-env of a redis:// URL" \
		"--url-env WRAPPER_URL: redis://:\*\*\*@h.example:7001 is plaintext and would not be protected; give WRAPPER_URL the rediss:// form" \
		--url-env WRAPPER_URL -- "${run[@]}"
	assert_not_contains "$T_ERR" "$URL_PW" "the error"
}

case_url_print_env() {
	# --print-env: the endpoints and REDIS_TLS_URL_ENV (the entrypoint
	# makes the redis:// form at start), never the URL or its password.
	local fmt
	for fmt in --print-env --print-env=shell; do
		t_run env WRAPPER_URL="rediss://default:$URL_PW@127.0.0.1:7002/2" "$T_RUN" --cacert "$PKI/ca.crt" \
			--url "rediss://u:$URL_PW@127.0.0.1:7001" --url-env WRAPPER_URL "$fmt"
		assert_rc 0 "$fmt" || return
		assert_not_contains "$T_OUT$T_ERR" "$URL_PW" "$fmt" || return
		local want=('REDIS_TLS_ENDPOINTS=127.0.0.1:7001,127.0.0.1:7002' REDIS_TLS_URL_ENV=WRAPPER_URL) w
		[ "$fmt" = --print-env ] ||
			want=("export REDIS_TLS_ENDPOINTS='127.0.0.1:7001,127.0.0.1:7002'" "export REDIS_TLS_URL_ENV='WRAPPER_URL'")
		for w in "${want[@]}"; do
			grep -qxF -- "$w" <<<"$T_OUT" || fail "$fmt lacks $w: $T_OUT"
		done
		assert_match "$T_OUT" "^# and WRAPPER_URL with the rediss:// URL \(not printed" "$fmt's comment" || return
	done
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
t_case "--url: the URL's HOST:PORT as an endpoint (port 6379 when absent)" case_url_mapping
t_case "--url-env / REDIS_TLS_URL_ENV: the program given redis://, the rest unchanged" case_url_env_rewrite
t_case "bad URLs: exit 2, one line, password masked, command not started" case_url_refusals
t_case "--url-env refusals: unset variable, bad name, a redis:// URL" case_url_env_refusals
t_case "--print-env with URLs: REDIS_TLS_URL_ENV, never the password" case_url_print_env
t_done
