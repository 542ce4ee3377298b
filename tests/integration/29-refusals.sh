#!/bin/bash
# 29-refusals.sh - calls that would carry a TLS socket's bytes past TLS are
# refused, with a log line: fdopen() (stdio uses libc-internal read/write
# the shim cannot see), after connect and before it.  The same call on a plaintext, unconfigured
# connection in the same setup is untouched.
# shellcheck source-path=SCRIPTDIR disable=SC2317
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done
PROBE=$BUILD/clients/fdopen_probe

case_fdopen_tls() {
	t_run "${SHIM[@]}" "$PROBE" 127.0.0.1 "$REDIS_PORT"
	assert_rc 0 "fdopen of a TLS socket (0: refused)" || return
	assert_contains "$T_OUT" "fdopen: Invalid argument" "the probe's output"
	assert_one_shim_error "fdopen\(\) of a TLS socket is refused"
}
t_case "fdopen() of a TLS socket is refused, with one log line" case_fdopen_tls

case_fdopen_before_connect() {
	t_run "${SHIM[@]}" "$PROBE" 127.0.0.1 "$REDIS_PORT" before
	assert_rc 0 "connect of an fdopen()ed socket to an endpoint (0: refused)" || return
	assert_contains "$T_OUT" "connect: Permission denied" "the probe's output"
	assert_one_shim_error "fdopen\(\)ed, and stdio would write past TLS"
}
t_case "a socket fdopen()ed before connect cannot become a TLS socket" case_fdopen_before_connect

case_fdopen_plain() {
	local plain
	start_plain_redis || return
	plain=$PLAIN_PORT
	t_run "${SHIM[@]}" "$PROBE" 127.0.0.1 "$plain"
	assert_rc 1 "fdopen of a plaintext socket to an unconfigured port (1: accepted)"
	assert_contains "$T_OUT" "fdopen: accepted" "the probe's output"
}
t_case "fdopen() of a plaintext socket to an unconfigured port works" case_fdopen_plain

t_done
