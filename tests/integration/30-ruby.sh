#!/bin/bash
# Ruby's redis gem (Debian's ruby-redis), unmodified, through the shim:
# values of several MiB, pipelines, MULTI/EXEC (tests/clients/ruby_client.rb,
# the cases basic, large, pipeline, multi).
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

CLIENTS=$T_ROOT/tests/clients

rb_case() {
	t_run "${SHIM[@]}" ruby "$CLIENTS/ruby_client.rb" "$1" 127.0.0.1 "$REDIS_PORT"
	assert_rc 0 "ruby $1" || return
	assert_eq "OK $1" "$(tail -1 <<<"$T_OUT")" "ruby $1 result"
}

case_visible() {
	assert_eq v9999 "$(rcli_native GET rb:pipe:9999)" "rb:pipe:9999 (native TLS)"
}

t_case "ruby: PING, SET/GET" rb_case basic
t_case "ruby: values of 3 and 6 MiB" rb_case large
t_case "ruby: pipelines of 10000 commands, 2 MiB in a pipeline" rb_case pipeline
t_case "ruby: MULTI/EXEC" rb_case multi
t_case "ruby: writes visible to native TLS client" case_visible
t_done
