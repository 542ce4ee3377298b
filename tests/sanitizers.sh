#!/bin/bash
# sanitizers.sh [--no-build] [asan] [ubsan] [tsan] - the shim under gcc's
# sanitizers.
#
# Builds the shim (the engine linked into the switchboard, as the Makefile
# does for SANITIZER builds) and the torture programs into build-asan,
# build-ubsan and build-tsan (never build/), then:
#   asan   tests/integration/10-redis-cli.sh and 20-python.sh (redis-cli:
#          PING, 16 MiB SET/GET, --pipe, MULTI, pub/sub; redis-py:
#          pipelines, large values, threads, pub/sub, timeouts) and
#          torture.sh (every torture program) with SANITIZER=address; then
#          a leak pass with LeakSanitizer: torture programs and a redis-py
#          script that close what they open, where any leak with a frame in
#          the shim fails, and a control (a program that exits with a
#          connection open must show up);
#   ubsan  the same integration files and torture programs with
#          SANITIZER="undefined -fno-sanitize-recover=all": the first
#          undefined behaviour aborts the program;
#   tsan   t_threads (full duplex on one connection, a pub/sub reader
#          thread, 8 connections) and redis-py with 8 threads, with
#          SANITIZER=thread.
# Uninstrumented programs (redis-cli, python3) get the gcc runtime
# (libasan.so.8, libubsan.so.1, libtsan.so.2) preloaded: gcc links the
# runtime dynamically, so one copy serves the program, the shim and the
# instrumented torture programs alike.  (clang links it statically into
# executables: a clang build would need -shared-libsan.)  Reports go to
# files (log_path), one per process; a report from any process fails the
# case that produced it (TSan: see tsan_verdict for OpenSSL's own).
# ~3 minutes on 2 cores.  Last line: "N passed, N failed".
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_FIRST=1
SANS=()
while [ $# -gt 0 ]; do
	case $1 in
	--no-build) BUILD_FIRST=0 ;;
	asan | ubsan | tsan) SANS+=("$1") ;;
	-h | --help)
		sed -n '2,30s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "sanitizers.sh: unknown argument $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
[ ${#SANS[@]} -gt 0 ] || SANS=(asan ubsan tsan)

CC_SAN=${SANITIZER_CC:-gcc}
RT_DIR=$(dirname "$(readlink -f "$($CC_SAN -print-file-name=libasan.so)")")
declare -A SAN_FLAG=([asan]=address [ubsan]="undefined -fno-sanitize-recover=all" [tsan]=thread)
declare -A SAN_RT=([asan]=$RT_DIR/libasan.so.8 [ubsan]=$RT_DIR/libubsan.so.1 [tsan]=$RT_DIR/libtsan.so.2)

# The test PKI is shared with the normal build.
export REDIS_TLS_TEST_PKI=${REDIS_TLS_TEST_PKI:-$ROOT/build/test-pki}
# shellcheck source=../scripts/testlib.sh
source "$ROOT/scripts/testlib.sh"

REPORTS=$T_TMP/reports
mkdir -p "$REPORTS"

# san_env SAN DIR: the runtime options for SAN, reports into DIR.
san_env() {
	local san=$1 dir=$2
	mkdir -p "$dir"
	export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=86:log_path=$dir/asan:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87:log_path=$dir/ubsan"
	export TSAN_OPTIONS="halt_on_error=0:exitcode=88:second_deadlock_stack=1:log_path=$dir/tsan"
}

# reports DIR: the sanitizer reports in DIR (file names), and fail the
# case with the first lines of the first one.
no_reports() {
	local dir=$1 files
	files=$(grep -laE 'ERROR: (Address|Leak)Sanitizer|runtime error:|ThreadSanitizer' "$dir"/* 2>/dev/null)
	[ -z "$files" ] && return 0
	fail "$(echo "$files" | wc -l) sanitizer report(s), the first: $(t_short "$(head -40 "$(echo "$files" | head -1)")" 3000)"
	cp $files "$REPORTS/" 2>/dev/null
	return 1
}

build() {
	local san=$1
	# CC is part of the build dir's identity: a dir built by another
	# compiler is rebuilt from scratch (only these dirs, never build/).
	local dir=$ROOT/build-$san stamp=$ROOT/build-$san/.cc
	if [ -d "$dir" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$CC_SAN ${SAN_FLAG[$san]}" ]; then
		rm -rf "$dir"
	fi
	T_TIMEOUT=900 t_run make -s -C "$ROOT" -j2 BUILD="build-$san" SANITIZER="${SAN_FLAG[$san]}" \
		CC="$CC_SAN" all torture
	assert_rc 0 "make BUILD=build-$san SANITIZER=${SAN_FLAG[$san]}: $(t_short "$T_OUT $T_ERR" 1500)" || return
	echo "$CC_SAN ${SAN_FLAG[$san]}" >"$stamp"
}

# run_file SAN FILE [ARGS...]: an integration file against build-SAN, with
# the runtime preloaded into everything it starts; passes when the file
# does and no process wrote a report.
run_file() {
	local san=$1 file=$2 dir summary
	shift 2
	dir=$T_TMP/rep-$san-$(basename "$file" .sh)
	(
		san_env "$san" "$dir"
		export LD_PRELOAD=${SAN_RT[$san]}
		export BUILD=$ROOT/build-$san REDIS_TLS_LIB=$ROOT/build-$san/libredistls.so
		# the torture programs' own watchdog: instrumented code on a
		# shared 2-CPU machine runs several times slower
		export TORTURE_TIMEOUT=${TORTURE_TIMEOUT:-120}
		T_TIMEOUT=180 timeout -k 10 600 bash "$ROOT/tests/integration/$file" "$@"
	) >"$dir.out" 2>&1
	local rc=$?
	summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$dir.out" | tail -1)
	echo "    $san $file: ${summary:-no summary}"
	if [ "$rc" -ne 0 ]; then
		fail "$file under $san: exit $rc: $(t_short "$(grep -aE '^FAIL|FAIL \[' "$dir.out" | head -5)" 1500)"
	fi
	no_reports "$dir"
}

# ------------------------------------------------------------ leaks

# LeakSanitizer cannot see pointers kept in mmap'd memory, and the shim's
# fd table is mmap'd: a socket still open when a program exits shows up as
# a leak (sock_new).  So the leak pass runs programs that close their
# connections, and counts a leak only if one of its frames is in the shim.
# The control case proves the pass can see a leak at all: a program that
# exits with a connection open must be reported.

LEAK_OPTS="detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=40:exitcode=86"

# leak_run NAME CMD...: CMD through the wrapper with the ASan shim, leak
# detection on in CMD only (not in the wrapper's own shell tools).
leak_run() {
	local name=$1 dir=$T_TMP/leak-$1
	shift
	mkdir -p "$dir"
	LEAK_DIR=$dir
	(
		san_env asan "$dir"
		export LD_PRELOAD=${SAN_RT[asan]} REDIS_TLS_LIB=$ROOT/build-asan/libredistls.so
		t_run "${SHIM[@]}" env ASAN_OPTIONS="$LEAK_OPTS:log_path=$dir/asan" "$@"
		echo "$T_RC" >"$dir/rc"
		printf '%s' "$T_ERR" >"$dir/stderr"
		printf '%s' "$T_OUT" >"$dir/stdout"
	)
	LEAK_RC=$(cat "$dir/rc")
}

# shim_leaks DIR: the leak reports' blocks that have a frame in the shim.
shim_leaks() {
	awk '/^(Direct|Indirect) leak/ { if (blk ~ /shim\/|libredistls/) print blk; blk = $0 "\n"; next }
	     /^$/ { if (blk ~ /shim\/|libredistls/) print blk; blk = ""; next }
	     { blk = blk $0 "\n" }
	     END { if (blk ~ /shim\/|libredistls/) print blk }' "$1"/asan.* 2>/dev/null
}

PYLEAK=$T_TMP/leak_client.py
cat >"$PYLEAK" <<'EOF'
# leak_client.py PORT close|keep: connections that come and go (a new one
# per round trip, pipelines, a 1 MiB value, a timeout, pub/sub), then with
# "keep" one left open at exit.
import sys, redis
port, mode = int(sys.argv[1]), sys.argv[2]
for i in range(50):
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    p = r.pipeline(transaction=False)
    for j in range(20):
        p.set("leak:%d" % j, "x" * (j * 100))
    p.execute()
    if i % 10 == 0:
        r.set("leak:big", b"y" * (1 << 20))
        assert r.get("leak:big") == b"y" * (1 << 20)
    r.close()
    r.connection_pool.disconnect()
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.2)
try:
    r.blpop("leak:never", 1)
except redis.exceptions.TimeoutError:
    pass
r.connection_pool.disconnect()
ps = redis.Redis(host="127.0.0.1", port=port).pubsub()
ps.subscribe("leak:chan")
ps.close()
if mode == "keep":
    keep = redis.Redis(host="127.0.0.1", port=port)
    keep.ping()
    # take the fd from its socket object: nothing closes it at exit
    kept_fd = keep.connection_pool.get_connection("PING")._sock.detach()
    sys.exit(0)
print("closed all")
EOF

# The programs of the leak pass: those that close what they open (t_fork's
# children exit with inherited connections open on purpose), and not
# t_bigwrite (64 MiB through the slow unwinder takes minutes).
LEAK_PROGS=${SANITIZER_LEAK_PROGS:-t_blocking t_dup2 t_epoll_et t_iov t_msg t_nbconnect t_poll t_sendrecv t_threads}

# leak_verdict WHAT: the last leak_run exited 0 (or 86: a leak was
# reported, which is only ours if it has a frame in the shim), printed
# OK-ERE, wrote no memory error and no leak of the shim's.
leak_verdict() {
	local what=$1 ok=$2 leaks
	if [ "$LEAK_RC" -ne 0 ] && [ "$LEAK_RC" -ne 86 ]; then
		fail "$what: exit $LEAK_RC: $(t_short "$(tail -5 "$LEAK_DIR/stderr")" 800)"
	fi
	assert_match "$(cat "$LEAK_DIR/stderr" "$LEAK_DIR/stdout" 2>/dev/null)" "$ok" "$what's output"
	leaks=$(shim_leaks "$LEAK_DIR")
	[ -z "$leaks" ] || fail "$what: leaks in the shim: $(t_short "$leaks" 2500)"
	no_memory_errors "$LEAK_DIR"
}

case_leaks() {
	local name n=0
	start_tls_redis || return
	for name in $LEAK_PROGS; do
		leak_run "$name" "$ROOT/build-asan/torture/$name" 127.0.0.1 "$REDIS_PORT"
		leak_verdict "$name" ": ok \\("
		n=$((n + 1))
	done
	leak_run py-close "$T_PY" "$PYLEAK" "$REDIS_PORT" close
	leak_verdict "redis-py (closes all)" "closed all"
	echo "    leak pass: $n torture programs and redis-py (53 connections opened and closed): no leak with a frame in the shim"
}

# no_memory_errors DIR: no AddressSanitizer (non-leak) report.
no_memory_errors() {
	local f
	f=$(grep -l 'ERROR: AddressSanitizer' "$1"/asan.* 2>/dev/null | head -1)
	[ -z "$f" ] || fail "AddressSanitizer: $(t_short "$(head -30 "$f")" 2500)"
}

case_leak_control() {
	start_tls_redis || return
	leak_run py-keep "$T_PY" "$PYLEAK" "$REDIS_PORT" keep
	assert_contains "$(shim_leaks "$LEAK_DIR")" "sock_new" \
		"LeakSanitizer's report for a program that exits with a connection open"
}

# ------------------------------------------------------------ tsan

# Preloading libtsan into the wrapper's /bin/sh crashes it, so the TSan
# runs check the configuration with build-tsan/redis-tls-ctl and set the
# environment the wrapper would set themselves.
tsan_run() {
	local dir=$1
	shift
	(
		san_env tsan "$dir"
		export REDIS_TLS_ENDPOINTS=127.0.0.1:$REDIS_PORT REDIS_TLS_CA_FILE=$PKI/ca.crt \
			REDIS_TLS_CERT_FILE=$PKI/client.crt REDIS_TLS_KEY_FILE=$PKI/client.key
		LD_PRELOAD=${SAN_RT[tsan]} "$ROOT/build-tsan/redis-tls-ctl" check-config || exit 2
		# The shim first: with libtsan first, its poll/recv interceptors
		# would run the shim inside a "blocking call", where TSan ignores
		# the shim's mutex operations (false races).
		export LD_PRELOAD="$ROOT/build-tsan/libredistls.so ${SAN_RT[tsan]}"
		t_run "$@"
		echo "$T_RC" >"$dir.rc"
		printf '%s\n%s' "$T_OUT" "$T_ERR" >"$dir.out"
	)
	TSAN_RC=$(cat "$dir.rc" 2>/dev/null || echo 2)
}

# tsan_verdict DIR WHAT OK-TEXT: the program exited 0 (or 88: TSan
# reported, which counts only if the report is the shim's), printed
# OK-TEXT, and no report is the shim's.  OpenSSL is not instrumented: TSan
# cannot see the atomics it synchronises some shared objects with
# (certificates in the trust store, cached extensions), so races whose two
# accesses both start in libcrypto/libssl are listed but not failed.  A
# race with one access in the shim's code fails, as does any other report
# with a frame in the shim.
tsan_verdict() {
	local dir=$1 what=$2 ok=$3 f n ours theirs=0
	if [ "$TSAN_RC" -ne 0 ] && [ "$TSAN_RC" -ne 88 ]; then
		fail "$what under TSan: exit $TSAN_RC: $(t_short "$(cat "$dir.out")" 1500)"
	fi
	assert_contains "$(cat "$dir.out")" "$ok" "$what's output"
	for f in "$dir"/tsan.*; do
		[ -e "$f" ] || continue
		ours=$(awk '
		function flush() {
			if (rep == "") return
			if (shim) print rep
			else other++
			rep = ""; shim = 0
		}
		/^WARNING: ThreadSanitizer/ { flush(); rep = $0 "\n"; race = /data race/; want = 0; next }
		/^  (Read|Write|Atomic read|Atomic write|Previous read|Previous write|Previous atomic)/ { want = 1 }
		/^    #[0-9]+ / {
			rep = rep $0 "\n"
			if (race && want && !/libsanitizer/) {
				if (/shim\/|libredistls/) shim = 1
				want = 0
			}
			if (!race && /shim\/|libredistls/) shim = 1
			next
		}
		{ if (rep != "") rep = rep $0 "\n" }
		END { flush(); if (other) printf "OTHER %d\n", other }' "$f")
		n=$(sed -n 's/^OTHER //p' <<<"$ours" | head -1)
		theirs=$((theirs + ${n:-0}))
		ours=$(grep -v '^OTHER ' <<<"$ours")
		[ -z "$ours" ] || fail "$what: ThreadSanitizer report in the shim: $(t_short "$ours" 3000)"
	done
	[ "$theirs" -eq 0 ] || echo "    $what: $theirs TSan report(s) inside OpenSSL (uninstrumented), not counted"
	return 0
}

case_tsan_threads() {
	local dir=$T_TMP/tsan-t_threads
	start_tls_redis || return
	tsan_run "$dir" "$ROOT/build-tsan/torture/t_threads" 127.0.0.1 "$REDIS_PORT"
	tsan_verdict "$dir" t_threads "t_threads: ok"
}

case_tsan_python() {
	local dir=$T_TMP/tsan-python
	start_tls_redis || return
	tsan_run "$dir" "$T_PY" -c '
import os, sys, threading, redis
port = int(sys.argv[1]); errors = []
def w(n):
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    for i in range(200):
        v = os.urandom(1 + (i * 977) % 40000)
        r.set("tsan:%d" % n, v)
        if r.get("tsan:%d" % n) != v: errors.append(n)
    r.close()
ts = [threading.Thread(target=w, args=(n,)) for n in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("python threads: ok" if not errors else "python threads: WRONG %r" % errors)
' "$REDIS_PORT"
	tsan_verdict "$dir" "redis-py threads" "python threads: ok"
}

# ------------------------------------------------------------ main

for san in "${SANS[@]}"; do
	if [ "$BUILD_FIRST" = 1 ]; then
		before=$T_FAIL
		t_case "$san: build (${SAN_FLAG[$san]}, $CC_SAN)" build "$san"
		[ "$T_FAIL" -eq "$before" ] || continue
	fi
	case $san in
	asan | ubsan)
		t_case "$san: 10-redis-cli.sh" run_file "$san" 10-redis-cli.sh
		t_case "$san: 20-python.sh" run_file "$san" 20-python.sh
		t_case "$san: torture.sh" run_file "$san" torture.sh --no-valgrind
		if [ "$san" = asan ]; then
			t_case "asan: leak pass (programs that close their connections)" case_leaks
			t_case "asan: leak pass control (a connection left open is seen)" case_leak_control
		fi
		;;
	tsan)
		t_case "tsan: t_threads" case_tsan_threads
		t_case "tsan: redis-py, 8 threads" case_tsan_python
		;;
	*) ;;
	esac
done
t_done
