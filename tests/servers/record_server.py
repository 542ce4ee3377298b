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
(atomically, via rename) once listening.  Exits on SIGTERM or after
--lifetime seconds (default 600) in case the test that started it forgot
to stop it.  Listening, recording and proxying come from testserver.py.
Standard library only.
"""

import argparse
import os
import ssl
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import testserver as ts  # noqa: E402
from testserver import recv_or_empty  # noqa: E402


def serve_plain(sock, rec, cid, args):
    ts.read_to_end(sock, rec.record_raw, reply=b"+PONG\r\n")


def serve_stall(sock, rec, cid, args):
    ts.read_to_end(sock, rec.record_raw)


def serve_garbage(sock, rec, cid, args):
    try:
        sock.sendall(os.urandom(512))
    except OSError:
        return
    serve_stall(sock, rec, cid, args)


def serve_close(sock, rec, cid, args):
    return


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
    ts.proxy(sock, args.upstream, rec, cid)


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
        ts.close_quietly(sock)
        rec.log(cid, "closed")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=sorted(SERVE), required=True)
    ts.add_server_args(p)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--upstream", type=int)
    p.add_argument("--bind", default="127.0.0.1",
                   help="127.0.0.1 (default) or ::1: loopback only")
    args = p.parse_args()
    if args.bind not in ts.LOOPBACK:
        p.error("--bind: 127.0.0.1 or ::1 only")

    if args.mode == "tls":
        if not (args.cert and args.key):
            p.error("tls mode needs --cert and --key")
        args.tls_ctx = ts.tls_server_context(args.cert, args.key,
                                             args.client_ca)
    if args.mode == "proxy" and not args.upstream:
        p.error("proxy mode needs --upstream")

    rec = ts.Recorder(args.record)
    ts.serve(args, lambda sock, cid: handle(sock, rec, cid, args),
             bind=args.bind, backlog=64)


if __name__ == "__main__":
    ts.run_main(main)
