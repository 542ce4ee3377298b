# url_client.py KEY VALUE - redis-py at $REDIS_URL (redis.from_url): prints
# the URL it was given, SETs KEY to VALUE and prints what GET returns.
# Run with /usr/bin/python3 (Debian's python3-redis); 06-url, 72-managed.
import os, sys
import redis

url = os.environ["REDIS_URL"]
print(url, flush=True)
r = redis.from_url(url, socket_timeout=20, socket_connect_timeout=10)
r.set(sys.argv[1], sys.argv[2])
print(r.get(sys.argv[1]).decode(), flush=True)
