#!/bin/bash
# Ruby's redis gem (Debian's ruby-redis), unmodified, through the shim:
# values of several MiB, pipelines, MULTI/EXEC.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

RBC=$T_TMP/client.rb
cat >"$RBC" <<'RUBY'
require "redis"
require "securerandom"

kase, port = ARGV[0], Integer(ARGV[1])
r = Redis.new(host: "127.0.0.1", port: port, timeout: 20)

def check(cond, what)
  return if cond
  puts "FAILED: #{what}"
  exit 1
end

case kase
when "basic"
  check(r.ping == "PONG", "PING")
  r.set("rb:basic", "caf\u00e9")
  check(r.get("rb:basic").force_encoding("UTF-8") == "caf\u00e9", "GET")
when "large"
  [3, 6].each do |mib|
    v = SecureRandom.random_bytes(mib << 20)
    r.set("rb:large:#{mib}", v)
    got = r.get("rb:large:#{mib}")
    check(got.b == v.b, "#{mib} MiB value round trip")
  end
when "pipeline"
  replies = r.pipelined do |p|
    10_000.times { |i| p.set("rb:pipe:#{i}", "v#{i}") }
  end
  check(replies.size == 10_000 && replies.all? { |x| x == "OK" }, "10000 SET replies")
  values = r.pipelined do |p|
    10_000.times { |i| p.get("rb:pipe:#{i}") }
  end
  check(values == (0...10_000).map { |i| "v#{i}" }, "10000 GET replies")
  big = SecureRandom.random_bytes(2 << 20)
  replies = r.pipelined do |p|
    p.set("rb:pipe:big", big)
    p.get("rb:pipe:big")
  end
  check(replies[1].b == big.b, "2 MiB value in a pipeline")
when "multi"
  r.del("rb:tx")
  res = r.multi do |m|
    m.incr("rb:tx")
    m.incr("rb:tx")
  end
  check(res == [1, 2], "MULTI/EXEC: #{res.inspect}")
else
  abort "unknown case #{kase}"
end
puts "OK #{kase}"
RUBY

rb_case() {
	t_run "${SHIM[@]}" ruby "$RBC" "$1" "$REDIS_PORT"
	assert_rc 0 "ruby $1" || return
	assert_eq "OK $1" "$(tail -1 <<<"$T_OUT")" "ruby $1 result"
}

case_visible() {
	assert_eq v9999 "$(rcli_native GET rb:pipe:9999)" "rb:pipe:9999 (native TLS)"
}

t_case "ruby: PING, SET/GET" rb_case basic
t_case "ruby: values of 3 and 6 MiB" rb_case large
t_case "ruby: pipelines of 10000 commands, 2 MiB in a pipeline" rb_case pipeline
t_case "ruby: MULTI/EXEC" rb_case multi
t_case "ruby: writes visible to native TLS client" case_visible
t_done
