#!/usr/bin/python3
"""hostile_server.py - a TLS server that breaks the protocol on purpose.

A test peer for tests/integration/80-hostile.sh.  Listens on 127.0.0.1
(only), one thread per connection, TLS through memory BIOs so that it can
send exactly the bytes it wants: a real certificate and a real handshake,
then (or during the handshake) the misbehaviour its --mode names.

Records, like record_server.py:

  PREFIX.raw     every byte received on the wire, all connections
  PREFIX.plain   every byte decrypted (what the client legitimately sent
                 over TLS)
  PREFIX.log     one line per event: "ID accept", "ID handshake ok TLSv1.3",
                 "ID request N bytes", "ID <action>", "ID client records ok
                 N" or "ID client bytes NOT TLS records at offset X: ...",
                 "ID closed"

The "client records" line is the byte-by-byte check that nothing but TLS
records reached the wire: the connection's whole inbound stream must parse
as records (type 20-23, version 3.x, length <= 2^14 + 2048), with nothing
left over.

Modes, during the handshake (the server's first flight is real but...):
  hs-truncate-stall   cut in the middle of its first record; then silence
  hs-truncate-close   cut in the middle of its first record; then FIN
  hs-oversize         replaced by a handshake record announcing 18433 bytes
                      (> 2^14 + 2048) and sending them
after the handshake, in reply to the client's first request:
  truncate-close      half of an application-data record; then FIN
  truncate-stall      half of an application-data record; then silence
  oversize            an application-data record of 18433 bytes
  close-notify        a partial reply ("$1000\\r\\n" and 20 bytes), then
                      close_notify; the TCP connection stays open
  fin                 a partial reply, then FIN (no close_notify)
  fin-at-once         the same without the pause: the reply and the FIN
                      arrive together
  rst                 a partial reply, then RST (SO_LINGER 0)
  garbage             1024 random bytes, not framed as records
  bad-record          random bytes framed as application-data records
                      (right header, ciphertext that fails authentication)
  reply-then-bad      a whole, good reply ("+OK\\r\\n") and, in the same TCP
                      segment, a record of random ciphertext; then good
                      replies are impossible (the session is broken)
  good                answers "+OK\\r\\n" to every request (a control)

The port is written to --port-file (atomically) once listening.  Exits on
SIGTERM or after --lifetime seconds.  Listening and recording come from
testserver.py.  Standard library only.
"""

import argparse
import os
import socket
import ssl
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import testserver as ts  # noqa: E402

MAX_CIPHERTEXT = (1 << 14) + 2048
OVERSIZE = MAX_CIPHERTEXT + 1  # 18433
PARTIAL_REPLY = b"$1000\r\n" + b"x" * 20


def check_records(data):
    """(count, None) if data is a whole number of TLS records, else
    (count so far, reason)."""
    off, n = 0, 0
    while off < len(data):
        if len(data) - off < 5:
            return n, "offset %d: %d bytes, not a record header" % (
                off, len(data) - off)
        ctype, major, minor, length = struct.unpack(
            "!BBBH", data[off:off + 5])
        if ctype not in (20, 21, 22, 23) or major != 3 or minor > 4:
            return n, "offset %d: header %s" % (off, data[off:off + 5].hex())
        if length > MAX_CIPHERTEXT:
            return n, "offset %d: length %d" % (off, length)
        if off + 5 + length > len(data):
            return n, "offset %d: record of %d cut at %d" % (
                off, length, len(data) - off - 5)
        off += 5 + length
        n += 1
    return n, None


class Conn:
    def __init__(self, sock, rec, cid, args):
        self.sock, self.rec, self.cid, self.args = sock, rec, cid, args
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = args.tls_ctx.wrap_bio(self.inc, self.out, server_side=True)
        self.wire = bytearray()  # this connection's inbound bytes

    def log(self, msg):
        self.rec.log(self.cid, msg)

    def recv(self):
        try:
            data = self.sock.recv(65536)
        except OSError as e:
            self.log("recv: %s" % e)
            return b""
        if data:
            self.rec.record_raw(data)
            self.wire += data
        return data

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError as e:
            self.log("send: %s" % e)
            return False

    def pending_out(self):
        return self.out.read()

    def stall(self):
        """Say nothing; read (and record) until the client goes."""
        self.log("stall")
        while self.recv():
            pass

    def fin(self):
        self.log("fin")
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # Wait for the client's own close, so that what it still sends is
        # recorded and checked too.
        self.sock.settimeout(self.args.drain_timeout)
        try:
            while self.recv():
                pass
        except OSError:
            pass

    def rst(self):
        self.log("rst")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
        self.sock.close()

    def finish(self):
        n, why = check_records(bytes(self.wire))
        if why is None:
            self.log("client records ok %d" % n)
        else:
            self.log("client bytes NOT TLS records at %s (after %d records)"
                     % (why, n))

    # -------------------------------------------------- the handshake

    def first_flight(self):
        """Read the ClientHello; return the server's real first flight."""
        while True:
            data = self.recv()
            if not data:
                return None
            self.inc.write(data)
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            flight = self.pending_out()
            if flight:
                return flight

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if not self.send(self.pending_out()):
                    return False
                data = self.recv()
                if not data:
                    self.log("eof before handshake end")
                    return False
                self.inc.write(data)
        # TLS 1.3: the session tickets go out now.
        if not self.send(self.pending_out()):
            return False
        self.log("handshake ok %s" % self.tls.version())
        return True

    def request(self):
        """Wait for (and record) the client's first application data."""
        while True:
            try:
                plain = self.tls.read(65536)
            except ssl.SSLWantReadError:
                data = self.recv()
                if not data:
                    self.log("eof before request")
                    return None
                self.inc.write(data)
                continue
            except ssl.SSLZeroReturnError:
                self.log("close_notify before request")
                return None
            self.rec.record_plain(plain)
            self.log("request %d bytes" % len(plain))
            return plain

    def encrypt(self, plain):
        self.tls.write(plain)
        return self.pending_out()


def hs_mode(c, mode):
    flight = c.first_flight()
    if flight is None:
        c.log("eof before ClientHello")
        return
    if mode == "hs-oversize":
        c.log("oversized handshake record (%d)" % OVERSIZE)
        c.send(struct.pack("!BBBH", 22, 3, 3, OVERSIZE) + os.urandom(OVERSIZE))
        c.stall()
        return
    first_len = struct.unpack("!H", flight[3:5])[0]
    cut = 5 + first_len // 2
    c.log("first flight cut at %d of %d bytes" % (cut, len(flight)))
    c.send(flight[:cut])
    if mode == "hs-truncate-stall":
        c.stall()
    else:
        c.fin()


def after_mode(c, mode):
    if not c.handshake():
        return
    while True:
        req = c.request()
        if req is None:
            return
        if mode != "good":
            break
        if not c.send(c.encrypt(b"+OK\r\n")):
            return
    if mode in ("truncate-close", "truncate-stall"):
        rec = c.encrypt(b"+OK\r\n")
        cut = 5 + (len(rec) - 5) // 2
        c.log("application record cut at %d of %d bytes" % (cut, len(rec)))
        c.send(rec[:cut])
        if mode == "truncate-close":
            c.fin()
        else:
            c.stall()
    elif mode == "oversize":
        c.log("oversized application record (%d)" % OVERSIZE)
        c.send(struct.pack("!BBBH", 23, 3, 3, OVERSIZE) + os.urandom(OVERSIZE))
        c.stall()
    elif mode == "fin-at-once":
        c.send(c.encrypt(PARTIAL_REPLY))
        c.fin()
    elif mode in ("close-notify", "fin", "rst"):
        c.send(c.encrypt(PARTIAL_REPLY))
        time.sleep(0.05)  # the partial reply is read before the end
        if mode == "close-notify":
            try:
                c.tls.unwrap()
            except ssl.SSLWantReadError:
                pass  # sent ours; not waiting for the client's
            c.log("close_notify")
            c.send(c.pending_out())
            c.stall()
        elif mode == "fin":
            c.fin()
        else:
            c.rst()
    elif mode == "garbage":
        c.log("1024 random bytes")
        c.send(os.urandom(1024))
        c.stall()
    elif mode == "reply-then-bad":
        c.log("a good reply and a forged record in one segment")
        c.send(c.encrypt(b"+OK\r\n") +
               struct.pack("!BBBH", 23, 3, 3, 64) + os.urandom(64))
        c.stall()
    elif mode == "bad-record":
        c.log("4 application records of random ciphertext")
        for _ in range(4):
            c.send(struct.pack("!BBBH", 23, 3, 3, 64) + os.urandom(64))
        c.stall()


def handle(sock, rec, cid, args):
    c = Conn(sock, rec, cid, args)
    c.log("accept")
    try:
        if args.mode.startswith("hs-"):
            hs_mode(c, args.mode)
        else:
            after_mode(c, args.mode)
    except ssl.SSLError as e:
        c.log("tls error: %s" % e)
    except OSError as e:
        c.log("socket error: %s" % e)
    finally:
        c.finish()
        ts.close_quietly(sock)
        c.log("closed")


MODES = ["hs-truncate-stall", "hs-truncate-close", "hs-oversize",
         "truncate-close", "truncate-stall", "oversize", "close-notify",
         "fin", "fin-at-once", "rst", "garbage", "bad-record", "reply-then-bad", "good"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=MODES, required=True)
    ts.add_server_args(p)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--client-ca", help="require a client certificate")
    p.add_argument("--max-version", choices=["1.2", "1.3"], default="1.3")
    p.add_argument("--drain-timeout", type=float, default=10)
    args = p.parse_args()
    args.tls_ctx = ts.tls_server_context(args.cert, args.key, args.client_ca,
                                         args.max_version)
    rec = ts.Recorder(args.record)
    ts.serve(args, lambda sock, cid: handle(sock, rec, cid, args),
             backlog=128)


if __name__ == "__main__":
    ts.run_main(main)
