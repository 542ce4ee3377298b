#!/bin/bash
# 12-never-plaintext.sh - no byte of a program's plaintext to a configured
# endpoint reaches the network in clear, whatever path the program takes to
# its socket (DESIGN.md: "The program never holds the network socket").
#
# Each case: a recording proxy (record_server.py proxy mode) in front of the
# TLS-only redis-server (client certificates required); the shim configured
# for the PROXY's address; a program (tests/clients/leak_probe MODE, bash,
# python3) sends "SET <unique marker> 1" by one path.  The marker must never
# be in what the proxy received from the client.  Where the path must work,
# the reply came back (+OK) and the key is on the server (asked natively).
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
T_TIMEOUT=15
PROBE=$BUILD/clients/leak_probe
if [ ! -x "$PROBE" ]; then
	echo "$PROBE not built: run make clients" >&2
	T_FAIL=$((T_FAIL + 1))
	echo "FAIL leak_probe exists"
	t_done
fi
start_tls_redis || t_done

# NP_ONLY=REGEX runs only the cases whose name matches (for working on one).
eval "np_orig_$(declare -f t_case)"
t_case() {
	[ -z "${NP_ONLY:-}" ] || [[ "$1" =~ $NP_ONLY ]] || return 0
	np_orig_t_case "$@"
}

# np_setup NAME [PROXY ARGS...]: a fresh marker $M and a fresh recording
# proxy to the TLS server on $P; $NP_SHIM = the wrapper configured for
# 127.0.0.1:$P.  Restarts the TLS server if an earlier case killed it.
np_setup() {
	local name=$1
	shift
	M=$(marker)
	if ! kill -0 "$REDIS_PID" 2>/dev/null; then
		echo "    (TLS redis-server died; starting another)" >&2
		start_tls_redis || return
	fi
	start_record_server proxy "$name" --upstream "$REDIS_PORT" "$@" || return
	np_shim_for "$REC_PORT"
}

# np_shim_for PORT: P=PORT; $NP_SHIM = the wrapper configured for
# 127.0.0.1:PORT with the test CA and client certificate ($NP_TLS).
np_shim_for() {
	P=$1
	NP_TLS=(--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")
	NP_SHIM=("$T_RUN" --endpoint "127.0.0.1:$P" "${NP_TLS[@]}" --)
}

# probe MODE [ARGS...]: leak_probe through the shim to 127.0.0.1:$P.
probe() {
	local mode=$1
	shift
	t_run "${NP_SHIM[@]}" "$PROBE" "$mode" 127.0.0.1 "$P" "$M" "$@"
	# NP_DEBUG=1: show what the probe said
	[ -z "${NP_DEBUG:-}" ] || printf '    [%s rc=%s]\n%s\n%s\n' "$mode" "$T_RC" "$T_OUT" "$T_ERR" >&2
}

# probe_could_not WHY: the last probe exited 3 (this machine cannot set up
# what it needs): say WHY (the case is skipped) and succeed; else fail.
probe_could_not() {
	[ "$T_RC" -eq 3 ] || return 1
	echo "    ($1; skipped)" >&2
}

# rec_settled: every connection the proxy accepted is closed, so all the
# client sent has been recorded.
rec_settled() {
	local a c
	a=$(grep -c ' accept$' "$REC.log" 2>/dev/null)
	c=$(grep -c ' closed$' "$REC.log" 2>/dev/null)
	[ "${a:-0}" -eq "${c:-0}" ]
}

# no_leak [WHAT]: the marker is not in what the proxy received.
no_leak() {
	wait_until 3 rec_settled || true
	assert_file_lacks "$REC.raw" "$M" "${1:-bytes the proxy received from the client}"
}

# stored [WHAT]: the marker key is on the TLS server (native redis-cli).
stored() {
	assert_eq 1 "$(rcli_native EXISTS "$M" 2>&1)" "${1:-EXISTS marker on the server}"
}

# works [REPLY...]: the last run exited 0 and printed these reply lines
# (default +OK), and the key is stored.
works() {
	local r
	[ $# -gt 0 ] || set -- +OK
	if [ "$T_RC" -ne 0 ]; then
		fail "exit status $T_RC, expected 0; stdout: $(t_short "$T_OUT" 500); stderr: $(t_short "$T_ERR" 500)"
		return 1
	fi
	for r in "$@"; do
		assert_contains "$T_OUT" "reply: $r" "the program's output" || return
	done
	stored
}

# error_or_tls: the program saw an error, or its command went over TLS
# (it got +OK and the key is stored).  Never: it "worked" with no key.
error_or_tls() {
	if [ "$T_RC" -eq 124 ] || [ "$T_RC" -eq 137 ]; then
		fail "timed out; stdout: $(t_short "$T_OUT" 500)"
		return 1
	fi
	if [ "$T_RC" -eq 0 ]; then
		stored "EXISTS marker (the program reported +OK)"
	else
		assert_match "$T_OUT$T_ERR" "error|refused|denied|not supported" \
			"the failing program's output"
	fi
}

# no_hang: the last run ended by itself (not the test's timeout, not the
# probe's watchdog, not a signal).
no_hang() {
	if [ "$T_RC" -eq 124 ] || [ "$T_RC" -eq 137 ] || [ "$T_RC" -gt 128 ] ||
		[[ "$T_OUT" == *"watchdog"* ]]; then
		fail "did not end by itself (status $T_RC): hang or crash; stdout: $(t_short "$T_OUT" 500)"
		return 1
	fi
}

# ------------------------------------------------------------- premises

case_premise_leak_seen() {
	# Without the shim the command goes out in clear and the proxy sees
	# it: the detector works.
	np_setup premise || return
	t_run "$PROBE" write 127.0.0.1 "$P" "$M"
	wait_until 3 rec_settled || true
	assert_file_has "$REC.raw" "$M" "bytes the proxy received (no shim)"
	assert_eq 0 "$(rcli_native EXISTS "$M")" "EXISTS marker (no shim)"
}
t_case "premise: without the shim the marker is on the wire" case_premise_leak_seen

case_control_write() {
	np_setup control || return
	probe write
	works
	no_leak
}
t_case "control: connect + write() through the shim goes over TLS" case_control_write

# -------------------------------------------------------------- 1. vfork

case_vfork() {
	np_setup vfork || return
	probe vfork
	works +PONG +OK
	no_leak
}
t_case "vfork child close()s the socket and execs; the parent's SET still works" case_vfork

NP_PY_VFORK='import socket, subprocess, sys
port, m = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
def cmd(b):
    s.sendall(b)
    print("reply: " + s.recv(4096).decode(errors="replace").strip(), flush=True)
cmd(b"PING\r\n")
subprocess.run(["true"], check=True)
cmd(("SET %s 1\r\n" % m).encode())'

case_vfork_python() {
	np_setup vfork-py || return
	t_run "${NP_SHIM[@]}" "$T_PY" -c "$NP_PY_VFORK" "$P" "$M"
	works +PONG +OK
	no_leak
}
t_case "python3: subprocess.run between two commands on one connection" case_vfork_python

# ------------------------------------------------------ 2. dprintf, stdio

case_dprintf() {
	np_setup dprintf || return
	probe dprintf
	works
	no_leak
}
t_case "dprintf() on the socket" case_dprintf

case_stdio() {
	np_setup stdio || return
	probe stdio
	works
	no_leak
}
t_case "dup2(fd, 1) then fputs + fflush on stdout" case_stdio

# -------------------------------------------------- 3. pwritev2, preadv2

case_pwritev2() {
	np_setup pwritev2 || return
	probe pwritev2
	works
	no_leak
}
t_case "pwritev2(fd, iov, 1, -1, 0)" case_pwritev2

case_preadv2() {
	np_setup preadv2 || return
	probe preadv2
	# The reply is plaintext RESP, never TLS records.
	assert_match "$T_OUT" '^reply: \+' "the line preadv2 read" || return
	works
	no_leak
}
t_case "preadv2() reads the plaintext reply" case_preadv2

# ---------------------------------------------------------------- 4. aio

case_aio() {
	np_setup aio || return
	probe aio
	works
	no_leak
}
t_case "aio_write + aio_suspend" case_aio

# -------------------------------------------------------- 5. posix_spawn

case_spawn() {
	np_setup spawn || return
	probe spawn
	works
	no_leak
}
t_case "posix_spawn child with the socket dup2()ed to stdout writes the command" case_spawn

NP_PY_SPAWN='import socket, subprocess, sys
port, m = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
subprocess.run(["printf", "SET %s 1\\r\\n" % m], stdout=s.fileno(), close_fds=False, check=True)
print("reply: " + s.recv(4096).decode(errors="replace").strip(), flush=True)'

case_spawn_python() {
	np_setup spawn-py || return
	t_run "${NP_SHIM[@]}" "$T_PY" -c "$NP_PY_SPAWN" "$P" "$M"
	works
	no_leak
}
t_case "python3: subprocess.run(printf, stdout=sock.fileno())" case_spawn_python

# ----------------------------------------------------------- 6. FIONCLEX

case_fionclex() {
	np_setup fionclex || return
	probe fionclex
	works
	no_leak
}
t_case "ioctl(FIONCLEX), then an exec'd bash writes to the inherited socket" case_fionclex

case_inherit_all() {
	# A daemon that clears close-on-exec on every descriptor it has
	# (fcntl, ioctl(FIONCLEX), or the fcntl system call past the hooks),
	# then execs a program (in place, as a graceful restart; or in a
	# vfork or posix_spawn child) that writes to every socket it
	# inherited: the connection's private TCP socket was among them, and
	# the SET went out in clear on it.  The shim's own descriptors are
	# closed to fcntl and ioctl, and close on exec whatever cleared it.
	# After an exec in place the session is gone (README, Limits).
	local how via
	for how in fcntl ioctl raw; do
		for via in exec vfork spawn fork; do
			np_setup "inherit-$how-$via" || return
			probe inherit "$how" "$via"
			no_hang || return
			no_leak "bytes the proxy received (close-on-exec cleared by $how, then $via)" || return
			if [ "$via" = exec ]; then
				assert_contains "$T_OUT" "reply: +PONG" "the PING before the exec" || return
			else
				works +PONG +OK || return
			fi
			stop_pid "$REC_PID"
		done
	done
}
t_case "close-on-exec cleared on every fd (fcntl, FIONCLEX, raw fcntl), then exec / vfork / posix_spawn / fork of bash that writes to every inherited socket" case_inherit_all

case_touchall() {
	# The SET to every socket the process has: to a dup() of each
	# descriptor, or written (write, send) to each one fstat() says is a
	# socket.  The shim's own descriptors were among them, and a copy of
	# the private TCP socket, or that socket itself, carried it in clear.
	local how
	for how in dup write send; do
		np_setup "touchall-$how" || return
		probe touchall "$how"
		no_hang || return
		no_leak "bytes the proxy received (touchall $how)" || return
		works +PONG +OK || return
		stop_pid "$REC_PID"
	done
}
t_case "the SET to every socket among fds 3..65535 (by a dup of each, by write, by send): the shim's own are closed to the program" case_touchall

# ------------------------------------------------------ 7. glibc aliases

case_glibc_alias() {
	# __connect is glibc's alias of connect: a hook on connect alone does
	# not see it.  The connection must go over TLS or fail.
	np_setup glibc-alias || return
	probe glibc_alias
	no_leak
	error_or_tls
}
t_case "__connect, __write, __send (glibc's exported aliases)" case_glibc_alias

case_alias_io() {
	np_setup alias-io || return
	probe alias_io
	works +OK
	no_leak
}
t_case "connect(), then __write and __send" case_alias_io

# ------------------------------------------------------ 8. bash /dev/tcp

case_bash_devtcp() {
	np_setup bash || return
	# shellcheck disable=SC2016
	t_run "${NP_SHIM[@]}" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"
printf "SET %s 1\r\n" "$1" >&3
read -r -t 5 line <&3
echo "reply: $line"' "$P" "$M"
	works
	no_leak
}
t_case "bash: exec 3<>/dev/tcp, printf >&3, read <&3" case_bash_devtcp

# ------------------------------------------------------ 9. TCP Fast Open

case_fastopen() {
	local mode
	for mode in fastopen_sendmsg fastopen_sendmmsg; do
		np_setup "$mode" || return
		probe "$mode"
		no_leak "bytes the proxy received ($mode)"
		error_or_tls
		stop_pid "$REC_PID"
	done
}
t_case "sendmsg/sendmmsg(MSG_FASTOPEN) on an unconnected socket" case_fastopen

case_broken_config() {
	# The configuration cannot be loaded: nothing goes out at all, by any
	# of these paths.
	local bad=$T_TMP/broken.conf mode n
	printf 'version = 1;\nendpoints = ( { match = "127.0.0.1:1" \n' >"$bad"
	for mode in write fastopen_sendmsg fastopen_sendmmsg; do
		np_setup "broken-$mode" || return
		t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_CONFIG="$bad" \
			REDIS_TLS_ENDPOINTS="127.0.0.1:$P" REDIS_TLS_CA_FILE="$PKI/ca.crt" \
			REDIS_TLS_CERT_FILE="$PKI/client.crt" REDIS_TLS_KEY_FILE="$PKI/client.key" \
			"$PROBE" "$mode" 127.0.0.1 "$P" "$M"
		no_leak "bytes the proxy received ($mode, broken configuration)"
		assert_failed "$mode with a broken configuration"
		n=$(rec_connections)
		assert_eq 0 "${n:-0}" "connections the proxy accepted ($mode, broken configuration)"
		stop_pid "$REC_PID"
	done
}
t_case "broken configuration: connect and fast-open sends fail, nothing goes out" case_broken_config

case_null_cipher() {
	# A TLS 1.2 cipher list that names ciphers without encryption (eNULL,
	# allowed by @SECLEVEL=0), and a server that accepts them (openssl
	# s_server): the handshake verified, and the SET went out in clear
	# inside TLS records.  Such a list is refused at load: by the
	# wrapper, and by the shim itself (connects fail, nothing goes out).
	local sp list='eNULL:@SECLEVEL=0' lines
	sp=$(free_port) || return
	openssl s_server -accept "127.0.0.1:$sp" -cert "$PKI/server.crt" -key "$PKI/server.key" \
		-tls1_2 -cipher "$list" -quiet </dev/null >"$T_TMP/null-cipher.out" 2>&1 &
	t_track $!
	wait_until 5 port_open "$sp" || { fail "openssl s_server did not start"; return; }
	M=$(marker)
	start_record_server proxy null-cipher --upstream "$sp" || return
	P=$REC_PORT
	t_run env REDIS_TLS_MAX_PROTOCOL=TLSv1.2 "$T_RUN" --endpoint "127.0.0.1:$P" \
		--cacert "$PKI/ca.crt" --tls-ciphers "$list" -- "$PROBE" write 127.0.0.1 "$P" "$M"
	assert_failed "redis-tls-run --tls-ciphers '$list'" || return
	assert_contains "$T_ERR" "does not encrypt" "the wrapper's error" || return
	t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
		REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_MAX_PROTOCOL=TLSv1.2 \
		REDIS_TLS_CIPHERS="$list" "$PROBE" write 127.0.0.1 "$P" "$M"
	no_hang || return
	assert_failed "the preloaded probe with REDIS_TLS_CIPHERS='$list'" || return
	lines=$(shim_log_lines | grep -c 'does not encrypt')
	[ "${lines:-0}" -ge 1 ] || { fail "no shim line says the list does not encrypt: $(t_short "$T_ERR" 400)"; return; }
	no_leak "bytes the null-cipher server's proxy received"
}
t_case "a cipher list with ciphers that do not encrypt (eNULL:@SECLEVEL=0) is refused at load, nothing in clear" case_null_cipher

NP_PY_CLEARENV='import ctypes, os, socket, sys
port, m, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if how == "clearenv":
    ctypes.CDLL(None).clearenv()
else:
    os.environ.clear()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"SET %s 1\r\n" % m.encode())
print("reply: " + s.recv(4096).decode(errors="replace").strip(), flush=True)'

case_clearenv() {
	# A program that clears its environment before its first connect (a
	# daemon's clearenv(), Python's os.environ.clear()): the engine,
	# which loads then, found no configuration, and every TCP connect of
	# the process was refused.  It takes the configuration the process
	# started with, as the exec hooks do.
	local how
	for how in clearenv environ; do
		np_setup "clearenv-$how" || return
		t_run "${NP_SHIM[@]}" "$T_PY" -c "$NP_PY_CLEARENV" "$P" "$M" "$how"
		no_hang || return
		no_leak "bytes the proxy received ($how)" || return
		works || return
		stop_pid "$REC_PID"
	done
}
t_case "the program clears its environment before its first connect (clearenv, os.environ.clear()): over TLS still" case_clearenv

NP_PY_SETENV='import os, socket, sys
port, m = int(sys.argv[1]), sys.argv[2]
os.environ["REDIS_TLS_ENDPOINTS"] = "127.0.0.1:%d" % port
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"SET %s 1\r\n" % m.encode())
print("reply: " + s.recv(4096).decode(errors="replace").strip(), flush=True)'

case_setenv_empty() {
	# Empty means unset (README Environment): a process started with
	# REDIS_TLS_ENDPOINTS= that names its endpoint itself before its
	# first connect gets TLS to it, as one started without the variable.
	local env_arg
	for env_arg in "REDIS_TLS_ENDPOINTS=" "-u REDIS_TLS_ENDPOINTS"; do
		np_setup "setenv-empty" || return
		# shellcheck disable=SC2086 # env_arg is one or two words
		t_run env $env_arg LD_PRELOAD="$T_LIB" REDIS_TLS_CA_FILE="$PKI/ca.crt" \
			REDIS_TLS_CERT_FILE="$PKI/client.crt" REDIS_TLS_KEY_FILE="$PKI/client.key" \
			"$T_PY" -c "$NP_PY_SETENV" "$P" "$M"
		no_hang || return
		no_leak "bytes the proxy received (env $env_arg)" || return
		works || return
		stop_pid "$REC_PID"
	done
}
t_case "started with REDIS_TLS_ENDPOINTS empty or unset, the program sets it before its first connect: over TLS" case_setenv_empty

# ---------------------------------------------------- 10. short sockaddr_in6

case_v6len() {
	local len
	for len in 24 26 27; do
		np_setup "v6len-$len" || return
		probe v6len "$len"
		no_leak "bytes the proxy received (addrlen $len)"
		works
		stop_pid "$REC_PID"
	done
}
t_case "connect(::ffff:127.0.0.1) with addrlen 24, 26, 27" case_v6len

# ------------------------------------------------------------ 11. any-address

case_anyaddr() {
	local host
	for host in 0.0.0.0 ::ffff:0.0.0.0; do
		np_setup "any-$host" || return
		t_run "${NP_SHIM[@]}" "$PROBE" anyaddr "$host" "$P" "$M"
		no_leak "bytes the proxy received (connect to $host)"
		error_or_tls
		stop_pid "$REC_PID"
	done
	# [::]:PORT dials ::1: a proxy on ::1, the shim configured for [::1].
	np_setup any6 --bind ::1 || return
	t_run "$T_RUN" --endpoint "[::1]:$P" "${NP_TLS[@]}" -- "$PROBE" anyaddr :: "$P" "$M"
	no_leak "bytes the proxy received (connect to [::])"
	error_or_tls
}
t_case "connect to 0.0.0.0 / ::ffff:0.0.0.0 / [::] when loopback is configured" case_anyaddr

# --------------------------------------------------------------- 12. race

case_race() {
	# Timing decides whether a given run would leak: three runs.
	local run
	np_setup race || return
	for run in 1 2 3; do
		probe race
		[ "$T_RC" -eq 0 ] || echo "    (race run $run: status $T_RC)" >&2
		works || break
	done
	no_leak
}
t_case "a second thread write()s the command while connect() runs" case_race

case_toctou() {
	# Another thread rewrites the address (its port: the configured one,
	# then a closed one, in turn) while connect() or a Fast Open send
	# runs: the shim decided on what it read first, the kernel connected
	# to what it read later, and a connect passed by as unconfigured went
	# to the endpoint in clear.  4 s of connections each.  _long: a
	# msg_namelen longer than any address, which the kernel cuts to
	# sizeof(struct sockaddr_storage) and uses (the shim once decided on
	# the program's buffer for those).
	local how q
	q=$(free_port) || return
	for how in connect sendto sendmsg sendmmsg sendmsg_long sendmmsg_long; do
		np_setup "toctou-$how" || return
		T_TIMEOUT=30 probe toctou "$how" "$q"
		no_hang || return
		assert_contains "$T_OUT" "connected" "the probe's count ($how)" || return
		no_leak "bytes the proxy received (address rewritten during $how)" || return
		stop_pid "$REC_PID"
	done
}
t_case "another thread rewrites the address during connect() / sendto / sendmsg / sendmmsg (MSG_FASTOPEN, msg_namelen 16 and 256)" case_toctou

# ------------------------------------------------------- 13. other paths

case_syscall() {
	np_setup syscall || return
	probe syscall
	no_leak
	works
}
t_case "raw syscall(SYS_write) and syscall(SYS_sendto)" case_syscall

case_sendfile() {
	np_setup sendfile || return
	TMPDIR=$T_TMP probe sendfile
	no_leak
	works
}
t_case "sendfile() from a file holding the command" case_sendfile

case_splice() {
	np_setup splice || return
	probe splice
	no_leak
	works
}
t_case "splice() from a pipe into the socket" case_splice

case_fork_writev() {
	# The child's use of a session it inherited may be refused: only the
	# wire is asserted.
	np_setup fork-writev || return
	probe fork_writev
	if [ "$T_RC" -eq 124 ] || [ "$T_RC" -eq 137 ]; then
		fail "timed out; stdout: $(t_short "$T_OUT" 500)"
	fi
	no_leak
}
t_case "a forked child writev()s on the inherited socket" case_fork_writev

case_iouring() {
	np_setup iouring || return
	probe iouring
	assert_not_contains "$T_OUT" "built without liburing" "leak_probe" || return
	no_leak
	works
}
t_case "io_uring write and send" case_iouring

# -------------------------------------------------- collateral, signal

case_collateral() {
	# A non-blocking connect to a configured endpoint that never answers
	# the handshake, closed at once; the fd number is reused for a
	# plaintext connection to an unconfigured redis.  Past the handshake
	# timeout (300 ms) that connection must be untouched.
	local stall
	start_plain_redis || return
	M=$(marker)
	start_record_server stall collateral || return
	stall=$REC_PORT
	REDIS_TLS_HANDSHAKE_TIMEOUT_MS=300 t_run "$T_RUN" --endpoint "127.0.0.1:$stall" \
		"${NP_TLS[@]}" -- "$PROBE" collateral 127.0.0.1 "$stall" "$M" "$PLAIN_PORT" 1000
	assert_contains "$T_OUT" "same number" "the probe's fd numbers" || return
	assert_rc 0 "PING on the reused fd (0: +PONG)" || return
	assert_contains "$T_OUT" "reply: +PONG" "the probe's output"
	stop_pid "$PLAIN_PID"
}
t_case "closing a connecting TLS socket does not harm the next socket with its fd number" case_collateral

case_signal() {
	local n
	np_setup signal || return
	T_TIMEOUT=20 probe signal
	if [ "$T_RC" -eq 124 ] || [ "$T_RC" -ge 128 ]; then
		fail "did not exit by itself (status $T_RC): hang or crash; stdout: $(t_short "$T_OUT" 300)"
	else
		n=$(sed -n 's/.*the handler ran \([0-9]*\) times.*/\1/p' <<<"$T_OUT")
		[ "${n:-0}" -gt 0 ] || fail "the SIGALRM handler never ran (premise); stdout: $(t_short "$T_OUT")"
	fi
	no_leak
}
t_case "a SIGALRM handler send()s on the TLS socket every 1 ms: no hang" case_signal

# ------------------------------------------------------ double preload

# The shim loaded twice under two paths (as /etc/ld.so.preload plus a
# program's own LD_PRELOAD would): the first copy serves, the second
# stands aside with one line, and the command goes over TLS once.
case_double_preload() {
	local copy=$T_TMP/copy/libredistls.so
	np_setup double || return
	mkdir -p "$T_TMP/copy" && cp "$T_LIB" "$copy" || return
	t_run env LD_PRELOAD="$T_LIB:$copy" REDIS_TLS_LOG_LEVEL=info \
		REDIS_TLS_ENDPOINTS="127.0.0.1:$P" REDIS_TLS_CA_FILE="$PKI/ca.crt" \
		REDIS_TLS_CERT_FILE="$PKI/client.crt" REDIS_TLS_KEY_FILE="$PKI/client.key" \
		"$PROBE" write 127.0.0.1 "$P" "$M"
	works || return
	assert_eq 1 "$(shim_log_lines | grep -c 'stands aside')" "lines saying a copy stands aside" || return
	assert_eq 1 "$(shim_log_lines | grep -c 'TLS handshake done')" "handshakes (TLS once, not twice)" || return
	no_leak
}
t_case "the shim preloaded twice: one copy stands aside, TLS once" case_double_preload

# ------------------------------------------------ attack: more paths


# ------------------------------------------- functions found by dlsym

case_dlsym() {
	# connect() (and sendto) looked up at run time.  In the handle of
	# dlopen("libc.so.6") dlsym finds libc's own function, past every
	# hook: the connection went out in clear.
	local how
	for how in next default libc libc_alias libc_fastopen; do
		np_setup "dlsym-$how" || return
		probe dlsym "$how"
		no_hang || return
		no_leak "bytes the proxy received (dlsym $how)" || return
		if [ "$how" = libc_fastopen ]; then
			error_or_tls || return
		else
			works || return
		fi
		stop_pid "$REC_PID"
	done
}
t_case "connect / __connect / sendto(MSG_FASTOPEN) found by dlsym (RTLD_NEXT, RTLD_DEFAULT, the handle of libc.so.6)" case_dlsym

NP_PY_CTYPES='import ctypes, socket, struct, sys
port, m = int(sys.argv[1]), sys.argv[2]
libc = ctypes.CDLL("libc.so.6", use_errno=True)
s = socket.socket()
sa = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton("127.0.0.1") + bytes(8)
if libc.connect(s.fileno(), sa, len(sa)) != 0:
    sys.exit("connect: errno %d" % ctypes.get_errno())
s.sendall(b"SET %s 1\r\n" % m.encode())
s.settimeout(5)
print("reply: " + s.recv(4096).decode(errors="replace").strip(), flush=True)'

NP_RB_FIDDLE='require "fiddle"
require "socket"
port, m = ARGV[0].to_i, ARGV[1]
libc = Fiddle.dlopen("libc.so.6")
conn = Fiddle::Function.new(libc["connect"],
  [Fiddle::TYPE_INT, Fiddle::TYPE_VOIDP, Fiddle::TYPE_INT], Fiddle::TYPE_INT)
s = Socket.new(:INET, :STREAM)
sa = Socket.sockaddr_in(port, "127.0.0.1")
conn.call(s.fileno, sa, sa.bytesize) # -1 EINPROGRESS: Ruby 3 sockets do not block
s.write("SET #{m} 1\r\n")
abort "no reply" unless IO.select([s], nil, nil, 5)
puts "reply: " + s.readpartial(4096).strip'

NP_PY_CTYPES_EXEC='import ctypes, sys
sc, port, m = sys.argv[1:4]
libc = ctypes.CDLL("libc.so.6", use_errno=True)
args = [a.encode() for a in (sc, "127.0.0.1", port, "cmd", "SET", m, "v")]
libc.execv(args[0], (ctypes.c_char_p * (len(args) + 1))(*args, None))
sys.exit("execv: errno %d" % ctypes.get_errno())'

case_dlsym_ffi() {
	local sc
	sc=$(static_client) || return
	np_setup dlsym-ctypes || return
	t_run "${NP_SHIM[@]}" "$T_PY" -c "$NP_PY_CTYPES" "$P" "$M"
	no_hang || return
	no_leak "bytes the proxy received (python3 ctypes)" || return
	works || return
	stop_pid "$REC_PID"
	np_setup dlsym-fiddle || return
	t_run "${NP_SHIM[@]}" ruby -e "$NP_RB_FIDDLE" "$P" "$M"
	no_hang || return
	no_leak "bytes the proxy received (ruby Fiddle)" || return
	works || return
	stop_pid "$REC_PID"
	# the exec hooks too: a static client exec'd by libc's own execv
	np_setup dlsym-ctypes-exec || return
	t_run "${NP_SHIM[@]}" "$T_PY" -c "$NP_PY_CTYPES_EXEC" "$sc" "$P" "$M"
	no_hang || return
	no_leak "bytes the proxy received (python3 ctypes execv of a static client)" || return
	assert_rc 0 "the static client's status; stderr: $(t_short "$T_ERR" 300)" || return
	assert_contains "$T_OUT" "+OK" "the static client's output" || return
	stored
}
t_case "python3 ctypes.CDLL(\"libc.so.6\").connect and .execv of a static client, ruby Fiddle.dlopen(\"libc.so.6\")[\"connect\"]" case_dlsym_ffi

case_dlsym_layered() {
	# Another interposer of connect() preloaded beside the shim, which
	# forwards to libc's connect from dlopen("libc.so.6"): before the
	# shim it must reach the shim (TLS); after it, libc (no loop).  The
	# program's dlsym(RTLD_NEXT) finds the interposer before the shim
	# (glibc sees the program as the caller).
	local so=$T_TMP/interposer.so order how
	printf '%s\n' '#define _GNU_SOURCE' '#include <dlfcn.h>' '#include <stdio.h>' \
		'#include <sys/socket.h>' '#include <unistd.h>' \
		'int connect(int fd, const struct sockaddr *a, socklen_t l) {' \
		'	static __thread int depth;' \
		'	int (*libc)(int, const struct sockaddr *, socklen_t), r;' \
		'	*(void **)&libc = dlsym(dlopen("libc.so.6", RTLD_LAZY), "connect");' \
		'	if (++depth > 2) { dprintf(2, "interposer: loop\n"); _exit(9); }' \
		'	dprintf(2, "interposer: connect\n");' \
		'	r = libc(fd, a, l);' \
		'	depth--;' \
		'	return r; }' >"$so.c"
	gcc -shared -fPIC -O2 -o "$so" "$so.c" || { fail "gcc -shared interposer.c"; return; }
	for order in "$so $T_LIB" "$T_LIB $so"; do
		for how in next libc; do
			np_setup "dlsym-layered" || return
			t_run env LD_PRELOAD="$order" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
				REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
				REDIS_TLS_KEY_FILE="$PKI/client.key" "$PROBE" dlsym 127.0.0.1 "$P" "$M" "$how"
			no_hang || return
			no_leak "bytes the proxy received (LD_PRELOAD=$order, dlsym $how)" || return
			works || return
			if [ "$how" = next ] && [ "$order" = "$so $T_LIB" ]; then
				assert_contains "$T_ERR" "interposer: connect" \
					"dlsym(RTLD_NEXT) from the program: the interposer first" || return
			fi
			stop_pid "$REC_PID"
		done
	done
}
t_case "an interposer of connect() preloaded before / after the shim forwards via dlsym(libc.so.6): TLS, no loop" case_dlsym_layered

case_dlsym_next_layered() {
	# Another interposer of connect(), write() and read() preloaded beside
	# the shim that finds what it forwards to with dlsym(RTLD_NEXT), as
	# loggers do: before the shim it must reach the hooks (TLS); after
	# it, libc's own (no loop).  glibc answers RTLD_NEXT by who called
	# dlsym: the shim's dlsym must leave the interposer the caller.
	local so=$T_TMP/next_interposer.so order
	cat >"$so.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
static __thread int depth;
static void note(const char *w)
{
	char b[64];
	int n = snprintf(b, sizeof b, "interposer: %s\n", w);
	syscall(SYS_write, 2, b, n);
}
#define FWD(ret, name, params, args)                                  \
	ret name params                                                \
	{                                                              \
		static ret(*next) params;                              \
		ret r;                                                 \
		if (next == NULL)                                      \
			*(void **)&next = dlsym(RTLD_NEXT, #name);     \
		if (++depth > 2) {                                     \
			note("loop in " #name);                        \
			_exit(9);                                      \
		}                                                      \
		if (depth == 1)                                        \
			note(#name);                                   \
		r = next args;                                         \
		depth--;                                               \
		return r;                                              \
	}
FWD(int, connect, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
FWD(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
FWD(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n))
EOF
	gcc -shared -fPIC -O2 -o "$so" "$so.c" || { fail "gcc -shared next_interposer.c"; return; }
	for order in "$so $T_LIB" "$T_LIB $so"; do
		np_setup "dlsym-next-layered" || return
		t_run env LD_PRELOAD="$order" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
			REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
			REDIS_TLS_KEY_FILE="$PKI/client.key" "$PROBE" write 127.0.0.1 "$P" "$M"
		no_hang || return
		no_leak "bytes the proxy received (LD_PRELOAD=$order)" || return
		works || return
		assert_contains "$T_ERR" "interposer: connect" "the interposer's log (LD_PRELOAD=$order)" || return
		assert_not_contains "$T_ERR" "loop" "the interposer's log (LD_PRELOAD=$order)" || return
		stop_pid "$REC_PID"
	done
}
t_case "an interposer of connect/write/read preloaded before / after the shim forwards via dlsym(RTLD_NEXT): TLS, no loop" case_dlsym_next_layered

case_anybound6() {
	# An AF_INET6 socket bound to a v4-mapped loopback address other than
	# 127.0.0.1, connected to [::]: the kernel (tcp_v6_connect) dials
	# ::ffff:127.0.0.1 whatever the bound v4-mapped source is, so this
	# reaches the configured 127.0.0.1:P.
	np_setup anybound6 || return
	probe anybound6 ::ffff:127.0.0.2
	no_leak "bytes the proxy received (bound ::ffff:127.0.0.2, connect [::])"
	error_or_tls
}
t_case "AF_INET6 socket bound to ::ffff:127.0.0.2 connects to [::] (the kernel dials 127.0.0.1)" case_anybound6

case_sigload() {
	# The process's first connect() loads the engine; a signal handler
	# that runs on that thread meanwhile makes a connection of its own,
	# on a socket the shim saw made, or (raw) made by the system call:
	# that one was taken for libc's own and connected in clear.  Before
	# the load blocked signals, the handler's socket() could allocate
	# inside the load's malloc (4 of 100 processes aborted: heap
	# corruption), or its connect() wait for the load it interrupted
	# (a hang): so 30 processes each way.
	local run how
	for how in hooked raw; do
		np_setup "sigload-$how" || return
		for run in $(seq 1 30); do
			probe sigload "$how"
			no_hang || return
			error_or_tls || return
		done
		no_leak "bytes the proxy received ($how socket, 30 processes)" || return
		stop_pid "$REC_PID"
	done
}
t_case "a signal handler connects + writes while the first connect() loads the engine (its socket made through the hooks, or by the raw system call)" case_sigload

case_bigfd() {
	np_setup bigfd || return
	probe bigfd
	probe_could_not "bigfd: cannot raise the hard RLIMIT_NOFILE here" && return 0
	no_leak "bytes the proxy received (a socket above the fd table)"
	error_or_tls
}
t_case "root raises RLIMIT_NOFILE's hard limit, then connects a socket above the old limit" case_bigfd

case_closeloop() {
	np_setup closeloop || return
	probe closeloop
	no_hang || return
	no_leak
	works +OK +OK
}
t_case "after a TLS connection, close() every fd 3..4095 (a daemon), then a relayed connection" case_closeloop

case_closefrom() {
	# glibc's closefrom() calls close_range inside libc (no hook sees it):
	# the first connection's private descriptors go, and the second
	# connection's get the same numbers.  Using the first may fail; it
	# must not write into the second.
	np_setup closefrom || return
	probe closefrom
	no_hang || return
	no_leak
	works +OK +PONG
}
t_case "closefrom(fd + 1) with a TLS connection open: a second connection is not harmed by the first" case_closefrom

case_closeloop_exit() {
	# The close() loop also closes the relay thread's epoll and wake-up
	# descriptors (low numbers); files the program opens next reuse them,
	# and at exit the shim writes its wake-up to that number and joins
	# the thread.
	local i f
	np_setup closeloop-exit || return
	TMPDIR=$T_TMP probe closeloop_exit
	no_hang || return
	no_leak
	assert_rc 0 "closeloop_exit exit status" || return
	for i in 0 1 2 3 4 5; do
		f=$T_TMP/closeloop-file-$i
		assert_eq "$(printf 'data\n' | od -An -c)" "$(od -An -c <"$f")" "content of $f (the program wrote data\\n)" || return
	done
}
t_case "close() every fd 3..4095, open files, exit: no hang, the files hold only the program's bytes" case_closeloop_exit

case_bindport() {
	np_setup bindport || return
	probe bindport
	no_leak
	works
}
t_case "bind to 127.0.0.1:0 before connect: the connection uses the bound port" case_bindport

case_shutwr() {
	np_setup shutwr || return
	probe shutwr
	no_hang || return
	no_leak
	assert_rc 0 "write after shutdown(SHUT_WR) fails with EPIPE (0)"
}
t_case "shutdown(SHUT_WR), then write(): EPIPE, nothing sent" case_shutwr

case_nbstdio() {
	np_setup nbstdio || return
	probe nbstdio
	no_hang || return
	no_leak
	works
}
t_case "non-blocking connect, dprintf() before the handshake is done" case_nbstdio

case_epolldup() {
	np_setup epolldup || return
	probe epolldup
	no_hang || return
	no_leak
	works
}
t_case "epoll set holding only a dup() of the TLS socket" case_epolldup

case_raceconnect() {
	# The kernel lets one connect() win (the other: EISCONN/EALREADY);
	# the socket then works.  Both threads may go through sock_begin.
	np_setup raceconnect || return
	probe raceconnect
	no_hang || return
	no_leak
	works
}
t_case "two threads connect() the same socket at once (20 rounds)" case_raceconnect

case_hostile_nbstdio() {
	# The bytes a program wrote past the hooks wait in the socketpair
	# while the handshake runs; the server closes / sends garbage: they
	# are dropped, the program sees an end, nothing is in clear.
	local mode
	for mode in close garbage stall; do
		M=$(marker)
		start_record_server "$mode" "hostile-$mode" || return
		np_shim_for "$REC_PORT"
		REDIS_TLS_HANDSHAKE_TIMEOUT_MS=1000 probe nbstdio
		no_hang || return
		no_leak "bytes the $mode server received"
		assert_failed "nbstdio against a $mode server" || return
		stop_pid "$REC_PID"
	done
}
t_case "non-blocking connect + dprintf() to a server that closes / sends garbage / stalls" case_hostile_nbstdio

case_dupbefore() {
	np_setup dupbefore || return
	probe dupbefore
	no_hang || return
	no_leak
	works
}
t_case "dup() and a raw dup of the socket before connect(): the dup works, the raw one fails" case_dupbefore

# ------------------------------------------------ attack: second pass

case_execself() {
	# ucspi tcpclient / nc -e: connect, then exec (no fork) the program
	# that uses the socket.  The session lives in the process that
	# connected; exec ends it (README, Limits): the exec'd program's
	# write fails and nothing goes out, in clear or at all.
	np_setup execself || return
	probe execself
	no_hang || return
	no_leak || return
	assert_failed "the exec'd bash (its session ended with the exec)" || return
	assert_eq 0 "$(rcli_native EXISTS "$M" 2>&1)" "EXISTS marker on the server"
}
t_case "connect, then exec (no fork): the session ends with the exec, nothing goes out" case_execself

case_scm() {
	local how
	for how in WAIT EXEC EXIT; do
		np_setup "scm-$how" || return
		probe scm "$how"
		no_hang || return
		no_leak "bytes the proxy received (scm $how)"
		if [ "$how" = EXIT ]; then
			# the session lives in the process that connected (README,
			# Limits): whether the child's command went out before the
			# sender's exit finished is a race: if the child got +OK the
			# command went over TLS; else it may or may not have (as when
			# a connection drops), and never in clear
			if grep -q "reply: +OK" <<<"$T_OUT"; then
				stored "EXISTS marker (the child reported +OK)" || return
			fi
		else
			works || return
		fi
		stop_pid "$REC_PID"
	done
}
t_case "SCM_RIGHTS: the connected socket passed to another process works while the sender lives (preloaded; a non-preloaded python3); after the sender exits it ends, never in clear" case_scm

case_exitflush() {
	local how
	for how in EXIT _EXIT DPRINTF DPRINTF_EXIT; do
		np_setup "exitflush-$how" || return
		probe exitflush "$how"
		no_hang || return
		no_leak "bytes the proxy received (exitflush $how)"
		assert_rc 0 "exitflush $how status" || return
		wait_until 3 rec_settled || true
		stored "EXISTS marker (SET written by stdio/dprintf, then $how)"
		stop_pid "$REC_PID"
	done
}
t_case "SET by fdopen+fprintf+fflush or dprintf, then exit(0) / _exit(0) at once: the server executes it" case_exitflush

case_childrw() {
	local how
	for how in PRELOAD NOPRELOAD; do
		np_setup "childrw-$how" || return
		probe childrw "$how"
		no_hang || return
		no_leak "bytes the proxy received (childrw $how)"
		works +OK +PONG || return
		stop_pid "$REC_PID"
	done
}
t_case "fork + dup2(fd,0) + dup2(fd,1) + exec bash (preloaded / env -u LD_PRELOAD) writes and reads; then the parent PINGs" case_childrw

case_bigstdio() {
	np_setup bigstdio || return
	probe bigstdio
	no_hang || return
	no_leak
	works
}
t_case "SET of an 8 MiB value by fwrite + fflush, the reply by read()" case_bigstdio

case_mixwrite() {
	np_setup mixwrite || return
	probe mixwrite
	no_hang || return
	no_leak
	works
}
t_case "two threads at once: 200 SETs by fprintf+fflush, 200 by write(); 400 +OK" case_mixwrite

case_closeread() {
	local how
	for how in CLOSE DUP2; do
		np_setup "closeread-$how" || return
		probe closeread "$how"
		no_hang || return
		no_leak "bytes the proxy received (closeread $how)"
		works
		stop_pid "$REC_PID"
	done
}
t_case "close() / dup2() over a TLS fd while a thread is blocked in read() on it; a second connection is not harmed" case_closeread

case_forkbefore() {
	np_setup forkbefore || return
	probe forkbefore
	no_hang || return
	no_leak
	works +OK +OK +OK +PONG || return
	assert_eq 1 "$(rcli_native EXISTS "$M:child")" "EXISTS marker:child (the child's own connection)" || return
	assert_eq 1 "$(rcli_native EXISTS "$M:child2")" "EXISTS marker:child2 (its dprintf)"
}
t_case "fork() before connect: the parent connects; the child's copy is not connected, then the child connects it itself" case_forkbefore

case_etswitch() {
	np_setup etswitch || return
	probe etswitch
	no_hang || return
	no_leak
	works +PONG +PONG +OK +PONG
}
t_case "EPOLLET reader; a reply pending in the session when dprintf() switches it to relay mode" case_etswitch

case_forkexit() {
	np_setup forkexit || return
	probe forkexit
	no_hang || return
	no_leak
	works +OK +PONG +PONG
}
t_case "a relayed connection; a fork() child calls exit(0); the parent's connection still works" case_forkexit

case_special() {
	local how
	for how in OOB REPAIR ZC VMSPLICE; do
		np_setup "special-$how" || return
		probe special "$how"
		no_hang || return
		no_leak "bytes the proxy received ($how)" || return
		case $how in
		ZC | VMSPLICE) works || return ;;
		esac
		stop_pid "$REC_PID"
	done
}
t_case "send(MSG_OOB), TCP_REPAIR + send, SO_ZEROCOPY + MSG_ZEROCOPY, vmsplice + raw splice" case_special

# np_hostile MODE PREFIX: a hostile_server.py in MODE requiring the test
# client certificate; P its port, NP_SHIM the wrapper for it (H, H_PID as
# start_hostile_server sets them).
np_hostile() {
	start_hostile_server "$1" "$2" --client-ca "$PKI/ca.crt" || return 1
	np_shim_for "$H_PORT"
}

case_hostile_relayed() {
	# A server that breaks the protocol after the handshake, against a
	# connection in relay mode (the SET by dprintf): the program sees an
	# error or an end within its 5 s, nothing but TLS records on the wire.
	local mode h
	for mode in good reply-then-bad truncate-close truncate-stall oversize close-notify fin rst garbage bad-record; do
		M=$(marker)
		np_hostile "$mode" "$T_TMP/np-hostile-$mode" || return
		h=$H
		probe dprintf
		no_hang || return
		assert_file_lacks "$h.raw" "$M" "bytes the $mode server received" || return
		case $mode in
		good | reply-then-bad) assert_contains "$T_OUT" "reply: +OK" "the reply ($mode)" || return ;;
		*) assert_failed "dprintf SET against a $mode server" || return ;;
		esac
		wait_until 3 grep -q 'client records ok' "$h.log" ||
			{ fail "$mode: the wire did not parse as TLS records: $(tr '\n' ';' <"$h.log")"; return 1; }
		stop_pid "$H_PID"
	done
}
t_case "hostile servers (after the handshake) against a relayed connection: an error or an end, no hang" case_hostile_relayed

case_hostile_relayed_eof() {
	# An attacker who forges a record or cuts the TCP stream: on the fast
	# path the program's read() fails (ECONNRESET), so it knows its reply
	# is incomplete.  In relay mode the same attack must not read as a
	# clean end of stream (0), which a program that reads to the end takes
	# for a complete answer (a truncation attack).
	local mode h p
	for mode in truncate-close bad-record; do
		np_hostile "$mode" "$T_TMP/np-hostile-eof-$mode" || return
		h=$H
		for p in write dprintf; do
			M=$(marker)
			probe "$p"
			no_hang || return
			assert_file_lacks "$h.raw" "$M" "bytes the $mode server received ($p)" || return
			assert_failed "$p SET against a $mode server" || return
			assert_not_contains "$T_OUT" "connection closed" \
				"what read() showed after a $mode attack ($p: must be an error, not end of stream)"
		done
		stop_pid "$H_PID"
	done
}
t_case "a forged record / cut stream reads as an error, not a clean end of stream, on the fast path and relayed" case_hostile_relayed_eof

case_hostile_read_calls() {
	# The same attack seen through every read call a program may use
	# (recv, recvfrom, recvmsg, recv_into; os.read), on the fast path and
	# relayed (the descriptor made inheritable: FIONCLEX): the good reply,
	# then an error on every later read, never a clean end of stream.
	local h relay
	np_hostile reply-then-bad "$T_TMP/np-hostile-calls" || return
	h=$H
	for relay in 0 1; do
		M=$(marker)
		t_run "${NP_SHIM[@]}" "$T_PY" -c '
import os, select, socket, sys
port, marker, relay = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
calls = {"recv": lambda s: s.recv(4096),
         "recvfrom": lambda s: s.recvfrom(4096)[0],
         "recvmsg": lambda s: s.recvmsg(4096)[0],
         "recv_into": lambda s: bytes(bytearray(4096)[:s.recv_into(bytearray(4096))]),
         "os.read": lambda s: (select.select([s], [], [], 5),
                               os.read(s.fileno(), 4096))[1]}
for name, call in calls.items():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if relay:
        os.set_inheritable(s.fileno(), True)
    s.sendall(b"SET %s 1\r\n" % marker.encode())
    got = []
    for _ in range(4):
        try:
            got.append("%d bytes" % len(call(s)))
        except OSError as e:
            got.append("error %d" % e.errno)
    print(name, "relayed" if relay else "fast", ";".join(got))
    s.close()
' "$H_PORT" "$M" "$relay"
		assert_rc 0 "the reading script ($(t_short "$T_OUT $T_ERR" 400))" || return
		assert_file_lacks "$h.raw" "$M" "bytes the server received (relay=$relay)" || return
		local line n=0
		while read -r line; do
			n=$((n + 1))
			[[ "$line" =~ ^[a-z_.]+\ [a-z]+\ 5\ bytes\;error\ [0-9]+\;error\ [0-9]+\;error\ [0-9]+$ ]] ||
				{ fail "after the forged record: $line (want the 5-byte reply, then an error on every read)"; return 1; }
		done <<<"$T_OUT"
		[ "$n" = 5 ] || { fail "expected 5 read calls reported, got $n: $T_OUT"; return 1; }
	done
	stop_pid "$H_PID"
}
t_case "a forged record after a good reply: every read call (recv, recvfrom, recvmsg, recv_into, read) fails after it, fast and relayed" case_hostile_read_calls

NP_NOFORK=$BUILD/clients/np_nofork

# np_keystream_reuse RAW MARKER: how many pairs of the client's TLS
# application-data records were sealed with the same key stream (the XOR of
# the ciphertexts is the XOR of np_nofork's two same-length commands): an
# AEAD nonce reuse, which gives the child's plaintext to anyone on the wire.
np_keystream_reuse() {
	"$T_PY" - "$1" "$2" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
recs, i = [], 0
while i + 5 <= len(d):
    n = int.from_bytes(d[i + 3:i + 5], 'big')
    if d[i] == 0x17:
        recs.append(d[i + 5:i + 5 + n])
    i += 5 + n
def cmd(k):
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(k), k)
m = sys.argv[2].encode()
px = bytes(x ^ y for x, y in zip(cmd(m), cmd(m.replace(b'S', b'T'))))
print(sum(1 for a in range(len(recs)) for b in range(a + 1, len(recs))
          if len(recs[a]) == len(recs[b]) and
          bytes(x ^ y for x, y in zip(recs[a], recs[b]))[:len(px)] == px))
PY
}

case_nofork() {
	# _Fork() (glibc >= 2.34) and a raw clone(SIGCHLD) run no
	# pthread_atfork handlers.  The child's hooked write() on the inherited
	# TLS socket must fail as after fork() (the session stays with the
	# parent): if the child's copy of the session sealed a record, the
	# parent's next record reuses its sequence number = AEAD nonce.
	local how
	for how in _Fork sysfork; do
		np_setup "nofork-$how" || return
		t_run "${NP_SHIM[@]}" "$NP_NOFORK" "$how" 127.0.0.1 "$P" "$M"
		no_hang || return
		no_leak
		assert_contains "$T_OUT" "child write=-1" \
			"$how child's write() on the parent's TLS socket fails"
		assert_eq 0 "$(rcli_native EXISTS "$M" 2>&1)" \
			"EXISTS marker ($how child's command not executed)"
		assert_contains "$T_OUT" "parent reply: +OK" "the parent's own SET after the child"
		assert_eq 0 "$(np_keystream_reuse "$REC.raw" "$M")" \
			"pairs of TLS records sealed with one nonce ($how)"
	done
}
t_case "_Fork() / raw clone(SIGCHLD) child (no atfork handlers) writes on the inherited TLS socket: refused, no nonce reuse" case_nofork

NP_CONNECTED=$BUILD/clients/np_connected

case_connected() {
	# connect() to the endpoint on a socket already connected (accept()ed)
	# or listening: EISCONN as the kernel says; the socket is left as it
	# was, nothing goes to the endpoint.
	local how
	for how in accepted listening; do
		np_setup "connected-$how" || return
		t_run "${NP_SHIM[@]}" "$NP_CONNECTED" "$how" 127.0.0.1 "$P" "$M"
		no_hang || return
		no_leak
		assert_rc 0 "connect() on an $how socket: EISCONN, the socket unharmed (0)"
		assert_eq 0 "$(rec_connections)" "connections the endpoint's proxy got ($how)"
	done
}
t_case "connect() on an accept()ed or a listening socket: EISCONN, the socket unharmed, nothing sent" case_connected


case_bigselect() {
	np_setup bigselect || return
	probe bigselect
	probe_could_not "bigselect: cannot place a socket at fd 1500 here" && return 0
	no_hang || return
	no_leak
	works +OK +PONG
}
t_case "select() with a set sized for a TLS socket at fd 1500 (> FD_SETSIZE), fast path then relayed" case_bigselect


# ------------------------------- 40. execs LD_PRELOAD cannot reach

# A preloaded program starting one the shim cannot be in: a static
# binary, a Go program (even a dynamic, cgo one), or any program whose
# environment lost the shim or the configuration (env -i, env={}).  The
# shim runs it under `redis-tls-ctl supervise` with this process's
# configuration: its SET goes over TLS (+OK, the key on the server, the
# marker never on the wire), and a failing exec fails as without the shim.
NP_SC=$(static_client) || t_done
NP_EXEC=$BUILD/clients/exec_probe

# sc_did KEY [WHAT]: nothing in clear so far; the last run exited 0,
# printed +OK, and KEY is on the server.
sc_did() {
	no_hang || return
	no_leak "${2:-$1}: bytes the proxy received from the client" || return
	if [ "$T_RC" -ne 0 ]; then
		fail "${2:-$1}: exit status $T_RC, expected 0; stdout: $(t_short "$T_OUT" 400); stderr: $(t_short "$T_ERR" 600)"
		return 1
	fi
	assert_contains "$T_OUT" "+OK" "${2:-$1}: the output" || return
	assert_eq 1 "$(rcli_native EXISTS "$1" 2>&1)" "${2:-$1}: EXISTS $1 on the server"
}

case_exec_static_sh() {
	np_setup exec-sh || return
	t_run "${NP_SHIM[@]}" sh -c 'exec "$0" 127.0.0.1 "$1" cmd SET "$2" v' \
		"$NP_SC" "$P" "$M:exec"
	sc_did "$M:exec" "sh -c 'exec static_client'" || return
	t_run "${NP_SHIM[@]}" sh -c '"$0" 127.0.0.1 "$1" cmd SET "$2" v; echo "sh: $?"' \
		"$NP_SC" "$P" "$M:fork"
	sc_did "$M:fork" "sh -c 'static_client' (fork + exec)" || return
	assert_contains "$T_OUT" "sh: 0" "the shell saw the client's status" || return
	no_leak
}
t_case "a preloaded sh execs a static client (exec; fork + exec): supervised, over TLS" case_exec_static_sh

case_exec_relative() {
	# The wrapper itself, given the static client by a relative path: it
	# is a file like any other (it was taken for a shell builtin and
	# preloaded, in clear).
	np_setup exec-relative || return
	t_run env -C "$(dirname "$NP_SC")" "${NP_SHIM[@]}" ./static_client 127.0.0.1 "$P" \
		cmd SET "$M" v
	sc_did "$M" "redis-tls-run -- ./static_client"
}
t_case "redis-tls-run -- ./static_client (a relative path): supervised, over TLS" case_exec_relative

case_exec_path_fallthrough() {
	# The wrapper given a bare NAME whose first file on PATH cannot be
	# exec'd though it is an executable file (a #! line naming a missing
	# interpreter: ENOENT; naming a folder: EACCES): execvp, as
	# the shell's exec, goes on to the next NAME on PATH, here the static
	# client.  It must be supervised too (it was told by the first file,
	# "the exec says why", and run preloaded: in clear).
	local dirs=$T_TMP/fallthrough interp i=0
	for interp in /nonexistent/interp "$T_TMP"; do
		i=$((i + 1))
		rm -rf "$dirs" && mkdir -p "$dirs/a" "$dirs/b" || return
		printf '#!%s\n' "$interp" >"$dirs/a/sclient" && chmod +x "$dirs/a/sclient" || return
		ln -s "$NP_SC" "$dirs/b/sclient" || return
		np_setup "exec-fallthrough-$i" || return
		t_run env PATH="$dirs/a:$dirs/b:$PATH" "${NP_SHIM[@]}" sclient 127.0.0.1 "$P" \
			cmd SET "$M" v
		sc_did "$M" "first PATH match '#!$interp', then the static client" || return
	done
}
t_case "redis-tls-run -- NAME: the first NAME on PATH cannot be exec'd (#! to a missing interpreter, to a folder), the static one after it: supervised, over TLS" case_exec_path_fallthrough

case_exec_env_i() {
	np_setup exec-env-i || return
	t_run "${NP_SHIM[@]}" env -i "$NP_SC" 127.0.0.1 "$P" cmd SET "$M:static" v
	sc_did "$M:static" "env -i static_client" || return
	# dynamic, but env -i took LD_PRELOAD and the configuration away
	t_run "${NP_SHIM[@]}" env -i "$PROBE" write 127.0.0.1 "$P" "$M:dyn"
	sc_did "$M:dyn" "env -i leak_probe (dynamic)" || return
	t_run "${NP_SHIM[@]}" env -u LD_PRELOAD "$PROBE" write 127.0.0.1 "$P" "$M:unset"
	sc_did "$M:unset" "env -u LD_PRELOAD leak_probe" || return
	t_run "${NP_SHIM[@]}" env -u REDIS_TLS_ENDPOINTS "$PROBE" write 127.0.0.1 "$P" "$M:noep"
	sc_did "$M:noep" "env -u REDIS_TLS_ENDPOINTS leak_probe" || return
	no_leak
}
t_case "env -i / env -u LD_PRELOAD / env -u REDIS_TLS_ENDPOINTS, of a static and a dynamic client: supervised" case_exec_env_i

case_exec_own_config() {
	# A child given a configuration of its own (a nested redis-tls-run,
	# here for the endpoint the outer one does not name) runs preloaded
	# with it, as before: its connection is TLS by its own shim, not
	# supervised (and not in clear).
	np_setup exec-nested || return
	t_run "$T_RUN" --endpoint 127.0.0.1:1 "${NP_TLS[@]}" -- \
		"${NP_SHIM[@]}" "$PROBE" write 127.0.0.1 "$P" "$M"
	works || return
	no_leak
}
t_case "a nested redis-tls-run (another endpoint): the child runs preloaded with its own configuration, over TLS" case_exec_own_config

NP_PY_EXEC='import os, subprocess, sys
sc, probe, port, m = sys.argv[1:5]
def show(what, r):
    print("%s: %s %s" % (what, r.returncode, r.stdout.strip()), flush=True)
show("run", subprocess.run([sc, "127.0.0.1", port, "cmd", "SET", m + ":run", "v"],
                           capture_output=True, text=True))
show("env={}", subprocess.run([sc, "127.0.0.1", port, "cmd", "SET", m + ":env", "v"],
                              env={}, capture_output=True, text=True))
show("probe env={}", subprocess.run([probe, "write", "127.0.0.1", port, m + ":probe"],
                                    env={}, capture_output=True, text=True))
pid = os.posix_spawn(sc, [sc, "127.0.0.1", port, "cmd", "SET", m + ":spawn", "v"], dict(os.environ))
print("posix_spawn:", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
st = os.system("%s 127.0.0.1 %s cmd SET %s v" % (sc, port, m + ":system"))
print("system:", os.waitstatus_to_exitcode(st), flush=True)'

case_exec_python() {
	local k
	np_setup exec-py || return
	t_run "${NP_SHIM[@]}" "$T_PY" -c "$NP_PY_EXEC" "$NP_SC" "$PROBE" "$P" "$M"
	no_hang || return
	assert_rc 0 "python3's exit status; stderr: $(t_short "$T_ERR" 600)" || return
	for k in "run: 0 +OK" "env={}: 0 +OK" "probe env={}: 0 reply: +OK" "posix_spawn: 0" "system: 0"; do
		assert_contains "$T_OUT" "$k" "python3's output" || return
	done
	for k in run env probe spawn system; do
		assert_eq 1 "$(rcli_native EXISTS "$M:$k" 2>&1)" "EXISTS $M:$k" || return
	done
	no_leak
}
t_case "python3: subprocess.run (vfork + execve; env={} of a static and a dynamic client), os.posix_spawn, os.system" case_exec_python

# Every exec entry point, from a C program (exec_probe): a static client,
# and a dynamic one started with an environment that lost the shim.
case_exec_paths() {
	local mode prog env
	np_setup exec-paths || return
	for mode in execve execv execvp execvpe execl execlp execle execveat fexecve \
		fexecve-cloexec forkexec vforkexec spawn spawnp; do
		prog=$NP_SC
		case $mode in execvp | execvpe | execlp | spawnp) prog=static_client ;; esac
		t_run env PATH="$BUILD/clients:$PATH" "${NP_SHIM[@]}" "$NP_EXEC" "$mode" keep \
			"$prog" 127.0.0.1 "$P" cmd SET "$M:$mode" v
		sc_did "$M:$mode" "$mode of static_client" || return
		case $mode in execv | execvp | execl | execlp) env=cleared ;; *) env=empty ;; esac
		prog=$PROBE
		case $mode in execvp | execvpe | execlp | spawnp) prog=leak_probe ;; esac
		t_run env PATH="$BUILD/clients:$PATH" "${NP_SHIM[@]}" "$NP_EXEC" "$mode" "$env" \
			"$prog" write 127.0.0.1 "$P" "$M:$mode:dyn"
		sc_did "$M:$mode:dyn" "$mode ($env environment) of leak_probe" || return
	done
	no_leak
}
t_case "execve, execv, execvp, execvpe, execl, execlp, execle, execveat, fexecve, fork/vfork + execve, posix_spawn(p): static and env-less dynamic clients supervised" case_exec_paths

# The PATH searches of a preloaded program (exec_probe): the first
# sclient on PATH is a #! script whose interpreter is missing (ENOENT:
# glibc's search goes on), the next is the static client.
case_exec_paths_fallthrough() {
	local dirs=$T_TMP/fallthrough-hooks mode
	rm -rf "$dirs" && mkdir -p "$dirs/a" "$dirs/b" || return
	printf '#!/nonexistent/interp\n' >"$dirs/a/sclient" && chmod +x "$dirs/a/sclient" || return
	ln -s "$NP_SC" "$dirs/b/sclient" || return
	np_setup exec-paths-fallthrough || return
	for mode in execvp execvpe execlp spawnp; do
		t_run env PATH="$dirs/a:$dirs/b:$PATH" "${NP_SHIM[@]}" "$NP_EXEC" "$mode" keep \
			sclient 127.0.0.1 "$P" cmd SET "$M:$mode" v
		sc_did "$M:$mode" "$mode of sclient: a #! script with a missing interpreter, then the static client" || return
	done
}
t_case "execvp, execvpe, execlp, posix_spawnp: the first NAME on PATH a #! script with a missing interpreter, the static one after it: supervised, over TLS" case_exec_paths_fallthrough

case_exec_shell() {
	local env mode
	np_setup exec-shell || return
	for env in keep cleared; do
		for mode in system popen; do
			t_run "${NP_SHIM[@]}" "$NP_EXEC" "$mode" "$env" \
				"$NP_SC 127.0.0.1 $P cmd SET $M:$mode:$env v"
			sc_did "$M:$mode:$env" "$mode ($env environment)" || return
			assert_contains "$T_OUT" "status 0" "$mode's status" || return
		done
	done
	no_leak
}
t_case "system() and popen(), also after the program took LD_PRELOAD out of its environment" case_exec_shell

case_exec_go() {
	# A dynamic (cgo) Go program: LD_PRELOAD loads into it, but Go makes
	# connect(2) itself.  Built here with the standard library only.
	local src=$T_TMP/godial.go bin=$T_TMP/godial
	command -v go >/dev/null || { fail "go not found (golang-go: scripts/install-deps.sh)"; return; }
	cat >"$src" <<'GO'
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
)

func main() {
	c, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(3)
	}
	fmt.Fprintf(c, "SET %s v\r\n", os.Args[2])
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Println("read:", err)
		os.Exit(4)
	}
	fmt.Print("reply: ", line)
}
GO
	t_run env CGO_ENABLED=1 GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="$T_TMP/gocache" \
		go build -o "$bin" "$src"
	assert_rc 0 "go build: $(t_short "$T_ERR" 600)" || return
	assert_match "$(file -L "$bin")" "dynamically linked" "the Go program (premise: dynamic)" || return
	np_setup exec-go || return
	t_run "${NP_SHIM[@]}" sh -c 'exec "$0" "127.0.0.1:$1" "$2"' "$bin" "$P" "$M"
	sc_did "$M" "sh -c 'exec go_program'" || return
	no_leak
}
t_case "a preloaded sh execs a dynamic (cgo) Go program: supervised, over TLS" case_exec_go

case_exec_argv_env() {
	# A supervised program gets its own argv[0] and exactly the
	# environment it was given (without the shim in LD_PRELOAD), not the
	# supervisor's configuration.
	local bin=$T_TMP/showenv
	printf '%s\n' '#include <stdio.h>' 'extern char **environ;' \
		'int main(int c, char **v) { printf("argv0=%s\n", v[0]);' \
		'for (char **e = environ; *e; e++) printf("env=%s\n", *e); return 0; }' \
		>"$bin.c"
	gcc -O2 -static -o "$bin" "$bin.c" || { fail "gcc -static showenv.c"; return; }
	np_shim_for 1
	t_run "${NP_SHIM[@]}" env -i FOO=bar "$bin"
	assert_eq "argv0=$bin"$'\n'"env=FOO=bar" "$T_OUT" "env -i FOO=bar static: its argv and environment" || return
	t_run "${NP_SHIM[@]}" bash -c 'exec -a myname "$0"' "$bin"
	assert_eq "argv0=myname" "$(head -n 1 <<<"$T_OUT")" "exec -a myname: argv[0]" || return
	assert_contains "$T_OUT" "env=REDIS_TLS_ENDPOINTS=127.0.0.1:1" "its environment (the shell's, which has the configuration)" || return
	assert_eq "" "$(grep '^env=LD_PRELOAD=.*libredistls' <<<"$T_OUT")" "its LD_PRELOAD (nothing preloaded)"
}
t_case "a supervised static program gets its own argv[0] and exactly its environment (env -i, exec -a)" case_exec_argv_env

# The answer of exec_probe MODE keep TARGET (its stdout), without the shim.
np_exec_plain() {
	t_run "$NP_EXEC" "$@"
	printf '%s' "$T_OUT"
}

case_exec_errno() {
	# Without the shim these execs fail (ENOENT, EACCES, ENOEXEC; spawn
	# and system report the same); through it they must fail the same
	# way, not be handed to the supervisor (whose own failure would read
	# differently).  A static file without the x bit must not run.
	local dir=$T_TMP/exec-errno t mode want
	mkdir -p "$dir/adir" || return
	cp "$NP_SC" "$dir/noexec" && chmod 644 "$dir/noexec" || return
	printf '\001\002\003 not a program\n' >"$dir/junk" && chmod 755 "$dir/junk" || return
	np_setup exec-errno || return
	for t in "$dir/missing" "$dir/noexec" "$dir/adir" "$dir/junk"; do
		for mode in execve execv execveat spawn forkexec; do
			want=$(np_exec_plain "$mode" keep "$t" 127.0.0.1 "$P" cmd SET "$M" v)
			assert_match "$want" "failed: E|status" "premise: $mode of $t fails without the shim" || return
			t_run "${NP_SHIM[@]}" "$NP_EXEC" "$mode" keep "$t" 127.0.0.1 "$P" cmd SET "$M" v
			assert_eq "$want" "$T_OUT" "$mode of $(basename "$t") through the shim" || return
		done
	done
	for mode in execvp spawnp; do
		want=$(np_exec_plain "$mode" keep no-such-program-here)
		t_run "${NP_SHIM[@]}" "$NP_EXEC" "$mode" keep no-such-program-here
		assert_eq "$want" "$T_OUT" "$mode of a name on no PATH entry" || return
	done
	assert_eq 0 "$(rec_connections)" "connections the proxy got"
}
t_case "execs that fail without the shim (ENOENT, EACCES, ENOEXEC) fail the same through it; nothing runs" case_exec_errno

case_exec_fail_closed() {
	# redis-tls-ctl is not beside the library: an exec that would run
	# unprotected fails (EACCES, one line), nothing reaches the endpoint.
	local dir=$T_TMP/noctl
	mkdir -p "$dir" && cp "$T_LIB" "$dir/" || return
	[ ! -e "$BUILD/libredistls-engine.so" ] || cp "$BUILD/libredistls-engine.so" "$dir/" || return
	np_setup exec-noctl || return
	t_run env LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$dir/libredistls.so" \
		REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
		REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
		REDIS_TLS_KEY_FILE="$PKI/client.key" \
		"$NP_EXEC" execve keep "$NP_SC" 127.0.0.1 "$P" cmd SET "$M" v
	assert_eq "failed: EACCES" "$T_OUT" "the exec's answer" || return
	assert_one_shim_error "static_client: it is statically linked; .*redis-tls-ctl is needed .*fail closed" || return
	assert_eq 0 "$(rec_connections)" "connections the proxy got" || return
	no_leak
}
t_case "redis-tls-ctl missing: the exec of a static client fails (EACCES, one line), nothing sent" case_exec_fail_closed

case_exec_valgrind_env() {
	# VALGRIND_LAUNCHER is inherited by every child of a program run
	# under valgrind: it does not make a static program valgrind's tool
	# (that exception ran it as it was, in clear).
	np_setup exec-valgrind-env || return
	t_run "${NP_SHIM[@]}" env VALGRIND_LAUNCHER=/usr/bin/valgrind "$NP_SC" 127.0.0.1 "$P" \
		cmd SET "$M" v
	sc_did "$M" "env VALGRIND_LAUNCHER=... static_client"
}
t_case "a static client exec'd with VALGRIND_LAUNCHER inherited: supervised, over TLS" case_exec_valgrind_env

case_exec_bare_preload() {
	# LD_PRELOAD naming the library by its bare name: the loader looks
	# for it in the new program's library path, and one it does not find
	# it ignores (a warning) and runs the program without it: in clear.
	np_setup exec-bare-preload || return
	t_run "${NP_SHIM[@]}" sh -c 'LD_PRELOAD=libredistls.so exec "$0" write 127.0.0.1 "$1" "$2"' \
		"$PROBE" "$P" "$M"
	sc_did "$M" "LD_PRELOAD=libredistls.so (bare) leak_probe"
}
t_case "a dynamic client exec'd with LD_PRELOAD=libredistls.so (a bare name the loader may not find): supervised, over TLS" case_exec_bare_preload

case_exec_setid_own() {
	# Set-ID bits of the caller's own user or group change nothing: no
	# secure exec, the program is one like any other (it was exec'd as a
	# privileged one, as it was, in clear).
	local bin mode
	np_setup exec-setid-own || return
	for mode in 4755 2755; do
		bin=$T_TMP/static-client-$mode
		cp "$NP_SC" "$bin" && chmod "$mode" "$bin" || { fail "cp, chmod $mode"; return; }
		t_run "${NP_SHIM[@]}" sh -c '"$0" 127.0.0.1 "$1" cmd SET "$2" v' "$bin" "$P" "$M:$mode"
		sc_did "$M:$mode" "sh -c static_client (mode $mode, our own)" || return
	done
	no_leak
}
t_case "a static client set-user-ID / set-group-ID to the caller's own user and group: supervised, over TLS" case_exec_setid_own

case_exec_loader() {
	# The dynamic loader run as a program maps the program itself:
	# `ld.so ./static_client` runs a static one (it was exec'd as a
	# program of ours, preloaded, and the client spoke in clear).
	local ld
	ld=$(readelf -l "$PROBE" 2>/dev/null | sed -n 's/.*interpreter: \(.*\)]$/\1/p')
	[ -n "$ld" ] || { fail "no PT_INTERP in leak_probe (readelf)"; return; }
	np_setup exec-loader || return
	t_run "${NP_SHIM[@]}" sh -c '"$0" "$1" 127.0.0.1 "$2" cmd SET "$3" v' "$ld" "$NP_SC" "$P" "$M:static"
	sc_did "$M:static" "sh -c 'ld.so static_client'" || return
	t_run "${NP_SHIM[@]}" sh -c '"$0" --argv0 x "$1" 127.0.0.1 "$2" cmd SET "$3" v' "$ld" "$NP_SC" \
		"$P" "$M:opt"
	sc_did "$M:opt" "sh -c 'ld.so --argv0 x static_client'" || return
	t_run "${NP_SHIM[@]}" sh -c '"$0" "$1" write 127.0.0.1 "$2" "$3"' "$ld" "$PROBE" "$P" "$M:dyn"
	sc_did "$M:dyn" "sh -c 'ld.so leak_probe' (dynamic: preloaded)" || return
	no_leak
}
t_case "the dynamic loader run as a program, on a static client and a dynamic one: over TLS" case_exec_loader

case_exec_preload_token() {
	# LD_PRELOAD naming the library through a dynamic string token
	# ($LIB, which the loader expands): the supervisor must still be
	# found beside the library (it was looked for under '$LIB' itself,
	# and a static program's exec failed, EACCES).
	local d=$T_TMP/token sub f
	for sub in lib lib64 "lib/$(gcc -print-multiarch 2>/dev/null)"; do
		mkdir -p "$d/$sub" || return
		for f in libredistls.so libredistls-engine.so redis-tls-ctl; do
			[ ! -e "$BUILD/$f" ] || ln -sf "$BUILD/$f" "$d/$sub/$f" || return
		done
	done
	np_setup exec-preload-token || return
	t_run env LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$d/\$LIB/libredistls.so" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
		REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
		REDIS_TLS_KEY_FILE="$PKI/client.key" \
		sh -c '"$0" 127.0.0.1 "$1" cmd SET "$2" v' "$NP_SC" "$P" "$M"
	sc_did "$M" "LD_PRELOAD=.../\$LIB/libredistls.so: sh -c static_client"
}
t_case "LD_PRELOAD with \$LIB: a static client a preloaded sh runs is supervised, over TLS" case_exec_preload_token

case_exec_nested_supervise() {
	# A preloaded program runs redis-tls-run for a static client (the
	# wrapper picks the supervisor): redis-tls-ctl, given a configuration,
	# is run as it is.  Supervised itself, its own supervisor could not
	# install its filter (EBUSY: one listener in a process's chain), and
	# the client was refused.
	np_setup exec-nested-supervise || return
	t_run "${NP_SHIM[@]}" sh -c '"$0" --endpoint "127.0.0.1:$1" --cacert "$2" --cert "$3" --key "$4" \
		-- "$5" 127.0.0.1 "$1" cmd SET "$6" v' "$T_RUN" "$P" "$PKI/ca.crt" "$PKI/client.crt" \
		"$PKI/client.key" "$NP_SC" "$M"
	sc_did "$M" "sh -c 'redis-tls-run -- static_client' under redis-tls-run"
}
t_case "a nested redis-tls-run of a static client (its supervisor under a preloaded sh): over TLS" case_exec_nested_supervise

case_exec_closed_stdio() {
	# A static client exec'd with stdin, or stdout, closed: the
	# supervisor's socketpair took that number and S put /dev/null over
	# it (refused: "the seccomp filter was not installed").
	local how
	np_setup exec-closed-stdio || return
	for how in '<&-' '>&-' '<&- >&-'; do
		t_run "${NP_SHIM[@]}" sh -c "\"\$0\" 127.0.0.1 \"\$1\" cmd SET \"\$2\" v $how; echo \"sh: \$?\" >&2" \
			"$NP_SC" "$P" "$M:$how"
		no_hang || return
		assert_contains "$T_ERR" "sh: 0" "static_client $how: its status; stderr: $(t_short "$T_ERR" 400)" || return
		assert_eq 1 "$(rcli_native EXISTS "$M:$how" 2>&1)" "static_client $how: EXISTS on the server" || return
	done
	no_leak
}
t_case "a static client exec'd with stdin or stdout closed: supervised, over TLS" case_exec_closed_stdio

case_exec_many_args() {
	# More arguments than the stack holds pointers for (the kernel takes
	# them: ~1/4 of the stack limit of short ones): supervised still,
	# not E2BIG.
	local bin=$T_TMP/argc
	printf '%s\n' '#include <stdio.h>' \
		'int main(int c, char **v) { printf("argc=%d\n", c); return 0; }' >"$bin.c"
	gcc -O2 -static -o "$bin" "$bin.c" || { fail "gcc -static argc.c"; return; }
	np_shim_for 1
	t_run "${NP_SHIM[@]}" "$T_PY" -c 'import os, sys; os.execv(sys.argv[1], [sys.argv[1]] + ["a"] * 100000)' "$bin"
	assert_eq "argc=100001" "$T_OUT" "a static program exec'd with 100000 arguments; stderr: $(t_short "$T_ERR" 300)"
}
t_case "a static program exec'd with 100000 arguments: supervised, not E2BIG" case_exec_many_args

case_exec_wordexp() {
	# wordexp's command substitution: glibc runs /bin/sh itself (its
	# internal execve, no hook).  With LD_PRELOAD taken out of the
	# environment that shell ran unpreloaded, its client in clear; now
	# refused (WRDE_CMDSUB = 4).  With the environment kept, it works.
	np_setup exec-wordexp || return
	t_run "${NP_SHIM[@]}" "$NP_EXEC" wordexp cleared "\$($NP_SC 127.0.0.1 $P cmd SET $M:cleared v)"
	no_hang || return
	assert_eq "wordexp 4" "$(head -n 1 <<<"$T_OUT")" "wordexp (cleared environment)" || return
	assert_one_shim_error "wordexp: a command substitution: .* refused" || return
	t_run "${NP_SHIM[@]}" "$NP_EXEC" wordexp keep "\$($NP_SC 127.0.0.1 $P cmd SET $M:keep v)"
	assert_contains "$T_OUT" "+OK" "wordexp (environment kept): its words" || return
	assert_eq 1 "$(rcli_native EXISTS "$M:keep" 2>&1)" "EXISTS $M:keep" || return
	no_leak
}
t_case "wordexp's command substitution after the program took LD_PRELOAD out of its environment: refused, never in clear" case_exec_wordexp

case_exec_fcaps_root() {
	# File capabilities give root nothing it has not (its bounding set):
	# root's exec of a static client with cap_net_bind_service (a Go
	# server's, in an image) is no secure exec; it was exec'd as one, as
	# it was, in clear.
	local bin=$T_TMP/static-client-caps
	if [ "$(id -u)" != 0 ] || ! command -v setcap >/dev/null; then
		echo "    (not root, or no setcap: not run)"
		return 0
	fi
	cp "$NP_SC" "$bin" && setcap cap_net_bind_service+ep "$bin" || { fail "setcap"; return; }
	np_setup exec-fcaps-root || return
	t_run "${NP_SHIM[@]}" sh -c '"$0" 127.0.0.1 "$1" cmd SET "$2" v' "$bin" "$P" "$M"
	sc_did "$M" "root: sh -c static_client (cap_net_bind_service+ep)"
}
t_case "root execs a static client with file capabilities: supervised, over TLS" case_exec_fcaps_root

# ------------------------------- the supervisor's question, not answered by one
case_probe_tracer() {
	# A preloaded program NOT under redis-tls-ctl's supervisor, under a
	# tracer that makes every getsockopt return 1 (strace's fault
	# injection, retval=1: a test harness, not aimed at the shim).  The
	# shim's "does the supervisor wrap this connect?" (sup_probe.h) must
	# not take that 1 for a supervisor's yes and leave the connect to the
	# kernel in clear.
	command -v strace >/dev/null || { echo "    (no strace; skipped)" >&2; return 0; }
	strace -f -o /dev/null true 2>/dev/null || { echo "    (ptrace not permitted; skipped)" >&2; return 0; }
	np_setup probe-tracer || return
	t_run "${NP_SHIM[@]}" strace -f -o /dev/null -e inject=getsockopt:retval=1 \
		"$PROBE" write 127.0.0.1 "$P" "$M"
	no_leak
	error_or_tls
}
t_case "a tracer makes every getsockopt return 1 (strace -e inject): the supervisor's question is not answered by it, nothing in clear" case_probe_tracer

# A program that uses libssl itself in the same thread (the shim's engine
# shares its libcrypto, so its error queue) and leaves an entry of its own
# before every read and write (tests/clients/err_queue.c): its replies, a
# wait (EAGAIN), the end after QUIT, or after SHUTDOWN (no close_notify:
# a FIN between records), are what they would be with an empty queue; the
# shim logs none of the program's entries as its own error, leaves none
# in the queue for the program's own TLS connection, and nothing of the
# program's goes out in clear.
case_err_queue() {
	local how=$1
	if [ "$how" = shutdown ]; then
		start_tls_redis || return # SHUTDOWN ends the server
	fi
	np_setup "err-queue-$how" || return
	t_run "${NP_SHIM[@]}" "$BUILD/clients/err_queue" 127.0.0.1 "$P" "$M" "$how"
	assert_rc 0 "err_queue $how: $(t_short "$T_ERR")" || return
	assert_eq "err_queue: ok" "$T_OUT" "err_queue's verdict" || return
	assert_eq "" "$(shim_log_lines "$T_ERR" | grep -iE 'error|warning')" \
		"the shim's error/warning lines" || return
	no_leak
	if [ "$how" = quit ]; then
		stored
	fi
}
t_case "a program leaves its own libssl errors in the queue before every call: replies, EAGAIN, the end after QUIT unchanged, nothing in clear" case_err_queue quit
t_case "the same, and the server exits without close_notify (SHUTDOWN): the end of the stream, not an error" case_err_queue shutdown

t_done
