#!/bin/bash
# /usr/bin/python3 with Debian's redis package (redis-py), socket_timeout
# set, through the shim: pipelines, large values, threads, pub/sub.
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim
start_tls_redis || t_done

PYC=$T_TMP/client.py
cat >"$PYC" <<'EOF'
import os, sys, threading, time
import redis

case, port = sys.argv[1], int(sys.argv[2])

def client(**kw):
    kw.setdefault("socket_timeout", 20)
    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=10, **kw)

def check(cond, what):
    if not cond:
        print("FAILED:", what, flush=True)
        sys.exit(1)

if case == "basic":
    r = client()
    check(r.ping() is True, "PING")
    r.set("py:basic", b"\x00\x01binary\xff")
    check(r.get("py:basic") == b"\x00\x01binary\xff", "binary GET")

elif case == "pipeline":
    r = client()
    p = r.pipeline(transaction=False)
    for i in range(10000):
        p.set("py:pipe:%d" % i, "v%d" % i)
    res = p.execute()
    check(len(res) == 10000 and all(x is True for x in res), "10000 SET replies")
    p = r.pipeline(transaction=False)
    for i in range(10000):
        p.get("py:pipe:%d" % i)
    res = p.execute()
    check(res == [("v%d" % i).encode() for i in range(10000)], "10000 GET replies")
    # A transaction pipeline as well (MULTI/EXEC).
    p = r.pipeline(transaction=True)
    p.delete("py:tx").incr("py:tx").incr("py:tx")
    check(p.execute()[1:] == [1, 2], "MULTI/EXEC pipeline")

elif case == "large":
    r = client()
    for mib in (3, 7):
        v = os.urandom(mib << 20)
        r.set("py:large:%d" % mib, v)
        check(r.get("py:large:%d" % mib) == v, "%d MiB value round trip" % mib)
        check(r.strlen("py:large:%d" % mib) == len(v), "STRLEN %d MiB" % mib)

elif case == "threads":
    errors = []
    def worker(n):
        try:
            r = client()
            for i in range(150):
                v = os.urandom(1 + (i * 977) % 65536)
                k = "py:thr:%d:%d" % (n, i)
                r.set(k, v)
                if r.get(k) != v:
                    errors.append("thread %d: value %d differs" % (n, i))
                    return
            big = os.urandom(1 << 20)
            r.set("py:thr:big:%d" % n, big)
            if r.get("py:thr:big:%d" % n) != big:
                errors.append("thread %d: 1 MiB value differs" % n)
            r.close()
        except Exception as e:
            errors.append("thread %d: %r" % (n, e))
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in ts: t.start()
    for t in ts: t.join(120)
    check(not any(t.is_alive() for t in ts), "all threads finished")
    check(not errors, "; ".join(errors))

elif case == "pubsub":
    sub, pub = client(), client()
    ps = sub.pubsub()
    ps.subscribe("py:chan")
    m = ps.get_message(timeout=10)
    check(m and m["type"] == "subscribe", "subscribe confirmation: %r" % (m,))
    sent = [("msg-%d-" % i).encode() + os.urandom(8).hex().encode() for i in range(200)]
    def publish():
        time.sleep(0.2)       # the reader is blocked in get_message by then
        for s in sent:
            pub.publish("py:chan", s)
    t = threading.Thread(target=publish)
    t.start()
    got = []
    deadline = time.time() + 30
    while len(got) < len(sent) and time.time() < deadline:
        m = ps.get_message(timeout=5)
        if m and m["type"] == "message":
            got.append(m["data"])
    t.join()
    check(got == sent, "received %d of %d messages in order" % (len(got), len(sent)))
    # Subscriber and publisher on one connection object per thread, while
    # the subscriber's thread is blocked reading: a listener thread.
    got2 = []
    ps2 = sub.pubsub()
    ps2.subscribe(**{"py:chan2": lambda m: got2.append(m["data"])})
    runner = ps2.run_in_thread(sleep_time=0.5)
    deadline = time.time() + 10
    while pub.publish("py:chan2", b"ping") == 0 and time.time() < deadline:
        time.sleep(0.05)
    deadline = time.time() + 10
    while not got2 and time.time() < deadline:
        time.sleep(0.05)
    runner.stop()
    check(got2 and got2[0] == b"ping", "threaded listener got the message")

elif case == "timeout":
    # socket_timeout must fire although the shim owns the socket.
    r = client(socket_timeout=1)
    t0 = time.time()
    try:
        r.blpop("py:never", timeout=8)
        check(False, "BLPOP returned instead of timing out")
    except redis.exceptions.TimeoutError:
        pass
    dt = time.time() - t0
    check(0.7 < dt < 4, "timed out after %.2fs, wanted about 1s" % dt)
    r2 = client()
    check(r2.ping() is True, "a new connection works after the timeout")

else:
    sys.exit("unknown case " + case)
print("OK", case, flush=True)
EOF

py_case() {
	t_run "${SHIM[@]}" "$T_PY" "$PYC" "$1" "$REDIS_PORT"
	assert_rc 0 "python $1" || return
	assert_eq "OK $1" "$(tail -1 <<<"$T_OUT")" "python $1 result"
}

case_visible() {
	# What python wrote is what the server holds (checked natively).
	assert_eq v9999 "$(rcli_native GET py:pipe:9999)" "py:pipe:9999 (native TLS)"
}

t_case "python: PING, binary SET/GET" py_case basic
t_case "python: pipelines of 10000 commands, MULTI/EXEC" py_case pipeline
t_case "python: values of 3 and 7 MiB" py_case large
t_case "python: 8 threads, a connection each" py_case threads
t_case "python: pub/sub (200 messages, threaded listener)" py_case pubsub
t_case "python: socket_timeout fires" py_case timeout
t_case "python: writes visible to native TLS client" case_visible
t_done
