#!/bin/bash
# Every failure fails closed: the client sees an error, the shim writes one
# clear log line, and no byte of the client's command reaches a server
# (record_server.py records the wire and, for TLS, what it decrypted).
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

# The command every client sends carries a marker that must never be seen.
M=$(marker)

# run_cli PORT [WRAPPER FLAGS...]: redis-cli SET marker through the wrapper
# for 127.0.0.1:PORT with the given flags (default: the good CA and client
# certificate).
run_cli() {
	local port=$1
	shift
	[ $# -gt 0 ] || set -- --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key"
	t_run "$T_RUN" --endpoint "127.0.0.1:$port" "$@" -- \
		redis-cli -h 127.0.0.1 -p "$port" SET "$M" 1
}

# client_failed: the client saw an error, not OK.
client_failed() {
	assert_failed "redis-cli" || return
	assert_not_contains "$T_OUT" OK "redis-cli's output"
}

# not_stored PORT: the marker was not stored (asked natively, skipping
# verification since these servers have bad certificates on purpose).
not_stored() {
	assert_eq 0 "$(redis-cli --tls --insecure --cert "$PKI/client.crt" --key "$PKI/client.key" \
		-h 127.0.0.1 -p "$1" EXISTS "$M")" "EXISTS marker on the server"
}

# nothing_received: the record server saw none of the marker, either on
# the wire or decrypted.
nothing_received() {
	assert_file_lacks "$REC.raw" "$M" "bytes on the wire"
	[ -e "$REC.plain" ] && assert_file_lacks "$REC.plain" "$M" "bytes the server decrypted"
	return 0
}

# bad_server CERT KEY ERE: a real redis-server, then a recording TLS
# server, presenting CERT; the shim must refuse both.
bad_server() {
	local cert=$1 key=$2 ere=$3
	start_tls_redis --tls-cert-file "$cert" --tls-key-file "$key" || return
	run_cli "$REDIS_PORT"
	client_failed
	assert_one_shim_error "$ere"
	not_stored "$REDIS_PORT"
	stop_pid "$REDIS_PID"

	start_record_server tls "$(basename "$cert" .crt)" --cert "$cert" --key "$key" || return
	run_cli "$REC_PORT"
	client_failed
	assert_one_shim_error "$ere"
	nothing_received
	stop_pid "$REC_PID"
}

case_other_ca() {
	bad_server "$PKI/server-other-ca.crt" "$PKI/server-other-ca.key" \
		"verif|certificate|issuer|unknown ca"
}

case_wrong_name() {
	# The line names what the server presented.
	bad_server "$PKI/server-wrongname.crt" "$PKI/server-wrongname.key" "wrong\.example"
}

case_expired() {
	bad_server "$PKI/server-expired.crt" "$PKI/server-expired.key" "expired"
}

# ------------------------------------------- expired CA / intermediate

DATED=$T_TMP/dated # this file's own CAs with past dates
mkdir -p "$DATED"

dossl() {
	openssl "$@" 2>"$DATED/ossl.err" && return 0
	fail "openssl $1: $(cat "$DATED/ossl.err")"
}

# dated_sign ISSUER NAME CN START END EXTS: $DATED/NAME.crt/.key, signed by
# ISSUER (a path prefix: ISSUER.crt/.key; "self" for a self-signed one),
# valid from START to END (YYYYMMDDHHMMSSZ; `openssl ca` can back-date).
dated_sign() {
	local issuer=$1 name=$2 cn=$3 start=$4 end=$5 exts=$6 db=$DATED/db-$2
	local -a by=(-cert "$issuer.crt" -keyfile "$issuer.key")
	mkdir -p "$db"
	: >"$db/index.txt"
	echo 1000 >"$db/serial"
	printf '%s\n' "$exts" >"$DATED/$name.ext"
	printf '%s\n' "[ ca ]" "default_ca = test" "[ test ]" \
		"database = $db/index.txt" "new_certs_dir = $db" "serial = $db/serial" \
		"default_md = sha256" "policy = anything" "unique_subject = no" \
		"copy_extensions = none" "[ anything ]" "organizationName = optional" \
		"commonName = supplied" >"$DATED/$name.cnf"
	dossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DATED/$name.key" || return
	dossl req -new -key "$DATED/$name.key" -subj "/O=redis-tls-shim test/CN=$cn" \
		-out "$DATED/$name.csr" || return
	[ "$issuer" = self ] && by=(-selfsign -keyfile "$DATED/$name.key")
	dossl ca -batch -config "$DATED/$name.cnf" "${by[@]}" -notext \
		-startdate "$start" -enddate "$end" -extfile "$DATED/$name.ext" \
		-in "$DATED/$name.csr" -out "$DATED/$name.crt"
}

CA_EXT='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign'
LEAF_EXT='basicConstraints=critical,CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1'
NOW=$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)
LATER=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)

case_expired_ca() {
	# The CA in the CA file expired; the server's own certificate is
	# valid.  The line names the CA, its file and its dates.
	dated_sign self old-ca "expired test CA" 20200101000000Z 20200102000000Z "$CA_EXT" || return
	dated_sign "$DATED/old-ca" old-ca-server localhost "$NOW" "$LATER" "$LEAF_EXT" || return
	start_tls_redis --tls-cert-file "$DATED/old-ca-server.crt" \
		--tls-key-file "$DATED/old-ca-server.key" || return
	# A bundle where one CA (the server's) expired passes --check-config
	# (the wrapper's), with a warning; the handshake then fails.
	cat "$PKI/ca.crt" "$DATED/old-ca.crt" >"$DATED/mixed-bundle.crt"
	run_cli "$REDIS_PORT" --cacert "$DATED/mixed-bundle.crt" --cert "$PKI/client.crt" --key "$PKI/client.key"
	client_failed
	assert_one_shim_error "server certificate rejected: certificate has expired: it is the CA certificate from '[^']*mixed-bundle\.crt', subject 'CN=expired test CA,O=redis-tls-shim test', depth 1, valid 2020-01-01 00:00:00Z to 2020-01-02 00:00:00Z" || return
	not_stored "$REDIS_PORT"
	stop_pid "$REDIS_PID"
}

case_expired_intermediate() {
	# The root is valid; the intermediate the server sends expired.
	dated_sign "$PKI/ca" old-int "expired intermediate" 20200101000000Z 20200102000000Z "$CA_EXT" || return
	dated_sign "$DATED/old-int" old-int-server localhost "$NOW" "$LATER" "$LEAF_EXT" || return
	cat "$DATED/old-int-server.crt" "$DATED/old-int.crt" >"$DATED/old-int-chain.crt"
	start_tls_redis --tls-cert-file "$DATED/old-int-chain.crt" \
		--tls-key-file "$DATED/old-int-server.key" || return
	run_cli "$REDIS_PORT"
	client_failed
	assert_one_shim_error "certificate has expired: it is the intermediate CA certificate \(sent by the server\), subject 'CN=expired intermediate,O=redis-tls-shim test', depth 1, valid 2020-01-01 00:00:00Z to 2020-01-02 00:00:00Z" || return
	not_stored "$REDIS_PORT"
	stop_pid "$REDIS_PID"
}

case_check_config_expired_ca() {
	# One expired CA among valid ones: a warning naming it and its dates,
	# and the configuration is still accepted.  Only expired ones: refused.
	[ -e "$DATED/old-ca.crt" ] || dated_sign self old-ca "expired test CA" 20200101000000Z 20200102000000Z "$CA_EXT" || return
	cat "$PKI/ca.crt" "$DATED/old-ca.crt" >"$DATED/mixed-bundle.crt"
	t_run "$T_RUN" --endpoint "127.0.0.1:6379" --cacert "$DATED/mixed-bundle.crt" --check-config
	assert_rc 0 "--check-config with one expired CA among valid ones" || return
	assert_match "$T_ERR" "the CA certificate 'CN=expired test CA,O=redis-tls-shim test' in '[^']*mixed-bundle\.crt' has expired \(valid 2020-01-01 00:00:00Z to 2020-01-02 00:00:00Z\)" \
		"--check-config's warning" || return
	assert_eq 1 "$(grep -c 'expired test CA' <<<"$T_ERR")" "warnings naming the expired CA"
	assert_contains "$T_ERR" "configuration OK" "--check-config's verdict"

	t_run "$T_RUN" --endpoint "127.0.0.1:6379" --cacert "$DATED/old-ca.crt" --check-config
	assert_rc 2 "--check-config with only an expired CA" || return
	assert_match "$T_ERR" "no certificate in the CA file '[^']*old-ca\.crt' is valid now" "--check-config's error"
}

# bad_client ERE WRAPPER-FLAGS...: a server that requires a client
# certificate from the test CA refuses the client's.
bad_client() {
	local ere=$1
	shift
	start_tls_redis || return
	run_cli "$REDIS_PORT" "$@"
	client_failed
	assert_one_shim_error "$ere"
	assert_eq 0 "$(rcli_native EXISTS "$M")" "EXISTS marker on the server"
	stop_pid "$REDIS_PID"

	start_record_server tls "client-$RANDOM" --cert "$PKI/server.crt" \
		--key "$PKI/server.key" --client-ca "$PKI/ca.crt" || return
	run_cli "$REC_PORT" "$@"
	client_failed
	assert_one_shim_error "$ere"
	nothing_received
	stop_pid "$REC_PID"
}

case_no_client_cert() {
	bad_client "certificate|alert|handshake|closed|reset" --cacert "$PKI/ca.crt"
}

case_client_other_ca() {
	bad_client "certificate|alert|unknown ca|handshake|closed|reset" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client-other-ca.crt" --key "$PKI/client-other-ca.key"
}

case_not_tls_record() {
	start_record_server plain not-tls || return
	run_cli "$REC_PORT"
	client_failed
	assert_one_shim_error "tls|handshake|wrong version|record|protocol"
	nothing_received
	stop_pid "$REC_PID"
}

case_not_tls_redis() {
	# A plaintext redis-server usually waits for the end of the "inline
	# command" the ClientHello looks like to it: the handshake times out
	# (1 s here).  redis-cli then connects a second time, so there is one
	# line per attempt: the same line.
	start_plain_redis || return
	export REDIS_TLS_HANDSHAKE_TIMEOUT_MS=1000
	run_cli "$PLAIN_PORT"
	unset REDIS_TLS_HANDSHAKE_TIMEOUT_MS
	client_failed
	assert_same_shim_error "tls|handshake|wrong version|record|protocol"
	assert_eq 0 "$(redis-cli -h 127.0.0.1 -p "$PLAIN_PORT" EXISTS "$M")" \
		"EXISTS marker on the plaintext server"
	stop_pid "$PLAIN_PID"
}

case_peer() {
	# case_peer MODE ERE: record_server in MODE (garbage, close)
	start_record_server "$1" "$1" || return
	run_cli "$REC_PORT"
	client_failed
	assert_one_shim_error "$2"
	nothing_received
	stop_pid "$REC_PID"
}

case_stall() {
	# A peer that never answers the handshake: the handshake timeout ends
	# it, not the test's.
	local conf=$T_TMP/stall.conf t0
	start_record_server stall stall || return
	cat >"$conf" <<EOF
version = 1;
defaults = { ca_file = "$PKI/ca.crt"; cert_file = "$PKI/client.crt";
             key_file = "$PKI/client.key"; handshake_timeout_ms = 1000; };
endpoints = ( { match = "127.0.0.1:$REC_PORT"; } );
EOF
	t0=$SECONDS
	T_TIMEOUT=20 t_run "$T_RUN" --config "$conf" -- \
		redis-cli -h 127.0.0.1 -p "$REC_PORT" SET "$M" 1
	client_failed
	assert_one_shim_error "time"
	[ $((SECONDS - t0)) -le 8 ] || fail "took $((SECONDS - t0))s for a 1s handshake timeout"
	nothing_received
	stop_pid "$REC_PID"
}

case_double_tls() {
	# A program that speaks TLS itself, through the shim configured for
	# the same endpoint: TLS inside TLS.  It must fail at once (well within
	# the handshake timeout) and say why, not hang.
	local t0
	start_tls_redis || return
	export REDIS_TLS_HANDSHAKE_TIMEOUT_MS=3000
	t0=$SECONDS
	T_TIMEOUT=20 t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" -- \
		redis-cli --tls --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" \
		-h 127.0.0.1 -p "$REDIS_PORT" SET "$M" 1
	unset REDIS_TLS_HANDSHAKE_TIMEOUT_MS
	client_failed
	[ $((SECONDS - t0)) -le 3 ] || fail "took $((SECONDS - t0))s: longer than the 3s handshake timeout"
	assert_one_shim_error "error: 127\.0\.0\.1:$REDIS_PORT: the program already speaks TLS to this endpoint.*turn off the program's own TLS.*remove this endpoint"
	assert_eq 0 "$(rcli_native EXISTS "$M")" "EXISTS marker on the server"
	stop_pid "$REDIS_PID"
}

# ------------------------------------------------------- configuration

# bad_conf NAME ERE BODY: a configuration file that must be rejected,
# (1) by the wrapper before the command runs, naming file and line, and
# (2) by the preloaded library: every outbound TCP connect fails, nothing
# reaches the network.
bad_conf() {
	local name=$1 ere=$2 body=$3 conf
	conf=$T_TMP/conf-$name/bad.conf
	mkdir -p "$(dirname "$conf")"
	cp "$PKI"/{ca.crt,client.crt,client.key,client-enc.key,client-other-ca.key} "$(dirname "$conf")/"
	printf '%s\n' "$body" >"$conf"

	t_run "$T_RUN" --config "$conf" -- sh -c 'echo COMMAND-RAN'
	assert_rc 2 "wrapper with a bad configuration"
	assert_not_contains "$T_OUT" COMMAND-RAN "wrapper output (the command must not run)"
	assert_match "$T_ERR" "$ere" "wrapper's error"
	assert_match "$T_ERR" "bad\.conf:[0-9]+" "wrapper's error (file:line)"

	start_record_server plain "conf-$name" || return
	t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_CONFIG="$conf" \
		redis-cli -h 127.0.0.1 -p "$REC_PORT" SET "$M" 1
	client_failed
	assert_one_shim_error "$ere"
	assert_match "$(shim_log_lines "$T_ERR")" "bad\.conf:[0-9]+" "shim's error (file:line)"
	assert_eq 0 "$(rec_connections)" "connections that reached the server"
	nothing_received
	stop_pid "$REC_PID"
}

GOOD_DEFAULTS='ca_file = "ca.crt"; cert_file = "client.crt"; key_file = "client.key";'

case_conf_unknown_key() {
	bad_conf unknown-key "colour" "version = 1;
defaults = { $GOOD_DEFAULTS
  colour = \"blue\"; };
endpoints = ( { match = \"127.0.0.1:6379\"; } );"
}

case_conf_missing_file() {
	bad_conf missing-file "no-such-ca\.crt" "version = 1;
defaults = { ca_file = \"no-such-ca.crt\";
  cert_file = \"client.crt\"; key_file = \"client.key\"; };
endpoints = ( { match = \"127.0.0.1:6379\"; } );"
}

case_conf_key_mismatch() {
	bad_conf key-mismatch "match|mismatch|does not" "version = 1;
defaults = { ca_file = \"ca.crt\"; };
endpoints = ( { match = \"127.0.0.1:6379\";
  cert_file = \"client.crt\"; key_file = \"client-other-ca.key\"; } );"
}

case_conf_bad_match() {
	bad_conf bad-match "match|spec|port" "version = 1;
defaults = { $GOOD_DEFAULTS };
endpoints = ( { match = \"127.0.0.1:99999\"; } );"
}

case_conf_bad_match_v6() {
	bad_conf bad-match-v6 "match|spec|\[" "version = 1;
defaults = { $GOOD_DEFAULTS };
endpoints = ( { match = \"[::1:6379\"; } );"
}

case_conf_verify_none() {
	bad_conf verify-none "insecure" "version = 1;
defaults = { $GOOD_DEFAULTS
  verify = \"none\"; };
endpoints = ( { match = \"127.0.0.1:6379\"; } );"
}

case_conf_no_passphrase() {
	bad_conf no-passphrase "passphrase|decrypt|encrypted|key" "version = 1;
defaults = { ca_file = \"ca.crt\"; cert_file = \"client.crt\";
  key_file = \"client-enc.key\"; };
endpoints = ( { match = \"127.0.0.1:6379\"; } );"
}

case_env_bad_match() {
	# Through the environment the error names the variable.
	t_run "$T_RUN" --endpoint "127.0.0.1:notaport" --cacert "$PKI/ca.crt" -- \
		sh -c 'echo COMMAND-RAN'
	assert_rc 2 "wrapper with a bad --endpoint"
	assert_not_contains "$T_OUT" COMMAND-RAN "wrapper output"
	assert_match "$T_ERR" "notaport" "wrapper's error"

	start_record_server plain env-bad-match || return
	t_run env LD_PRELOAD="$T_LIB" REDIS_TLS_ENDPOINTS="127.0.0.1:notaport" \
		REDIS_TLS_CA_FILE="$PKI/ca.crt" redis-cli -h 127.0.0.1 -p "$REC_PORT" SET "$M" 1
	client_failed
	assert_one_shim_error "REDIS_TLS_ENDPOINTS"
	assert_eq 0 "$(rec_connections)" "connections that reached the server"
	stop_pid "$REC_PID"
}

case_wrong_passphrase() {
	local pf=$T_TMP/wrong-pass.txt
	echo "not-the-passphrase" >"$pf"
	t_run "$T_RUN" --endpoint "127.0.0.1:6379" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client-enc.key" \
		--key-passphrase-file "$pf" -- sh -c 'echo COMMAND-RAN'
	assert_rc 2 "wrapper with a wrong passphrase"
	assert_not_contains "$T_OUT" COMMAND-RAN "wrapper output"
	assert_match "$T_ERR" "passphrase|decrypt|key" "wrapper's error"
	assert_not_contains "$T_ERR" "not-the-passphrase" "wrapper's error (no key material)"
}

t_case "server signed by another CA" case_other_ca
t_case "server certificate for another name" case_wrong_name
t_case "expired server certificate" case_expired
t_case "expired CA certificate (CA file): the line names it and its dates" case_expired_ca
t_case "expired intermediate (sent by the server): named with its dates" case_expired_intermediate
t_case "--check-config: an expired CA in the CA file is named, others still valid" case_check_config_expired_ca
t_case "no client certificate where required" case_no_client_cert
t_case "client certificate from another CA" case_client_other_ca
t_case "not TLS at all (recording server)" case_not_tls_record
t_case "not TLS at all (plaintext redis-server)" case_not_tls_redis
t_case "peer sends garbage" case_peer garbage "tls|handshake|wrong version|record|protocol|packet"
t_case "peer closes at once" case_peer close "closed|eof|reset|handshake"
t_case "peer never answers: handshake timeout" case_stall
t_case "program already speaks TLS (redis-cli --tls through the shim)" case_double_tls
t_case "config: unknown key" case_conf_unknown_key
t_case "config: missing file" case_conf_missing_file
t_case "config: key does not match certificate" case_conf_key_mismatch
t_case "config: malformed match spec (port)" case_conf_bad_match
t_case "config: malformed match spec ([IPv6)" case_conf_bad_match_v6
t_case "config: verify = none without insecure" case_conf_verify_none
t_case "config: encrypted key without passphrase" case_conf_no_passphrase
t_case "env: malformed REDIS_TLS_ENDPOINTS" case_env_bad_match
t_case "wrong key passphrase" case_wrong_passphrase
# A connection whose handshake failed, held open by the program: its
# error stays for SO_ERROR, and the shim spends nothing on it meanwhile
# (its hung-up socketpair end is not watched any more).
case_failed_held_open() {
	start_tls_redis --tls-cert-file "$PKI/server-other-ca.crt" --tls-key-file "$PKI/server-other-ca.key" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" -- "$T_PY" -c '
import resource, select, socket, sys, time
s = socket.socket(); s.setblocking(False)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except BlockingIOError:
    pass
select.select([], [s], [], 5)
print("SO_ERROR", s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
t0 = resource.getrusage(resource.RUSAGE_SELF)
time.sleep(3)
t1 = resource.getrusage(resource.RUSAGE_SELF)
print("cpu_ms", int((t1.ru_utime + t1.ru_stime - t0.ru_utime - t0.ru_stime) * 1000))
s.close()' "$REDIS_PORT"
	stop_pid "$REDIS_PID"
	assert_contains "$T_OUT" "SO_ERROR 13" "SO_ERROR after the refused handshake (EACCES)" || return
	local ms
	ms=$(sed -n 's/^cpu_ms //p' <<<"$T_OUT")
	[ -n "$ms" ] && [ "$ms" -lt 1000 ] || fail "CPU spent in 3 s holding the failed socket: ${ms:-?} ms (a busy loop?)"
}
t_case "a failed connection held open keeps its error and costs no CPU" case_failed_held_open
t_done
