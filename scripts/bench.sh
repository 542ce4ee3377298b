#!/bin/bash
# bench.sh [--short|--full] [--rounds N] [--out FILE] - make bench: the shim
# against plaintext, the client's native TLS and stunnel, in one run
# against one redis-server.
#
# One redis-server on 127.0.0.1 with a plaintext port and a TLS port that
# requires client certificates (the test PKI, RSA-2048 server key).  Five
# ways to reach it, measured with redis-benchmark:
#   plaintext  redis-benchmark to the plaintext port
#   native     redis-benchmark --tls --cacert --cert --key to the TLS port
#   shim       plain redis-benchmark through scripts/redis-tls-run
#   stunnel    plain redis-benchmark to stunnel4 in client mode (verifying
#              chain and IP, same certificates) in front of the TLS port
#   supervised plain redis-benchmark under the supervisor (redis-tls-ctl
#              supervise: seccomp user notification, a loopback hop and
#              the supervisor's relay thread doing the TLS), configured
#              like the shim; on the 50-client and -P 16 workloads only
# on GET/SET with 50 clients, the same with -P 16, with 1 KiB values, and
# GET with -k 0 (a new connection per request).  Each round runs every
# workload in every mode, the modes in a different order each round; the
# table shows medians (requests/s) and the ratios shim/native and
# shim/stunnel, a second one supervised/native and supervised/stunnel
# (issue 12).  Each figure but -k 0 leaves out the connection set-up
# that redis-benchmark's own clock includes (50 full handshakes natively,
# mostly resumed ones through the shim, stunnel and the supervisor): it
# is the mean of redis-benchmark's 250 ms rate samples once they reach
# half their median.
# The same run measures the extras of issue 4: plaintext
# traffic to a port the shim is not configured for, preloaded against not
# preloaded; the start-up of /bin/true, preloaded against not; the memory
# of 1000 idle TLS connections, through the shim against a C client using
# OpenSSL itself (tests/clients/idle_conns.c), in the process (RSS) and in
# the kernel (slab growth: the shim's socketpair per connection); and the
# cost of relay mode: one program (tests/clients/relay_bench.c) through the
# shim writing through stdio (relayed) against writing with write() (the
# fast path), one request at a time and 16 at a time.  And what the client
# pays per request (issue 14, scripts/bench-lib/cpu.sh): its CPU time per
# request natively and through the shim, GET with 50 clients, with -P 16
# and with one client, and the latency at one client; and the wrapper's
# own start-up (scripts/bench-lib/wrapper.sh): redis-cli PING through
# redis-tls-run against the variables set by hand.
# And the client-language table of issue 14 (scripts/bench-lib/clients.sh):
# redis-py, ioredis, node-redis, redis-rb and phpredis, each with its own
# TLS against plaintext through the shim (and plaintext without TLS).
#
#   --full      (default) 5 rounds after an uncounted calibration round,
#               about 2.5 s per measurement: several minutes
#   --short     2 rounds, about 0.3 s per measurement, fewer connections and
#               start-ups: under 90 s on an idle machine (CI proves it runs)
#   --rounds N  override the number of counted rounds
#   --out FILE  where to write the markdown (default build/bench/results.md)
#   --only clients  the client-language table alone (a minute or two)
#   --only supcpu   the CPU per request of each process, native TLS against
#               supervised (scripts/bench-lib/supcpu.sh) alone
#   --only cpu      what the client pays per request (scripts/bench-lib/cpu.sh:
#               client CPU, one-client latency and round trip, the epoll
#               patterns) alone
#
# The number of requests of each measurement follows the rate measured so
# far in that cell (the calibration round, or the previous rounds), so that
# each takes about the target time whatever the machine's load.
#
# Prints the markdown (tables, machine, date) on stdout, progress on stderr;
# raw samples go to samples.tsv beside the markdown.  Exit status 0 when every
# figure was measured, whatever the figures are; 1 when a measurement could
# not be taken (the table then shows n/a); 2 when a prerequisite is missing.
# Every process it starts listens on 127.0.0.1 only and is stopped on exit:
# the servers, stunnel and the cleanup are scripts/testlib.sh's.
# shellcheck disable=SC2317  # called by trap, wait_until
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
LIB=${REDIS_TLS_LIB:-$BUILD/libredistls.so}
RUN=$ROOT/scripts/redis-tls-run
CTL=$BUILD/redis-tls-ctl
PKI=${REDIS_TLS_TEST_PKI:-$BUILD/test-pki}
OUTDIR=$BUILD/bench
PY=/usr/bin/python3 # testlib.sh's T_PY
me=bench.sh

short=0
rounds=""
out=""
only=""
while [ $# -gt 0 ]; do
	case $1 in
	--short) short=1 ;;
	--full) short=0 ;;
	--rounds)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
			echo "$me: --rounds needs a number" >&2
			exit 2
		fi
		rounds=$2
		shift
		;;
	--out)
		[ $# -ge 2 ] || { echo "$me: --out needs a file" >&2; exit 2; }
		out=$2
		shift
		;;
	--only)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^(clients|supcpu|cpu)$ ]]; then
			echo "$me: --only takes clients, supcpu or cpu" >&2
			exit 2
		fi
		only=$2
		shift
		;;
	-h | --help)
		sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		echo "$me: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done

if [ "$short" = 1 ]; then
	ROUNDS=${rounds:-2}
	CALIBRATE=0      # the first counted round calibrates the next
	TARGET=0.3       # seconds per redis-benchmark test
	SPAWN_RUNS=200   # /bin/true start-ups of each kind
	IDLE_CONNS=200   # idle TLS connections per memory measurement
	MEM_REPS=1
	RB_TIMEOUT=60
	RELAY_N=(2000 20000) # GETs of a relay measurement, depth 1 and 16
else
	ROUNDS=${rounds:-5}
	CALIBRATE=1
	TARGET=2.5
	SPAWN_RUNS=1000
	IDLE_CONNS=1000
	MEM_REPS=3
	RB_TIMEOUT=300
	RELAY_N=(20000 400000)
fi
out=${out:-$OUTDIR/results.md}

T0=$SECONDS
log() { echo "$me: [$((SECONDS - T0))s] $*" >&2; }
die() {
	log "$*"
	exit 2
}

# ------------------------------------------------------------ prerequisites

STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
for tool in redis-server redis-benchmark redis-cli openssl cc "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh installs it)"
done
[ -n "$STUNNEL" ] || die "stunnel4 not found (scripts/install-deps.sh installs it)"
[ -r "$LIB" ] || die "$LIB not built: run make"
[ -x "$RUN" ] || die "$RUN missing"
[ -x "$CTL" ] || die "$CTL not built: run make"

unset LD_PRELOAD

# 1000 idle connections, in the client and in the server.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=65536
[ "$hard" -gt 65536 ] && hard=65536
ulimit -n "$hard" 2>/dev/null
if [ "$(ulimit -n)" -lt $((IDLE_CONNS + 200)) ]; then
	IDLE_CONNS=$(($(ulimit -n) - 200))
	log "file descriptor limit $(ulimit -n): $IDLE_CONNS idle connections only"
fi

"$ROOT/scripts/mkpki.sh" "$PKI" || die "scripts/mkpki.sh $PKI failed"
mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"

# ------------------------------------------------------------ processes

# testlib.sh: the scratch folder $T_TMP, the process helpers (free_port,
# wait_until, stop_pid, t_run_bg, the servers), the cleanup on exit (every
# process it started stopped, the folder removed); settings that would
# change what the shim does come from this script only.
# shellcheck disable=SC2034  # read by testlib.sh
T_TMP_NAME="redis-tls-bench"
# shellcheck source-path=SCRIPTDIR source=testlib.sh
source "$ROOT/scripts/testlib.sh"
log "scratch folder $T_TMP"

# ------------------------------------------------------------ helpers

# shellcheck source-path=SCRIPTDIR source=bench-lib/clients.sh
source "$ROOT/scripts/bench-lib/clients.sh"

# calc EXPR: awk arithmetic, printed with the format in $FMT (default %.0f).
calc() { awk "BEGIN { printf \"${FMT:-%.0f}\", $1 }"; }

# median V...: the median of numbers (mean of the middle two for an even
# count); empty when there are none.
median() {
	[ $# -eq 0 ] && return 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) printf "%.6g", v[(NR + 1) / 2];
		      else printf "%.6g", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# compile NAME SRC: build/bench/NAME from SRC when missing or older than
# SRC or a header beside it (tests/clients/ossl_client.h); the
# binary is moved in whole, so concurrent runs never see half of one.
compile() {
	local bin=$OUTDIR/$1 src=$2
	[ -x "$bin" ] && [ "$bin" -nt "$src" ] &&
		[ -z "$(find "$(dirname "$src")" -maxdepth 1 -name '*.h' -newer "$bin")" ] &&
		return 0
	cc -O2 -o "$T_TMP/$1" "$src" -ldl || die "cannot compile $src"
	mv -f "$T_TMP/$1" "$bin"
}

# ------------------------------------------------------------ servers

# One redis-server, a plaintext port (P1) and a TLS port (P2) requiring
# client certificates; stunnel in client mode in front of the TLS port
# (P3), verifying the server like the shim does.
start_servers() {
	start_dual_redis --maxclients $((IDLE_CONNS * 2 + 1000)) ||
		die "could not start redis-server"
	P1=$PLAIN_PORT P2=$REDIS_PORT
	start_stunnel_client "$P2" || die "could not start stunnel"
	P3=$STUNNEL_PORT
	supv_set
}

# ------------------------------------------------------------ modes, workloads

# SHIM (testlib's shim_set_default, for P2): the wrapper configured for
# the TLS port; T_TLS_FLAGS: redis-benchmark's own TLS flags for it.

# SUPV: the same configuration (endpoint, CA, client certificate) for the
# supervisor: redis-tls-run --supervise (which preloads nothing under it:
# TLS would be done twice).
supv_set() {
	SUPV=("$RUN" --supervise "${SHIM[@]:1}")
}

# mode_cmd MODE: CMD = the client command for MODE, without the workload.
mode_cmd() {
	case $1 in
	plain) CMD=(redis-benchmark -h 127.0.0.1 -p "$P1") ;;
	native) CMD=(redis-benchmark -h 127.0.0.1 -p "$P2" "${T_TLS_FLAGS[@]}") ;;
	shim) CMD=("${SHIM[@]}" redis-benchmark -h 127.0.0.1 -p "$P2") ;;
	stunnel) CMD=(redis-benchmark -h 127.0.0.1 -p "$P3") ;;
	supervised) CMD=("${SUPV[@]}" redis-benchmark -h 127.0.0.1 -p "$P2") ;;
	# preloaded and configured for the TLS port, talking to the other one
	passthru) CMD=("${SHIM[@]}" redis-benchmark -h 127.0.0.1 -p "$P1") ;;
	*) die "mode_cmd: $1" ;;
	esac
}

WORKLOADS=(c50 p16 d1k k0)
# wl_args WL: ARGS = redis-benchmark's workload flags; TESTS = the tests
# it reports; ESTIMATE = steady or overall (see rates); N0 = requests of the first measurement of a cell (before any
# rate is known), NMIN = the fewest requests of any measurement.
# shellcheck disable=SC2054  # -t takes a comma-separated list
wl_args() {
	case $1 in
	c50) ARGS=(-c 50 -t set,get) TESTS="SET GET" N0=10000 NMIN=2000 ESTIMATE=steady ;;
	p16) ARGS=(-c 50 -P 16 -t set,get) TESTS="SET GET" N0=100000 NMIN=20000 ESTIMATE=steady ;;
	d1k) ARGS=(-c 50 -d 1024 -t set,get) TESTS="SET GET" N0=10000 NMIN=2000 ESTIMATE=steady ;;
	# connecting is the workload here: redis-benchmark's own figure
	k0) ARGS=(-c 50 -k 0 -t get) TESTS="GET" N0=100 NMIN=100 ESTIMATE=overall ;;
	*) die "wl_args: $1" ;;
	esac
	if [ "$short" = 1 ]; then
		# enough to prove every cell can be measured, even when the
		# machine is busy: 10 requests per client, 1 at -k 0
		N0=$((N0 / 10 > 50 ? N0 / 10 : 50))
		NMIN=$((NMIN / 4 > 50 ? NMIN / 4 : 50))
	fi
}

wl_modes() {
	case $1 in
	c50) MODES=(plain native shim stunnel passthru supervised) ;;
	p16 | d1k) MODES=(plain native shim stunnel supervised) ;;
	*) MODES=(plain native shim stunnel) ;;
	esac
}

declare -A SAMPLES=()   # "WL TEST MODE" -> space-separated requests/s
FAILED=0
FALLBACK=0              # set-up-free figures that fell back to the overall one

declare -A CAL=()       # "WL TEST MODE" -> rate of the calibration round

# next_n WL MODE: requests for the next measurement of the cell: the
# slowest of its tests' rates so far (median of the counted samples, else
# the calibration) x TARGET seconds; N0 when nothing was measured yet.
next_n() {
	local wl=$1 mode=$2 t m slowest=""
	wl_args "$wl"
	for t in $TESTS; do
		# shellcheck disable=SC2086
		m=$(median ${SAMPLES["$wl $t $mode"]:-})
		m=${m:-${CAL["$wl $t $mode"]:-}}
		[ -n "$m" ] || { echo "$N0"; return; }
		slowest=$(awk "BEGIN { s = \"$slowest\"; print (s == \"\" || $m < s + 0) ? $m : s }")
	done
	awk "BEGIN { n = $slowest * $TARGET; if (n < $NMIN) n = $NMIN;
		if (n > 5000000) n = 5000000; printf \"%.0f\", n }"
}

# rates FILE TEST STEADY: "OVERALL STEADY KIND" for TEST from redis-benchmark
# -q output in FILE.  OVERALL is redis-benchmark's own figure (requests /
# time from its clock start, the connection set-up included).  STEADY (when
# asked for, and when there are at least 4 of them) is the mean of its
# 250 ms rate samples from the first one at half their median or more: the
# set-up left out; KIND says which of the two STEADY is.
rates() {
	tr '\r' '\n' <"$1" | awk -v t="$2" -v want="$3" '
		index($0, t ": rps=") == 1 {
			v = substr($0, length(t) + 7); sub(/ .*/, "", v); r[++k] = v + 0; next
		}
		index($0, t ": ") == 1 && / requests per second/ {
			v = substr($0, length(t) + 3); sub(/ .*/, "", v); overall = v
		}
		END {
			if (overall == "" || overall !~ /^[0-9.]+$/ || overall + 0 <= 0) exit 1
			if (want != "steady" || k < 4) { print overall, overall, "overall"; exit 0 }
			n = k
			for (i = 1; i <= n; i++) {     # insertion sort: mawk has no asort
				v = r[i]
				for (j = i - 1; j >= 1 && s[j] > v; j--) s[j + 1] = s[j]
				s[j + 1] = v
			}
			med = n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
			for (i0 = 1; i0 <= k && r[i0] < med / 2; i0++) ;
			if (k - i0 + 1 < 4) { print overall, overall, "overall"; exit 0 }
			sum = 0
			for (i = i0; i <= k; i++) sum += r[i]
			printf "%s %.2f steady\n", overall, sum / (k - i0 + 1)
		}'
}

# measure WL MODE ROUND [record]: one redis-benchmark run; records the
# rates in SAMPLES when asked (not for calibration).
measure() {
	local wl=$1 mode=$2 round=$3 record=${4:-record} n t o e attempt ok=0 got
	local -A got_rate=()
	wl_args "$wl"
	mode_cmd "$mode"
	n=$(next_n "$wl" "$mode")
	o=$T_TMP/rb.out e=$T_TMP/rb.err
	for attempt in 1 2; do
		t_run_bg "$RB_TIMEOUT" "$o" "$e" "${CMD[@]}" "${ARGS[@]}" -n "$n" -q
		ok=1
		for t in $TESTS; do
			got=$(rates "$o" "$t" "$ESTIMATE") || { ok=0; break; }
			got_rate[$t]=$got
		done
		[ "$T_RC" -eq 0 ] && [ "$ok" = 1 ] && break
		ok=0
		log "round $round $wl $mode: redis-benchmark failed (exit $T_RC, attempt $attempt):"
		tail -3 "$e" >&2
	done
	if [ "$ok" = 0 ]; then
		FAILED=1
		return 0
	fi
	local line overall steady kind
	line="round $round $(printf '%-4s %-8s n=%-8s' "$wl" "$mode" "$n")"
	for t in $TESTS; do
		read -r overall steady kind <<<"${got_rate[$t]}"
		if [ "$kind" = steady ]; then
			line+=" $t $steady (redis-benchmark $overall)"
		else
			line+=" $t $overall"
			[ "$ESTIMATE" = steady ] && [ "$record" = record ] && FALLBACK=$((FALLBACK + 1))
		fi
		if [ "$record" = record ]; then
			SAMPLES["$wl $t $mode"]+="$steady "
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$wl" "$t" "$mode" "$n" \
				"$steady" "$kind" "$overall" >>"$T_TMP/samples.tsv"
		else
			CAL["$wl $t $mode"]=$steady
		fi
	done
	log "$line"
}

# one_round ROUND [record]: every workload in every mode; the order of the
# modes rotates with the round.
one_round() {
	local round=$1 record=${2:-record} wl i k
	for wl in "${WORKLOADS[@]}"; do
		wl_modes "$wl"
		k=${#MODES[@]}
		for ((i = 0; i < k; i++)); do
			measure "$wl" "${MODES[$(((i + round) % k))]}" "$round" "$record"
		done
	done
}

# ------------------------------------------------------------ extras

# measured WHAT ERRFILE FIGURE...: the last t_run_bg exited 0 and every
# FIGURE was read from its output; else says WHAT failed (the end of
# ERRFILE), marks the run FAILED and returns 1.
measured() {
	local what=$1 err=$2 v ok=1
	shift 2
	[ "$T_RC" -eq 0 ] || ok=0
	for v in "$@"; do
		[ -n "$v" ] || ok=0
	done
	[ "$ok" = 1 ] && return 0
	log "$what failed (exit $T_RC):"
	tail -3 "$err" >&2
	FAILED=1
	return 1
}

MEM_SHIM=()
MEM_NATIVE=()
SLAB_SHIM=()
SLAB_NATIVE=()
# memory_once ROUND KIND...: the idle-connection memory through the shim and
# natively, in the order given.
memory_once() {
	local round=$1 kind o=$T_TMP/idle.out e=$T_TMP/idle.err v k
	shift
	for kind in "$@"; do
		if [ "$kind" = shim ]; then
			t_run_bg "$RB_TIMEOUT" "$o" "$e" "${SHIM[@]}" "$OUTDIR/idle_conns" plain \
				127.0.0.1 "$P2" "$IDLE_CONNS"
		else
			t_run_bg "$RB_TIMEOUT" "$o" "$e" "$OUTDIR/idle_conns" tls 127.0.0.1 "$P2" \
				"$IDLE_CONNS" "$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key"
		fi
		v=$(sed -n 's/.* per_conn_kib=\([0-9.-]*\).*/\1/p' "$o")
		k=$(sed -n 's/.* slab_per_conn_kib=\([0-9.-]*\).*/\1/p' "$o")
		measured "idle connections ($kind)" "$e" "$v" || continue
		log "memory $kind: $(cat "$o")"
		printf '%s\tidle\tKiB_per_connection\t%s\t%s\t%s\tRSS_delta\t-\n' "$round" "$kind" \
			"$IDLE_CONNS" "$v" >>"$T_TMP/samples.tsv"
		printf '%s\tidle\tKiB_per_connection\t%s\t%s\t%s\tslab_delta\t-\n' "$round" "$kind" \
			"$IDLE_CONNS" "$k" >>"$T_TMP/samples.tsv"
		if [ "$kind" = shim ]; then
			MEM_SHIM+=("$v") SLAB_SHIM+=("$k")
		else
			MEM_NATIVE+=("$v") SLAB_NATIVE+=("$k")
		fi
	done
}

declare -A RELAY=()     # "DEPTH MODE" -> space-separated requests/s
# relay_once ROUND: relay_bench through the shim, stdio (relayed) and
# write() (fast path), depth 1 and 16, the order alternating by round.
relay_once() {
	local round=$1 i depth n mode modes o=$T_TMP/relay.out e=$T_TMP/relay.err v
	if ((round % 2)); then modes="stdio write"; else modes="write stdio"; fi
	for i in 0 1; do
		depth=$((i == 0 ? 1 : 16))
		n=${RELAY_N[$i]}
		for mode in $modes; do
			t_run_bg "$RB_TIMEOUT" "$o" "$e" "${SHIM[@]}" "$OUTDIR/relay_bench" "$mode" \
				127.0.0.1 "$P2" "$n" "$depth"
			v=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' "$o")
			measured "relay_bench $mode depth $depth" "$e" "$v" || continue
			log "round $round relay depth $depth $mode: $(cat "$o")"
			printf '%s\trelay_d%s\tGET\t%s\t%s\t%s\toverall\t-\n' "$round" "$depth" \
				"$mode" "$n" "$v" >>"$T_TMP/samples.tsv"
			RELAY["$depth $mode"]+="$v "
		done
	done
}

SPAWN_PLAIN=""
SPAWN_PRE=""
spawn_once() {
	local o=$T_TMP/spawn.out e=$T_TMP/spawn.err
	# The preloaded process has the shim's configuration in its
	# environment too, as in a container; both kinds get the same.
	t_run_bg "$RB_TIMEOUT" "$o" "$e" env REDIS_TLS_ENDPOINTS="127.0.0.1:$P2" \
		REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
		REDIS_TLS_KEY_FILE="$PKI/client.key" \
		"$OUTDIR/spawn_time" "$SPAWN_RUNS" "$LIB" /bin/true
	SPAWN_PLAIN=$(sed -n 's/.*plain_median_us=\([0-9.]*\).*/\1/p' "$o")
	SPAWN_PRE=$(sed -n 's/.*preload_median_us=\([0-9.]*\).*/\1/p' "$o")
	if ! measured "start-up timing" "$e" "$SPAWN_PLAIN" "$SPAWN_PRE"; then
		SPAWN_PLAIN="" SPAWN_PRE=""
		return 0
	fi
	log "start-up: $(cat "$o")"
	printf -- '-\tstartup\t/bin/true_us\tplain\t%s\t%s\tmedian\t-\n' "$SPAWN_RUNS" \
		"$SPAWN_PLAIN" >>"$T_TMP/samples.tsv"
	printf -- '-\tstartup\t/bin/true_us\tpreload\t%s\t%s\tmedian\t-\n' "$SPAWN_RUNS" \
		"$SPAWN_PRE" >>"$T_TMP/samples.tsv"
}

# Client CPU per request and latency at one client (issue 14).
# shellcheck source-path=SCRIPTDIR source=bench-lib/cpu.sh
source "$ROOT/scripts/bench-lib/cpu.sh"

# Where the CPU goes, native TLS against the supervised path (issue 12).
# shellcheck source-path=SCRIPTDIR source=bench-lib/supcpu.sh
source "$ROOT/scripts/bench-lib/supcpu.sh"

# ------------------------------------------------------------ report

# cell WL TEST MODE: the median, or n/a.
cell() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${SAMPLES["$1 $2 $3"]:-})
	if [ -n "$m" ]; then calc "$m"; else echo "n/a"; fi
}

# ratio A B [FORMAT]: A/B, or n/a.
ratio() {
	case "$1$2" in *n/a*) echo "n/a"; return ;; *) ;; esac
	awk "BEGIN { exit !($2 > 0) }" || { echo "n/a"; return; }
	FMT=${3:-%.2f} calc "$1 / $2"
}

row_label() {
	case "$1 $2" in
	"c50 GET") echo "GET" ;;
	"c50 SET") echo "SET" ;;
	"p16 GET") echo "GET, -P 16" ;;
	"p16 SET") echo "SET, -P 16" ;;
	"d1k GET") echo "GET, 1 KiB values" ;;
	"d1k SET") echo "SET, 1 KiB values" ;;
	"k0 GET") echo "GET, -k 0 (new connection per request)" ;;
	*) echo "$1 $2" ;;
	esac
}

# supervised_table: the supervised path against native TLS and stunnel,
# measured in the same rounds as the main table.
supervised_table() {
	local wl t n st v
	echo "Supervised path (issue 12): plain redis-benchmark under \`redis-tls-ctl supervise\`"
	echo "(seccomp user notification; each connection a loopback TCP hop to the supervisor,"
	echo "whose one relay thread does the TLS), in the same rounds as the table above."
	echo
	echo "| workload | native TLS | stunnel | supervised | supervised/native | supervised/stunnel |"
	echo "|---|---:|---:|---:|---:|---:|"
	for wl in c50 p16 d1k; do
		wl_args "$wl"
		for t in $TESTS; do
			n=$(cell "$wl" "$t" native)
			st=$(cell "$wl" "$t" stunnel)
			v=$(cell "$wl" "$t" supervised)
			echo "| $(row_label "$wl" "$t") | $n | $st | $v | $(ratio "$v" "$n") | $(ratio "$v" "$st") |"
		done
	done
	echo
	echo "Goals (issue 12): supervised/stunnel ≥ 2 for GET (50 clients); supervised/native ≥ 0.8"
	echo "for GET and GET -P 16."
}

machine() {
	local cpu ossl redis stun
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	ossl=$(openssl version 2>/dev/null)
	redis=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
	stun=$("$STUNNEL" -version 2>&1 | sed -n 's/^\(stunnel [0-9.]*\).*/\1/p' | head -1)
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
	echo "- software: $ossl; redis-server and redis-benchmark $redis; $stun"
	echo "- shim: commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "- date: $START_DATE; load average (1 min) $LOAD0 at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
}

report() {
	local wl t label p n s st
	echo "### redis-tls-shim benchmark ($([ "$short" = 1 ] && echo short || echo full) run)"
	echo
	echo "requests/s, median of $ROUNDS rounds (modes alternated, their order rotated each round);"
	echo "redis-benchmark, 50 clients, one redis-server (TLS 1.3, mutual TLS, RSA-2048 server key)"
	echo
	echo "| workload | plaintext | native TLS | shim | stunnel | shim/native | shim/stunnel |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for wl in "${WORKLOADS[@]}"; do
		wl_args "$wl"
		for t in $TESTS; do
			label=$(row_label "$wl" "$t")
			p=$(cell "$wl" "$t" plain)
			n=$(cell "$wl" "$t" native)
			s=$(cell "$wl" "$t" shim)
			st=$(cell "$wl" "$t" stunnel)
			echo "| $label | $p | $n | $s | $st | $(ratio "$s" "$n") | $(ratio "$s" "$st") |"
		done
	done
	echo
	echo "Goals (issue 4): shim/native ≥ 0.97 for GET and for -P 16; shim/stunnel ≥ 3 for GET;"
	echo "shim/native ≥ 2 at -k 0."
	echo
	echo "redis-benchmark starts its clock before its 50 connections are up, and those are 50 full"
	echo "handshakes with native TLS but one full and 49 resumed through the shim or stunnel (both"
	echo "resume by default): on a busy machine that favours them by more than the 3 % the goals are"
	echo "about.  So each figure but -k 0 leaves the set-up out: it is the mean of redis-benchmark's"
	echo "250 ms rate samples from the first one at half their median onward.  The -k 0 row, where"
	echo "connecting is the workload, and samples.tsv give redis-benchmark's own overall figures."
	if [ "$FALLBACK" -gt 0 ]; then
		echo "In this run $FALLBACK samples were too short for that (fewer than 4 rate samples) and"
		echo "count with redis-benchmark's overall figure."
	fi
	echo
	supervised_table
	echo
	supcpu_report
	echo
	cpu_report
	echo
	local pg pp sg sp mn ms kn ks
	pg=$(cell c50 GET plain)
	pp=$(cell c50 GET passthru)
	sg=$(cell c50 SET plain)
	sp=$(cell c50 SET passthru)
	# shellcheck disable=SC2068
	mn=$(FMT=%.1f; m=$(median ${MEM_NATIVE[@]+"${MEM_NATIVE[@]}"}); [ -n "$m" ] && calc "$m" || echo n/a)
	# shellcheck disable=SC2068
	ms=$(FMT=%.1f; m=$(median ${MEM_SHIM[@]+"${MEM_SHIM[@]}"}); [ -n "$m" ] && calc "$m" || echo n/a)
	local up=n/a uq=n/a
	[ -n "$SPAWN_PLAIN" ] && up=$(calc "$SPAWN_PLAIN")
	[ -n "$SPAWN_PRE" ] && uq=$(calc "$SPAWN_PRE")
	echo "| measure | without the shim | with the shim | ratio | goal |"
	echo "|---|---:|---:|---:|---|"
	echo "| plaintext GET to a port the shim is not configured for, req/s | $pg | $pp | $(ratio "$pp" "$pg" %.3f) | ≥ 0.99 |"
	echo "| plaintext SET to a port the shim is not configured for, req/s | $sg | $sp | $(ratio "$sp" "$sg" %.3f) | ≥ 0.99 |"
	echo "| start-up of /bin/true, µs (median of $SPAWN_RUNS, interleaved) | $up | $uq | $(ratio "$uq" "$up" %.3f) | ≤ 1.10 |"
	echo "| memory per idle TLS connection, KiB ($IDLE_CONNS connections, RSS delta; without = native OpenSSL C client) | $mn | $ms | $(ratio "$ms" "$mn") | ≤ 48 KiB |"
	# shellcheck disable=SC2068
	kn=$(FMT=%.1f; m=$(median ${SLAB_NATIVE[@]+"${SLAB_NATIVE[@]}"}); [ -n "$m" ] && calc "$m" || echo n/a)
	# shellcheck disable=SC2068
	ks=$(FMT=%.1f; m=$(median ${SLAB_SHIM[@]+"${SLAB_SHIM[@]}"}); [ -n "$m" ] && calc "$m" || echo n/a)
	local with=n/a
	case "$ms$kn$ks" in *n/a*) ;; *) with=$(FMT=%.1f calc "$ms + $ks - $kn") ;; esac
	echo "| kernel slab growth per idle connection, KiB (system-wide: both ends' sockets, and the shim's socketpair) | $kn | $ks | $(ratio "$ks" "$kn") | counted in the next row |"
	echo "| memory per idle TLS connection with the socketpair counted, KiB (shim: RSS + the slab it adds over native's) | $mn | $with | $(ratio "$with" "$mn") | ≤ 48 KiB |"
	echo
	echo "Relay mode: one connection through the shim, GETs of a 3-byte value, requests/s, median"
	echo "of $ROUNDS rounds; written through stdio (bash's way: libc-internal writes, so the"
	echo "connection is relayed through the socketpair) against write() (the fast path)."
	echo
	echo "| workload | fast path (write) | relay (stdio) | relay/fast |"
	echo "|---|---:|---:|---:|"
	local d rw rs
	for d in 1 16; do
		# shellcheck disable=SC2086
		rw=$(m=$(median ${RELAY["$d write"]:-}); [ -n "$m" ] && calc "$m" || echo n/a)
		# shellcheck disable=SC2086
		rs=$(m=$(median ${RELAY["$d stdio"]:-}); [ -n "$m" ] && calc "$m" || echo n/a)
		echo "| GET, $d at a time | $rw | $rs | $(ratio "$rs" "$rw") |"
	done
	echo
	slowlink_report
	echo
	wrapper_report
	echo
	clients_table
	echo
	machine
}

# shellcheck source-path=SCRIPTDIR source=bench-lib/slowlink.sh
source "$ROOT/scripts/bench-lib/slowlink.sh" # slowlink_measure, slowlink_report

# ------------------------------------------------------------ main

START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
printf 'round\tworkload\ttest\tmode\trequests\tfigure\tkind\tredis_benchmark_overall\n' >"$T_TMP/samples.tsv"

compile idle_conns "$ROOT/tests/clients/idle_conns.c"
compile spawn_time "$ROOT/scripts/bench-lib/spawn_time.c"
compile relay_bench "$ROOT/tests/clients/relay_bench.c"
compile cpu_time "$ROOT/scripts/bench-lib/cpu_time.c"
compile epoll_pattern "$ROOT/scripts/bench-lib/epoll_pattern.c"
compile rtt "$ROOT/tests/clients/rtt.c"
# shellcheck source-path=SCRIPTDIR source=bench-lib/wrapper.sh
source "$ROOT/scripts/bench-lib/wrapper.sh"
clients_prepare

start_servers
log "redis-server plaintext 127.0.0.1:$P1, TLS 127.0.0.1:$P2; stunnel 127.0.0.1:$P3"

# Each way in must work before anything is measured.
check() {
	local what=$1 got
	shift
	got=$(timeout 30 "$@" PING 2>"$T_TMP/check.err")
	[ "$got" = PONG ] && return 0
	log "$what: PING did not answer PONG ($got):"
	tail -3 "$T_TMP/check.err" >&2
	tail -3 "$STUNNEL_LOG" >&2 2>/dev/null
	exit 1
}
check plaintext redis-cli -h 127.0.0.1 -p "$P1"
check "native TLS" redis-cli -h 127.0.0.1 -p "$P2" "${T_TLS_FLAGS[@]}"
check shim "${SHIM[@]}" redis-cli -h 127.0.0.1 -p "$P2"
check stunnel redis-cli -h 127.0.0.1 -p "$P3"
check "shim, unconfigured port" "${SHIM[@]}" redis-cli -h 127.0.0.1 -p "$P1"
check supervised "${SUPV[@]}" redis-cli -h 127.0.0.1 -p "$P2"

if [ "$CALIBRATE" = 1 ] && [ -z "$only" ]; then
	log "calibration round (not counted)"
	one_round 0 calibrate
fi
mem_round=0
for ((r = 1; r <= ROUNDS; r++)); do
	log "round $r of $ROUNDS"
	case $only in
	supcpu)
		supcpu_round "$r"
		continue
		;;
	cpu)
		cpu_round "$r"
		continue
		;;
	*) ;;
	esac
	clients_once "$r"
	[ -n "$only" ] && continue
	one_round "$r"
	if [ "$mem_round" -lt "$MEM_REPS" ]; then
		if ((r % 2)); then memory_once "$r" shim native; else memory_once "$r" native shim; fi
		mem_round=$((mem_round + 1))
	fi
	relay_once "$r"
	cpu_round "$r"
	supcpu_round "$r"
done
if [ -z "$only" ]; then
	spawn_once
	slowlink_measure
	wrapper_once
fi

case $only in
clients) clients_report >"$T_TMP/results.md" ;;
supcpu) supcpu_report >"$T_TMP/results.md" ;;
cpu) cpu_only_report >"$T_TMP/results.md" ;;
*) report >"$T_TMP/results.md" ;;
esac
cat "$T_TMP/results.md"
samples=$(dirname "$out")/samples.tsv
if ! mkdir -p "$(dirname "$out")" || ! cp "$T_TMP/results.md" "$out" ||
	! cp "$T_TMP/samples.tsv" "$samples"; then
	log "cannot write $out"
fi
log "results in $out, samples in $samples "
if [ "$FAILED" = 1 ]; then
	log "some measurements could not be taken (n/a in the table)"
	exit 1
fi
exit 0
