#!/bin/bash
# run.sh [--seconds N] [--build DIR] [--regress-only] [--serial] [TARGET...]
#
# Runs the libFuzzer targets built in DIR (default build-fuzz, by
# `make fuzz-build`): config, match, session (default: all).  For each:
#   1. replay: every input in tests/fuzz/regressions/TARGET/ (each must pass;
#      an input named open-* is a crash found and reported but not fixed
#      yet: it is expected to fail, and its passing is reported so that it
#      can be renamed) and every seed in tests/fuzz/corpus/TARGET/;
#   2. fuzz for N seconds (default $FUZZ_SECONDS or 60), all targets at
#      once, from the seeds plus the corpus kept in DIR/corpus/TARGET
#      (grows from run to run); a crash, leak, timeout (20 s) or running out
#      of memory (2 GiB) is written to DIR/crashes/TARGET/ and fails.
# Prints executions per target; last line "N passed, N failed".
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-60}
BUILD_DIR=$root/build-fuzz
REGRESS_ONLY=0
SERIAL=0
TARGETS=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECONDS_EACH=$2; shift ;;
	--build) BUILD_DIR=$(cd "$2" && pwd) || exit 2; shift ;;
	--regress-only) REGRESS_ONLY=1 ;;
	--serial) SERIAL=1 ;;
	-h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
	config | match | session) TARGETS+=("$1") ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config match session)

export LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="quarantine_size_mb=64:malloc_context_size=30${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export FUZZ_SESSION_PKI=$here/pki

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }

extra_args() {
	case $1 in
	config) echo "-dict=$here/config.dict" ;;
	match) echo "-dict=$here/match.dict" ;;
	*) ;;
	esac
}

# replay TARGET: regressions one by one, then the seeds.
replay() {
	local t=$1 bin=$BUILD_DIR/fuzz_$1 f out n=0 open=0
	if [ ! -x "$bin" ]; then
		bad "fuzz_$t: $bin not built (make fuzz-build)"
		return
	fi
	for f in "$here/regressions/$t"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		out=$("$bin" "$f" 2>&1)
		local rc=$?
		case $(basename "$f") in
		open-*)
			open=$((open + 1))
			if [ "$rc" -eq 0 ]; then
				echo "    fuzz_$t: $(basename "$f") passes now: fixed? rename it without open-"
			else
				echo "    fuzz_$t: $(basename "$f") still fails (known, reported): $(grep -aE 'SUMMARY|check failed|flex' <<<"$out" | head -2 | tr '\n' ' ')"
			fi
			;;
		*)
			if [ "$rc" -ne 0 ]; then
				bad "fuzz_$t: regression $(basename "$f"): $(grep -aE 'SUMMARY|ERROR|check failed' <<<"$out" | head -3 | tr '\n' ' ')"
				return
			fi
			;;
		esac
	done
	out=$("$bin" -runs=0 "$here/corpus/$t" 2>&1)
	if [ $? -ne 0 ]; then
		bad "fuzz_$t: a seed fails: $(grep -aE 'SUMMARY|ERROR|check failed|Running' <<<"$out" | tail -4 | tr '\n' ' ')"
		return
	fi
	ok "fuzz_$t: replayed $n regression input(s) ($open open) and $(find "$here/corpus/$t" -type f | wc -l) seeds"
}

# fuzz TARGET: in the background; writes DIR/log-TARGET.txt.
fuzz() {
	local t=$1 bin=$BUILD_DIR/fuzz_$1 work=$BUILD_DIR/corpus/$1 crashes=$BUILD_DIR/crashes/$1
	mkdir -p "$work" "$crashes"
	# shellcheck disable=SC2046
	"$bin" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/" $(extra_args "$t") \
		"$work" "$here/corpus/$t" >"$BUILD_DIR/log-$t.txt" 2>&1
}

verdict() {
	local t=$1 log=$BUILD_DIR/log-$1.txt rc=$2 execs corpus found
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	corpus=$(find "$BUILD_DIR/corpus/$t" -type f | wc -l)
	found=$(find "$BUILD_DIR/crashes/$t" -type f -newer "$BUILD_DIR/.fuzz-start" 2>/dev/null)
	if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
		bad "fuzz_$t: ${execs:-?} executions, then: $(grep -aE 'SUMMARY|ERROR|check failed|Test unit written' "$log" | head -4 | tr '\n' ' ') (log $log)"
		return
	fi
	ok "fuzz_$t: ${execs:-?} executions in ${SECONDS_EACH}s, corpus $corpus inputs, no crash"
}

mkdir -p "$BUILD_DIR"
for t in "${TARGETS[@]}"; do
	replay "$t"
done
if [ "$REGRESS_ONLY" = 0 ] && [ "$FAIL" -eq 0 ]; then
	touch "$BUILD_DIR/.fuzz-start"
	declare -A PIDS=()
	# an interrupted run stops its fuzzers (and only those)
	trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done' EXIT
	for t in "${TARGETS[@]}"; do
		if [ "$SERIAL" = 1 ]; then
			fuzz "$t"
			verdict "$t" $?
		else
			fuzz "$t" &
			PIDS[$t]=$!
		fi
	done
	for t in "${!PIDS[@]}"; do
		wait "${PIDS[$t]}"
		verdict "$t" $?
	done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
