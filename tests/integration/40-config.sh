#!/bin/bash
# Configuration through the file, through REDIS_TLS_* variables and through
# the wrapper's flags; match-spec forms; CA bundle and folder; a
# passphrase-protected client key; verify_name, SNI, insecure; a
# verify_name pattern (*.DOMAIN) for a node dialled by IP whose certificate
# names only its own DNS name, and verify_ip_in_cn for a Memorystore-like
# server (per-instance CA, the IP in the CN, no SAN).
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

# ------------------------------------- verify_name *.DOMAIN, the IP in the CN

CERTS=$T_TMP/certs
mkdir -p "$CERTS"

# mkcert NAME CN SAN [CA]: $CERTS/NAME.{crt,key}, a server certificate for
# CN with subjectAltName SAN ("" for none at all), signed by CA (a path
# without .crt/.key; default the test CA).
mkcert() {
	leaf_cert "$CERTS/$1" "$2" "$3" "${4:-$PKI/ca}"
}

# mkca NAME: $CERTS/NAME.{crt,key}, a CA of its own (a per-instance CA).
mkca() {
	local n=$CERTS/$1
	if ! { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$n.key" &&
		openssl req -x509 -new -key "$n.key" -sha256 -days 30 \
			-subj "/O=memorystore-like/CN=$1" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$n.crt"; } 2>"$n.err"; then
		fail "mkca $1: $(cat "$n.err")"
	fi
}

# A node of a cluster that announces IPs, its certificate only
# DNS:node1.cluster.test: dialled at 127.0.0.1, verified as the pattern.
case_pattern_by_ip() {
	mkcert node1 node1.cluster.test DNS:node1.cluster.test || return
	start_tls_redis --tls-cert-file "$CERTS/node1.crt" \
		--tls-key-file "$CERTS/node1.key" || return
	t_run "$T_RUN" --endpoint "127.0.0.0/8:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" \
		--verify-name '*.cluster.test' --log-level info -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	expect_pong "--verify-name '*.cluster.test', dialled 127.0.0.1" || return
	assert_contains "$T_ERR" "verified '*.cluster.test' (as node1.cluster.test)" \
		"the shim's handshake line" || return
	# without the pattern the IP is verified: no IP SAN, refused
	t_run "$T_RUN" --endpoint "127.0.0.0/8:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_failed "no --verify-name" || return
	assert_one_shim_error "IP address mismatch; expected name '127\.0\.0\.1'"
	stop_pid "$REDIS_PID"
	restore_main
}

# A node presenting a certificate for another domain: refused with one
# line naming what it presented, before any command byte; no SNI for the
# pattern, the sni option's name when set.
case_pattern_other_domain() {
	local m
	m=$(marker)
	mkcert other node1.other.test DNS:node1.other.test || return
	start_record_server tls pattern --cert "$CERTS/other.crt" \
		--key "$CERTS/other.key" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$REC_PORT" --cacert "$PKI/ca.crt" \
		--verify-name '*.cluster.test' -- \
		redis-cli -h 127.0.0.1 -p "$REC_PORT" SET "$m" 1
	assert_failed "a certificate for node1.other.test" || return
	assert_one_shim_error "rejected: hostname mismatch: the certificate names no DNS name under cluster\.test .*expected name '\*\.cluster\.test'; server presented subject 'CN=node1\.other\.test[^']*', SANs DNS:node1\.other\.test," || return
	assert_file_lacks "$REC.raw" "$m" "the wire" || return
	assert_file_lacks "$REC.plain" "$m" "the server's plaintext" || return
	assert_file_lacks "$REC.raw" "cluster.test" "the ClientHello (no SNI for a pattern)" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$REC_PORT" --cacert "$PKI/ca.crt" \
		--verify-name '*.cluster.test' --sni node9.cluster.test -- \
		redis-cli -h 127.0.0.1 -p "$REC_PORT" SET "$m" 1
	assert_failed "a certificate for node1.other.test, --sni set" || return
	assert_file_has "$REC.raw" "node9.cluster.test" "the ClientHello (--sni)" || return
	assert_file_lacks "$REC.raw" "$m" "the wire"
	stop_pid "$REC_PID"
}

# Memorystore-like: a per-instance CA, the certificate's subject CN the
# IP, no SAN.  Refused (and said why) unless verify_ip_in_cn is on, which
# is warned about.
case_ip_in_cn() {
	local m
	m=$(marker)
	mkca instance-ca || return
	mkcert ipcn 127.0.0.1 "" "$CERTS/instance-ca" || return
	start_tls_redis --tls-cert-file "$CERTS/ipcn.crt" \
		--tls-key-file "$CERTS/ipcn.key" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$CERTS/instance-ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" SET "$m" 1
	assert_failed "the IP in the CN, without the option" || return
	assert_one_shim_error "IP address mismatch \(the certificate has no SAN and names 127\.0\.0\.1 in its subject CN only: verify_ip_in_cn = true" || return
	assert_eq 0 "$(redis-cli --tls --insecure --cert "$PKI/client.crt" --key "$PKI/client.key" \
		-h 127.0.0.1 -p "$REDIS_PORT" EXISTS "$m")" "EXISTS marker on the server" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$CERTS/instance-ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --verify-ip-in-cn -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	expect_pong "--verify-ip-in-cn" || return
	assert_one_shim_error "warning: endpoint '127\.0\.0\.1:$REDIS_PORT': verify_ip_in_cn is on \(environment REDIS_TLS_VERIFY_IP_IN_CN\).*loosens verification" || return
	# the option takes the CN of the right chain only
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --verify-ip-in-cn -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_failed "--verify-ip-in-cn, another CA" || return
	assert_contains "$T_ERR" "unable to get local issuer certificate" "the shim's error"
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
t_case "verify_name *.cluster.test: a node dialled by IP, its own DNS name" case_pattern_by_ip
t_case "verify_name *.cluster.test: node1.other.test refused, one line, no bytes, no SNI" case_pattern_other_domain
t_case "IP in the CN, no SAN: refused unless verify_ip_in_cn (warned)" case_ip_in_cn
t_done
