#!/bin/bash
# redis-benchmark, unmodified (plaintext; never its own --tls), through
# scripts/redis-tls-run against a TLS-only redis-server that requires client
# certificates: one client, 50, 500, pipelines of 16 and 64, a new
# connection per request (-k 0), two threads, 100 kB values.
#
#   tests/integration/15-benchmark.sh [--plain]
#
# Each case checks what a user would see: the benchmark exits 0 and reports
# a rate, with no error line from it or from the shim; and what the server
# saw, read afterwards by a native TLS client: every request was executed
# exactly once (an INCR counter equals -n; INFO commandstats deltas), with
# -k 0 one connection per request, values of 100000 bytes stored whole, and
# a binary one (-x) byte-exact.
# --plain runs the same cases against a plaintext redis-server without the
# shim, to tell a wrong test from a shim bug.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
MODE=tls
[ "${1:-}" = --plain ] && MODE=plain
source "$(dirname "$0")/../../scripts/testlib.sh"

if [ "$MODE" = plain ]; then
	start_plain_redis || t_done
	PORT=$PLAIN_PORT
	RUN=()
	srv() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }
else
	t_require_shim
	start_tls_redis || t_done
	PORT=$REDIS_PORT
	RUN=("${SHIM[@]}")
	srv() { rcli_native "$@"; }
fi

# -c 500 needs 500 sockets and more: raise the soft limit if it is low.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 2048 ]; then
	ulimit -n 2048 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

RATES=()

# stat_of SECTION FIELD: a number from INFO SECTION (native client).
stat_of() {
	srv INFO "$1" | tr -d '\r' | sed -n "s/^$2:\([0-9]*\).*/\1/p"
}

# cmd_calls CMD: how many times the server executed CMD so far.
cmd_calls() {
	local n
	n=$(srv INFO commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p")
	echo "${n:-0}"
}

# bench ROWS ARGS...: redis-benchmark ARGS --csv through the shim; it must
# exit 0, print ROWS result rows each with a rate > 0, and no error line
# from itself or the shim.  Records the rates in RATES.
bench() {
	local rows=$1 data n name rps
	shift
	t_run "${RUN[@]}" redis-benchmark -h 127.0.0.1 -p "$PORT" --csv "$@"
	assert_rc 0 "redis-benchmark $*" || return
	assert_eq "" "$(grep -aiE 'error|Connection reset|Broken pipe' <<<"$T_ERR$T_OUT")" \
		"error lines from redis-benchmark" || return
	assert_eq "" "$(shim_log_lines "$T_ERR" | grep -iE 'error|warning')" \
		"the shim's error/warning lines" || return
	data=$(grep -a '^"' <<<"$T_OUT" | grep -av '^"test"')
	n=$(grep -c . <<<"$data")
	assert_eq "$rows" "$n" "result rows in --csv output ($(t_short "$T_OUT"))" || return
	while IFS=, read -r name rps _; do
		name=${name//\"/} rps=${rps//\"/}
		if ! awk -v r="$rps" 'BEGIN { exit !(r + 0 > 0) }'; then
			fail "$name: no rate ('$rps')"
			return 1
		fi
		RATES+=("$(printf "%-58s %10s req/s  %s" "$T_CASE" "$rps" "${name%% *}")")
	done <<<"$data"
}

# bench_incr N ARGS...: redis-benchmark -n N ARGS running INCR on a key of
# its own; afterwards the key must hold exactly N (every request executed
# once, none lost, none repeated).
bench_incr() {
	local n=$1 key
	shift
	key=bench:$(marker)
	bench 1 -n "$n" "$@" INCR "$key" || return
	assert_eq "$n" "$(srv GET "$key")" "the counter after $n INCRs (native client)"
}

case_c1() { bench_incr 5000 -c 1; }
case_c50() { bench_incr 20000 -c 50; }
case_c500() { bench_incr 20000 -c 500; }
case_p16() { bench_incr 96000 -c 20 -P 16; }
case_p64() { bench_incr 192000 -c 10 -P 64; }
case_threads() { bench_incr 40000 -c 20 --threads 2; }

case_k0() {
	local before after n=200
	before=$(stat_of stats total_connections_received)
	bench_incr "$n" -c 4 -k 0 || return
	after=$(stat_of stats total_connections_received)
	# One connection per request, plus the benchmark's own set-up ones.
	if [ $((after - before)) -lt "$n" ]; then
		fail "the server accepted $((after - before)) connections for $n requests with -k 0"
	fi
}

case_d100000() {
	local n=1000 sets gets want got
	sets=$(cmd_calls set) gets=$(cmd_calls get)
	bench 2 -n "$n" -c 10 -d 100000 -t set,get || return
	assert_eq "$n" "$(($(cmd_calls set) - sets))" "SETs the server executed" || return
	assert_eq "$n" "$(($(cmd_calls get) - gets))" "GETs the server executed" || return
	# redis-benchmark makes up the value itself (random printable bytes):
	# the server must hold all 100000 of them.
	assert_eq 100000 "$(srv STRLEN key:__rand_int__)" "STRLEN of the stored value (native client)"
}

case_x100000() {
	local n=500 key val=$T_TMP/value.bin want got
	# A value of our own, binary, given to redis-benchmark with -x: what
	# the server stores must be byte-exact.  (-x stops at a NUL byte, so
	# there is none; CR, LF and bytes >= 0x80 are there.)
	key=bench:$(marker)
	head -c 400000 /dev/urandom | tr -d '\0' | head -c 100000 >"$val"
	assert_eq 100000 "$(stat -c %s "$val")" "test value size" || return
	bench 1 -n "$n" -c 10 -x SET "$key" <"$val" || return
	want=$(sha256sum <"$val" | cut -d' ' -f1)
	got=$(srv --raw GET "$key" | head -c 100000 | sha256sum | cut -d' ' -f1)
	assert_eq "$want" "$got" "sha256 of the stored value (native client)"
}

# One client: redis's event loop deletes and re-adds its registration on
# every request.  REDIS_TLS_EPOLL_DELETE=keep keeps those deletions from
# the kernel (no epoll_ctl a request), pass passes them on (4 a request,
# as natively), auto measures which costs the process less and says so
# at debug; every way executes every request once.
# deletions_run WAY N: redis-benchmark -c 1 -n N INCR under strace -c with
# REDIS_TLS_EPOLL_DELETE=WAY and the log at debug; CTL = its epoll_ctl
# calls.
deletions_run() {
	local way=$1 n=$2 key counts=$T_TMP/deletions.strace
	key=bench:$(marker)
	t_run "${RUN[@]}" env REDIS_TLS_EPOLL_DELETE="$way" REDIS_TLS_LOG_LEVEL=debug \
		strace -f -qq -c -e trace=epoll_ctl -o "$counts" \
		redis-benchmark -h 127.0.0.1 -p "$PORT" -c 1 -n "$n" INCR "$key"
	assert_rc 0 "redis-benchmark -c 1 with REDIS_TLS_EPOLL_DELETE=$way" || return
	assert_eq "$n" "$(srv GET "$key")" "the counter after $n INCRs (native client)" || return
	CTL=$(awk '$NF == "epoll_ctl" { print $4 }' "$counts")
	[[ $CTL =~ ^[0-9]+$ ]] || { fail "no epoll_ctl count in strace's summary: $(t_short "$(cat "$counts")")"; return 1; }
}

case_deletions_kept() {
	deletions_run keep 2000 || return
	[ "$CTL" -lt 100 ] || fail "$CTL epoll_ctl calls for 2000 requests with the deletions kept"
	assert_not_contains "$T_ERR" "epoll deletions:" "the log (a fixed way is never measured)"
}

case_deletions_passed() {
	deletions_run pass 2000 || return
	[ "$CTL" -ge 6000 ] || fail "$CTL epoll_ctl calls for 2000 requests with the deletions passed on"
}

case_deletions_measured() {
	local first
	deletions_run auto 6000 || return
	# 12000 waits: a window of set-up, six measured, then 32 in one way
	first=$(grep -aoE 'epoll deletions: (kept|passed on) for 32 x 256 waits' <<<"$T_ERR" | head -1)
	case $first in
	*kept*) [ "$CTL" -lt 12000 ] || fail "chose to keep the deletions, yet $CTL epoll_ctl calls for 6000 requests" ;;
	*passed*) [ "$CTL" -gt 12000 ] || fail "chose to pass the deletions on, yet only $CTL epoll_ctl calls for 6000 requests" ;;
	*) fail "no choice in the log at debug: $(t_short "$(shim_log_lines "$T_ERR")")" ;;
	esac
}

t_case "redis-benchmark -c 1 (INCR x5000)" case_c1
if [ "$MODE" = tls ]; then
	t_case "redis-benchmark -c 1, REDIS_TLS_EPOLL_DELETE=keep: no epoll_ctl a request" case_deletions_kept
	t_case "redis-benchmark -c 1, REDIS_TLS_EPOLL_DELETE=pass: the deletions reach the kernel" \
		case_deletions_passed
	t_case "redis-benchmark -c 1, REDIS_TLS_EPOLL_DELETE=auto: measured, chosen, logged" \
		case_deletions_measured
fi
t_case "redis-benchmark -c 50 (INCR x20000)" case_c50
t_case "redis-benchmark -c 500 (INCR x20000)" case_c500
t_case "redis-benchmark -P 16 (INCR x96000)" case_p16
t_case "redis-benchmark -P 64 (INCR x192000)" case_p64
t_case "redis-benchmark -k 0: a connection per request (INCR x200)" case_k0
t_case "redis-benchmark --threads 2 (INCR x40000)" case_threads
t_case "redis-benchmark -d 100000 -t set,get (x1000 each)" case_d100000
t_case "redis-benchmark -x SET, a binary 100000-byte value (x500)" case_x100000
printf '# %s\n' "${RATES[@]}"
t_done
