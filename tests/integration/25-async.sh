#!/bin/bash
# Event-driven clients, unmodified, through scripts/redis-tls-run against a
# TLS-only redis-server that requires client certificates: a hiredis async
# client on libevent (build/clients/hiredis_async, with libevent's epoll,
# poll and select backends), redis-py's asyncio client and Ruby's redis gem
# in threads (tests/clients/).  Every reply is checked byte-exact by the
# clients; the tests check their verdict, what the server holds (native
# TLS), and that the shim logged no error.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

CLIENTS=$T_ROOT/tests/clients
HIREDIS_ASYNC=$BUILD/clients/hiredis_async
# The client's own watchdog; it needs about a second.
export HIREDIS_ASYNC_TIMEOUT=20

# no_shim_complaints: the last t_run's stderr holds no shim error/warning.
no_shim_complaints() {
	assert_eq "" "$(shim_log_lines "$T_ERR" | grep -iE 'error|warning')" \
		"the shim's error/warning lines"
}

case_hiredis_built() {
	[ -x "$HIREDIS_ASYNC" ] || fail "$HIREDIS_ASYNC not built: run make clients"
}

case_hiredis_plain() {
	# The client itself is right: straight against a plaintext server.
	start_plain_redis || return
	t_run "$HIREDIS_ASYNC" 127.0.0.1 "$PLAIN_PORT"
	assert_rc 0 "hiredis_async (plain)" || return
	assert_contains "$T_OUT" "hiredis_async: ok (" "hiredis_async's verdict"
	stop_pid "$PLAIN_PID"
}

# hiredis_case BACKEND [ENV...]: hiredis_async through the shim, libevent
# forced to BACKEND by its EVENT_NO* variables.
hiredis_case() {
	local backend=$1 prefix
	shift
	t_run env "$@" "${SHIM[@]}" "$HIREDIS_ASYNC" 127.0.0.1 "$REDIS_PORT"
	if [ "$T_RC" -ne 0 ]; then
		fail "hiredis_async exited $T_RC: $(t_short "$(grep -a -m3 -E 'FAIL|free|abort|redis-tls-shim' <<<"$T_ERR" || tail -3 <<<"$T_ERR")" 1000)"
		return 1
	fi
	assert_contains "$T_OUT" "libevent $backend," "the libevent backend used" || return
	no_shim_complaints || return
	# What the server holds, seen by a native TLS client: a 1 MiB value.
	prefix=$(sed -n 's/.*keys \(ha:[0-9]*:\)key:.*/\1/p' <<<"$T_OUT")
	assert_eq 1048576 "$(rcli_native STRLEN "${prefix}key:999")" "STRLEN of the 1 MiB value (native TLS)"
}

py_case() {
	t_run "${SHIM[@]}" "$T_PY" "$CLIENTS/asyncio_client.py" "$1" 127.0.0.1 "$REDIS_PORT"
	assert_rc 0 "python asyncio $1: $(t_short "$(grep -a FAILED <<<"$T_OUT")")" || return
	assert_eq "OK $1" "$(tail -1 <<<"$T_OUT")" "python asyncio $1 result" || return
	no_shim_complaints
}

rb_case() {
	t_run "${SHIM[@]}" ruby "$CLIENTS/ruby_client.rb" "$1" 127.0.0.1 "$REDIS_PORT"
	assert_rc 0 "ruby $1: $(t_short "$(grep -a FAILED <<<"$T_OUT")")" || return
	assert_eq "OK $1" "$(tail -1 <<<"$T_OUT")" "ruby $1 result" || return
	no_shim_complaints
}

t_case "hiredis_async is built" case_hiredis_built
t_case "hiredis async (plain redis, no shim): the client is right" case_hiredis_plain
t_case "hiredis async + libevent epoll: 10000 SET/GET to 1 MiB, pub/sub" \
	hiredis_case epoll
t_case "hiredis async + libevent poll" hiredis_case poll EVENT_NOEPOLL=1
t_case "hiredis async + libevent select" hiredis_case select EVENT_NOEPOLL=1 EVENT_NOPOLL=1
t_case "redis.asyncio: 50 concurrent tasks, random values, shared counter" py_case tasks
t_case "redis.asyncio: pipelines of 10000, MULTI/EXEC" py_case pipeline
t_case "redis.asyncio: pub/sub, 300 messages to 200 KiB" py_case pubsub
t_case "redis.asyncio: 3 and 5 MiB values, concurrently" py_case large
t_case "redis.asyncio: socket_timeout fires on BLPOP" py_case timeout
t_case "ruby: 8 threads, a connection each" rb_case threads
t_case "ruby: subscriber thread receives 300 messages" rb_case pubsub
t_case "ruby: read timeout fires on BLPOP, then reconnects" rb_case timeout
t_done
