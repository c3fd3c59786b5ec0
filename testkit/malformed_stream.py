"""A stream of malformed packets at a VIP (scapy), for the end-to-end fuzz test.

Sends, from the namespace it runs in, for `seconds` seconds, batches of packets aimed at the
VIP: scapy's fuzz() of IP/TCP, UDP and ICMP headers (random lengths, header lengths, checksums,
flags, options), total lengths and TCP data offsets that lie, bad IP and TCP checksums,
bogus TCP option lists, fragments (first, middle and last), ICMP errors quoting the VIP's
traffic with garbage after the quote or in it, other protocols and random bytes. Frames are
sent at layer 2 (an IP raw socket would fix lengths and checksums) to the next hop's MAC.

Usage: /usr/bin/python3 malformed_stream.py VIP PORT SECONDS SEED
Output (stdout, JSON): {"sent": N, "batches": B, "kinds": {"fuzz_tcp": n, ...}}

Runs only under /usr/bin/python3 (Debian's scapy).
"""

import json
import random
import sys
import time

from scapy.all import (  # type: ignore
    ICMP,
    IP,
    TCP,
    UDP,
    Ether,
    Raw,
    conf,
    fuzz,
    getmacbyip,
    sendp,
)

conf.verb = 0


def garbage(rng: random.Random, lo: int, hi: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(lo, hi)))


def options(rng: random.Random) -> bytes:
    """A TCP option area of random kinds and lengths that lie."""
    out = b""
    while len(out) < rng.choice([4, 8, 20, 40]):
        kind = rng.choice([0, 1, 2, 3, 4, 5, 8, 254, rng.randint(0, 255)])
        out += bytes([kind, rng.choice([0, 1, 2, 4, 8, 10, 40, 255])])
    return out[:40]


def make(rng: random.Random, vip: str, port: int, me: str) -> tuple[str, object]:
    k = rng.randrange(12)
    if k == 0:
        return "fuzz_tcp", fuzz(IP(dst=vip, src=me) / TCP(dport=port))
    if k == 1:
        return "fuzz_udp", fuzz(IP(dst=vip, src=me) / UDP())
    if k == 2:
        return "fuzz_icmp", fuzz(IP(dst=vip, src=me) / ICMP())
    if k == 3:
        # The IP total length lies (shorter or longer than the frame).
        p = IP(dst=vip, src=me) / TCP(sport=rng.randint(1024, 65535), dport=port, flags="S")
        p = IP(bytes(p))
        p.len = rng.choice([0, 19, 20, 39, 41, 60, 1500, 65535])
        p.chksum = None
        return "ip_length", p
    if k == 4:
        # The TCP data offset lies, the option list is garbage.
        t = TCP(sport=rng.randint(1024, 65535), dport=port, flags=rng.choice(["S", "A", "PA"]),
                dataofs=rng.randint(0, 15), options=[])
        return "tcp_offset", IP(dst=vip, src=me) / t / Raw(options(rng))
    if k == 5:
        # Bad checksums, one or both.
        p = IP(dst=vip, src=me) / TCP(sport=rng.randint(1024, 65535), dport=port, flags="S")
        if rng.random() < 0.5:
            p[IP].chksum = rng.randint(0, 65535)
        p[TCP].chksum = rng.randint(0, 65535)
        return "checksum", p
    if k == 6:
        # Fragments: first (MF), middle, last; the first sometimes without a whole header.
        first = rng.random() < 0.5
        p = IP(dst=vip, src=me, flags="MF" if first or rng.random() < 0.5 else 0,
               frag=0 if first else rng.randint(1, 8000))
        body = bytes(TCP(sport=rng.randint(1024, 65535), dport=port, flags="S"))
        return "fragment", p / Raw(body[: rng.choice([4, 8, 16, 20])] + garbage(rng, 0, 64))
    if k == 7:
        # An ICMP error quoting the VIP's traffic to us, with garbage in or after the quote.
        quote = bytes(IP(src=vip, dst=me) / TCP(sport=port, dport=rng.randint(1024, 65535)))
        quote = bytearray(quote[: rng.choice([20, 24, 28, 40, len(quote)])])
        for _ in range(rng.randint(0, 3)):
            if quote:
                quote[rng.randrange(len(quote))] = rng.getrandbits(8)
        icmp = ICMP(type=rng.choice([3, 3, 11, 4, 12]), code=rng.choice([0, 1, 3, 4]))
        return "icmp_quote", IP(dst=vip, src=me) / icmp / Raw(bytes(quote) + garbage(rng, 0, 32))
    if k == 8:
        # Bogus option lists on SYNs and data segments.
        t = TCP(sport=rng.randint(1024, 65535), dport=port, flags=rng.choice(["S", "PA", "A"]))
        raw = options(rng)
        t.dataofs = 5 + (len(raw) + 3) // 4
        return "tcp_options", IP(dst=vip, src=me) / t / Raw(raw.ljust((len(raw) + 3) // 4 * 4, b"\0"))
    if k == 9:
        return "other_protocol", IP(dst=vip, src=me, proto=rng.choice([47, 50, 51, 132, 255])) / Raw(
            garbage(rng, 0, 80))
    if k == 10:
        # A header length that lies (IHL below 5 or beyond the frame).
        p = IP(bytes(IP(dst=vip, src=me) / UDP(dport=port) / Raw(garbage(rng, 0, 40))))
        p.ihl = rng.choice([0, 1, 4, 6, 15])
        p.chksum = None
        return "ip_header_length", p
    return "random", IP(dst=vip, src=me, proto=rng.choice([6, 17, 1])) / Raw(garbage(rng, 0, 120))


def main() -> None:
    vip, port, seconds, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    random.seed(seed)  # scapy's fuzz() draws from the random module
    iface, me, gw = conf.route.route(vip)
    mac = getmacbyip(gw if gw != "0.0.0.0" else vip)
    if mac is None:
        raise SystemExit(f"no MAC for the next hop to {vip}")
    kinds: dict[str, int] = {}
    sent = 0
    batches = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frames = []
        for _ in range(200):
            kind, pkt = make(rng, vip, port, me)
            kinds[kind] = kinds.get(kind, 0) + 1
            frames.append(Ether(dst=mac) / pkt)
        sendp(frames, iface=iface)
        sent += len(frames)
        batches += 1
    print(json.dumps({"sent": sent, "batches": batches, "kinds": kinds}))


if __name__ == "__main__":
    main()
