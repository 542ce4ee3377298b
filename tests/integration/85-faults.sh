#!/bin/bash
# Faults on a real TLS redis-server (client certificates required), with
# clients through the shim:
#   - the server killed (kill -9) under load from redis-benchmark (pipelined,
#     multi-threaded) and from redis-py threads (long-lived connections, or
#     a new connection per round trip so that the kill lands in handshakes):
#     every client gets an error promptly (far sooner than any timeout it
#     has), nothing hangs, no reply is wrong;
#   - the server frozen (SIGSTOP) under redis-py load: socket_timeout ends
#     every call;
#   - in one long-running redis-py process: a resumed handshake before the
#     server is restarted on the same port, a full one after it (the stale
#     ticket is refused and the shim falls back), then resumed again; then
#     the server comes back with a certificate from a CA the client does not
#     trust: the stale connection errors, every new one fails closed even
#     with a session cached from the trusted server, and nothing of the
#     command reaches the new server.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

# start_redis_on PORT [ARGS...]: a TLS-only redis-server on PORT (which it
# may just have been killed on); sets REDIS_PID.
start_redis_on() {
	local port=$1 log
	shift
	log=$T_TMP/redis-$port-$RANDOM.log
	redis-server --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
		--dir "$T_TMP" --logfile "$log" --port 0 --tls-port "$port" \
		--tls-cert-file "$PKI/server.crt" --tls-key-file "$PKI/server.key" \
		--tls-ca-cert-file "$PKI/ca.crt" --tls-auth-clients yes \
		--maxclients 2000 "$@" </dev/null >/dev/null 2>&1 &
	REDIS_PID=$!
	t_track "$REDIS_PID"
	wait_until 10 _redis_up "$log" "$REDIS_PID" && return 0
	fail "redis-server did not start on $port: $(tail -3 "$log" 2>/dev/null)"
}

# kill9: kill -9 the server and reap it; KILL_NS is when.
kill9() {
	KILL_NS=$(date +%s%N)
	kill -KILL "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	FAULTS=$((FAULTS + 1))
}
FAULTS=0

# await PID MS: wait up to MS milliseconds for PID to exit; sets WAITED_MS
# (since the kill) and AWAIT_RC; fails the case if it is still running.
await() {
	local pid=$1 ms=$2 deadline
	deadline=$(($(date +%s%N) + ms * 1000000))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(date +%s%N)" -gt "$deadline" ]; then
			fail "pid $pid still running ${ms} ms after the fault"
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			AWAIT_RC=137
			return 1
		fi
		sleep 0.02
	done
	WAITED_MS=$((($(date +%s%N) - KILL_NS) / 1000000))
	wait "$pid"
	AWAIT_RC=$?
	return 0
}

PYC=$T_TMP/faults_client.py
cat >"$PYC" <<'EOF'
# faults_client.py load|churn PORT THREADS READY TIMEOUT
#   THREADS threads (each its own connection; with churn, a new connection
#   for every round trip) SET/GET random values and check them, plus one
#   pipelining thread, until an error; READY is
#   created once every thread has done 50 round trips.  Prints one line
#   per thread ("thread N: ConnectionError after K ops: ...") and exits 0
#   when every thread ended with ConnectionError or TimeoutError and no
#   value read back was wrong.
# faults_client.py resume PORT DIR MARKER: the restart sequence; prints
#   "STEP name" lines on stderr (between the shim's lines), waits for DIR/go-N
#   files from the test.
import os, sys, threading, time
import redis

E = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

def client(port, timeout):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout)

def load(port, nthreads, ready, timeout, churn):
    counts, ends, wrong = {}, {}, []
    lock = threading.Lock()
    def worker(n):
        r = client(port, timeout)
        ops = 0
        try:
            while True:
                if n == nthreads:  # the pipelining thread
                    p = r.pipeline(transaction=False)
                    for i in range(100):
                        p.set("f:p:%d" % i, "v%d:%d" % (i, ops))
                    for i in range(100):
                        p.get("f:p:%d" % i)
                    res = p.execute()
                    if res[100:] != [("v%d:%d" % (i, ops)).encode() for i in range(100)]:
                        wrong.append("pipeline %d" % ops)
                else:
                    v = os.urandom(1 + (ops * 7919) % 20000)
                    r.set("f:%d" % n, v)
                    if r.get("f:%d" % n) != v:
                        wrong.append("thread %d op %d" % (n, ops))
                if churn:
                    r.connection_pool.disconnect()
                ops += 1
                with lock:
                    counts[n] = ops
        except E as e:
            ends[n] = "%s after %d ops: %s" % (type(e).__name__, ops, e)
        except Exception as e:
            ends[n] = "UNEXPECTED %s after %d ops: %r" % (type(e).__name__, ops, e)
    ts = [threading.Thread(target=worker, args=(n,), daemon=True)
          for n in range(nthreads + 1)]
    for t in ts: t.start()
    while len([c for c in counts.values() if c >= 50]) < nthreads + 1:
        if not any(t.is_alive() for t in ts):
            break
        time.sleep(0.05)
    open(ready, "w").close()
    for t in ts: t.join()
    ok = True
    for n in range(nthreads + 1):
        line = ends.get(n, "no end recorded")
        print("thread %d: %s" % (n, line), flush=True)
        if not line.startswith(("ConnectionError", "TimeoutError")):
            ok = False
    if wrong:
        print("WRONG VALUES: %s" % wrong[:5], flush=True)
        ok = False
    print("total ops: %d" % sum(counts.values()), flush=True)
    sys.exit(0 if ok else 1)

def step(name):
    print("STEP %s" % name, file=sys.stderr, flush=True)

def wait_go(d, n):
    open(os.path.join(d, "ready-%d" % n), "w").close()
    while not os.path.exists(os.path.join(d, "go-%d" % n)):
        time.sleep(0.05)

def resume(port, d, marker):
    r = client(port, 5)
    fails = []
    def expect_error(what, fn):
        t0 = time.monotonic()
        try:
            fn()
        except E as e:
            step("%s: %s in %.2f s: %s" % (what, type(e).__name__,
                                          time.monotonic() - t0, e))
            return
        fails.append("%s: no error" % what)
    def raw_ping(conn):
        conn.send_command("PING")
        return conn.read_response()
    step("first")
    r.set("f:resume", "1")
    r.connection_pool.disconnect()
    step("second")
    r.incr("f:resume")
    r.connection_pool.disconnect()
    step("third")
    if r.get("f:resume") != b"2":
        fails.append("f:resume != 2 before the restart")
    # A bare connection, kept open across the restart: redis-py's pool
    # would notice the dead connection and quietly reconnect.
    step("bare connection")
    bare = redis.Connection(host="127.0.0.1", port=port, socket_timeout=5)
    bare.connect()
    if raw_ping(bare) != b"PONG":
        fails.append("bare PING")
    wait_go(d, 1)   # the test kills -9 and restarts the server
    expect_error("bare connection after the restart", lambda: raw_ping(bare))
    step("after restart")
    r.set("f:resume", "new")   # reconnects: a stale ticket in the cache
    r.connection_pool.disconnect()
    step("after restart, again")
    if r.get("f:resume") != b"new":
        fails.append("f:resume != new after the restart")
    bare = redis.Connection(host="127.0.0.1", port=port, socket_timeout=5)
    bare.connect()
    raw_ping(bare)
    wait_go(d, 2)   # the test restarts the server with an untrusted cert
    expect_error("bare connection after the certificate change",
                 lambda: raw_ping(bare))
    step("untrusted")
    for i in range(3):
        expect_error("SET to the untrusted server",
                     lambda: r.set(marker, "leaked"))
    for f in fails:
        print("FAILED: %s" % f, flush=True)
    sys.exit(1 if fails else 0)

if sys.argv[1] in ("load", "churn"):
    load(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]),
         sys.argv[1] == "churn")
else:
    resume(int(sys.argv[2]), sys.argv[3], sys.argv[4])
EOF

# Errors must come from the fault, not from a timeout: the clients'
# timeouts are 30 s, the bound PROMPT_MS.
PROMPT_MS=3000

# bench_kill NAME BENCH-ARGS...: redis-benchmark through the shim, kill -9
# the server once it is busy; redis-benchmark must exit with an error
# within PROMPT_MS.
bench_kill() {
	local name=$1 out=$T_TMP/bench-$1.out pid
	shift
	start_tls_redis --maxclients 2000 || return
	local port=$REDIS_PORT
	"${SHIM[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -n 100000000 \
		-r 100000 -d 64 -t set,get -q "$@" >"$out" 2>&1 </dev/null &
	pid=$!
	t_track "$pid"
	# busy: commands went through the shim
	if ! wait_until 15 _commands_done 500; then
		fail "redis-benchmark did not get going: $(t_short "$(tail -c 400 "$out")")"
		return 1
	fi
	kill9
	await "$pid" "$PROMPT_MS" || return
	[ "$AWAIT_RC" -lt 128 ] || fail "redis-benchmark died of signal $((AWAIT_RC - 128))"
	[ "$AWAIT_RC" -ne 0 ] || fail "redis-benchmark exited 0 after the server died"
	assert_match "$(tr '\r' '\n' <"$out" | tail -3)" "Error|reset|closed|refused" \
		"redis-benchmark's last words"
	assert_not_contains "$(cat "$out")" "Sanitizer" "redis-benchmark's output"
	echo "    $name: redis-benchmark exited $AWAIT_RC ${WAITED_MS} ms after kill -9: $(tr '\r' '\n' <"$out" | grep -a . | tail -1 | cut -c1-100)"
}

# _commands_done N: the TLS server has run at least N commands (asked over
# native TLS; a benchmark can run for hours before killing the server).
_commands_done() {
	local n
	n=$(rcli_native INFO stats 2>/dev/null | tr -d '\r' |
		sed -n 's/^total_commands_processed://p')
	[ -n "$n" ] && [ "$n" -ge "$1" ]
}

case_bench_pipelined() { bench_kill pipelined -c 50 -P 16; }
case_bench_threads() { bench_kill threads -c 20 --threads 2; }
# (redis-benchmark -k 0, a connection per request, is not used: after the
# server dies it spins reconnecting forever, without the shim too.)

# py_fault SIGNAL BOUND-MS TIMEOUT [churn]: redis-py load, then the server
# gets SIGNAL; every thread must end with an error within BOUND-MS.
py_fault() {
	local sig=$1 bound=$2 timeout=$3 mode=${4:-load} ready=$T_TMP/py-ready-$RANDOM pid out
	out=$T_TMP/py-$sig-$mode.out
	start_tls_redis --maxclients 2000 || return
	"${SHIM[@]}" "$T_PY" "$PYC" "$mode" "$REDIS_PORT" 8 "$ready" "$timeout" \
		>"$out" 2>&1 </dev/null &
	pid=$!
	t_track "$pid"
	if ! wait_until 20 test -e "$ready"; then
		fail "redis-py load did not get going: $(t_short "$(cat "$out")")"
		return 1
	fi
	sleep 0.3
	if [ "$sig" = KILL ]; then
		kill9
	else
		KILL_NS=$(date +%s%N)
		kill -STOP "$REDIS_PID"
		FAULTS=$((FAULTS + 1))
	fi
	await "$pid" "$bound"
	local rc=$AWAIT_RC
	[ "$sig" = KILL ] || kill -CONT "$REDIS_PID"
	[ "$rc" -eq 0 ] || fail "redis-py load exited $rc: $(t_short "$(cat "$out")" 1000)"
	assert_not_contains "$(cat "$out")" "UNEXPECTED" "redis-py threads' ends"
	assert_not_contains "$(cat "$out")" "WRONG" "redis-py's values"
	echo "    SIG$sig $mode: all 9 redis-py threads raised within ${WAITED_MS:-?} ms; $(grep -a 'total ops' "$out"); $(grep -a '^thread 0' "$out" | cut -c1-110)"
	stop_pid "$REDIS_PID"
}

case_py_kill() {
	py_fault KILL "$PROMPT_MS" 30 || return
	assert_not_contains "$(cat "$T_TMP/py-KILL-load.out")" "TimeoutError" "redis-py threads' ends"
}
case_py_kill_churn() {
	# A new connection per round trip: the kill lands in handshakes too.
	py_fault KILL "$PROMPT_MS" 30 churn || return
	assert_not_contains "$(cat "$T_TMP/py-KILL-churn.out")" "TimeoutError" "redis-py threads' ends"
}
case_py_stop() {
	# A frozen server: nothing ends the calls but socket_timeout (2 s).
	py_fault STOP 6000 2
	assert_match "$(cat "$T_TMP/py-STOP-load.out")" "thread 0: TimeoutError" "thread 0's end"
}

case_restart_resume() {
	local d=$T_TMP/resume M port pid log=$T_TMP/resume.err lines
	M=$(marker)
	mkdir -p "$d"
	start_tls_redis --maxclients 2000 || return
	port=$REDIS_PORT
	REDIS_TLS_LOG_LEVEL=info "${SHIM[@]}" "$T_PY" "$PYC" resume "$port" "$d" "$M" \
		>"$T_TMP/resume.out" 2>"$log" </dev/null &
	pid=$!
	t_track "$pid"
	wait_until 20 test -e "$d/ready-1" || { fail "resume: phase 1 not reached: $(t_short "$(cat "$log")" 800)"; return 1; }
	kill9
	start_redis_on "$port" || return
	touch "$d/go-1"
	wait_until 20 test -e "$d/ready-2" || { fail "resume: phase 2 not reached: $(t_short "$(cat "$log")" 800)"; return 1; }
	kill9
	# The same port, the same names, a CA the client does not trust.
	start_redis_on "$port" --tls-cert-file "$PKI/server-other-ca.crt" \
		--tls-key-file "$PKI/server-other-ca.key" || return
	touch "$d/go-2"
	KILL_NS=$(date +%s%N)
	await "$pid" 30000 || return
	[ "$AWAIT_RC" -eq 0 ] || fail "resume client exited $AWAIT_RC: $(t_short "$(cat "$T_TMP/resume.out") $(cat "$log")" 1500)"

	# The handshakes, in order, between the steps.
	lines=$(grep -aE '^STEP|handshake done|rejected|redis-tls-shim.*error' "$log" |
		sed -E 's/^redis-tls-shim\[[0-9]+\]: //; s/(TLS handshake done): .*(resumed (yes|no)).*/\1, \2/')
	echo "$lines" | sed 's/^/    | /' | cut -c1-200
	want_after() {
		# want_after STEP ERE: the first shim line after "STEP <STEP>" matches ERE
		local got
		got=$(awk -v s="STEP $1" 'f && !/^STEP/ { print; exit } index($0, s) == 1 { f = 1 }' <<<"$lines")
		assert_match "$got" "$2" "the handshake after step '$1'"
	}
	want_after "first" "resumed no"
	want_after "second" "resumed yes"
	want_after "third" "resumed yes"
	want_after "after restart" "resumed no"
	want_after "after restart, again" "resumed yes"
	# One line for the three refusals (the shim writes a repeated error
	# once per 30 s); the three SETs all raised.
	want_after "untrusted" "certificate rejected"
	assert_match "$lines" "bare connection after the restart: ConnectionError" \
		"the bare connection's error after kill -9"
	assert_match "$lines" "bare connection after the certificate change: ConnectionError" \
		"the bare connection's error after the second kill -9"
	assert_eq 3 "$(grep -c 'SET to the untrusted server: ConnectionError' <<<"$lines")" \
		"SETs to the untrusted server that raised ConnectionError"
	assert_eq "" "$(sed -n '/^STEP untrusted/,$p' "$log" | grep -a 'handshake done')" \
		"handshakes completed with the untrusted server"
	# Nothing reached the untrusted server: ask it natively (it would not
	# verify either, so skip verification here only).
	assert_eq 0 "$(redis-cli --tls --insecure --cert "$PKI/client.crt" --key "$PKI/client.key" \
		-h 127.0.0.1 -p "$port" EXISTS "$M")" "EXISTS marker on the untrusted server"
}

t_case "kill -9 under redis-benchmark -P 16 -c 50" case_bench_pipelined
t_case "kill -9 under redis-benchmark --threads 2" case_bench_threads
t_case "kill -9 under redis-py load (8 threads + a pipeline)" case_py_kill
t_case "kill -9 under redis-py, a new connection per round trip" case_py_kill_churn
t_case "SIGSTOP under redis-py load: socket_timeout ends every call" case_py_stop
t_case "restart on the same port: stale ticket, full handshake; untrusted CA fails closed" \
	case_restart_resume
echo "    faults injected: $FAULTS"
t_done
