# ruby_client.rb - Ruby's redis gem (Debian's ruby-redis 4.8), unmodified.
# The gem connects with connect_nonblock and waits with
# wait_readable/wait_writable (poll), reading with read_nonblock: every
# socket is non-blocking.
#
#   ruby ruby_client.rb CASE HOST PORT
#
# Cases of tests/integration/30-ruby.sh (fixed keys rb:*, which that test
# reads back with the native client):
#   basic    PING; SET/GET of a UTF-8 value
#   large    SET/GET of random values of 3 and 6 MiB, byte-exact
#   pipeline pipelines of 10000 SETs and 10000 GETs (every reply right, in
#            order), then SET/GET of 2 MiB in one pipeline
#   multi    MULTI/EXEC of two INCRs: [1, 2]
# Cases of tests/integration/25-async.sh (keys rbx:PID:*):
#   threads  8 threads, a connection each: SET/GET of random binary values
#            (up to 256 KiB) and INCR of a shared counter
#   pubsub   a thread blocked in SUBSCRIBE receives 300 messages (some of
#            200 KiB) published by the main thread: all, in order, exact
#   timeout  read_timeout 1 s fires on a BLPOP the server never answers;
#            the same client reconnects and works
# Prints "OK CASE" last; "FAILED: what" and exit 1 otherwise.
require "redis"
require "securerandom"
require "timeout"

kase, host, port = ARGV[0], ARGV[1], Integer(ARGV[2])
PFX = "rbx:#{Process.pid}:"

def client(host, port, **kw)
  Redis.new(host: host, port: port, connect_timeout: 10, timeout: 20, **kw)
end

def check(cond, what)
  return if cond
  puts "FAILED: #{what}"
  exit 1
end

case kase
when "basic"
  r = client(host, port)
  check(r.ping == "PONG", "PING")
  r.set("rb:basic", "caf\u00e9")
  check(r.get("rb:basic").force_encoding("UTF-8") == "caf\u00e9", "GET")
when "large"
  r = client(host, port)
  [3, 6].each do |mib|
    v = SecureRandom.random_bytes(mib << 20)
    r.set("rb:large:#{mib}", v)
    got = r.get("rb:large:#{mib}")
    check(got.b == v.b, "#{mib} MiB value round trip")
  end
when "pipeline"
  r = client(host, port)
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
  r = client(host, port)
  r.del("rb:tx")
  res = r.multi do |m|
    m.incr("rb:tx")
    m.incr("rb:tx")
  end
  check(res == [1, 2], "MULTI/EXEC: #{res.inspect}")
when "threads"
  r = client(host, port)
  r.del(PFX + "counter")
  errors = Queue.new
  rounds = 100
  threads = (0...8).map do |n|
    Thread.new do
      c = client(host, port)
      rounds.times do |i|
        v = SecureRandom.random_bytes([1, 100, 5000, 65_536, 262_144][(n + i) % 5])
        k = "#{PFX}thr:#{n}:#{i}"
        c.set(k, v)
        got = c.get(k)
        errors << "thread #{n} value #{i} differs" unless got && got.b == v.b
        c.incr(PFX + "counter")
      end
      c.close
    rescue StandardError => e
      errors << "thread #{n}: #{e.class}: #{e.message}"
    end
  end
  threads.each { |t| t.join(60) }
  check(threads.none?(&:alive?), "all threads finished")
  check(errors.empty?, errors.size.times.map { errors.pop }.join("; "))
  check(r.get(PFX + "counter").to_i == 8 * rounds, "counter #{r.get(PFX + 'counter')}, wanted #{8 * rounds}")
when "pubsub"
  chan = PFX + "chan"
  sent = (0...300).map { |i| "msg-#{i}:".b + SecureRandom.random_bytes(i % 50 == 7 ? 204_800 : i % 300) }
  got = []
  subscribed = Queue.new
  sub = client(host, port, timeout: 30)
  reader = Thread.new do
    sub.subscribe(chan) do |on|
      on.subscribe { |_ch, _n| subscribed << true }
      on.message do |_ch, msg|
        got << msg
        sub.unsubscribe(chan) if got.size == sent.size
      end
    end
  end
  begin
    Timeout.timeout(10) { subscribed.pop }
  rescue Timeout::Error
    check(false, "subscribed within 10 s")
  end
  pub = client(host, port)
  sent.each_with_index do |m, i|
    n = pub.publish(chan, m)
    check(n == 1, "PUBLISH #{i} reached #{n} subscribers")
  end
  check(reader.join(30), "the subscriber thread finished")
  check(got.size == sent.size, "received #{got.size} of #{sent.size} messages")
  check(got.map(&:b) == sent.map(&:b), "messages byte-exact and in order")
when "timeout"
  # No retry of the timed-out command (the gem's default retries once).
  r = client(host, port, timeout: 1, reconnect_attempts: 0)
  t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  begin
    # Redis#blpop would stretch the read timeout by BLPOP's own; a raw call
    # keeps the 1 s.
    r.call("BLPOP", PFX + "never", "8")
    check(false, "BLPOP returned instead of timing out")
  rescue Redis::TimeoutError
    nil
  end
  dt = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
  check(dt > 0.7 && dt < 3, format("timed out after %.2fs, wanted about 1s", dt))
  check(r.ping == "PONG", "the client reconnects and works after the timeout")
else
  abort "unknown case #{kase}"
end
puts "OK #{kase}"
