#!/usr/bin/python3
"""cluster_sentinel.py MODE SENTINEL-PORTS ... - redis-py's Sentinel, as a
plaintext client (run it through the shim), against sentinels on
127.0.0.1 monitoring "mymaster".

  discover PORTS MASTER REPLICA
      the sentinels name MASTER as the master and REPLICA among the
      replicas; a write through master_for() is read back through
      slave_for() once replicated.
  follow PORTS DIR
      writes through master_for() without pause until DIR/stop appears,
      counting failures (expected while the master changes) and, once
      DIR/mark appears, the writes completed after it; DIR/progress holds
      the count so far.  At the end, writes "follow:final" = a fresh value
      and names the master it went to.  Prints
      "OK ok=N failed=N after_mark=N master=PORT final=VALUE".

PORTS is a comma-separated list of sentinel ports.  Last line "OK ..." or
"FAILED: ...".
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_common import check  # noqa: E402
from redis.sentinel import Sentinel  # noqa: E402

mode = sys.argv[1]
sentinels = [("127.0.0.1", int(p)) for p in sys.argv[2].split(",")]
TO = dict(socket_timeout=5, socket_connect_timeout=5)
s = Sentinel(sentinels, sentinel_kwargs=TO, **TO)

if mode == "discover":
    master, replica = int(sys.argv[3]), int(sys.argv[4])
    for sent in s.sentinels:
        check(sent.ping() is True, "PING a sentinel")
    check(s.discover_master("mymaster") == ("127.0.0.1", master),
          "master: %r" % (s.discover_master("mymaster"),))
    slaves = s.discover_slaves("mymaster")
    check(("127.0.0.1", replica) in slaves, "replicas: %r" % (slaves,))
    m = s.master_for("mymaster")
    r = s.slave_for("mymaster")
    v = os.urandom(8).hex()
    check(m.set("discover:k", v) is True, "SET on the master")
    check(m.connection_pool.get_master_address() == ("127.0.0.1", master),
          "the master client's address")
    deadline = time.time() + 10
    while r.get("discover:k") != v.encode():
        check(time.time() < deadline, "the replica never showed the value")
        time.sleep(0.05)
    check(r.info("replication")["role"] == "slave", "slave_for() is a replica")
    print("OK master=%d replicas=%s" % (master, sorted(p for _, p in slaves)),
          flush=True)

elif mode == "follow":
    d = sys.argv[3]
    m = s.master_for("mymaster")
    ok = failed = after_mark = seq = 0
    marked = False
    errors = []
    deadline = time.time() + 90
    while not os.path.exists(os.path.join(d, "stop")):
        check(time.time() < deadline, "not stopped within 90 s")
        seq += 1
        try:
            check(m.set("follow:%d" % (seq % 100), seq) is True, "SET")
            ok += 1
            if marked:
                after_mark += 1
        except Exception as e:  # the master is changing: count, go on
            failed += 1
            if len(errors) < 3:
                errors.append(repr(e))
            time.sleep(0.05)
        if seq % 20 == 0:
            marked = marked or os.path.exists(os.path.join(d, "mark"))
            with open(os.path.join(d, "progress.tmp"), "w") as f:
                f.write("%d\n" % ok)
            os.replace(os.path.join(d, "progress.tmp"),
                       os.path.join(d, "progress"))
    final = os.urandom(8).hex()
    check(m.set("follow:final", final) is True, "the final SET")
    host, port = m.connection_pool.get_master_address()
    print("errors while following:", errors, flush=True)
    print("OK ok=%d failed=%d after_mark=%d master=%d final=%s" % (
        ok, failed, after_mark, port, final), flush=True)

else:
    sys.exit("unknown mode " + mode)
