# wrapper.sh - sourced by scripts/bench.sh: the wrapper's own start-up
# (issue 14).  One `redis-cli PING` to the TLS port, three ways, alternated
# (the order rotated each run), WRAP_RUNS runs of each:
#   bare      the variables set by hand: REDIS_TLS_ENDPOINTS, _CA_FILE,
#             _CERT_FILE, _KEY_FILE and LD_PRELOAD in redis-cli's
#             environment (no process in between)
#   wrapper   redis-tls-run with the bench's SHIM flags, as a script
#             calling redis-cli in a loop runs it: the verdict of the
#             configuration check remembered (check_cache.h)
#   checked   the same with REDIS_TLS_RUN_CHECK_CACHE=0: the full check
#             every time, what the first run of a configuration costs
# Each time is bash's clock around the whole command, in microseconds;
# the table gives medians in ms and the difference to bare.
# Uses bench.sh's SHIM, LIB, PKI, P2, T_TMP, RB_TIMEOUT, short, log,
# median, calc, FAILED.
# shellcheck shell=bash disable=SC2154,SC2034

if [ "$short" = 1 ]; then
	WRAP_RUNS=30
else
	WRAP_RUNS=200
fi
declare -A WRAP_US=()

# wrap_cmd KIND: CMD = the command line of that kind (bare's variables
# are set by wrap_time, in bash: an env process would count against it).
wrap_cmd() {
	local -a ping=(redis-cli -h 127.0.0.1 -p "$P2" PING)
	case $1 in
	bare) CMD=("${ping[@]}") ;;
	wrapper | checked) CMD=("${SHIM[@]}" "${ping[@]}") ;;
	*) die "wrap_cmd: $1" ;;
	esac
}

# wrap_time KIND: one run; its time appended to WRAP_US[KIND].  1 if it
# did not answer PONG.
wrap_time() {
	local kind=$1 t0 t1 out=$T_TMP/wrap.out err=$T_TMP/wrap.err
	wrap_cmd "$kind"
	case $kind in
	bare)
		t0=$EPOCHREALTIME
		REDIS_TLS_ENDPOINTS=127.0.0.1:$P2 REDIS_TLS_CA_FILE=$PKI/ca.crt \
			REDIS_TLS_CERT_FILE=$PKI/client.crt REDIS_TLS_KEY_FILE=$PKI/client.key \
			LD_PRELOAD=$LIB timeout "$RB_TIMEOUT" "${CMD[@]}" >"$out" 2>"$err"
		;;
	checked)
		t0=$EPOCHREALTIME
		REDIS_TLS_RUN_CHECK_CACHE=0 timeout "$RB_TIMEOUT" "${CMD[@]}" >"$out" 2>"$err"
		;;
	*)
		t0=$EPOCHREALTIME
		timeout "$RB_TIMEOUT" "${CMD[@]}" >"$out" 2>"$err"
		;;
	esac
	t1=$EPOCHREALTIME
	if [ "$(cat "$out")" != PONG ]; then
		log "wrapper start-up, $kind: PING did not answer PONG:"
		tail -3 "$err" >&2
		return 1
	fi
	WRAP_US[$kind]+="$(( ${t1/./} - ${t0/./} )) "
}

# wrapper_once: the measurement (bench.sh's main calls it once).
wrapper_once() {
	local i k kinds=(bare wrapper checked) order
	log "wrapper start-up: $WRAP_RUNS runs of each kind"
	# warm-up: caches, and the first run that remembers the verdict
	for k in "${kinds[@]}" "${kinds[@]}"; do
		wrap_time "$k" || { FAILED=1; WRAP_US=(); return 0; }
	done
	WRAP_US=()
	for ((i = 0; i < WRAP_RUNS; i++)); do
		order=("${kinds[@]:i % 3}" "${kinds[@]:0:i % 3}")
		for k in "${order[@]}"; do
			wrap_time "$k" || { FAILED=1; WRAP_US=(); return 0; }
		done
	done
	for k in "${kinds[@]}"; do
		# shellcheck disable=SC2086
		printf -- '-\twrapper\tredis-cli_PING_us\t%s\t%s\t%s\tmedian\t-\n' "$k" "$WRAP_RUNS" \
			"$(median ${WRAP_US[$k]})" >>"$T_TMP/samples.tsv"
	done
}

# wrap_ms KIND: the median of KIND in ms, or n/a.
wrap_ms() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${WRAP_US[$1]:-})
	if [ -n "$m" ]; then FMT=%.2f calc "$m / 1000"; else echo n/a; fi
}

# wrap_over KIND: KIND's median minus bare's, in ms (+x.xx), or n/a.
wrap_over() {
	local a b
	a=$(wrap_ms "$1") b=$(wrap_ms bare)
	case "$a$b" in *n/a*) echo n/a; return ;; *) ;; esac
	FMT=%+.2f calc "$a - $b"
}

# wrapper_report: the table (bench.sh's report calls it).
wrapper_report() {
	echo "Wrapper start-up (issue 14): one \`redis-cli -h 127.0.0.1 -p PORT PING\` to the TLS port, ms"
	echo "per run (median of $WRAP_RUNS runs of each, the three kinds alternated), against the"
	echo "variables and LD_PRELOAD set by hand in its environment."
	echo
	echo "| wrapper start-up | ms per PING | over the variables set by hand, ms | goal |"
	echo "|---|---:|---:|---|"
	echo "| variables and LD_PRELOAD set by hand | $(wrap_ms bare) | +0.00 | |"
	echo "| redis-tls-run (the configuration's verdict remembered, as in a loop) | $(wrap_ms wrapper) | $(wrap_over wrapper) | ≤ +3 ms |"
	echo "| redis-tls-run, REDIS_TLS_RUN_CHECK_CACHE=0 (full check every run: a first run) | $(wrap_ms checked) | $(wrap_over checked) | |"
}
