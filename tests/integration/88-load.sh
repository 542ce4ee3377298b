#!/bin/bash
# Load: 1000 concurrent TLS connections from one process through the shim,
# against a TLS-only redis-server requiring client certificates.
#   - epoll: /usr/bin/python3, non-blocking sockets, connect() in progress
#     for all 1000 at once (the shim runs 1000 handshakes behind EINPROGRESS
#     and reports each one writable when it is done), then PING/SET/GET
#     pipelined on each, every reply checked byte-exact, all 1000 held open
#     while the server counts them;
#   - redis-py: 1000 redis.Redis clients, each with its own connection,
#     served by 50 threads, PING/SET/GET on each, all held open.
# The client's RSS is measured after one connection and after all of them:
# the difference per connection is printed, for the same program against a
# plaintext redis-server without the shim too (the program's own share).
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

N=${LOAD_CONNECTIONS:-1000}
# A limit on what the shim may add per connection (KiB of RSS, over the
# plaintext program's own): OpenSSL's SSL object and buffers are ~40-60 KiB
# while a record is in flight; idle connections should hold far less.
MAX_SHIM_KIB=${LOAD_MAX_SHIM_KIB:-160}

ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" -lt $((N + 100)) ]; then
	echo "ulimit -n is $(ulimit -n), need $((N + 100)): raise the hard limit" >&2
fi

start_tls_redis --maxclients $((N + 500)) || t_done
start_plain_redis --maxclients $((N + 500)) || t_done

PYC=$T_TMP/load_client.py
cat >"$PYC" <<'EOF'
# load_client.py epoll|redispy PORT N HOLD-FILE
# Opens N connections to 127.0.0.1:PORT, PING/SET/GET on each, holds them
# all open; creates HOLD-FILE.ready and waits (at most 60 s) for
# HOLD-FILE.go; closes them.  Prints "rss_1 KiB", "rss_n KiB",
# "per_conn KiB", "ok N"; exits 0 only when every connection answered
# every command right.
import errno, os, resource, select, socket, sys, time

mode, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
# LOAD_SOFT: a soft limit with room for the program's own descriptors only
soft = min(int(os.environ.get("LOAD_SOFT", hard)), hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def expected(i):
    v = ("value-%d-" % i).encode() * 4
    req = resp("PING") + resp("SET", "load:%d" % i, v) + resp("GET", "load:%d" % i)
    rep = b"+PONG\r\n+OK\r\n$%d\r\n%s\r\n" % (len(v), v)
    return req, rep

def die(msg):
    print("FAILED: " + msg, flush=True)
    sys.exit(1)

def run_epoll(first, last, socks):
    """Connections first..last-1, all in flight at once."""
    ep = select.epoll()
    state = {}
    for i in range(first, last):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            die("connect %d: %s" % (i, os.strerror(rc)))
        req, rep = expected(i)
        state[s.fileno()] = [s, i, req, rep, b"", "connecting"]
        ep.register(s.fileno(), select.EPOLLOUT)
    left = len(state)
    deadline = time.monotonic() + 120
    while left:
        if time.monotonic() > deadline:
            stuck = [st[5] for st in state.values() if st[5] != "done"]
            die("%d connections stuck (%s)" % (len(stuck), sorted(set(stuck))))
        for fd, ev in ep.poll(1.0):
            st = state[fd]
            s = st[0]
            if st[5] == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    die("connection %d: %s" % (st[1], os.strerror(err)))
                st[5] = "writing"
            if st[5] == "writing":
                try:
                    k = s.send(st[2])
                except BlockingIOError:
                    continue
                st[2] = st[2][k:]
                if not st[2]:
                    st[5] = "reading"
                    ep.modify(fd, select.EPOLLIN)
                continue
            if st[5] == "reading":
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    die("connection %d: end of stream after %r" % (st[1], st[4]))
                st[4] += data
                if len(st[4]) >= len(st[3]):
                    if st[4] != st[3]:
                        die("connection %d: got %r" % (st[1], st[4]))
                    st[5] = "done"
                    ep.unregister(fd)
                    left -= 1
    ep.close()
    socks.extend(st[0] for st in state.values())

def run_redispy(first, last, socks):
    import redis
    from concurrent.futures import ThreadPoolExecutor
    clients = [redis.Redis(host="127.0.0.1", port=port, socket_timeout=60,
                           socket_connect_timeout=60)
               for _ in range(first, last)]
    def work(k):
        i = first + k
        r = clients[k]
        v = ("value-%d-" % i).encode() * 4
        if r.ping() is not True:
            return "PING %d" % i
        if r.set("load:%d" % i, v) is not True:
            return "SET %d" % i
        if r.get("load:%d" % i) != v:
            return "GET %d" % i
        return None
    with ThreadPoolExecutor(max_workers=50) as ex:
        errs = [e for e in ex.map(work, range(len(clients))) if e]
    if errs:
        die("%d wrong: %s" % (len(errs), errs[:5]))
    # each client keeps its one connection in its pool
    socks.extend(clients)

run = run_epoll if mode == "epoll" else run_redispy
socks = []
t0 = time.monotonic()
run(0, 1, socks)
rss_1 = rss_kib()
run(1, n, socks)
took = time.monotonic() - t0
rss_n = rss_kib()
print("rss_1 %d KiB" % rss_1)
print("rss_n %d KiB" % rss_n)
print("per_conn %.1f KiB" % ((rss_n - rss_1) / max(1, n - 1)))
print("seconds %.2f" % took)
print("ok %d" % len(socks), flush=True)
open(hold + ".ready", "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(hold + ".go") and time.monotonic() < deadline:
    time.sleep(0.05)
if mode == "epoll":
    for s in socks:
        s.close()
else:
    for c in socks:
        c.close()
        c.connection_pool.disconnect()
EOF

# connected_clients on the TLS server (asked natively) or the plain one.
clients_tls() { rcli_native INFO clients | tr -d '\r' | sed -n 's/^connected_clients://p'; }
clients_plain() { redis-cli -p "$PLAIN_PORT" INFO clients | tr -d '\r' | sed -n 's/^connected_clients://p'; }

# load_run MODE tls|plain: sets LOAD_OUT (the program's lines), HELD (what
# the server counted while they were held).
load_run() {
	local mode=$1 kind=$2 hold=$T_TMP/hold-$1-$2 pid out=$T_TMP/load-$1-$2.out
	local -a run=()
	local port=$PLAIN_PORT
	if [ "$kind" = tls ]; then
		run=("${SHIM[@]}")
		port=$REDIS_PORT
	fi
	"${run[@]}" "$T_PY" "$PYC" "$mode" "$port" "$N" "$hold" >"$out" 2>"$out.err" </dev/null &
	pid=$!
	t_track "$pid"
	if ! wait_until 150 test -e "$hold.ready"; then
		fail "$mode/$kind: the connections were not all made: $(t_short "$(cat "$out" "$out.err")" 800)"
		stop_pid "$pid"
		return 1
	fi
	HELD=$("clients_$kind")
	touch "$hold.go"
	wait "$pid"
	local rc=$?
	LOAD_OUT=$(cat "$out")
	[ "$rc" -eq 0 ] || fail "$mode/$kind: exit $rc: $(t_short "$LOAD_OUT $(cat "$out.err")" 800)"
	assert_contains "$LOAD_OUT" "ok $N" "$mode/$kind: connections that answered right" || return
	if [ "$kind" = tls ]; then
		assert_eq "" "$(shim_log_lines "$(cat "$out.err")" | grep -iE 'error|warning')" \
			"the shim's warning/error lines"
	fi
}

per_conn() { sed -n 's/^per_conn \([0-9.]*\) KiB/\1/p' <<<"$1"; }

case_load() {
	local mode=$1 tls_kib plain_kib extra
	load_run "$mode" plain || return
	plain_kib=$(per_conn "$LOAD_OUT")
	load_run "$mode" tls || return
	tls_kib=$(per_conn "$LOAD_OUT")
	[ "$HELD" -ge "$N" ] || fail "the TLS server counted $HELD clients while $N were held"
	extra=$(awk -v a="$tls_kib" -v b="$plain_kib" 'BEGIN { printf "%.1f", a - b }')
	echo "    $mode: $N TLS connections held at once (server counted $HELD)," \
		"$(sed -n 's/^seconds //p' <<<"$LOAD_OUT") s; RSS per connection:" \
		"${tls_kib} KiB through the shim, ${plain_kib} KiB plaintext without it," \
		"the shim's share ${extra} KiB; RSS with all held: $(sed -n 's/^rss_n //p' <<<"$LOAD_OUT")"
	awk -v e="$extra" -v m="$MAX_SHIM_KIB" 'BEGIN { exit !(e <= m) }' ||
		fail "the shim adds ${extra} KiB per connection (limit ${MAX_SHIM_KIB})"
}

# The program leaves room for its own N sockets only (soft limit N + 100,
# the hard one higher): each TLS connection's two private descriptors need
# more, so the shim raises the soft limit toward the hard one, says so once
# at info, and every connection works.
case_room() {
	local hold=$T_TMP/hold-room out=$T_TMP/load-room.out pid
	if [ "$(ulimit -Hn)" -lt $((3 * N + 200)) ]; then
		fail "the hard limit $(ulimit -Hn) leaves no room to raise into (need $((3 * N + 200)))"
		return
	fi
	LOAD_SOFT=$((N + 100)) "${SHIM[@]::${#SHIM[@]}-1}" --log-level info -- \
		"$T_PY" "$PYC" epoll "$REDIS_PORT" "$N" "$hold" >"$out" 2>"$out.err" </dev/null &
	pid=$!
	t_track "$pid"
	wait_until 150 test -e "$hold.ready" || {
		fail "the connections were not all made: $(t_short "$(cat "$out" "$out.err")" 800)"
		stop_pid "$pid"
		return 1
	}
	touch "$hold.go"
	wait "$pid" || fail "exit $?: $(t_short "$(cat "$out.err")" 800)"
	assert_contains "$(cat "$out")" "ok $N" "connections that answered right" || return
	assert_eq 1 "$(grep -c 'info: raising the soft RLIMIT_NOFILE from '"$((N + 100))" "$out.err")" \
		"info lines saying the soft limit was raised" || return
	assert_eq "" "$(shim_log_lines "$(cat "$out.err")" | grep -iE 'error|warning')" \
		"the shim's warning/error lines"
}

t_case "$N concurrent connections, one process, epoll + non-blocking connect" case_load epoll
t_case "$N TLS connections with a soft fd limit for the program's own only: raised, said once" case_room
t_case "$N concurrent connections, one process, redis-py + 50 threads" case_load redispy
t_done
