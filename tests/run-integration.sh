#!/bin/bash
# run-integration.sh [PATTERN...] - run tests/integration/*.sh in order.
#
# Each file runs with a timeout (INTEGRATION_TIMEOUT seconds, default 300),
# its output shown as it goes; its last "N passed, N failed" line is added
# to the totals (a file that dies without one counts as one failure).
# PATTERNs select files whose name contains one of them.  Prints the totals
# as "N passed, N failed" and exits non-zero on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
per_file_timeout=${INTEGRATION_TIMEOUT:-300}
total_pass=0
total_fail=0
results=()

selected() {
	local name=$1 p
	[ $# -eq 1 ] && return 0
	shift
	for p in "$@"; do
		[[ "$name" == *"$p"* ]] && return 0
	done
	return 1
}

log=$(mktemp "${TMPDIR:-/tmp}/redis-tls-integration.XXXXXX")
trap 'rm -f "$log"' EXIT

shopt -s nullglob
files=("$here"/integration/*.sh)
if [ ${#files[@]} -eq 0 ]; then
	echo "no integration tests found in $here/integration" >&2
	exit 1
fi
mapfile -t files < <(printf '%s\n' "${files[@]}" | LC_ALL=C sort)

start=$SECONDS
for f in "${files[@]}"; do
	name=$(basename "$f")
	selected "$name" "$@" || continue
	echo "=== $name"
	t0=$SECONDS
	timeout -k 10 "$per_file_timeout" bash "$f" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	if [ -n "$summary" ]; then
		p=${summary%% passed*}
		n=${summary#*, }
		n=${n%% failed}
	else
		p=0 n=0
	fi
	if [ "$rc" -eq 124 ]; then
		echo "$name: timed out after ${per_file_timeout}s"
		n=$((n + 1))
	elif [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
		echo "$name: exited $rc without reporting a failed case"
		n=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + n))
	results+=("$(printf '%-28s %4d passed, %d failed  (%ds)' "$name" "$p" "$n" $((SECONDS - t0)))")
done

echo "=== summary ($((SECONDS - start))s)"
printf '%s\n' "${results[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
