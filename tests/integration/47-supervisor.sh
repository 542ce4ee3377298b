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
SC=$BUILD/clients/static_client
[ -x "$SC" ] || make -s -C "$T_ROOT" "$SC" >/dev/null 2>&1 ||
	gcc -O2 -static -pthread -o "$SC" "$T_ROOT/tests/clients/static_client.c"
M=$(marker)
start_tls_redis || t_done
TLS_PORT=$REDIS_PORT

# sup PORT [VAR=VALUE...] -- CMD...: CMD under the supervisor, configured
# for a TLS endpoint 127.0.0.1:PORT with the test CA and client
# certificate (VAR=VALUE overrides), through t_run.
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
	t_run env "${vars[@]}" "$CTL" supervise -- "$@"
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
	assert_match "$T_ERR" "verifying 'localhost'" "the name verified"
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
	# (from a UDP socket, or from a closed number).
	local bin=$T_TMP/sup_race mode unconf
	gcc -O2 -static -pthread -o "$bin" "$T_ROOT/tests/clients/sup_race.c" || {
		fail "gcc -static sup_race.c"
		return
	}
	start_record_server plain race || return
	unconf=$(free_port)
	for mode in fd ebadf tfo addr; do
		sup "$REC_PORT" REDIS_TLS_HANDSHAKE_TIMEOUT_MS=200 -- \
			"$bin" "$mode" "$REC_PORT" "$unconf" "$M" 5
		assert_rc 0 "sup_race $mode: $T_OUT" &&
			assert_match "$T_OUT" "^no leak: $mode" "sup_race $mode"
	done
	nothing_received
	stop_pid "$REC_PID"
}

t_case "races on the connect's address or descriptor: nothing in clear" case_race

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
	cp "$SC" "$T_TMP/suid_client" && chmod u+s "$T_TMP/suid_client" || return
	sup "$TLS_PORT" -- "$T_TMP/suid_client" 127.0.0.1 "$TLS_PORT" ping
	assert_rc 126 || return
	assert_eq "" "$T_OUT" "the program's output (it must not run)"
	assert_eq 1 "$(grep -c 'set-user-ID' <<<"$T_ERR")" "one line saying why"
}

case_refuse_bad_config() {
	sup "$TLS_PORT" "REDIS_TLS_CA_FILE=$T_TMP/missing.crt" -- \
		"$SC" 127.0.0.1 "$TLS_PORT" ping
	assert_rc 126 || return
	assert_eq "" "$T_OUT" "the program's output (it must not run)"
	assert_match "$T_ERR" "configuration error.*missing\.crt" "the reason"
}

t_case "premise: a static client is not reached by LD_PRELOAD" case_premise
t_case "PING" case_ping
t_case "SET/GET of 16 MiB, byte-exact" case_big
t_case "pipeline of 10 000 commands (twice)" case_pipeline
t_case "two threads connect at once" case_threads
t_case "50 threads connect at once" case_many
t_case "200 connections one after the other, none kept" case_reconnect
t_case "a command written just before exit arrives" case_write_then_exit
t_case "statistics and session resumption" case_stats_resumption
t_case "a forked child connects" case_fork
t_case "an env -i child connects" case_env_i_child
t_case "Go program (redigo): pipelines, big value, 50 goroutines, pub/sub, BLPOP" case_go_redigo
t_case "unconfigured port untouched in the same run" case_unconfigured
t_case "non-blocking connect: flags kept, getpeername the server's" case_nonblocking
t_case "TCP Fast Open: refused, configured or not (nothing sent)" case_fastopen
t_case "server errors reset the program's connection" case_server_errors
t_case "server's orderly end reaches the program" case_server_quits
t_case "the program's last bytes and its end at once: both carried" case_half_close
t_case "io_uring refused (ENOSYS)" case_io_uring
t_case "wrong CA: connect fails, EACCES" case_wrong_ca
t_case "wrong name: connect fails" case_wrong_name
t_case "no client certificate" case_no_client_cert
t_case "not TLS (recording server)" case_not_tls
t_case "peer never answers: handshake timeout" case_stall
t_case "configured port, nothing listening: ECONNREFUSED" case_nothing_listening
t_case "setuid program refused (126)" case_refuse_setuid
t_case "bad configuration: program not run (126)" case_refuse_bad_config
t_done
