"""A TCP client in user space (scapy) whose SYNs carry chosen options, e.g. a TOA option.

The kernel's TCP stack cannot put option 254 into its own SYNs, so this script does the whole
connection itself: SYN with the options, the handshake, one request, the response, FIN. The
kernel of the namespace it runs in knows nothing of these connections and would answer the
server's SYN-ACK with a reset; the caller must drop those resets (an iptables OUTPUT rule on
the source ports used, see toa_client.ts). Source ports should lie outside the kernel's
ephemeral range so that no real socket of the namespace is affected.

Input (stdin, JSON):
  {"src": "10.0.0.1", "dst": "10.0.0.2", "dport": 80, "timeout": 5,
   "conns": [{"sport": 61001, "payload": "GET / HTTP/1.0\\r\\n\\r\\n",
              "options": [[254, "1f90c6336402"], ...]}]}
  Options are [kind, hex of the value]; lengths are filled in. All connections run at once.
Output (stdout, JSON): [{"sport": 61001, "ok": true, "response": "...", "error": null}]

Runs only under /usr/bin/python3 (Debian's scapy).
"""

import json
import queue
import random
import sys
import threading
import time

from scapy.all import IP, IPv6, TCP, AsyncSniffer, conf  # type: ignore

conf.verb = 0


def main() -> None:
    spec = json.load(sys.stdin)
    src, dst, dport = spec["src"], spec["dst"], int(spec["dport"])
    timeout = float(spec.get("timeout", 5))
    v6 = ":" in dst
    ip_layer = (lambda: IPv6(src=src, dst=dst)) if v6 else (lambda: IP(src=src, dst=dst))

    queues: dict[int, "queue.Queue"] = {int(c["sport"]): queue.Queue() for c in spec["conns"]}

    def on_packet(pkt) -> None:
        tcp = pkt.getlayer(TCP)
        if tcp is not None and tcp.sport == dport and tcp.dport in queues:
            queues[tcp.dport].put(pkt)

    host_filter = f"ip6 src host {dst}" if v6 else f"src host {dst}"
    # Sniff where the route to dst leads: scapy's default interface is the one of the default
    # route, which test namespaces often lack.
    iface = (conf.route6.route(dst)[0] if v6 else conf.route.route(dst)[0])
    sniffer = AsyncSniffer(iface=iface, filter=f"tcp and {host_filter} and src port {dport}",
                           prn=on_packet, store=False)
    sniffer.start()
    # The capture socket is opened asynchronously; a SYN-ACK sent before it exists is lost.
    deadline = time.time() + 3
    while getattr(sniffer, "running", False) is False and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)

    sock = conf.L3socket6() if v6 else conf.L3socket()
    send_lock = threading.Lock()

    def send(pkt) -> None:
        with send_lock:
            sock.send(pkt)

    results: list[dict] = []
    results_lock = threading.Lock()

    def run_conn(c: dict) -> None:
        sport = int(c["sport"])
        q = queues[sport]
        opts = [(int(k), bytes.fromhex(v)) for k, v in c.get("options", [])]
        opts.append(("MSS", 1400))
        payload = c.get("payload", "").encode()
        res = {"sport": sport, "ok": False, "response": "", "error": None}
        try:
            isn = random.randrange(1, 2**31)
            syn = ip_layer() / TCP(sport=sport, dport=dport, flags="S", seq=isn, window=65535,
                                   options=opts)
            synack = None
            for _ in range(3):
                send(syn)
                try:
                    while True:
                        p = q.get(timeout=1.0)
                        if p[TCP].flags.S and p[TCP].flags.A:
                            synack = p
                            break
                        if p[TCP].flags.R:
                            raise RuntimeError("connection refused (RST to SYN)")
                except queue.Empty:
                    continue
                break
            if synack is None:
                raise RuntimeError("no SYN-ACK")
            seq = isn + 1
            rcv_nxt = synack[TCP].seq + 1
            send(ip_layer() / TCP(sport=sport, dport=dport, flags="A", seq=seq, ack=rcv_nxt,
                                  window=65535))
            if payload:
                send(ip_layer() / TCP(sport=sport, dport=dport, flags="PA", seq=seq, ack=rcv_nxt,
                                      window=65535) / payload)
                seq += len(payload)
            data = b""
            end = time.time() + timeout
            while time.time() < end:
                try:
                    p = q.get(timeout=max(0.05, end - time.time()))
                except queue.Empty:
                    break
                t = p[TCP]
                if t.flags.R:
                    raise RuntimeError("connection reset by the server")
                body = bytes(t.payload)
                if t.seq == rcv_nxt and body:
                    data += body
                    rcv_nxt += len(body)
                if t.flags.F and t.seq + len(body) == rcv_nxt:
                    rcv_nxt += 1
                    send(ip_layer() / TCP(sport=sport, dport=dport, flags="FA", seq=seq,
                                          ack=rcv_nxt, window=65535))
                    res["ok"] = True
                    break
                if body:
                    send(ip_layer() / TCP(sport=sport, dport=dport, flags="A", seq=seq,
                                          ack=rcv_nxt, window=65535))
            if not res["ok"]:
                raise RuntimeError("timed out waiting for the server's FIN")
            res["response"] = data.decode("latin-1")
        except Exception as e:  # reported per connection, the others go on
            res["error"] = str(e)
        with results_lock:
            results.append(res)

    threads = [threading.Thread(target=run_conn, args=(c,)) for c in spec["conns"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sniffer.stop()
    sock.close()
    results.sort(key=lambda r: r["sport"])
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
