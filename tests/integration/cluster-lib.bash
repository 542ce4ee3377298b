# shellcheck shell=bash disable=SC2034
# cluster-lib.bash - sourced by 70-cluster.sh and 75-sentinel.sh, after
# scripts/testlib.sh.  Not a test file itself (run-integration.sh runs only
# *.sh), hence the ending.
#
# Gives: server certificates for named nodes, signed by the test CA
# (cl_cert); a block of consecutive free ports on 127.0.0.1 (cl_port_block),
# so that one match spec "127.0.0.1:A-B" covers a whole cluster; TLS-only
# redis-server nodes (cl_start_node) with tls-cluster, tls-replication and
# client certificates required; native `redis-cli --tls` to any node
# (cl_native); a cluster made and waited for (cl_create); and names that
# resolve to 127.0.0.1 in this test alone (cl_private_hosts, cl_add_host).
#
# Names: every node name is NAME.cluster.test.  Making them resolve without
# touching the machine's /etc/hosts: the test file re-executes itself in a
# private mount namespace (cl_private_hosts, before sourcing testlib.sh),
# where a copy of /etc/hosts with the test's names is bind-mounted over
# /etc/hosts.  The namespace, and with it the mount, goes when the test's
# last process does, whatever happens; nothing outside it sees the names.

CL_DOMAIN=cluster.test
CL_NODE_TIMEOUT=${CL_NODE_TIMEOUT:-3000}

# cl_private_hosts SCRIPT [ARGS...]: re-execute SCRIPT in a private mount
# namespace, once.  Call before sourcing testlib.sh.  Where no namespace can
# be had (not root, no user namespaces), the test runs on and
# cl_hosts_usable says why not.
cl_private_hosts() {
	[ -n "${CL_IN_NS:-}" ] && return 0
	export CL_IN_NS=none
	if unshare -m --propagation private true 2>/dev/null; then
		CL_IN_NS=root exec unshare -m --propagation private bash "$@"
	elif unshare -r -m --propagation private true 2>/dev/null; then
		CL_IN_NS=user exec unshare -r -m --propagation private bash "$@"
	fi
}

CL_HOSTS=""

# cl_hosts_usable: 0 when names can be added (in a private namespace).
cl_hosts_usable() {
	[ "${CL_IN_NS:-none}" != none ] && return 0
	fail "no private mount namespace (unshare -m needs root or user namespaces): cannot make test host names resolve without editing /etc/hosts"
}

# cl_add_host NAME...: NAME resolves to 127.0.0.1 for this test's processes.
cl_add_host() {
	local name
	cl_hosts_usable || return 1
	if [ -z "$CL_HOSTS" ]; then
		CL_HOSTS=$T_TMP/hosts
		cat /etc/hosts >"$CL_HOSTS"
		mount --bind "$CL_HOSTS" /etc/hosts ||
			{ fail "mount --bind $CL_HOSTS /etc/hosts failed"; return 1; }
	fi
	for name in "$@"; do
		# Written through the mount, so the file keeps its inode.
		echo "127.0.0.1 $name" >>/etc/hosts
	done
	for name in "$@"; do
		getent ahostsv4 "$name" | grep -q '^127\.0\.0\.1 ' ||
			{ fail "$name does not resolve to 127.0.0.1"; return 1; }
	done
}

# cl_cert NAME SAN: $T_TMP/certs/NAME.{crt,key}, an EC P-256 key and a
# certificate from the test CA with subjectAltName SAN (e.g.
# "DNS:a.cluster.test,IP:127.0.0.1"), for serverAuth and clientAuth: a
# node is a server to clients and a client of other nodes on the cluster
# bus, for MIGRATE and for replication.
cl_cert() {
	local name=$1 san=$2 d=$T_TMP/certs
	mkdir -p "$d"
	cat >"$d/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
authorityKeyIdentifier=keyid
EOF
	if ! {
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-out "$d/$name.key" &&
			openssl req -new -key "$d/$name.key" \
				-subj "/O=redis-tls-shim test/CN=$name" -out "$d/$name.csr" &&
			openssl x509 -req -in "$d/$name.csr" -CA "$PKI/ca.crt" \
				-CAkey "$PKI/ca.key" -CAcreateserial -CAserial "$d/ca.srl" \
				-sha256 -days 825 -extfile "$d/$name.ext" -out "$d/$name.crt"
	} 2>"$d/$name.err"; then
		fail "openssl could not make a certificate for $name: $(cat "$d/$name.err")"
		return 1
	fi
	chmod 600 "$d/$name.key"
}

# cl_port_block N: CL_BASE such that CL_BASE .. CL_BASE+N-1 are free on
# 127.0.0.1, below the ephemeral range (so no client socket takes one
# between this check and the servers' bind).
cl_port_block() {
	CL_BASE=$("$T_PY" "$T_ROOT/tests/servers/testserver.py" port-block "$1") ||
		{ fail "no block of $1 free ports on 127.0.0.1"; return 1; }
}

# cl_start_node PORT CERTNAME [REDIS-SERVER ARGS...]: a TLS-only node on
# 127.0.0.1:PORT (plaintext port 0), certificate $T_TMP/certs/CERTNAME,
# client certificates from the test CA required, TLS for replication (and
# for the cluster bus and MIGRATE, when cluster-enabled).  Waits until it
# accepts connections.  Sets CL_PID[PORT].
declare -A CL_PID=()
cl_start_node() {
	local port=$1 cert=$T_TMP/certs/$2 log pid
	shift 2
	log=$T_TMP/node-$port.log
	redis-server --bind 127.0.0.1 --port 0 --tls-port "$port" \
		--save '' --appendonly no --daemonize no --dir "$T_TMP" \
		--logfile "$log" \
		--tls-cert-file "$cert.crt" --tls-key-file "$cert.key" \
		--tls-ca-cert-file "$PKI/ca.crt" --tls-auth-clients yes \
		--tls-replication yes --repl-diskless-sync-delay 0 \
		"$@" </dev/null >/dev/null 2>&1 &
	pid=$!
	t_track "$pid"
	CL_PID[$port]=$pid
	if ! wait_until 15 _redis_up "$log" "$pid"; then
		fail "redis-server on $port did not start: $(tail -3 "$log" 2>/dev/null)"
		return 1
	fi
}

# cl_start_cluster_node PORT BUSPORT CERTNAME [ARGS...]
cl_start_cluster_node() {
	local port=$1 bus=$2 cert=$3
	shift 3
	cl_start_node "$port" "$cert" --cluster-enabled yes \
		--cluster-config-file "$T_TMP/nodes-$port.conf" \
		--cluster-port "$bus" --tls-cluster yes \
		--cluster-node-timeout "$CL_NODE_TIMEOUT" "$@"
}

# cl_native PORT ARGS...: redis-cli with its own TLS to 127.0.0.1:PORT.
cl_native() {
	local port=$1
	shift
	redis-cli --tls --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" -h 127.0.0.1 -p "$port" "$@"
}

# cl_info_field PORT SECTION FIELD: one value of INFO (native TLS).
cl_info_field() {
	cl_native "$1" INFO "$2" | tr -d '\r' | sed -n "s/^$3://p"
}

# cl_create REPLICAS PORT...: redis-cli --cluster create (native TLS), then
# wait until every node has every slot covered and agrees.
cl_create() {
	local replicas=$1 p
	shift
	local -a addrs=()
	for p in "$@"; do addrs+=("127.0.0.1:$p"); done
	if ! timeout 60 redis-cli --tls --cacert "$PKI/ca.crt" \
		--cert "$PKI/client.crt" --key "$PKI/client.key" \
		--cluster create "${addrs[@]}" --cluster-replicas "$replicas" \
		--cluster-yes >"$T_TMP/cluster-create.out" 2>&1; then
		fail "redis-cli --cluster create: $(tail -5 "$T_TMP/cluster-create.out")"
		return 1
	fi
	wait_until 30 cl_converged "$@" ||
		{ fail "the cluster did not converge: $(cl_check "$1" | tail -5)"; return 1; }
}

# cl_check PORT: redis-cli --cluster check (native TLS).
cl_check() {
	redis-cli --tls --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" \
		--key "$PKI/client.key" --cluster check "127.0.0.1:$1" 2>&1
}

# cl_converged PORT...: every node says cluster_state:ok and knows all the
# others, and redis-cli --cluster check finds all slots covered and agreed.
cl_converged() {
	local p out n=$#
	for p in "$@"; do
		out=$(cl_native "$p" CLUSTER INFO 2>/dev/null | tr -d '\r')
		grep -q "^cluster_state:ok" <<<"$out" || return 1
		grep -q "^cluster_known_nodes:$n\$" <<<"$out" || return 1
	done
	out=$(cl_check "$1")
	grep -q 'All nodes agree about slots configuration' <<<"$out" &&
		grep -q 'All 16384 slots covered' <<<"$out" &&
		! grep -q '^\[ERR\]' <<<"$out"
}

# cl_role PORT: master or slave.
cl_role() { cl_native "$1" ROLE | head -1; }

# cl_slot_owner SLOT PORT: the TLS port of the master serving SLOT, as the
# node on PORT sees it (CLUSTER NODES: "id ip:port@bus[,host] flags master
# - ping pong epoch link slot slot-range ...").
cl_slot_owner() {
	cl_native "$2" CLUSTER NODES | tr -d '\r' | awk -v s="$1" '
		$3 ~ /master/ {
			split($2, hp, "[:@]")
			for (i = 9; i <= NF; i++) {
				if ($i ~ /^\[/) continue   # [slot->-id] migrating/importing
				n = split($i, r, "-")
				lo = r[1] + 0; hi = (n > 1 ? r[2] : r[1]) + 0
				if (lo <= s + 0 && s + 0 <= hi) { print hp[2]; exit }
			}
		}'
}

# cl_myid PORT: the node's id.
cl_myid() { cl_native "$1" CLUSTER MYID | tr -d '\r'; }

# cl_migrate_slot SLOT SRC TGT MASTER...: move SLOT from the master on port
# SRC to the one on TGT by hand, as redis-cli --cluster reshard does, but
# slowly (BATCH keys per MIGRATE, CL_MIGRATE_PAUSE s between batches) so
# that a client running meanwhile meets ASK redirects: IMPORTING on the
# target, MIGRATING on the source, MIGRATE (TLS between the nodes) until the
# slot is empty there, then SETSLOT NODE on the target, the source and
# every other master.  Native TLS throughout.
CL_MIGRATE_BATCH=${CL_MIGRATE_BATCH:-20}
CL_MIGRATE_PAUSE=${CL_MIGRATE_PAUSE:-0.05}
cl_migrate_slot() {
	local slot=$1 src=$2 tgt=$3 src_id tgt_id out p
	shift 3
	src_id=$(cl_myid "$src") tgt_id=$(cl_myid "$tgt")
	out=$(cl_native "$tgt" CLUSTER SETSLOT "$slot" IMPORTING "$src_id")
	[ "$out" = OK ] || { fail "SETSLOT IMPORTING on $tgt: $out"; return 1; }
	out=$(cl_native "$src" CLUSTER SETSLOT "$slot" MIGRATING "$tgt_id")
	[ "$out" = OK ] || { fail "SETSLOT MIGRATING on $src: $out"; return 1; }
	local -a keys
	for _ in $(seq 1 2000); do
		mapfile -t keys < <(cl_native "$src" CLUSTER GETKEYSINSLOT "$slot" "$CL_MIGRATE_BATCH" | tr -d '\r' | grep .)
		[ "${#keys[@]}" -eq 0 ] && break
		out=$(cl_native "$src" MIGRATE 127.0.0.1 "$tgt" "" 0 5000 KEYS "${keys[@]}")
		case $out in
		OK | NOKEY) ;;
		*) fail "MIGRATE from $src to $tgt: $out"; return 1 ;;
		esac
		CL_MIGRATED=$((${CL_MIGRATED:-0} + ${#keys[@]}))
		sleep "$CL_MIGRATE_PAUSE"
	done
	for p in "$tgt" "$src" "$@"; do
		out=$(cl_native "$p" CLUSTER SETSLOT "$slot" NODE "$tgt_id")
		[ "$out" = OK ] || { fail "SETSLOT NODE on $p: $out"; return 1; }
	done
}

# cl_replica_of PORT: the TLS port of a replica of the master on PORT.
cl_replica_of() {
	local id
	id=$(cl_myid "$1")
	cl_native "$1" CLUSTER NODES | tr -d '\r' |
		awk -v id="$id" '$3 ~ /slave/ && $4 == id { split($2, hp, "[:@,]"); print hp[2]; exit }'
}

# cl_key_on PORT PREFIX: a key PREFIX{N} (N the first that fits) whose slot
# the master on PORT serves.
cl_key_on() {
	cl_native "$1" CLUSTER NODES | tr -d '\r' | awk -v port="$1" '
		{ split($2, hp, "[:@,]") }
		hp[2] == port && $3 ~ /master/ {
			for (i = 9; i <= NF; i++) if ($i !~ /^\[/) print $i
		}' | "$T_PY" -c '
import sys
from redis.crc import key_slot
ranges = []
for r in sys.stdin.read().split():
    lo, _, hi = r.partition("-")
    ranges.append((int(lo), int(hi or lo)))
for n in range(100000):
    k = "%s{%d}" % (sys.argv[1], n)
    if any(lo <= key_slot(k.encode()) <= hi for lo, hi in ranges):
        print(k)
        break
' "$2"
}

# cl_role_is PORT ROLE: the node's role (ROLE's first line) is ROLE.
cl_role_is() { [ "$(cl_role "$1")" = "$2" ]; }

# cl_file_at_least FILE N: FILE holds a number >= N.
cl_file_at_least() { [ "$(cat "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
