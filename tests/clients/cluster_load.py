#!/usr/bin/python3
"""cluster_load.py HOST PORT TAG DIR - a redis-py RedisCluster client that
writes and reads without pause while the test changes the cluster under it
(slot migration, failover).

Keys {TAG}:0 .. {TAG}:499 (one hash slot), cycled: SET a fresh value, GET
it back, compare.  Files in DIR steer and report:
  DIR/stop      created by the test: finish the current command, verify, exit
  DIR/mark      created by the test (e.g. once the failover is done):
                commands completed after it appears are counted apart
  DIR/progress  written by the client: commands done so far
At the end every key is read back once more and compared with the last
value written.  Exits by itself after 90 s.  Last line:
  OK ok=N failed=0 after_mark=N redirects={...}
or FAILED: ... (a failed command, a wrong value, no stop within 90 s).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_common import check, cluster, count_redirects  # noqa: E402

host, port, tag, d = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
NKEYS = 500
redirects = count_redirects()
rc = cluster(host, port, socket_timeout=5)

keys = ["{%s}:%d" % (tag, i) for i in range(NKEYS)]
last = {}
ok = failed = after_mark = seq = 0
errors = []
marked = False
deadline = time.time() + 90
stop = os.path.join(d, "stop")
mark = os.path.join(d, "mark")
progress = os.path.join(d, "progress")

while not os.path.exists(stop):
    if time.time() > deadline:
        check(False, "not stopped within 90 s (ok=%d failed=%d)" % (ok, failed))
    k = keys[seq % NKEYS]
    v = "v%d" % seq
    seq += 1
    try:
        check(rc.set(k, v) is True, "SET %s" % k)
        got = rc.get(k)
        check(got == v.encode(), "GET %s: %r, wanted %r" % (k, got, v))
        last[k] = v
        ok += 1
        if marked:
            after_mark += 1
    except Exception as e:  # count, keep going: the test decides
        failed += 1
        if len(errors) < 5:
            errors.append("%s: %r" % (k, e))
    if seq % 50 == 0:
        marked = marked or os.path.exists(mark)
        with open(progress + ".tmp", "w") as f:
            f.write("%d\n" % ok)
        os.replace(progress + ".tmp", progress)

bad = [k for k, v in last.items() if rc.get(k) != v.encode()]
rc.close()
check(not errors, "%d failed commands, first: %s" % (failed, "; ".join(errors)))
check(not bad, "%d keys lost their last value, e.g. %s" % (len(bad), bad[:3]))
print("OK ok=%d failed=%d after_mark=%d keys=%d redirects=%s" % (
    ok, failed, after_mark, len(last), dict(redirects.counts)), flush=True)
