#!/bin/bash
# Hostile and broken TLS servers (tests/servers/hostile_server.py): a real
# certificate and a real handshake, then truncated records, oversized
# records, close_notify mid-reply, FIN or RST mid-reply, random bytes.
# (Plaintext servers, garbage before the handshake, close at once and a
# silent peer are 50-failures.sh's.)  For each, with redis-cli and with
# redis-py (socket_timeout 2 s), through the shim:
#   - no crash, and the client is done within a bound set by the configured
#     timeouts (handshake_timeout_ms 1000 here, socket_timeout 2 s);
#   - the client gets an error it can act on (redis-cli exits 1 with
#     "Error: ..." or "Could not connect ..."; redis-py raises
#     ConnectionError or TimeoutError);
#   - the server received no plaintext: the command's marker is not in
#     the raw bytes it received, and those bytes are, byte by byte, a whole
#     number of TLS records (the server logs "client records ok N").
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

HS_TIMEOUT_MS=1000
PY_TIMEOUT=2
# start_hostile MODE NAME [ARGS...]: hostile_server.py in MODE, requiring a
# client certificate from the test CA; records into $T_TMP/hostile-NAME.*.
# Sets H_PORT, H_PID, H (the prefix).
start_hostile() {
	local mode=$1 name=$2
	shift 2
	start_hostile_server "$mode" "$T_TMP/hostile-$name" --client-ca "$PKI/ca.crt" "$@"
}

# The shim, configured for the hostile server: the test CA, the client
# certificate, a short handshake timeout.
shim_for() {
	SHIM=("$T_RUN" --endpoint "127.0.0.1:$1" --cacert "$PKI/ca.crt"
		--cert "$PKI/client.crt" --key "$PKI/client.key" --)
}
export REDIS_TLS_HANDSHAKE_TIMEOUT_MS=$HS_TIMEOUT_MS

PYC=$T_TMP/hostile_client.py
cat >"$PYC" <<'EOF'
# hostile_client.py PORT MARKER TIMEOUT: SET MARKER through redis-py; print
# "ERROR <class>: <message>" (exit 0) for the errors a program can act on,
# "NO ERROR <reply>" (exit 3) if the command succeeded, or let anything
# else escape (exit 1).
import sys, time
import redis
port, marker, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                socket_connect_timeout=timeout + 3)
t0 = time.monotonic()
try:
    reply = r.set(marker, "1")
except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
    print("ERROR %s: %s (%.2f s)" % (type(e).__name__, e, time.monotonic() - t0))
    sys.exit(0)
print("NO ERROR %r" % (reply,))
sys.exit(3)
EOF

# elapsed_ms: milliseconds since the last `mark_time`.
mark_time() { T0_NS=$(date +%s%N); }
elapsed_ms() { echo $((($(date +%s%N) - T0_NS) / 1000000)); }

# no_crash WHAT: the last t_run ended by itself, with no signal and no
# sanitizer or crash report.
no_crash() {
	[ "$T_RC" -eq 124 ] || [ "$T_RC" -eq 137 ] && { fail "$1 hung (killed after ${T_TIMEOUT}s)"; return 1; }
	[ "$T_RC" -ge 128 ] && { fail "$1 died of signal $((T_RC - 128)); stderr: $(t_short "$T_ERR")"; return 1; }
	assert_not_contains "$T_ERR" "Sanitizer" "$1's stderr" || return
	assert_not_contains "$T_ERR" "Segmentation" "$1's stderr"
}

# within MS WHAT: the last run took at most MS milliseconds.
within() {
	local took
	took=$(elapsed_ms)
	[ "$took" -le "$1" ] && return 0
	fail "$2 took ${took} ms, more than the ${1} ms the timeouts allow"
}

# nothing_in_clear: the marker never crossed the wire in clear, and every
# byte the server received was part of a TLS record.
nothing_in_clear() {
	assert_file_lacks "$H.raw" "$M" "bytes the server received" || return
	assert_file_has "$H.log" "client records ok" "server's log" || return
	if grep -q "NOT TLS records" "$H.log"; then
		fail "the server received bytes that are not TLS records: $(grep "NOT TLS" "$H.log" | head -2)"
	fi
}

# shim_errors: the shim's warning and error lines in the last run.
shim_errors() { shim_log_lines "$T_ERR" | grep -iE 'warning|error'; }

# hostile MODE MS SHIM-ERE [SERVER ARGS...]: one mode, redis-cli then
# redis-py.  MS bounds each client's run; SHIM-ERE is what the shim's
# (single, distinct) error line must match, or "-" for a connection the
# server ended in an orderly way as far as TLS goes (no line expected),
# or "?" for no requirement on the line.
hostile() {
	local mode=$1 ms=$2 ere=$3
	shift 3
	M=$(marker)
	start_hostile "$mode" "$mode-$RANDOM" "$@" || return
	shim_for "$H_PORT"

	if [ "$mode" != truncate-stall ]; then
		# redis-cli has no read timeout: a server that stalls mid-reply
		# stalls it as it would without TLS.  The other modes end.
		mark_time
		t_run "${SHIM[@]}" redis-cli -h 127.0.0.1 -p "$H_PORT" SET "$M" 1
		no_crash redis-cli || return
		within "$ms" redis-cli
		assert_failed redis-cli
		assert_not_contains "$T_OUT" OK "redis-cli's output"
		assert_match "$T_OUT$T_ERR" "^(Error|Could not connect)" "redis-cli's error"
		check_shim_line "$ere"
	fi

	mark_time
	t_run "${SHIM[@]}" "$T_PY" "$PYC" "$H_PORT" "$M" "$PY_TIMEOUT"
	no_crash redis-py || return
	within $((ms + PY_TIMEOUT * 1000)) redis-py
	assert_rc 0 "redis-py (0: it raised ConnectionError or TimeoutError)"
	assert_match "$T_OUT" "^ERROR (ConnectionError|TimeoutError)" "redis-py's exception"
	check_shim_line "$ere"

	sleep 0.2 # the server logs the end of the connection
	nothing_in_clear
	echo "    $mode: redis-py: ${T_OUT:-?}; shim: $(shim_log_lines "$T_ERR" | head -1 | cut -c1-160)"
	stop_pid "$H_PID"
}

check_shim_line() {
	case $1 in
	"?") return 0 ;;
	-) assert_eq "" "$(shim_errors)" "the shim's warning/error lines" ;;
	*) assert_same_shim_error "$1" ;;
	esac
}

case_control() {
	# The same server, behaving: proves the harness sees success and
	# finds the marker where TLS put it (decrypted), not on the wire.
	M=$(marker)
	start_hostile good "good-$RANDOM" || return
	shim_for "$H_PORT"
	t_run "${SHIM[@]}" redis-cli -h 127.0.0.1 -p "$H_PORT" SET "$M" 1
	assert_rc 0 "redis-cli against the well-behaved server"
	assert_eq OK "$T_OUT" "redis-cli's reply"
	sleep 0.2
	assert_file_has "$H.plain" "$M" "what the server decrypted" || return
	nothing_in_clear
	stop_pid "$H_PID"
}

case_reply_then_bad() {
	# A good reply and a forged record in one segment: the program gets
	# the reply, then an error on that connection - never bytes from the
	# forged record.  (A bare redis-py Connection: the pool would notice
	# the broken connection and quietly reconnect.)
	M=$(marker)
	start_hostile reply-then-bad "reply-then-bad-$RANDOM" || return
	shim_for "$H_PORT"
	mark_time
	t_run "${SHIM[@]}" "$T_PY" -c '
import sys, redis
c = redis.Connection(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=2)
c.connect()
c.send_command("SET", sys.argv[2], "1")
print("first:", c.read_response())
try:
    c.send_command("GET", sys.argv[2])
    print("second:", c.read_response())
except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
    print("second: ERROR %s: %s" % (type(e).__name__, e))
' "$H_PORT" "$M"
	no_crash redis-py || return
	within "$ONCE" redis-py
	assert_rc 0 "redis-py"
	assert_contains "$T_OUT" "first: b'OK'" "the good reply"
	assert_contains "$T_OUT" "second: ERROR ConnectionError" "the command after the forged record"
	# (The shim's log line for the forged record: see the report; today
	# it is "connection lost: Connection reset by peer" at info level.)
	sleep 0.2
	nothing_in_clear
	echo "    reply-then-bad: $(tr '\n' ' ' <<<"$T_OUT")"
	stop_pid "$H_PID"
}

# Bounds: a client that gives up at once has ~1 s (start-up and a retry);
# the handshake timeout adds 1 s per connection attempt (redis-cli tries
# twice); redis-py adds its 2 s socket_timeout.
ONCE=3000
HS_TWICE=$((2 * HS_TIMEOUT_MS + 2500))

TLSERR="TLS|record|packet|length|version|decrypt|mac|overflow|alert"

t_case "control: a well-behaved server, marker only inside TLS" case_control
t_case "handshake: first record cut, then silence (handshake timeout)" \
	hostile hs-truncate-stall "$HS_TWICE" "time"
# The server's FIN in the middle of its first record: the program sees a
# failed connect, and one line says the server closed during the handshake.
t_case "handshake: first record cut, then FIN" \
	hostile hs-truncate-close "$ONCE" "closed the connection during the TLS handshake"
t_case "handshake: record of 18433 bytes (> 2^14+2048)" \
	hostile hs-oversize "$ONCE" "$TLSERR|not speak TLS"
# A record cut short is a truncation, not an end of stream: said once.
TRUNC="ended in the middle of a TLS record"
t_case "reply: application record cut, then FIN" \
	hostile truncate-close "$ONCE" "$TRUNC"
t_case "reply: application record cut, then silence (redis-py timeout)" \
	hostile truncate-stall "$ONCE" -
t_case "reply: application record of 18433 bytes" \
	hostile oversize "$ONCE" "$TLSERR"
t_case "reply: close_notify mid-reply, TCP left open" \
	hostile close-notify "$ONCE" -
t_case "reply: FIN mid-reply, no close_notify" \
	hostile fin "$ONCE" -
t_case "reply: RST mid-reply" \
	hostile rst "$ONCE" -
t_case "reply: random bytes after a good handshake" \
	hostile garbage "$ONCE" "$TLSERR"
t_case "reply: records of random ciphertext (bad MAC)" \
	hostile bad-record "$ONCE" "$TLSERR"
t_case "reply: a good reply, then a forged record in the same segment" case_reply_then_bad
# The same after a TLS 1.2 handshake (other record layer: explicit nonces,
# no encrypted content type).
for m in truncate-close oversize close-notify rst garbage bad-record; do
	case $m in
	oversize | garbage | bad-record) e=$TLSERR ;;
	truncate-close) e=$TRUNC ;;
	*) e=- ;;
	esac
	t_case "TLS 1.2 reply: $m" hostile "$m" "$ONCE" "$e" --max-version 1.2
done
t_done
