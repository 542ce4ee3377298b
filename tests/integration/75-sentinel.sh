#!/bin/bash
# Redis Sentinel through the shim: a master, a replica and 3 sentinels on
# 127.0.0.1, all TLS-only with client certificates required (sentinels with
# tls-port and tls-replication, so they speak TLS to the nodes and to each
# other).  redis-py's Sentinel, a plaintext client, discovers the master and
# the replica and talks to both through one match spec; after SENTINEL
# FAILOVER it follows the new master.
# shellcheck source-path=SCRIPTDIR source=cluster-lib.bash disable=SC2317,SC2119
source "$(dirname "$0")/cluster-lib.bash"
# shellcheck source=../../scripts/testlib.sh
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

CLIENTS=$T_ROOT/tests/clients
MASTER="" REPLICA="" SENTINELS=()

# start_sentinel PORT: a sentinel monitoring the master as "mymaster"
# (quorum 2), TLS only, from a configuration file of its own (a sentinel
# rewrites it).
start_sentinel() {
	local port=$1 f=$T_TMP/sentinel-$1.conf log=$T_TMP/sentinel-$1.log pid
	cat >"$f" <<EOF
bind 127.0.0.1
port 0
tls-port $port
tls-cert-file $T_TMP/certs/node.crt
tls-key-file $T_TMP/certs/node.key
tls-ca-cert-file $PKI/ca.crt
tls-auth-clients yes
tls-replication yes
daemonize no
dir $T_TMP
logfile $log
sentinel monitor mymaster 127.0.0.1 $MASTER 2
sentinel down-after-milliseconds mymaster 3000
sentinel failover-timeout mymaster 20000
EOF
	redis-server "$f" --sentinel </dev/null >/dev/null 2>&1 &
	pid=$!
	t_track "$pid"
	wait_until 15 grep -q "+monitor master mymaster" "$log" ||
		{ fail "sentinel on $port did not start: $(tail -3 "$log" 2>/dev/null)"; return 1; }
}

# sentinel_sees PORT WHAT N: SENTINEL WHAT mymaster lists N entries
# (replicas, sentinels) on the sentinel at PORT.
sentinel_sees() {
	[ "$(cl_native "$1" SENTINEL "$2" mymaster | grep -cx 'name')" -ge "$3" ]
}
all_sentinels_see() {
	local s
	for s in "${SENTINELS[@]}"; do
		sentinel_sees "$s" replicas 1 && sentinel_sees "$s" sentinels 2 || return 1
	done
}
# master_is PORT: every sentinel names 127.0.0.1:PORT as the master.
master_is() {
	local s
	for s in "${SENTINELS[@]}"; do
		[ "$(cl_native "$s" SENTINEL get-master-addr-by-name mymaster | tr '\n' :)" = "127.0.0.1:$1:" ] || return 1
	done
}
# field NAME LINE: the number after " NAME=" in LINE.
field() { grep -oE " $1=[0-9]+" <<<"$2" | cut -d= -f2; }
link_up() { [ "$(cl_info_field "$1" replication master_link_status)" = up ]; }

case_setup() {
	local i
	# Master, replica, 3 sentinels on consecutive ports: one match spec.
	cl_port_block 5 || return
	cl_cert node "DNS:localhost,IP:127.0.0.1" || return
	MASTER=$CL_BASE REPLICA=$((CL_BASE + 1))
	cl_start_node "$MASTER" node || return
	cl_start_node "$REPLICA" node --replicaof 127.0.0.1 "$MASTER" || return
	wait_until 20 link_up "$REPLICA" || { fail "replication over TLS did not start"; return 1; }
	for i in 2 3 4; do
		SENTINELS+=($((CL_BASE + i)))
		start_sentinel $((CL_BASE + i)) || return
	done
	SPORTS=$(IFS=,; echo "${SENTINELS[*]}")
	wait_until 30 all_sentinels_see || { fail "sentinels did not find the replica and each other: $(cl_native "${SENTINELS[0]}" SENTINEL sentinels mymaster | tr '\n' ' ')"; return 1; }
	SHIM=("$T_RUN" --endpoint "127.0.0.1:$CL_BASE-$((CL_BASE + 4))" --cacert "$PKI/ca.crt"
		--cert "$PKI/client.crt" --key "$PKI/client.key" --log-level info --)
}

case_plain_refused() {
	t_run redis-cli -h 127.0.0.1 -p "${SENTINELS[0]}" SENTINEL get-master-addr-by-name mymaster
	assert_not_contains "$T_OUT" "$MASTER" "plain redis-cli to a sentinel"
}

case_discover() {
	t_run "${SHIM[@]}" "$T_PY" "$CLIENTS/cluster_sentinel.py" discover "$SPORTS" "$MASTER" "$REPLICA"
	assert_rc 0 "cluster_sentinel.py discover" || { echo "$T_OUT" >&2; return 1; }
	assert_eq "OK master=$MASTER replicas=[$REPLICA]" "$(tail -1 <<<"$T_OUT")" "discovery"
	# Every connection (sentinels, master, replica) was TLS, verified.
	local p
	for p in "${SENTINELS[0]}" "$MASTER" "$REPLICA"; do
		assert_match "$T_ERR" "127\\.0\\.0\\.1:$p: TLS handshake done: .*verified '127\\.0\\.0\\.1'" "the shim's log for port $p"
	done
	assert_eq "" "$(shim_log_lines | grep -iE ': (error|warning):')" "shim errors"
}

case_failover() {
	local d=$T_TMP/follow pid out n
	mkdir -p "$d"
	"${SHIM[@]}" "$T_PY" "$CLIENTS/cluster_sentinel.py" follow "$SPORTS" "$d" \
		>"$d/out" 2>"$d/err" </dev/null &
	pid=$!
	t_track "$pid"
	wait_until 20 test -s "$d/progress" || { fail "the client made no progress: $(cat "$d/err")"; return 1; }
	assert_eq OK "$(cl_native "${SENTINELS[0]}" SENTINEL FAILOVER mymaster)" "SENTINEL FAILOVER" || return
	wait_until 30 master_is "$REPLICA" || fail "the sentinels did not promote $REPLICA"
	# The sentinels demote the old master (and drop its clients) when they
	# next poll it, up to 10 s later; until then it still takes writes.
	wait_until 30 cl_role_is "$MASTER" slave || fail "the old master $MASTER was not demoted"
	touch "$d/mark"
	n=$(cat "$d/progress")
	wait_until 20 cl_file_at_least "$d/progress" $((n + 200)) || fail "no writes after the failover"
	touch "$d/stop"
	await_exit 30 "$pid"
	out=$(tail -1 "$d/out")
	assert_match "$out" "^OK ok=[0-9]+ failed=[0-9]+ after_mark=[0-9]+ master=$REPLICA final=" "the client's result (stderr: $(t_short "$(grep -v '^redis-tls-shim' "$d/err")"))" || return
	[ "$(field after_mark "$out")" -ge 200 ] || fail "too few writes after the failover: $out"
	# The demoted master drops its clients: a command or two may fail
	# before the client asks the sentinels again, not more.
	[ "$(field failed "$out")" -le 5 ] || fail "too many failed writes: $out"
	# What the client wrote last is on the new master (native TLS).
	assert_eq "${out##*final=}" "$(cl_native "$REPLICA" GET follow:final)" "follow:final on the new master"
	assert_match "$(grep -a "127.0.0.1:$REPLICA: TLS handshake done" "$d/err")" "verified '127\\.0\\.0\\.1'" "a verified handshake with the new master"
	echo "    # $(sed -n 1p "$d/out")"
	echo "    # ${out%% final=*}"
}

t_case "master, replica, 3 sentinels, all TLS only" case_setup
[ "${#SENTINELS[@]}" -eq 3 ] || t_done
t_case "plain redis-cli gets nothing from a sentinel" case_plain_refused
t_case "redis-py Sentinel: discovers master and replica, talks to both" case_discover
t_case "SENTINEL FAILOVER: redis-py follows the new master" case_failover
t_done
