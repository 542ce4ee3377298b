#!/bin/bash
# demo.sh - run by `make demo`: an unmodified redis-cli against a TLS-only
# redis-server that requires client certificates, first without the shim
# (it fails), then through scripts/redis-tls-run (it works).
#
# Everything happens on 127.0.0.1 in a temporary folder, removed on exit
# together with the server.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
run=$here/redis-tls-run
tmp=$(mktemp -d "${TMPDIR:-/tmp}/redis-tls-demo.XXXXXX")
server_pid=""

cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -t 1 ]; then
	bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' off=$'\e[0m'
else
	bold="" green="" red="" off=""
fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
show() {
	# show CMD...: print the command as a user would type it, then run it.
	printf '%s$' "$bold"
	printf ' %q' "$@"
	printf '%s\n' "$off"
	"$@"
}

if [ ! -r "${REDIS_TLS_LIB:-$root/build/libredistls.so}" ]; then
	echo "demo: build/libredistls.so is missing: run make (or make demo)" >&2
	exit 1
fi

# Work in the temporary folder, so the commands shown are short.
cd "$tmp"
pki=pki
redis-tls-run() { "$run" "$@"; }

say "Making a throwaway PKI in $tmp/pki"
"$here/mkpki.sh" "$tmp/pki"
echo "ca.crt (test CA), server.crt/key (localhost, 127.0.0.1), client.crt/key (signed by the CA), ..."

port=$(/usr/bin/python3 "$root/tests/servers/testserver.py" free-port)

say "Starting a TLS-only redis-server on 127.0.0.1:$port (no plaintext port, client certificates required)"
server_cmd=(redis-server --bind 127.0.0.1 --port 0 --tls-port "$port"
	--tls-cert-file "$pki/server.crt" --tls-key-file "$pki/server.key"
	--tls-ca-cert-file "$pki/ca.crt" --tls-auth-clients yes
	--save '' --appendonly no --daemonize no --dir . --logfile redis.log)
printf '%q ' "${server_cmd[@]}"
echo
"${server_cmd[@]}" </dev/null >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
	grep -q "Ready to accept connections" redis.log 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || { cat redis.log >&2; exit 1; }
	sleep 0.05
done

say "1. The unmodified redis-cli, plaintext, as usual: the server only speaks TLS"
set +e
show redis-cli -h 127.0.0.1 -p "$port" PING
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
	echo "demo: the server answered plaintext: it should not" >&2
	exit 1
fi
printf '%s(redis-cli exited %d: no PONG without TLS)%s\n' "$red" "$rc" "$off"

say "2. The same redis-cli through the shim: same flags as redis-cli --tls"
show redis-tls-run --endpoint "127.0.0.1:$port" --cacert "$pki/ca.crt" \
	--cert "$pki/client.crt" --key "$pki/client.key" -- \
	redis-cli -h 127.0.0.1 -p "$port" PING

say "3. SET and GET through the shim"
shim=(redis-tls-run --endpoint "127.0.0.1:$port" --cacert "$pki/ca.crt"
	--cert "$pki/client.crt" --key "$pki/client.key" --)
show "${shim[@]}" redis-cli -h 127.0.0.1 -p "$port" SET greeting "hello over mutual TLS"
show "${shim[@]}" redis-cli -h 127.0.0.1 -p "$port" GET greeting

say "4. Reading the value back with redis-cli's own TLS support (no shim)"
got=$(redis-cli --tls --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
	-h 127.0.0.1 -p "$port" GET greeting)
printf 'native redis-cli --tls reads back: %s\n' "$got"
if [ "$got" != "hello over mutual TLS" ]; then
	echo "${red}demo: unexpected value${off}" >&2
	exit 1
fi

say "5. A server certificate the CA did not sign is refused (fail closed), with one log line"
set +e
show redis-tls-run --endpoint "127.0.0.1:$port" --cacert "$pki/other-ca.crt" \
	--cert "$pki/client.crt" --key "$pki/client.key" -- \
	redis-cli -h 127.0.0.1 -p "$port" PING
set -e

printf '\n%sDone: redis-cli failed alone and worked through redis-tls-run.%s\n' "$green" "$off"
