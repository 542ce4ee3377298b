#!/bin/bash
# redis-cli, unmodified, through scripts/redis-tls-run against a TLS-only
# redis-server that requires client certificates.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

case_plain_cli_refused() {
	# Without the shim the server is unreachable: the premise of the rest.
	t_run redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_not_contains "$T_OUT" PONG "plain redis-cli's output"
}

case_ping() {
	t_run "${RCLI[@]}" PING
	assert_rc 0 || return
	assert_eq PONG "$T_OUT" "PING through the shim"
	assert_eq "" "$(shim_log_lines "$T_ERR" | grep -iE 'error|warning')" "shim errors"
}

case_ping_by_name() {
	# Dialled by name: the name is captured from getaddrinfo and verified
	# against DNS:localhost.
	t_run "$T_RUN" --endpoint "localhost:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		redis-cli -h localhost -p "$REDIS_PORT" PING
	assert_rc 0 || return
	assert_eq PONG "$T_OUT" "PING localhost"
}

case_big_value() {
	local big=$T_TMP/big.b64 out=$T_TMP/big.out want got
	# 12 MiB of random bytes, base64: exactly 16 MiB, no newline.
	head -c 12582912 /dev/urandom | base64 -w0 >"$big"
	assert_eq 16777216 "$(stat -c %s "$big")" "test value size" || return
	t_run "${RCLI[@]}" -x SET bigvalue <"$big"
	assert_eq OK "$T_OUT" "SET of 16 MiB" || return
	assert_eq 16777216 "$(rcli_native STRLEN bigvalue)" "STRLEN (native TLS)"
	want=$( (cat "$big"; echo) | sha256sum | cut -d' ' -f1)
	"${RCLI[@]}" GET bigvalue >"$out" 2>"$T_TMP/big.err"
	got=$(sha256sum <"$out" | cut -d' ' -f1)
	assert_eq "$want" "$got" "sha256 of GET through the shim"
	got=$(rcli_native GET bigvalue | sha256sum | cut -d' ' -f1)
	assert_eq "$want" "$got" "sha256 of GET by native TLS (what was stored)"
	rm -f "$big" "$out"
}

case_pipe() {
	local f=$T_TMP/mass.resp
	awk 'BEGIN { for (i = 0; i < 100000; i++) {
		k = "mass:" i; v = "value-" i
		printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' >"$f"
	t_run "${RCLI[@]}" --pipe <"$f"
	assert_rc 0
	assert_contains "$T_OUT" "errors: 0, replies: 100000" "redis-cli --pipe" || return
	assert_eq value-99999 "$(rcli_native GET mass:99999)" "last key (native TLS)"
	assert_eq value-0 "$(rcli_native GET mass:0)" "first key (native TLS)"
	rm -f "$f"
}

case_multi_exec() {
	rcli_native DEL txcounter >/dev/null
	t_run "${RCLI[@]}" <<<$'MULTI\nINCR txcounter\nINCR txcounter\nEXEC'
	assert_rc 0
	assert_eq $'OK\nQUEUED\nQUEUED\n1\n2' "$T_OUT" "MULTI/EXEC replies"
	assert_eq 2 "$(rcli_native GET txcounter)" "counter after EXEC"
}

_numsub() { [ "$(rcli_native PUBSUB NUMSUB "$1" | tail -1)" = 1 ]; }

case_pubsub() {
	local ch msg out=$T_TMP/sub.out pid
	ch=chan-$(marker) msg=hello-$(marker)
	"${RCLI[@]}" SUBSCRIBE "$ch" >"$out" 2>"$T_TMP/sub.err" &
	pid=$!
	t_track "$pid"
	wait_until 10 _numsub "$ch" || { fail "subscriber never subscribed: $(cat "$T_TMP/sub.err")"; return 1; }
	t_run "${RCLI[@]}" PUBLISH "$ch" "$msg"
	assert_eq 1 "$T_OUT" "PUBLISH receivers" || return
	wait_until 10 grep -qF "$msg" "$out" || fail "subscriber did not print the message: $(t_short "$(cat "$out")")"
	kill -0 "$pid" 2>/dev/null || fail "subscriber exited: $(cat "$T_TMP/sub.err")"
	stop_pid "$pid"
}

t_case "plain redis-cli cannot talk to the TLS server" case_plain_cli_refused
t_case "PING" case_ping
t_case "PING by name (localhost)" case_ping_by_name
t_case "SET/GET 16 MiB byte-exact" case_big_value
t_case "--pipe 100000 commands" case_pipe
t_case "MULTI/EXEC" case_multi_exec
t_case "SUBSCRIBE receives PUBLISH from another process" case_pubsub
t_done
