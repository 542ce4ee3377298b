#!/bin/bash
# Connections to ports that are not configured are left alone: a plaintext
# Redis keeps working, byte for byte, in the same preloaded process that
# speaks TLS to the configured endpoint.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done
start_plain_redis || t_done
# A recording proxy in front of the plaintext server shows what went out.
start_record_server proxy plainwire --upstream "$PLAIN_PORT" || t_done
PROXY_PORT=$REC_PORT
M=$(marker)

PYC=$T_TMP/both.py
cat >"$PYC" <<'EOF'
import sys, threading
import redis

tls_port, plain_port, marker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
tls = redis.Redis(host="127.0.0.1", port=tls_port, socket_timeout=10)
plain = redis.Redis(host="127.0.0.1", port=plain_port, socket_timeout=10)

def check(cond, what):
    if not cond:
        print("FAILED:", what, flush=True)
        sys.exit(1)

# Interleaved on both connections, from one thread and then from two.
for i in range(200):
    tls.set("both:%d" % i, "tls-%d" % i)
    plain.set("both:%d" % i, "plain-%d" % i)
check(tls.get("both:199") == b"tls-199", "TLS value")
check(plain.get("both:199") == b"plain-199", "plaintext value")
plain.set(marker, "in the clear")

errors = []
def hammer(r, tag):
    try:
        for i in range(300):
            r.set("thr:%s:%d" % (tag, i), tag)
            if r.get("thr:%s:%d" % (tag, i)) != tag.encode():
                errors.append(tag)
                return
    except Exception as e:
        errors.append("%s: %r" % (tag, e))
ts = [threading.Thread(target=hammer, args=(redis.Redis(host="127.0.0.1", port=p, socket_timeout=10), t))
      for p, t in ((tls_port, "tls"), (plain_port, "plain"))]
for t in ts: t.start()
for t in ts: t.join(60)
check(not errors, errors)
print("OK", flush=True)
EOF

case_python_both() {
	t_run "${SHIM[@]}" "$T_PY" "$PYC" "$REDIS_PORT" "$PROXY_PORT" "$M"
	assert_rc 0 "python (TLS + plaintext)" || return
	assert_eq OK "$(tail -1 <<<"$T_OUT")" "python result"
	assert_eq "" "$(shim_log_lines "$T_ERR" | grep -iE 'error|warning')" "shim errors"
	# Each server holds its own values.
	assert_eq tls-199 "$(rcli_native GET both:199)" "TLS server's value"
	assert_eq plain-199 "$(redis-cli -h 127.0.0.1 -p "$PLAIN_PORT" GET both:199)" "plaintext server's value"
	# The unconfigured connection went out as plaintext Redis, untouched.
	assert_file_has "$REC.raw" "$M" "what the plaintext connection sent"
	assert_file_has "$REC.raw" $'*3\r\n$3\r\nSET\r\n' "RESP on the plaintext connection"
}

case_cli_plain_under_preload() {
	t_run "${SHIM[@]}" redis-cli -h 127.0.0.1 -p "$PLAIN_PORT" PING
	assert_rc 0 || return
	assert_eq PONG "$T_OUT" "plaintext PING with the shim preloaded"
	assert_eq "" "$(shim_log_lines "$T_ERR")" "shim lines for an unconfigured port"
}

case_shell_in_preload() {
	# Whole command lines run under the shim: both kinds, one after the other.
	t_run "${SHIM[@]}" sh -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT PING && redis-cli -h 127.0.0.1 -p $PLAIN_PORT PING"
	assert_rc 0 || return
	assert_eq $'PONG\nPONG' "$T_OUT" "TLS then plaintext"
}

t_case "python: TLS endpoint and plaintext redis in one process" case_python_both
t_case "redis-cli to an unconfigured port, preloaded" case_cli_plain_under_preload
t_case "a shell running both kinds under the shim" case_shell_in_preload
t_done
