#!/bin/bash
# soak.sh [--short] [--seconds N] [--csv FILE] - a soak run through the shim.
#
# Against a TLS-only redis-server requiring client certificates, for N
# seconds (default 300; --short: 30), two client processes through
# scripts/redis-tls-run:
#   redis-benchmark -l   20 clients, SET/GET/LPUSH/LPOP/INCR in a loop: the
#                        clients are made anew for every test, so TLS
#                        sessions come and go all the time;
#   redis-py             one thread on a long-lived connection (values up to
#                        64 KiB, pipelines of 100, each reply checked) and
#                        one that reconnects for every round trip.
# Every second the RSS and the number of open fds of both processes are
# sampled.  After a warm-up (the first 10% of samples, at least 2), each
# series must be flat: the maximum of its last quarter at most the maximum
# of its first quarter * 1.1 plus a little slack (2 MiB of RSS, 4 fds).
# Both processes must live to the end, redis-py with no error and no wrong
# value.  Prints a table of the series; --csv FILE keeps the samples.
# Last line: "N passed, N failed" (exit 0 when all passed).
set -u

SECONDS_TO_RUN=300
CSV_OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--short) SECONDS_TO_RUN=30 ;;
	--seconds)
		[ $# -ge 2 ] || { echo "soak.sh: --seconds needs a value" >&2; exit 2; }
		SECONDS_TO_RUN=$2
		shift
		;;
	--csv)
		[ $# -ge 2 ] || { echo "soak.sh: --csv needs a file" >&2; exit 2; }
		CSV_OUT=$2
		shift
		;;
	-h | --help)
		sed -n '2,20s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "soak.sh: unknown argument $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
case $SECONDS_TO_RUN in
'' | *[!0-9]*) echo "soak.sh: --seconds wants a whole number" >&2; exit 2 ;;
*) ;;
esac
[ "$SECONDS_TO_RUN" -ge 12 ] || { echo "soak.sh: at least 12 seconds" >&2; exit 2; }

# shellcheck source=testlib.sh
source "$(dirname "$0")/testlib.sh"
t_require_shim
# The clients run as long as asked, plus room to stop.
T_TIMEOUT=$((SECONDS_TO_RUN + 60))

start_tls_redis || t_done

PYC=$T_TMP/soak_client.py
cat >"$PYC" <<'EOF'
# soak_client.py PORT STOP-FILE: until STOP-FILE exists, a long-lived
# connection (checked values, pipelines) and a reconnecting one; prints
# "ops N errors N wrong N" and exits 0 when there were no errors.
import os, sys, threading, time
import redis

port, stop = int(sys.argv[1]), sys.argv[2]
counts = {"ops": 0, "errors": 0, "wrong": 0}
lock = threading.Lock()
first_error = []

def add(k, n=1):
    with lock:
        counts[k] += n

def steady():
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=20)
    i = 0
    while not os.path.exists(stop):
        i += 1
        try:
            v = os.urandom(1 + (i * 7919) % 65536)
            r.set("soak:steady", v)
            if r.get("soak:steady") != v:
                add("wrong")
            p = r.pipeline(transaction=False)
            for j in range(100):
                p.rpush("soak:list", j)
            p.ltrim("soak:list", -1000, -1)
            p.execute()
            add("ops", 103)
        except redis.exceptions.RedisError as e:
            add("errors")
            first_error.append(repr(e))
            time.sleep(0.5)
    r.close()

def churn():
    i = 0
    while not os.path.exists(stop):
        i += 1
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=20)
        try:
            r.set("soak:churn", i)
            if r.get("soak:churn") != str(i).encode():
                add("wrong")
            add("ops", 2)
        except redis.exceptions.RedisError as e:
            add("errors")
            first_error.append(repr(e))
            time.sleep(0.5)
        finally:
            r.close()
            r.connection_pool.disconnect()

ts = [threading.Thread(target=steady), threading.Thread(target=churn)]
for t in ts: t.start()
for t in ts: t.join()
print("ops %d errors %d wrong %d" % (counts["ops"], counts["errors"], counts["wrong"]))
if first_error:
    print("first error: %s" % first_error[0])
sys.exit(0 if counts["errors"] == 0 and counts["wrong"] == 0 else 1)
EOF

STOP=$T_TMP/soak.stop
CSV=$T_TMP/soak.csv

# sample PID: "rss_kib fds" of PID, or "- -" if it is gone.
sample() {
	local rss fds
	rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null)
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	if [ -z "$rss" ]; then echo "- -"; else echo "$rss $fds"; fi
}

case_soak() {
	local bench py t deadline
	"${SHIM[@]}" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 20 -n 20000 \
		-r 10000 -d 256 -t set,get,lpush,lpop,incr -l -q \
		>"$T_TMP/bench.out" 2>&1 </dev/null &
	bench=$!
	t_track "$bench"
	"${SHIM[@]}" "$T_PY" "$PYC" "$REDIS_PORT" "$STOP" \
		>"$T_TMP/py.out" 2>"$T_TMP/py.err" </dev/null &
	py=$!
	t_track "$py"

	echo "t bench_rss_kib bench_fds py_rss_kib py_fds" >"$CSV"
	echo "    soak: ${SECONDS_TO_RUN}s, redis-benchmark pid $bench, redis-py pid $py"
	t=0
	deadline=$((SECONDS + SECONDS_TO_RUN))
	while [ "$SECONDS" -lt "$deadline" ]; do
		sleep 1
		t=$((t + 1))
		echo "$t $(sample "$bench") $(sample "$py")" >>"$CSV"
	done
	[ -n "$CSV_OUT" ] && cp "$CSV" "$CSV_OUT"

	kill -0 "$bench" 2>/dev/null || fail "redis-benchmark died: $(t_short "$(tr '\r' '\n' <"$T_TMP/bench.out" | tail -5)")"
	kill -0 "$py" 2>/dev/null || fail "redis-py died: $(t_short "$(cat "$T_TMP/py.out" "$T_TMP/py.err")")"
	touch "$STOP"
	stop_pid "$bench"
	local i=0
	while kill -0 "$py" 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	wait "$py"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "redis-py exited $rc: $(t_short "$(cat "$T_TMP/py.out") $(tail -3 "$T_TMP/py.err")")"
	echo "    redis-py: $(head -1 "$T_TMP/py.out")"
	echo "    redis-benchmark, last: $(tr '\r' '\n' <"$T_TMP/bench.out" | grep -a . | tail -1 | cut -c1-100)"
	echo "    server: $(rcli_native INFO stats | tr -d '\r' | grep -E '^(total_connections_received|total_commands_processed):' | tr '\n' ' ')"
	assert_eq "" "$(grep -aiE 'redis-tls-shim.*(error|warning)' "$T_TMP/bench.out" "$T_TMP/py.err" | head -3)" \
		"the shim's warning/error lines"

	# The flatness check, per series.
	awk -v out="$T_TMP/flat.txt" '
	NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; ncol = NF; next }
	{ n++; for (i = 2; i <= ncol; i++) v[n, i] = $i }
	END {
		skip = int(n / 10); if (skip < 2) skip = 2
		m = n - skip; q = int(m / 4); if (q < 1) q = 1
		bad = 0
		printf "    %-14s %8s %8s %8s %8s  %s\n", "series", "min", "max", "q1 max", "q4 max", "verdict"
		for (i = 2; i <= ncol; i++) {
			slack = name[i] ~ /rss/ ? 2048 : 4
			min = ""; max = ""; q1 = ""; q4 = ""; gone = 0
			for (k = skip + 1; k <= n; k++) {
				x = v[k, i]
				if (x == "-") { gone = 1; continue }
				x += 0
				if (min == "" || x < min) min = x
				if (max == "" || x > max) max = x
				if (k <= skip + q && (q1 == "" || x > q1)) q1 = x
				if (k > n - q && (q4 == "" || x > q4)) q4 = x
			}
			ok = !gone && q1 != "" && q4 != "" && q4 <= q1 * 1.1 + slack
			if (!ok) bad++
			printf "    %-14s %8s %8s %8s %8s  %s\n", name[i], min, max, q1, q4,
				gone ? "PROCESS GONE" : ok ? "flat" : "GROWS"
		}
		printf "%d\n", bad > out
	}' "$CSV"
	local bad
	bad=$(cat "$T_TMP/flat.txt")
	[ "$bad" = 0 ] || fail "$bad series not flat (samples: $CSV${CSV_OUT:+, kept in $CSV_OUT})"
}

t_case "soak ${SECONDS_TO_RUN}s: redis-benchmark -l and redis-py, RSS and fds flat" case_soak
t_done
