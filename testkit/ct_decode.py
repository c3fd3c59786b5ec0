"""An independent decoder of ctnetlink requests, for the unit tests of src/kernel/conntrack.

Reads hex text on stdin (one or more netlink messages back to back) and prints one JSON object
per message: header fields and the attribute tree with names and values decoded by the kernel's
own rules (nfnetlink_conntrack.h, typed in again here from the header, not shared with the
TypeScript), e.g. {"type": "CT_NEW", "flags": [...], "attrs": {"TUPLE_ORIG": {...}, ...}}.
Layout rules checked on the way: every length fits, attributes are 4-byte aligned, padding is
zero, nests carry NLA_F_NESTED and values big-endian.
"""

import ipaddress
import json
import struct
import sys

CTA = {1: "TUPLE_ORIG", 2: "TUPLE_REPLY", 3: "STATUS", 4: "PROTOINFO", 6: "NAT_SRC", 7: "TIMEOUT",
       8: "MARK", 13: "NAT_DST", 15: "SEQ_ADJ_ORIG", 16: "SEQ_ADJ_REPLY", 21: "MARK_MASK"}
TUPLE = {1: "IP", 2: "PROTO"}
IP = {1: "V4_SRC", 2: "V4_DST", 3: "V6_SRC", 4: "V6_DST"}
PROTO = {1: "NUM", 2: "SRC_PORT", 3: "DST_PORT"}
NAT = {1: "V4_MINIP", 2: "V4_MAXIP", 3: "PROTO", 4: "V6_MINIP", 5: "V6_MAXIP"}
PROTONAT = {1: "PORT_MIN", 2: "PORT_MAX"}
SEQADJ = {1: "CORRECTION_POS", 2: "OFFSET_BEFORE", 3: "OFFSET_AFTER"}
PROTOINFO = {1: "TCP"}
TCP = {1: "STATE", 2: "WSCALE_ORIGINAL", 3: "WSCALE_REPLY", 4: "FLAGS_ORIGINAL", 5: "FLAGS_REPLY"}
MSG = {0: "CT_NEW", 1: "CT_GET", 2: "CT_DELETE"}
NLM = {0x1: "REQUEST", 0x4: "ACK", 0x100: "ROOT|REPLACE", 0x200: "MATCH|EXCL", 0x400: "CREATE"}

NESTS = {
    ("top", 1): ("tuple", TUPLE), ("top", 2): ("tuple", TUPLE), ("top", 4): ("protoinfo", PROTOINFO),
    ("top", 6): ("nat", NAT), ("top", 13): ("nat", NAT), ("top", 15): ("seqadj", SEQADJ),
    ("top", 16): ("seqadj", SEQADJ), ("tuple", 1): ("ip", IP), ("tuple", 2): ("proto", PROTO),
    ("nat", 3): ("protonat", PROTONAT), ("protoinfo", 1): ("tcp", TCP),
}


def value(ctx, t, raw):
    if ctx == "ip" or (ctx == "nat" and t in (1, 2, 4, 5)):
        return str(ipaddress.ip_address(raw))
    if ctx == "proto" and t == 1 or ctx == "tcp" and t in (1, 2, 3):
        assert len(raw) == 1, (ctx, t, raw)
        return raw[0]
    if ctx in ("proto", "protonat"):
        return struct.unpack(">H", raw)[0]
    if ctx == "tcp":
        flags, mask = struct.unpack("BB", raw)
        return {"flags": flags, "mask": mask}
    if ctx == "seqadj" and t in (2, 3):
        return struct.unpack(">i", raw)[0]
    assert len(raw) == 4, (ctx, t, raw)
    return struct.unpack(">I", raw)[0]


def attrs(buf, pos, end, ctx, names):
    out = {}
    while pos < end:
        assert pos % 4 == 0, "attribute not aligned"
        ln, ty = struct.unpack_from("<HH", buf, pos)
        assert 4 <= ln and pos + ln <= end, f"attribute length {ln} overruns"
        t = ty & 0x3FFF
        nested = bool(ty & 0x8000)
        name = names.get(t, f"?{t}")
        raw = bytes(buf[pos + 4:pos + ln])
        sub = NESTS.get((ctx, t))
        assert nested == (sub is not None), f"{ctx}.{name}: NLA_F_NESTED is {nested}"
        out[name] = attrs(buf, pos + 4, pos + ln, sub[0], sub[1]) if sub else value(ctx, t, raw)
        padded = (ln + 3) & ~3
        assert buf[pos + ln:pos + padded] == b"\0" * (padded - ln), "padding not zero"
        pos += padded
    return out


buf = bytes.fromhex(sys.stdin.read().strip())
pos = 0
while pos < len(buf):
    ln, ty, fl, seq, pid = struct.unpack_from("<IHHII", buf, pos)
    fam, ver, res = struct.unpack_from(">BBH", buf, pos + 16)
    assert ty >> 8 == 1, "not the ctnetlink subsystem"
    print(json.dumps({
        "len": ln, "type": MSG.get(ty & 0xFF, ty & 0xFF),
        "flags": sorted(n for b, n in NLM.items() if fl & b), "seq": seq, "pid": pid,
        "family": fam, "version": ver, "res_id": res,
        "attrs": attrs(buf, pos + 20, pos + ln, "top", CTA),
    }))
    pos += (ln + 3) & ~3
