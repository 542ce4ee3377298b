#!/bin/bash
# Operating the shim, against real TLS redis-servers: redis-tls-run --check
# (passing, and failing for the right reason), --print-env (eval'd and used),
# the container entrypoint from a clean environment (good and bad variables,
# the PID kept, signals delivered), public-key pins, a revoked server
# certificate (CRL), certificates and CAs rotated under a client that keeps
# connecting, a broken new file, REDIS_TLS_STATS, SSLKEYLOGFILE and the
# expiry warnings.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119,SC2016
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

T_ENTRY=$T_ROOT/scripts/redis-tls-entrypoint
OP=$T_TMP/pki # this file's own certificates, signed by the test CAs
mkdir -p "$OP"
CLEAN_PATH=/usr/local/bin:/usr/bin:/bin

# The clean environment still names the library when the build under test
# is not the source tree's default (BUILD=..., REDIS_TLS_LIB=...).
CLEAN_LIB=()
[ "$T_LIB" = "$T_ROOT/build/libredistls.so" ] || CLEAN_LIB=("REDIS_TLS_LIB=$T_LIB")

# ------------------------------------------------------------ helpers

ossl() {
	openssl "$@" 2>"$OP/ossl.err" && return 0
	fail "openssl $1: $(cat "$OP/ossl.err")"
}

# leaf CA NAME CN DAYS server|client: NAME.crt/.key in $OP, signed by CA
# ($PKI/CA.crt/.key), valid DAYS days from now.
leaf() {
	local ca=$1 name=$2 cn=$3 days=$4 kind=$5 ext=$OP/$2.ext
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OP/$name.key" || return
	ossl req -new -key "$OP/$name.key" -subj "/O=redis-tls-shim test/CN=$cn" -out "$OP/$name.csr" || return
	if [ "$kind" = server ]; then
		printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$ext"
	else
		printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$ext"
	fi
	ossl x509 -req -in "$OP/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
		-set_serial "0x1$(od -An -N7 -tx1 /dev/urandom | tr -d ' \n')" -sha256 \
		-days "$days" -extfile "$ext" -out "$OP/$name.crt" || return
	rm -f "$OP/$name.csr" "$ext"
}

# pin_of CERT: base64 SHA-256 of its public key (curl --pinnedpubkey).
pin_of() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | openssl base64
}

# swap_in SRC DST: replace DST by a copy of SRC with one rename(2), as a
# careful operator (or a Kubernetes Secret volume) does.
swap_in() {
	cp "$1" "$DST_TMP" && mv -f "$DST_TMP" "$2"
}
DST_TMP=$T_TMP/swap.tmp

# "${CLEAN[@]}" VAR=VALUE... CMD...: as a container runs it.
CLEAN=(env -i PATH="$CLEAN_PATH" "${CLEAN_LIB[@]}")

# The settings of the default TLS server, as REDIS_TLS_* variables.
good_vars() {
	GOOD=("REDIS_TLS_ENDPOINTS=127.0.0.1:$REDIS_PORT" "REDIS_TLS_CA_FILE=$PKI/ca.crt"
		"REDIS_TLS_CERT_FILE=$PKI/client.crt" "REDIS_TLS_KEY_FILE=$PKI/client.key")
}
good_vars

# start_extra_tls NAME [REDIS-SERVER ARGS...]: another TLS redis-server;
# sets NAME_PORT (e.g. CRL_PORT).
start_extra_tls() {
	local name=$1
	shift
	_start_redis tls "$@" || return 1
	printf -v "${name}_PORT" '%s' "$_PORT"
}

# ------------------------------------------------------------ --check

case_check_ok() {
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --endpoint "localhost:$REDIS_PORT" \
		--endpoint '10.0.0.0/8:6379' --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" --check
	assert_rc 0 "--check against a good server" || return
	local want
	for want in "endpoint '127.0.0.1:$REDIS_PORT'" "endpoint 'localhost:$REDIS_PORT'" \
		"protocol     TLSv1.3, cipher TLS_" "subject 'CN=localhost,O=redis-tls-shim test'" \
		"SANs DNS:localhost,IP:127.0.0.1" "issuer 'CN=redis-tls-shim test CA" \
		"expires      in " "client cert  'CN=test client,O=redis-tls-shim test' from $PKI/client.crt" \
		"PING -> +PONG" "resumed      yes" "verdict      OK" \
		"endpoint '10.0.0.0/8:6379'" "skipped (not a single address)" \
		"3 endpoints: 2 ok, 0 failed, 1 skipped"; do
		assert_contains "$T_OUT" "$want" "--check's report" || return
	done
}

case_check_wrong_ca() {
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/other-ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --check
	assert_rc 1 "--check trusting another CA" || return
	assert_match "$T_OUT" "verdict +FAILED: TLS handshake: .*server certificate rejected" "the verdict"
	assert_not_contains "$T_OUT" "PING -> +PONG" "the report"
}

case_check_no_client_cert() {
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" --check
	assert_rc 1 "--check without a client certificate" || return
	assert_match "$T_OUT" "verdict +FAILED: .*requires a client certificate" "the verdict"
}

case_check_unreachable() {
	local port
	port=$(free_port)
	t_run "$T_RUN" --endpoint "127.0.0.1:$port" --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --check
	assert_rc 1 "--check of a closed port" || return
	assert_contains "$T_OUT" "verdict      FAILED: connect: Connection refused" "the verdict"
}

case_check_takes_no_command() {
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" --check -- redis-cli PING
	assert_rc 2 "--check with a command" || return
	assert_contains "$T_ERR" "runs no command" "the refusal"
}

# ------------------------------------------------------------ --print-env

case_print_env_file() {
	# Relative paths, made absolute: the unit runs elsewhere.
	local envfile=$T_TMP/shim.env line
	(cd "$PKI" && "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert ca.crt \
		--cert ./client.crt --key client.key --print-env) >"$envfile" 2>"$T_TMP/pe.err"
	assert_eq 0 "$?" "--print-env's status ($(cat "$T_TMP/pe.err"))" || return
	for line in "REDIS_TLS_ENDPOINTS=127.0.0.1:$REDIS_PORT" "REDIS_TLS_CA_FILE=$PKI/ca.crt" \
		"REDIS_TLS_CERT_FILE=$PKI/client.crt" "REDIS_TLS_KEY_FILE=$PKI/client.key" \
		"LD_PRELOAD=$T_LIB"; do
		grep -qxF -- "$line" "$envfile" || fail "--print-env lacks $line: $(cat "$envfile")"
	done
	# As an env file (docker --env-file, systemd EnvironmentFile=).
	mapfile -t lines < <(grep -v '^#' "$envfile")
	t_run env -i PATH="$CLEAN_PATH" "${lines[@]}" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_rc 0 "redis-cli with the printed environment" || return
	assert_eq PONG "$T_OUT" "PING with the printed environment"
}

case_print_env_shell() {
	# A CA path with a space and a quote: the export lines quote it.
	local dir="$T_TMP/dir with space" out=$T_TMP/shim.sh
	mkdir -p "$dir"
	cp "$PKI/ca.crt" "$dir/it's ca.pem"
	"$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$dir/it's ca.pem" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" --print-env=shell >"$out" 2>"$T_TMP/pe.err"
	assert_eq 0 "$?" "--print-env=shell's status ($(cat "$T_TMP/pe.err"))" || return
	assert_contains "$(cat "$out")" "export LD_PRELOAD='$T_LIB'" "--print-env=shell" || return
	t_run env -i PATH="$CLEAN_PATH" "${CLEAN_LIB[@]}" bash -c \
		'eval "$(cat "$1")" && printf "%s\n" "$REDIS_TLS_CA_FILE" >&2 && exec redis-cli -h 127.0.0.1 -p "$2" PING' \
		_ "$out" "$REDIS_PORT"
	assert_rc 0 "redis-cli after eval of --print-env=shell" || return
	assert_eq PONG "$T_OUT" "PING after eval"
	assert_contains "$T_ERR" "$dir/it's ca.pem" "REDIS_TLS_CA_FILE after eval"
}

case_print_env_checks_config() {
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cert "$PKI/client.crt" \
		--key "$PKI/server.key" --print-env
	assert_rc 2 "--print-env of a key that does not match" || return
	assert_eq "" "$T_OUT" "--print-env's output when rejected"
	assert_contains "$T_ERR" "does not match" "the reason"
}

# ------------------------------------------------------------ entrypoint

case_entrypoint_ok() {
	t_run "${CLEAN[@]}" "${GOOD[@]}" "$T_ENTRY" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_rc 0 "the entrypoint with good variables" || return
	assert_eq PONG "$T_OUT" "PING through the entrypoint"
	assert_eq "" "$T_ERR" "the entrypoint's stderr"
}

# entry_refused WHAT ERE VAR=VALUE...: status 2, stderr matches ERE, the
# command never ran.
entry_refused() {
	local what=$1 ere=$2
	shift 2
	t_run "${CLEAN[@]}" "$@" "$T_ENTRY" sh -c 'echo COMMAND-RAN'
	assert_rc 2 "$what" || return
	assert_not_contains "$T_OUT" COMMAND-RAN "$what: the command"
	assert_match "$T_ERR" "$ere" "$what: the message"
}

case_entrypoint_bad() {
	local ep=REDIS_TLS_ENDPOINTS=127.0.0.1:$REDIS_PORT
	entry_refused "no endpoint" "set REDIS_TLS_ENDPOINTS" "REDIS_TLS_CA_FILE=$PKI/ca.crt"
	entry_refused "missing CA file" "REDIS_TLS_CA_FILE=$T_TMP/none.pem: no such file" \
		"$ep" "REDIS_TLS_CA_FILE=$T_TMP/none.pem"
	entry_refused "misspelt variable" "REDIS_TLS_CA_FIEL: not a variable" \
		"$ep" "REDIS_TLS_CA_FIEL=$PKI/ca.crt"
	entry_refused "certificate without key" "REDIS_TLS_KEY_FILE is not" \
		"$ep" "REDIS_TLS_CERT_FILE=$PKI/client.crt"
	entry_refused "key of another certificate" "REDIS_TLS_KEY_FILE: the private key does not match the certificate" \
		"$ep" "REDIS_TLS_CERT_FILE=$PKI/client.crt" "REDIS_TLS_KEY_FILE=$PKI/server.key"
	entry_refused "expired certificate" "the client certificate .*server-expired.crt.* expired on 2020-01-02" \
		"$ep" "REDIS_TLS_CERT_FILE=$PKI/server-expired.crt" "REDIS_TLS_KEY_FILE=$PKI/server-expired.key"
	entry_refused "bad match spec" "REDIS_TLS_ENDPOINTS" "REDIS_TLS_ENDPOINTS=127.0.0.1:99999"
	entry_refused "unset passphrase variable" "names NO_SUCH_VAR, which is not set" \
		"$ep" "REDIS_TLS_CERT_FILE=$PKI/client.crt" "REDIS_TLS_KEY_FILE=$PKI/client-enc.key" \
		REDIS_TLS_KEY_PASSPHRASE_ENV=NO_SUCH_VAR
	if [ "$(id -u)" != 0 ]; then
		cp "$PKI/client.key" "$T_TMP/unreadable.key"
		chmod 000 "$T_TMP/unreadable.key"
		entry_refused "unreadable key" "not readable by uid" "$ep" \
			"REDIS_TLS_CERT_FILE=$PKI/client.crt" "REDIS_TLS_KEY_FILE=$T_TMP/unreadable.key"
	fi
	t_run "${CLEAN[@]}" "${GOOD[@]}" "$T_ENTRY"
	assert_rc 2 "the entrypoint without a command"
}

case_entrypoint_expiring_soon() {
	leaf ca soon-client "soon client" 5 client || return
	t_run "${CLEAN[@]}" "REDIS_TLS_ENDPOINTS=127.0.0.1:$REDIS_PORT" "REDIS_TLS_CA_FILE=$PKI/ca.crt" \
		"REDIS_TLS_CERT_FILE=$OP/soon-client.crt" "REDIS_TLS_KEY_FILE=$OP/soon-client.key" \
		"$T_ENTRY" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_rc 0 "a certificate expiring in 5 days still runs" || return
	assert_eq PONG "$T_OUT" "PING"
	assert_match "$T_ERR" "warning: .*the client certificate '$OP/soon-client.crt' \(subject 'CN=soon client.*'\) expires in [45] days" \
		"the warning before exec" || return
	# Once before exec, once when the program's shim loads it; not again
	# after its handshake (that one is hourly).
	assert_eq 2 "$(grep -c "the client certificate .* expires in" <<<"$T_ERR")" \
		"client certificate warnings"
}

case_entrypoint_keeps_pid() {
	# sh prints its PID, then execs the entrypoint, which execs sh again:
	# one process throughout.
	t_run "${CLEAN[@]}" "${GOOD[@]}" sh -c 'echo $$; exec "$0" sh -c "echo \$\$"' "$T_ENTRY"
	assert_rc 0 "the PID probe" || return
	local first second
	first=$(sed -n 1p <<<"$T_OUT") second=$(sed -n 2p <<<"$T_OUT")
	[ -n "$first" ] || { fail "no PID printed: $T_OUT $T_ERR"; return; }
	assert_eq "$first" "$second" "the command's PID (the entrypoint's own)"
}

case_entrypoint_signals() {
	# SIGTERM to the PID the entrypoint started as reaches the program.
	local pid t0=$SECONDS
	"${CLEAN[@]}" "${GOOD[@]}" "$T_ENTRY" sleep 30 &
	pid=$!
	t_track "$pid"
	wait_until 10 sh -c "ps -o comm= -p $pid | grep -qx sleep" || {
		fail "the entrypoint did not become sleep: $(ps -o args= -p "$pid")"
		return
	}
	term_status "$pid" || return
	[ $((SECONDS - t0)) -lt 10 ] || fail "SIGTERM took $((SECONDS - t0)) s to act"
}

case_entrypoint_static() {
	# A static program under the entrypoint runs under the supervisor:
	# verified TLS, and SIGTERM to the PID the entrypoint started as
	# reaches it (the supervisor forwards it), its status the exit status.
	local sc pid
	sc=$(static_client) || return
	t_run "${CLEAN[@]}" "${GOOD[@]}" "$T_ENTRY" "$sc" 127.0.0.1 "$REDIS_PORT" ping
	assert_rc 0 "a static program" || return
	assert_eq PONG "$T_OUT" "its PING over verified TLS" || return
	"${CLEAN[@]}" "${GOOD[@]}" "$T_ENTRY" "$sc" 127.0.0.1 "$REDIS_PORT" cmd BLPOP op:static:never 30 \
		>"$T_TMP/blpop.out" 2>&1 &
	pid=$!
	t_track "$pid"
	wait_until 10 sh -c "ps -o comm= --ppid $pid | grep -qx static_client" || {
		fail "the static program did not start under $pid: $(ps -o args= -p "$pid")"
		return
	}
	term_status "$pid"
}

# ------------------------------------------------------------ pins

case_pin_match() {
	local good other
	good=$(pin_of "$PKI/server.crt")
	other=$(pin_of "$PKI/server-wrongname.crt")
	t_run "${SHIM[@]::${#SHIM[@]}-1}" --pin-sha256 "$other" --pin-sha256 "sha256//$good" -- \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_rc 0 "a pin that matches (the second of two)" || return
	assert_eq PONG "$T_OUT" "PING with a matching pin"
}

case_pin_mismatch() {
	local good other mark
	good=$(pin_of "$PKI/server.crt")
	other=$(pin_of "$PKI/server-wrongname.crt")
	mark=$(marker)
	t_run env REDIS_TLS_PIN_SHA256="$other" "${SHIM[@]}" \
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" SET pinned "$mark"
	assert_failed "redis-cli with a pin that does not match" || return
	assert_contains "$T_ERR" "Permission denied" "redis-cli's error (EACCES)"
	assert_same_shim_error "error: 127.0.0.1:$REDIS_PORT: the server's public key matches no pin of endpoint '127.0.0.1:$REDIS_PORT'" || return
	# (base64 holds regex characters: compared as text)
	assert_contains "$T_ERR" "expected pin_sha256 $other; server presented $good (subject 'CN=localhost,O=redis-tls-shim test'); connection refused" \
		"the pins in the error line" || return
	# Fail closed: the command never reached the server.
	assert_eq "" "$(rcli_native GET pinned)" "the key the refused SET would have written"
}

# ------------------------------------------------------------ CRL

# A CRL from the test CA, with an `openssl ca` database of our own.
crl_setup() {
	CRLDB=$OP/cadb
	mkdir -p "$CRLDB"
	: >"$CRLDB/index.txt"
	echo 01 >"$CRLDB/crlnumber"
	cat >"$OP/ca.cnf" <<EOF
[ ca ]
default_ca = test
[ test ]
database = $CRLDB/index.txt
crlnumber = $CRLDB/crlnumber
default_md = sha256
default_crl_days = 30
EOF
}

# gencrl FILE: the test CA's CRL of everything revoked so far.
gencrl() {
	ossl ca -config "$OP/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" -gencrl -out "$1"
}

case_crl_revoked() {
	crl_setup
	leaf ca revoked localhost 30 server || return
	gencrl "$OP/empty.crl" || return
	ossl ca -config "$OP/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" -revoke "$OP/revoked.crt" || return
	gencrl "$OP/revoked.crl" || return
	start_extra_tls CRL --tls-cert-file "$OP/revoked.crt" --tls-key-file "$OP/revoked.key" || return
	local run=("$T_RUN" --endpoint "127.0.0.1:$CRL_PORT" --cacert "$PKI/ca.crt"
		--cert "$PKI/client.crt" --key "$PKI/client.key")
	# The certificate is otherwise good: without the CRL it is accepted.
	t_run "${run[@]}" --crl-file "$OP/empty.crl" -- redis-cli -h 127.0.0.1 -p "$CRL_PORT" PING
	assert_eq PONG "$T_OUT" "PING with a CRL that revokes nothing" || return
	t_run "${run[@]}" --crl-file "$OP/revoked.crl" -- redis-cli -h 127.0.0.1 -p "$CRL_PORT" PING
	assert_failed "redis-cli to a server whose certificate is revoked" || return
	assert_same_shim_error "127.0.0.1:$CRL_PORT: server certificate rejected: certificate revoked; expected name '127.0.0.1'; server presented subject 'CN=localhost" || return
	# The same CRL does not stand in the way of the other servers.
	t_run "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" --crl-file "$OP/revoked.crl" -- redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_eq PONG "$T_OUT" "PING to a server whose certificate is not revoked"
}

# crl_reload_run CRL-PATH SWAP-COMMAND...: one process connects, then
# SWAP-COMMAND puts a CRL revoking the server in place, and the process
# connects again: refused, although the first connection left a session
# to resume (a reload drops them).
crl_reload_run() {
	[ -n "${CRL_PORT:-}" ] || { fail "needs the CRL server of the previous case"; return; }
	local crl=$1 go=$T_TMP/crl.go
	shift
	rm -f "$go" "$go.ready"
	"$T_RUN" --endpoint "127.0.0.1:$CRL_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" --crl-file "$crl" -- "$T_PY" -c '
import os, sys, time, redis
port, go = int(sys.argv[1]), sys.argv[2]
def ping():
    # single_connection_client: the constructor connects
    try:
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, single_connection_client=True)
        print("ping", r.ping(), flush=True)
        r.close()
    except Exception as e:
        print("ping error", e, flush=True)
ping()
open(go + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.02)
time.sleep(1.2)
ping()
' "$CRL_PORT" "$go" >"$T_TMP/crl.out" 2>"$T_TMP/crl.err" &
	local pid=$!
	t_track "$pid"
	wait_until 20 test -e "$go.ready" || { fail "the client did not connect: $(cat "$T_TMP/crl.err")"; return; }
	"$@" || { fail "swapping the CRL: $*"; return; }
	touch "$go"
	wait "$pid"
	T_OUT=$(cat "$T_TMP/crl.out") T_ERR=$(cat "$T_TMP/crl.err")
	assert_eq "ping True" "$(sed -n 1p <<<"$T_OUT")" "the first connection" || return
	assert_match "$(sed -n 2p <<<"$T_OUT")" "^ping error .*Permission denied" "the connection after the CRL changed" || return
	assert_match "$T_ERR" "notice: endpoint '127.0.0.1:$CRL_PORT': crl_file changed: reloaded" "the reload notice"
	assert_match "$T_ERR" "server certificate rejected: certificate revoked" "the refusal"
}

case_crl_reloaded() {
	cp "$OP/empty.crl" "$T_TMP/live.crl"
	crl_reload_run "$T_TMP/live.crl" swap_in "$OP/revoked.crl" "$T_TMP/live.crl"
}

# A Kubernetes Secret volume: FILE -> ..data/FILE, ..data -> ..TIMESTAMP/;
# the kubelet writes a new ..TIMESTAMP/ and renames a new ..data link over
# the old one.
kubelet_update() {
	local vol=$1 name=$2 src=$3 stamp
	stamp=..$(date +%Y_%m_%d_%H_%M_%S.%N)
	mkdir "$vol/$stamp"
	cp "$src" "$vol/$stamp/$name"
	ln -s "$stamp" "$vol/..data_tmp"
	mv -T "$vol/..data_tmp" "$vol/..data"
}

case_crl_secret_volume() {
	local vol=$T_TMP/secret-volume
	mkdir -p "$vol/..2000_01_01_00_00_00.0"
	cp "$OP/empty.crl" "$vol/..2000_01_01_00_00_00.0/crl.pem"
	ln -s ..2000_01_01_00_00_00.0 "$vol/..data"
	ln -s ..data/crl.pem "$vol/crl.pem"
	crl_reload_run "$vol/crl.pem" kubelet_update "$vol" crl.pem "$OP/revoked.crl"
}

# ------------------------------------------------------------ rotation

# The server: a certificate from the test CA (A) at first, trusting
# clients of A and of other-ca (B).  Its admin connection uses B's client.
rot_admin() {
	# shellcheck disable=SC2153 # ROT_PORT is set by start_extra_tls
	redis-cli --tls --cacert "$PKI/ca-bundle.crt" --cert "$PKI/client-other-ca.crt" \
		--key "$PKI/client-other-ca.key" -h 127.0.0.1 -p "$ROT_PORT" "$@"
}

rot_count() { grep -c "^$1 " "$ROT/loop.out" 2>/dev/null; }

# rot_more N: the loop made N more good connections, and no bad one.
rot_more() {
	local want=$(($(rot_count ok) + $1))
	wait_until 20 sh -c "[ \$(grep -c '^ok ' '$ROT/loop.out') -ge $want ]" ||
		fail "the client stopped connecting: $(tail -3 "$ROT/loop.out")"
	assert_eq 0 "$(rot_count err)" "failed connections so far ($(grep -m1 '^err ' "$ROT/loop.out"))"
}

# rot_reloads N: wait for the Nth reload notice of the client's shim.
rot_reloads() {
	wait_until 20 sh -c "[ \$(grep -c 'changed: reloaded' '$ROT/loop.err') -ge $1 ]" ||
		fail "reload $1 not seen: $(grep redis-tls-shim "$ROT/loop.err" | tail -3)"
}

case_rotation() {
	ROT=$T_TMP/rot
	mkdir -p "$ROT"
	cp "$PKI/ca.crt" "$ROT/ca.pem"
	cp "$PKI/client.crt" "$ROT/client.crt"
	cp "$PKI/client.key" "$ROT/client.key"
	start_extra_tls ROT --tls-ca-cert-file "$PKI/ca-bundle.crt" || return
	"$T_RUN" --endpoint "127.0.0.1:$ROT_PORT" --cacert "$ROT/ca.pem" --cert "$ROT/client.crt" \
		--key "$ROT/client.key" -- "$T_PY" -c '
import os, sys, time, redis
port, stop = int(sys.argv[1]), sys.argv[2]
i = 0
while not os.path.exists(stop):
    i += 1
    try:  # single_connection_client: the constructor connects
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, single_connection_client=True)
        r.ping()
        r.close()
        print("ok", i, flush=True)
    except Exception as e:
        print("err", i, e, flush=True)
    time.sleep(0.03)
' "$ROT_PORT" "$ROT/stop" >"$ROT/loop.out" 2>"$ROT/loop.err" &
	ROT_LOOP=$!
	t_track "$ROT_LOOP"
	rot_more 5 || return

	# A broken certificate: the old one stays, one warning says why.
	echo "not a certificate" >"$T_TMP/broken.crt"
	swap_in "$T_TMP/broken.crt" "$ROT/client.crt"
	wait_until 20 grep -q "cert_file changed but cannot be loaded; new connections keep using the previous certificates: .*cannot load the client certificate '$ROT/client.crt'" "$ROT/loop.err" ||
		{ fail "no warning for the broken file: $(grep redis-tls-shim "$ROT/loop.err" | tail -2)"; return; }
	rot_more 10 || return

	# The client's certificate and key replaced by B's; then the server
	# accepts B's clients only: new connections must be using the new pair.
	swap_in "$PKI/client-other-ca.key" "$ROT/client.key"
	swap_in "$PKI/client-other-ca.crt" "$ROT/client.crt"
	rot_reloads 1 || return
	rot_admin CONFIG SET tls-ca-cert-file "$PKI/other-ca.crt" >/dev/null || { fail "CONFIG SET tls-ca-cert-file"; return; }
	rot_more 10 || return
	# (control: a client still holding A's pair is refused now)
	t_run "$T_RUN" --endpoint "127.0.0.1:$ROT_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" -- redis-cli -h 127.0.0.1 -p "$ROT_PORT" PING
	assert_not_contains "$T_OUT" PONG "a client with the old certificate" || return

	# The CA: the client trusts A and B, the server moves to B's
	# certificate, the client trusts B only.
	swap_in "$PKI/ca-bundle.crt" "$ROT/ca.pem"
	rot_reloads 2 || return
	rot_admin CONFIG SET tls-cert-file "$PKI/server-other-ca.crt" tls-key-file "$PKI/server-other-ca.key" >/dev/null ||
		{ fail "CONFIG SET tls-cert-file"; return; }
	rot_more 10 || return
	swap_in "$PKI/other-ca.crt" "$ROT/ca.pem"
	rot_reloads 3 || return
	rot_more 10 || return

	# Proof that A is no longer trusted: the server goes back to A's
	# certificate, and new connections are refused.
	rot_admin CONFIG SET tls-cert-file "$PKI/server.crt" tls-key-file "$PKI/server.key" >/dev/null
	wait_until 20 grep -q '^err ' "$ROT/loop.out" || fail "connections to A's certificate still accepted"
	touch "$ROT/stop"
	wait "$ROT_LOOP"
	assert_match "$(cat "$ROT/loop.err")" "server certificate rejected: unable to get local issuer certificate" \
		"the refusal once A is no longer trusted"
	assert_eq 1 "$(grep -c ": cert_file changed but cannot be loaded" "$ROT/loop.err")" \
		"warnings about the broken file (one: the same files are not tried again)"
	echo "    # $(rot_count ok) connections, 3 reloads, one process"
}

# ------------------------------------------------------------ statistics

case_stats_log() {
	t_run env REDIS_TLS_STATS=1 "${SHIM[@]}" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_eq PONG "$T_OUT" "PING" || return
	# "*1\r\n$4\r\nPING\r\n" is 14 bytes, "+PONG\r\n" 7.
	assert_contains "$T_ERR" "notice: stats: connections=1 handshakes=1 (full=1 resumed=0) failures=0 (verify=0 pin=0 refused=0 not_tls=0 closed=0 unfinished=0 other=0) bytes_sent=14 bytes_received=7" \
		"the statistics line"
}

case_stats_file() {
	local stats=$T_TMP/stats.log line
	start_record_server plain stats || return
	t_run env REDIS_TLS_STATS="$stats" "$T_RUN" --endpoint "127.0.0.1:$REDIS_PORT" \
		--endpoint "127.0.0.1:$REC_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" -- "$T_PY" -c '
import sys, redis
good, bad = int(sys.argv[1]), int(sys.argv[2])
for _ in range(3):
    r = redis.Redis(host="127.0.0.1", port=good, single_connection_client=True)
    assert r.ping(); r.close()
try:
    redis.Redis(host="127.0.0.1", port=bad, single_connection_client=True).ping()
except redis.ConnectionError:
    print("refused")
' "$REDIS_PORT" "$REC_PORT"
	assert_rc 0 "the python client" || return
	assert_eq refused "$T_OUT" "the connection to a plaintext server" || return
	line=$(cat "$stats" 2>/dev/null)
	assert_eq 1 "$(grep -c . <<<"$line")" "lines in $stats" || return
	assert_match "$line" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z python3\[[0-9]+\]: stats: connections=4 handshakes=3 \(full=1 resumed=2\) failures=1 \(verify=0 pin=0 refused=0 not_tls=1 closed=0 unfinished=0 other=0\) bytes_sent=[1-9][0-9]* bytes_received=[1-9]" \
		"the statistics line"
}

# ------------------------------------------------------------ logging

case_keylog() {
	local keys=$T_TMP/keys.log
	t_run env SSLKEYLOGFILE="$keys" "${RCLI[@]}" PING
	assert_eq PONG "$T_OUT" "PING" || return
	assert_match "$T_ERR" "warning: SSLKEYLOGFILE=$keys: the TLS secrets of every connection are written there" "the warning" || return
	assert_file_has "$keys" "CLIENT_TRAFFIC_SECRET_0 " "the key log" || return
	assert_file_has "$keys" "SERVER_HANDSHAKE_TRAFFIC_SECRET " "the key log" || return
	assert_eq 600 "$(stat -c %a "$keys")" "the key log's mode"
	# The secrets go to that file only.
	assert_not_contains "$T_ERR" "TRAFFIC_SECRET" "stderr"
}

# keylog_refused PATH ERE: PING works with SSLKEYLOGFILE=PATH, the shim's
# one line is an error matching ERE, and no secret is written anywhere.
keylog_refused() {
	local path=$1 ere=$2
	t_run env SSLKEYLOGFILE="$path" "${RCLI[@]}" PING
	assert_eq PONG "$T_OUT" "PING with a refused SSLKEYLOGFILE" || return
	assert_one_shim_error "error: SSLKEYLOGFILE=.*: refused: $ere.*no TLS secrets are logged" || return
	assert_not_contains "$T_ERR" "TRAFFIC_SECRET" "stderr"
}

case_keylog_symlink() {
	local target=$T_TMP/keylog-target.log link=$T_TMP/keylog-link.log
	: >"$target"
	chmod 600 "$target"
	ln -sf "$target" "$link"
	keylog_refused "$link" "it is a symbolic link" || return
	assert_eq 0 "$(stat -c %s "$target")" "bytes written through the link"
	# A dangling link is not followed to create its target either.
	rm -f "$target"
	keylog_refused "$link" "it is a symbolic link" || return
	[ ! -e "$target" ] || fail "the link's target was created"
}

case_keylog_open_mode() {
	local keys=$T_TMP/keys-shared.log mode
	for mode in 644 640 604 620 602; do
		: >"$keys"
		chmod "$mode" "$keys"
		keylog_refused "$keys" "readable or writable by group or others \(mode 0$mode" || return
		assert_eq 0 "$(stat -c %s "$keys")" "bytes written to a $mode file"
		assert_eq "$mode" "$(stat -c %a "$keys")" "the refused file's mode (left alone)"
	done
}

case_keylog_existing_private() {
	# An existing private file is appended to, not replaced.
	local keys=$T_TMP/keys-private.log
	echo "# earlier line" >"$keys"
	chmod 600 "$keys"
	t_run env SSLKEYLOGFILE="$keys" "${RCLI[@]}" PING
	assert_eq PONG "$T_OUT" "PING" || return
	assert_eq "# earlier line" "$(head -1 "$keys")" "the key log's first line" || return
	assert_file_has "$keys" "CLIENT_TRAFFIC_SECRET_0 " "the key log"
}

case_keylog_new_umask() {
	# Created 0600 whatever the umask.
	local keys=$T_TMP/keys-umask.log
	t_run sh -c 'umask 000; exec "$@"' sh env SSLKEYLOGFILE="$keys" "${RCLI[@]}" PING
	assert_eq PONG "$T_OUT" "PING" || return
	assert_eq 600 "$(stat -c %a "$keys")" "the key log's mode under umask 000"
}

case_handshake_info_line() {
	t_run "${SHIM[@]::${#SHIM[@]}-1}" --log-level info -- redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	assert_eq PONG "$T_OUT" "PING" || return
	assert_match "$T_ERR" "info: 127.0.0.1:$REDIS_PORT: TLS handshake done: TLSv1\.3, TLS_[A-Z0-9_]+, verified '127\.0\.0\.1', resumed no, [0-9]+\.[0-9] ms" \
		"the handshake line"
}

case_server_expiry_warning() {
	leaf ca soon-server localhost 5 server || return
	start_extra_tls SOON --tls-cert-file "$OP/soon-server.crt" --tls-key-file "$OP/soon-server.key" || return
	t_run "$T_RUN" --endpoint "127.0.0.1:$SOON_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" -- redis-cli -h 127.0.0.1 -p "$SOON_PORT" PING
	assert_eq PONG "$T_OUT" "PING to a server whose certificate expires in 5 days" || return
	assert_same_shim_error "warning: 127.0.0.1:$SOON_PORT: the server certificate \(subject 'CN=localhost,O=redis-tls-shim test'\) expires in [45] days, on "
	# And in --check's report.
	t_run "$T_RUN" --endpoint "127.0.0.1:$SOON_PORT" --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" --check
	assert_rc 0 "--check" || return
	assert_match "$T_OUT" "expires +in [45] days \(.*\) - renew it soon" "--check's expiry line"
}

t_case "--check: protocol, certificates, resumption, verdict OK" case_check_ok
t_case "--check: server from another CA fails" case_check_wrong_ca
t_case "--check: no client certificate fails" case_check_no_client_cert
t_case "--check: unreachable endpoint fails" case_check_unreachable
t_case "--check takes no command" case_check_takes_no_command
t_case "--print-env: an env file redis-cli runs with (paths absolute)" case_print_env_file
t_case "--print-env=shell: eval'd, quoting kept" case_print_env_shell
t_case "--print-env refuses a bad configuration" case_print_env_checks_config
t_case "entrypoint, clean environment: PING" case_entrypoint_ok
t_case "entrypoint: bad variables refused, command not started" case_entrypoint_bad
t_case "entrypoint: certificate expiring in 5 days warned, runs" case_entrypoint_expiring_soon
t_case "entrypoint: the command keeps the PID (exec)" case_entrypoint_keeps_pid
t_case "entrypoint: SIGTERM reaches the program" case_entrypoint_signals
t_case "entrypoint: a static program under the supervisor, SIGTERM forwarded" case_entrypoint_static
t_case "pin_sha256: a matching pin" case_pin_match
t_case "pin_sha256: a pin that does not match refuses, nothing sent" case_pin_mismatch
t_case "CRL: revoked server certificate refused" case_crl_revoked
t_case "CRL: a new CRL applies to the next connection of a running client" case_crl_reloaded
t_case "CRL: the same through a Secret volume's ..data link swap" case_crl_secret_volume
t_case "rotation: client certificate and CA changed under a running client" case_rotation
t_case "REDIS_TLS_STATS=1: the line at exit, exact counts" case_stats_log
t_case "REDIS_TLS_STATS=FILE: resumed and failed handshakes counted" case_stats_file
t_case "SSLKEYLOGFILE: secrets written, warned" case_keylog
t_case "SSLKEYLOGFILE: a symbolic link is refused" case_keylog_symlink
t_case "SSLKEYLOGFILE: a file group or others can open is refused" case_keylog_open_mode
t_case "SSLKEYLOGFILE: an existing private file is appended to" case_keylog_existing_private
t_case "SSLKEYLOGFILE: created 0600 under umask 000" case_keylog_new_umask
t_case "one info line per handshake" case_handshake_info_line
t_case "server certificate expiring in 5 days: warned" case_server_expiry_warning
t_done
