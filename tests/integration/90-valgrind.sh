#!/bin/bash
# valgrind memcheck of the unmodified redis-cli through the shim, against a
# TLS-only redis-server that requires client certificates: commands on one
# connection, a 1 MiB SET and GET (byte-exact), and a handshake the shim
# refuses.  valgrind runs under scripts/redis-tls-run, so LD_PRELOAD is in
# its environment and it preloads the shim into redis-cli (valgrind adds
# its own preloads to LD_PRELOAD, keeping ours).
#
# Each case asserts: redis-cli did its job; no memory error; no definitely
# or indirectly lost block at all (valgrind's exit status, 99 otherwise);
# and no "possibly lost" block allocated through the shim (a frame in
# libredistls*.so or in a shim/*/*.c file).  Suppressions:
# tests/clients/valgrind.supp, for proven non-shim noise only.
# (tests/integration/torture.sh runs two torture programs under valgrind.)
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

SUPP=$T_ROOT/tests/clients/valgrind.supp
# valgrind is slow: give each run more time than t_run's default.
T_TIMEOUT=180

# A frame of ours, as valgrind prints it: the object, or a source file of
# shim/ (the libraries have debug information, so frames show file:line).
_shim_srcs=$(cd "$T_ROOT/shim" && printf '%s\n' */*.c | sed 's|.*/||; s/\.c$//' | paste -sd'|')
case $_shim_srcs in '' | *'*'*)
	echo "90-valgrind: no source files under $T_ROOT/shim/*/" >&2
	exit 1
	;;
esac
SHIM_FRAME="libredistls[-a-z]*\\.so|\\(($_shim_srcs)\\.c:[0-9]+\\)"

# shellcheck disable=SC2054 # the commas are valgrind's
VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite,indirect
	--show-leak-kinds=all
	--num-callers=50 --track-fds=no --suppressions="$SUPP")

# vg_run NAME CMD...: CMD under memcheck, through the shim; the log in
# $T_TMP/vg-NAME.log ($VG_LOG).
vg_run() {
	VG_LOG=$T_TMP/vg-$1.log
	shift
	t_run "${SHIM[@]}" "${VG[@]}" --log-file="$VG_LOG" "$@"
}

# vg_records KIND: the loss records of KIND ("possibly lost", ...) in
# $VG_LOG, one per paragraph.
vg_records() {
	awk -v kind="$1" '
		/in loss record/ { keep = index($0, kind) > 0 }
		/^==[0-9]+== *$/ { if (keep) print ""; keep = 0 }
		keep { print }' "$VG_LOG"
}

# vg_clean: what valgrind found in the last vg_run.
vg_clean() {
	local summary mine
	[ -s "$VG_LOG" ] || { fail "no valgrind log"; return 1; }
	if [ "$T_RC" -eq 99 ]; then
		fail "valgrind found errors: $(t_short "$(grep -vE '^==[0-9]+== *$' "$VG_LOG" | grep -A25 -m2 -E 'Invalid|uninitialised|definitely lost in|indirectly lost in|Mismatched|overlap')" 3000)"
		return 1
	fi
	summary=$(grep -a 'ERROR SUMMARY' "$VG_LOG")
	assert_match "$summary" 'ERROR SUMMARY: 0 errors' "valgrind's error summary" || return
	# The leak summary: nothing lost for good ("no leaks are possible" when
	# the heap was empty at exit).
	if ! grep -q 'no leaks are possible' "$VG_LOG"; then
		assert_match "$(grep -a 'definitely lost:' "$VG_LOG")" 'definitely lost: 0 bytes' "definitely lost" || return
		assert_match "$(grep -a 'indirectly lost:' "$VG_LOG")" 'indirectly lost: 0 bytes' "indirectly lost" || return
	fi
	mine=$(vg_records "possibly lost" | SHIM_FRAME=$SHIM_FRAME \
		awk -v RS= '$0 ~ ENVIRON["SHIM_FRAME"] { print; exit }')
	assert_eq "" "$mine" "possibly lost blocks allocated through the shim"
}

case_supp_is_not_ours() {
	# The suppressions must not hide anything of the shim's.
	[ -r "$SUPP" ] || { fail "$SUPP missing"; return 1; }
	assert_eq "" "$(grep -vE '^[[:space:]]*#' "$SUPP" | grep -nE "libredistls|shim_|$SHIM_FRAME")" \
		"suppressions naming the shim"
}

case_commands() {
	local want
	want=$'PONG\nOK\n(integer) 42\n(integer) 43\n"43"\nOK\nQUEUED\nQUEUED\n1) (integer) 44\n2) "44"\n(integer) 1\n(nil)'
	rcli_native DEL vg:n >/dev/null
	vg_run commands redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-raw \
		<<<$'PING\nSET vg:n 41\nINCR vg:n\nINCR vg:n\nGET vg:n\nMULTI\nINCR vg:n\nGET vg:n\nEXEC\nDEL vg:n\nGET vg:n'
	vg_clean || return
	assert_rc 0 "redis-cli" || return
	assert_eq "$want" "$T_OUT" "the replies" || return
	# The premise of the attribution: the shim was preloaded into redis-cli
	# (it reached the TLS-only server) and its frames show in valgrind's
	# stacks (of blocks still reachable at exit, such as the TLS context).
	grep -qE "$SHIM_FRAME" "$VG_LOG" || fail "no frame of the shim in valgrind's log: was it preloaded?"
}

case_set_1mib() {
	local big=$T_TMP/big.bin
	head -c 1048576 /dev/urandom >"$big"
	vg_run set1m redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -x SET vg:big <"$big"
	vg_clean || return
	assert_rc 0 "redis-cli -x SET" || return
	assert_eq OK "$T_OUT" "SET's reply" || return
	assert_eq 1048576 "$(rcli_native STRLEN vg:big)" "STRLEN (native TLS)" || return
	assert_eq "$(sha256sum <"$big" | cut -d' ' -f1)" \
		"$(rcli_native --raw GET vg:big | head -c 1048576 | sha256sum | cut -d' ' -f1)" \
		"sha256 of the stored value (native TLS)"
}

case_get_1mib() {
	local big=$T_TMP/big.bin want got
	[ -s "$big" ] || { fail "the 1 MiB SET case did not run"; return 1; }
	want=$( (cat "$big"; echo) | sha256sum | cut -d' ' -f1)
	vg_run get1m redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --raw GET vg:big
	vg_clean || return
	assert_rc 0 "redis-cli GET" || return
	got=$(sha256sum <"$T_OUT_FILE" | cut -d' ' -f1)
	assert_eq "$want" "$got" "sha256 of GET's output"
}

case_refused() {
	local port
	# A server whose certificate comes from another CA: the shim refuses
	# the handshake; its error path must be as clean as the happy one.
	_start_redis tls --tls-cert-file "$PKI/server-other-ca.crt" \
		--tls-key-file "$PKI/server-other-ca.key" || return
	port=$_PORT
	VG_LOG=$T_TMP/vg-refused.log
	t_run "$T_RUN" --endpoint "127.0.0.1:$port" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		"${VG[@]}" --log-file="$VG_LOG" redis-cli -h 127.0.0.1 -p "$port" PING
	vg_clean || return
	assert_rc 1 "redis-cli against a server the shim rejects" || return
	assert_not_contains "$T_OUT" PONG "redis-cli's output"
	assert_one_shim_error 'certificate' || return
	stop_pid "$_PID"
}

t_case "valgrind.supp suppresses nothing of the shim's" case_supp_is_not_ours
t_case "valgrind: redis-cli, 11 commands on one connection (MULTI/EXEC)" case_commands
t_case "valgrind: redis-cli -x SET of 1 MiB" case_set_1mib
t_case "valgrind: redis-cli GET of 1 MiB, byte-exact" case_get_1mib
t_case "valgrind: redis-cli refused (server certificate from another CA)" case_refused
t_done
