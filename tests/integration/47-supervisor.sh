#!/bin/bash
# The supervisor (`redis-tls-ctl supervise -- PROG`): a `gcc -static`
# client, which no LD_PRELOAD reaches, gets verified TLS (with a client
# certificate) to the TLS-only redis-server through seccomp user
# notification; failures fail closed; unconfigured ports are untouched;
# threads, forked and exec'd children (even with `env -i`) are covered.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

CTL=$BUILD/redis-tls-ctl
LIBC_SO=$(ldd /bin/true | awk '/libc\.so/ { print $3 }')
SC=$(static_client) || t_done
M=$(marker)
start_tls_redis || t_done
TLS_PORT=$REDIS_PORT

# sup PORT [VAR=VALUE...] -- CMD...: CMD under the supervisor, configured
# for a TLS endpoint 127.0.0.1:PORT with the test CA and client
# certificate (VAR=VALUE overrides), through t_run, the wrapper started by
# SUP_PREFIX (a command and its arguments: setsid, unshare; none if empty).
SUP_PREFIX=()
sup() {
	local port=$1
	local -a vars=("REDIS_TLS_ENDPOINTS=127.0.0.1:$port"
		"REDIS_TLS_CA_FILE=$PKI/ca.crt" "REDIS_TLS_CERT_FILE=$PKI/client.crt"
		"REDIS_TLS_KEY_FILE=$PKI/client.key")
	shift
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	t_run "${SUP_PREFIX[@]}" env "${vars[@]}" "$CTL" supervise -- "$@"
}

# no_shim_errors: the last run logged no error or warning.
no_shim_errors() {
	assert_eq "" "$(shim_log_lines "$T_ERR" | grep -iE 'error|warning|refused')" "shim errors"
}

# connect_failed: the last run's client saw its connect fail.
connect_failed() {
	assert_rc 3 "the client's exit status (3: connect failed)" || return
	assert_match "$T_OUT" "^connect: " "the client's output"
}

# mark_time, elapsed_ms: milliseconds since mark_time.
mark_time() { T0_NS=$(date +%s%N); }
elapsed_ms() { echo $((($(date +%s%N) - T0_NS) / 1000000)); }

# sup_running KEY: the supervisor of a run whose arguments hold KEY is
# alive; sup_gone KEY: it is not.
sup_running() { pgrep -f "redis-tls-ctl supervise -- .*$1" >/dev/null; }
sup_gone() { ! sup_running "$1"; }

# ---------------------------------------------------------------- cases

case_premise() {
	# Static: LD_PRELOAD cannot reach it, and plaintext gets nowhere.
	assert_match "$(LC_ALL=C ldd "$SC" 2>&1)" "not a dynamic executable|statically linked" "ldd" || return
	t_run env LD_PRELOAD="$T_LIB" "$SC" 127.0.0.1 "$TLS_PORT" ping
	assert_failed "the static client without the supervisor" || return
	assert_not_contains "$T_OUT" PONG "its output"
}

case_ping() {
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" ping
	assert_rc 0 || return
	assert_eq PONG "$T_OUT" "PING"
	no_shim_errors
}

case_big() {
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" big 16777216
	assert_rc 0 || return
	assert_eq "big 16777216 ok" "$T_OUT" "SET/GET of 16 MiB, compared byte by byte"
	assert_eq 16777216 "$(rcli_native STRLEN static:big)" "STRLEN (native TLS)"
	no_shim_errors
}

case_pipeline() {
	rcli_native DEL static:p:999 >/dev/null
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" pipeline 10000
	assert_rc 0 || return
	assert_eq "pipeline 20000 ok" "$T_OUT" "10 000 SETs then 10 000 ECHOs, every reply checked"
	assert_eq v9999 "$(rcli_native GET static:p:999)" "the last SET (native TLS)"
}

case_threads() {
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" threads
	assert_rc 0 || return
	assert_eq $'PONG\nPONG' "$T_OUT" "two threads connecting at once"
	no_shim_errors
}

case_many() {
	local out
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" threads 50
	assert_rc 0 || return
	out=$(printf 'PONG\n%.0s' {1..50})
	assert_eq "${out%$'\n'}" "$T_OUT" "50 threads, each its own connection"
	no_shim_errors
}

case_reconnect() {
	# 200 connections one after the other; the supervisor keeps none.
	local n
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" reconnect 200
	assert_rc 0 || return
	assert_eq 200 "$(grep -c '^PONG$' <<<"$T_OUT")" "PINGs" || return
	n=$(sed -n 's/^supervisor fds: \([0-9]*\) after the first.*/\1/p' <<<"$T_OUT")
	assert_match "$T_OUT" "supervisor fds: [0-9]+ after the first, $n after the last" \
		"the supervisor's descriptors (each connection's released)"
}

case_write_then_exit() {
	# The program writes and exits at once: what it wrote still arrives.
	local v
	v=$(marker)
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" fire SET static:fire "$v"
	assert_rc 0 || return
	assert_eq "$v" "$(rcli_native GET static:fire)" "the value the program sent before exit"
}

case_write_then_exit_job() {
	# The same, 8 MiB of it, while a background job of the program still
	# runs (the supervisor goes on serving it): the wrapper returns once
	# what the program wrote has been carried, not before.
	local key
	key=static:fire-job:$(marker)
	sup "$TLS_PORT" -- sh -c 'sleep 1 & exec "$0" 127.0.0.1 "$1" firebig "$2" 8388608' \
		"$SC" "$TLS_PORT" "$key"
	assert_rc 0 || return
	assert_eq 8388608 "$(rcli_native STRLEN "$key")" "the value the program sent before exit" || return
	wait_until 5 sup_gone "$key" || fail "the supervisor still runs after the job ended"
}

case_stats_resumption() {
	# The engine's statistics, from the supervisor: three connections, the
	# second and third resumed, the program's plaintext counted.
	local stats=$T_TMP/sup.stats
	sup "$TLS_PORT" "REDIS_TLS_STATS=$stats" -- "$SC" 127.0.0.1 "$TLS_PORT" reconnect 3
	assert_rc 0 || return
	assert_match "$(cat "$stats" 2>/dev/null)" \
		"connections=3 handshakes=3 \(full=1 resumed=2\) failures=0 .* bytes_sent=42 bytes_received=21" \
		"the statistics line"
}

case_preloaded_supervisor() {
	# The shim preloaded into the supervisor itself (a user's exported
	# LD_PRELOAD, or /etc/ld.so.preload) stands aside in it: the
	# supervisor's own connection is not wrapped a second time.
	sup "$TLS_PORT" "LD_PRELOAD=$T_LIB" -- "$SC" 127.0.0.1 "$TLS_PORT" ping
	assert_rc 0 || return
	assert_eq PONG "$T_OUT" "PING"
	no_shim_errors || return
	# ... and leaves the program's LD_PRELOAD (the others stay): a dynamic
	# program under it is not preloaded, so its TLS is not made twice.
	sup "$TLS_PORT" "LD_PRELOAD=$LIBC_SO $T_LIB" -- \
		sh -c 'echo "LD_PRELOAD=$LD_PRELOAD"; exec redis-cli -p "$0" PING' "$TLS_PORT"
	assert_rc 0 || return
	assert_eq "LD_PRELOAD=$LIBC_SO"$'\nPONG' "$T_OUT" "the program's LD_PRELOAD, redis-cli's PING"
	no_shim_errors
}

# reload_wait ERE: wait until the reload loop's output has a line matching ERE.
reload_wait() {
	wait_until 20 grep -qE "$1" "$RL/out" ||
		fail "no line '$1' from the loop: $(tail -3 "$RL/out") $(tail -3 "$RL/err")"
}

case_reload() {
	# One supervisor serves a shell that connects every 50 ms; the CA file
	# is replaced under it (one rename): new connections are verified
	# against the new file, as on the preload path.
	local pid
	RL=$T_TMP/reload
	mkdir -p "$RL"
	cp "$PKI/ca.crt" "$RL/ca.pem"
	env REDIS_TLS_ENDPOINTS="127.0.0.1:$TLS_PORT" REDIS_TLS_CA_FILE="$RL/ca.pem" \
		REDIS_TLS_CERT_FILE="$PKI/client.crt" REDIS_TLS_KEY_FILE="$PKI/client.key" \
		"$CTL" supervise -- sh -c 'i=0; while [ ! -e "$1/stop" ]; do i=$((i + 1))
			if out=$("$0" 127.0.0.1 "$2" ping 2>&1); then echo "ok $i"; else echo "err $i $out"; fi
			sleep 0.05; done' "$SC" "$RL" "$TLS_PORT" >"$RL/out" 2>"$RL/err" &
	pid=$!
	t_track "$pid"
	reload_wait '^ok 3$' || return
	assert_eq 0 "$(grep -c '^err' "$RL/out")" "failures with the right CA" || return
	cp "$PKI/other-ca.crt" "$RL/new" && mv -f "$RL/new" "$RL/ca.pem"
	reload_wait '^err [0-9]+ connect: Permission denied$' || return
	assert_match "$(cat "$RL/err")" "ca_file changed: reloaded" "the reload notice" || return
	cp "$PKI/ca.crt" "$RL/new" && mv -f "$RL/new" "$RL/ca.pem"
	local last
	last=$(grep '^err' "$RL/out" | tail -1 | cut -d' ' -f2)
	wait_until 20 awk -v n="$last" '$1 == "ok" && $2 > n { found = 1 } END { exit !found }' "$RL/out" ||
		{ fail "no connection after the CA came back: $(tail -3 "$RL/out")"; return; }
	touch "$RL/stop"
	wait "$pid"
	assert_eq 0 "$?" "the supervisor's exit status"
}

case_fork() {
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" fork
	assert_rc 0 || return
	assert_eq $'child: PONG\nparent: PONG' "$T_OUT" "a forked child, then its parent"
}

case_env_i_child() {
	# A shell's child started with a cleaned environment is still filtered.
	sup "$TLS_PORT" -- sh -c 'exec env -i "$0" 127.0.0.1 "$1" cmd SET "$2" envi' \
		"$SC" "$TLS_PORT" static:envi
	assert_rc 0 || return
	assert_eq "+OK" "$T_OUT" "SET from an env -i child"
	assert_eq envi "$(rcli_native GET static:envi)" "the value (native TLS)"
}

case_go_redigo() {
	# A Go program (CGO_ENABLED=0: static, its own resolver and system
	# calls) with Debian's redigo, built here in GOPATH mode, offline.
	local bin=$T_TMP/redigo_client
	command -v go >/dev/null || { fail "go not found (golang-go: scripts/install-deps.sh)"; return; }
	t_run env CGO_ENABLED=0 GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off \
		GOFLAGS= GOCACHE="$T_TMP/gocache" go build -o "$bin" \
		"$T_ROOT/tests/clients/go/redigo_client.go"
	assert_rc 0 "go build: $(t_short "$T_ERR" 600)" || return
	sup "$TLS_PORT" -- "$bin" "127.0.0.1:$TLS_PORT"
	assert_rc 0 || return
	assert_eq $'ok pipeline 10000\nok big 6291456\nok goroutines 50\nok pubsub\nok blpop' \
		"$T_OUT" "pipelines, 6 MiB, 50 goroutines, pub/sub, BLPOP with a timeout" || return
	no_shim_errors || return
	# By name: Go resolves localhost itself; the endpoint's name is verified.
	t_run env "REDIS_TLS_ENDPOINTS=localhost:$TLS_PORT" "REDIS_TLS_CA_FILE=$PKI/ca.crt" \
		"REDIS_TLS_CERT_FILE=$PKI/client.crt" "REDIS_TLS_KEY_FILE=$PKI/client.key" \
		REDIS_TLS_LOG_LEVEL=debug "$CTL" supervise -- "$bin" "localhost:$TLS_PORT"
	assert_rc 0 || return
	assert_match "$T_ERR" "verifying 'localhost'" "the name verified" || return
	# Go's own connect timeout holds: its connect gets EINPROGRESS at once
	# while the supervisor's handshake runs (a stalled server, 5 s timeout).
	start_record_server stall go-stall || return
	sup "$REC_PORT" REDIS_TLS_HANDSHAKE_TIMEOUT_MS=5000 -- "$bin" dialtimeout "127.0.0.1:$REC_PORT"
	assert_eq "dial failed: true, after under 1 s" "$T_OUT" "a 300 ms dial timeout against a stalled server"
	stop_pid "$REC_PID"
}

case_wrong_name() {
	start_tls_redis --tls-cert-file "$PKI/server-wrongname.crt" \
		--tls-key-file "$PKI/server-wrongname.key" || return
	sup "$REDIS_PORT" -- "$SC" 127.0.0.1 "$REDIS_PORT" cmd SET "$M" 1
	connect_failed || return
	assert_one_shim_error "wrong\.example" || return
	assert_eq 0 "$(redis-cli --tls --insecure --cert "$PKI/client.crt" --key "$PKI/client.key" \
		-h 127.0.0.1 -p "$REDIS_PORT" EXISTS "$M")" "EXISTS marker on the server"
	stop_pid "$REDIS_PID"
	REDIS_PORT=$TLS_PORT
}

case_unconfigured() {
	# In one run: the TLS endpoint wrapped, a plaintext server untouched.
	start_plain_redis || return
	sup "$TLS_PORT" -- sh -c '"$0" 127.0.0.1 "$1" cmd SET static:plain yes &&
		"$0" 127.0.0.1 "$2" cmd SET static:tls yes' "$SC" "$PLAIN_PORT" "$TLS_PORT"
	assert_rc 0 || return
	assert_eq $'+OK\n+OK' "$T_OUT" "both SETs"
	assert_eq yes "$(redis-cli -h 127.0.0.1 -p "$PLAIN_PORT" GET static:plain)" "plaintext server" || return
	assert_eq yes "$(rcli_native GET static:tls)" "TLS server"
	no_shim_errors
	stop_pid "$PLAIN_PID"
}

case_nonblocking() {
	# A non-blocking, close-on-exec socket keeps both flags; the connect
	# answers at once and the socket is writable, readable after PING.
	# getpeername names the server, not the loopback peer.
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" flags
	assert_rc 0 || return
	assert_eq $'peer 127.0.0.1:'"$TLS_PORT"$'\nnonblock=1 cloexec=1\n+PONG' "$T_OUT" \
		"getpeername, flags, EAGAIN before the reply, PING"
}

case_names() {
	# getsockname and getpeername name the connection the server sees (its
	# addr= is our source address), not the loopback pair; a short buffer
	# is filled and the full length reported, as the kernel does.
	local local_addr seen
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" names
	assert_rc 0 || return
	local_addr=$(sed -n 's/^local //p' <<<"$T_OUT")
	seen=$(sed -n 's/^server sees addr=//p' <<<"$T_OUT")
	assert_match "$local_addr" '^127\.0\.0\.1:[0-9]+$' "getsockname" || return
	assert_eq "$seen" "$local_addr" "getsockname against the server's addr=" || return
	assert_contains "$T_OUT" "peer 127.0.0.1:$TLS_PORT" "getpeername" || return
	assert_contains "$T_OUT" "short buffer: len=16 family=2 port bytes untouched=1" "a 2-byte buffer"
}

case_nb_connect() {
	# A non-blocking connect: EINPROGRESS at once, as the kernel answers,
	# then POLLOUT when the handshake is done, SO_ERROR 0, PING.
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" nb
	assert_rc 0 || return
	assert_eq $'connect: EINPROGRESS in under 200 ms\nSO_ERROR: 0\nSO_ERROR again: 0\n+PONG' "$T_OUT" \
		"the connect, SO_ERROR, PING"
	no_shim_errors
}

case_nb_refused() {
	# Verification fails after the EINPROGRESS: SO_ERROR says EACCES once,
	# with the one log line; the recording server sees no command.
	sup "$TLS_PORT" "REDIS_TLS_CA_FILE=$PKI/other-ca.crt" -- "$SC" 127.0.0.1 "$TLS_PORT" nb
	assert_rc 3 || return
	assert_eq $'connect: EINPROGRESS in under 200 ms\nSO_ERROR: Permission denied\nSO_ERROR again: 0' \
		"$T_OUT" "the connect, then SO_ERROR" || return
	assert_one_shim_error "server certificate rejected"
}

case_nb_held() {
	# While the handshake runs (a server that never answers) the socket
	# behaves as a connecting one: connect again EALREADY, write EAGAIN,
	# getpeername ENOTCONN, not writable; then ETIMEDOUT by SO_ERROR.
	start_record_server stall nb-stall || return
	sup "$REC_PORT" REDIS_TLS_HANDSHAKE_TIMEOUT_MS=1500 -- "$SC" 127.0.0.1 "$REC_PORT" nb held
	assert_rc 3 || return
	assert_eq "connect: EINPROGRESS in under 200 ms
connect again: EALREADY
write: EAGAIN
getpeername: ENOTCONN
poll 300 ms: nothing
SO_ERROR: Connection timed out
SO_ERROR again: 0" "$T_OUT" "what the connecting socket says" || return
	assert_one_shim_error "TLS handshake timed out after 1500 ms" || return
	nothing_received
	stop_pid "$REC_PID"
}

case_connecting_elsewhere() {
	# A connect to the endpoint on a socket whose own non-blocking connect
	# (elsewhere, unanswered) still runs: the kernel's EALREADY, not a new
	# connection put over the old one.
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" synsent
	assert_rc 0 || return
	assert_eq $'connect unanswered: EINPROGRESS\nconnect HOST:PORT: EALREADY' "$T_OUT" \
		"the second connect"
}

case_same_socket_races() {
	# Two threads connect one socket at once: one connection, the other
	# gets the kernel's EALREADY (or EISCONN), not a second connection put
	# over the first.  A thread closes the socket during the connect and
	# opens /dev/null, which takes its number: that stays /dev/null (the
	# new file is not replaced by the connection).
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" twice
	assert_rc 0 || return
	assert_match "$T_OUT" $'^connects: one 0, one failed\nthe other: (EALREADY|EISCONN)$' \
		"two connects on one socket" || return
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" reuse
	assert_rc 0 || return
	assert_eq "after: /dev/null" "$T_OUT" "the number reused during the connect"
}

case_family_mismatch() {
	# An IPv6 address on an IPv4 socket: the kernel's EAFNOSUPPORT, with or
	# without the supervisor (it made a connection and answered 0).
	t_run "$SC" 127.0.0.1 "$TLS_PORT" mismatch
	assert_eq "connect: Address family not supported by protocol" "$T_OUT" "the kernel's answer" || return
	sup "$TLS_PORT" "REDIS_TLS_ENDPOINTS=[::ffff:127.0.0.1]:$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" mismatch
	assert_eq "connect: Address family not supported by protocol" "$T_OUT" "under the supervisor"
}

case_dup_before_connect() {
	# A dup() made before connect is the same socket: connected too (the
	# supervisor connects the program's own socket, not a replacement).
	local mode
	for mode in "" nb; do
		sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" dupbefore $mode
		assert_rc 0 "dupbefore $mode" || return
		assert_eq "+PONG" "$T_OUT" "PING written on the copy, read on the original ($mode)" || return
	done
	no_shim_errors
}

case_v6_socket() {
	# An IPv6 socket (to the IPv4-mapped address) stays one: the family,
	# the peer as it was dialled, the reply.
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" v6mapped
	assert_rc 0 || return
	assert_eq "domain AF_INET6, peer [::ffff:127.0.0.1]:$TLS_PORT"$'\n+PONG' "$T_OUT" \
		"the socket's family, getpeername, PING"
	no_shim_errors
}

case_fastopen() {
	# TCP Fast Open would put the command in the SYN, before any
	# handshake: refused for a configured endpoint, and for every other
	# one too (letting the kernel go on with an address judged
	# unconfigured would let another thread change it meanwhile: see
	# case_race); nothing is sent either way.
	start_record_server plain tfo || return
	sup "$REC_PORT" -- "$SC" 127.0.0.1 "$REC_PORT" tfo SET "$M" 1
	assert_rc 3 "the client's exit status (3: sendto failed)" || return
	assert_contains "$T_OUT" "sendto: Operation not supported" "the client's output"
	nothing_received
	stop_pid "$REC_PID"
	start_plain_redis || return
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$PLAIN_PORT" tfo SET static:tfo yes
	assert_rc 3 "unconfigured: the client's exit status (3: sendto failed)" || return
	assert_contains "$T_OUT" "sendto: Operation not supported" "unconfigured: the client's output"
	assert_eq "" "$(redis-cli -h 127.0.0.1 -p "$PLAIN_PORT" GET static:tfo)" "unconfigured: nothing sent"
	stop_pid "$PLAIN_PID"
}

# hostile MODE EXIT ERE: the hostile server misbehaves (MODE) after the
# handshake, in reply to the request; the program reads until the end and
# exits EXIT (4: a read error, 0: a clean end), its last line matching ERE.
hostile() {
	start_hostile_server "$1" "$T_TMP/hostile-$1" || return
	sup "$H_PORT" -- "$SC" 127.0.0.1 "$H_PORT" drain GET k
	assert_rc "$2" "the client's exit status after '$1'" || return
	assert_match "$T_OUT" "$3" "what the client read"
	stop_pid "$H_PID"
}

case_server_errors() {
	# A TLS error is never a clean end: the program's connection is reset.
	hostile bad-record 4 "then Connection reset by peer" || return
	hostile truncate-close 4 "then Connection reset by peer" || return
	hostile rst 4 "then Connection reset by peer" || return
	# close_notify, or a FIN at a record boundary (as the preload path:
	# servers that skip close_notify are common): the bytes, a clean end.
	hostile close-notify 0 "^[1-9][0-9]* bytes, then end of stream" || return
	hostile fin 0 "^[1-9][0-9]* bytes, then end of stream" || return
	# the last bytes and the FIN in one event: the end is not lost
	hostile fin-at-once 0 "^[1-9][0-9]* bytes, then end of stream"
}

case_server_quits() {
	# QUIT: the reply, then the server's orderly end reaches the program.
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" drain QUIT
	assert_rc 0 || return
	assert_eq "5 bytes, then end of stream" "$T_OUT" "+OK, then the end"
}

case_half_close() {
	# The program's last bytes and its end (shutdown(SHUT_WR)) in one go:
	# the bytes reach the server, close_notify follows them, and the
	# server's end comes back to the program.
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" half SET static:half "$M"
	assert_rc 0 || return
	assert_match "$T_OUT" "^[0-9]+ bytes, then end of stream" "what the client read"
	assert_eq "$M" "$(rcli_native GET static:half)" "the value the server got"
}

case_io_uring() {
	# Its connect would pass unseen: io_uring_setup gets ENOSYS (programs
	# fall back to plain system calls).  Without the supervisor it works
	# (where the kernel allows io_uring at all).
	t_run "$SC" 127.0.0.1 "$TLS_PORT" uring
	[ -r /proc/sys/kernel/io_uring_disabled ] &&
		[ "$(cat /proc/sys/kernel/io_uring_disabled)" != 0 ] ||
		assert_eq "io_uring_setup: ok" "$T_OUT" "without the supervisor" || return
	sup "$TLS_PORT" -- "$SC" 127.0.0.1 "$TLS_PORT" uring
	assert_eq "io_uring_setup: Function not implemented" "$T_OUT" "under the supervisor"
}

# nothing_received: the recording server saw none of the marker.
nothing_received() {
	assert_file_lacks "$REC.raw" "$M" "bytes on the wire"
	[ -e "$REC.plain" ] && assert_file_lacks "$REC.plain" "$M" "bytes the server decrypted"
	return 0
}

case_race() {
	# The program changes what the kernel acts on while the supervisor
	# decides: a connect (or Fast Open send) judged unconfigured, then
	# continued, must not reach the configured endpoint in clear — by a
	# flipped address, or a descriptor number swapped for a TCP socket
	# (from a UDP socket, or from a closed number); or a connect on a
	# socket connected elsewhere (EISCONN), disconnected meanwhile by
	# another thread (connect AF_UNSPEC), made after all.
	local bin=$T_TMP/sup_race mode unconf
	gcc -O2 -static -pthread -o "$bin" "$T_ROOT/tests/clients/sup_race.c" || {
		fail "gcc -static sup_race.c"
		return
	}
	start_record_server plain race || return
	unconf=$(free_port)
	for mode in fd ebadf tfo addr unspec; do
		[ "$mode" = unspec ] && { start_plain_redis || return; unconf=$PLAIN_PORT; }
		sup "$REC_PORT" REDIS_TLS_HANDSHAKE_TIMEOUT_MS=200 -- \
			"$bin" "$mode" "$REC_PORT" "$unconf" "$M" 5
		assert_rc 0 "sup_race $mode: $T_OUT" &&
			assert_match "$T_OUT" "^no leak: $mode" "sup_race $mode"
	done
	nothing_received
	stop_pid "$REC_PID"
	stop_pid "$PLAIN_PID"
}

case_steal_supervisor_socket() {
	# A supervised program tries to take the supervisor's own TLS
	# connection to the server (pidfd_getfd on a process of the same user,
	# outside the filter) and write a command on it: refused (the filter's
	# EPERM, even to root; the supervisor is not dumpable, which stops
	# ptrace and /proc/PID/mem too for a program that is not root), and
	# nothing reaches the wire in clear.
	local bin=$T_TMP/sup_steal
	gcc -O2 -static -o "$bin" "$T_ROOT/tests/clients/sup_steal.c" || {
		fail "gcc -static sup_steal.c"
		return
	}
	start_record_server tls steal --cert "$PKI/server.crt" --key "$PKI/server.key" || return
	sup "$REC_PORT" -- "$bin" "$REC_PORT" "$M"
	assert_rc 0 "sup_steal: $T_OUT" || return
	assert_match "$T_OUT" "^connect: 0" "the configured connect" || return
	nothing_received
	stop_pid "$REC_PID"
}

t_case "races on the connect's address or descriptor: nothing in clear" case_race

case_race_preloaded() {
	# The same races in a supervised program that preloads the shim
	# itself (a dynamic sup_race, LD_PRELOAD put back): its shim asks the
	# supervisor first (sup_probe.h) and, told "wrapped", leaves the
	# connect to the kernel untracked; the address it asked about, the
	# one the supervisor reads at the connect and the socket it then asks
	# about are each read again from the program, which another thread
	# changes meanwhile (the connects are libc's: SUP_RACE_LIBC=1).
	# Nothing reaches the configured (plaintext) endpoint in clear.
	local bin=$T_TMP/sup_race_dyn mode unconf
	gcc -O2 -pthread -o "$bin" "$T_ROOT/tests/clients/sup_race.c" || {
		fail "gcc sup_race.c"
		return
	}
	start_record_server plain race-preloaded || return
	# the unconfigured port answers, so a connect the supervisor makes
	# plain (the address flipped after the shim's question) succeeds, and
	# only the shim's second question stands between it and a write
	start_plain_redis || return
	unconf=$PLAIN_PORT
	for mode in addr fd ebadf unspec; do
		# shellcheck disable=SC2016 # the inner shell expands them
		sup "$REC_PORT" REDIS_TLS_HANDSHAKE_TIMEOUT_MS=200 -- sh -c \
			'LD_PRELOAD="$1" SUP_RACE_LIBC=1 exec "$2" "$3" "$4" "$5" "$6" 5' sh \
			"$T_LIB" "$bin" "$mode" "$REC_PORT" "$unconf" "$M"
		assert_rc 0 "sup_race $mode, preloaded: $T_OUT $(t_short "$T_ERR" 300)" &&
			assert_match "$T_OUT" "^no leak: $mode" "sup_race $mode, preloaded"
	done
	nothing_received
	stop_pid "$REC_PID"
	stop_pid "$PLAIN_PID"
}
t_case "the same races in a supervised program that preloads the shim (its question to the supervisor first): nothing in clear" case_race_preloaded

case_wrong_ca() {
	sup "$TLS_PORT" "REDIS_TLS_CA_FILE=$PKI/other-ca.crt" -- \
		"$SC" 127.0.0.1 "$TLS_PORT" cmd SET "$M" 1
	connect_failed || return
	assert_contains "$T_OUT" "Permission denied" "the connect's errno (EACCES)"
	assert_one_shim_error "server certificate rejected" || return
	assert_eq 0 "$(rcli_native EXISTS "$M")" "EXISTS marker on the server" || return

	start_record_server tls other-ca --cert "$PKI/server-other-ca.crt" \
		--key "$PKI/server-other-ca.key" || return
	sup "$REC_PORT" -- "$SC" 127.0.0.1 "$REC_PORT" cmd SET "$M" 1
	connect_failed || return
	assert_one_shim_error "server certificate rejected" || return
	nothing_received
	stop_pid "$REC_PID"
}

case_same_log_line() {
	# The same failure logs the same line through the supervisor as through
	# the preload path (but the pid), to REDIS_TLS_LOG_TARGET.
	local a=$T_TMP/sup.log b=$T_TMP/pre.log
	rm -f "$a" "$b"
	sup "$TLS_PORT" "REDIS_TLS_CA_FILE=$PKI/other-ca.crt" "REDIS_TLS_LOG_TARGET=$a" -- \
		"$SC" 127.0.0.1 "$TLS_PORT" ping
	connect_failed || return
	assert_eq "" "$(shim_log_lines)" "the supervisor's stderr (the lines went to the file)" || return
	t_run env REDIS_TLS_ENDPOINTS="127.0.0.1:$TLS_PORT" REDIS_TLS_CA_FILE="$PKI/other-ca.crt" \
		REDIS_TLS_CERT_FILE="$PKI/client.crt" REDIS_TLS_KEY_FILE="$PKI/client.key" \
		REDIS_TLS_LOG_TARGET="$b" LD_PRELOAD="$T_LIB" redis-cli -p "$TLS_PORT" PING
	assert_eq 1 "$(grep -c 'server certificate rejected' "$a" 2>/dev/null)" "the supervisor's line" || return
	assert_eq "$(sed 's/^redis-tls-shim\[[0-9]*\]/P/; s/, [0-9.]* ms$//' "$b")" \
		"$(sed 's/^redis-tls-shim\[[0-9]*\]/P/; s/, [0-9.]* ms$//' "$a")" "the two logs"
}

case_no_client_cert() {
	# TLS 1.3: the server refuses after the client's handshake is done, so
	# the program sees the error at its first write or read.
	sup "$TLS_PORT" REDIS_TLS_CERT_FILE= REDIS_TLS_KEY_FILE= -- \
		"$SC" 127.0.0.1 "$TLS_PORT" cmd SET "$M" 1
	assert_failed "the client" || return
	assert_not_contains "$T_OUT" OK "the client's output"
	assert_one_shim_error "certificate required" || return
	assert_eq 0 "$(rcli_native EXISTS "$M")" "EXISTS marker on the server" || return

	start_record_server tls client-ca --cert "$PKI/server.crt" \
		--key "$PKI/server.key" --client-ca "$PKI/ca.crt" || return
	sup "$REC_PORT" REDIS_TLS_CERT_FILE= REDIS_TLS_KEY_FILE= -- \
		"$SC" 127.0.0.1 "$REC_PORT" cmd SET "$M" 1
	assert_failed "the client" || return
	assert_one_shim_error "certificate|alert|closed|reset" || return
	nothing_received
	stop_pid "$REC_PID"
}

case_not_tls() {
	start_record_server plain not-tls || return
	sup "$REC_PORT" -- "$SC" 127.0.0.1 "$REC_PORT" cmd SET "$M" 1
	connect_failed || return
	assert_one_shim_error "tls|handshake|record|protocol|closed|reset" || return
	nothing_received
	stop_pid "$REC_PID"
}

case_stall() {
	# A peer that never answers: the handshake timeout fails the connect.
	local t0
	start_record_server stall stall || return
	t0=$SECONDS
	sup "$REC_PORT" REDIS_TLS_HANDSHAKE_TIMEOUT_MS=1000 -- \
		"$SC" 127.0.0.1 "$REC_PORT" cmd SET "$M" 1
	connect_failed || return
	assert_contains "$T_OUT" "Connection timed out" "the connect's errno" || return
	assert_one_shim_error "TLS handshake timed out after 1000 ms" || return
	[ $((SECONDS - t0)) -le 5 ] || fail "took $((SECONDS - t0)) s"
	nothing_received
	stop_pid "$REC_PID"
}

case_nothing_listening() {
	# A configured port where nothing listens: the kernel's own answer.
	local port
	port=$(free_port)
	sup "$port" -- "$SC" 127.0.0.1 "$port" ping
	connect_failed || return
	assert_contains "$T_OUT" "Connection refused" "the connect's errno"
}

case_refuse_setuid() {
	# Set-user-ID to another user: no_new_privs would drop it, refused.
	# To our own: the bit changes nothing, the program runs (supervised).
	cp "$SC" "$T_TMP/own_suid_client" && chmod u+s "$T_TMP/own_suid_client" || return
	sup "$TLS_PORT" -- "$T_TMP/own_suid_client" 127.0.0.1 "$TLS_PORT" ping
	assert_rc 0 "set-user-ID to our own user: its status; stderr: $(t_short "$T_ERR" 400)" || return
	assert_contains "$T_OUT" "PONG" "set-user-ID to our own user: its output" || return
	if [ "$(id -u)" != 0 ]; then
		echo "    (not root: cannot make a set-user-ID file of another user; the refusal not run)"
		return 0
	fi
	cp "$SC" "$T_TMP/suid_client" && chown 65534 "$T_TMP/suid_client" &&
		chmod 4755 "$T_TMP/suid_client" || return
	sup "$TLS_PORT" -- "$T_TMP/suid_client" 127.0.0.1 "$TLS_PORT" ping
	assert_rc 2 || return
	assert_eq "" "$T_OUT" "the program's output (it must not run)"
	assert_eq 1 "$(grep -c 'set-user-ID' <<<"$T_ERR")" "one line saying why"
}

case_refuse_kernel() {
	# A kernel without seccomp user notification, or without pidfd_getfd
	# (as deny_seccomp makes it look): refused, one line saying why,
	# through the supervisor and through the wrapper that picked it.
	local deny=$BUILD/clients/deny_seccomp mode why
	for mode in notif getfd; do
		why="lacks seccomp user notification"
		[ "$mode" = getfd ] && why="lacks pidfd_getfd"
		t_run env REDIS_TLS_ENDPOINTS="127.0.0.1:$TLS_PORT" REDIS_TLS_CA_FILE="$PKI/ca.crt" \
			"$deny" "$mode" "$CTL" supervise -- "$SC" 127.0.0.1 "$TLS_PORT" ping
		assert_rc 2 "$mode" || return
		assert_eq "" "$T_OUT" "$mode: the program's output (it must not run)" || return
		assert_eq 1 "$(grep -c "$why" <<<"$T_ERR")" "$mode: one line saying why" || return
		t_run "$deny" "$mode" "$T_RUN" --endpoint "127.0.0.1:$TLS_PORT" --cacert "$PKI/ca.crt" -- \
			"$SC" 127.0.0.1 "$TLS_PORT" ping
		assert_rc 2 "$mode, through redis-tls-run" || return
		assert_eq "" "$T_OUT" "$mode, through redis-tls-run: the program's output" || return
		assert_match "$T_ERR" "$why" "$mode, through redis-tls-run: why" || return
	done
}

case_refuse_bad_config() {
	sup "$TLS_PORT" "REDIS_TLS_CA_FILE=$T_TMP/missing.crt" -- \
		"$SC" 127.0.0.1 "$TLS_PORT" ping
	assert_rc 2 || return
	assert_eq "" "$T_OUT" "the program's output (it must not run)"
	assert_match "$T_ERR" "configuration error.*missing\.crt" "the reason"
}

value_is() { [ "$(rcli_native GET "$1")" = "$2" ]; }

case_descendant() {
	# As with redis-tls-run's preload path: the wrapper returns when the
	# program does, while a job it started in the background goes on, and
	# that job, connecting only later, gets verified TLS (the server is
	# TLS-only with client certificates).  The supervisor ends with the
	# job, and writes the statistics then.
	local key stats=$T_TMP/late.stats ms
	key=static:late:$(marker)
	mark_time
	sup "$TLS_PORT" "REDIS_TLS_STATS=$stats" -- sh -c \
		'( sleep 1; exec "$0" 127.0.0.1 "$1" cmd SET "$2" late ) >/dev/null 2>&1 & echo started' \
		"$SC" "$TLS_PORT" "$key"
	ms=$(elapsed_ms)
	assert_rc 0 || return
	assert_eq started "$T_OUT" "the program's output" || return
	[ "$ms" -lt 1000 ] || { fail "the wrapper returned after $ms ms, not with the program (its job waits 1 s)"; return; }
	sup_running "$key" || { fail "no supervisor left for the job"; return; }
	wait_until 10 value_is "$key" late ||
		{ fail "the job's SET: GET gives '$(rcli_native GET "$key")'"; return; }
	wait_until 5 sup_gone "$key" ||
		{ fail "the supervisor still runs after the job ended"; return; }
	T_ERR=$(cat "$T_ERR_FILE")
	no_shim_errors || return
	assert_match "$(cat "$stats" 2>/dev/null)" "connections=1 handshakes=1 .*failures=0" \
		"the statistics line, written when the job ended"
}

case_sigint_group() {
	# Ctrl-C reaches the whole foreground group, the supervisor too (the
	# run has its own group here: setsid).  A program that ignores it goes
	# on, and its connects after that still get TLS.
	local -a SUP_PREFIX=(setsid)
	sup "$TLS_PORT" -- sh -c 'trap "" INT TERM; kill -INT 0; kill -TERM 0; sleep 0.2
		exec "$0" 127.0.0.1 "$1" ping' "$SC" "$TLS_PORT"
	assert_rc 0 || return
	assert_eq PONG "$T_OUT" "PING after SIGINT and SIGTERM to the group"
	no_shim_errors
}

case_sigusr_to_parent() {
	# The program's parent knows the supervisor's pid: SIGUSR1 (reopen
	# your logs), SIGUSR2 and SIGWINCH sent there reach the program.  They
	# killed the supervisor, and with it the program (PR_SET_PDEATHSIG).
	sup "$TLS_PORT" -- sh -c 'for s in USR1 USR2 WINCH; do trap "echo got $s" "$s"; done
		for s in USR1 USR2 WINCH; do kill -s "$s" "$PPID"; sleep 0.2; done
		exec "$0" 127.0.0.1 "$1" ping' "$SC" "$TLS_PORT"
	assert_rc 0 "the run's status; stderr: $(t_short "$T_ERR" 300)" || return
	assert_eq $'got USR1\ngot USR2\ngot WINCH\nPONG' "$T_OUT" "the program's output"
}

case_killed_status() {
	# A program killed by a signal: the supervisor, whose pid the parent
	# waits for, is killed by it too (WIFSIGNALED, as without it), not an
	# exit with 128 + the signal.
	local sig
	for sig in TERM SEGV; do
		t_run env REDIS_TLS_ENDPOINTS="127.0.0.1:$TLS_PORT" REDIS_TLS_CA_FILE="$PKI/ca.crt" \
			"$T_PY" -c 'import subprocess, sys
print(subprocess.run(sys.argv[1:]).returncode)' "$CTL" supervise -- sh -c "ulimit -c 0; kill -$sig \$\$"
		assert_eq "-$(kill -l "$sig")" "$T_OUT" "what the parent saw of the program killed by SIG$sig" || return
	done
}

case_reaps_orphans() {
	# As PID 1 of a container (an entrypoint that execs the chain), the
	# wrapper is handed the orphans: it reaps them, none stays a zombie.
	local -a SUP_PREFIX
	if unshare --pid --fork --mount-proc true 2>/dev/null; then
		SUP_PREFIX=(unshare --pid --fork --mount-proc)
	elif unshare -Urpf --mount-proc true 2>/dev/null; then
		SUP_PREFIX=(unshare -Urpf --mount-proc)
	else
		fail "no PID namespace (unshare --pid needs root or user namespaces)"
		return
	fi
	sup "$TLS_PORT" -- sh -c '( sleep 0.1 & ); sleep 1; echo "pid 1: $(cat /proc/1/comm)"
		grep -h ") Z " /proc/[0-9]*/stat; exec "$0" 127.0.0.1 "$1" ping' "$SC" "$TLS_PORT"
	assert_rc 0 || return
	assert_eq $'pid 1: redis-tls-ctl\nPONG' "$T_OUT" "PID 1, no zombie after the orphan's end, PING"
}

case_supervisor_killed() {
	# The supervisor killed under the program: its connects fail closed
	# (ENOSYS), nothing reaches the wire, and the wrapper does not hang.
	local ms
	start_record_server plain killed || return
	mark_time
	sup "$REC_PORT" -- sh -c 'pkill -KILL -P "$PPID" -x redis-tls-ctl; sleep 0.2
		"$0" 127.0.0.1 "$1" cmd SET "$2" 1; echo "client: $?"' "$SC" "$REC_PORT" "$M"
	ms=$(elapsed_ms)
	assert_rc 0 || return
	assert_eq $'connect: Function not implemented\nclient: 3' "$T_OUT" "the client's connect" || return
	[ "$ms" -lt 2000 ] || fail "the wrapper took $ms ms"
	nothing_received
	stop_pid "$REC_PID"
}

t_case "premise: a static client is not reached by LD_PRELOAD" case_premise
t_case "PING" case_ping
t_case "SET/GET of 16 MiB, byte-exact" case_big
t_case "pipeline of 10 000 commands (twice)" case_pipeline
t_case "two threads connect at once" case_threads
t_case "50 threads connect at once" case_many
t_case "200 connections one after the other, none kept" case_reconnect
t_case "a command written just before exit arrives" case_write_then_exit
t_case "the same, while a background job still runs" case_write_then_exit_job
t_case "a background job outlives the program: served, the wrapper returns at once" case_descendant
t_case "SIGINT and SIGTERM to the whole group: the program that ignores them connects" case_sigint_group
t_case "SIGUSR1, SIGUSR2, SIGWINCH to the supervisor's pid reach the program" case_sigusr_to_parent
t_case "a program killed by a signal: its parent sees it killed by that signal" case_killed_status
t_case "as PID 1, orphans are reaped" case_reaps_orphans
t_case "supervisor killed: connects fail closed, no hang" case_supervisor_killed
t_case "statistics and session resumption" case_stats_resumption
t_case "the shim preloaded into the supervisor stands aside" case_preloaded_supervisor
t_case "reload: a replaced CA file applies to new connections" case_reload
t_case "a forked child connects" case_fork
t_case "an env -i child connects" case_env_i_child
t_case "Go program (redigo): pipelines, big value, 50 goroutines, pub/sub, BLPOP" case_go_redigo
t_case "unconfigured port untouched in the same run" case_unconfigured
t_case "non-blocking connect: flags kept, getpeername the server's" case_nonblocking
t_case "getsockname/getpeername name the server's view of the connection" case_names
t_case "non-blocking connect: EINPROGRESS, POLLOUT when verified, SO_ERROR 0" case_nb_connect
t_case "non-blocking connect refused: SO_ERROR EACCES once" case_nb_refused
t_case "non-blocking connect while the handshake runs: EALREADY, EAGAIN, ENOTCONN, not writable" case_nb_held
t_case "a connect on a socket still connecting elsewhere: EALREADY" case_connecting_elsewhere
t_case "two connects on one socket; its number reused meanwhile" case_same_socket_races
t_case "an IPv6 address on an IPv4 socket: EAFNOSUPPORT as from the kernel" case_family_mismatch
t_case "a dup() made before connect is connected too (blocking, non-blocking)" case_dup_before_connect
t_case "an IPv6 socket stays IPv6 (IPv4-mapped server)" case_v6_socket
t_case "the supervisor's own TLS socket taken by pidfd_getfd: nothing in clear" case_steal_supervisor_socket
t_case "TCP Fast Open: refused, configured or not (nothing sent)" case_fastopen
t_case "server errors reset the program's connection" case_server_errors
t_case "server's orderly end reaches the program" case_server_quits
t_case "the program's last bytes and its end at once: both carried" case_half_close
t_case "io_uring refused (ENOSYS)" case_io_uring
t_case "wrong CA: connect fails, EACCES" case_wrong_ca
t_case "wrong name: connect fails" case_wrong_name
t_case "the same log line as the preload path, to REDIS_TLS_LOG_TARGET" case_same_log_line
t_case "no client certificate" case_no_client_cert
t_case "not TLS (recording server)" case_not_tls
t_case "peer never answers: handshake timeout" case_stall
t_case "configured port, nothing listening: ECONNREFUSED" case_nothing_listening
t_case "setuid program refused (exit 2); set-user-ID to our own user runs" case_refuse_setuid
t_case "a kernel without user notification or pidfd_getfd: refused (exit 2)" case_refuse_kernel
t_case "bad configuration: program not run (exit 2)" case_refuse_bad_config

# System-wide mode (/etc/ld.so.preload naming the library, the
# configuration in /etc/redis-tls-shim.conf), in a private mount
# namespace whose /etc is an overlay (never the host's): a supervised
# program's dynamic child (sh -c redis-cli under redis-tls-run
# --supervise) loads the shim from ld.so.preload, which the supervisor's
# unpreload cannot take out.  One TLS layer is wanted: the child's PING
# gets PONG from the TLS-only server, as without ld.so.preload
# (05-wrapper's --supervise case).
case_system_wide_child() {
	local upper=$T_TMP/etc-upper work=$T_TMP/etc-work
	rm -rf "$upper" "$work" && mkdir -p "$upper" "$work" || return
	printf '%s\n' "$T_LIB" >"$upper/ld.so.preload"
	printf 'defaults = { ca_file = "%s"; cert_file = "%s"; key_file = "%s"; };\nendpoints = ( { match = "127.0.0.1:%s"; } );\n' \
		"$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key" "$TLS_PORT" >"$upper/redis-tls-shim.conf"
	# shellcheck disable=SC2016 # the inner shells expand them
	t_run unshare -m --propagation private sh -c '
		u=$1 w=$2; shift 2
		if ! mount -t overlay overlay -o "lowerdir=/etc,upperdir=$u,workdir=$w" /etc 2>/dev/null; then
			cp -a /etc/. "$w/etc" && cp "$u"/* "$w/etc/" && mount --bind "$w/etc" /etc || exit 99
		fi
		exec "$@"' in_ns "$upper" "$work" env -u LD_PRELOAD "$T_RUN" --supervise -- \
		sh -c 'redis-cli -h 127.0.0.1 -p "$1" PING' sh "$TLS_PORT"
	[ "$T_RC" -ne 99 ] || { fail "no overlay or bind mount on /etc in the namespace"; return; }
	assert_rc 0 "redis-tls-run --supervise -- sh -c redis-cli, system-wide ($(t_short "$T_ERR" 400))" || return
	assert_eq PONG "$T_OUT" "its PING, one TLS layer (the child's shim leaves it to the supervisor)"
}
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	t_case "system-wide (ld.so.preload, mount namespace): a supervised program's dynamic child gets one TLS layer" \
		case_system_wide_child
fi

case_preloaded_child() {
	# A supervised program's child that preloads the shim itself: the
	# supervisor does the TLS of the endpoint it wraps (one layer, not
	# refused as TLS inside TLS), the child's shim that of an endpoint only
	# its own configuration names; a plaintext server stays plaintext.
	start_tls_redis || return
	local other=$REDIS_PORT
	start_plain_redis || return
	sup "$TLS_PORT" -- sh -c 'LD_PRELOAD="$1" REDIS_TLS_ENDPOINTS="127.0.0.1:$3,127.0.0.1:$4" \
		redis-cli -h 127.0.0.1 -p "$3" SET sup:child wrapped &&
		LD_PRELOAD="$1" REDIS_TLS_ENDPOINTS="127.0.0.1:$3,127.0.0.1:$4" \
		redis-cli -h 127.0.0.1 -p "$4" SET sup:child own &&
		LD_PRELOAD="$1" REDIS_TLS_ENDPOINTS="127.0.0.1:$3,127.0.0.1:$4" \
		redis-cli -h 127.0.0.1 -p "$2" SET sup:child plain' sh "$T_LIB" "$PLAIN_PORT" "$TLS_PORT" "$other"
	assert_rc 0 "three SETs from a preloaded child ($(t_short "$T_ERR" 400))" || return
	assert_eq "$(printf 'OK\nOK\nOK')" "$T_OUT" "their replies"
	no_shim_errors
	assert_eq wrapped "$(redis-cli "${T_TLS_FLAGS[@]}" -h 127.0.0.1 -p "$TLS_PORT" GET sup:child)" \
		"the supervisor's endpoint"
	assert_eq own "$(redis-cli "${T_TLS_FLAGS[@]}" -h 127.0.0.1 -p "$other" GET sup:child)" \
		"the endpoint only the child's shim names"
	assert_eq plain "$(redis-cli -h 127.0.0.1 -p "$PLAIN_PORT" GET sup:child)" "the plaintext server"
	stop_pid "$REDIS_PID"
	stop_pid "$PLAIN_PID"
	REDIS_PORT=$TLS_PORT
}
t_case "a supervised program's child preloading the shim: one TLS layer on each endpoint" case_preloaded_child
t_done
