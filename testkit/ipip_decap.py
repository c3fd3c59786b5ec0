#!/usr/bin/python3
"""A real server's tunnel device in user space, for kernels built without IPIP / ip6tnl.

fullnat's TUNNEL mode sends a real server the client's packet wrapped in IPIP (IPv4 in IPv4,
protocol 4) or IPv6 in IPv6 (next header 41). A Linux real server unwraps them with an `ipip`
or `ip6tnl` device; where the kernel has neither (CONFIG_NET_IPIP, CONFIG_IPV6_TUNNEL unset),
this does the same: raw sockets receive the outer packets, and the inner packet is written
to a TUN device, through which the kernel receives it as from a tunnel device. Like an `ipip`
device with `remote SOURCE`, it accepts only packets whose outer source is the balancer's
tunnel source and whose outer destination is one of the given local addresses.

Usage: ipip_decap.py TUN_NAME SOURCE4 SOURCE6 LOCAL... (SOURCE6 may be "-"). Prints "ready"
once the device exists; on SIGTERM prints one JSON line: packets unwrapped per outer
destination, and packets refused.
"""

import fcntl
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main():
    name, src4, src6, *locals_ = sys.argv[1:]
    local = {ipaddress.ip_address(a) for a in locals_}
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    socks = []
    s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
    s4.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    socks.append(s4)
    s6 = None
    if src6 != "-":
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 41)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s6.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        socks.append(s6)
    counts = {}
    refused = 0
    done = False

    def stop(*_):
        nonlocal done
        done = True

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    want4 = ipaddress.ip_address(src4)
    want6 = ipaddress.ip_address(src6) if s6 is not None else None
    while not done:
        try:
            ready, _, _ = select.select(socks, [], [], 0.2)
        except InterruptedError:
            continue
        for s in ready:
            if s is s4:
                pkt = s4.recv(65535)
                ihl = (pkt[0] & 15) * 4
                src = ipaddress.ip_address(pkt[12:16])
                dst = ipaddress.ip_address(pkt[16:20])
                inner = pkt[ihl:]
                ok = src == want4
            else:
                inner, anc, _, frm = s6.recvmsg(65535, socket.CMSG_SPACE(20))
                src = ipaddress.ip_address(frm[0].split("%")[0])
                dst = None
                for level, kind, data in anc:
                    if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                        dst = ipaddress.ip_address(data[:16])
                ok = src == want6
            if not ok or dst not in local or not inner:
                refused += 1
                continue
            counts[str(dst)] = counts.get(str(dst), 0) + 1
            os.write(tun, inner)
    print(json.dumps({"unwrapped": counts, "refused": refused}), flush=True)


if __name__ == "__main__":
    main()
