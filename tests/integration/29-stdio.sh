#!/bin/bash
# 29-stdio.sh - stdio on a TLS socket: fdopen() after connect and before
# it.  stdio reads and writes with libc-internal calls no hook sees; their
# bytes land in the program's socketpair, the connection is relayed, and
# the commands reach the server over TLS (checked natively).  The same on a
# plaintext, unconfigured connection is untouched.
# shellcheck source-path=SCRIPTDIR disable=SC2317
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done
PROBE=$BUILD/clients/stdio_probe

# stdio_case [before]: SET/GET through stdio on a TLS socket.
stdio_case() {
	local key
	key=stdio:$(marker)
	t_run "${SHIM[@]}" "$PROBE" 127.0.0.1 "$REDIS_PORT" "$key" "$@"
	assert_rc 0 "stdio SET/GET over TLS" || return
	assert_contains "$T_OUT" "reply: stdio" "the probe's output"
	assert_eq stdio "$(rcli_native GET "$key")" "the value, read natively"
	assert_eq "" "$(shim_log_lines | grep -E 'error|warning')" "the shim's warning/error lines"
}

case_fdopen_tls() { stdio_case; }
t_case "fdopen() of a TLS socket: SET/GET over TLS" case_fdopen_tls

case_fdopen_before_connect() { stdio_case before; }
t_case "a socket fdopen()ed before connect: SET/GET over TLS" case_fdopen_before_connect

case_fdopen_plain() {
	local key
	start_plain_redis || return
	key=stdio:$(marker)
	t_run "${SHIM[@]}" "$BUILD/clients/stdio_probe" 127.0.0.1 "$PLAIN_PORT" "$key"
	assert_rc 0 "stdio SET/GET to an unconfigured plaintext port"
}
t_case "stdio on a plaintext socket to an unconfigured port works" case_fdopen_plain

t_done
