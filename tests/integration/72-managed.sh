#!/bin/bash
# Local look-alikes of managed Redis services, each with the PKI shape and
# the announcements the service has, real TLS-only redis-servers on
# 127.0.0.1 and certificates made here (never the network); plain clients
# through the shim, configured as the README's "Managed services" section
# says:
#
#   Redis Cloud        a redis_ca.pem bundle (two roots, an intermediate),
#                      the server chain ending at either root, a client
#                      key under a passphrase, a rediss:// URL by name
#   per-node names     3 masters announced by IP, each certificate only
#                      DNS:nodeN.cluster.test: one CIDR spec, verify_name
#                      "*.cluster.test"
#   Azure-like         a non-clustered port and shard ports in a range
#                      under one service name
#   ElastiCache-like   a wildcard certificate *.cache.test on every node,
#                      nodes announced by host name, one "*.cache.test:*"
#   Memorystore-like   a per-instance CA, the IP in the subject CN, no SAN:
#                      refused unless verify_ip_in_cn
#
# The three cluster look-alikes are one cluster of 3 masters, given each
# service's certificates and announcements in turn (CONFIG SET), so that it
# is made once; they run first, in the order above from "per-node names".  Every wrong certificate (another CA, another name or
# domain) is refused with one line, and the command is nowhere in clear: a
# recording server or proxy (tests/servers/record_server.py) holds what the
# client sent, or the node's INFO commandstats shows no command reached it.
# shellcheck source-path=SCRIPTDIR source=cluster-lib.bash disable=SC2317,SC2119
source "$(dirname "$0")/cluster-lib.bash"
# The services' names resolve to 127.0.0.1 in a private mount namespace.
cl_private_hosts "$0" "$@"
# shellcheck source=../../scripts/testlib.sh
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
T_TIMEOUT=30

CLIENTS=$T_ROOT/tests/clients
CERTS=$T_TMP/certs
mkdir -p "$CERTS"

# Ports, one block: the cluster's nodes B..B+2 and a spare B+3 in the same
# range (a recording proxy or server in a node's place), its buses
# B+4..B+6; Redis Cloud B+7, another database's server B+8; the Azure-like
# non-clustered port B+9; Memorystore-like B+10, another instance B+11.
NPORTS=12
C=() # the cluster's nodes

# ------------------------------------------------------------------- PKI

# mk_ca NAME CN [PARENT]: $CERTS/NAME.{crt,key}, a root CA, or with PARENT
# (a name made by mk_ca) an intermediate CA it signs.
mk_ca() {
	local n=$CERTS/$1 cn=$2 parent=${3:-}
	{
		printf 'basicConstraints=critical,CA:TRUE\n'
		printf 'keyUsage=critical,keyCertSign,cRLSign\n'
		printf 'subjectKeyIdentifier=hash\n'
		[ -z "$parent" ] || printf 'authorityKeyIdentifier=keyid\n'
	} >"$n.ext"
	if ! { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$n.key" &&
		if [ -z "$parent" ]; then
			openssl req -x509 -new -key "$n.key" -sha256 -days 30 \
				-subj "/O=managed look-alike/CN=$cn" -extensions v3 \
				-config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$n.ext") \
				-out "$n.crt"
		else
			openssl req -new -key "$n.key" -subj "/O=managed look-alike/CN=$cn" -out "$n.csr" &&
				openssl x509 -req -in "$n.csr" -CA "$CERTS/$parent.crt" \
					-CAkey "$CERTS/$parent.key" -CAcreateserial -CAserial "$n.srl" \
					-days 30 -sha256 -extfile "$n.ext" -out "$n.crt"
		fi; } 2>"$n.err"; then
		fail "mk_ca $1: $(cat "$n.err")"
	fi
}

# mk_leaf NAME CN SAN CA: $CERTS/NAME.{crt,key}, a certificate for CN with
# subjectAltName SAN ("" for none), for server and client use (a cluster
# node is a client on the bus), signed by CA ($CERTS/CA, or a path without
# .crt/.key).  $CERTS/NAME.chain is the certificate then CA's, for a server
# that sends its intermediate.
mk_leaf() {
	local ca=$4
	[[ "$ca" == /* ]] || ca=$CERTS/$ca
	leaf_cert "$CERTS/$1" "$2" "$3" "$ca" || return
	cat "$CERTS/$1.crt" "$ca.crt" >"$CERTS/$1.chain"
}

# ---------------------------------------------------------------- helpers

# conf FILE ENDPOINT-ENTRY...: a shim configuration, the test CA and (but
# with NOCERT=1) the test client certificate as defaults, at level $LEVEL
# (default notice).
conf() {
	local f=$1 e sep=""
	shift
	{
		echo "version = 1;"
		echo "log = { level = \"${LEVEL:-notice}\"; target = \"stderr\"; };"
		echo "defaults = { ca_file = \"$PKI/ca.crt\"; handshake_timeout_ms = 5000;"
		[ "${NOCERT:-0}" = 1 ] ||
			echo "  cert_file = \"$PKI/client.crt\"; key_file = \"$PKI/client.key\";"
		echo "};"
		echo "endpoints = ("
		for e in "$@"; do
			printf '%s  %s' "$sep" "$e"
			sep=$',\n'
		done
		printf '\n);\n'
	} >"$f"
}

# stat_calls PORT CMD: how many times the node on PORT ran CMD (lower
# case) since its last CONFIG RESETSTAT, natively.
stat_calls() {
	local v
	v=$(cl_info_field "$1" commandstats "cmdstat_$2" | sed 's/calls=\([0-9]*\),.*/\1/')
	echo "${v:-0}"
}

# handshakes_verified: "label verified" for each handshake of the last
# t_run (info level).
handshakes_verified() {
	sed -n "s/^redis-tls-shim\[[0-9]*\]: info: \([^ ]*\): TLS handshake done: .*verified '\([^']*\)'.*/\1 \2/p" \
		"$T_ERR_FILE" | sort -u
}

# set_certs CERTNAME...: node i of the cluster presents CERTNAME i from now
# on (CONFIG SET, natively).
set_certs() {
	local i=0 n
	for n in "$@"; do
		assert_eq OK "$(cl_native "${C[$i]}" CONFIG SET tls-cert-file "$CERTS/$n.crt" \
			tls-key-file "$CERTS/$n.key")" "certificate $n on ${C[$i]}" || return
		i=$((i + 1))
	done
}

# cli_keys PREFIX: $T_TMP/PREFIX-set and -get, 60 SET and GET of keys with
# their own hash tags (spread over every master).
cli_keys() {
	local i
	for i in $(seq 1 60); do echo "SET $1:{t$i} $1-$i"; done >"$T_TMP/$1-set"
	for i in $(seq 1 60); do echo "GET $1:{t$i}"; done >"$T_TMP/$1-get"
}

# cli_cluster CONF HOST PREFIX: redis-cli -c through the shim from HOST:C0
# writes and reads back PREFIX's keys; each master holds some (natively).
cli_cluster() {
	local conf=$1 host=$2 pre=$3 m n total=0
	cli_keys "$pre"
	t_run "$T_RUN" --config "$conf" -- redis-cli -c -h "$host" -p "${C[0]}" <"$T_TMP/$pre-set"
	assert_rc 0 "redis-cli -c" || return
	assert_eq 60 "$(grep -c '^OK$' <<<"$T_OUT")" "SET replies OK" || return
	assert_match "$T_OUT" 'Redirected to slot' "redis-cli -c output (MOVED followed)"
	for m in "${C[@]}"; do
		n=$(cl_native "$m" --scan --pattern "$pre:*" | grep -c .)
		[ "$n" -gt 0 ] || fail "master $m holds none of the keys"
		total=$((total + n))
	done
	assert_eq 60 "$total" "keys on the masters (native)"
	t_run "$T_RUN" --config "$conf" -- redis-cli -c -h "$host" -p "${C[0]}" <"$T_TMP/$pre-get"
	assert_rc 0 "redis-cli -c GET" || return
	assert_eq "$(seq 1 60 | sed "s/^/$pre-/")" "$(grep -v Redirected <<<"$T_OUT")" \
		"60 values read back through the shim"
	assert_eq "" "$(shim_log_lines | grep -iE ': (error|warning):')" "shim errors"
}

# bench_cluster CONF HOST: redis-benchmark --cluster through the shim, 3000
# SET and 3000 GET, all answered by the masters (natively counted).
bench_cluster() {
	local m s g set=0 get=0
	for m in "${C[@]}"; do cl_native "$m" CONFIG RESETSTAT >/dev/null; done
	t_run "$T_RUN" --config "$1" -- redis-benchmark --cluster -h "$2" -p "${C[0]}" \
		-t set,get -n 3000 -c 4 -r 1000 --csv
	assert_rc 0 "redis-benchmark --cluster" || return
	assert_contains "$T_OUT" '"GET"' "redis-benchmark output"
	assert_not_contains "$T_OUT$T_ERR" "rror" "redis-benchmark output"
	for m in "${C[@]}"; do
		s=$(stat_calls "$m" set) g=$(stat_calls "$m" get)
		if [ "$s" -eq 0 ] || [ "$g" -eq 0 ]; then
			fail "master $m got no SET/GET ($s/$g)"
		fi
		set=$((set + s)) get=$((get + g))
	done
	assert_eq 3000 "$set" "SET calls on the masters"
	assert_eq 3000 "$get" "GET calls on the masters"
}

# py_cluster CONF HOST [DOMAIN]: redis-py's RedisCluster from HOST:C1.
py_cluster() {
	t_run "$T_RUN" --config "$1" -- "$T_PY" "$CLIENTS/cluster_basic.py" "$2" "${C[1]}" ${3:+"$3"}
	assert_rc 0 "cluster_basic.py" || { echo "$T_OUT" >&2; return 1; }
	assert_match "$(tail -1 <<<"$T_OUT")" '^OK 300 keys' "cluster_basic.py"
}

# refused_by_record WHAT ERE CMD...: CMD (a client through the shim that
# SETs $M) against the recording server $REC fails; the shim says why in
# one line matching ERE (the same line for every retry); $M is nowhere in
# what the server received or decrypted.
refused_by_record() {
	local what=$1 ere=$2
	shift 2
	t_run "$@"
	assert_failed "$what" || return
	assert_not_contains "$T_OUT" OK "$what: reply"
	assert_same_shim_error "$ere" || return
	assert_file_lacks "$REC.raw" "$M" "the wire to $what" || return
	[ ! -e "$REC.plain" ] || assert_file_lacks "$REC.plain" "$M" "what $what decrypted"
}

# The program of the standalone services: SET KEY VALUE and GET it back
# through redis-py at REDIS_URL; prints the URL it was given, then the
# value.
PYC=$T_ROOT/tests/clients/url_client.py

# ----------------------------------------------------- the shared cluster

case_make_cluster() {
	local i
	cl_port_block "$NPORTS" || return
	B=$CL_BASE
	C=("$B" $((B + 1)) $((B + 2)))
	SPARE=$((B + 3))
	for i in 1 2 3; do
		mk_leaf "node$i" "node$i.cluster.test" "DNS:node$i.cluster.test" "$PKI/ca" || return
	done
	for i in 0 1 2; do
		cl_start_cluster_node "${C[$i]}" $((B + 4 + i)) "node$((i + 1))" || return
	done
	cl_create 0 "${C[@]}" || return
	# Native redis-cli does not check names; the premise is that no node's
	# certificate names 127.0.0.1, the address the nodes are announced at.
	assert_match "$(cl_native "${C[0]}" CLUSTER NODES)" "127\\.0\\.0\\.1:${C[2]}@" "CLUSTER NODES" || return
	if openssl x509 -in "$CERTS/node1.crt" -noout -ext subjectAltName | grep -q 'IP'; then
		fail "node1's certificate has an IP SAN"
	fi
}

# ------------------------------------------ per-node names, IP announced

case_pernode_cli() {
	# The README's configuration: one CIDR spec over the node ports, each
	# node verified as some name under cluster.test.
	PERNODE=$T_TMP/pernode.conf
	conf "$PERNODE" "{ match = \"127.0.0.0/8:${C[0]}-$SPARE\"; verify_name = \"*.cluster.test\"; }"
	LEVEL=info conf "$T_TMP/pernode-info.conf" \
		"{ match = \"127.0.0.0/8:${C[0]}-$SPARE\"; verify_name = \"*.cluster.test\"; }"
	local lines i
	cli_cluster "$T_TMP/pernode-info.conf" 127.0.0.1 pn || return
	lines=$(handshakes_verified)
	assert_eq "" "$(grep -v "^127\\.0\\.0\\.1:[0-9]* \\*\\.cluster\\.test\$" <<<"$lines")" \
		"handshakes verified otherwise" || return
	assert_eq 3 "$(grep -c . <<<"$lines")" "nodes handshaken with: $lines"
	# Each node proved its own name.
	for i in 1 2 3; do
		assert_contains "$T_ERR" "(as node$i.cluster.test)" "handshakes"
	done
}

case_pernode_py() { py_cluster "$PERNODE" 127.0.0.1; }
case_pernode_bench() { bench_cluster "$PERNODE" 127.0.0.1; }

case_pernode_other_domain() {
	# A master presenting a certificate for node9.other.test, from the
	# right CA, and announced at a recording proxy in front of it: a
	# client sent there by MOVED is refused before its command.
	local m=${C[2]} k
	M=$(marker)
	k=$(cl_key_on "$m" od:)
	mk_leaf node9 node9.other.test DNS:node9.other.test "$PKI/ca" || return
	set_certs node1 node2 node9 || return
	start_record_server proxy other --port "$SPARE" --upstream "$m" || return
	assert_eq OK "$(cl_native "$m" CONFIG SET cluster-announce-tls-port "$SPARE")" \
		"announce the proxy" || return
	wait_until 20 announced_everywhere "$SPARE" || { fail "$SPARE not announced everywhere"; return 1; }
	cl_native "$m" CONFIG RESETSTAT >/dev/null
	refused_by_record "node9.other.test" \
		"127\\.0\\.0\\.1:$SPARE: server certificate rejected: hostname mismatch: the certificate names no DNS name under cluster\\.test.*SANs DNS:node9\\.other\\.test" \
		"$T_RUN" --config "$PERNODE" -- redis-cli -c -h 127.0.0.1 -p "${C[0]}" SET "$k" "$M"
	[ "$(rec_connections)" -ge 1 ] || fail "the client never reached the proxy"
	assert_eq 0 "$(stat_calls "$m" set)" "SET calls on the node"
	assert_eq "" "$(cl_native "$m" GET "$k")" "$k on the node (native)"
	cl_native "$m" CONFIG SET cluster-announce-tls-port 0 >/dev/null
	stop_pid "$REC_PID"
	wait_until 20 announced_everywhere "$m" || fail "$m not announced back"
	set_certs node1 node2 node3
}

# announced_everywhere PORT: every node's CLUSTER SLOTS names 127.0.0.1:PORT.
announced_everywhere() {
	local p
	for p in "${C[@]}"; do
		cl_native "$p" CLUSTER SLOTS | tr -d '\r' | grep -A1 -x 127.0.0.1 | grep -qx "$1" || return 1
	done
}

# ------------------------------------ Azure-like: one name, several ports

case_azure_setup() {
	# The cluster becomes the shards (the service's certificate on every
	# node, no client certificates), still announced by IP; a non-clustered
	# server on a port of its own, under the same name, with an access key.
	local p
	AZ=$((B + 9))
	AZ_PW=key-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	mk_leaf azure myservice.azure.test DNS:myservice.azure.test "$PKI/ca" || return
	cl_add_host myservice.azure.test || return
	set_certs azure azure azure || return
	for p in "${C[@]}"; do
		assert_eq OK "$(cl_native "$p" CONFIG SET tls-auth-clients no)" "CONFIG SET on $p" || return
	done
	cl_start_node "$AZ" azure --tls-auth-clients no --requirepass "$AZ_PW" || return
	AZURE=$T_TMP/azure.conf
	azure_conf "$AZURE" notice
}

# azure_conf FILE LEVEL: the README's configuration for the look-alike.
azure_conf() {
	cat >"$1" <<EOF
version = 1;
log = { level = "$2"; target = "stderr"; };
defaults = { ca_file = "$PKI/ca.crt"; };
endpoints = (
  { match = "myservice.azure.test:$AZ"; },
  { match = "myservice.azure.test:${C[0]}-$SPARE"; }
);
EOF
}

# az_native PORT ARGS...: cl_native with the access key.
az_native() { REDISCLI_AUTH=$AZ_PW cl_native "$@"; }

case_azure_plain_port() {
	local v
	v=$(marker)
	t_run env REDISCLI_AUTH="$AZ_PW" "$T_RUN" --config "$AZURE" -- \
		redis-cli --no-auth-warning -h myservice.azure.test -p "$AZ" SET az:k "$v"
	assert_rc 0 "redis-cli" || return
	assert_eq OK "$T_OUT" "SET" || return
	assert_eq "$v" "$(az_native "$AZ" GET az:k)" "az:k (native)"
	t_run env REDIS_URL="redis://:$AZ_PW@myservice.azure.test:$AZ/0" "$T_RUN" --config "$AZURE" -- \
		"$T_PY" "$PYC" az:py "$v"
	assert_rc 0 "redis-py" || return
	assert_eq "$v" "$(tail -1 <<<"$T_OUT")" "redis-py's GET"
	assert_eq "$v" "$(az_native "$AZ" GET az:py)" "az:py (native)"
}

case_azure_shards() {
	# Started by name on a shard port; MOVED names the nodes by IP, which
	# the name's spec covers (the addresses it resolves to): each verified
	# as the name.
	local c=$T_TMP/azure-info.conf lines
	azure_conf "$c" info
	cli_cluster "$c" myservice.azure.test az || return
	lines=$(handshakes_verified)
	assert_match "$T_OUT" "Redirected to slot \\[[0-9]+\\] located at 127\\.0\\.0\\.1:" \
		"redis-cli -c (MOVED by IP)" || return
	assert_eq "" "$(grep -v " myservice\\.azure\\.test\$" <<<"$lines")" "handshakes verified otherwise" || return
	assert_eq 3 "$(grep -c . <<<"$lines")" "nodes handshaken with: $lines"
}

case_azure_py() { py_cluster "$AZURE" myservice.azure.test; }

# redis-benchmark --cluster dials the nodes' IPs: the name's spec covers
# the addresses it resolves to.
case_azure_bench() { bench_cluster "$AZURE" myservice.azure.test; }

case_azure_other_name() {
	# On a shard port of the name, a server with another service's
	# certificate (same CA): refused before the command.
	M=$(marker)
	mk_leaf azure-other otherservice.azure.test DNS:otherservice.azure.test "$PKI/ca" || return
	start_record_server tls azure-other --port "$SPARE" --cert "$CERTS/azure-other.crt" \
		--key "$CERTS/azure-other.key" || return
	refused_by_record "otherservice.azure.test" \
		"myservice\\.azure\\.test:$SPARE: server certificate rejected: hostname mismatch.*expected name 'myservice\\.azure\\.test'.*DNS:otherservice\\.azure\\.test" \
		"$T_RUN" --config "$AZURE" -- redis-cli -h myservice.azure.test -p "$SPARE" SET az:x "$M"
	stop_pid "$REC_PID"
}

# ------------------------- ElastiCache-like: a wildcard, names announced

case_cache_setup() {
	# Every node presents *.cache.test and announces its own name; the
	# client starts at the configuration endpoint's name; no client
	# certificates (since the Azure-like cases).
	local i
	cl_add_host clustercfg.cache.test node1.cache.test node2.cache.test \
		node3.cache.test node4.cache.test || return
	mk_leaf cache "*.cache.test" "DNS:*.cache.test" "$PKI/ca" || return
	set_certs cache cache cache || return
	for i in 0 1 2; do
		assert_eq OK "$(cl_native "${C[$i]}" CONFIG SET cluster-announce-hostname "node$((i + 1)).cache.test" \
			cluster-preferred-endpoint-type hostname)" "CONFIG SET on ${C[$i]}" || return
	done
	wait_until 20 all_know_hostnames ||
		{ fail "hostnames did not reach every node: $(cl_native "${C[0]}" CLUSTER NODES)"; return 1; }
	CACHE=$T_TMP/cache.conf
	NOCERT=1 conf "$CACHE" '{ match = "*.cache.test:*"; }'
	NOCERT=1 LEVEL=info conf "$T_TMP/cache-info.conf" '{ match = "*.cache.test:*"; }'
}

all_know_hostnames() {
	local p
	for p in "${C[@]}"; do
		[ "$(cl_native "$p" CLUSTER NODES | grep -cE ",node[1-3]\\.cache\\.test ")" -eq 3 ] || return 1
	done
}

case_cache_cli() {
	local lines i
	cli_cluster "$T_TMP/cache-info.conf" clustercfg.cache.test ec || return
	assert_match "$T_OUT" "Redirected to slot \\[[0-9]+\\] located at node[1-3]\\.cache\\.test:" \
		"redis-cli -c (MOVED by name)" || return
	lines=$(handshakes_verified)
	for i in 1 2 3; do
		assert_contains "$lines" "node$i.cache.test:${C[$((i - 1))]} node$i.cache.test" \
			"handshakes (each node verified as its own name)"
	done
	assert_contains "$lines" "clustercfg.cache.test:${C[0]} clustercfg.cache.test" "the seed's handshake"
}

case_cache_py() { py_cluster "$CACHE" clustercfg.cache.test cache.test; }
case_cache_bench() {
	# redis-benchmark (7.0) dials the IPs of CLUSTER NODES even when the
	# nodes announce names, which no *.DOMAIN spec covers: the README's
	# second entry, the nodes' addresses verified under the domain.
	local c=$T_TMP/cache-ip.conf
	NOCERT=1 conf "$c" '{ match = "*.cache.test:*"; }' \
		"{ match = \"127.0.0.0/8:${C[0]}-$SPARE\"; verify_name = \"*.cache.test\"; }"
	bench_cluster "$c" clustercfg.cache.test
}

case_cache_other_ca() {
	# A server at a name under the domain with the wildcard from another
	# CA: refused before the command.
	M=$(marker)
	mk_leaf cache-other "*.cache.test" "DNS:*.cache.test" "$PKI/other-ca" || return
	start_record_server tls cache-other --port "$SPARE" --cert "$CERTS/cache-other.crt" \
		--key "$CERTS/cache-other.key" || return
	refused_by_record "*.cache.test from another CA" \
		"node4\\.cache\\.test:$SPARE: server certificate rejected: unable to get local issuer certificate" \
		"$T_RUN" --config "$CACHE" -- redis-cli -h node4.cache.test -p "$SPARE" SET ec:x "$M"
	stop_pid "$REC_PID"
}

# ------------------------------------------------------------ Redis Cloud

CLOUD_HOST=redis-12345.c1.cloud.test

case_cloud_setup() {
	# Two roots; root A signs through an intermediate that only the bundle
	# holds (the server sends its certificate alone), root B through one
	# the server sends.  The database's own CA for client certificates; the
	# user's key under a passphrase; a password (the default user).
	local d=$T_TMP/cloud
	mkdir -p "$d"
	CLOUD=$((B + 7))
	CLOUD_PW=pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	CLOUD_URL=rediss://default:$CLOUD_PW@$CLOUD_HOST:$CLOUD
	mk_ca cloud-root-a "Cloud Root A" && mk_ca cloud-int-a "Cloud Intermediate A" cloud-root-a &&
		mk_ca cloud-root-b "Cloud Root B" && mk_ca cloud-int-b "Cloud Intermediate B" cloud-root-b &&
		mk_ca cloud-users "Cloud database users" || return
	mk_leaf cloud-a "$CLOUD_HOST" "DNS:$CLOUD_HOST" cloud-int-a &&
		mk_leaf cloud-b "$CLOUD_HOST" "DNS:$CLOUD_HOST" cloud-int-b &&
		mk_leaf cloud-user "cloud user" "" cloud-users || return
	cat "$CERTS"/cloud-root-a.crt "$CERTS"/cloud-int-a.crt "$CERTS"/cloud-root-b.crt >"$d/redis_ca.pem"
	cat "$CERTS"/cloud-root-a.crt "$CERTS"/cloud-int-a.crt >"$d/redis_ca_old.pem"
	cp "$CERTS/cloud-user.crt" "$d/redis_user.crt"
	printf 'pass-%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$d/key.pass"
	openssl pkey -in "$CERTS/cloud-user.key" -aes256 -passout "file:$d/key.pass" \
		-out "$d/redis_user_private.key" 2>"$d/pkey.err" ||
		{ fail "openssl pkey: $(cat "$d/pkey.err")"; return 1; }
	grep -q 'ENCRYPTED PRIVATE KEY' "$d/redis_user_private.key" || { fail "the key is not encrypted"; return 1; }
	CLOUD_TLS=(--cacert "$d/redis_ca.pem" --cert "$d/redis_user.crt"
		--key "$d/redis_user_private.key" --key-passphrase-file "$d/key.pass")
	cl_add_host "$CLOUD_HOST" || return
	cl_start_node "$CLOUD" cloud-a --tls-ca-cert-file "$CERTS/cloud-users.crt" \
		--requirepass "$CLOUD_PW" || return
	# The server requires the database's client certificates: the test CA's
	# is refused (natively).
	assert_not_contains "$(cl_native "$CLOUD" PING 2>&1)" PONG "the test client certificate" || return
	assert_eq PONG "$(cloud_native PING)" "PING (native)"
}

# cloud_native ARGS...: redis-cli's own TLS to the Redis Cloud look-alike.
cloud_native() {
	REDISCLI_AUTH=$CLOUD_PW redis-cli --tls --cacert "$T_TMP/cloud/redis_ca.pem" \
		--cert "$CERTS/cloud-user.crt" --key "$CERTS/cloud-user.key" \
		-h 127.0.0.1 -p "$CLOUD" "$@"
}

# cloud_clients TAG: redis-cli (--url) and redis-py (--url-env) through
# the shim, by name, each SETs a fresh value of cloud:TAG:*, read back
# natively; each handshake verified as the endpoint's name.
cloud_clients() {
	local v
	v=$(marker)
	t_run "$T_RUN" --url "$CLOUD_URL" "${CLOUD_TLS[@]}" --log-level info -- \
		redis-cli -u "redis://default:$CLOUD_PW@$CLOUD_HOST:$CLOUD" --no-auth-warning \
		SET "cloud:$1:cli" "$v"
	assert_rc 0 "redis-cli" || return
	assert_eq OK "$T_OUT" "redis-cli's SET" || return
	assert_contains "$T_ERR" "$CLOUD_HOST:$CLOUD: TLS handshake done: " "the shim's handshake line"
	assert_contains "$T_ERR" "verified '$CLOUD_HOST'" "the verified name"
	assert_eq "$v" "$(cloud_native GET "cloud:$1:cli")" "cloud:$1:cli (native)" || return
	t_run env REDIS_URL="$CLOUD_URL" "$T_RUN" --url-env REDIS_URL "${CLOUD_TLS[@]}" -- \
		"$T_PY" "$PYC" "cloud:$1:py" "$v"
	assert_rc 0 "redis-py" || return
	assert_eq "redis://default:$CLOUD_PW@$CLOUD_HOST:$CLOUD"$'\n'"$v" "$T_OUT" \
		"the URL redis-py saw, its GET" || return
	assert_eq "$v" "$(cloud_native GET "cloud:$1:py")" "cloud:$1:py (native)"
}

case_cloud_root_a() {
	assert_eq "0" "$(sent_chain | cut -c1)" "the chain the server sends (its certificate alone)" || return
	cloud_clients a
}

# sent_chain: the " N s:SUBJECT" lines of the chain the Redis Cloud
# look-alike sends.
sent_chain() {
	timeout 10 openssl s_client -connect "127.0.0.1:$CLOUD" -showcerts \
		-cert "$CERTS/cloud-user.crt" -key "$CERTS/cloud-user.key" </dev/null 2>/dev/null |
		sed -n 's/^ *\([0-9] s:\)/\1/p'
}

case_cloud_root_b() {
	# The certificate rotated to root B's chain (intermediate sent): the
	# same bundle still verifies it.
	assert_eq OK "$(cloud_native CONFIG SET tls-cert-file "$CERTS/cloud-b.chain" \
		tls-key-file "$CERTS/cloud-b.key")" "rotate to root B" || return
	assert_match "$(sent_chain)" "^1 s:.*CN ?= ?Cloud Intermediate B" "the chain the server sends" || return
	cloud_clients b
}

case_cloud_old_bundle() {
	# A bundle from before the rotation (root A only): refused, and the
	# server ran no command.
	local v
	v=$(marker)
	cloud_native CONFIG RESETSTAT >/dev/null
	t_run "$T_RUN" --url "$CLOUD_URL" --cacert "$T_TMP/cloud/redis_ca_old.pem" \
		"${CLOUD_TLS[@]:2}" -- \
		redis-cli -u "redis://default:$CLOUD_PW@$CLOUD_HOST:$CLOUD" --no-auth-warning SET cloud:old "$v"
	assert_failed "redis-cli with the old bundle" || return
	assert_same_shim_error "$CLOUD_HOST:$CLOUD: server certificate rejected: unable to get local issuer certificate" || return
	assert_eq "" "$(cloud_native GET cloud:old)" "cloud:old (native)"
	assert_not_contains "$(cloud_native INFO commandstats)" cmdstat_set "the server's commandstats"
}

case_cloud_other_name() {
	# At the endpoint's name, another database's certificate from the same
	# intermediate: refused before AUTH or the command.
	M=$(marker)
	mk_leaf cloud-other redis-99999.c9.cloud.test DNS:redis-99999.c9.cloud.test cloud-int-a || return
	start_record_server tls cloud-other --port $((B + 8)) --cert "$CERTS/cloud-other.chain" \
		--key "$CERTS/cloud-other.key" || return
	refused_by_record "redis-99999.c9.cloud.test" \
		"$CLOUD_HOST:$((B + 8)): server certificate rejected: hostname mismatch.*expected name '$CLOUD_HOST'.*DNS:redis-99999\\.c9\\.cloud\\.test" \
		"$T_RUN" --url "rediss://default:$CLOUD_PW@$CLOUD_HOST:$((B + 8))" "${CLOUD_TLS[@]}" -- \
		redis-cli -u "redis://default:$CLOUD_PW@$CLOUD_HOST:$((B + 8))" --no-auth-warning SET cloud:x "$M"
	assert_file_lacks "$REC.raw" "$CLOUD_PW" "the wire (the password)"
	stop_pid "$REC_PID"
}

# ------------------------------------------------------- Memorystore-like

case_ms_setup() {
	# A CA of the instance's own (server-ca.pem, as the console gives it),
	# a certificate whose subject CN is the instance's IP and which has no
	# SAN; no client certificates.
	MS=$((B + 10))
	mk_ca ms-ca "Memorystore-like instance CA" && mk_ca ms-other-ca "another instance's CA" || return
	mk_leaf ms 127.0.0.1 "" ms-ca && mk_leaf ms-other 127.0.0.1 "" ms-other-ca || return
	cp "$CERTS/ms-ca.crt" "$T_TMP/server-ca.pem"
	assert_eq "" "$(openssl x509 -in "$CERTS/ms.crt" -noout -ext subjectAltName 2>/dev/null)" "SANs" || return
	cl_start_node "$MS" ms --tls-auth-clients no --tls-ca-cert-file "$CERTS/ms-ca.crt"
}

# ms_native ARGS...: redis-cli's own TLS (no name check) to the instance.
ms_native() { redis-cli --tls --cacert "$T_TMP/server-ca.pem" -h 127.0.0.1 -p "$MS" "$@"; }

case_ms_default_refused() {
	# OpenSSL's IP check ignores the CN: refused, with the way out named;
	# the server ran nothing.
	local v
	v=$(marker)
	ms_native CONFIG RESETSTAT >/dev/null
	t_run "$T_RUN" --endpoint "127.0.0.1:$MS" --cacert "$T_TMP/server-ca.pem" -- \
		redis-cli -h 127.0.0.1 -p "$MS" SET ms:k "$v"
	assert_failed "redis-cli without --verify-ip-in-cn" || return
	assert_same_shim_error "127\\.0\\.0\\.1:$MS: server certificate rejected: IP address mismatch \\(the certificate has no SAN and names 127\\.0\\.0\\.1 in its subject CN only: verify_ip_in_cn = true" || return
	assert_eq "" "$(ms_native GET ms:k)" "ms:k (native)"
	assert_not_contains "$(ms_native INFO commandstats)" cmdstat_set "the server's commandstats"
}

case_ms_ip_in_cn() {
	local v
	v=$(marker)
	t_run "$T_RUN" --endpoint "127.0.0.1:$MS" --cacert "$T_TMP/server-ca.pem" --verify-ip-in-cn -- \
		redis-cli -h 127.0.0.1 -p "$MS" SET ms:cli "$v"
	assert_rc 0 "redis-cli --verify-ip-in-cn" || return
	assert_eq OK "$T_OUT" "SET" || return
	assert_one_shim_error "warning: .*verify_ip_in_cn is on.*loosens verification" || return
	assert_eq "$v" "$(ms_native GET ms:cli)" "ms:cli (native)" || return
	# redis-py, the option as a variable
	t_run env REDIS_TLS_VERIFY_IP_IN_CN=1 REDIS_URL="redis://127.0.0.1:$MS/0" \
		"$T_RUN" --endpoint "127.0.0.1:$MS" --cacert "$T_TMP/server-ca.pem" -- \
		"$T_PY" "$PYC" ms:py "$v"
	assert_rc 0 "redis-py, REDIS_TLS_VERIFY_IP_IN_CN=1" || return
	assert_eq "$v" "$(tail -1 <<<"$T_OUT")" "redis-py's GET" || return
	assert_eq "$v" "$(ms_native GET ms:py)" "ms:py (native)"
}

case_ms_other_instance() {
	# Another instance's certificate (the same IP in its CN, its own CA):
	# the option takes a CN only from a chain that verifies.
	M=$(marker)
	start_record_server tls ms-other --port $((B + 11)) --cert "$CERTS/ms-other.crt" \
		--key "$CERTS/ms-other.key" || return
	refused_by_record "another instance" \
		"127\\.0\\.0\\.1:$((B + 11)): server certificate rejected: unable to get local issuer certificate" \
		"$T_RUN" --endpoint "127.0.0.1:$((B + 11))" --cacert "$T_TMP/server-ca.pem" --verify-ip-in-cn \
		--log-level error -- redis-cli -h 127.0.0.1 -p $((B + 11)) SET ms:x "$M"
	stop_pid "$REC_PID"
}

# --------------------------------------------------------------- run

t_case "cluster: 3 masters, TLS only, each certificate only its own DNS name" case_make_cluster
if [ "${#C[@]}" -ne 3 ]; then
	t_done
fi
t_case "per-node names, IP announced: redis-cli -c, each node verified as *.cluster.test" case_pernode_cli
t_case "per-node names, IP announced: redis-py RedisCluster" case_pernode_py
t_case "per-node names, IP announced: redis-benchmark --cluster" case_pernode_bench
t_case "per-node names: a node with node9.other.test refused, no command sent" case_pernode_other_domain
t_case "Azure-like: the shards take the service name's certificate" case_azure_setup
t_case "Azure-like: the non-clustered port by name, redis-cli and redis-py" case_azure_plain_port
t_case "Azure-like: the shard ports by name, nodes announced by IP" case_azure_shards
t_case "Azure-like: redis-py RedisCluster from a shard port" case_azure_py
t_case "Azure-like: redis-benchmark --cluster from a shard port" case_azure_bench
t_case "Azure-like: another service's certificate on a shard port refused, no command sent" case_azure_other_name
t_case "ElastiCache-like: *.cache.test on every node, names announced" case_cache_setup
t_case "ElastiCache-like: redis-cli -c from the configuration endpoint, one *.cache.test:* spec" case_cache_cli
t_case "ElastiCache-like: redis-py RedisCluster" case_cache_py
t_case "ElastiCache-like: redis-benchmark --cluster (it dials IPs: + a CIDR spec)" case_cache_bench
t_case "ElastiCache-like: *.cache.test from another CA refused, no command sent" case_cache_other_ca
t_case "Redis Cloud: a database by name, client certificate, encrypted key, password" case_cloud_setup
t_case "Redis Cloud: chain to root A via the bundle's intermediate: redis-cli --url, redis-py --url-env" case_cloud_root_a
t_case "Redis Cloud: rotated to root B's chain: the same bundle, the same clients" case_cloud_root_b
t_case "Redis Cloud: a bundle without root B refused, the server ran nothing" case_cloud_old_bundle
t_case "Redis Cloud: another database's certificate refused, no command or password sent" case_cloud_other_name
t_case "Memorystore-like: a per-instance CA, the IP in the CN, no SAN" case_ms_setup
t_case "Memorystore-like: refused by default, the option named, the server ran nothing" case_ms_default_refused
t_case "Memorystore-like: --verify-ip-in-cn (redis-cli), REDIS_TLS_VERIFY_IP_IN_CN (redis-py)" case_ms_ip_in_cn
t_case "Memorystore-like: another instance's certificate refused, no command sent" case_ms_other_instance
t_done
