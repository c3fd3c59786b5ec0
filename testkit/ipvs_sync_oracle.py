#!/usr/bin/python3
"""Independent reader and writer of IPVS sync version 1 messages, from the kernel's
documented layout (net/netfilter/ipvs/ip_vs_sync.c: struct ip_vs_sync_mesg, ip_vs_sync_v4,
ip_vs_sync_v6, the parameter list), with nothing shared with src/sync/wire.ts.

  decode: reads a message (hex on stdin) as the kernel would, prints JSON.
  encode: reads JSON connections on stdin, prints a message (hex) as the kernel builds it.
"""
import json
import struct
import sys

HDR = struct.Struct("!BBHBbH")          # reserved, syncid, size, nr_conns, version, spare
V4 = struct.Struct("!BBHIHHHHII4s4s4s")  # type..timeout, caddr, vaddr, daddr
V6 = struct.Struct("!BBHIHHHHII16s16s16s")


def decode(buf):
    reserved, syncid, size, count, version, spare = HDR.unpack_from(buf, 0)
    out = {"reserved": reserved, "syncid": syncid, "size": size, "count": count,
           "version": version, "spare": spare, "length": len(buf), "conns": []}
    p = HDR.size
    for _ in range(count):
        typ = buf[p]
        st = V6 if typ & 1 else V4
        (typ, proto, ver_size, flags, state, cport, vport, dport, fwmark, timeout,
         caddr, vaddr, daddr) = st.unpack_from(buf, p)
        esize = ver_size & 0x0FFF
        conn = {"type": typ, "protocol": proto, "version": ver_size >> 12, "size": esize,
                "flags": flags, "state": state, "cport": cport, "vport": vport,
                "dport": dport, "fwmark": fwmark, "timeout": timeout,
                "caddr": caddr.hex(), "vaddr": vaddr.hex(), "daddr": daddr.hex(),
                "params": []}
        q = p + st.size
        end = p + esize
        while q < end:
            ptype, plen = buf[q], buf[q + 1]
            conn["params"].append({"type": ptype, "data": buf[q + 2:q + 2 + plen].hex()})
            q += 2 + plen
        out["conns"].append(conn)
        p += (esize + 3) & ~3
    return out


def encode(spec):
    body = b""
    for i, c in enumerate(spec["conns"]):
        v6 = len(c["caddr"]) == 32
        st = V6 if v6 else V4
        params = b""
        for prm in c.get("params", []):
            data = bytes.fromhex(prm["data"])
            params += bytes([prm["type"], len(data)]) + data
        size = st.size + len(params)
        entry = st.pack(1 if v6 else 0, c["protocol"], size & 0x0FFF, c["flags"], c["state"],
                        c["cport"], c["vport"], c["dport"], c["fwmark"], c["timeout"],
                        bytes.fromhex(c["caddr"]), bytes.fromhex(c["vaddr"]),
                        bytes.fromhex(c["daddr"])) + params
        if i > 0:
            body += b"\0" * ((4 - len(body)) % 4)   # the kernel pads before the next entry
        body += entry
    return HDR.pack(0, spec["syncid"], HDR.size + len(body), len(spec["conns"]), 1, 0) + body


if __name__ == "__main__":
    data = sys.stdin.read()
    if sys.argv[1] == "decode":
        print(json.dumps(decode(bytes.fromhex(data.strip()))))
    else:
        print(encode(json.loads(data)).hex())
