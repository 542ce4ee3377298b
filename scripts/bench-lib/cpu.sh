# shellcheck shell=bash
# scripts/bench-lib/cpu.sh - sourced by scripts/bench.sh: what the client
# pays per request (issue 14).  The client process's CPU time (user +
# system, from wait4: scripts/bench-lib/cpu_time.c) per request, native TLS
# against the shim, on GET with 50 clients, the same with -P 16, and GET
# with one client; and at one client the latency (p50 and p99, from
# redis-benchmark's own histogram), and the round trip to the reply in
# hand of one program both ways (tests/clients/rtt.c).
#
# The connection set-up is left out of the CPU figure: each measurement of
# N requests is paired with a run of the same command making one request
# per client (its CPU is mostly the set-up: 50 full handshakes natively,
# one full and 49 resumed through the shim), and the figure is
# (CPU(N) - CPU(one per client)) / (N - clients).  The shim runs with its
# variables exported (redis-tls-run --print-env), so that the wrapper's own
# start-up (measured on its own) is not counted either.
#
# On a machine of two CPUs or more, redis-server is pinned to the first
# CPU and the client to the second for these runs (taskset), both modes
# alike: where the scheduler puts the two decides a one-client round trip
# more than anything the client does (the same CPU halves it), and a
# client of a remote server always pays the cross-CPU wake-up.
#
# Uses bench.sh's helpers and settings: median, calc, ratio, t_run_bg,
# measured, log, OUTDIR, T_TMP, TARGET, RB_TIMEOUT, short, P2, T_TLS_FLAGS,
# SHIM, RUN.

CPU_WORKLOADS=(g50 g16 g1)
CPU_MODES=(native shim plain)
declare -A CPU_US=()  # "WL MODE" -> CPU µs per request, space-separated
declare -A CPU_RPS=() # "WL MODE" -> requests/s
declare -A CPU_P50=() # "WL MODE" -> µs
declare -A CPU_P99=()
declare -A CPU_TICK=() # "g1 native", "g1 shim" or a pattern -> % of the
# client CPU's sleeps with the tick stopped
declare -A EPP_US=() # steady|perwait|steadydel -> CPU µs per request
# (epoll_pattern)
declare -A EPP_WALL=()
declare -A RTT_US=() # "MODE FIELD" (native|shim, p50|p99|mean|ready_p50) -> µs
CPU_SHIM_ENV=()

# cpu_setup: the shim's variables, as a container or a unit would set them.
cpu_setup() {
	local flags=("${SHIM[@]:1:${#SHIM[@]}-2}") line
	CPU_SHIM_ENV=()
	while IFS= read -r line; do
		[ -n "$line" ] && CPU_SHIM_ENV+=("$line")
	done < <("$RUN" "${flags[@]}" --print-env)
	[ "${#CPU_SHIM_ENV[@]}" -gt 0 ] || die "redis-tls-run --print-env printed nothing"
}

# cpu_wl WL: CPU_ARGS = redis-benchmark's flags, CPU_CLIENTS, CPU_N0 (first count;
# the short form keeps it: enough requests that their CPU dwarfs the
# set-up's and its noise, 50 handshakes).
cpu_wl() {
	case $1 in
	g50) CPU_ARGS=(-c 50 -t get) CPU_CLIENTS=50 CPU_N0=20000 ;;
	g16) CPU_ARGS=(-c 50 -P 16 -t get) CPU_CLIENTS=50 CPU_N0=400000 ;;
	g1) CPU_ARGS=(-c 1 -t get) CPU_CLIENTS=1 CPU_N0=3000 ;;
	*) die "cpu_wl: $1" ;;
	esac
	return 0
}

cpu_label() {
	case $1 in
	g50) echo "GET, 50 clients" ;;
	g16) echo "GET, 50 clients, -P 16" ;;
	g1) echo "GET, 1 client" ;;
	esac
}

# tick_count: "entries sleeps" of the client's CPU (1) from
# /proc/timer_list: its idle entries so far, and those of them on which the
# kernel stopped the periodic tick (NOHZ); nothing when the client is not
# pinned or the file cannot be read.
tick_count() {
	[ "${#CPU_PIN[@]}" -gt 0 ] && [ -r /proc/timer_list ] || return 0
	awk '/^cpu: / { on = ($2 == 1) } on && /\.idle_calls/ { c = $3 }
		on && /\.idle_sleeps/ { s = $3 } END { if (c != "") print c, s }' /proc/timer_list
}

# tick_stopped KEY BEFORE AFTER: add the share of sleeps with the tick
# stopped between two tick_count readings to CPU_TICK[KEY].
tick_stopped() {
	local c0 s0 c1 s1
	read -r c0 s0 <<<"$2"
	read -r c1 s1 <<<"$3"
	[ -n "${c0:-}" ] && [ -n "${c1:-}" ] && [ "$c1" -gt "$c0" ] || return 0
	CPU_TICK[$1]+="$(FMT=%.1f calc "100 * ($s1 - $s0) / ($c1 - $c0)") "
}

CPU_PIN=()
# cpu_pin on|off: redis-server on CPU 0 and the client on CPU 1, or the
# server back on every CPU.
cpu_pin() {
	local ncpu
	ncpu=$(nproc)
	[ "$ncpu" -ge 2 ] && command -v taskset >/dev/null 2>&1 || return 0
	if [ "$1" = on ]; then
		taskset -pc 0 "$REDIS_PID" >/dev/null && CPU_PIN=(taskset -c 1)
	else
		taskset -pc "0-$((ncpu - 1))" "$REDIS_PID" >/dev/null
		CPU_PIN=()
	fi
}

# cpu_cmd MODE: CPU_CMD = the client command.
cpu_cmd() {
	case $1 in
	native) CPU_CMD=("${CPU_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$P2" "${T_TLS_FLAGS[@]}") ;;
	shim) CPU_CMD=("${CPU_PIN[@]}" env "${CPU_SHIM_ENV[@]}" redis-benchmark -h 127.0.0.1 -p "$P2") ;;
	plain) CPU_CMD=("${CPU_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$P1") ;;
	*) die "cpu_cmd: $1" ;;
	esac
}

# cpu_run N: one run of CPU_CMD CPU_ARGS with N requests under cpu_time; sets
# CPU_RUN_US (CPU µs) or returns 1.
cpu_run() {
	local n=$1 o=$T_TMP/cpu.out e=$T_TMP/cpu.err ru=$T_TMP/cpu.rusage u s
	rm -f "$ru"
	t_run_bg "$RB_TIMEOUT" "$o" "$e" "$OUTDIR/cpu_time" "$ru" "${CPU_CMD[@]}" "${CPU_ARGS[@]}" -n "$n"
	u=$(sed -n 's/.*user_us=\([0-9]*\).*/\1/p' "$ru" 2>/dev/null)
	s=$(sed -n 's/.*sys_us=\([0-9]*\).*/\1/p' "$ru" 2>/dev/null)
	measured "client CPU ($wl $mode, -n $n)" "$e" "$u" "$s" || return 1
	CPU_RUN_US=$((u + s))
}

# cpu_next_n WL MODE: requests for about TARGET seconds at the rate seen
# so far in the cell (CPU_N0 before any).
cpu_next_n() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${CPU_RPS["$1 $2"]:-})
	if [ -z "$m" ]; then
		echo "$CPU_N0"
		return
	fi
	awk "BEGIN { n = $m * $TARGET; if (n < $CPU_N0) n = $CPU_N0;
		if (n > 5000000) n = 5000000; printf \"%.0f\", n }"
}

# cpu_measure WL MODE ROUND
cpu_measure() {
	local wl=$1 mode=$2 round=$3 n full base us rps p50 p99 t0 o=$T_TMP/cpu.out
	cpu_wl "$wl"
	cpu_cmd "$mode"
	n=$(cpu_next_n "$wl" "$mode")
	cpu_run "$CPU_CLIENTS" || return 0
	base=$CPU_RUN_US
	[ "$wl" = g1 ] && t0=$(tick_count)
	cpu_run "$n" || return 0
	full=$CPU_RUN_US
	[ "$wl" = g1 ] && tick_stopped "g1 $mode" "$t0" "$(tick_count)"
	# redis-benchmark's summary: "throughput summary: R requests per
	# second", then "avg min p50 p95 p99 max" in ms
	rps=$(tr '\r' '\n' <"$o" | sed -n 's/.*throughput summary: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
	read -r p50 p99 < <(tr '\r' '\n' <"$o" | awk '/avg +min +p50 +p95 +p99 +max/ { getline; print $3 * 1000, $5 * 1000 }' | tail -1)
	if [ -z "$rps" ] || [ -z "$p50" ]; then
		log "client CPU ($wl $mode): no summary in redis-benchmark's output"
		FAILED=1
		return 0
	fi
	us=$(FMT=%.3f calc "($full - $base) / ($n - $CPU_CLIENTS)")
	CPU_US["$wl $mode"]+="$us "
	CPU_RPS["$wl $mode"]+="$rps "
	CPU_P50["$wl $mode"]+="$p50 "
	CPU_P99["$wl $mode"]+="$p99 "
	log "round $round cpu $(printf '%-4s %-7s n=%-8s' "$wl" "$mode" "$n") ${us} µs/request (set-up run ${base} µs) $rps req/s p50 ${p50} µs p99 ${p99} µs"
	printf '%s\tcpu_%s\tGET\t%s\t%s\t%s\tcpu_us_per_request\t%s\n' "$round" "$wl" "$mode" \
		"$n" "$us" "$rps" >>"$T_TMP/samples.tsv"
	printf '%s\tcpu_%s\tGET\t%s\t%s\t%s\tp50_us\t-\n' "$round" "$wl" "$mode" "$n" "$p50" >>"$T_TMP/samples.tsv"
	printf '%s\tcpu_%s\tGET\t%s\t%s\t%s\tp99_us\t-\n' "$round" "$wl" "$mode" "$n" "$p99" >>"$T_TMP/samples.tsv"
}

# epp_measure PATTERN ROUND: the kernel's part at one client
# (epoll_pattern.c): plaintext GETs to the plaintext port with the
# registration left as it is (steady: what the kernel sees through the
# shim), changed around every wait (perwait: redis-benchmark's own way), or
# left as it is with an unrelated registration deleted before each wait
# (steadydel), as many as g1 made natively in this round.
epp_measure() {
	local pat=$1 round=$2 o=$T_TMP/epp.out e=$T_TMP/epp.err n us wall t0
	n=$(cpu_next_n g1 native)
	t0=$(tick_count)
	t_run_bg "$RB_TIMEOUT" "$o" "$e" "${CPU_PIN[@]}" "$OUTDIR/epoll_pattern" "$pat" "$P1" "$n"
	tick_stopped "$pat" "$t0" "$(tick_count)"
	us=$(sed -n 's/.*cpu_us_per_request=\([0-9.]*\).*/\1/p' "$o")
	wall=$(sed -n 's/.*wall_us_per_request=\([0-9.]*\).*/\1/p' "$o")
	measured "epoll pattern ($pat, -n $n)" "$e" "$us" "$wall" || return 0
	EPP_US[$pat]+="$us "
	EPP_WALL[$pat]+="$wall "
	log "round $round cpu epoll $(printf '%-7s n=%-8s' "$pat" "$n") ${us} µs/request, ${wall} µs wall/request"
	printf '%s\tepoll_pattern\tGET\t%s\t%s\t%s\tcpu_us_per_request\t-\n' "$round" "$pat" \
		"$n" "$us" >>"$T_TMP/samples.tsv"
}

# rtt_measure MODE ROUND: one client's round trip as the program meets it
# (tests/clients/rtt.c: write, poll, read until the reply is whole), the
# same program natively (its own OpenSSL) and in plaintext through the
# shim, as many GETs as g1 made natively in this round.
rtt_measure() {
	local mode=$1 round=$2 o=$T_TMP/rtt.out e=$T_TMP/rtt.err n f v line
	local cmd=("${CPU_PIN[@]}" "$OUTDIR/rtt")
	n=$(cpu_next_n g1 native)
	case $mode in
	native) cmd+=(tls 127.0.0.1 "$P2" "$n" "$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key") ;;
	shim) cmd=("${CPU_PIN[@]}" env "${CPU_SHIM_ENV[@]}" "$OUTDIR/rtt" plain 127.0.0.1 "$P2" "$n") ;;
	*) die "rtt_measure: $mode" ;;
	esac
	t_run_bg "$RB_TIMEOUT" "$o" "$e" "${cmd[@]}"
	line=$(grep '^rtt: ' "$o")
	v=$(sed -n 's/.* p50_us=\([0-9.]*\).*/\1/p' <<<"$line")
	measured "round trip ($mode, -n $n)" "$e" "$v" "$v" || return 0
	for f in p50 p99 mean ready_p50; do
		v=$(sed -n "s/.* ${f}_us=\([0-9.]*\).*/\1/p" <<<"$line")
		RTT_US["$mode $f"]+="$v "
		printf '%s\trtt\tGET\t%s\t%s\t%s\t%s_us\t-\n' "$round" "$mode" "$n" "$v" "$f" \
			>>"$T_TMP/samples.tsv"
	done
	log "round $round cpu rtt  $(printf '%-7s' "$mode") ${line#rtt: }"
}

# cpu_round ROUND: every workload, native and the shim in an order that
# alternates with the round, then plaintext (the same client without TLS,
# to the plaintext port: a reference, not a mode of the goals); then the
# three epoll patterns, their order rotated too.
cpu_round() {
	local round=$1 wl
	[ "${#CPU_SHIM_ENV[@]}" -gt 0 ] || cpu_setup
	cpu_pin on
	for wl in "${CPU_WORKLOADS[@]}"; do
		if ((round % 2)); then
			cpu_measure "$wl" native "$round"
			cpu_measure "$wl" shim "$round"
		else
			cpu_measure "$wl" shim "$round"
			cpu_measure "$wl" native "$round"
		fi
		cpu_measure "$wl" plain "$round"
	done
	local pats=(perwait steady steadydel) i
	for i in 0 1 2; do
		epp_measure "${pats[$(((i + round) % 3))]}" "$round"
	done
	if ((round % 2)); then
		rtt_measure native "$round"
		rtt_measure shim "$round"
	else
		rtt_measure shim "$round"
		rtt_measure native "$round"
	fi
	cpu_pin off
}

# cpu_cell ARRAY KEY [FMT]: the median of a cell, or n/a.
cpu_cell() {
	local -n arr=$1
	local m
	# shellcheck disable=SC2086
	m=$(median ${arr["$2"]:-})
	if [ -n "$m" ]; then FMT=${3:-%.2f} calc "$m"; else echo n/a; fi
}

# tick_cell KEY: the median share of CPU_TICK[KEY], or - (not measured:
# the client not pinned, /proc/timer_list unreadable).
tick_cell() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${CPU_TICK["$1"]:-})
	if [ -n "$m" ]; then FMT=%.1f calc "$m"; else echo -; fi
}

# cpu_g1_means: "native shim", the mean µs per request at one client
# (1 / the median requests/s: finer than the histogram's buckets), or
# "n/a n/a".
cpu_g1_means() {
	local n s
	n=$(cpu_cell CPU_RPS "g1 native" %.6f)
	s=$(cpu_cell CPU_RPS "g1 shim" %.6f)
	case "$n$s" in
	*n/a*) echo "n/a n/a" ;;
	*) echo "$(FMT=%.1f calc "1000000 / $n") $(FMT=%.1f calc "1000000 / $s")" ;;
	esac
}

cpu_report() {
	local wl n s goal
	echo "Client cost per request (issue 14): the client process's CPU time (user + system,"
	echo "from wait4), µs per request, set-up left out (a run of one request per client"
	echo "subtracted); redis-benchmark GET, native TLS against plain redis-benchmark with the"
	echo "shim preloaded (its variables exported); medians of $ROUNDS alternated rounds;"
	echo "redis-server pinned to CPU 0 and the client to CPU 1 for these runs."
	echo
	echo "| workload | native TLS, µs/request | shim, µs/request | shim/native | goal | native req/s | shim req/s | shim/native | no TLS (plaintext port), µs/request | shim/no TLS |"
	echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"
	for wl in "${CPU_WORKLOADS[@]}"; do
		n=$(cpu_cell CPU_US "$wl native")
		s=$(cpu_cell CPU_US "$wl shim")
		case $wl in g50) goal="≤ 0.85" ;; g16) goal="≤ 0.90" ;; *) goal="≤ 0.80" ;; esac
		local rn rs p
		rn=$(cpu_cell CPU_RPS "$wl native" %.0f)
		rs=$(cpu_cell CPU_RPS "$wl shim" %.0f)
		p=$(cpu_cell CPU_US "$wl plain")
		echo "| $(cpu_label "$wl") | $n | $s | $(ratio "$s" "$n") | $goal | $rn | $rs | $(ratio "$rs" "$rn") | $p | $(ratio "$s" "$p") |"
	done
	echo
	echo "Latency at one client (redis-benchmark -c 1 GET, its histogram), µs:"
	echo
	echo "| percentile | native TLS | shim | shim/native | goal |"
	echo "|---|---:|---:|---:|---|"
	n=$(cpu_cell CPU_P50 "g1 native" %.0f)
	s=$(cpu_cell CPU_P50 "g1 shim" %.0f)
	echo "| p50 | $n | $s | $(ratio "$s" "$n") | ≤ 1.00 |"
	n=$(cpu_cell CPU_P99 "g1 native" %.0f)
	s=$(cpu_cell CPU_P99 "g1 shim" %.0f)
	echo "| p99 | $n | $s | $(ratio "$s" "$n") | - |"
	# the mean, from the throughput of one client: finer than the
	# histogram's buckets (8 µs wide at 64-128 µs)
	local mean_n mean_s
	read -r mean_n mean_s < <(cpu_g1_means)
	echo "| mean (1 / requests per second) | $mean_n | $mean_s | $(ratio "$mean_s" "$mean_n") | - |"
	echo
	echo "redis-benchmark's clock stops when the reply becomes readable, before its read; a"
	echo "native TLS client decrypts the reply in that read, outside the clock, while the shim"
	echo "has decrypted it before it calls the socket readable (plaintext must be there, not a"
	echo "ticket or half a record). One program measured both ways, to the reply in hand"
	echo "(tests/clients/rtt.c: GET, write, poll, read until the reply is whole; its own OpenSSL"
	echo "natively, plaintext through the shim; the same pinning, medians of the rounds), µs:"
	echo
	echo "| round trip | native TLS | shim | shim/native |"
	echo "|---|---:|---:|---:|"
	local f lbl
	for f in p50 p99 mean ready_p50; do
		case $f in
		p50) lbl="request to reply in hand, p50" ;;
		p99) lbl="request to reply in hand, p99" ;;
		mean) lbl="request to reply in hand, mean" ;;
		ready_p50) lbl="request to readable (redis-benchmark's clock), p50" ;;
		esac
		n=$(cpu_cell RTT_US "native $f" %.1f)
		s=$(cpu_cell RTT_US "shim $f" %.1f)
		echo "| $lbl | $n | $s | $(ratio "$s" "$n") |"
	done
	echo
	echo "What the kernel charges one client (scripts/bench-lib/epoll_pattern.c: no TLS, no"
	echo "shim, the same pinning, plaintext GETs one at a time): with the epoll registration left"
	echo "as it is, write-wait-read (what the kernel sees of a program through the shim), and"
	echo "changed around every wait, 5 epoll_ctl and 2 epoll_wait a request (redis-benchmark's"
	echo "own way, natively); with the share of the client CPU's sleeps on which the kernel"
	echo "stopped its periodic tick (NOHZ idle; /proc/timer_list, '-' where unreadable). Where"
	echo "stopping and restarting the tick is dear (it was on the VM this was written on), the"
	echo "loop that makes more system calls costs less: an EPOLL_CTL_DEL frees its registration"
	echo "through RCU, which (as we read the kernel) keeps the tick of a CPU with callbacks"
	echo "pending, so the per-wait loop's CPU stops its tick less often; the third loop deletes"
	echo "a registration that has nothing to do with the connection, to show that it is the"
	echo "deletion that counts. The one-client rows above carry that factor, whatever the"
	echo "shim's own code costs."
	echo
	echo "| one client | CPU µs/request | wall µs/request | sleeps with the tick stopped, % |"
	echo "|---|---:|---:|---:|"
	echo "| redis-benchmark, native TLS | $(cpu_cell CPU_US "g1 native") | $mean_n | $(tick_cell "g1 native") |"
	echo "| redis-benchmark through the shim | $(cpu_cell CPU_US "g1 shim") | $mean_s | $(tick_cell "g1 shim") |"
	local pw st
	n=$(cpu_cell EPP_US perwait)
	s=$(cpu_cell EPP_US steady)
	pw=$(cpu_cell EPP_WALL perwait %.1f)
	st=$(cpu_cell EPP_WALL steady %.1f)
	echo "| epoll_pattern, registration changed around every wait | $n | $pw | $(tick_cell perwait) |"
	echo "| epoll_pattern, registration left as it is | $s | $st | $(tick_cell steady) |"
	echo "| epoll_pattern, left as it is, an unrelated eventfd added and deleted before each wait | $(cpu_cell EPP_US steadydel) | $(cpu_cell EPP_WALL steadydel %.1f) | $(tick_cell steadydel) |"
	echo "| epoll_pattern, left as it is / changed | $(ratio "$s" "$n") | $(ratio "$st" "$pw") | - |"
}

# cpu_only_report: the markdown of `bench.sh --only cpu`.
cpu_only_report() {
	echo "### redis-tls-shim benchmark: what the client pays ($([ "$short" = 1 ] && echo short || echo full) run)"
	echo
	cpu_report
	echo
	machine
}
