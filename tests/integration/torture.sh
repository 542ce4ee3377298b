#!/bin/bash
# torture.sh - the torture programs (build/torture/*, from tests/torture/*.c),
# unmodified, through scripts/redis-tls-run against a TLS-only redis-server
# that requires client certificates.  Each program drives one socket API
# pattern and checks every reply byte-exact; it exits 0 when all is well.
#
#   tests/integration/torture.sh [--plain] [--[no-]valgrind] [NAME...]
#
#   (default)      every program through the shim, then the valgrind
#                  memcheck cases ($TORTURE_VALGRIND, default
#                  "t_blocking t_nbconnect") through the shim
#   --plain        every program straight against a plaintext redis-server,
#                  no shim: checks the programs themselves (no valgrind
#                  cases unless --valgrind)
#   --valgrind     run the valgrind cases (the default through the shim)
#   --no-valgrind  skip them
#   NAME...        only the programs whose name contains one of NAMEs
#
# Through the shim, the epoll programs (t_epoll_*, t_forkepoll) run again
# with REDIS_TLS_EPOLL_DELETE=keep and =pass, each way of deletions fixed.
#
# Programs are run one at a time, each with a timeout ($T_TIMEOUT s, 60;
# the programs' own watchdog is $TORTURE_TIMEOUT s, 30).  Build them with
# `make torture`.  Last line: "N passed, N failed".
# shellcheck source-path=SCRIPTDIR disable=SC2317,SC2119
MODE=tls
VALGRIND=
FILTERS=()
while [ $# -gt 0 ]; do
	case $1 in
	--plain) MODE=plain ;;
	--valgrind) VALGRIND=1 ;;
	--no-valgrind) VALGRIND=0 ;;
	-h | --help)
		sed -n '2,24s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*)
		echo "torture.sh: unknown option $1" >&2
		exit 2
		;;
	*) FILTERS+=("$1") ;;
	esac
	shift
done
if [ -z "$VALGRIND" ]; then
	if [ "$MODE" = plain ]; then VALGRIND=0; else VALGRIND=1; fi
fi

# shellcheck source=../../scripts/testlib.sh
source "$(dirname "$0")/../../scripts/testlib.sh"

TORTURE_DIR=$BUILD/torture
VG_PROGS=${TORTURE_VALGRIND:-t_blocking t_nbconnect}

selected() {
	local name=$1 f
	[ ${#FILTERS[@]} -eq 0 ] && return 0
	for f in "${FILTERS[@]}"; do
		[[ "$name" == *"$f"* ]] && return 0
	done
	return 1
}

# The programs, sorted; a missing build is a failure, not a silent pass.
PROGS=()
for p in "$TORTURE_DIR"/*; do
	if [ -f "$p" ] && [ -x "$p" ] && selected "$(basename "$p")"; then
		PROGS+=("$p")
	fi
done
if [ ${#PROGS[@]} -eq 0 ]; then
	echo "no torture programs in $TORTURE_DIR${FILTERS[*]:+ matching ${FILTERS[*]}}: run make torture" >&2
	T_FAIL=$((T_FAIL + 1))
	echo "FAIL torture programs built"
	t_done
fi

if [ "$MODE" = plain ]; then
	start_plain_redis || t_done
	PORT=$PLAIN_PORT
	RUN=()
else
	t_require_shim
	start_tls_redis || t_done
	PORT=$REDIS_PORT
	RUN=("${SHIM[@]}")
fi

# Show the program's own last words when it fails.
_why() {
	local s
	s=$(grep -a 'FAIL' <<<"$T_ERR" | head -3)
	[ -n "$s" ] || s=$(tail -5 <<<"$T_ERR")
	t_short "$s" 1200
}

case_torture() {
	local prog=$1
	t_run "${RUN[@]}" "$prog" 127.0.0.1 "$PORT"
	if [ "$T_RC" -ne 0 ]; then
		fail "exit status $T_RC: $(_why)"
		return 1
	fi
	assert_contains "$T_OUT" ": ok (" "$(basename "$prog")'s output" || return
	if [ "$MODE" = tls ]; then
		# Passing is not enough: the shim must not have complained either.
		assert_eq "" "$(shim_log_lines "$T_ERR" | grep -iE 'error|warning')" \
			"the shim's error/warning lines"
	fi
}

case_valgrind() {
	local prog=$1 vlog
	# valgrind is slow: t_run's timeout, seen through dynamic scope
	# shellcheck disable=SC2034
	local T_TIMEOUT=240
	vlog=$T_TMP/valgrind-$(basename "$prog").log
	# definite and indirect leaks and every memory error count; the
	# programs free what they allocate.
	TORTURE_TIMEOUT=200 t_run "${RUN[@]}" valgrind -q --tool=memcheck \
		--error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--track-fds=no --log-file="$vlog" "$prog" 127.0.0.1 "$PORT"
	if [ "$T_RC" -ne 0 ]; then
		fail "exit status $T_RC: $(_why); valgrind: $(t_short "$(grep -v '^==[0-9]*== *$' "$vlog" 2>/dev/null | head -40)" 2000)"
		return 1
	fi
}

for prog in "${PROGS[@]}"; do
	name=$(basename "$prog")
	if [ "$MODE" = plain ]; then
		t_case "torture $name (plain redis, no shim)" case_torture "$prog"
	else
		t_case "torture $name" case_torture "$prog"
	fi
done

# A single-event set's EPOLL_CTL_DEL goes one of two ways (the shim's
# ready_adapt.h), which the default measures and chooses between by what
# they cost on the machine: the epoll programs once more in each way, so
# that both are exact wherever this runs.
case_torture_way() {
	local rc
	export REDIS_TLS_EPOLL_DELETE=$1
	case_torture "$2"
	rc=$?
	unset REDIS_TLS_EPOLL_DELETE
	return $rc
}

if [ "$MODE" = tls ]; then
	for prog in "${PROGS[@]}"; do
		name=$(basename "$prog")
		case $name in t_epoll_* | t_forkepoll) ;; *) continue ;; esac
		for way in keep pass; do
			t_case "torture $name (REDIS_TLS_EPOLL_DELETE=$way)" case_torture_way "$way" "$prog"
		done
	done
fi

if [ "$VALGRIND" = 1 ]; then
	if ! command -v valgrind >/dev/null 2>&1; then
		T_FAIL=$((T_FAIL + 1))
		echo "FAIL valgrind installed (make deps)"
	else
		for name in $VG_PROGS; do
			selected "$name" || continue
			if [ ! -x "$TORTURE_DIR/$name" ]; then
				T_FAIL=$((T_FAIL + 1))
				echo "FAIL valgrind $name: $TORTURE_DIR/$name not built"
				continue
			fi
			t_case "valgrind memcheck $name" case_valgrind "$TORTURE_DIR/$name"
		done
	fi
fi

t_done
