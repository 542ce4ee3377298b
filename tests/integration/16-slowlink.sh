#!/bin/bash
# Over a slow link the shim costs no round trip more than the client's own
# TLS: TLS 1.3, the client's Finished and the first command in one flight,
# no waiting for session tickets; and a process's second connection still
# resumes.
#
# The slow link is tests/servers/delay_proxy.c on loopback (no qdisc here),
# DELAY ms each way, between the client and the TLS-only redis-server.
# The proxy traces "flights" (runs of bytes in one direction, a new one at
# each change of direction): with a delay far above the peers' reaction
# time they are exactly the protocol's, so the test counts round trips
# without a clock.  Each client sends one request and hangs up when the
# reply is in, so the server's flights before the client's end of stream
# are the round trips from connect to the first reply.  TLS 1.3, full or
# resumed, takes 2: ClientHello -> the server's flight -> Finished and the
# command -> tickets and the reply.  (The proxy ends TCP on loopback: the
# TCP connect costs no round trip here, and TCP's own timing, Nagle
# against delayed ACKs, is not modelled; the shim applies the program's
# TCP_NODELAY to its private socket, which hiredis and redis-py set.)
#
# What is measured, each against native TLS through the same proxy:
# redis-cli (blocking), tests/clients/first_reply.c (two connections in one
# process: the second resumes; natively with OpenSSL's own client session,
# through the shim with its session cache), redis-benchmark (non-blocking
# connects in an event loop), the supervisor (redis-tls-run --supervise),
# and, to show that the count sees an extra round trip, a TLS 1.2 full
# handshake through the shim: 3.  Timings belong to make bench
# (scripts/bench-lib/slowlink.sh); nothing here is timed.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

DELAY=80 # ms each way: the peers must react faster than this
FR=$BUILD/clients/first_reply
start_tls_redis || t_done

# link NAME: a delay proxy in front of the TLS server, tracing into
# $TRACE; $SHIM and $RCLI configured for it (the shim's endpoint is the
# proxy's address: the server's certificate names 127.0.0.1 all the same).
link() {
	TRACE=$T_TMP/$1.trace
	start_delay_proxy "$DELAY" "$REDIS_PORT" "$TRACE" || return 1
	shim_set_default "$DP_PORT"
}

# link_done N: the proxy traced the end of N connections (their last bytes
# reach it up to two delays after the client exits); stop it.
link_done() {
	if ! wait_until 10 _ends_at_least "$1"; then
		fail "the proxy saw $(grep -c ' end flights ' "$TRACE") connections end, expected $1: $(t_short "$(cat "$TRACE")" 1500)"
		stop_pid "$DP_PID"
		return 1
	fi
	stop_pid "$DP_PID"
	assert_eq "$1" "$(grep -c ' accept$' "$TRACE")" "connections through the proxy"
}
_ends_at_least() { [ "$(grep -c ' end flights ' "$TRACE")" -ge "$1" ]; }

# round_trips N: the server's flights on connection N before its client's
# end of stream; "none" if the client never hung up.
round_trips() {
	awk -v c="$1" '
		$1 == "conn" && $2 == c && $3 == "flight" && $5 == "s2c" { n++ }
		$1 == "conn" && $2 == c && $3 == "eof" && $4 == "c2s" { print n + 0; seen = 1; exit }
		END { if (!seen) print "none" }' "$TRACE"
}

# flight_bytes N K: the bytes of flight K of connection N.
flight_bytes() {
	awk -v c="$1" -v k="$2" '$1 == "conn" && $2 == c && $3 == "flight" && $4 == k { print $7 }' "$TRACE"
}

# expect_round_trips N WANT WHAT: connection N took WANT round trips.
expect_round_trips() {
	local got
	got=$(round_trips "$1")
	[ "$got" = "$2" ] && return 0
	fail "$3: $got round trips to the first reply, expected $2; the flights: $(t_short "$(grep "^conn $1 " "$TRACE")" 1200)"
}

# expect_resumed_on_wire FULL RESUMED: the server's flight of connection
# RESUMED is under half that of FULL: no certificate sent, a resumption.
expect_resumed_on_wire() {
	local full resumed
	full=$(flight_bytes "$1" 2)
	resumed=$(flight_bytes "$2" 2)
	if [ -z "$full" ] || [ -z "$resumed" ] || [ $((resumed * 2)) -ge "$full" ]; then
		fail "connection $2's server flight (${resumed:-none} bytes) is not a resumption's, against ${full:-none} for the full handshake of connection $1"
	fi
}

# the log lines "TLS handshake done: ..., resumed yes|no" of the last t_run,
# as "no yes ...".
resumed_words() {
	shim_log_lines | sed -n 's/.*TLS handshake done: .*, resumed \(yes\|no\), .*/\1/p' | xargs
}

NATIVE_RT=""     # round trips of native TLS 1.3, full then resumed
NATIVE_RT_RES=""

# ------------------------------------------------------------------ cases

case_native_cli() {
	link native-cli || return
	t_run redis-cli "${T_TLS_FLAGS[@]}" -h 127.0.0.1 -p "$DP_PORT" PING
	assert_eq PONG "$T_OUT" "redis-cli --tls PING" || return
	link_done 1 || return
	expect_round_trips 1 2 "native redis-cli --tls (TLS 1.3)" || return
	NATIVE_RT=$(round_trips 1)
}

case_shim_cli() {
	link shim-cli || return
	t_run env REDIS_TLS_LOG_LEVEL=info "${RCLI[@]}" PING
	assert_eq PONG "$T_OUT" "redis-cli PING through the shim" || return
	assert_eq "no" "$(resumed_words)" "the shim's handshakes (resumed?)"
	link_done 1 || return
	expect_round_trips 1 "${NATIVE_RT:-2}" "redis-cli through the shim"
}

case_native_resume() {
	link native-resume || return
	t_run "$FR" tls 127.0.0.1 "$DP_PORT" 2 "$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key"
	assert_rc 0 "first_reply tls" || return
	assert_contains "$T_OUT" "conn=1 us=" "first_reply's output"
	assert_match "$T_OUT" "conn=2 us=[0-9.]+ resumed=yes" "the native client's second connection" || return
	link_done 2 || return
	expect_round_trips 1 2 "native OpenSSL client, full handshake"
	expect_round_trips 2 2 "native OpenSSL client, resumed"
	expect_resumed_on_wire 1 2
	NATIVE_RT_RES=$(round_trips 2)
}

case_shim_resume() {
	link shim-resume || return
	t_run env REDIS_TLS_LOG_LEVEL=info "${SHIM[@]}" "$FR" plain 127.0.0.1 "$DP_PORT" 2
	assert_rc 0 "first_reply plain through the shim" || return
	assert_eq "no yes" "$(resumed_words)" "the shim's two handshakes (resumed?)"
	link_done 2 || return
	expect_round_trips 1 "${NATIVE_RT:-2}" "the shim, full handshake"
	expect_round_trips 2 "${NATIVE_RT_RES:-2}" "the shim, resumed"
	expect_resumed_on_wire 1 2
}

case_shim_event_loop() {
	local i n
	link shim-bench || return
	t_run env REDIS_TLS_LOG_LEVEL=info "${SHIM[@]}" redis-benchmark -h 127.0.0.1 \
		-p "$DP_PORT" -c 2 -n 2 -q ping
	assert_rc 0 "redis-benchmark -c 2 through the shim" || return
	assert_match "$T_OUT" "requests per second" "redis-benchmark's output" || return
	# its own first connection (CONFIG GET), then its two clients
	assert_eq "no yes yes" "$(resumed_words)" "the shim's handshakes (resumed?)"
	n=$(grep -c ' accept$' "$TRACE")
	link_done "$n" || return
	[ "$n" -ge 3 ] || fail "redis-benchmark made $n connections, expected 3 or more"
	for ((i = 1; i <= n; i++)); do
		expect_round_trips "$i" 2 "redis-benchmark through the shim, connection $i"
	done
}

case_supervised() {
	link supervised || return
	t_run env REDIS_TLS_LOG_LEVEL=info "$T_RUN" --supervise --endpoint "127.0.0.1:$DP_PORT" \
		--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		"$FR" plain 127.0.0.1 "$DP_PORT" 2
	assert_rc 0 "first_reply plain under the supervisor" || return
	assert_eq "no yes" "$(resumed_words)" "the supervisor's two handshakes (resumed?)"
	link_done 2 || return
	expect_round_trips 1 "${NATIVE_RT:-2}" "the supervisor, full handshake"
	expect_round_trips 2 "${NATIVE_RT_RES:-2}" "the supervisor, resumed"
	expect_resumed_on_wire 1 2
}

# The count is not blind: a full TLS 1.2 handshake has the client's
# Finished answered by the server's before any data may go: one round
# trip more.  (A resumed TLS 1.2 handshake has the server finish first,
# and takes 2 again.)
case_tls12_counted() {
	link tls12 || return
	t_run env REDIS_TLS_LOG_LEVEL=info REDIS_TLS_MAX_PROTOCOL=TLSv1.2 "${SHIM[@]}" \
		"$FR" plain 127.0.0.1 "$DP_PORT" 2
	assert_rc 0 "first_reply plain through the shim, TLS 1.2" || return
	assert_contains "$T_ERR" "TLS handshake done: TLSv1.2" "the shim's log"
	link_done 2 || return
	expect_round_trips 1 3 "the shim, TLS 1.2 full handshake"
	expect_round_trips 2 2 "the shim, TLS 1.2 resumed"
}

if [ ! -x "$FR" ]; then
	fail "$FR not built: run make clients"
	T_FAIL=$((T_FAIL + 1))
	t_done
fi
t_case "native redis-cli --tls over a ${DELAY} ms link: 2 round trips (TLS 1.3)" case_native_cli
t_case "redis-cli through the shim: no round trip more than native" case_shim_cli
t_case "native OpenSSL client, two connections: the second resumes, 2 round trips each" \
	case_native_resume
t_case "through the shim, two connections: the second resumes, as few round trips as native" \
	case_shim_resume
t_case "redis-benchmark (non-blocking connects, event loop) through the shim: 2 round trips each" \
	case_shim_event_loop
t_case "under the supervisor (redis-tls-run --supervise): resumes, as few round trips as native" \
	case_supervised
t_case "the count sees a round trip more: a TLS 1.2 full handshake takes 3" case_tls12_counted
t_done
