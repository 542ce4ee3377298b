# loop.rb tls|plain HOST PORT N P [CA CERT KEY] - redis-rb's loop of
# scripts/bench.sh's client table (scripts/bench-lib/clients.sh): N
# sequential GETs, then one pipeline of P GETs (pipelined), of a 16-byte
# value it SETs first.  tls: redis-rb's own TLS (ssl: true, the server
# verified against CA, host name checked, client certificate); plain:
# plaintext, for the shim to carry.  Every reply is checked.
# Prints "seq_rps=R pipe_rps=R seq_cpu_us=C pipe_cpu_us=C" (requests/s, the
# connection set-up left out; the process's CPU time per GET, microseconds).
require "redis"
require "openssl"

mode, host, port, n, p, ca, cert, key = ARGV
port, n, p = Integer(port), Integer(n), Integer(p)
kw = { host: host, port: port, connect_timeout: 10, timeout: 60 }
case mode
when "tls"
  kw[:ssl] = true
  kw[:ssl_params] = {
    ca_file: ca, verify_mode: OpenSSL::SSL::VERIFY_PEER, verify_hostname: true,
    cert: OpenSSL::X509::Certificate.new(File.read(cert)),
    key: OpenSSL::PKey.read(File.read(key))
  }
when "plain"
else abort "loop.rb: mode is tls or plain"
end
r = Redis.new(**kw)
KEY = "bench:clients:rb"
VAL = "0123456789abcdef"
r.set(KEY, VAL) # connects (and handshakes) before the clock starts

def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
def cpu = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)

c = cpu
t = now
n.times { abort "loop.rb: wrong GET reply" unless r.get(KEY) == VAL }
seq = n / (now - t)
seq_cpu = (cpu - c) * 1e6 / [n, 1].max

c = cpu
t = now
got = r.pipelined { |pl| p.times { pl.get(KEY) } }
pipe = p / (now - t)
pipe_cpu = (cpu - c) * 1e6 / p
abort "loop.rb: wrong pipeline replies" unless got.size == p && got.all?(VAL)
puts format("seq_rps=%.0f pipe_rps=%.0f seq_cpu_us=%.2f pipe_cpu_us=%.2f", seq, pipe, seq_cpu,
            pipe_cpu)
