#!/bin/bash
# redis-tls-run's remembered verdict (tools/check_cache.h): a configuration
# accepted once is not loaded again by redis-tls-ctl at the next run, but
# the verdict never hides one that has gone bad since: a key or
# certificate replaced (in place or by rename) or a variable changed is
# checked again and refused with the check's own message, and a client
# certificate that expires is refused from the second it does.  The
# records are the user's alone (a folder 0700, files 0600); a folder
# others may write is not used, nor is any with
# REDIS_TLS_RUN_CHECK_CACHE=0.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119,SC2016
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

CTL=$BUILD/redis-tls-ctl
RUNDIR=$T_TMP/run
REC=$RUNDIR/redis-tls-shim
mkdir -m 0700 "$RUNDIR"
export XDG_RUNTIME_DIR=$RUNDIR

# A copy of the client's files that the cases may change.
P=$T_TMP/pki
mkdir "$P"
cp "$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key" "$PKI/client-other-ca.key" "$P/"
# A record is made only of files that did not change in the second before
# the check (one changing meanwhile may have been read half old, half new).
sleep 1.2

ARGS=(--endpoint "127.0.0.1:$REDIS_PORT" --cacert "$P/ca.crt" --cert "$P/client.crt"
	--key "$P/client.key")

# ping [ENV...]: redis-cli PING through the wrapper (ARGS), with ENV.
ping() { t_run env "$@" "$T_RUN" "${ARGS[@]}" -- redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING; }

# rejected WHAT: the last run refused the configuration before the
# program, with the message the check itself gives.
rejected() {
	local what=$1 check
	assert_rc 2 "$what" || return
	assert_not_contains "$T_OUT" PONG "$what: the program ran" || return
	assert_contains "$T_ERR" "configuration rejected; redis-cli not started" "$what" || return
	check=$(env REDIS_TLS_ENDPOINTS="127.0.0.1:$REDIS_PORT" REDIS_TLS_CA_FILE="$P/ca.crt" \
		REDIS_TLS_CERT_FILE="$P/client.crt" REDIS_TLS_KEY_FILE="$P/client.key" \
		"${@:2}" "$CTL" check-config 2>&1)
	assert_contains "$T_ERR" "$check" "$what: the check's message"
}

records() { find "$REC" -maxdepth 1 -type f 2>/dev/null | wc -l; }

case_remembered() {
	ping
	assert_rc 0 "the first run" || return
	assert_eq PONG "$T_OUT" "the first run" || return
	assert_eq 1 "$(records)" "records after it" || return
	assert_eq 700 "$(stat -c %a "$REC")" "the folder's mode" || return
	assert_eq 600 "$(stat -c %a "$REC"/*)" "the record's mode" || return
	ping
	assert_rc 0 "the next run" || return
	assert_eq PONG "$T_OUT" "the next run"
}

case_key_replaced_in_place() {
	ping
	assert_eq PONG "$T_OUT" "before" || return
	cp "$P/client.key" "$P/client.key.good"
	cat "$P/client-other-ca.key" >"$P/client.key" # same inode, new bytes
	ping
	rejected "a key that no longer matches the certificate"
	cat "$P/client.key.good" >"$P/client.key"
	sleep 1.2
	ping
	assert_eq PONG "$T_OUT" "the key back"
}

case_cert_replaced_by_rename() {
	ping
	assert_eq PONG "$T_OUT" "before" || return
	cp "$P/client.crt" "$P/client.crt.good"
	cp "$PKI/client-other-ca.crt" "$P/new.crt"
	mv -f "$P/new.crt" "$P/client.crt" # a new inode under the name
	ping
	rejected "a certificate renamed over, for another key"
	mv -f "$P/client.crt.good" "$P/client.crt"
}

case_variable_changed() {
	sleep 1.2
	ping
	assert_eq PONG "$T_OUT" "before" || return
	ping REDIS_TLS_CIPHERSUITES=TLS_NO_SUCH_SUITE
	rejected "an unknown cipher suite in the environment" REDIS_TLS_CIPHERSUITES=TLS_NO_SUCH_SUITE
}

# short_cert SECONDS: $P/short.crt, for client.key, signed by the test CA
# and valid for SECONDS more.
short_cert() {
	local w=$T_TMP/ca-work end
	end=$(date -u -d "@$(($(date +%s) + $1))" +%Y%m%d%H%M%SZ)
	mkdir -p "$w/db"
	: >"$w/db/index.txt"
	echo 2000 >"$w/db/serial"
	cat >"$w/ca.cnf" <<EOF
[ ca ]
default_ca = test
[ test ]
database = $w/db/index.txt
new_certs_dir = $w/db
serial = $w/db/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
[ ext ]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
EOF
	if ! openssl req -new -key "$P/client.key" -subj "/CN=short-lived client" \
		-out "$w/short.csr" 2>"$w/ca.err" ||
		! openssl ca -batch -config "$w/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" \
			-notext -startdate 20200101000000Z -enddate "$end" -extensions ext \
			-in "$w/short.csr" -out "$P/short.crt" 2>"$w/ca.err"; then
		fail "cannot make a short-lived certificate: $(cat "$w/ca.err")"
		return 1
	fi
}

case_cert_expires() {
	local args=("${ARGS[@]}") i
	short_cert 6 || return
	sleep 1.2
	ARGS=(--endpoint "127.0.0.1:$REDIS_PORT" --cacert "$P/ca.crt" --cert "$P/short.crt"
		--key "$P/client.key")
	ping
	assert_eq PONG "$T_OUT" "a certificate valid a few seconds more" || { ARGS=("${args[@]}"); return; }
	ping
	assert_eq PONG "$T_OUT" "again, its verdict remembered" || { ARGS=("${args[@]}"); return; }
	for ((i = 0; i < 20; i++)); do
		openssl x509 -in "$P/short.crt" -noout -checkend 0 >/dev/null 2>&1 || break
		sleep 0.5
	done
	sleep 1
	ping
	assert_rc 2 "the certificate expired" &&
		assert_contains "$T_ERR" "expired on" "the check's reason" &&
		assert_not_contains "$T_OUT" PONG "the program ran"
	ARGS=("${args[@]}")
}

case_folder_not_private() {
	local open=$T_TMP/open
	mkdir -p "$open/redis-tls-shim"
	chmod 0777 "$open/redis-tls-shim"
	ping XDG_RUNTIME_DIR="$open"
	assert_eq PONG "$T_OUT" "with a folder others may write" || return
	assert_eq "" "$(ls -A "$open/redis-tls-shim")" "records written in it"
}

case_off() {
	local off=$T_TMP/off
	mkdir -m 0700 "$off"
	ping XDG_RUNTIME_DIR="$off" REDIS_TLS_RUN_CHECK_CACHE=0
	assert_eq PONG "$T_OUT" "REDIS_TLS_RUN_CHECK_CACHE=0" || return
	assert_eq "" "$(ls -A "$off")" "anything written"
}

# The system-wide file appearing after a record was made (no
# REDIS_TLS_CONFIG: the shim reads /etc/redis-tls-shim.conf as well as
# the variables): the record named no such file, and must not hide it.
# Made in a private mount namespace (an overlay on /etc, as 67-deb.sh),
# never on the host's /etc.
case_system_file_appears() {
	local upper=$T_TMP/etc-upper work=$T_TMP/etc-work
	[ ! -e /etc/redis-tls-shim.conf ] || { echo "    (the host has /etc/redis-tls-shim.conf; skipped)" >&2; return 0; }
	mkdir -p "$upper" "$work"
	printf 'endpoints = ( { match = "127.0.0.1:1"; ca_fiel = "x"; } );\n' >"$upper/redis-tls-shim.conf"
	ping
	assert_eq PONG "$T_OUT" "the run that makes the record" || return
	t_run unshare -m --propagation private sh -c '
		u=$1 w=$2; shift 2
		if ! mount -t overlay overlay -o "lowerdir=/etc,upperdir=$u,workdir=$w" /etc 2>/dev/null; then
			cp -a /etc/. "$w/etc" && cp "$u"/* "$w/etc/" && mount --bind "$w/etc" /etc || exit 99
		fi
		exec "$@"' in_ns "$upper" "$work" "$T_RUN" "${ARGS[@]}" -- redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING
	[ "$T_RC" -ne 99 ] || { fail "no overlay or bind mount on /etc in the namespace"; return; }
	assert_rc 2 "a broken /etc/redis-tls-shim.conf, after the record" || return
	assert_not_contains "$T_OUT" PONG "the program ran" || return
	assert_contains "$T_ERR" "configuration rejected; redis-cli not started" "the refusal" || return
	assert_contains "$T_ERR" "unknown key 'ca_fiel'" "the check's message"
}

t_case "an accepted configuration is remembered, privately" case_remembered
t_case "a key changed in place is checked again and refused" case_key_replaced_in_place
t_case "a certificate renamed over is checked again and refused" case_cert_replaced_by_rename
t_case "a changed variable is checked again and refused" case_variable_changed
t_case "a remembered verdict ends when the client certificate expires" case_cert_expires
t_case "a folder others may write is not used" case_folder_not_private
t_case "REDIS_TLS_RUN_CHECK_CACHE=0: nothing remembered" case_off
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	t_case "/etc/redis-tls-shim.conf appearing after a record is checked and refused (mount namespace)" \
		case_system_file_appears
fi
t_done
