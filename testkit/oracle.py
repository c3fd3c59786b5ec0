#!/usr/bin/python3
"""scapy as an independent packet oracle for fullnat's tests (driven by oracle.ts).

Reads one packet per line on stdin, as JSON: either a hex string or {"hex": "..."}. Writes one
JSON object per packet, in order, on stdout. Field names and shapes are documented by the
TypeScript interfaces in oracle.ts. Checksums are recomputed with scapy's own functions over
the original bytes (checksum field zeroed), so scapy, not the code under test, is the judge.

Must run under Debian's /usr/bin/python3, where python3-scapy is installed.
"""

import json
import sys

from scapy.layers.inet import IP, TCP, UDP, ICMP, in4_chksum
from scapy.layers.inet6 import IPv6, in6_chksum
from scapy.utils import checksum

TCP_FIELDS = ("sport", "dport", "seq", "ack", "dataofs", "reserved", "flags", "window",
              "chksum", "urgptr")
ICMP_ERROR_TYPES = (3, 4, 5, 11, 12)
ICMP6_ERROR_TYPES = (1, 2, 3, 4)


def jsonable(value):
    """scapy field values as JSON: bytes as hex, tuples as lists."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    try:
        return bytes(value).hex()
    except Exception:  # noqa: BLE001 - anything else is shown as text
        return str(value)


def l4_checksum_ok(proto, ip_layer, seg, at):
    """Whether the checksum at offset `at` of `seg` is what scapy computes for it."""
    stored = int.from_bytes(seg[at:at + 2], "big")
    zeroed = bytearray(seg)
    zeroed[at:at + 2] = b"\0\0"
    if proto == 1:
        return checksum(bytes(zeroed)) == stored
    if proto == 17 and stored == 0:
        return True  # UDP over IPv4: zero means the sender sent no checksum
    computed = in4_chksum(proto, ip_layer, bytes(zeroed))
    if proto == 17 and computed == 0:
        computed = 0xFFFF
    return computed == stored


def tunnelled_ok(inner):
    """An encapsulated packet is right when its own header and transport checksums are."""
    return inner.get("ipChecksumOk") in (True, None) and inner.get("l4ChecksumOk") is True \
        and not inner.get("truncated")


def gue_inner(payload):
    """The packet behind a GUE header (version 0, no options: what TUNNEL's gue sends), or None
    when the UDP payload is not one. Only tunnel tests send UDP payloads shaped like this."""
    if len(payload) < 4 + 20 or payload[0] != 0 or payload[2:4] != b"\0\0":
        return None
    if payload[1] == 4 and payload[4] >> 4 == 4:
        return decode_ip(payload[4:])
    if payload[1] == 41 and payload[4] >> 4 == 6:
        return decode_ip6(payload[4:])
    return None


def decode_gre(seg):
    """A GRE packet (RFC 2784): its header, its checksum when present, and the inner packet."""
    if len(seg) < 4:
        return {"error": "shorter than a GRE header"}, False
    flags = int.from_bytes(seg[0:2], "big")
    proto = int.from_bytes(seg[2:4], "big")
    has_csum = bool(flags & 0x8000)
    hlen = 8 if has_csum else 4
    gre = {"flags": flags, "proto": proto}
    ok = flags & 0x7FFF == 0  # no key, sequence or routing; version 0
    if has_csum:
        zeroed = bytearray(seg)
        zeroed[4:6] = b"\0\0"
        gre["chksum"] = int.from_bytes(seg[4:6], "big")
        ok = ok and checksum(bytes(zeroed)) == gre["chksum"]
    inner_raw = seg[hlen:]
    if proto == 0x0800:
        gre["inner"] = decode_ip(inner_raw)
    elif proto == 0x86DD:
        gre["inner"] = decode_ip6(inner_raw)
    else:
        return gre, False
    return gre, ok and tunnelled_ok(gre["inner"])


def decode_tcp(layer, seg):
    """TCP fields scapy dissected; `complete` is False when the header is cut short."""
    present = {name: layer.fields[name] for name in TCP_FIELDS if name in layer.fields}
    hlen = present.get("dataofs", 0) * 4
    complete = len(present) == len(TCP_FIELDS) and len(seg) >= max(hlen, 20)
    out = {name: (str(v) if name == "flags" else int(v)) for name, v in present.items()}
    if complete:
        out["options"] = [[name if isinstance(name, str) else int(name), jsonable(value)]
                          for name, value in layer.options]
        out["optionsHex"] = seg[20:hlen].hex()
        out["payload"] = seg[hlen:].hex()
    return out, complete


def decode_ip(raw):
    """Decodes one IPv4 packet (or a quoted one inside an ICMP error)."""
    if len(raw) < 20:
        return {"error": "shorter than an IPv4 header (%d bytes)" % len(raw)}
    pkt = IP(raw)
    hlen = pkt.ihl * 4
    out = {
        "summary": pkt.summary(),
        "ip": {
            "version": pkt.version, "ihl": pkt.ihl, "tos": pkt.tos, "len": pkt.len,
            "id": pkt.id, "flags": str(pkt.flags), "frag": pkt.frag, "ttl": pkt.ttl,
            "proto": pkt.proto, "chksum": pkt.chksum, "src": pkt.src, "dst": pkt.dst,
            "optionsHex": raw[20:hlen].hex(),
        },
    }
    if pkt.version != 4 or hlen < 20 or len(raw) < hlen:
        out["ipChecksumOk"] = None
        out["truncated"] = True
        out["l4ChecksumOk"] = None
        return out
    header = bytearray(raw[:hlen])
    header[10:12] = b"\0\0"
    out["ipChecksumOk"] = checksum(bytes(header)) == pkt.chksum
    seg = raw[hlen:min(pkt.len, len(raw))]
    out["truncated"] = len(raw) < pkt.len
    whole = not out["truncated"] and pkt.frag == 0 and not pkt.flags.MF
    out["l4ChecksumOk"] = None
    if pkt.frag != 0:
        # Not the first fragment: no transport header to decode.
        out["payload"] = seg.hex()
        return out
    if pkt.proto == 6 and pkt.haslayer(TCP):
        tcp, complete = decode_tcp(pkt[TCP], seg)
        out["tcp" if complete else "tcpPartial"] = tcp
        if complete and whole:
            out["l4ChecksumOk"] = l4_checksum_ok(6, pkt, seg, 16)
    elif pkt.proto == 17 and pkt.haslayer(UDP) and len(seg) >= 8:
        udp = pkt[UDP]
        out["udp"] = {"sport": udp.sport, "dport": udp.dport, "len": udp.len,
                      "chksum": udp.chksum, "payload": seg[8:].hex()}
        if whole:
            out["l4ChecksumOk"] = l4_checksum_ok(17, pkt, seg, 6)
            inner = gue_inner(seg[8:])
            if inner is not None:
                # GUE (a TUNNEL packet): the UDP checksum and the inner packet's must hold.
                out["inner"] = inner
                out["l4ChecksumOk"] = out["l4ChecksumOk"] and tunnelled_ok(inner)
    elif pkt.proto == 47 and whole:
        out["gre"], out["l4ChecksumOk"] = decode_gre(seg)
    elif pkt.proto == 4 and whole:
        # IPIP (a TUNNEL packet): the inner IPv4 packet is judged whole.
        out["inner"] = decode_ip(seg)
        out["l4ChecksumOk"] = tunnelled_ok(out["inner"])
    elif pkt.proto == 1 and pkt.haslayer(ICMP) and len(seg) >= 8:
        icmp = pkt[ICMP]
        dec = {"type": icmp.type, "code": icmp.code, "chksum": icmp.chksum,
               "rest": int.from_bytes(seg[4:8], "big")}
        for name in ("id", "seq", "nexthopmtu", "gw", "ptr"):
            if name in icmp.fields:
                dec[name] = jsonable(icmp.fields[name])
        if icmp.type in ICMP_ERROR_TYPES:
            dec["embedded"] = decode_ip(seg[8:])
        else:
            dec["payload"] = seg[8:].hex()
        out["icmp"] = dec
        if whole:
            out["l4ChecksumOk"] = l4_checksum_ok(1, pkt, seg, 2)
    else:
        out["payload"] = seg.hex()
    return out


def decode_ip6(raw):
    """Decodes one IPv6 packet without extension headers (or a quoted one)."""
    if len(raw) < 40:
        return {"error": "shorter than an IPv6 header (%d bytes)" % len(raw)}
    pkt = IPv6(raw[:40])
    plen = int.from_bytes(raw[4:6], "big")
    nh = raw[6]
    out = {
        "summary": "IPv6 %s > %s nh %d" % (pkt.src, pkt.dst, nh),
        "ip": {"version": 6, "len": plen, "proto": nh, "ttl": raw[7],
               "src": pkt.src, "dst": pkt.dst},
        "ipChecksumOk": None,
    }
    seg = raw[40:40 + plen]
    out["truncated"] = len(raw) < 40 + plen
    whole = not out["truncated"]
    out["l4ChecksumOk"] = None

    def ok(at):
        stored = int.from_bytes(seg[at:at + 2], "big")
        zeroed = bytearray(seg)
        zeroed[at:at + 2] = b"\0\0"
        computed = in6_chksum(nh, pkt, bytes(zeroed))
        if nh == 17 and computed == 0:
            computed = 0xFFFF
        return computed == stored

    if nh == 6 and len(seg) >= 20:
        tcp, complete = decode_tcp(TCP(seg), seg)
        out["tcp" if complete else "tcpPartial"] = tcp
        if complete and whole:
            out["l4ChecksumOk"] = ok(16)
    elif nh == 6:
        out["tcpPartial"] = {"sport": int.from_bytes(seg[0:2], "big"),
                             "dport": int.from_bytes(seg[2:4], "big"),
                             "seq": int.from_bytes(seg[4:8], "big")}
    elif nh == 17 and len(seg) >= 8:
        udp = UDP(seg)
        out["udp"] = {"sport": udp.sport, "dport": udp.dport, "len": udp.len,
                      "chksum": udp.chksum, "payload": seg[8:].hex()}
        if whole:
            # A zero UDP checksum over IPv6 is allowed for tunnels only (RFC 6935): GUE.
            inner = gue_inner(seg[8:])
            out["l4ChecksumOk"] = ok(6) or (inner is not None and udp.chksum == 0)
            if inner is not None:
                out["inner"] = inner
                out["l4ChecksumOk"] = out["l4ChecksumOk"] and tunnelled_ok(inner)
    elif nh == 47 and whole:
        out["gre"], out["l4ChecksumOk"] = decode_gre(seg)
    elif nh == 41 and whole:
        # IPv6 in IPv6 (a TUNNEL packet): the inner IPv6 packet is judged whole.
        out["inner"] = decode_ip6(seg)
        out["l4ChecksumOk"] = tunnelled_ok(out["inner"])
    elif nh == 58 and len(seg) >= 8:
        dec = {"type": seg[0], "code": seg[1], "chksum": int.from_bytes(seg[2:4], "big"),
               "rest": int.from_bytes(seg[4:8], "big")}
        if seg[0] == 2:
            dec["mtu"] = dec["rest"]
        if seg[0] in ICMP6_ERROR_TYPES:
            dec["embedded"] = decode_ip6(seg[8:])
        else:
            dec["payload"] = seg[8:].hex()
        out["icmp"] = dec
        if whole:
            out["l4ChecksumOk"] = ok(2)
    else:
        out["payload"] = seg.hex()
    return out


def decode_any(raw):
    """IPv4 or IPv6 by the version nibble."""
    if raw and raw[0] >> 4 == 6:
        return decode_ip6(raw)
    return decode_ip(raw)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
            hexdata = item["hex"] if isinstance(item, dict) else item
            result = decode_any(bytes.fromhex(hexdata))
        except Exception as exc:  # noqa: BLE001 - one bad packet must not end the batch
            result = {"error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
