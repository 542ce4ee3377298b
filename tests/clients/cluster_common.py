"""cluster_common.py - shared by the tests/clients/cluster_*.py clients.

They run under /usr/bin/python3 (Debian's python3-redis, 4.3.x) through the
shim, as plaintext clients: nothing here knows about TLS.  Every client
prints one last line, "OK ..." or "FAILED: why", and exits 0 or 1.
"""

import collections
import logging
import sys

import redis
from redis.cluster import RedisCluster


class RedirectCounter(logging.Handler):
    """Counts what redis-py's cluster client logs as it follows redirects
    and retries ("AskError", "MovedError", "ConnectionError"...), and keeps
    those messages off stderr."""

    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def emit(self, record):
        msg = record.getMessage()
        self.counts[msg.split(":")[0].strip("<>' ").replace("class ", "")] += 1


def count_redirects():
    counter = RedirectCounter()
    log = logging.getLogger("redis.cluster")
    log.addHandler(counter)
    log.propagate = False
    log.setLevel(logging.WARNING)
    return counter


def cluster(host, port, **kw):
    kw.setdefault("socket_timeout", 10)
    kw.setdefault("socket_connect_timeout", 10)
    return RedisCluster(host=host, port=port, **kw)


def check(cond, what):
    if not cond:
        print("FAILED:", what, flush=True)
        sys.exit(1)


def key_in_slot_range(prefix, lo, hi, n=1):
    """n keys PREFIX:i whose hash slots are in [lo, hi]."""
    from redis.crc import key_slot

    out, i = [], 0
    while len(out) < n:
        k = "%s:%d" % (prefix, i)
        if lo <= key_slot(k.encode()) <= hi:
            out.append(k)
        i += 1
    return out


__all__ = ["redis", "RedisCluster", "count_redirects", "cluster", "check",
           "key_in_slot_range"]
