#!/usr/bin/python3
"""record_server.py - a test peer that records every byte a client sends.

Listens on 127.0.0.1 (or, with --bind ::1, on ::1; loopback only), one
thread per connection, and appends what it
receives to files, so a test can assert that a client's command bytes (a
unique marker) never reached the network, or never reached a server's
application layer:

  PREFIX.raw     every byte received on the wire, all connections
  PREFIX.plain   tls mode: every byte decrypted after a handshake
  PREFIX.log     one line per event (accept, handshake ok/failed, close)

Modes:
  plain    answers "+PONG\\r\\n" to every chunk, as a plaintext server would
  tls      TLS server with --cert/--key (client certificate required when
           --client-ca is given); answers "+PONG\\r\\n" to decrypted data
  garbage  sends random bytes, then reads until the client goes
  close    accepts and closes at once
  stall    accepts, reads, never answers
  proxy    forwards to 127.0.0.1:--upstream both ways, recording the
           client-to-server direction in PREFIX.raw

The port (from --port, default 0 = any free one) is written to --port-file
(atomically, via rename) once listening.  Exits after --lifetime seconds
(default 600) in case the test that started it forgot to stop it.
Standard library only.
"""

import argparse
import os
import signal
import socket
import ssl
import sys
import threading
import time

LOCK = threading.Lock()


class Recorder:
    def __init__(self, prefix):
        self.raw = open(prefix + ".raw", "ab", buffering=0)
        self.plain = open(prefix + ".plain", "ab", buffering=0)
        self.log_file = open(prefix + ".log", "a", buffering=1)

    def record_raw(self, data):
        with LOCK:
            self.raw.write(data)

    def record_plain(self, data):
        with LOCK:
            self.plain.write(data)

    def log(self, conn_id, msg):
        with LOCK:
            self.log_file.write("%d %s\n" % (conn_id, msg))


def recv_or_empty(sock, n=65536):
    try:
        return sock.recv(n)
    except OSError:
        return b""


def serve_plain(sock, rec, cid, args):
    while True:
        data = recv_or_empty(sock)
        if not data:
            return
        rec.record_raw(data)
        try:
            sock.sendall(b"+PONG\r\n")
        except OSError:
            return


def serve_stall(sock, rec, cid, args):
    while True:
        data = recv_or_empty(sock)
        if not data:
            return
        rec.record_raw(data)


def serve_garbage(sock, rec, cid, args):
    try:
        sock.sendall(os.urandom(512))
    except OSError:
        return
    serve_stall(sock, rec, cid, args)


def serve_close(sock, rec, cid, args):
    return


def make_tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def serve_tls(sock, rec, cid, args):
    # A memory BIO rather than a wrapped socket: it lets us record the raw
    # wire bytes and the decrypted bytes of the same connection.
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = args.tls_ctx.wrap_bio(inc, out, server_side=True)
    done = False

    def flush():
        pending = out.read()
        if pending:
            sock.sendall(pending)

    try:
        while True:
            data = recv_or_empty(sock)
            if not data:
                rec.log(cid, "eof" if done else "eof before handshake end")
                return
            rec.record_raw(data)
            inc.write(data)
            if not done:
                try:
                    obj.do_handshake()
                    done = True
                    rec.log(cid, "handshake ok " + str(obj.version()))
                except ssl.SSLWantReadError:
                    flush()
                    continue
            while True:
                try:
                    plain = obj.read(65536)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:
                    rec.log(cid, "close_notify")
                    flush()
                    return
                if not plain:
                    break
                rec.record_plain(plain)
                obj.write(b"+PONG\r\n")
            flush()
    except ssl.SSLError as e:
        rec.log(cid, "tls error: %s" % e)
        try:
            flush()
        except OSError:
            pass
    except OSError as e:
        rec.log(cid, "socket error: %s" % e)


def serve_proxy(sock, rec, cid, args):
    try:
        up = socket.create_connection(("127.0.0.1", args.upstream), timeout=5)
        up.settimeout(None)
    except OSError as e:
        rec.log(cid, "upstream connect failed: %s" % e)
        return

    def down():
        while True:
            data = recv_or_empty(up)
            if not data:
                break
            try:
                sock.sendall(data)
            except OSError:
                break
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=down, daemon=True)
    t.start()
    while True:
        data = recv_or_empty(sock)
        if not data:
            break
        rec.record_raw(data)
        try:
            up.sendall(data)
        except OSError:
            break
    try:
        up.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    t.join(10)
    up.close()


SERVE = {
    "plain": serve_plain,
    "tls": serve_tls,
    "garbage": serve_garbage,
    "close": serve_close,
    "stall": serve_stall,
    "proxy": serve_proxy,
}


def handle(sock, rec, cid, args):
    rec.log(cid, "accept")
    try:
        SERVE[args.mode](sock, rec, cid, args)
    finally:
        try:
            sock.close()
        except OSError:
            pass
        rec.log(cid, "closed")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=sorted(SERVE), required=True)
    p.add_argument("--record", required=True, help="file prefix")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--upstream", type=int)
    p.add_argument("--lifetime", type=float, default=600)
    p.add_argument("--bind", default="127.0.0.1",
                   help="127.0.0.1 (default) or ::1: loopback only")
    args = p.parse_args()
    if args.bind not in ("127.0.0.1", "::1"):
        p.error("--bind: 127.0.0.1 or ::1 only")

    if args.mode == "tls":
        if not (args.cert and args.key):
            p.error("tls mode needs --cert and --key")
        args.tls_ctx = make_tls_context(args)
    if args.mode == "proxy" and not args.upstream:
        p.error("proxy mode needs --upstream")

    rec = Recorder(args.record)
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(64)
    port = srv.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)

    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    deadline = time.monotonic() + args.lifetime
    threading.Thread(
        target=lambda: (time.sleep(max(0, deadline - time.monotonic())),
                        os._exit(0)),
        daemon=True).start()

    cid = 0
    while True:
        try:
            sock, _ = srv.accept()
        except InterruptedError:
            continue
        cid += 1
        threading.Thread(target=handle, args=(sock, rec, cid, args),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
