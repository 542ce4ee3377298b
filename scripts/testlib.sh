# shellcheck shell=bash disable=SC2034
# testlib.sh - sourced by tests/integration/*.sh (bash).
#
# Gives a test file: a scratch folder ($T_TMP), the test PKI ($PKI), servers
# on 127.0.0.1 at free ports (a TLS-only redis-server requiring client
# certificates, a plaintext one, record_server.py), the shim wrapper preset
# for the TLS server ($SHIM array / shim_run), native `redis-cli --tls`
# (rcli_native), commands run with a timeout and their output captured
# (t_run), assertions, and the case counter whose last line is
# "N passed, N failed".  Every process started here is stopped on exit,
# whatever happens.  scripts/bench.sh uses the same process helpers
# (servers, stunnel, t_run_bg, the cleanup) without the cases.
#
#   source "$(dirname "$0")/../../scripts/testlib.sh"
#   t_case "PING" case_ping      # runs the function case_ping as one case
#   t_done                       # prints the summary, exits 0 or 1

set -u

T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$T_ROOT/build}
T_RUN=$T_ROOT/scripts/redis-tls-run
T_LIB=${REDIS_TLS_LIB:-$BUILD/libredistls.so}
T_PY=/usr/bin/python3 # Debian's, which has python3-redis
PKI=${REDIS_TLS_TEST_PKI:-$BUILD/test-pki}

T_PASS=0
T_FAIL=0
T_PIDS=()
T_CUR="" # the command t_run_bg waits for
T_CASE=""
T_CASE_OK=1
T_TIMEOUT=${T_TIMEOUT:-60}

# Settings that would change what the shim does must come from the tests.
while IFS='=' read -r _name _; do
	unset "$_name"
done < <(env | grep -E '^REDIS_TLS_[A-Z_]*=' | grep -vE '^REDIS_TLS_(LIB|ENGINE|TEST_[A-Z_]*)=')
unset _name
# The wrapper and the tests' own LD_PRELOAD use the same library.
export REDIS_TLS_LIB=$T_LIB

# T_TMP_NAME: the scratch folder's name before its random suffix.
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/${T_TMP_NAME:-redis-tls-test}.XXXXXX")

# ---------------------------------------------------------------- cleanup

# t_track PID: stop PID when the test exits.
t_track() { T_PIDS+=("$1"); }

stop_pid() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# await_exit SECONDS PID: give PID up to SECONDS to end by itself, then
# stop it (stop_pid).
await_exit() {
	wait_until "$1" _pid_gone "$2"
	stop_pid "$2"
}
_pid_gone() { ! kill -0 "$1" 2>/dev/null; }

stop_all() {
	local pid
	[ -n "$T_CUR" ] && stop_pid "$T_CUR"
	for pid in "${T_PIDS[@]}"; do
		stop_pid "$pid"
	done
	T_PIDS=()
	if [ "${REDIS_TLS_TEST_KEEP:-}" = 1 ]; then
		echo "# kept $T_TMP" >&2
	else
		rm -rf "$T_TMP"
	fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- assertions

# fail MSG: the current case fails, with MSG.  Returns 1, so a case can
# `assert_... || return` to stop at the first broken assumption.
fail() {
	echo "    FAIL${T_CASE:+ [$T_CASE]}: $*" >&2
	T_CASE_OK=0
	return 1
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
	[ "$1" == "$2" ] && return 0
	fail "${3:-value}: expected '$(t_short "$1")', got '$(t_short "$2")'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	[[ "$1" == *"$2"* ]] && return 0
	fail "${3:-output} does not contain '$2': '$(t_short "$1")'"
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
	[[ "$1" != *"$2"* ]] && return 0
	fail "${3:-output} contains '$2': '$(t_short "$1")'"
}

# assert_match HAYSTACK ERE [WHAT]  (case-insensitive extended regex)
assert_match() {
	grep -qiE -- "$2" <<<"$1" && return 0
	fail "${3:-output} does not match /$2/: '$(t_short "$1")'"
}

# assert_rc EXPECTED [WHAT]: the last t_run's exit status.
assert_rc() {
	[ "$T_RC" -eq "$1" ] && return 0
	fail "${2:-exit status}: expected $1, got $T_RC; stderr: $(t_short "$T_ERR")"
}

# assert_failed [WHAT]: the last t_run exited non-zero (and did not time out).
assert_failed() {
	[ "$T_RC" -eq 124 ] && { fail "${1:-command} timed out instead of failing"; return 1; }
	[ "$T_RC" -ne 0 ] && return 0
	fail "${1:-command} succeeded but should have failed; stdout: $(t_short "$T_OUT")"
}

# assert_file_lacks FILE NEEDLE [WHAT]: no byte sequence NEEDLE in FILE.
assert_file_lacks() {
	[ -e "$1" ] || { fail "${3:-$1}: missing"; return 1; }
	if grep -qaF -- "$2" "$1"; then
		fail "${3:-$1} holds '$2': plaintext reached it"
		return 1
	fi
	return 0
}

# assert_file_has FILE NEEDLE [WHAT]
assert_file_has() {
	grep -qaF -- "$2" "$1" 2>/dev/null && return 0
	fail "${3:-$1} does not hold '$2'"
}

# shim_log_lines [TEXT]: the shim's lines ("redis-tls-shim...") in TEXT
# (default: the last t_run's stderr).
shim_log_lines() { grep -a '^redis-tls-shim' <<<"${1-$T_ERR}"; }

# _assert_single_shim_line LINES WHAT ERE: LINES is one line, matching ERE.
_assert_single_shim_line() {
	local n
	n=$(grep -c . <<<"$1")
	if [ "$n" -ne 1 ]; then
		fail "expected one $2, got $n; stderr: $(t_short "$T_ERR" 800)"
		return 1
	fi
	assert_match "$1" "$3" "the shim's log line"
}

# assert_one_shim_error ERE: the last t_run's stderr holds exactly one line
# from the shim, and it matches ERE (case-insensitive).
assert_one_shim_error() {
	_assert_single_shim_line "$(shim_log_lines "$T_ERR")" \
		"redis-tls-shim log line" "$1"
}

# assert_same_shim_error ERE: as assert_one_shim_error, for a client that
# retries a failed connection itself: one or more lines, all the same (but
# for the pid), matching ERE.
assert_same_shim_error() {
	_assert_single_shim_line "$(shim_log_lines "$T_ERR" |
		sed 's/^redis-tls-shim\[[0-9]*\]/redis-tls-shim/' | sort -u)" \
		"distinct redis-tls-shim log line" "$1"
}

t_short() {
	local s=$1 max=${2:-300}
	s=${s//$'\n'/\\n}
	[ "${#s}" -gt "$max" ] && s="${s:0:max}..."
	printf '%s' "$s"
}

# ------------------------------------------------------------ running

# t_run CMD...: run CMD with a timeout ($T_TIMEOUT s), stdin from the
# caller; sets T_RC, T_OUT, T_ERR (and T_OUT_FILE, T_ERR_FILE).
t_run() {
	T_OUT_FILE=$T_TMP/run.out
	T_ERR_FILE=$T_TMP/run.err
	timeout -k 5 "$T_TIMEOUT" "$@" >"$T_OUT_FILE" 2>"$T_ERR_FILE"
	T_RC=$?
	T_OUT=$(tr -d '\0' <"$T_OUT_FILE")
	T_ERR=$(tr -d '\0' <"$T_ERR_FILE")
	if [ "$T_RC" -eq 124 ] || [ "$T_RC" -eq 137 ]; then
		echo "    (timed out after ${T_TIMEOUT}s: $*)" >&2
	fi
	return 0
}

# t_run_bg TIMEOUT OUT ERR CMD...: CMD with a timeout, stdin from
# /dev/null, stdout to OUT, stderr to ERR; waited for in a way a signal to
# the script interrupts (and stop_all then stops CMD).  Sets T_RC.
t_run_bg() {
	local t=$1 o=$2 e=$3
	shift 3
	timeout -k 5 "$t" "$@" </dev/null >"$o" 2>"$e" &
	T_CUR=$!
	wait "$T_CUR"
	T_RC=$?
	T_CUR=""
}

# t_case NAME FUNC [ARGS...]: run one test case; it passes when FUNC
# returns 0 and no assertion failed.
t_case() {
	local name=$1 rc t0=$SECONDS
	shift
	T_CASE=$name
	T_CASE_OK=1
	"$@"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$T_CASE_OK" = 1 ]; then
		fail "returned $rc"
	fi
	if [ "$T_CASE_OK" = 1 ]; then
		T_PASS=$((T_PASS + 1))
		echo "ok   $name ($((SECONDS - t0))s)"
	else
		T_FAIL=$((T_FAIL + 1))
		echo "FAIL $name ($((SECONDS - t0))s)"
	fi
	T_CASE=""
	return 0
}

# t_done: the summary line, and the exit status.
t_done() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ] && exit 0
	exit 1
}

# t_require_shim: fail (not skip) when the library was not built.
t_require_shim() {
	[ -r "$T_LIB" ] && return 0
	echo "$T_LIB not built: run make" >&2
	T_FAIL=$((T_FAIL + 1))
	echo "FAIL the shim library exists"
	t_done
}

# -------------------------------------------------------------- servers

# free_port: a TCP port free on 127.0.0.1 right now.
free_port() { "$T_PY" "$T_ROOT/tests/servers/testserver.py" free-port; }

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The TLS flags of redis-cli and redis-benchmark for the TLS server: the
# test CA, the client certificate.
T_TLS_FLAGS=(--tls --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")

# rcli_native [ARGS...]: redis-cli's own TLS to the TLS server ($REDIS_PORT).
rcli_native() {
	redis-cli "${T_TLS_FLAGS[@]}" -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# shim_set_default PORT: $SHIM = the wrapper with flags for a TLS server on
# 127.0.0.1:PORT (CA, client certificate); $RCLI = redis-cli through it.
shim_set_default() {
	SHIM=("$T_RUN" --endpoint "127.0.0.1:$1" --cacert "$PKI/ca.crt"
		--cert "$PKI/client.crt" --key "$PKI/client.key" --)
	RCLI=("${SHIM[@]}" redis-cli -h 127.0.0.1 -p "$1")
}

# shim_run CMD...: CMD through the wrapper, set up for the TLS server.
shim_run() { "${SHIM[@]}" "$@"; }

# wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
	return 0
}

# _start_redis tls|plain|dual [REDIS-SERVER ARGS...]: sets _PORT (the TLS
# port, but for plain), _PLAIN (dual: the plaintext port), _PID.  Ready
# means the server logged so: a server with a certificate the native
# client would reject must be usable as a test peer too.
_start_redis() {
	local kind=$1 port pid log plain=0
	shift
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		if [ "$kind" = dual ]; then
			plain=$(free_port)
			[ "$plain" != "$port" ] || continue
		fi
		log=$T_TMP/redis-$port.log
		local -a base=(--bind 127.0.0.1 --save '' --appendonly no
			--daemonize no --dir "$T_TMP" --logfile "$log")
		if [ "$kind" != plain ]; then
			base+=(--port "$plain" --tls-port "$port"
				--tls-cert-file "$PKI/server.crt"
				--tls-key-file "$PKI/server.key"
				--tls-ca-cert-file "$PKI/ca.crt"
				--tls-auth-clients yes)
		else
			base+=(--port "$port")
		fi
		redis-server "${base[@]}" "$@" </dev/null >/dev/null 2>&1 &
		pid=$!
		t_track "$pid"
		if wait_until 10 _redis_up "$log" "$pid"; then
			_PORT=$port _PLAIN=$plain _PID=$pid
			return 0
		fi
		stop_pid "$pid"
		echo "# redis-server ($kind) on $port did not start:" >&2
		tail -5 "$log" >&2 2>/dev/null
	done
	fail "could not start a $kind redis-server"
}

_redis_up() {
	kill -0 "$2" 2>/dev/null && grep -q "Ready to accept connections" "$1"
}

# start_tls_redis [REDIS-SERVER ARGS...]: a TLS-only redis-server requiring
# client certificates from the test CA; waits for it; sets REDIS_PORT,
# REDIS_PID and the default $SHIM / $RCLI for it.  Later arguments override
# the defaults (e.g. --tls-cert-file "$PKI/server-expired.crt").
start_tls_redis() {
	_start_redis tls "$@" || return 1
	REDIS_PORT=$_PORT REDIS_PID=$_PID
	shim_set_default "$REDIS_PORT"
}

# start_plain_redis [ARGS...]: a plaintext redis-server; sets PLAIN_PORT,
# PLAIN_PID.
start_plain_redis() {
	_start_redis plain "$@" || return 1
	PLAIN_PORT=$_PORT PLAIN_PID=$_PID
}

# start_test_server SCRIPT PREFIX [ARGS...]: tests/servers/SCRIPT (a
# testserver.py server) recording into PREFIX.{raw,plain,log}, its output
# in PREFIX.stderr; waits for the port it picked.  Sets SRV_PORT, SRV_PID.
start_test_server() {
	local script=$1 prefix=$2 pf=$2.port
	shift 2
	rm -f "$pf" "$prefix".raw "$prefix".plain "$prefix".log
	"$T_PY" "$T_ROOT/tests/servers/$script" --record "$prefix" \
		--port-file "$pf" "$@" </dev/null >>"$prefix.stderr" 2>&1 &
	SRV_PID=$!
	t_track "$SRV_PID"
	if ! wait_until 10 test -s "$pf"; then
		fail "$script $* did not start: $(cat "$prefix.stderr" 2>/dev/null)"
		return 1
	fi
	SRV_PORT=$(cat "$pf")
}

# start_dual_redis [REDIS-SERVER ARGS...]: as start_tls_redis (REDIS_PORT,
# REDIS_PID, $SHIM, $RCLI), with a plaintext port too (PLAIN_PORT).
start_dual_redis() {
	_start_redis dual "$@" || return 1
	REDIS_PORT=$_PORT REDIS_PID=$_PID PLAIN_PORT=$_PLAIN
	shim_set_default "$REDIS_PORT"
}

# start_stunnel_client TLS_PORT: stunnel in client mode on a free port of
# 127.0.0.1 in front of the TLS server on 127.0.0.1:TLS_PORT, verifying it
# like the shim does (the chain against the test CA, the IP address it
# dials against the certificate's IP SANs), with the test client
# certificate.  Sets STUNNEL_PORT, STUNNEL_PID, STUNNEL_LOG.
start_stunnel_client() {
	local tls=$1 bin port conf
	bin=$(command -v stunnel4 || command -v stunnel) ||
		{ fail "stunnel4 not found"; return 1; }
	for _ in 1 2 3; do
		port=$(free_port)
		conf=$T_TMP/stunnel-$port.conf
		STUNNEL_LOG=$T_TMP/stunnel-$port.log
		cat >"$conf" <<EOF
foreground = yes
pid =
debug = 4
output = $STUNNEL_LOG
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1

[redis]
client = yes
accept = 127.0.0.1:$port
connect = 127.0.0.1:$tls
CAfile = $PKI/ca.crt
cert = $PKI/client.crt
key = $PKI/client.key
verifyChain = yes
checkIP = 127.0.0.1
EOF
		"$bin" "$conf" </dev/null >"$T_TMP/stunnel-$port.out" 2>&1 &
		STUNNEL_PID=$!
		t_track "$STUNNEL_PID"
		if wait_until 10 port_open "$port" && kill -0 "$STUNNEL_PID" 2>/dev/null; then
			STUNNEL_PORT=$port
			return 0
		fi
		stop_pid "$STUNNEL_PID"
		echo "# stunnel on $port did not start:" >&2
		tail -3 "$T_TMP/stunnel-$port.out" "$STUNNEL_LOG" >&2 2>/dev/null
	done
	fail "could not start stunnel"
}

# start_record_server MODE NAME [ARGS...]: tests/servers/record_server.py
# in MODE (plain tls garbage close stall proxy); records into
# $T_TMP/rec-NAME.{raw,plain,log}.  Sets REC_PORT, REC_PID, REC (the
# prefix).
start_record_server() {
	local mode=$1
	REC=$T_TMP/rec-$2
	shift 2
	start_test_server record_server.py "$REC" --mode "$mode" "$@" || return 1
	REC_PORT=$SRV_PORT REC_PID=$SRV_PID
}

# start_hostile_server MODE PREFIX [ARGS...]: tests/servers/hostile_server.py
# in MODE with the test server certificate (ARGS: e.g. --client-ca
# "$PKI/ca.crt" to require a client certificate); records into
# PREFIX.{raw,plain,log}.  Sets H_PORT, H_PID, H (the prefix).
start_hostile_server() {
	local mode=$1
	H=$2
	shift 2
	start_test_server hostile_server.py "$H" --mode "$mode" \
		--cert "$PKI/server.crt" --key "$PKI/server.key" "$@" || return 1
	H_PORT=$SRV_PORT H_PID=$SRV_PID
}

# start_delay_proxy MS TARGET_PORT TRACE: tests/servers/delay_proxy.c
# ($DELAY_PROXY, else $BUILD/servers/delay_proxy, built if it is not yet)
# on a free port of 127.0.0.1, in front of 127.0.0.1:TARGET_PORT, delaying
# each direction by MS ms and tracing its flights into TRACE (appended).
# Sets DP_PORT, DP_PID.
start_delay_proxy() {
	local bin=${DELAY_PROXY:-$BUILD/servers/delay_proxy} pf=$3.port
	[ -x "$bin" ] || { mkdir -p "$(dirname "$bin")" &&
		cc -O2 -std=gnu11 -o "$bin" "$T_ROOT/tests/servers/delay_proxy.c"; } ||
		{ fail "cannot build $bin"; return 1; }
	rm -f "$pf"
	"$bin" -d "$1" -p "$pf" -t "$3" "$2" </dev/null >>"$3.stderr" 2>&1 &
	DP_PID=$!
	t_track "$DP_PID"
	if ! wait_until 10 test -s "$pf"; then
		fail "delay_proxy did not start: $(cat "$3.stderr" 2>/dev/null)"
		return 1
	fi
	DP_PORT=$(cat "$pf")
}

# rec_connections: how many connections the last record server accepted.
rec_connections() { grep -c ' accept$' "$REC.log" 2>/dev/null || true; }

# marker: a unique string to put in commands, then look for on the wire.
marker() { echo "SECRETMARKER$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"; }

# static_client: the path of tests/clients/static_client.c linked with
# `gcc -static` (no LD_PRELOAD reaches it), built if it is not yet; 1 if it
# cannot be.
static_client() {
	local sc=$BUILD/clients/static_client
	[ -x "$sc" ] || make -s -C "$T_ROOT" "$sc" >/dev/null 2>&1 ||
		gcc -O2 -static -pthread -o "$sc" "$T_ROOT/tests/clients/static_client.c" ||
		{ fail "cannot build $sc"; return 1; }
	echo "$sc"
}

# leaf_cert PATH CN SAN CA: PATH.{crt,key}, an EC P-256 certificate for CN
# (serverAuth and clientAuth) with subjectAltName SAN ("" for none at all),
# signed by CA (a path without .crt/.key), valid 30 days.
leaf_cert() {
	local n=$1 cn=$2 san=$3 ca=$4
	{
		printf 'basicConstraints=critical,CA:FALSE\n'
		printf 'keyUsage=critical,digitalSignature,keyEncipherment\n'
		printf 'extendedKeyUsage=serverAuth,clientAuth\n'
		[ -z "$san" ] || printf 'subjectAltName=%s\n' "$san"
	} >"$n.ext"
	if ! { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$n.key" &&
		openssl req -new -key "$n.key" -subj "/O=redis-tls-shim test/CN=$cn" -out "$n.csr" &&
		openssl x509 -req -in "$n.csr" -CA "$ca.crt" -CAkey "$ca.key" \
			-CAcreateserial -CAserial "$n.srl" -days 30 -sha256 \
			-extfile "$n.ext" -out "$n.crt"; } 2>"$n.err"; then
		fail "leaf_cert $(basename "$n"): $(cat "$n.err")"
		return 1
	fi
	chmod 600 "$n.key"
}

# term_status PID: SIGTERM to PID (tracked, started with &), then its exit
# status must be 143 (killed by SIGTERM, as a shell reports it).
term_status() {
	local rc
	kill -TERM "$1"
	wait "$1"
	rc=$?
	assert_eq 143 "$rc" "the exit status (killed by SIGTERM)"
}

"$T_ROOT/scripts/mkpki.sh" "$PKI" || {
	echo "mkpki.sh failed" >&2
	exit 1
}
