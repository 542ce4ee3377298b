# shellcheck shell=bash disable=SC2154,SC2034  # globals of bench.sh, set and read there
# slowlink.sh - sourced by scripts/bench.sh: a new connection's time to its
# first reply over a slow link (issue 14), native TLS against the shim and
# the supervisor.
#
# tests/servers/delay_proxy.c on 127.0.0.1, SL_DELAY ms (20) each way, in
# front of bench.sh's TLS port; tests/clients/first_reply.c through it:
# two connections in sequence in one process (connect(), PING, +PONG,
# close), each timed by the program itself from just before connect() to
# the reply's last byte.  The first is a full handshake (the program has
# set itself up first: its SSL_CTX, or the shim's engine and configuration,
# which load on a first connect elsewhere), the second resumes (the
# ticket the first got).  Three ways, alternated, their order rotated each
# round:
#   native      first_reply tls: OpenSSL in the program, the same CA and
#               client certificate, its own client session for resumption
#   shim        first_reply plain through scripts/redis-tls-run
#   supervised  first_reply plain under redis-tls-run --supervise
# 41 rounds (--full: about a minute), 3 (--short).  On a shared machine a
# run's figure moves by several ms (each of its 4 delayed hops waits for a
# wake-up); 41 rounds bring the medians' differences to about 1 ms.
# The table gives medians in ms, and shim − native, supervised − native:
# the median of the differences within a round; goal shim − native ≤ 1 ms
# (a round trip is 2 x SL_DELAY: no extra one).
# A run whose second connection did not resume (the first_reply line, or
# the shim's "resumed yes" log line) is not counted and marks the bench
# FAILED.  The round trips themselves are counted, without a clock, by
# tests/integration/16-slowlink.sh.
#
# Uses bench.sh's: short, ROOT, RUN, PKI, P2, OUTDIR, T_TMP, RB_TIMEOUT,
# log, compile, median, calc, measured, t_run_bg, FAILED; testlib.sh's
# start_delay_proxy, stop_pid.

SL_DELAY=20
SL_MODES=(native shim supervised)
declare -A SL=()        # "full|resumed MODE" -> space-separated ms
declare -A SL_AT=()     # "full|resumed MODE ROUND" -> ms
SL_RUNS=0

# slowlink_cmd MODE PORT: CMD = first_reply for MODE, to 127.0.0.1:PORT.
slowlink_cmd() {
	local fr=$OUTDIR/first_reply
	local -a tls=(--endpoint "127.0.0.1:$2" --cacert "$PKI/ca.crt"
		--cert "$PKI/client.crt" --key "$PKI/client.key")
	case $1 in
	native) CMD=("$fr" tls 127.0.0.1 "$2" 2 "$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key") ;;
	shim) CMD=(env REDIS_TLS_LOG_LEVEL=info "$RUN" "${tls[@]}" -- "$fr" plain 127.0.0.1 "$2" 2) ;;
	supervised) CMD=(env REDIS_TLS_LOG_LEVEL=info "$RUN" --supervise "${tls[@]}" --
		"$fr" plain 127.0.0.1 "$2" 2) ;;
	*) die "slowlink_cmd: $1" ;;
	esac
}

# slowlink_once ROUND MODE PORT: one run; its two figures into SL.
slowlink_once() {
	local round=$1 mode=$2 o=$T_TMP/sl.out e=$T_TMP/sl.err full res resumed
	slowlink_cmd "$mode" "$3"
	t_run_bg "$RB_TIMEOUT" "$o" "$e" "${CMD[@]}"
	full=$(sed -n 's/^first_reply: conn=1 us=\([0-9.]*\) .*/\1/p' "$o")
	res=$(sed -n 's/^first_reply: conn=2 us=\([0-9.]*\) .*/\1/p' "$o")
	measured "slow link, $mode" "$e" "$full" "$res" || return 0
	if [ "$mode" = native ]; then
		grep -q '^first_reply: conn=2 .* resumed=yes' "$o" && resumed=yes
	else
		[ "$(grep -c 'TLS handshake done: .*, resumed yes' "$e")" = 1 ] && resumed=yes
	fi
	if [ "${resumed:-no}" != yes ]; then
		log "slow link, $mode: the second connection did not resume: $(cat "$o") $(tail -3 "$e")"
		FAILED=1
		return 0
	fi
	full=$(FMT=%.3f calc "$full / 1000")
	res=$(FMT=%.3f calc "$res / 1000")
	log "round $round slow link $mode: full $full ms, resumed $res ms"
	SL["full $mode"]+="$full "
	SL["resumed $mode"]+="$res "
	SL_AT["full $mode $round"]=$full
	SL_AT["resumed $mode $round"]=$res
	printf '%s\tslowlink_%sms\tfull\t%s\t1\t%s\tms_to_first_reply\t-\n' "$round" \
		"$SL_DELAY" "$mode" "$full" >>"$T_TMP/samples.tsv"
	printf '%s\tslowlink_%sms\tresumed\t%s\t1\t%s\tms_to_first_reply\t-\n' "$round" \
		"$SL_DELAY" "$mode" "$res" >>"$T_TMP/samples.tsv"
}

# slowlink_measure: the proxy, then SL_RUNS rounds of the three ways.
slowlink_measure() {
	local r i k=${#SL_MODES[@]} port
	SL_RUNS=$([ "$short" = 1 ] && echo 3 || echo 41)
	compile delay_proxy "$ROOT/tests/servers/delay_proxy.c"
	compile first_reply "$ROOT/tests/clients/first_reply.c"
	DELAY_PROXY=$OUTDIR/delay_proxy start_delay_proxy "$SL_DELAY" "$P2" "$T_TMP/slowlink.trace" ||
		{ log "slow link: the delay proxy did not start"; FAILED=1; return 0; }
	port=$DP_PORT
	log "slow link: delay_proxy 127.0.0.1:$port, $SL_DELAY ms each way, in front of 127.0.0.1:$P2"
	for ((r = 1; r <= SL_RUNS; r++)); do
		for ((i = 0; i < k; i++)); do
			slowlink_once "$r" "${SL_MODES[$(((i + r) % k))]}" "$port"
		done
	done
	stop_pid "$DP_PID"
}

# slowlink_cell KIND MODE: the median in ms, or n/a.
slowlink_cell() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${SL["$1 $2"]:-})
	if [ -n "$m" ]; then FMT=%.1f calc "$m"; else echo n/a; fi
}

# slowlink_diff KIND MODE: the median over the rounds of MODE − native in
# the same round (runs side by side: a machine whose load drifts moves
# both alike), ms, or n/a.
slowlink_diff() {
	local r a b d=() m
	for ((r = 1; r <= SL_RUNS; r++)); do
		a=${SL_AT["$1 $2 $r"]:-} b=${SL_AT["$1 native $r"]:-}
		[ -n "$a" ] && [ -n "$b" ] && d+=("$(FMT=%.3f calc "$a - $b")")
	done
	m=$(median ${d[@]+"${d[@]}"})
	if [ -n "$m" ]; then FMT=%.2f calc "$m"; else echo n/a; fi
}

# slowlink_report: the table, for bench.sh's report.
slowlink_report() {
	local kind label
	echo "Slow link (issue 14): a new connection's time to its first reply with $SL_DELAY ms added each"
	echo "way (tests/servers/delay_proxy.c on loopback; the TCP connect itself is not delayed), ms,"
	echo "median of $SL_RUNS rounds (ways alternated, their order rotated): tests/clients/first_reply.c"
	echo "timing connect() to +PONG itself, two connections in sequence in one process; native is"
	echo "the same program doing TLS with OpenSSL (same certificates, its own session for the second)."
	echo "The differences are the medians of the differences within each round."
	echo
	echo "| new connection to first reply over ${SL_DELAY} ms links, ms | native TLS | shim | supervised | shim − native | supervised − native |"
	echo "|---|---:|---:|---:|---:|---:|"
	for kind in full resumed; do
		if [ "$kind" = full ]; then label="full handshake"; else
			label="resumed (the second connection of the process)"; fi
		echo "| $label | $(slowlink_cell "$kind" native) | $(slowlink_cell "$kind" shim) |" \
			"$(slowlink_cell "$kind" supervised) | $(slowlink_diff "$kind" shim) |" \
			"$(slowlink_diff "$kind" supervised) |"
	done
	echo
	echo "Goal (issue 14): shim − native ≤ 1 ms, full and resumed: no extra round trip (one is"
	echo "$((SL_DELAY * 2)) ms here; tests/integration/16-slowlink.sh counts them)."
	echo
}
