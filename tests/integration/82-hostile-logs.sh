#!/bin/bash
# 82-hostile-logs.sh - the log line a user reads when a hostile or broken
# server ends a connection in ways the shim once reported silently:
#   - the server's first handshake record cut short, then FIN;
#   - a forged record right behind a good reply (the reply is delivered,
#     the error is logged at once and returned by the next read).
# shellcheck source-path=SCRIPTDIR disable=SC2317
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
case_hs_truncate() {
	start_hostile_server hs-truncate-close "$T_TMP/h" || return
	local port=$H_PORT
	t_run "$T_RUN" --endpoint "127.0.0.1:$port" --cacert "$PKI/ca.crt" -- \
		redis-cli -h 127.0.0.1 -p "$port" PING
	assert_failed redis-cli
	assert_same_shim_error "closed|handshake|eof|reset"
}
t_case "handshake record cut, then FIN: one shim log line" case_hs_truncate
case_forged() {
	start_hostile_server reply-then-bad "$T_TMP/h2" || return
	local port=$H_PORT
	t_run "$T_RUN" --endpoint "127.0.0.1:$port" --cacert "$PKI/ca.crt" -- "$T_PY" -c '
import sys, redis
c = redis.Connection(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=2)
c.connect(); c.send_command("PING"); print(c.read_response())
try:
    c.send_command("PING"); print(c.read_response())
except Exception as e: print("ERROR", e)' "$port"
	assert_contains "$T_OUT" "ERROR" "the second command"
	assert_same_shim_error "decrypt|bad record mac|TLS error"
}
t_case "forged record behind a good one: one TLS error line" case_forged
t_done
