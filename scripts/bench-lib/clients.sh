# shellcheck shell=bash disable=SC2154  # bench.sh's globals
# clients.sh - sourced by scripts/bench.sh: the client-language table of
# issue 14.  Five client libraries, each in three ways to the same
# redis-server:
#   plain   the client in plaintext to the plaintext port (no TLS at all:
#           what the client itself costs)
#   tls     the client's own TLS to the TLS port, verifying the server
#           against the test CA, with the client certificate
#   shim    the client in plaintext to the TLS port through
#           scripts/redis-tls-run ($SHIM)
# each running the same loop (tests/clients/bench/: N sequential GETs,
# then one pipeline of P GETs) and printing its own rates and its CPU time
# per GET.  Each round runs every client in every way, the ways in a
# different order each round; the table shows medians and shim/tls.
#
# The client and redis-server (all its threads) run on one CPU, the last,
# for this table (taskset; the server's own affinity is given back after
# each round): on a 2-vCPU VM a request that wakes the other CPU costs
# about 100 µs, and whether the scheduler put the two on one CPU or on two
# made sequential figures jump between about 8000 and 30000 requests/s
# from one run to the next whatever the way.  On one CPU each figure is
# what a request costs the client and the server in CPU.
#
# Uses bench.sh's globals (short, ROUNDS, RB_TIMEOUT, OUTDIR, T_TMP, PKI,
# SHIM, P1, P2, FAILED, PY, log, die, median, calc, ratio, measured) and
# defines:
#   clients_prepare   before the servers: every client is there (exit 2
#                     if not), ioredis installed from npm on demand
#   clients_once R    one round (after start_servers)
#   clients_table     the markdown table
#   clients_report    the markdown of `bench.sh --only clients`

CLIENTS=(redis-py ioredis node-redis redis-rb phpredis)
CLIENT_WAYS=(plain tls shim)
CLIENT_LOOPS=(seq pipe)
CLIENT_SRC=$ROOT/tests/clients/bench
CLIENT_NODE=$OUTDIR/node # ioredis's package.json, lock and node_modules
if [ "$short" = 1 ]; then
	CLIENT_N=500 CLIENT_P=5000
else
	CLIENT_N=10000 CLIENT_P=100000
fi
declare -A CLIENT_SAMPLES=() # "CLIENT LOOP WAY" -> space-separated requests/s
declare -A CLIENT_CPU_US=()  # "CLIENT LOOP WAY" -> the client's CPU µs per GET
CLIENT_CPU=$(($(nproc) - 1))
CLIENT_PIN=()               # the prefix that runs a client on CLIENT_CPU

# client_cmd CLIENT: CCMD = the command that runs CLIENT's loop program
# (its interpreter, with the environment it needs).
client_cmd() {
	case $1 in
	redis-py) CCMD=("$PY" "$CLIENT_SRC/loop.py") ;;
	ioredis) CCMD=(env "NODE_PATH=$CLIENT_NODE/node_modules" node "$CLIENT_SRC/ioredis.js") ;;
	node-redis) CCMD=(env NODE_PATH=/usr/share/nodejs node "$CLIENT_SRC/node_redis.js") ;;
	redis-rb) CCMD=(ruby "$CLIENT_SRC/loop.rb") ;;
	phpredis) CCMD=(php "$CLIENT_SRC/loop.php") ;;
	*) die "client_cmd: $1" ;;
	esac
}

# clients_npm: ioredis (the version package-lock.json pins) installed
# under build/bench/node by `npm ci`, again when the lock file changed.
clients_npm() {
	local lock=$CLIENT_SRC/package-lock.json
	[ -r "$CLIENT_NODE/node_modules/ioredis/package.json" ] &&
		cmp -s "$lock" "$CLIENT_NODE/package-lock.json" && return 0
	command -v npm >/dev/null 2>&1 || die "npm not found (scripts/install-deps.sh installs it)"
	log "installing ioredis from npm (npm ci in $CLIENT_NODE)"
	if ! rm -rf "$CLIENT_NODE" || ! mkdir -p "$CLIENT_NODE" ||
		! cp "$CLIENT_SRC/package.json" "$lock" "$CLIENT_NODE/"; then
		die "cannot prepare $CLIENT_NODE"
	fi
	(cd "$CLIENT_NODE" && npm ci --no-audit --no-fund --ignore-scripts >npm.log 2>&1) ||
		die "npm ci failed: $(tail -3 "$CLIENT_NODE/npm.log")"
}

clients_prepare() {
	local tool
	for tool in node ruby php; do
		command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh installs it)"
	done
	[ -r /usr/share/nodejs/redis/package.json ] ||
		die "node-redis not found (scripts/install-deps.sh installs it)"
	php -r 'exit(class_exists("Redis") ? 0 : 1);' 2>/dev/null ||
		die "phpredis not found (scripts/install-deps.sh installs php-redis)"
	ruby -e 'require "redis"' 2>/dev/null || die "redis-rb not found (scripts/install-deps.sh installs ruby-redis)"
	"$PY" -c 'import redis' 2>/dev/null || die "redis-py not found (scripts/install-deps.sh installs python3-redis)"
	clients_npm
	CLIENT_VERSIONS="redis-py $("$PY" -c 'import redis; print(redis.__version__)')"
	CLIENT_VERSIONS+=", ioredis $(node -p "require('$CLIENT_NODE/node_modules/ioredis/package.json').version")"
	CLIENT_VERSIONS+=", node-redis $(node -p "require('/usr/share/nodejs/redis/package.json').version")"
	CLIENT_VERSIONS+=" (node $(node --version))"
	CLIENT_VERSIONS+=", redis-rb $(ruby -e 'require "redis"; print Redis::VERSION') (ruby $(ruby -e 'print RUBY_VERSION'))"
	CLIENT_VERSIONS+=", phpredis $(php -r 'echo phpversion("redis");') (php $(php -r 'echo PHP_VERSION;'))"
}

# client_measure CLIENT WAY ROUND: one run of CLIENT's loop in WAY; its two
# rates into CLIENT_SAMPLES.
client_measure() {
	local c=$1 way=$2 round=$3 o=$T_TMP/client.out e=$T_TMP/client.err seq pipe sc pc
	local -a run
	client_cmd "$c"
	case $way in
	plain) run=("${CCMD[@]}" plain 127.0.0.1 "$P1") ;;
	tls) run=("${CCMD[@]}" tls 127.0.0.1 "$P2") ;;
	shim) run=("${SHIM[@]}" "${CCMD[@]}" plain 127.0.0.1 "$P2") ;;
	*) die "client_measure: $way" ;;
	esac
	run=("${CLIENT_PIN[@]}" "${run[@]}" "$CLIENT_N" "$CLIENT_P")
	[ "$way" = tls ] && run+=("$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key")
	t_run_bg "$RB_TIMEOUT" "$o" "$e" "${run[@]}"
	seq=$(sed -n 's/.*seq_rps=\([0-9.]*\).*/\1/p' "$o")
	pipe=$(sed -n 's/.*pipe_rps=\([0-9.]*\).*/\1/p' "$o")
	sc=$(sed -n 's/.*seq_cpu_us=\([0-9.]*\).*/\1/p' "$o")
	pc=$(sed -n 's/.*pipe_cpu_us=\([0-9.]*\).*/\1/p' "$o")
	measured "$c $way" "$e" "$seq" "$pipe" "$sc" "$pc" || return 0
	log "round $round $(printf '%-10s %-5s' "$c" "$way") $(cat "$o")"
	{
		printf '%s\tclient_%s\tGET_seq\t%s\t%s\t%s\toverall\t-\n' "$round" "$c" "$way" \
			"$CLIENT_N" "$seq"
		printf '%s\tclient_%s\tGET_pipeline\t%s\t%s\t%s\toverall\t-\n' "$round" "$c" "$way" \
			"$CLIENT_P" "$pipe"
		printf '%s\tclient_%s\tGET_seq_cpu_us\t%s\t%s\t%s\tper_GET\t-\n' "$round" "$c" "$way" \
			"$CLIENT_N" "$sc"
		printf '%s\tclient_%s\tGET_pipeline_cpu_us\t%s\t%s\t%s\tper_GET\t-\n' "$round" "$c" \
			"$way" "$CLIENT_P" "$pc"
	} >>"$T_TMP/samples.tsv"
	CLIENT_SAMPLES["$c seq $way"]+="$seq "
	CLIENT_SAMPLES["$c pipe $way"]+="$pipe "
	CLIENT_CPU_US["$c seq $way"]+="$sc "
	CLIENT_CPU_US["$c pipe $way"]+="$pc "
}

# clients_pin on|off: the server's threads on CLIENT_CPU (and clients run
# there: CLIENT_PIN), or back on the CPUs they had.
clients_pin() {
	if [ "$1" = off ]; then
		[ -n "${CLIENT_SERVER_CPUS:-}" ] &&
			taskset -a -p -c "$CLIENT_SERVER_CPUS" "$REDIS_PID" >/dev/null 2>&1
		return 0
	fi
	CLIENT_PIN=()
	command -v taskset >/dev/null 2>&1 || return 0
	CLIENT_SERVER_CPUS=$(taskset -p -c "$REDIS_PID" 2>/dev/null | sed -n 's/.*list: //p')
	if [ -n "$CLIENT_SERVER_CPUS" ] &&
		taskset -a -p -c "$CLIENT_CPU" "$REDIS_PID" >/dev/null 2>&1; then
		CLIENT_PIN=(taskset -c "$CLIENT_CPU")
	else
		log "cannot pin redis-server to CPU $CLIENT_CPU: clients unpinned"
	fi
}

clients_once() {
	local round=$1 c i k=${#CLIENT_WAYS[@]}
	clients_pin on
	for c in "${CLIENTS[@]}"; do
		for ((i = 0; i < k; i++)); do
			client_measure "$c" "${CLIENT_WAYS[$(((i + round) % k))]}" "$round"
		done
	done
	clients_pin off
}

# client_cell CLIENT LOOP WAY: the median rate, or n/a.
client_cell() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${CLIENT_SAMPLES["$1 $2 $3"]:-})
	if [ -n "$m" ]; then calc "$m"; else echo "n/a"; fi
}

# client_cpu CLIENT LOOP WAY: the median CPU µs per GET, or n/a.
client_cpu() {
	local m
	# shellcheck disable=SC2086
	m=$(median ${CLIENT_CPU_US["$1 $2 $3"]:-})
	if [ -n "$m" ]; then FMT=%.2f calc "$m"; else echo "n/a"; fi
}

clients_table() {
	local c l label p t s
	echo "Clients in other languages (issue 14): each library's own loop"
	echo "(tests/clients/bench/), requests/s, median of $ROUNDS rounds (the three ways"
	echo "alternated, their order rotated each round); one connection, a 16-byte value,"
	echo "the connection set-up left out; the client and redis-server on one CPU (taskset"
	echo "CPU $CLIENT_CPU: see scripts/bench-lib/clients.sh).  plaintext: the client without TLS"
	echo "to the plaintext port; own TLS: its own TLS (server verified against the CA,"
	echo "client certificate); shim: the client in plaintext through scripts/redis-tls-run."
	echo "Client CPU: the client process's CPU time (user and system) per GET, as it measures"
	echo "it around the loop, median; on one CPU with the server, the rate is what the client"
	echo "and the server together spend per GET, the CPU column the client's part of it."
	echo
	echo "| client | loop | plaintext | own TLS | shim | shim/own TLS | plaintext/own TLS | client CPU µs/GET, own TLS | shim |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for c in "${CLIENTS[@]}"; do
		for l in "${CLIENT_LOOPS[@]}"; do
			if [ "$l" = seq ]; then
				label="$CLIENT_N sequential GETs"
			else
				label="pipeline of $CLIENT_P GETs"
			fi
			p=$(client_cell "$c" "$l" plain)
			t=$(client_cell "$c" "$l" tls)
			s=$(client_cell "$c" "$l" shim)
			echo "| $c | $label | $p | $t | $s | $(ratio "$s" "$t") | $(ratio "$p" "$t") |" \
				"$(client_cpu "$c" "$l" tls) | $(client_cpu "$c" "$l" shim) |"
		done
	done
	echo
	echo "Own TLS: redis-py ssl=True, ioredis tls: {...}, node-redis socket: { tls: true },"
	echo "redis-rb ssl: true, phpredis a tls:// host.  Versions: $CLIENT_VERSIONS."
	echo
	echo "Goal (issue 14): shim/own TLS ≥ 1.00 for every client and loop.  Through the shim a"
	echo "client runs its plaintext code path (the shim cannot change the client), so"
	echo "plaintext/own TLS, the same path without any TLS at all, is about as high as shim/own"
	echo "TLS can go: where it is below 1.00, the client's own TLS path beats its plaintext one."
}

clients_report() {
	echo "### redis-tls-shim benchmark: clients ($([ "$short" = 1 ] && echo short || echo full) run)"
	echo
	clients_table
	echo
	machine
}
