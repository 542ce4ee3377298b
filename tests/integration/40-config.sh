#!/bin/bash
# Configuration through the file, through REDIS_TLS_* variables and through
# the wrapper's flags; match-spec forms; CA bundle and folder; a
# passphrase-protected client key; verify_name, SNI, insecure.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done
P=$REDIS_PORT

# A configuration folder of its own: relative paths in the file resolve
# against it, whatever the working directory.
CONF=$T_TMP/conf
mkdir -p "$CONF"
cp "$PKI"/{ca.crt,client.crt,client.key,client-enc.key,passphrase.txt} "$CONF/"

write_conf() {
	# write_conf FILE ENDPOINT-MATCH [DEFAULTS-EXTRA] [ENDPOINT-EXTRA]
	cat >"$1" <<EOF
# written by 40-config.sh
version = 1;
log = { level = "notice"; target = "stderr"; };
defaults = {
  ca_file = "ca.crt";
  verify = "full";
  min_protocol = "TLSv1.2";
  handshake_timeout_ms = 5000;
  ${3:-}
};
endpoints = (
  { match = "$2";
    cert_file = "client.crt"; key_file = "client.key"; ${4:-} }
);
EOF
}

# restore_main: $REDIS_PORT and $SHIM back to the first server.
restore_main() {
	REDIS_PORT=$P
	shim_set_default "$P"
}

expect_pong() {
	assert_rc 0 "${1:-client}" || return
	assert_eq PONG "$(tail -1 <<<"$T_OUT")" "${1:-client} reply"
}

case_file_wrapper() {
	write_conf "$CONF/shim.conf" "127.0.0.1:$P"
	t_run bash -c 'cd / && exec "$@"' _ "$T_RUN" --config "$CONF/shim.conf" -- \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "wrapper --config"
}

case_file_env() {
	write_conf "$CONF/shim.conf" "127.0.0.1:$P"
	t_run env -C / LD_PRELOAD="$T_LIB" REDIS_TLS_CONFIG="$CONF/shim.conf" \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "LD_PRELOAD + REDIS_TLS_CONFIG"
}

case_env_only() {
	t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
		REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
		REDIS_TLS_KEY_FILE="$PKI/client.key" redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "REDIS_TLS_* variables"
}

case_env_relative_paths() {
	# Relative paths in the environment resolve against the working folder.
	t_run env -C "$CONF" LD_PRELOAD="$T_LIB" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
		REDIS_TLS_CA_FILE=ca.crt REDIS_TLS_CERT_FILE=client.crt \
		REDIS_TLS_KEY_FILE=client.key redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "relative REDIS_TLS_* paths"
}

case_file_plus_env_endpoints() {
	# File defaults, endpoint from the environment.
	cat >"$CONF/defaults-only.conf" <<EOF
version = 1;
defaults = { ca_file = "ca.crt"; cert_file = "client.crt"; key_file = "client.key"; };
EOF
	t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_CONFIG="$CONF/defaults-only.conf" \
		REDIS_TLS_ENDPOINTS="127.0.0.1:$P" redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "file defaults + REDIS_TLS_ENDPOINTS"
}

case_flags() {
	t_run "$T_RUN" --endpoint "127.0.0.1:$P" --cacertdir "$PKI/cadir" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --log-level warning -- \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "--cacertdir"
}

case_flags_override_env() {
	t_run env REDIS_TLS_CA_FILE="$PKI/other-ca.crt" "${RCLI[@]}" PING
	expect_pong "--cacert over REDIS_TLS_CA_FILE"
}

case_bundle() {
	# The right CA is the second certificate of the bundle.
	t_run "$T_RUN" --endpoint "127.0.0.1:$P" --cacert "$PKI/ca-bundle.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "two-CA bundle"
}

case_spec() {
	t_run "$T_RUN" --endpoint "$1" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "--endpoint $1"
}

case_two_endpoints() {
	# Several --endpoint flags; the one that matches is not the first.
	t_run "$T_RUN" --endpoint "10.255.255.1:6379" --endpoint "127.0.0.1:$P" \
		--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "second --endpoint"
}

case_passphrase_file_flag() {
	t_run "$T_RUN" --endpoint "127.0.0.1:$P" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client-enc.key" \
		--key-passphrase-file "$PKI/passphrase.txt" -- \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "encrypted key, --key-passphrase-file"
}

case_passphrase_env_flag() {
	local pass
	pass=$(head -1 "$PKI/passphrase.txt")
	t_run env TEST_KEY_PASS="$pass" "$T_RUN" --endpoint "127.0.0.1:$P" \
		--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client-enc.key" \
		--key-passphrase-env TEST_KEY_PASS -- redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "encrypted key, --key-passphrase-env"
	assert_not_contains "$T_ERR" "$pass" "stderr (the passphrase must never be logged)"
}

case_passphrase_file_conf() {
	write_conf "$CONF/enc.conf" "127.0.0.1:$P" "" \
		'key_passphrase_file = "passphrase.txt";'
	sed -i 's/key_file = "client.key"/key_file = "client-enc.key"/' "$CONF/enc.conf"
	t_run "$T_RUN" --config "$CONF/enc.conf" -- redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "encrypted key, key_passphrase_file in the file"
}

case_passphrase_env_vars() {
	local pass
	pass=$(head -1 "$PKI/passphrase.txt")
	t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_ENDPOINTS="127.0.0.1:$P" \
		REDIS_TLS_CA_FILE="$PKI/ca.crt" REDIS_TLS_CERT_FILE="$PKI/client.crt" \
		REDIS_TLS_KEY_FILE="$PKI/client-enc.key" \
		REDIS_TLS_KEY_PASSPHRASE_ENV=MY_KEY_PASS MY_KEY_PASS="$pass" \
		redis-cli -h 127.0.0.1 -p "$P" PING
	expect_pong "encrypted key, REDIS_TLS_KEY_PASSPHRASE_ENV"
}

case_verify_name() {
	# A certificate for wrong.example is accepted when that is the name
	# the configuration says to verify; SNI may be set alongside.
	start_tls_redis --tls-cert-file "$PKI/server-wrongname.crt" \
		--tls-key-file "$PKI/server-wrongname.key" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" \
		--verify-name wrong.example --sni wrong.example -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	expect_pong "--verify-name wrong.example"
	stop_pid "$REDIS_PID"
	restore_main
}

case_insecure() {
	# --insecure connects to a server no CA vouches for, and says so.
	start_tls_redis --tls-cert-file "$PKI/server-other-ca.crt" \
		--tls-key-file "$PKI/server-other-ca.key" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --insecure -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	expect_pong "--insecure"
	assert_match "$(shim_log_lines "$T_ERR")" "insecure|verif" "--insecure warning"
	stop_pid "$REDIS_PID"
	restore_main
}

t_case "config file via --config (relative paths)" case_file_wrapper
t_case "config file via LD_PRELOAD + REDIS_TLS_CONFIG" case_file_env
t_case "REDIS_TLS_* variables only" case_env_only
t_case "REDIS_TLS_* relative paths" case_env_relative_paths
t_case "file defaults + REDIS_TLS_ENDPOINTS" case_file_plus_env_endpoints
t_case "wrapper flags, --cacertdir" case_flags
t_case "wrapper flags override REDIS_TLS_* variables" case_flags_override_env
t_case "CA bundle: all certificates count" case_bundle
t_case "match 127.0.0.0/8:PORT" case_spec "127.0.0.0/8:$P"
t_case "match 127.0.0.1:*" case_spec "127.0.0.1:*"
t_case "match 127.0.0.1:A-B" case_spec "127.0.0.1:$((P - 1))-$((P + 1))"
t_case "match 0.0.0.0/0:PORT" case_spec "0.0.0.0/0:$P"
t_case "several --endpoint" case_two_endpoints
t_case "encrypted key: --key-passphrase-file" case_passphrase_file_flag
t_case "encrypted key: --key-passphrase-env" case_passphrase_env_flag
t_case "encrypted key: key_passphrase_file in the file" case_passphrase_file_conf
t_case "encrypted key: REDIS_TLS_KEY_PASSPHRASE_ENV" case_passphrase_env_vars
t_case "verify_name and SNI" case_verify_name
t_case "insecure: connects, warns" case_insecure
t_done
