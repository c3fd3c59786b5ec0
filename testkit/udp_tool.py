"""UDP traffic for end-to-end tests, run under /usr/bin/python3 inside a namespace.

Both ends are the kernel's own UDP sockets, so what is tested is what real applications see
(connected sockets that only accept datagrams from the address they connected to, ICMP errors
reported as ECONNREFUSED, the kernel fragmenting datagrams larger than the MTU).

Modes (every client mode prints one JSON object on stdout):

  serve PORT ADDR...            answer on every ADDR (IPv4 or IPv6) at PORT; prints "listening"
  stat ADDR PORT                ask a server (directly, not through the balancer) for its counts
  request HOST PORT COUNT       COUNT requests, each from a new connected socket (a new port)
  bulk HOST PORT COUNT SIZE     COUNT numbered datagrams of SIZE bytes, then ask for the count
  refused HOST PORT             one datagram from a connected socket: "refused", "timeout", ...
  big HOST PORT SIZE            one datagram of SIZE bytes (fragmented by the kernel if needed)
  flood HOST PORT COUNT SIZE SRC  COUNT datagrams of SIZE bytes as fast as possible from one
                                socket bound to SRC, no answer expected (queue bursts)
  dns HOST PORT COUNT WINDOW [TIMEOUT]  COUNT requests as a resolver sends them: WINDOW
                                outstanding at a time, each from a new socket (a new source
                                port), answers matched by id, TIMEOUT s each (default 2), no
                                retransmission

Datagrams the server understands (the first three bytes say which):

  REQ <id>       -> "REP <id> server <addr>:<port> peer <addr>:<port>"
  BLK <seq:4><payload>  payload is pattern(seq); counted good or bad, no answer
  CNT            -> JSON counts of BLK datagrams from this peer address (good, bad, distinct)
  BIG <payload>  payload is pattern(0); -> "BOK <length> <good>"
  STA            -> JSON of everything (for `stat`)
"""

import json
import selectors
import socket
import struct
import sys
import time


def pattern(seq, size):
    """Deterministic bytes that differ per sequence number, so reordering or mixing shows."""
    base = bytes((seq * 7 + i * 13) & 0xFF for i in range(256))
    return (base * (size // 256 + 1))[:size]


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def endpoint(sockaddr):
    host, port = sockaddr[0], sockaddr[1]
    return f"{host}:{port}"


def serve(port, addrs):
    sel = selectors.DefaultSelector()
    for a in addrs:
        s = socket.socket(family(a), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((a, port))
        sel.register(s, selectors.EVENT_READ)
    # Per peer address: BLK counts. Overall: requests answered, big datagrams seen.
    blk = {}
    stats = {"requests": 0, "peers": [], "big": [], "blk": blk}
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            data, peer = s.recvfrom(70000)
            kind = data[:3]
            peer_addr = peer[0]
            if kind == b"REQ":
                stats["requests"] += 1
                stats["peers"].append(endpoint(peer))
                local = endpoint(s.getsockname())
                body = b"REP " + data[4:] + f" server {local} peer {endpoint(peer)}".encode()
                s.sendto(body, peer)
            elif kind == b"BLK":
                (seq,) = struct.unpack("!I", data[3:7])
                c = blk.setdefault(peer_addr, {"good": 0, "bad": 0, "seqs": set(), "bytes": 0})
                if data[7:] == pattern(seq, len(data) - 7):
                    c["good"] += 1
                    c["seqs"].add(seq)
                    c["bytes"] += len(data)
                else:
                    c["bad"] += 1
            elif kind == b"CNT":
                c = blk.get(peer_addr, {"good": 0, "bad": 0, "seqs": set(), "bytes": 0})
                s.sendto(json.dumps({"good": c["good"], "bad": c["bad"],
                                     "distinct": len(c["seqs"]), "bytes": c["bytes"]}).encode(), peer)
            elif kind == b"BIG":
                good = data[4:] == pattern(0, len(data) - 4)
                stats["big"].append({"length": len(data), "good": good, "peer": endpoint(peer)})
                s.sendto(f"BOK {len(data)} {int(good)}".encode(), peer)
            elif kind == b"STA":
                out = dict(stats)
                out["blk"] = {p: {"good": c["good"], "bad": c["bad"], "distinct": len(c["seqs"])}
                              for p, c in blk.items()}
                s.sendto(json.dumps(out).encode(), peer)


def connected(host, port, timeout):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def ask(host, port, msg, timeout=3.0):
    s = connected(host, port, timeout)
    try:
        s.send(msg)
        return s.recv(70000)
    finally:
        s.close()


def request(host, port, count):
    replies = []
    errors = []
    # Every socket stays open until the end: the kernel then cannot hand a closed one's
    # ephemeral port to a later request, so each request really has its own source port,
    # hence its own balancer session.
    sockets = []
    try:
        for i in range(count):
            s = connected(host, port, 3.0)
            sockets.append(s)
            try:
                s.send(f"REQ {i}".encode())
                # A connected socket accepts datagrams only from (host, port): a reply from
                # anywhere else (the RS itself, a local address) would never be seen here.
                data, src = s.recvfrom(2048)
                replies.append({"client": endpoint(s.getsockname()), "from": endpoint(src),
                                "body": data.decode()})
            except OSError as e:
                errors.append(f"{i}: {e!r}")
    finally:
        for s in sockets:
            s.close()
    return {"replies": replies, "errors": errors}


def far_count(s):
    s.send(b"CNT")
    return json.loads(s.recv(2048))


def bulk(host, port, count, size, window=200):
    """Sends in windows and lets the far end catch up after each, so that a loaded machine
    cannot overflow a queue on the way: a datagram missing at the end was lost, not outrun.
    There is no retransmission; the far end's count is the result."""
    s = connected(host, port, 3.0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    start = time.monotonic()
    sent = 0
    stalls = 0
    for seq in range(count):
        s.send(b"BLK" + struct.pack("!I", seq) + pattern(seq, size - 7))
        sent += 1
        if sent % window == 0 or sent == count:
            deadline = time.monotonic() + 2.0
            while True:
                c = far_count(s)
                if c["good"] + c["bad"] >= sent or time.monotonic() > deadline:
                    break
                stalls += 1
                time.sleep(0.005)
    elapsed = time.monotonic() - start
    counts = far_count(s)
    s.close()
    return {"sent": sent, "size": size, "seconds": elapsed, "waits": stalls, "far": counts}


def refused(host, port):
    s = connected(host, port, 3.0)
    try:
        s.send(b"REQ refused-probe")
        data = s.recv(2048)
        return {"result": "reply", "body": data.decode(errors="replace")}
    except ConnectionRefusedError:
        return {"result": "refused"}
    except socket.timeout:
        return {"result": "timeout"}
    except OSError as e:
        return {"result": "error", "error": repr(e)}
    finally:
        s.close()


def big(host, port, size):
    s = connected(host, port, 3.0)
    try:
        s.send(b"BIG " + pattern(0, size - 4))
        data = s.recv(2048).decode().split()
        return {"result": "reply", "length": int(data[1]), "good": data[2] == "1"}
    except socket.timeout:
        return {"result": "timeout"}
    except OSError as e:
        return {"result": "error", "error": repr(e)}
    finally:
        s.close()


def flood(host, port, count, size, src):
    """One flow (one source port), so a balancer sees one session: the packet rate measured
    behind it is that of established packets."""
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.connect((host, port))
    payload = bytes(size)
    sent = 0
    errors = 0
    start = time.monotonic()
    for _ in range(count):
        try:
            s.send(payload)
            sent += 1
        except OSError:
            errors += 1
    elapsed = time.monotonic() - start
    s.close()
    return {"sent": sent, "errors": errors, "seconds": elapsed}


def dns(host, port, count, window, timeout=2.0):
    sel = selectors.DefaultSelector()
    pending = {}
    answered = timeouts = errors = 0
    ports = set()
    next_id = 0
    start = time.monotonic()
    while next_id < count or pending:
        while next_id < count and len(pending) < window:
            s = connected(host, port, timeout)
            s.setblocking(False)
            s.send(f"REQ {next_id}".encode())
            ports.add(s.getsockname()[1])
            sel.register(s, selectors.EVENT_READ, next_id)
            pending[s] = time.monotonic() + timeout
            next_id += 1
        for key, _ in sel.select(0.05):
            s = key.fileobj
            try:
                data = s.recv(2048)
            except OSError:
                data = b""
            if data.decode(errors="replace").startswith(f"REP {key.data} "):
                answered += 1
            else:
                errors += 1
            sel.unregister(s)
            del pending[s]
            s.close()
        now = time.monotonic()
        for s, deadline in list(pending.items()):
            if now > deadline:
                timeouts += 1
                sel.unregister(s)
                del pending[s]
                s.close()
    return {"sent": next_id, "answered": answered, "timeouts": timeouts, "errors": errors,
            "ports": len(ports), "seconds": time.monotonic() - start}


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "serve":
        serve(int(argv[2]), argv[3:])
        return 0
    if mode == "stat":
        out = json.loads(ask(argv[2], int(argv[3]), b"STA"))
    elif mode == "request":
        out = request(argv[2], int(argv[3]), int(argv[4]))
    elif mode == "bulk":
        out = bulk(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif mode == "refused":
        out = refused(argv[2], int(argv[3]))
    elif mode == "big":
        out = big(argv[2], int(argv[3]), int(argv[4]))
    elif mode == "flood":
        out = flood(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6])
    elif mode == "dns":
        out = dns(argv[2], int(argv[3]), int(argv[4]), int(argv[5]),
                  float(argv[6]) if len(argv) > 6 else 2.0)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
