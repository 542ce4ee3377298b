#!/bin/bash
# tree-check.sh [BUILD] - the rules the tree keeps (DESIGN.md "Layout",
# STYLE.md), checked on every make check:
#   boundary  no #include of <openssl/...> or <libconfig.h> in shim/,
#             include/ or tools/ outside shim/engine/ (the switchboard and
#             what both libraries share stay libc only);
#   size      no function in shim/ or tools/ over 60 lines, signature to
#             closing brace;
#   exports   the dynamic symbols each library defines (nm -D) are exactly
#             tests/exports/<library>.syms: nothing of ours lands in the
#             program's namespace by accident, no hook disappears unseen.
#             --update rewrites the lists from the build (review the diff).
# Last line: "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UPDATE=0
[ "${1:-}" = --update ] && { UPDATE=1; shift; }
BUILD=${1:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
MAX_LINES=60
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

check_boundary() {
	local hits
	hits=$(cd "$ROOT" && grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(openssl/|libconfig\.h)' \
		shim include tools | grep -v '^shim/engine/')
	if [ -z "$hits" ]; then
		ok "boundary: OpenSSL and libconfig headers only in shim/engine/"
	else
		bad "boundary: OpenSSL or libconfig included outside shim/engine/:"
		echo "$hits" | sed 's/^/     /'
	fi
}

# function_lengths FILE... - "FILE:LINE NAME() N lines" for each function
# longer than MAX_LINES.  A definition starts at a line that begins in
# column 0 with a name (not a declaration, a preprocessor line or a bare
# struct/enum/union head) and ends at the "}" in column 0 after its "{".
function_lengths() {
	awk -v MAX="$MAX_LINES" '
	FNR == 1 { start = 0; sigline = 0; insig = 0 }
	/^[A-Za-z_]/ && !/;[ \t]*$/ && !/^(struct|enum|union|typedef)[^(]*$/ && !start {
		if (!insig) { sigline = FNR; sig = $0 }
		insig = 1
	}
	/^[ \t]*$/ || /^#/ { insig = 0 }
	/^\{/ { start = sigline ? sigline : FNR; name = sig }
	/;[ \t]*$/ && !start { insig = 0 }
	/^\}/ && start {
		len = FNR - start + 1
		if (len > MAX) {
			n = name; sub(/\(.*/, "", n); sub(/.*[ *]/, "", n)
			printf "%s:%d %s() %d lines\n", FILENAME, start, n, len
		}
		start = 0; sigline = 0; insig = 0
	}' "$@"
}

check_size() {
	local long
	long=$(cd "$ROOT" && function_lengths shim/*/*.c tools/*.c)
	if [ -z "$long" ]; then
		ok "size: no function in shim/ or tools/ over $MAX_LINES lines"
	else
		bad "size: functions over $MAX_LINES lines:"
		echo "$long" | sed 's/^/     /'
	fi
}

check_exports() {
	local lib=$1 list=$ROOT/tests/exports/$1.syms so=$BUILD/$1.so now
	if [ ! -f "$so" ]; then
		bad "exports: $so not built"
		return
	fi
	now=$(nm -D --defined-only "$so" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
	if [ "$UPDATE" = 1 ]; then
		echo "$now" > "$list"
	fi
	if [ "$now" = "$(cat "$list" 2>/dev/null)" ]; then
		ok "exports: $1.so defines the $(echo "$now" | wc -l) symbols of tests/exports/$1.syms"
	else
		bad "exports: $1.so differs from tests/exports/$1.syms (< list, > nm -D):"
		diff <(cat "$list" 2>/dev/null) <(echo "$now") | grep '^[<>]' | sed 's/^/     /'
	fi
}

check_boundary
check_size
check_exports libredistls
check_exports libredistls-engine
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
