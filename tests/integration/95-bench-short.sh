#!/bin/bash
# make bench works: `scripts/bench.sh --short` runs to the end and prints a
# well-formed table with every cell measured, the supervised path's table
# (issue 12), the extras of issue 4, the slow-link and client-language
# tables (issue 14) and the machine it ran on, and writes the same markdown
# to its --out file; `--only cpu` prints the client-cost tables alone.  The figures themselves are never judged here: CI
# machines are noisy.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

OUT=$T_TMP/bench/results.md
INT='^[0-9]+$'
DEC='^[0-9]+\.[0-9]+$'
NUM='^[0-9]+(\.[0-9]+)?$'
SDEC='^-?[0-9]+\.[0-9]+$'

# table_rows HEADER_START: the data rows of the markdown table whose header
# line starts with HEADER_START (its separator line skipped).
table_rows() {
	awk -v h="$1" '
		index($0, h) == 1 { on = 1; getline; next }
		on && /^\|/ { print; next }
		on { exit }' <<<"$T_OUT"
}

trim() { sed 's/^[[:space:]]*//; s/[[:space:]]*$//' <<<"$1"; }

# check_cells ROW RE...: ROW's cells after the label match the REs in order
# (one per cell, no more cells than REs).
check_cells() {
	local row=$1 label i cell
	shift
	local -a cells
	IFS='|' read -r -a cells <<<"$row"
	# cells[0] is empty (before the first |), cells[1] the label
	label=$(trim "${cells[1]}")
	if [ $((${#cells[@]} - 2)) -ne $# ]; then
		fail "row '$label': $((${#cells[@]} - 2)) cells, expected $#"
		return 1
	fi
	for ((i = 2; i < ${#cells[@]}; i++)); do
		cell=$(trim "${cells[$i]}")
		if ! [[ $cell =~ $1 ]]; then
			fail "row '$label', column $((i - 1)): '$cell' is not a measured figure"
		fi
		shift
	done
}

case_runs() {
	T_TIMEOUT=270 t_run "$T_ROOT/scripts/bench.sh" --short --out "$OUT"
	assert_rc 0 "scripts/bench.sh --short" || return
	assert_not_contains "$T_OUT" "n/a" "the tables"
}

# table_of HEADER_START N WHAT: ROWS = the data rows of that table, which
# must be N.
table_of() {
	ROWS=$(table_rows "$1")
	assert_eq "$2" "$(grep -c . <<<"$ROWS")" "rows in $3"
}

# check_rows RE...: check_cells RE... on every row of ROWS.
check_rows() {
	local row
	while IFS= read -r row; do
		check_cells "$row" "$@"
	done <<<"$ROWS"
}

case_main_table() {
	table_of "| workload |" 7 "the main table" || return
	for label in "GET" "SET" "GET, -P 16" "SET, -P 16" "GET, 1 KiB values" \
		"SET, 1 KiB values" "GET, -k 0"; do
		grep -q "^| $label" <<<"$ROWS" || fail "no row '$label' in the main table"
	done
	# plaintext native shim stunnel (req/s), shim/native, shim/stunnel
	check_rows "$INT" "$INT" "$INT" "$INT" "$DEC" "$DEC"
}

case_supervised_table() {
	table_of "| workload | native TLS | stunnel | supervised |" 6 "the supervised table" || return
	for label in "GET" "SET" "GET, -P 16" "SET, -P 16" "GET, 1 KiB values" "SET, 1 KiB values"; do
		grep -q "^| $label |" <<<"$ROWS" || fail "no row '$label' in the supervised table"
	done
	# native stunnel supervised (req/s), supervised/native, supervised/stunnel
	check_rows "$INT" "$INT" "$INT" "$DEC" "$DEC"
	assert_contains "$T_OUT" "supervised/stunnel ≥ 2" "the supervised goals"
}

case_supcpu_table() {
	table_of "| process | native user |" 9 "the supervisor CPU table" || return
	local label
	for label in "client (redis-benchmark)" "relay (" "redis-server" "sum, µs/request" \
		"machine's CPU time idle" "measured, requests/s" "ceiling ("; do
		grep -qF "| $label" <<<"$ROWS" || fail "no row '$label' in the supervisor CPU table"
	done
	check_cells "$(grep -F '| client (' <<<"$ROWS")" "$DEC" "$DEC" "$DEC" "$DEC" "$DEC" "$DEC" "$SDEC"
	check_cells "$(grep -F '| relay (' <<<"$ROWS")" "^-$" "^-$" "^-$" "$DEC" "$DEC" "$DEC" "$SDEC"
	check_cells "$(grep -F '| redis-server' <<<"$ROWS")" "$DEC" "$DEC" "$DEC" "$DEC" "$DEC" "$DEC" "$SDEC"
	check_cells "$(grep -F '| ceiling (' <<<"$ROWS")" "^$" "^$" "$INT" "^$" "^$" "$INT" '^[0-9]+\.[0-9]+ \(ratio\)$'
	assert_match "$T_OUT" '^Supervised ceiling / native measured: [0-9]+\.[0-9]+ ' "the supervisor CPU bound"
}

case_cpu_table() {
	table_of "| workload | native TLS, µs/request |" 3 "the client CPU table" || return
	for label in "GET, 50 clients" "GET, 50 clients, -P 16" "GET, 1 client"; do
		grep -q "^| $label |" <<<"$ROWS" || fail "no row '$label' in the client CPU table"
	done
	# native, shim (µs/request), ratio, goal (text), native, shim (req/s),
	# ratio, no TLS (µs/request), ratio
	check_rows "$DEC" "$DEC" "$DEC" "." "$INT" "$INT" "$DEC" "$DEC" "$DEC"
}

case_latency_table() {
	table_of "| percentile |" 3 "the latency table" || return
	assert_contains "$ROWS" "| p50 |" "the latency table"
	assert_contains "$ROWS" "| p99 |" "the latency table"
	assert_contains "$ROWS" "| mean (1 / requests per second) |" "the latency table"
	# native, shim (µs), ratio, goal (text)
	check_rows "$NUM" "$NUM" "$DEC" "."
}

case_rtt_table() {
	table_of "| round trip |" 4 "the round-trip table" || return
	local label
	for label in "request to reply in hand, p50" "request to reply in hand, p99" \
		"request to reply in hand, mean" "request to readable (redis-benchmark's clock), p50"; do
		assert_contains "$ROWS" "| $label |" "the round-trip table"
	done
	# native, shim (µs), ratio
	check_rows "$DEC" "$DEC" "$DEC"
}

case_epoll_pattern_table() {
	local tick='^([0-9]+\.[0-9]+|-)$' label
	table_of "| one client |" 6 "the one-client kernel table" || return
	for label in "redis-benchmark, native TLS" "redis-benchmark through the shim" \
		"epoll_pattern, registration changed around every wait" \
		"epoll_pattern, registration left as it is" \
		"epoll_pattern, left as it is, an unrelated eventfd added and deleted before each wait"; do
		assert_contains "$ROWS" "| $label |" "the one-client kernel table"
	done
	# CPU µs, wall µs, the share of sleeps with the tick stopped (-
	# where /proc/timer_list cannot be read); the last row two ratios
	while IFS= read -r row; do
		case $row in
		*"/ changed"*) check_cells "$row" "$DEC" "$DEC" "^-$" ;;
		*) check_cells "$row" "$DEC" "$DEC" "$tick" ;;
		esac
	done <<<"$ROWS"
}

case_extras_table() {
	table_of "| measure |" 6 "the extras table" || return
	assert_contains "$ROWS" "not configured" "the extras table"
	assert_contains "$ROWS" "/bin/true" "the extras table"
	assert_contains "$ROWS" "idle TLS connection" "the extras table"
	assert_contains "$ROWS" "kernel slab growth" "the extras table"
	assert_contains "$ROWS" "with the socketpair counted" "the extras table"
	# without, with, ratio, goal (text)
	check_rows "$NUM" "$NUM" "$DEC" "."
}

case_relay_table() {
	table_of "| workload | fast path" 2 "the relay table" || return
	assert_contains "$ROWS" "GET, 1 at a time" "the relay table"
	assert_contains "$ROWS" "GET, 16 at a time" "the relay table"
	# fast path, relay (req/s), relay/fast
	check_rows "$INT" "$INT" "$DEC"
}

case_slowlink_table() {
	table_of "| new connection to first reply over" 2 "the slow-link table" || return
	assert_contains "$ROWS" "| full handshake |" "the slow-link table"
	assert_contains "$ROWS" "| resumed " "the slow-link table"
	# native shim supervised (ms), shim − native, supervised − native (ms)
	check_rows "$DEC" "$DEC" "$DEC" "$SDEC" "$SDEC"
	assert_contains "$T_OUT" "shim − native ≤ 1 ms" "the slow-link goal"
}

case_clients_table() {
	table_of "| client | loop |" 10 "the clients table" || return
	local c
	for c in redis-py ioredis node-redis redis-rb phpredis; do
		assert_eq 2 "$(grep -c "^| $c | " <<<"$ROWS")" "rows of $c in the clients table"
	done
	# the loop (text), plaintext, own TLS, shim (req/s), shim/own TLS,
	# plaintext/own TLS, client CPU per GET (own TLS, shim)
	check_rows "GETs$" "$INT" "$INT" "$INT" "$DEC" "$DEC" "$DEC" "$DEC"
	assert_contains "$T_OUT" "shim/own TLS ≥ 1.00" "the clients goal"
}

case_machine() {
	assert_match "$T_OUT" '^- machine: [0-9]+ CPUs, .+, Linux ' "the machine line"
	assert_match "$T_OUT" '^- software: OpenSSL [0-9].*redis-server .*[0-9]+\.[0-9]+.*stunnel [0-9]' \
		"the software line"
	assert_match "$T_OUT" '^- date: [0-9]{4}-[0-9]{2}-[0-9]{2} ' "the date line"
}

case_file() {
	[ -s "$OUT" ] || { fail "$OUT not written"; return 1; }
	assert_eq "$T_OUT" "$(cat "$OUT")" "the --out file against stdout"
	[ -s "$(dirname "$OUT")/samples.tsv" ] || fail "no samples.tsv beside $OUT"
}

case_nothing_left() {
	# every server and tunnel it started is gone, and its scratch folder
	local scratch
	scratch=$(sed -n 's/.*scratch folder \(.*\)$/\1/p' <<<"$T_ERR" | head -1)
	[ -n "$scratch" ] || { fail "bench.sh did not name its scratch folder"; return 1; }
	[ ! -e "$scratch" ] || fail "$scratch left behind"
	assert_eq "" "$(pgrep -f -- "$scratch" 2>/dev/null)" "processes started by bench.sh still running"
}

t_case "bench.sh --short completes" case_runs
t_case "main table: every workload, every cell measured" case_main_table
t_case "supervised table: GET and SET, -c 50, -P 16 and 1 KiB values, every cell measured" \
	case_supervised_table
t_case "supervisor CPU table (issue 12): client, relay, redis-server, idle, ceiling, every cell measured" \
	case_supcpu_table
t_case "client CPU table (issue 14): every workload, every cell measured" case_cpu_table
t_case "latency at one client: p50 and p99 measured" case_latency_table
t_case "one-client round trip, one program both ways: every cell measured" case_rtt_table
t_case "one-client kernel table: redis-benchmark and the three epoll patterns, every cell measured" \
	case_epoll_pattern_table
t_case "extras table: every cell measured" case_extras_table
t_case "relay table: both workloads, every cell measured" case_relay_table
t_case "slow-link table (issue 14): full and resumed, every cell measured" case_slowlink_table
t_case "clients table (issue 14): five libraries, both loops, every cell measured" \
	case_clients_table
t_case "machine, software and date" case_machine
t_case "--out file and samples written" case_file
t_case "servers, tunnel and scratch folder gone" case_nothing_left

# --only cpu: the client-cost tables and the machine, nothing else
case_only_cpu() {
	T_TIMEOUT=120 t_run "$T_ROOT/scripts/bench.sh" --short --only cpu --out "$T_TMP/cpu/results.md"
	assert_rc 0 "scripts/bench.sh --short --only cpu" || return
	assert_not_contains "$T_OUT" "n/a" "the tables"
	case_cpu_table
	case_latency_table
	case_rtt_table
	case_epoll_pattern_table
	case_machine
	assert_not_contains "$T_OUT" "| workload | plaintext |" "--only cpu's output (the main table)"
	assert_not_contains "$T_OUT" "| client | loop |" "--only cpu's output (the clients table)"
}
t_case "--only cpu: the client-cost tables alone, every cell measured" case_only_cpu
t_case "servers and scratch folder of --only cpu gone" case_nothing_left
t_done
