#!/usr/bin/python3
"""cluster_basic.py HOST PORT [DOMAIN] - redis-py's RedisCluster, started
from one node, writes and reads keys over every slot range.

Checks: the client found 3 primaries (and, with DOMAIN, every node it
learnt is named *.DOMAIN, i.e. it follows hostname announcements); 300
keys written and read back one by one land on all three primaries; a
cluster pipeline of 300 SET and 300 GET; MGET across slots
(mget_nonatomic).  Prints "OK ..." or "FAILED: ...".
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_common import check, cluster, count_redirects  # noqa: E402

host, port = sys.argv[1], int(sys.argv[2])
domain = sys.argv[3] if len(sys.argv) > 3 else None

redirects = count_redirects()
rc = cluster(host, port)
primaries = rc.get_primaries()
check(len(primaries) == 3, "3 primaries, got %r" % [p.name for p in primaries])
if domain:
    names = sorted(n.host for n in rc.get_nodes())
    check(all(h.endswith("." + domain) for h in names),
          "every node known by a name in %s: %r" % (domain, names))

per_node = {p.name: 0 for p in primaries}
keys = ["py:basic:%d" % i for i in range(300)]
for i, k in enumerate(keys):
    v = os.urandom(8).hex() + ":%d" % i
    check(rc.set(k, v) is True, "SET %s" % k)
    check(rc.get(k) == v.encode(), "GET %s" % k)
    per_node[rc.get_node_from_key(k).name] += 1
check(all(n > 0 for n in per_node.values()), "keys on every primary: %r" % per_node)

pipe = rc.pipeline()
for k in keys:
    pipe.set(k, "pipe-" + k)
check(all(r is True for r in pipe.execute()), "pipelined SET")
pipe = rc.pipeline()
for k in keys:
    pipe.get(k)
got = pipe.execute()
check(got == [("pipe-" + k).encode() for k in keys], "pipelined GET")
check(rc.mget_nonatomic(keys) == got, "MGET across slots")
rc.close()
print("OK %d keys, per primary %s, redirects %s" % (
    len(keys), sorted(per_node.values()), dict(redirects.counts)), flush=True)
