#!/bin/bash
# Which address a connect() goes to, and which name it verifies (DESIGN,
# security rule 2): short IPv4 forms ("127.1") are that IP; an AF_INET6
# address of 24 bytes is matched like 28; 0.0.0.0 and [::] reach the
# loopback endpoint; a name another thread (or another port) resolved is
# never verified; a host-name endpoint whose DNS moves after the
# configuration was loaded keeps getting TLS at its new address.
#
# Runs in a private mount namespace (unshare --mount, root) with its own
# /etc/hosts bind-mounted over the real one there only: the machine's
# /etc/hosts is never touched.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
if [ -z "${T_NAMES_NS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
		echo "# needs root and unshare(1) for a private /etc/hosts"
		echo "0 passed, 1 failed"
		exit 1
	fi
	T_NAMES_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

HOSTS=$T_TMP/hosts
# write_hosts NAME=IP...: the namespace's /etc/hosts, rewritten in place
# (same inode, so the bind mount shows it at once).
write_hosts() {
	local kv
	{
		printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n'
		for kv in "$@"; do
			printf '%s %s\n' "${kv#*=}" "${kv%%=*}"
		done
	} >"$HOSTS"
}
write_hosts evil.test=127.0.0.1 redis.test=127.0.0.9
mount --bind "$HOSTS" /etc/hosts || {
	echo "# mount --bind over /etc/hosts failed"
	echo "0 passed, 1 failed"
	exit 1
}

start_tls_redis || t_done
P=$REDIS_PORT

# expect_pong WHAT: redis-cli's PONG, or a raw socket's +PONG.
expect_pong() {
	assert_rc 0 "${1:-client}" || return
	assert_eq PONG "$(tail -1 <<<"$T_OUT" | sed 's/^+//')" "${1:-client} reply"
}

# ---------------------------------------------------------- short IPv4

case_short_forms() {
	local h
	for h in 127.1 0x7f.1 2130706433 0177.0.0.1; do
		t_run "${SHIM[@]}" redis-cli -h "$h" -p "$P" PING
		expect_pong "redis-cli -h $h" || return
		assert_not_contains "$T_ERR" "cannot set the name" "stderr"
	done
}

# ---------------------------------------------- AF_INET6 lengths 24..28

PYLEN=$T_TMP/v6len.py
cat >"$PYLEN" <<'EOF'
# connect() through libc (the shim's hook) with an exact addrlen.
import ctypes, os, socket, struct, sys
port, ip, length = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
sa = (struct.pack("=H", socket.AF_INET6) + struct.pack(">HI", port, 0) +
      socket.inet_pton(socket.AF_INET6, ip) + b"\0" * 4)
buf = ctypes.create_string_buffer(sa[:length], length)
if libc.connect(s.fileno(), buf, length) != 0:
    print("connect:", os.strerror(ctypes.get_errno()))
    sys.exit(1)
os.write(s.fileno(), b"PING\r\n")
print(os.read(s.fileno(), 100).decode(errors="replace").strip())
EOF

case_v6_short_lengths() {
	local len
	for len in 24 25 26 27 28; do
		t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
			REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
			REDIS_TLS_KEY_FILE="$PKI/client.key" \
			"$T_PY" "$PYLEN" "$P" ::ffff:127.0.0.1 "$len"
		# plaintext to the TLS-only server gets no PONG
		expect_pong "addrlen $len to [::ffff:127.0.0.1]:$P" || return
	done
}

# ---------------------------------------------------- 0.0.0.0 and [::]

PYANY=$T_TMP/any.py
cat >"$PYANY" <<'EOF'
import socket, sys
port, how = int(sys.argv[1]), sys.argv[2]
if how == "v6-bound-v4":  # [::] from a socket bound to ::ffff:127.0.0.1
    s = socket.socket(socket.AF_INET6)
    s.bind(("::ffff:127.0.0.1", 0))
    s.connect(("::", port))
elif how == "v6":
    s = socket.socket(socket.AF_INET6)
    s.connect(("::", port))
else:
    s = socket.socket()
    s.connect(("0.0.0.0", port))
s.sendall(b"PING\r\n")
print(s.recv(100).decode(errors="replace").strip())
EOF

case_any_v4() {
	t_run "${SHIM[@]}" redis-cli -h 0.0.0.0 -p "$P" PING
	expect_pong "redis-cli -h 0.0.0.0 (endpoint 127.0.0.1:$P)" || return
	t_run "$T_RUN" --endpoint "localhost:$P" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		"$T_PY" "$PYANY" "$P" v4
	expect_pong "0.0.0.0 (endpoint localhost:$P)"
}

case_any_v6() {
	t_run "${SHIM[@]}" "$T_PY" "$PYANY" "$P" v6-bound-v4
	expect_pong "[::] from a v4-mapped socket (endpoint 127.0.0.1:$P)" || return
	# unbound, the kernel dials [::1], where nothing listens: matched all
	# the same, so it fails before any byte, never in plaintext
	t_run "${SHIM[@]}" "$T_PY" "$PYANY" "$P" v6
	assert_failed "[::] unbound" || return
	assert_contains "$T_ERR" "before any TLS" "stderr"
}

# ------------------------------------------- names: thread and port

PYTHR=$T_TMP/threads.py
cat >"$PYTHR" <<'EOF'
# threads.py PORT HOW [NAME [COMMAND]]: resolve NAME (default evil.test)
# as HOW says, then dial 127.0.0.1:PORT (a bare IP), send COMMAND (default
# PING) and print the reply.  evil.test points at the Redis address (the
# private /etc/hosts).  How the name was resolved decides whether it is
# verified: the server's certificate has no evil.test, so verifying it
# fails, and verifying the IP passes.
import socket, sys, threading
port, how = int(sys.argv[1]), sys.argv[2]
name = sys.argv[3] if len(sys.argv) > 3 else "evil.test"
command = sys.argv[4] if len(sys.argv) > 4 else "PING"

def resolve(service):
    socket.getaddrinfo(name, service, socket.AF_INET, socket.SOCK_STREAM)

if how == "other-thread":
    t = threading.Thread(target=resolve, args=(str(port),))
    t.start(); t.join()
elif how == "other-port":
    resolve("443")
elif how == "same":
    resolve(str(port))
s = socket.socket()
try:
    s.connect(("127.0.0.1", port))
    s.sendall(("%s\r\n" % command).encode())
    print(s.recv(100).decode(errors="replace").strip())
except OSError as e:
    print("failed:", e)
    sys.exit(1)
EOF

case_other_thread_name_not_verified() {
	t_run "${SHIM[@]}" "$T_PY" "$PYTHR" "$P" other-thread
	expect_pong "bare IP after another thread resolved evil.test" || return
	assert_not_contains "$T_ERR" "evil.test" "stderr"
}

case_other_port_name_not_verified() {
	t_run "${SHIM[@]}" "$T_PY" "$PYTHR" "$P" other-port
	expect_pong "bare IP after evil.test was resolved for port 443" || return
	assert_not_contains "$T_ERR" "evil.test" "stderr"
}

case_same_thread_name_verified() {
	t_run "${SHIM[@]}" "$T_PY" "$PYTHR" "$P" same
	assert_failed "connect after this thread resolved evil.test:$P" || return
	assert_contains "$T_ERR" "evil.test" "the shim's error"
}

# The attack itself (rule 2): a certificate the trusted CA issued for a
# name that points at the Redis address (here redis.test, DNS only), and
# another thread of the program resolved that name.  A bare-IP connect to
# the configured 127.0.0.1 endpoint verifies 127.0.0.1, not redis.test: it
# fails closed with one line, and the server never gets the command.
case_redirect_fails_closed() {
	local m pid port
	m=$(marker)
	write_hosts evil.test=127.0.0.1 redis.test=127.0.0.1
	start_tls_redis --tls-cert-file "$PKI/server-redistest.crt" \
		--tls-key-file "$PKI/server-redistest.key" || return
	pid=$REDIS_PID port=$REDIS_PORT
	t_run "$T_RUN" --endpoint "127.0.0.1:$port" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- "$T_PY" "$PYTHR" "$port" other-thread redis.test "SET $m 1"
	write_hosts evil.test=127.0.0.1 redis.test=127.0.0.9
	assert_failed "bare IP after another thread resolved redis.test" || { stop_pid "$pid"; return; }
	assert_one_shim_error "expected name '127\.0\.0\.1'.*DNS:redis\.test" || { stop_pid "$pid"; return; }
	assert_eq 0 "$(redis-cli --tls --insecure --cert "$PKI/client.crt" --key "$PKI/client.key" \
		-h 127.0.0.1 -p "$port" EXISTS "$m")" "EXISTS marker on the server"
	stop_pid "$pid"
}

# A resolver thread (libuv's, say) resolved the only name that makes this
# a configured endpoint: verifying it would break rule 2, passing would
# send plaintext, so the connect is refused.
case_other_thread_wildcard_refused() {
	t_run "$T_RUN" --endpoint "*.test:$P" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		"$T_PY" "$PYTHR" "$P" other-thread
	assert_failed "bare IP, *.test:$P configured, evil.test resolved elsewhere" || return
	assert_one_shim_error "refused: another thread resolved 'evil.test'"
}

# ------------------------------------------------------------ DNS moves

PYMOVE=$T_TMP/move.py
cat >"$PYMOVE" <<'EOF'
# Loads the configuration while redis.test -> 127.0.0.9, then dials
# 127.0.0.1:PORT as a bare IP (no resolution the shim sees) until the
# connection is TLS; only then sends the marker.
import os, socket, sys, time
port, closed, d, marker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def pong():
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"PING\r\n")
        return s.recv(100).startswith(b"+PONG")
    except OSError:
        return False
    finally:
        s.close()

s = socket.socket()  # loads the engine; nothing is sent
try:
    s.connect(("127.0.0.1", closed))
except OSError:
    pass
s.close()
print("before:", "tls" if pong() else "plain", flush=True)
open(d + "/loaded", "w").close()
while not os.path.exists(d + "/moved"):
    time.sleep(0.05)
t0 = time.monotonic()
while not pong():
    if time.monotonic() - t0 > 45:
        print("never tls")
        sys.exit(1)
    time.sleep(0.25)
print("tls after %d s" % round(time.monotonic() - t0), flush=True)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
m = marker.encode()
s.sendall(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(m), m))
print("echo:", s.recv(200).decode(errors="replace").split("\r\n")[1])
EOF

case_dns_moves() {
	local conf=$T_TMP/move.conf d=$T_TMP/move m closed secs mover
	m=$(marker)
	mkdir -p "$d"
	start_tls_redis --tls-cert-file "$PKI/server-redistest.crt" \
		--tls-key-file "$PKI/server-redistest.key" || return
	start_record_server proxy move --upstream "$REDIS_PORT" || return
	closed=$(free_port)
	cat >"$conf" <<EOF
version = 1;
defaults = { ca_file = "$PKI/ca.crt"; cert_file = "$PKI/client.crt";
             key_file = "$PKI/client.key"; };
endpoints = ( { match = "redis.test:$REC_PORT"; } );
EOF
	write_hosts evil.test=127.0.0.1 redis.test=127.0.0.9
	(
		wait_until 20 test -e "$d/loaded" || exit 1
		write_hosts evil.test=127.0.0.1 redis.test=127.0.0.1
		: >"$d/moved"
	) &
	mover=$!
	t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_CONFIG="$conf" \
		"$T_PY" "$PYMOVE" "$REC_PORT" "$closed" "$d" "$m"
	wait "$mover"
	write_hosts evil.test=127.0.0.1 redis.test=127.0.0.9
	assert_rc 0 "the client" || return
	# not protected before the move: the test shows the change
	assert_contains "$T_OUT" "before: plain" "client output" || return
	secs=$(sed -n 's/^tls after \([0-9]*\) s$/\1/p' <<<"$T_OUT")
	[ -n "$secs" ] && [ "$secs" -le 30 ] ||
		fail "TLS $secs s after the move (at most 30): $(t_short "$T_OUT")"
	# the certificate names redis.test only: verified as that name
	assert_contains "$T_OUT" "echo: $m" "client output" || return
	assert_file_lacks "$REC.raw" "$m" "the proxy's record"
	restore_p
}

restore_p() {
	REDIS_PORT=$P
	shim_set_default "$P"
}

t_case "127.1, 0x7f.1, 2130706433 are 127.0.0.1 (no 'cannot set the name')" case_short_forms
t_case "AF_INET6 addrlen 24-27 to ::ffff:127.0.0.1 gets TLS like 28" case_v6_short_lengths
t_case "0.0.0.0:P matches 127.0.0.1:P and localhost:P" case_any_v4
t_case "[::]:P matches 127.0.0.1:P (v4-mapped bind works; unbound fails closed)" case_any_v6
t_case "another thread's evil.test is not verified for a bare-IP connect" case_other_thread_name_not_verified
t_case "evil.test resolved for port 443 is not verified for port P" case_other_port_name_not_verified
t_case "the connecting thread's own evil.test:P is verified (and fails)" case_same_thread_name_verified
t_case "redirect: another thread's name with its own certificate fails closed, one line" case_redirect_fails_closed
t_case "a wildcard endpoint named only by another thread's resolution is refused" case_other_thread_wildcard_refused
t_case "DNS moves: redis.test's new address gets TLS within 30 s" case_dns_moves
t_done
