#!/usr/bin/python3
"""A real server's tunnel device in user space, for kernels built without IPIP / ip6tnl.

fullnat's TUNNEL mode sends a real server the client's packet wrapped in IPIP (IPv4 in IPv4,
protocol 4) or IPv6 in IPv6 (next header 41), or, by the server's tunnel type, behind UDP and
a GUE header (to the server's --tun-port) or a GRE header (protocol 47). A Linux real server
unwraps them with an `ipip` / `ip6tnl` device (with `encap gue` for GUE) or a `gre` device;
where the kernel has none of them (CONFIG_NET_IPIP, CONFIG_IPV6_TUNNEL, CONFIG_NET_FOU unset),
this does the same: sockets receive the outer packets, and the inner packet is written to a
TUN device, through which the kernel receives it as from a tunnel device. Like a device with
`remote SOURCE`, it accepts only packets whose outer source is the balancer's tunnel source and
whose outer destination is one of the given local addresses.

GUE arrives on UDP sockets bound to the port: the kernel has checked a UDP checksum that is
not zero; a zero one is taken over IPv6 too (UDP_NO_CHECK6_RX, as Linux's fou does for GUE).
A GRE checksum, when the header has one, is checked here; a wrong one is refused.

Usage: ipip_decap.py [--gue PORT] [--gre] TUN_NAME SOURCE4 SOURCE6 LOCAL...
(SOURCE6 may be "-"). Prints "ready" once the device exists; on SIGTERM prints one JSON line:
packets unwrapped per outer destination, per encapsulation, and packets refused.
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
IP_PKTINFO = 8
UDP_NO_CHECK6_RX = 102


def ones_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def gre_inner(payload):
    """The packet behind a GRE header, or None when the header is not one fullnat sends or
    its checksum is wrong."""
    if len(payload) < 4:
        return None
    flags, proto = struct.unpack("!HH", payload[:4])
    if flags & 0x7FFF or proto not in (0x0800, 0x86DD):
        return None
    if flags & 0x8000:
        if len(payload) < 8 or ones_sum(payload) != 0xFFFF:
            return None
        return payload[8:]
    return payload[4:]


def gue_inner(payload):
    """The packet behind a GUE header (version 0, no options), or None."""
    if len(payload) < 5 or payload[0] != 0 or payload[2:4] != b"\0\0":
        return None
    if payload[1] not in (4, 41):
        return None
    return payload[4:]


def main():
    args = sys.argv[1:]
    gue_port = None
    gre = False
    while args and args[0].startswith("--"):
        if args[0] == "--gue":
            gue_port = int(args[1])
            args = args[2:]
        elif args[0] == "--gre":
            gre = True
            args = args[1:]
        else:
            raise SystemExit("unknown option " + args[0])
    name, src4, src6, *locals_ = args
    local = {ipaddress.ip_address(a) for a in locals_}
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    v6 = src6 != "-"
    # (socket, family, kind): kind is ipip, gue or gre.
    socks = [(socket.socket(socket.AF_INET, socket.SOCK_RAW, 4), 4, "ipip")]
    if v6:
        socks.append((socket.socket(socket.AF_INET6, socket.SOCK_RAW, 41), 6, "ipip"))
    if gre:
        socks.append((socket.socket(socket.AF_INET, socket.SOCK_RAW, 47), 4, "gre"))
        if v6:
            socks.append((socket.socket(socket.AF_INET6, socket.SOCK_RAW, 47), 6, "gre"))
    if gue_port is not None:
        u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u4.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        u4.bind(("0.0.0.0", gue_port))
        socks.append((u4, 4, "gue"))
        if v6:
            u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            u6.setsockopt(socket.IPPROTO_UDP, UDP_NO_CHECK6_RX, 1)
            u6.bind(("::", gue_port))
            socks.append((u6, 6, "gue"))
    for s, fam, _ in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        if fam == 6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    counts = {}
    kinds = {}
    refused = 0
    done = False

    def stop(*_):
        nonlocal done
        done = True

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    want4 = ipaddress.ip_address(src4)
    want6 = ipaddress.ip_address(src6) if v6 else None
    by_sock = {s: (fam, kind) for s, fam, kind in socks}
    while not done:
        try:
            ready, _, _ = select.select(list(by_sock), [], [], 0.2)
        except InterruptedError:
            continue
        for s in ready:
            fam, kind = by_sock[s]
            if fam == 4 and kind != "gue":
                pkt = s.recv(65535)
                ihl = (pkt[0] & 15) * 4
                src = ipaddress.ip_address(pkt[12:16])
                dst = ipaddress.ip_address(pkt[16:20])
                payload = pkt[ihl:]
            else:
                payload, anc, _, frm = s.recvmsg(65535, socket.CMSG_SPACE(64))
                src = ipaddress.ip_address(frm[0].split("%")[0])
                dst = None
                for level, typ, data in anc:
                    if level == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO:
                        dst = ipaddress.ip_address(data[:16])
                    elif level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                        # struct in_pktinfo: ifindex, spec_dst, addr (the header's destination)
                        dst = ipaddress.ip_address(data[8:12])
            inner = payload
            if kind == "gre":
                inner = gre_inner(payload)
            elif kind == "gue":
                inner = gue_inner(payload)
            ok = src == (want4 if fam == 4 else want6)
            if not ok or dst not in local or not inner:
                refused += 1
                continue
            counts[str(dst)] = counts.get(str(dst), 0) + 1
            kinds[kind] = kinds.get(kind, 0) + 1
            os.write(tun, inner)
    print(json.dumps({"unwrapped": counts, "kinds": kinds, "refused": refused}), flush=True)


if __name__ == "__main__":
    main()
