"""The two ends of the conntrack wire test, run with python3 inside a namespace.

  ct_peers.py server ADDR PORT REPLY_BYTES   accept one connection, read to EOF, answer with the
                                             SHA-256 of what came (64 hex digits) then
                                             REPLY_BYTES of pattern; print one JSON line.
  ct_peers.py client HOST PORT SEND_BYTES    connect, send SEND_BYTES of pattern, half-close,
                                             read the answer; print one JSON line.
"""

import hashlib
import json
import socket
import sys


def pattern(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


def read_all(s):
    chunks = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


role, addr, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if role == "server":
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    print(json.dumps({"listening": True}), flush=True)
    c, peer = ls.accept()
    got = read_all(c)
    c.sendall(hashlib.sha256(got).hexdigest().encode() + pattern(n))
    c.close()
    print(json.dumps({"peer": list(peer), "received": len(got)}), flush=True)
else:
    s = socket.create_connection((addr, port), timeout=30)
    data = pattern(n)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply = read_all(s)
    s.close()
    digest = reply[:64].decode(errors="replace")
    print(json.dumps({
        "digestOk": digest == hashlib.sha256(data).hexdigest(),
        "replyOk": reply[64:] == pattern(len(reply) - 64),
        "replyBytes": len(reply) - 64,
    }), flush=True)
