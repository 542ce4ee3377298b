# loop.py tls|plain HOST PORT N P [CA CERT KEY] - redis-py's loop of
# scripts/bench.sh's client table (scripts/bench-lib/clients.sh): N
# sequential GETs, then one pipeline of P GETs (transaction=False), of a
# 16-byte value it SETs first.  tls: redis-py's own TLS (ssl=True, the
# server verified against CA, host name checked, client certificate);
# plain: plaintext, for the shim to carry.  Every reply is checked.
# Prints "seq_rps=R pipe_rps=R seq_cpu_us=C pipe_cpu_us=C" (requests/s, the
# connection set-up left out; the process's CPU time per GET, microseconds).
# Run with /usr/bin/python3 (Debian's python3-redis).
import sys
import time
import redis

mode, host, port, n, p = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
kw = dict(host=host, port=port, socket_timeout=60, socket_connect_timeout=10)
if mode == "tls":
    ca, cert, key = sys.argv[6:9]
    kw.update(ssl=True, ssl_ca_certs=ca, ssl_cert_reqs="required", ssl_check_hostname=True,
              ssl_certfile=cert, ssl_keyfile=key)
elif mode != "plain":
    sys.exit("loop.py: mode is tls or plain")
r = redis.Redis(**kw)
KEY, VAL = "bench:clients:py", b"0123456789abcdef"
r.set(KEY, VAL)  # connects (and handshakes) before the clock starts

c = time.process_time()
t = time.perf_counter()
for _ in range(n):
    if r.get(KEY) != VAL:
        sys.exit("loop.py: wrong GET reply")
seq = n / (time.perf_counter() - t)
seq_cpu = (time.process_time() - c) * 1e6 / max(n, 1)

pipe = r.pipeline(transaction=False)
for _ in range(p):
    pipe.get(KEY)
c = time.process_time()
t = time.perf_counter()
got = pipe.execute()
pipe_rps = p / (time.perf_counter() - t)
pipe_cpu = (time.process_time() - c) * 1e6 / p
if len(got) != p or any(v != VAL for v in got):
    sys.exit("loop.py: wrong pipeline replies")
print(f"seq_rps={seq:.0f} pipe_rps={pipe_rps:.0f} seq_cpu_us={seq_cpu:.2f} pipe_cpu_us={pipe_cpu:.2f}")
