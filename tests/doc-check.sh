#!/bin/bash
# doc-check.sh - the README's reference and the man pages do not drift
# from the code or from each other (make doc-check; in make check):
#   options    redis-tls-run's options (the script's own case labels) are
#              exactly the rows of the README's wrapper tables and the
#              entries of redis-tls-run(1);
#   keys       every configuration key the loader knows (shim/engine/
#              config.c: its key table and the keys it compares names
#              with) is an entry of redis-tls-shim.conf(5) and is named
#              in the README;
#   variables  the REDIS_TLS_* names the shim knows (redis-tls-entrypoint's
#              list, which refuses any other; SSLKEYLOGFILE) are exactly
#              the README's Environment table and the ENVIRONMENT entries
#              of redis-tls-shim.conf(5), and every variable the loader
#              reads is among them;
#   commands   redis-tls-ctl's commands (its main) are exactly the
#              entries of redis-tls-ctl(1);
#   pages      each page renders with man -l, without warnings.
# README=FILE and MAN=DIR check other copies (the test that this check can
# fail: tests/integration/67-deb.sh).  Last line: "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
README=${README:-$ROOT/README.md}
MAN=${MAN:-$ROOT/man}
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# The roff source as text: \- is -, font changes gone.
roff_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' "$1"; }

# tp_entries PAGE [SECTION]: the names an entry's tag gives (the line
# after each .TP, of SECTION only when given): the first word of each of
# its comma-separated parts ("min_protocol, max_protocol"), one a line.
tp_entries() {
	roff_text "$1" | awk -v want="${2:-}" '
		/^\.SH/ { sh = $0; sub(/^\.SH +/, "", sh); gsub(/"/, "", sh) }
		want != "" && sh != want { tp = 0; next }
		tp { print; tp = 0; next }
		/^\.TP/ { tp = 1 }' |
		sed -E -e 's/^\.[A-Z]+ +//' -e 's/"//g' | tr ',' '\n' | awk 'NF { print $1 }'
}

# same WHAT NAME1 SET1 NAME2 SET2: the two sorted sets are equal.
same() {
	local what=$1 n1=$2 s1=$3 n2=$4 s2=$5 d
	d=$(diff <(printf '%s\n' "$s1" | sort -u) <(printf '%s\n' "$s2" | sort -u) |
		sed -n -e "s/^< /only in $n1: /p" -e "s/^> /only in $n2: /p")
	if [ -z "$d" ]; then
		ok "$what: $n1 and $n2 agree ($(printf '%s\n' "$s1" | sort -u | wc -l) names)"
	else
		bad "$what: $n1 and $n2 differ:"
		printf '%s\n' "${d//$'\n'/$'\n'     }" | sed '1s/^/     /'
	fi
}

# every WHAT NAME SET HAYSTACK: each of SET occurs in HAYSTACK.
every() {
	local what=$1 name=$2 set=$3 hay=$4 missing=""
	for w in $set; do
		grep -qxF -- "$w" <<<"$hay" || missing="$missing $w"
	done
	if [ -z "$missing" ]; then
		ok "$what: all in $name"
	else
		bad "$what: not in $name:$missing"
	fi
}

# README section: the lines from the heading "## TITLE" (any level) to
# the next heading of that level or higher.
readme_section() {
	awk -v t="$1" '
		/^#+ / { lvl = index($0, " ") - 1
			 if (on && lvl <= on) on = 0
			 if (substr($0, lvl + 2) == t) on = lvl }
		on' "$README"
}

check_options() {
	local script readme man
	script=$(sed -n '/^while \[ \$# -gt 0 \]; do$/,/^done$/p' "$ROOT/scripts/redis-tls-run" |
		grep -oE '^	(-h \| )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*')
	readme=$( { readme_section "Use"; readme_section "More wrapper options"; } |
		grep -E '^\| `--' | cut -d'|' -f2 | grep -oE -- '--[a-z][a-z0-9-]*')
	man=$(tp_entries "$MAN/redis-tls-run.1" | grep -oE -- '^--[a-z][a-z0-9-]*')
	same "redis-tls-run options" "the script" "$script" "the README tables" "$readme"
	same "redis-tls-run options" "the script" "$script" "redis-tls-run(1)" "$man"
}

check_keys() {
	local src=$ROOT/shim/engine/config.c keys man
	keys=$( { grep -oE '\[CK_[A-Z0-9_]+\] = \{ "[a-z0-9_]+"' "$src"
		grep -oE 'strcmp\(name, "[a-z0-9_]+"\)' "$src"
		grep -oE 'get_member\(group, "[a-z0-9_]+"\)' "$src"; } |
		grep -oE '"[a-z0-9_]+"' | tr -d '"' | sort -u)
	man=$(tp_entries "$MAN/redis-tls-shim.conf.5")
	every "configuration keys (config.c)" "redis-tls-shim.conf(5)" "$keys" "$man"
	# In the README: `key`, or "key = " in its examples.
	local missing="" k
	for k in $keys; do
		grep -qE "\`$k\`|(^|[ {;\`])$k = " "$README" || missing="$missing $k"
	done
	if [ -z "$missing" ]; then
		ok "configuration keys (config.c): all in the README"
	else
		bad "configuration keys (config.c): not in the README:$missing"
	fi
}

check_variables() {
	local known readme man loader
	known=$(sed -n '/^known="/,/"$/p' "$ROOT/scripts/redis-tls-entrypoint" | tr -d '"' |
		sed 's/^known=//' | tr ' ' '\n' | grep -E '^[A-Z0-9_]+$' | sed 's/^/REDIS_TLS_/')
	known=$(printf '%s\nSSLKEYLOGFILE\n' "$known")
	readme=$(readme_section "Environment" | grep -E '^\| `' | cut -d'|' -f2 |
		grep -oE 'REDIS_TLS_[A-Z0-9_]+|SSLKEYLOGFILE')
	man=$(tp_entries "$MAN/redis-tls-shim.conf.5" ENVIRONMENT | grep -oE '^(REDIS_TLS_[A-Z0-9_]+|SSLKEYLOGFILE)')
	loader=$(grep -rhoE '"REDIS_TLS_[A-Z0-9_]+"' "$ROOT/shim" "$ROOT/tools" | tr -d '"' | sort -u)
	same "variables" "the shim's list" "$known" "the README's Environment table" "$readme"
	same "variables" "the shim's list" "$known" "redis-tls-shim.conf(5)" "$man"
	every "variables the code reads" "the shim's list" "$loader" "$known"
}

check_commands() {
	local code man
	code=$(grep -oE 'strcmp\(argv\[1\], "[a-z-]+"\)' "$ROOT/tools/redis-tls-ctl.c" |
		grep -oE '"[a-z-]+"' | tr -d '"' | grep -vx -- '-h')
	man=$(tp_entries "$MAN/redis-tls-ctl.1" COMMANDS | grep -vx -- '-h' |
		grep -E '^(-)?-?[a-z]+(-[a-z]+)*$')
	same "redis-tls-ctl commands" "its main" "$code" "redis-tls-ctl(1)" "$man"
}

check_pages() {
	local p warn
	for p in "$MAN"/*.[1-8]; do
		warn=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null)
		if [ -n "$warn" ]; then
			bad "man -l $(basename "$p"): $warn"
		elif [ -z "$(MANWIDTH=80 man -l "$p" 2>/dev/null)" ]; then
			bad "man -l $(basename "$p"): renders nothing"
		else
			ok "man -l $(basename "$p") renders, no warnings"
		fi
	done
}

check_options
check_keys
check_variables
check_commands
check_pages
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
