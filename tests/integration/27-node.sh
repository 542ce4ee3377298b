#!/bin/bash
# 27-node.sh - Node.js through the shim: libuv's epoll loop, and a binary
# that exports its own OpenSSL symbols (the engine must still get the
# system libssl: it is loaded with RTLD_DEEPBIND).
# shellcheck source-path=SCRIPTDIR disable=SC2317
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

case_node() {
	t_run "${SHIM[@]}" node "$T_ROOT/tests/clients/node_client.js" 127.0.0.1 "$REDIS_PORT"
	assert_rc 0 || return
	assert_contains "$T_OUT" "ok 1 MiB SET/GET" "node's output"
	assert_contains "$T_OUT" "ok 1000-command pipeline" "node's output"
	assert_eq 1000 "$(rcli_native GET "node:$(sed -n 's/^pid \([0-9]*\)$/\1/p' <<<"$T_OUT"):n")" "counter seen natively"
}
t_case "node: net sockets on libuv, 1 MiB value and a pipeline" case_node

case_node_symbols() {
	# the premise of RTLD_DEEPBIND: node exports OpenSSL's symbols
	nm -D --defined-only "$(command -v node)" 2>/dev/null | grep -qw SSL_new ||
		fail "node does not export SSL_new (the DEEPBIND case is not exercised)"
}
t_case "node exports its own SSL_new" case_node_symbols

case_node_big_stalled() {
	# A 50 MiB SET while the server stops reading for 2 s (SIGSTOP): the
	# send buffer fills, libuv waits for EPOLLOUT, which the shim answers
	# without the kernel only until a write met EAGAIN (ready_epoll.c).
	# The SET completes once the server reads again, and the loop sleeps
	# meanwhile: a handful of epoll waits, not a busy loop of thousands.
	command -v strace >/dev/null || { echo "    (no strace; skipped)" >&2; return 0; }
	strace -f -o /dev/null true 2>/dev/null || { echo "    (ptrace not permitted; skipped)" >&2; return 0; }
	local key=node:big:$$ counts=$T_TMP/node-big.strace waits
	( sleep 0.3; kill -STOP "$REDIS_PID"; sleep 2; kill -CONT "$REDIS_PID" ) &
	local stopper=$!
	t_run "${SHIM[@]}" strace -f -c -o "$counts" node "$T_ROOT/tests/clients/node_big.js" \
		127.0.0.1 "$REDIS_PORT" 50 "$key"
	wait "$stopper"
	kill -CONT "$REDIS_PID" 2>/dev/null
	assert_rc 0 "node, 50 MiB SET ($(t_short "$T_ERR" 300))" || return
	assert_eq "reply +OK" "$T_OUT" "node's reply" || return
	assert_eq 52428800 "$(rcli_native STRLEN "$key")" "the value's length, natively" || return
	waits=$(awk '$NF ~ /^epoll_(p?wait|pwait2)$/ { n += $4 } END { print n + 0 }' "$counts")
	[ "$waits" -lt 500 ] || fail "$waits epoll waits for one SET (a busy loop under a full send buffer)"
}
t_case "node: a 50 MiB SET while the server stops reading for 2 s: completes, no busy loop" case_node_big_stalled

t_done
