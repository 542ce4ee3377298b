#!/bin/bash
# Redis Cluster through the shim: 3 masters + 3 replicas on 127.0.0.1, all
# TLS-only (plaintext port 0, client certificates required, tls-cluster and
# tls-replication), made natively with redis-cli --cluster create.  Plain
# clients reach every node through one match spec: redis-cli -c following
# MOVED, redis-benchmark --cluster, redis-py's RedisCluster; a slot
# migration (ASK) and a failover while a client writes; nodes announced by
# hostname, each verified (and sent as SNI) under its own name, and a node
# whose certificate lacks its announced name refused.
# shellcheck source-path=SCRIPTDIR source=cluster-lib.bash disable=SC2317,SC2119
source "$(dirname "$0")/cluster-lib.bash"
# Per-node names (nodeN.cluster.test) resolve in a private mount namespace.
cl_private_hosts "$0" "$@"
# shellcheck source=../../scripts/testlib.sh
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

CLIENTS=$T_ROOT/tests/clients
D=$CL_DOMAIN
# Ports: nodes B..B+5 (node1..node6), an SNI recorder B+6, buses B+7..B+12.
NODES=6
P=()
MASTERS=()
REPLICAS=()

# ----------------------------------------------------------------- helpers

# conf FILE LEVEL ENDPOINT-ENTRY...: a shim configuration with the test CA
# and client certificate as defaults.
conf() {
	local f=$1 level=$2 e sep=""
	shift 2
	{
		echo "version = 1;"
		echo "log = { level = \"$level\"; target = \"stderr\"; };"
		echo "defaults = { ca_file = \"$PKI/ca.crt\"; cert_file = \"$PKI/client.crt\";"
		echo "  key_file = \"$PKI/client.key\"; handshake_timeout_ms = 5000; };"
		echo "endpoints = ("
		for e in "$@"; do
			printf '%s  %s' "$sep" "$e"
			sep=$',\n'
		done
		printf '\n);\n'
	} >"$f"
}

# current_masters: MASTERS = the masters now (a failover changes them).
# node_name PORT: the node's name, nodeN.cluster.test.
current_masters() {
	local p
	MASTERS=()
	for p in "${P[@]}"; do
		[ "$(cl_role "$p")" = master ] && MASTERS+=("$p")
	done
}
node_name() { echo "node$(($1 - P[0] + 1)).$D"; }

# keys_matching PORT PATTERN: how many keys matching PATTERN a node holds.
keys_matching() { cl_native "$1" --scan --pattern "$2" | grep -c .; }

# handshakes_verified LOG: "label verified-name" for every handshake logged.
handshakes_verified() {
	sed -n "s/^redis-tls-shim\[[0-9]*\]: info: \([^ ]*\): TLS handshake done: .*verified '\([^']*\)'.*/\1 \2/p" "$1" | sort -u
}

# load_start TAG LOGLEVEL: cluster_load.py through the shim (IP match spec)
# in the background; LOAD_DIR, LOAD_PID.
load_start() {
	LOAD_DIR=$T_TMP/load-$1
	mkdir -p "$LOAD_DIR"
	"$T_RUN" --config "$CONF_IP" --log-level "$2" -- \
		"$T_PY" "$CLIENTS/cluster_load.py" 127.0.0.1 "${P[0]}" "$1" "$LOAD_DIR" \
		>"$LOAD_DIR/out" 2>"$LOAD_DIR/err" </dev/null &
	LOAD_PID=$!
	t_track "$LOAD_PID"
}
load_progress() { cat "$LOAD_DIR/progress" 2>/dev/null || echo 0; }
load_at_least() { [ "$(load_progress)" -ge "$1" ]; }
# load_stop: stop the client, wait for it, check its verdict.
load_stop() {
	local rc
	touch "$LOAD_DIR/stop"
	await_exit 30 "$LOAD_PID"
	wait "$LOAD_PID" 2>/dev/null
	rc=$?
	LOAD_OUT=$(tail -1 "$LOAD_DIR/out")
	assert_contains "$LOAD_OUT" "OK ok=" "cluster_load.py (rc $rc, stderr: $(t_short "$(grep -v '^redis-tls-shim' "$LOAD_DIR/err")"))"
}
# load_field NAME: a number from the client's OK line (ok, failed, after_mark).
load_field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$LOAD_OUT"; }

# ------------------------------------------------------------------ cases

case_make_cluster() {
	local i name
	cl_port_block $((2 * NODES + 1)) || return
	for i in $(seq 0 $((NODES - 1))); do P+=($((CL_BASE + i))); done
	SNI_PORT=$((CL_BASE + NODES))
	LAST=$((CL_BASE + NODES))
	for i in $(seq 1 "$NODES"); do
		# Each node's name and, for clients that dial the IP, 127.0.0.1;
		# endpoint.cluster.test stands for a service name all nodes share.
		cl_cert "node$i" "DNS:node$i.$D,DNS:endpoint.$D,IP:127.0.0.1" || return
	done
	cl_cert impostor "DNS:impostor.$D,IP:127.0.0.1" || return
	for i in $(seq 0 $((NODES - 1))); do
		cl_start_cluster_node "${P[$i]}" $((CL_BASE + NODES + 1 + i)) "node$((i + 1))" || return
	done
	cl_create 1 "${P[@]}" || return
	current_masters
	assert_eq 3 "${#MASTERS[@]}" "masters" || return
	for i in "${P[@]}"; do
		[ "$(cl_role "$i")" = slave ] && REPLICAS+=("$i")
	done
	assert_eq 3 "${#REPLICAS[@]}" "replicas" || return
	for name in tls-cluster tls-replication tls-auth-clients; do
		assert_eq yes "$(cl_native "${P[0]}" CONFIG GET "$name" | tail -1)" "$name"
	done
	assert_eq 0 "$(cl_native "${P[0]}" CONFIG GET port | tail -1)" "plaintext port"
	# One match spec covers every node; verified against the IP SAN.
	CONF_IP=$T_TMP/shim-ip.conf
	conf "$CONF_IP" notice "{ match = \"127.0.0.1:${P[0]}-$LAST\"; }"
}

case_plain_refused() {
	# The premise: without the shim no node answers.
	t_run redis-cli -c -h 127.0.0.1 -p "${P[0]}" SET plain:k v
	assert_not_contains "$T_OUT" OK "plain redis-cli -c"
	assert_eq "" "$(cl_native "${P[0]}" -c GET plain:k)" "plain:k (native)"
}

case_cli_moved() {
	local i m total=0 n want got
	# 200 keys, each its own hash tag: spread over every slot range.
	for i in $(seq 1 200); do echo "SET cli:{t$i}:k value-$i"; done >"$T_TMP/cli-set"
	for i in $(seq 1 200); do echo "GET cli:{t$i}:k"; done >"$T_TMP/cli-get"
	t_run "$T_RUN" --config "$CONF_IP" -- redis-cli -c -h 127.0.0.1 -p "${P[0]}" <"$T_TMP/cli-set"
	assert_rc 0 || return
	assert_eq 200 "$(grep -c '^OK$' <<<"$T_OUT")" "SET replies OK" || return
	assert_match "$T_OUT" 'Redirected to slot \[[0-9]+\]' "redis-cli -c output (MOVED followed)"
	for m in "${MASTERS[@]}"; do
		n=$(keys_matching "$m" 'cli:*')
		[ "$n" -gt 0 ] || fail "master $m holds none of the keys"
		total=$((total + n))
	done
	assert_eq 200 "$total" "keys on the masters (native)"
	t_run "$T_RUN" --config "$CONF_IP" -- redis-cli -c -h 127.0.0.1 -p "${P[0]}" <"$T_TMP/cli-get"
	assert_rc 0 || return
	want=$(seq 1 200 | sed 's/^/value-/')
	got=$(grep -v 'Redirected' <<<"$T_OUT")
	assert_eq "$want" "$got" "200 values read back through the shim"
	got=$(cl_native "${P[0]}" -c <"$T_TMP/cli-get" 2>/dev/null | grep -v Redirected)
	assert_eq "$want" "$got" "200 values read back natively"
	assert_eq "" "$(shim_log_lines | grep -iE 'error|warning')" "shim errors"
}

case_benchmark() {
	local m set=0 get=0 s g
	for m in "${MASTERS[@]}"; do cl_native "$m" CONFIG RESETSTAT >/dev/null; done
	t_run "$T_RUN" --config "$CONF_IP" -- redis-benchmark --cluster -h 127.0.0.1 -p "${P[0]}" \
		-t set,get -n 20000 -c 10 -r 10000 --csv
	assert_rc 0 || return
	assert_contains "$T_OUT" '"SET"' "redis-benchmark output"
	assert_contains "$T_OUT" '"GET"' "redis-benchmark output"
	assert_not_contains "$T_OUT$T_ERR" "rror" "redis-benchmark output"
	# Every request reached a master and was answered there.
	for m in "${MASTERS[@]}"; do
		s=$(cl_info_field "$m" commandstats cmdstat_set | sed 's/calls=\([0-9]*\),.*/\1/')
		g=$(cl_info_field "$m" commandstats cmdstat_get | sed 's/calls=\([0-9]*\),.*/\1/')
		if [ "${s:-0}" -eq 0 ] || [ "${g:-0}" -eq 0 ]; then
			fail "master $m got no SET/GET ($s/$g)"
		fi
		set=$((set + ${s:-0})) get=$((get + ${g:-0}))
		assert_match "$(cl_native "$m" INFO commandstats)" 'cmdstat_set:.*failed_calls=0' "SET failures on $m"
	done
	assert_eq 20000 "$set" "SET calls on the masters"
	assert_eq 20000 "$get" "GET calls on the masters"
}

case_py_cluster() {
	t_run "$T_RUN" --config "$CONF_IP" -- "$T_PY" "$CLIENTS/cluster_basic.py" 127.0.0.1 "${P[1]}"
	assert_rc 0 "cluster_basic.py" || { echo "$T_OUT $T_ERR" >&2; return 1; }
	assert_match "$(tail -1 <<<"$T_OUT")" '^OK 300 keys' "cluster_basic.py"
}

case_migration() {
	local tag=mig slot src tgt m n asks
	local -a others=()
	slot=$(cl_native "${P[0]}" CLUSTER KEYSLOT "{$tag}")
	src=$(cl_slot_owner "$slot" "${P[0]}")
	for m in "${MASTERS[@]}"; do
		[ "$m" = "$src" ] && continue
		if [ -z "${tgt:-}" ]; then tgt=$m; else others+=("$m"); fi
	done
	cl_native "$tgt" CONFIG RESETSTAT >/dev/null
	load_start "$tag" notice
	# Every one of the client's 500 keys exists on the source first.
	wait_until 30 load_at_least 1000 || { fail "the client made no progress: $(cat "$LOAD_DIR/err")"; load_stop; return 1; }
	CL_MIGRATED=0
	cl_migrate_slot "$slot" "$src" "$tgt" "${others[@]}"
	n=$(load_progress)
	wait_until 20 load_at_least $((n + 500))
	load_stop || return
	assert_eq 0 "$(load_field failed)" "failed commands during the migration"
	[ "$CL_MIGRATED" -ge 500 ] || fail "only $CL_MIGRATED keys migrated"
	assert_eq "$tgt" "$(cl_slot_owner "$slot" "${P[0]}")" "owner of slot $slot after"
	assert_eq 500 "$(cl_native "$tgt" CLUSTER COUNTKEYSINSLOT "$slot")" "keys in slot $slot on the target"
	asks=$(cl_info_field "$tgt" commandstats cmdstat_asking | sed 's/calls=\([0-9]*\),.*/\1/')
	[ "${asks:-0}" -gt 0 ] || fail "no ASKING reached the target: no ASK redirect was followed"
	assert_match "$LOAD_OUT" "'AskError': [1-9]" "client-side ASK redirects"
	echo "    # $CL_MIGRATED keys moved; $(load_field ok) SET+GET, ${asks:-0} ASKING"
}

case_failover() {
	local tag=fo slot m r n
	slot=$(cl_native "${P[0]}" CLUSTER KEYSLOT "{$tag}")
	m=$(cl_slot_owner "$slot" "${P[0]}")
	r=$(cl_replica_of "$m")
	[ -n "$r" ] || { fail "master $m has no replica"; return 1; }
	cl_native "$r" CONFIG RESETSTAT >/dev/null
	load_start "$tag" info
	wait_until 30 load_at_least 1000 || { fail "the client made no progress: $(cat "$LOAD_DIR/err")"; load_stop; return 1; }
	assert_eq OK "$(cl_native "$r" CLUSTER FAILOVER)" "CLUSTER FAILOVER on $r"
	wait_until 20 cl_role_is "$r" master || fail "replica $r did not become master"
	wait_until 20 cl_role_is "$m" slave || fail "old master $m did not become a replica"
	touch "$LOAD_DIR/mark"
	n=$(load_progress)
	wait_until 20 load_at_least $((n + 1000)) || fail "the client stalled after the failover"
	load_stop || return
	assert_eq 0 "$(load_field failed)" "failed commands during the failover"
	[ "$(load_field after_mark)" -ge 500 ] || fail "only $(load_field after_mark) commands after the failover"
	# The client really talks to the new master, through the shim: a
	# verified handshake with it, and its GETs (not replicated) there.
	assert_match "$(grep -a "127.0.0.1:$r: TLS handshake done" "$LOAD_DIR/err")" "verified '127.0.0.1'" "handshake with the new master"
	n=$(cl_info_field "$r" commandstats cmdstat_get | sed 's/calls=\([0-9]*\),.*/\1/')
	[ "${n:-0}" -ge 500 ] || fail "the new master served ${n:-0} GETs"
	assert_eq "v$(($(load_field ok) - 1))" "$(cl_native "$r" GET "{$tag}:$((($(load_field ok) - 1) % 500))")" "last value on the new master (native)"
	current_masters
	echo "    # $(load_field after_mark) SET+GET after the failover; masters now ${MASTERS[*]}"
}

case_cloud_style() {
	# As with a managed cluster: the client starts at the service's name,
	# the cluster then names its nodes by IP; one CIDR spec over the node
	# ports verifies every node against the service name.
	local c=$T_TMP/shim-cloud.conf lines ports m k
	cl_add_host "endpoint.$D" || return
	conf "$c" info "{ match = \"endpoint.$D:${P[0]}\"; }" \
		"{ match = \"127.0.0.0/8:${P[0]}-$LAST\"; verify_name = \"endpoint.$D\"; }"
	for m in "${MASTERS[@]}"; do
		k=$(cl_key_on "$m" cloud:)
		echo "SET $k v$m"
		echo "GET $k"
	done >"$T_TMP/cloud-cmds"
	t_run "$T_RUN" --config "$c" -- redis-cli -c -h "endpoint.$D" -p "${P[0]}" <"$T_TMP/cloud-cmds"
	assert_rc 0 || return
	for m in "${MASTERS[@]}"; do
		assert_contains "$T_OUT" "v$m" "GET of the key on $m"
	done
	lines=$(handshakes_verified "$T_ERR_FILE")
	assert_eq "" "$(grep -v " endpoint.$D\$" <<<"$lines")" "handshakes verified as anything but endpoint.$D"
	ports=$(cut -d' ' -f1 <<<"$lines" | sort -u | grep -c .)
	[ "$ports" -ge 3 ] || fail "handshakes with $ports node(s), wanted the 3 masters: $lines"
}

case_announce_hostnames() {
	local i
	for i in $(seq 0 $((NODES - 1))); do
		assert_eq OK "$(cl_native "${P[$i]}" CONFIG SET cluster-announce-hostname "node$((i + 1)).$D" \
			cluster-preferred-endpoint-type hostname)" "CONFIG SET on ${P[$i]}" || return
	done
	local -a names=()
	for i in $(seq 1 "$NODES"); do names+=("node$i.$D"); done
	cl_add_host "${names[@]}" "impostor.$D" || return
	wait_until 20 all_know_hostnames || fail "hostnames did not reach every node: $(cl_native "${P[0]}" CLUSTER NODES)"
	# MOVED now names the node.
	assert_match "$(cl_native "${P[0]}" GET "cli:{t1}:k") $(cl_native "${P[0]}" GET "cli:{t2}:k") $(cl_native "${P[0]}" GET "cli:{t3}:k")" \
		"MOVED [0-9]+ node[1-6]\\.$D:" "MOVED from a node (native)"
}

all_know_hostnames() {
	local p
	for p in "${P[@]}"; do
		[ "$(cl_native "$p" CLUSTER NODES | grep -cE ",node[1-6]\\.$D ")" -eq "$NODES" ] || return 1
	done
}

case_cli_by_name() {
	# Only names are configured: a node reached by IP would not be wrapped
	# (and, being TLS-only, would not answer).
	local c=$T_TMP/shim-names.conf m name lines
	CONF_NAMES=$c
	conf "$c" debug "{ match = \"*.$D:${P[0]}-$LAST\"; }"
	for m in "${MASTERS[@]}"; do
		echo "SET $(cl_key_on "$m" name:) n$m"
	done >"$T_TMP/name-cmds"
	t_run "$T_RUN" --config "$c" -- redis-cli -c -h "node1.$D" -p "${P[0]}" <"$T_TMP/name-cmds"
	assert_rc 0 || return
	assert_match "$T_OUT" "Redirected to slot \\[[0-9]+\\] located at node[1-6]\\.$D:" "redis-cli -c output"
	lines=$(handshakes_verified "$T_ERR_FILE")
	for m in "${MASTERS[@]}"; do
		name=$(node_name "$m")
		assert_eq "n$m" "$(cl_native "$m" GET "$(cl_key_on "$m" name:)")" "the key on master $m (native)"
		assert_contains "$lines" "$name:$m $name" "handshakes (label, verified name)"
		assert_contains "$T_ERR" "$name:$m: matches endpoint '*.$D:${P[0]}-$LAST'; verifying '$name', SNI $name" "debug log"
	done
	assert_eq "" "$(grep -v "^node[1-6]\\.$D:[0-9]* node[1-6]\\.$D\$" <<<"$lines")" "handshakes verified under another name"
	assert_eq "" "$(grep -vE "^node([1-6])\\.$D:[0-9]* node\\1\\.$D\$" <<<"$lines")" "a node verified under another node's name"
	assert_eq "" "$(shim_log_lines | grep -iE ': (error|warning):')" "shim errors"
}

case_py_by_name() {
	t_run "$T_RUN" --config "$CONF_NAMES" -- "$T_PY" "$CLIENTS/cluster_basic.py" "node2.$D" "${P[1]}" "$D"
	assert_rc 0 "cluster_basic.py" || { echo "$T_OUT" >&2; return 1; }
	assert_match "$(tail -1 <<<"$T_OUT")" '^OK 300 keys' "cluster_basic.py by name"
}

case_sni_on_wire() {
	# A recording proxy in front of one master, announced in its place: the
	# ClientHello a client sends that node carries the node's own name.
	local m name mk k c=$T_TMP/shim-names-info.conf
	m=${MASTERS[1]}
	k=$(cl_key_on "$m" sni:)
	name=$(node_name "$m")
	start_record_server proxy sni --port "$SNI_PORT" --upstream "$m" || return
	assert_eq OK "$(cl_native "$m" CONFIG SET cluster-announce-tls-port "$SNI_PORT")" "announce the proxy" || return
	wait_until 20 announced_everywhere "$name:$SNI_PORT" || { fail "$name:$SNI_PORT not announced everywhere"; return 1; }
	mk=$(marker)
	conf "$c" info "{ match = \"*.$D:${P[0]}-$LAST\"; }"
	t_run "$T_RUN" --config "$c" -- redis-cli -c -h "$(node_name "${MASTERS[0]}")" -p "${MASTERS[0]}" SET "$k" "$mk"
	assert_rc 0
	assert_eq "$mk" "$(cl_native "$m" GET "$k")" "the value on $name (native)"
	assert_contains "$(handshakes_verified "$T_ERR_FILE")" "$name:$SNI_PORT $name" "handshake through the proxy"
	assert_file_has "$REC.raw" "$name" "the ClientHello through the proxy (SNI)"
	assert_file_lacks "$REC.raw" "$mk" "the wire to $name"
	cl_native "$m" CONFIG SET cluster-announce-tls-port 0 >/dev/null
	wait_until 20 announced_everywhere "$name:$m" || fail "$name:$m not announced back"
}

# announced_everywhere NAME:PORT: every node's CLUSTER SLOTS names it.
announced_everywhere() {
	local p host=${1%:*} port=${1##*:}
	for p in "${P[@]}"; do
		cl_native "$p" CLUSTER SLOTS | tr -d '\r' | grep -A1 -x "$host" | grep -qx "$port" || return 1
	done
}

case_impostor_refused() {
	# A master whose certificate names another host: reaching it by its
	# announced name fails, with one clear line; nothing is written there.
	local m name k c=$T_TMP/shim-names-notice.conf
	conf "$c" notice "{ match = \"*.$D:${P[0]}-$LAST\"; }"
	m=${MASTERS[2]}
	name=$(node_name "$m")
	k=$(cl_key_on "$m" imp:)
	assert_eq OK "$(cl_native "$m" CONFIG SET tls-cert-file "$T_TMP/certs/impostor.crt" \
		tls-key-file "$T_TMP/certs/impostor.key")" "swap $name's certificate" || return
	t_run "$T_RUN" --config "$c" -- redis-cli -c -h "$(node_name "${MASTERS[0]}")" -p "${MASTERS[0]}" \
		SET "$k" stolen
	assert_not_contains "$T_OUT" OK "SET on the impostor"
	assert_same_shim_error "$name:$m: server certificate rejected: .*expected name '$name'.*DNS:impostor\\.$D"
	assert_eq "" "$(cl_native "$m" GET "$k")" "$k on $name (native)"
	cl_native "$m" CONFIG SET tls-cert-file "$T_TMP/certs/node$((m - P[0] + 1)).crt" \
		tls-key-file "$T_TMP/certs/node$((m - P[0] + 1)).key" >/dev/null
	t_run "$T_RUN" --config "$c" -- redis-cli -c -h "$(node_name "${MASTERS[0]}")" -p "${MASTERS[0]}" \
		SET "$k" fine
	assert_eq OK "$(grep -v Redirected <<<"$T_OUT")" "SET once the right certificate is back"
}

t_case "cluster: 3 masters + 3 replicas, TLS only, made natively" case_make_cluster
if [ "${#MASTERS[@]}" -ne 3 ] || [ "${#REPLICAS[@]}" -ne 3 ]; then
	t_done
fi
t_case "plain redis-cli -c gets nothing from the nodes" case_plain_refused
t_case "redis-cli -c: 200 keys on all masters, MOVED followed" case_cli_moved
t_case "redis-benchmark --cluster: every request answered" case_benchmark
t_case "redis-py RedisCluster: keys, pipeline, MGET across slots" case_py_cluster
t_case "slot migration under redis-py writes: ASK followed, no failure" case_migration
t_case "CLUSTER FAILOVER under redis-py: the client moves to the new master" case_failover
t_case "managed-cluster style: name for the seed, CIDR + verify_name for nodes" case_cloud_style
t_case "nodes announce hostnames (cluster-preferred-endpoint-type hostname)" case_announce_hostnames
t_case "redis-cli -c by name: each node verified and sent SNI as its own name" case_cli_by_name
t_case "redis-py RedisCluster by name" case_py_by_name
t_case "SNI on the wire is the node's name" case_sni_on_wire
t_case "a node whose certificate lacks its announced name is refused" case_impostor_refused
t_done
