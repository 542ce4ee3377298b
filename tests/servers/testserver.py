#!/usr/bin/python3
"""testserver.py - what the test peers in tests/servers share.

The servers (record_server.py, hostile_server.py) import it; the shell
tests run it for ports:

  testserver.py free-port       a TCP port free on 127.0.0.1 right now
  testserver.py port-block N    BASE such that BASE .. BASE+N-1 are free on
                                127.0.0.1, below the ephemeral range (so no
                                client socket takes one before the servers
                                bind them)

For a server: listen on loopback only (127.0.0.1, or ::1) at a port the
kernel picks (or --port), write that port to --port-file (atomically, via
rename) once listening, accept with one thread per connection, record what
arrives (Recorder), proxy to an upstream port (proxy), and exit on SIGTERM
or after --lifetime seconds, in case the test that started it forgot to
stop it.  Standard library only: it runs under Debian's /usr/bin/python3
(what the tests use) and any other python3.
"""

import os
import random
import signal
import socket
import ssl
import sys
import threading
import time

LOOPBACK = ("127.0.0.1", "::1")

# ------------------------------------------------------------ recording


class Recorder:
    """Appends to PREFIX.raw (bytes on the wire, all connections),
    PREFIX.plain (bytes decrypted) and PREFIX.log (one line per event,
    "ID what"), from any thread."""

    def __init__(self, prefix):
        self.lock = threading.Lock()
        self.raw = open(prefix + ".raw", "ab", buffering=0)
        self.plain = open(prefix + ".plain", "ab", buffering=0)
        self.log_file = open(prefix + ".log", "a", buffering=1)

    def record_raw(self, data):
        with self.lock:
            self.raw.write(data)

    def record_plain(self, data):
        with self.lock:
            self.plain.write(data)

    def log(self, cid, msg):
        with self.lock:
            self.log_file.write("%d %s\n" % (cid, msg))


def recv_or_empty(sock, n=65536):
    """sock.recv(n), with any error read as the end of the stream."""
    try:
        return sock.recv(n)
    except OSError:
        return b""


def read_to_end(sock, record, reply=None):
    """Read SOCK until the client goes (or an error), each chunk passed to
    RECORD and, when REPLY is given, answered with it."""
    while True:
        data = recv_or_empty(sock)
        if not data:
            return
        record(data)
        if reply is None:
            continue
        try:
            sock.sendall(reply)
        except OSError:
            return


def shut_wr(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


# ------------------------------------------------------------ TLS


def tls_server_context(cert, key, client_ca=None, max_version=None):
    """A server context with CERT/KEY; client certificates from CLIENT_CA
    required when it is given; MAX_VERSION "1.2" caps the protocol."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if max_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# ------------------------------------------------------------ proxying


def pump(src, dst, record=None):
    """Copy src to dst until src ends or dst fails (each chunk passed to
    RECORD first); then half-close dst."""
    while True:
        data = recv_or_empty(src)
        if not data:
            break
        if record:
            record(data)
        try:
            dst.sendall(data)
        except OSError:
            break
    shut_wr(dst)


def proxy(sock, upstream_port, rec, cid):
    """Forward SOCK to 127.0.0.1:UPSTREAM_PORT both ways, recording the
    client-to-server direction in REC's raw file; return when both
    directions ended."""
    try:
        up = socket.create_connection(("127.0.0.1", upstream_port), timeout=5)
        up.settimeout(None)
    except OSError as e:
        rec.log(cid, "upstream connect failed: %s" % e)
        return
    down = threading.Thread(target=pump, args=(up, sock), daemon=True)
    down.start()
    pump(sock, up, rec.record_raw)
    down.join(10)
    up.close()


# ------------------------------------------------------------ serving


def add_server_args(p):
    """The options every server takes."""
    p.add_argument("--record", required=True, help="file prefix")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--lifetime", type=float, default=600)


def listen(bind="127.0.0.1", port=0, backlog=64):
    """A listening socket on loopback BIND (127.0.0.1 or ::1) at PORT (0:
    one the kernel picks)."""
    if bind not in LOOPBACK:
        raise ValueError("bind: loopback (127.0.0.1 or ::1) only, not %s" % bind)
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((bind, port))
    srv.listen(backlog)
    return srv


def write_port_file(path, port):
    """PORT into PATH, atomically: a reader sees the whole number or no
    file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def exit_on_sigterm_or_after(lifetime):
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    deadline = time.monotonic() + lifetime
    threading.Thread(
        target=lambda: (time.sleep(max(0, deadline - time.monotonic())),
                        os._exit(0)),
        daemon=True).start()


def serve(args, handle, bind="127.0.0.1", backlog=64):
    """Listen as ARGS (--port, --port-file, --lifetime) say, then call
    HANDLE(sock, cid) in a thread of its own for every connection (cid
    counts from 1).  Never returns; exits on SIGTERM or at the end of the
    lifetime."""
    srv = listen(bind, args.port, backlog)
    if args.port_file:
        write_port_file(args.port_file, srv.getsockname()[1])
    exit_on_sigterm_or_after(args.lifetime)
    cid = 0
    while True:
        try:
            sock, _ = srv.accept()
        except InterruptedError:
            continue
        cid += 1
        threading.Thread(target=handle, args=(sock, cid), daemon=True).start()


def close_quietly(sock):
    try:
        sock.close()
    except OSError:
        pass


def run_main(main):
    """MAIN(), with ^C an ordinary end."""
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)


# ------------------------------------------------------------ free ports


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_block(n, tries=200):
    """BASE such that BASE .. BASE+N-1 can all be bound on 127.0.0.1 now,
    below the ephemeral range; None if no such block was found."""
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            hi = min(hi, int(f.read().split()[0]) - 200)
    except OSError:
        pass
    for _ in range(tries):
        base = random.randrange(lo, hi - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    return None


def cli(argv):
    if argv[:1] == ["free-port"] and len(argv) == 1:
        print(free_port())
        return 0
    if argv[:1] == ["port-block"] and len(argv) == 2:
        base = port_block(int(argv[1]))
        if base is None:
            sys.stderr.write("no block of %s free ports\n" % argv[1])
            return 1
        print(base)
        return 0
    sys.stderr.write("usage: testserver.py free-port | port-block N\n")
    return 2


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
