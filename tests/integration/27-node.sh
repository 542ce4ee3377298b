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

t_done
