# shellcheck shell=bash
# scripts/bench-lib/supcpu.sh - sourced by scripts/bench.sh: where the CPU
# goes for redis-benchmark GET -c 50, native TLS against the supervised
# path (issue 12).
#
# For each mode, one long redis-benchmark run; once its 50 connections are
# up (redis-server counts them) and a moment has passed, a window of
# SUPCPU_WIN seconds in the middle of the run: at both ends, the CPU time
# (user and system, /proc/PID/stat: every thread of the process, live or
# ended) of each process, the machine's CPU time (/proc/stat: busy and
# idle) and redis-server's count of commands processed (INFO over the
# plaintext port).  The run is then stopped (by its pid); the set-up is
# outside the window, so nothing has to be subtracted.  The processes:
#
#   client         redis-benchmark (native: with its own TLS; supervised:
#                  plain, its connections a loopback hop to the relay)
#   relay          the supervisor S (the second `redis-tls-ctl supervise`,
#                  child of the first): its relay thread does the TLS
#   rest of tree   everything else the bench started for the run (the
#                  supervisor's parent P, timeout(1)): about nothing
#   redis-server   the server, both modes alike
#
# No pinning: the same as the supervised table's runs.  From the figures,
# per mode, the ceiling: (CPUs) / (sum of the processes' CPU per request),
# the most requests/s these processes could make if no CPU were ever idle
# and nothing else ran; the supervised ceiling over native's measured
# throughput is the best supervised/native ratio the relay's cost allows.
# The two modes alternate with the round; medians over the rounds.
#
# Uses bench.sh's helpers and settings: median, calc, ratio, log, FAILED,
# T_TMP, T_TLS_FLAGS, SUPV, P1, P2, REDIS_PID, RB_TIMEOUT, short, ROUNDS.

SUPCPU_PROCS=(client relay rest server)
SUPCPU_WIN=3
SUPCPU_SETTLE=0.5
if [ "$short" = 1 ]; then
	SUPCPU_WIN=0.5
	SUPCPU_SETTLE=0.2
fi
SUPCPU_HZ=$(getconf CLK_TCK)
SUPCPU_NCPU=$(grep -c '^cpu[0-9]' /proc/stat)
declare -A SUPCPU=() # "MODE FIGURE" -> space-separated samples, one per round

# supcpu_info FIELD...: those fields of redis-server's INFO, one per line,
# in the order asked.
supcpu_info() {
	local out f
	out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$P1" INFO 2>/dev/null | tr -d '\r') || return 1
	for f in "$@"; do
		sed -n "s/^$f:\([0-9]*\)$/\1/p" <<<"$out" | head -1
	done
}

# supcpu_ticks PID: "UTIME STIME" of the process (clock ticks), or nothing
# when it is gone.
supcpu_ticks() {
	local line rest
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	rest=${line##*) } # after the command name, which may hold anything
	# shellcheck disable=SC2086
	set -- $rest
	echo "${12} ${13}"
}

# supcpu_tree ROOT MODE: SUPCPU_PID[client|relay] and SUPCPU_REST (the
# other pids) among ROOT and its descendants, found by parent pid.
declare -A SUPCPU_PID=()
SUPCPU_REST=()
supcpu_tree() {
	local root=$1 mode=$2 f line rest pid ppid comm
	local -A parent=() name=()
	local -a todo=("$root") all=()
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		pid=${line%% *}
		comm=${line#*(}
		comm=${comm%)*}
		rest=${line##*) }
		ppid=${rest#* }
		ppid=${ppid%% *}
		parent[$pid]=$ppid
		name[$pid]=$comm
	done
	while [ "${#todo[@]}" -gt 0 ]; do
		pid=${todo[0]}
		todo=("${todo[@]:1}")
		all+=("$pid")
		for f in "${!parent[@]}"; do
			[ "${parent[$f]}" = "$pid" ] && todo+=("$f")
		done
	done
	SUPCPU_PID=()
	SUPCPU_REST=()
	for pid in "${all[@]}"; do
		comm=${name[$pid]:-}
		ppid=${parent[$pid]:-}
		if [ "$comm" = redis-benchmar ] || [ "$comm" = redis-benchmark ]; then
			SUPCPU_PID[client]=$pid
		elif [ "$mode" = supervised ] && [ "$comm" = redis-tls-ctl ] &&
			[ "${name[$ppid]:-}" = redis-tls-ctl ]; then
			SUPCPU_PID[relay]=$pid
		else
			SUPCPU_REST+=("$pid")
		fi
	done
	[ -n "${SUPCPU_PID[client]:-}" ] || return 1
	[ "$mode" != supervised ] || [ -n "${SUPCPU_PID[relay]:-}" ]
}

# supcpu_snap: SNAP[PROC] = "UTIME STIME" (ticks) of each process,
# SNAP[busy], SNAP[idle] (the machine's ticks), SNAP[cmds] (redis-server's
# commands processed), SNAP[t] (µs).  Returns 1 when a process is gone.
declare -A SNAP=()
supcpu_snap() {
	local p v u=0 s=0 user nice sys idle iow irq sirq steal
	SNAP=()
	for p in client relay; do
		[ -n "${SUPCPU_PID[$p]:-}" ] || { SNAP[$p]="0 0"; continue; }
		SNAP[$p]=$(supcpu_ticks "${SUPCPU_PID[$p]}") || return 1
	done
	SNAP[server]=$(supcpu_ticks "$REDIS_PID") || return 1
	for p in "${SUPCPU_REST[@]}"; do
		v=$(supcpu_ticks "$p") || continue
		u=$((u + ${v% *})) s=$((s + ${v#* }))
	done
	SNAP[rest]="$u $s"
	read -r _ user nice sys idle iow irq sirq steal _ </proc/stat
	SNAP[busy]=$((user + nice + sys + irq + sirq + steal))
	SNAP[idle]=$((idle + iow))
	SNAP[t]=${EPOCHREALTIME/./}
	SNAP[cmds]=$(supcpu_info total_commands_processed)
	[ -n "${SNAP[cmds]}" ]
}

# supcpu_wait_up TIMEOUT_S: until redis-server has 50 clients besides
# ours (redis-cli's) and they are making requests.
supcpu_wait_up() {
	local end=$((SECONDS + $1)) c0="" got conn cmds
	while [ "$SECONDS" -lt "$end" ]; do
		kill -0 "$SUPCPU_JOB" 2>/dev/null || return 1
		got=$(supcpu_info connected_clients total_commands_processed)
		conn=${got%%$'\n'*} cmds=${got##*$'\n'}
		if [ -n "$conn" ] && [ "$conn" -ge 51 ]; then
			[ -n "$c0" ] && [ "$cmds" -gt "$((c0 + 100))" ] && return 0
			c0=$cmds
		fi
		sleep 0.05
	done
	return 1
}

# supcpu_measure MODE ROUND
supcpu_measure() {
	local mode=$1 round=$2 o=$T_TMP/supcpu.out e=$T_TMP/supcpu.err p ok=1
	local -a cmd
	local -A A=()
	case $mode in
	native) cmd=(redis-benchmark -h 127.0.0.1 -p "$P2" "${T_TLS_FLAGS[@]}") ;;
	supervised) cmd=("${SUPV[@]}" redis-benchmark -h 127.0.0.1 -p "$P2") ;;
	*) die "supcpu_measure: $mode" ;;
	esac
	# far more requests than the window takes: stopped after it
	timeout -k 5 "$RB_TIMEOUT" "${cmd[@]}" -c 50 -t get -n 50000000 -q </dev/null >"$o" 2>"$e" &
	SUPCPU_JOB=$!
	if ! supcpu_wait_up 60 || ! sleep "$SUPCPU_SETTLE" ||
		! supcpu_tree "$SUPCPU_JOB" "$mode" || ! supcpu_snap; then
		ok=0
	else
		# shellcheck disable=SC2034  # read by supcpu_record, by name
		for p in "${!SNAP[@]}"; do A[$p]=${SNAP[$p]}; done
		sleep "$SUPCPU_WIN"
		supcpu_snap || ok=0
	fi
	# the client's end ends the run (the supervisor's too)
	if [ -n "${SUPCPU_PID[client]:-}" ]; then
		kill -TERM "${SUPCPU_PID[client]}" 2>/dev/null
	else
		kill -TERM "$SUPCPU_JOB" 2>/dev/null
	fi
	wait "$SUPCPU_JOB"
	if [ "$ok" = 0 ]; then
		log "supervisor CPU ($mode): no window measured (the run ended, or did not get going):"
		tail -3 "$e" >&2
		FAILED=1
		return 0
	fi
	supcpu_record "$mode" "$round" A
}

# supcpu_record MODE ROUND BEFORE: the figures from the snapshot BEFORE
# (an array name) to SNAP.
supcpu_record() {
	local mode=$1 round=$2 p b a du ds sum=0 req wall rps idle ceil line ours=0 total other
	local -n before=$3
	local c0=${before[cmds]} c1=${SNAP[cmds]} t0=${before[t]} t1=${SNAP[t]}
	local i0=${before[idle]} i1=${SNAP[idle]} b0=${before[busy]} b1=${SNAP[busy]}
	req=$((c1 - c0 - 1)) # less our INFO
	wall=$((t1 - t0))
	if [ "$req" -le 0 ] || [ "$wall" -le 0 ]; then
		log "supervisor CPU ($mode): no requests in the window"
		FAILED=1
		return 0
	fi
	line="round $round supcpu $(printf '%-10s' "$mode") $req requests in $((wall / 1000)) ms:"
	for p in "${SUPCPU_PROCS[@]}"; do
		b=${before[$p]} a=${SNAP[$p]}
		du=$(FMT=%.3f calc "(${a% *} - ${b% *}) * 1000000 / $SUPCPU_HZ / $req")
		ds=$(FMT=%.3f calc "(${a#* } - ${b#* }) * 1000000 / $SUPCPU_HZ / $req")
		SUPCPU["$mode $p user"]+="$du "
		SUPCPU["$mode $p sys"]+="$ds "
		SUPCPU["$mode $p total"]+="$(FMT=%.3f calc "$du + $ds") "
		sum=$(FMT=%.3f calc "$sum + $du + $ds")
		ours=$((ours + ${a% *} - ${b% *} + ${a#* } - ${b#* }))
		line+=" $p $du+$ds"
		printf '%s\tsupcpu_g50\tGET\t%s\t%s\t%s\t%s_user_us_per_request\t-\n' "$round" "$mode" "$req" "$du" "$p" >>"$T_TMP/samples.tsv"
		printf '%s\tsupcpu_g50\tGET\t%s\t%s\t%s\t%s_sys_us_per_request\t-\n' "$round" "$mode" "$req" "$ds" "$p" >>"$T_TMP/samples.tsv"
	done
	rps=$(FMT=%.1f calc "$req * 1000000 / $wall")
	local didle=$((i1 - i0)) dbusy=$((b1 - b0))
	total=$((didle + dbusy))
	idle=$(FMT=%.4f calc "$didle / $total")
	# busy, but not in these processes: the machine's other tenants, and
	# kernel time (interrupts) charged to no process
	other=$(FMT=%.4f calc "($dbusy - $ours) / $total")
	ceil=$(FMT=%.1f calc "$SUPCPU_NCPU * 1000000 / $sum")
	SUPCPU["$mode sum"]+="$sum "
	SUPCPU["$mode rps"]+="$rps "
	SUPCPU["$mode idle"]+="$idle "
	SUPCPU["$mode other"]+="$other "
	SUPCPU["$mode ceiling"]+="$ceil "
	log "$line = $sum µs/request; $rps req/s, idle $idle, other $other, ceiling $ceil req/s"
	{
		printf '%s\tsupcpu_g50\tGET\t%s\t%s\t%s\tsum_us_per_request\t-\n' "$round" "$mode" "$req" "$sum"
		printf '%s\tsupcpu_g50\tGET\t%s\t%s\t%s\trequests_per_s\t-\n' "$round" "$mode" "$req" "$rps"
		printf '%s\tsupcpu_g50\tGET\t%s\t%s\t%s\tidle_share\t-\n' "$round" "$mode" "$req" "$idle"
		printf '%s\tsupcpu_g50\tGET\t%s\t%s\t%s\tother_busy_share\t-\n' "$round" "$mode" "$req" "$other"
		printf '%s\tsupcpu_g50\tGET\t%s\t%s\t%s\tceiling_requests_per_s\t-\n' "$round" "$mode" "$req" "$ceil"
	} >>"$T_TMP/samples.tsv"
}

# supcpu_round ROUND: both modes, their order alternating with the round.
supcpu_round() {
	if (($1 % 2)); then
		supcpu_measure native "$1"
		supcpu_measure supervised "$1"
	else
		supcpu_measure supervised "$1"
		supcpu_measure native "$1"
	fi
}

# supcpu_cell MODE FIGURE [FMT]: the median, or n/a.
supcpu_cell() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${SUPCPU["$1 $2"]:-})
	if [ -n "$m" ]; then FMT=${3:-%.2f} calc "$m"; else echo n/a; fi
}

supcpu_label() {
	case $1 in
	client) echo "client (redis-benchmark)" ;;
	relay) echo "relay (the supervisor S, redis-tls-ctl)" ;;
	rest) echo "rest of the run's tree (supervisor's parent P, timeout)" ;;
	server) echo "redis-server" ;;
	esac
}

supcpu_report() {
	local p n s nu ns su ss k
	echo "Where the CPU goes, GET with 50 clients (issue 12): CPU time per request (µs, user +"
	echo "system, /proc/PID/stat) of each process, over a ${SUPCPU_WIN} s window in the middle of a long"
	echo "redis-benchmark run (set-up outside it), requests counted by redis-server; native TLS"
	echo "against plain redis-benchmark under the supervisor; medians of $ROUNDS alternated rounds,"
	echo "no pinning, $SUPCPU_NCPU CPUs."
	echo
	echo "| process | native user | native system | native total | supervised user | supervised system | supervised total | supervised − native |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for p in "${SUPCPU_PROCS[@]}"; do
		nu=$(supcpu_cell native "$p user") ns=$(supcpu_cell native "$p sys")
		n=$(supcpu_cell native "$p total")
		su=$(supcpu_cell supervised "$p user") ss=$(supcpu_cell supervised "$p sys")
		s=$(supcpu_cell supervised "$p total")
		if [ "$p" = relay ]; then nu=- ns=- n=-; k=$s; else
			case "$n$s" in *n/a*) k=n/a ;; *) k=$(FMT=%.2f calc "$s - $n") ;; esac
		fi
		echo "| $(supcpu_label "$p") | $nu | $ns | $n | $su | $ss | $s | $k |"
	done
	n=$(supcpu_cell native sum) s=$(supcpu_cell supervised sum)
	case "$n$s" in *n/a*) k=n/a ;; *) k=$(FMT=%.2f calc "$s - $n") ;; esac
	echo "| sum, µs/request | | | $n | | | $s | $k |"
	local ni si nr sr nc sc
	ni=$(supcpu_cell native idle %.4f) si=$(supcpu_cell supervised idle %.4f)
	case "$ni" in n/a) ;; *) ni=$(FMT=%.1f calc "$ni * 100") ;; esac
	case "$si" in n/a) ;; *) si=$(FMT=%.1f calc "$si * 100") ;; esac
	echo "| machine's CPU time idle, % | | | $ni | | | $si | |"
	ni=$(supcpu_cell native other %.4f) si=$(supcpu_cell supervised other %.4f)
	case "$ni" in n/a) ;; *) ni=$(FMT=%.1f calc "$ni * 100") ;; esac
	case "$si" in n/a) ;; *) si=$(FMT=%.1f calc "$si * 100") ;; esac
	echo "| machine's CPU time busy outside these processes (other tenants, unattributed kernel time), % | | | $ni | | | $si | |"
	nr=$(supcpu_cell native rps %.0f) sr=$(supcpu_cell supervised rps %.0f)
	echo "| measured, requests/s | | | $nr | | | $sr | $(ratio "$sr" "$nr") (ratio) |"
	nc=$(supcpu_cell native ceiling %.0f) sc=$(supcpu_cell supervised ceiling %.0f)
	echo "| ceiling ($SUPCPU_NCPU CPUs / sum), requests/s | | | $nc | | | $sc | $(ratio "$sc" "$nc") (ratio) |"
	echo
	echo "Supervised ceiling / native measured: $(ratio "$sc" "$nr") (the best supervised/native ratio the"
	echo "relay's CPU per request allows, when nothing else runs: compare the busy-outside row;"
	echo "goal ≥ 0.8); supervised ceiling / native ceiling: $(ratio "$sc" "$nc") (the same bound, whatever"
	echo "else the machine runs); measured / ceiling: native $(ratio "$nr" "$nc"), supervised $(ratio "$sr" "$sc")."
	echo "The user/system split is the kernel's (tick-sampled, scaled to the scheduler's exact"
	echo "total), so only the totals are exact."
}
