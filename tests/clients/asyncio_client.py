"""asyncio_client.py - redis-py's asyncio client (redis.asyncio), unmodified.

    /usr/bin/python3 asyncio_client.py CASE HOST PORT

One event loop, sockets connected without blocking and waited on by the
loop's selector (epoll): the pattern the shim's readiness emulation must
serve.  Every case checks each reply byte-exact and prints "OK CASE" last;
any failure prints "FAILED: what" and exits 1.

  tasks     50 concurrent tasks on one client (a pooled connection each):
            SET/GET round trips with random binary values, INCR of a shared
            counter; the counter must equal the number of INCRs
  pipeline  10000 SETs then 10000 GETs in two pipelines, a MULTI/EXEC one
  pubsub    a subscriber task awaiting get_message while another task
            publishes 300 messages (some of 200 KiB): all, in order
  large     values of 3 and 5 MiB, written and read concurrently by two
            tasks on two connections
  timeout   socket_timeout=1 fires on a BLPOP the server never answers;
            the next command on a new connection works
"""
import asyncio
import os
import random
import sys
import time

import redis
import redis.asyncio as aioredis

CASE, HOST, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
PFX = "aio:%d:" % os.getpid()


def check(cond, what):
    if not cond:
        print("FAILED:", what, flush=True)
        sys.exit(1)


def client(**kw):
    kw.setdefault("socket_timeout", 20)
    return aioredis.Redis(host=HOST, port=PORT, socket_connect_timeout=10, **kw)


async def case_tasks():
    r = client(max_connections=64)
    rounds, ntasks = 40, 50
    await r.delete(PFX + "counter")

    async def task(n):
        rnd = random.Random(n)
        for i in range(rounds):
            v = rnd.randbytes(rnd.choice((1, 17, 1000, 16384, 70000)))
            k = "%stask:%d:%d" % (PFX, n, i)
            check(await r.set(k, v) is True, "task %d SET %d" % (n, i))
            got = await r.get(k)
            check(got == v, "task %d value %d: %d bytes back, %d sent"
                  % (n, i, len(got or b""), len(v)))
            await r.incr(PFX + "counter")
        return n

    done = await asyncio.gather(*(task(n) for n in range(ntasks)))
    check(done == list(range(ntasks)), "every task finished")
    total = int(await r.get(PFX + "counter"))
    check(total == ntasks * rounds, "counter %d, wanted %d" % (total, ntasks * rounds))
    conns = len(r.connection_pool._available_connections)
    check(conns > 1, "the tasks used %d connections, wanted several" % conns)
    await r.close()


async def case_pipeline():
    r = client()
    n = 10000
    vals = [("v%d-" % i).encode() + os.urandom(i % 64) for i in range(n)]
    async with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.set("%spipe:%d" % (PFX, i), vals[i])
        res = await p.execute()
    check(len(res) == n and all(x is True for x in res), "%d SET replies" % n)
    async with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.get("%spipe:%d" % (PFX, i))
        res = await p.execute()
    check(res == vals, "%d GET replies byte-exact and in order" % n)
    async with r.pipeline(transaction=True) as p:
        p.delete(PFX + "tx").incr(PFX + "tx").incr(PFX + "tx")
        res = await p.execute()
    check(res[1:] == [1, 2], "MULTI/EXEC pipeline: %r" % (res,))
    await r.close()


async def case_pubsub():
    sub, pub = client(), client()
    ps = sub.pubsub()
    chan = PFX + "chan"
    await ps.subscribe(chan)
    m = await ps.get_message(timeout=10)
    check(m and m["type"] == "subscribe", "subscribe confirmation: %r" % (m,))
    sent = [("msg-%d:" % i).encode() + os.urandom(204800 if i % 50 == 7 else i % 300)
            for i in range(300)]

    async def publisher():
        await asyncio.sleep(0.2)  # the reader is waiting by then
        for s in sent:
            check(await pub.publish(chan, s) == 1, "PUBLISH reached the subscriber")

    async def reader():
        got = []
        deadline = time.time() + 30
        while len(got) < len(sent) and time.time() < deadline:
            m = await ps.get_message(ignore_subscribe_messages=True, timeout=5)
            if m and m["type"] == "message":
                got.append(m["data"])
        return got

    got, _ = await asyncio.gather(reader(), publisher())
    check(len(got) == len(sent), "received %d of %d messages" % (len(got), len(sent)))
    check(got == sent, "messages byte-exact and in order")
    await ps.unsubscribe(chan)
    await ps.close()
    await sub.close()
    await pub.close()


async def case_large():
    r = client(socket_timeout=60)

    async def roundtrip(mib):
        v = os.urandom(mib << 20)
        k = "%slarge:%d" % (PFX, mib)
        check(await r.set(k, v) is True, "SET %d MiB" % mib)
        check(await r.strlen(k) == len(v), "STRLEN %d MiB" % mib)
        check(await r.get(k) == v, "%d MiB value round trip" % mib)

    await asyncio.gather(roundtrip(3), roundtrip(5))
    await r.close()


async def case_timeout():
    r = client(socket_timeout=1)
    t0 = time.time()
    try:
        await r.blpop(PFX + "never", timeout=8)
        check(False, "BLPOP returned instead of timing out")
    except redis.exceptions.TimeoutError:
        pass
    dt = time.time() - t0
    check(0.7 < dt < 4, "timed out after %.2fs, wanted about 1s" % dt)
    await r.close()
    r2 = client()
    check(await r2.ping() is True, "a new connection works after the timeout")
    await r2.close()


CASES = {"tasks": case_tasks, "pipeline": case_pipeline, "pubsub": case_pubsub,
         "large": case_large, "timeout": case_timeout}
if CASE not in CASES:
    sys.exit("unknown case " + CASE)
asyncio.run(CASES[CASE]())
print("OK", CASE, flush=True)
