import assert from "node:assert/strict";
import {
  entryProblem,
  MAX_NEW_MESSAGE_BYTES,
  NlWriter,
  writeDelete,
  writeDump,
  writeNew,
} from "../../../src/kernel/conntrack/encode.ts";
import { parseEntry } from "../../../src/kernel/conntrack/decode.ts";
import type { OffloadEntry } from "../../../src/kernel/conntrack/types.ts";

const DECODER = new URL("../../../testkit/ct_decode.py", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
async function decode(bytes: Uint8Array): Promise<any[]> {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const child = new Deno.Command("/usr/bin/python3", {
    args: [DECODER],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(hex));
  await w.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
}

const v4: OffloadEntry = {
  orig: { protocol: "tcp", src: "198.51.100.2", dst: "198.51.100.10", srcPort: 40000, dstPort: 80 },
  dnat: { address: "203.0.113.11", port: 8080 },
  snat: { address: "203.0.113.201", port: 5000 },
  seqAdjOrig: { correctionPos: 0xfffffff0, offsetBefore: -1640531527, offsetAfter: -1640531527 },
  tcp: { wscaleOriginal: 7, wscaleReply: 9 },
  timeout: 90,
  mark: 0x80000001,
};

const v6: OffloadEntry = {
  orig: { protocol: "tcp", src: "2001:db8:a::2", dst: "2001:db8:a::10", srcPort: 1, dstPort: 443 },
  dnat: { address: "2001:db8:b::11", port: 443 },
  snat: { address: "2001:db8:b::201", port: 65535 },
  seqAdjOrig: { correctionPos: 5, offsetBefore: 1, offsetAfter: 2 },
  seqAdjReply: { correctionPos: 6, offsetBefore: -3, offsetAfter: -4 },
  tcp: { wscaleOriginal: 0, wscaleReply: 14, windowScale: false, sackPermitted: false },
  timeout: 2147483647,
  mark: 0,
};

const udp: OffloadEntry = {
  orig: { protocol: "udp", src: "198.51.100.2", dst: "198.51.100.10", srcPort: 5353, dstPort: 53 },
  dnat: { address: "203.0.113.12", port: 53 },
  timeout: 30,
  mark: 7,
};

function encode(entries: OffloadEntry[], seq0 = 100): Uint8Array {
  const w = new NlWriter(new Uint8Array(entries.length * MAX_NEW_MESSAGE_BYTES));
  entries.forEach((e, i) => writeNew(w, e, seq0 + i));
  return w.buf.slice(0, w.pos);
}

const tuple = (src: string, dst: string, num: number, sp: number, dp: number, v6 = false) => ({
  IP: v6 ? { V6_SRC: src, V6_DST: dst } : { V4_SRC: src, V4_DST: dst },
  PROTO: { NUM: num, SRC_PORT: sp, DST_PORT: dp },
});

Deno.test("CT_NEW of an IPv4 TCP entry decodes, by an independent decoder, to the kernel's attributes", async () => {
  const [m] = await decode(encode([v4]));
  assert.equal(m.type, "CT_NEW");
  // NLM_F_REQUEST|ACK|EXCL|CREATE = 0x605 (the decoder names 0x200 and 0x400 by both meanings).
  assert.deepEqual(m.flags, ["ACK", "CREATE", "MATCH|EXCL", "REQUEST"]);
  assert.equal(m.seq, 100);
  assert.equal(m.family, 2, "AF_INET");
  assert.equal(m.version, 0);
  assert.deepEqual(m.attrs, {
    TUPLE_ORIG: tuple("198.51.100.2", "198.51.100.10", 6, 40000, 80),
    // The reply tuple is the inverse of the original; the NAT setup rewrites it.
    TUPLE_REPLY: tuple("198.51.100.10", "198.51.100.2", 6, 80, 40000),
    NAT_DST: {
      V4_MINIP: "203.0.113.11",
      V4_MAXIP: "203.0.113.11",
      PROTO: { PORT_MIN: 8080, PORT_MAX: 8080 },
    },
    NAT_SRC: {
      V4_MINIP: "203.0.113.201",
      V4_MAXIP: "203.0.113.201",
      PROTO: { PORT_MIN: 5000, PORT_MAX: 5000 },
    },
    STATUS: 0x0e, // IPS_SEEN_REPLY 0x2 | IPS_ASSURED 0x4 | IPS_CONFIRMED 0x8, no SEQ_ADJUST 0x40
    TIMEOUT: 90,
    MARK: 0x80000001,
    SEQ_ADJ_ORIG: {
      CORRECTION_POS: 0xfffffff0,
      OFFSET_BEFORE: -1640531527,
      OFFSET_AFTER: -1640531527,
    },
    PROTOINFO: {
      TCP: {
        STATE: 3, // TCP_CONNTRACK_ESTABLISHED
        WSCALE_ORIGINAL: 7,
        WSCALE_REPLY: 9,
        // WINDOW_SCALE 0x01 | SACK_PERM 0x02 | BE_LIBERAL 0x08, same mask
        FLAGS_ORIGINAL: { flags: 0x0b, mask: 0x0b },
        FLAGS_REPLY: { flags: 0x0b, mask: 0x0b },
      },
    },
  });
});

Deno.test("CT_NEW of IPv6 TCP (both seqadj, no wscale/SACK) and of UDP (no SNAT, no TCP parts), in one batch", async () => {
  const bytes = encode([v6, udp], 7);
  const [m6, mu] = await decode(bytes);
  assert.equal(m6.family, 10, "AF_INET6");
  assert.equal(m6.seq, 7);
  assert.deepEqual(m6.attrs.TUPLE_ORIG, tuple("2001:db8:a::2", "2001:db8:a::10", 6, 1, 443, true));
  assert.deepEqual(m6.attrs.NAT_SRC, {
    V6_MINIP: "2001:db8:b::201",
    V6_MAXIP: "2001:db8:b::201",
    PROTO: { PORT_MIN: 65535, PORT_MAX: 65535 },
  });
  assert.deepEqual(m6.attrs.SEQ_ADJ_REPLY, {
    CORRECTION_POS: 6,
    OFFSET_BEFORE: -3,
    OFFSET_AFTER: -4,
  });
  assert.deepEqual(m6.attrs.PROTOINFO.TCP.FLAGS_ORIGINAL, { flags: 0x08, mask: 0x0b });
  assert.equal(m6.attrs.TIMEOUT, 2147483647);
  assert.equal(m6.len <= MAX_NEW_MESSAGE_BYTES, true, `IPv6 message ${m6.len} bytes`);
  assert.equal(mu.seq, 8);
  assert.deepEqual(Object.keys(mu.attrs).sort(), [
    "MARK",
    "NAT_DST",
    "STATUS",
    "TIMEOUT",
    "TUPLE_ORIG",
    "TUPLE_REPLY",
  ]);
  assert.deepEqual(mu.attrs.TUPLE_REPLY, tuple("198.51.100.10", "198.51.100.2", 17, 53, 5353));
  assert.equal(m6.len + mu.len, bytes.length, "messages back to back, 4-byte aligned");
});

Deno.test("CT_DELETE and the mark-filtered CT_GET dump", async () => {
  const w = new NlWriter(new Uint8Array(1024));
  writeDelete(w, v4.orig, 1);
  writeDump(w, 0x1234, 0xff00, 2);
  writeDump(w, 0, 0, 3);
  const [del, dump, all] = await decode(w.buf.slice(0, w.pos));
  assert.equal(del.type, "CT_DELETE");
  assert.deepEqual(del.flags, ["ACK", "REQUEST"]);
  assert.deepEqual(del.attrs, { TUPLE_ORIG: tuple("198.51.100.2", "198.51.100.10", 6, 40000, 80) });
  assert.equal(dump.type, "CT_GET");
  assert.deepEqual(dump.flags, ["MATCH|EXCL", "REQUEST", "ROOT|REPLACE"], "NLM_F_DUMP");
  assert.equal(dump.family, 0, "AF_UNSPEC: both families");
  assert.deepEqual(dump.attrs, { MARK: 0x1200, MARK_MASK: 0xff00 });
  assert.deepEqual(all.attrs, {}, "mask 0: no filter at all");
});

Deno.test("parseEntry reads back what writeNew wrote (tuples, status, mark, timeout, state, seqadj)", () => {
  for (const e of [v4, v6, udp]) {
    const bytes = encode([e]);
    const got = parseEntry(new DataView(bytes.buffer), 0, bytes.length)!;
    assert.deepEqual(got.orig, e.orig);
    assert.deepEqual(got.reply, {
      protocol: e.orig.protocol,
      src: e.orig.dst,
      dst: e.orig.src,
      srcPort: e.orig.dstPort,
      dstPort: e.orig.srcPort,
    });
    assert.equal(got.status, 0x0e);
    assert.equal(got.mark, e.mark);
    assert.equal(got.timeout, e.timeout);
    assert.equal(got.tcpState, e.orig.protocol === "tcp" ? 3 : undefined);
    assert.deepEqual(got.seqAdjOrig, e.seqAdjOrig);
    assert.deepEqual(got.seqAdjReply, e.seqAdjReply);
  }
  const bytes = encode([v4]);
  // Cut inside the attributes: the message no longer parses.
  const v = new DataView(bytes.buffer);
  assert.equal(parseEntry(v, 0, 40), undefined);
  assert.equal(parseEntry(v, 0, 10), undefined);
});

Deno.test("entryProblem names the field that is wrong", () => {
  const cases: Array<[Partial<OffloadEntry> | Record<string, unknown>, RegExp]> = [
    [{ orig: { ...v4.orig, src: "198.51.100.256" } }, /orig\.src is not a numeric IP address/],
    [{ orig: { ...v4.orig, dst: "2001:db8::1" } }, /orig mixes IPv4 198\.51\.100\.2 and IPv6/],
    [{ orig: { ...v4.orig, protocol: "sctp" } }, /orig\.protocol must be "tcp" or "udp"/],
    [{ orig: { ...v4.orig, srcPort: 65536 } }, /orig\.srcPort must be 0\.\.65535/],
    [
      { dnat: { address: "2001:db8::1", port: 80 } },
      /dnat\.address 2001:db8::1 is IPv6, the tuple is IPv4/,
    ],
    [{ snat: { address: "203.0.113.201", port: 0 } }, /snat\.port must be 1\.\.65535, got 0/],
    [
      { dnat: { address: new Uint8Array(5), port: 80 } },
      /dnat\.address is not a numeric IP address: a 5-byte array \(4 or 16 expected\)/,
    ],
    [{ timeout: 0 }, /timeout must be 1\.\.2147483647 seconds, got 0/],
    [{ mark: -1 }, /mark must be 0\.\.4294967295, got -1/],
    [
      { seqAdjOrig: { correctionPos: 0, offsetBefore: 2 ** 32, offsetAfter: 0 } },
      /seqAdjOrig\.offsetBefore must be a 32-bit integer \(-2\^31\.\.2\^32-1\), got 4294967296/,
    ],
    [{ tcp: undefined }, /tcp \(the handshake's window scales\) is required/],
    [
      { tcp: { wscaleOriginal: 15, wscaleReply: 0 } },
      /tcp\.wscaleOriginal must be 0\.\.14, got 15/,
    ],
  ];
  for (const [patch, re] of cases) {
    assert.match(entryProblem({ ...v4, ...patch } as OffloadEntry) ?? "(accepted)", re);
  }
  assert.match(
    entryProblem({ ...udp, seqAdjOrig: v4.seqAdjOrig }) ?? "",
    /seqAdjOrig applies to TCP only/,
  );
  assert.equal(entryProblem(v4), undefined);
  assert.equal(entryProblem(v6), undefined);
  assert.equal(entryProblem(udp), undefined);
});

Deno.test("parseEntry reads a dump reply's counters, id and protoinfo (kernel layout, NLA_F_NESTED set)", () => {
  const w = new NlWriter(new Uint8Array(1024));
  w.beginMessage(0, 0x2, 9, 2); // IPCTNL_MSG_CT_NEW with NLM_F_MULTI, as a dump part
  for (
    const [type, src, dst, sp, dp] of [[1, "198.51.100.2", "198.51.100.10", 40000, 80], [
      2,
      "203.0.113.11",
      "203.0.113.201",
      8080,
      5000,
    ]] as const
  ) {
    const t = w.beginNest(type);
    const ip = w.beginNest(1);
    w.bytes(1, new Uint8Array(src.split(".").map(Number)));
    w.bytes(2, new Uint8Array(dst.split(".").map(Number)));
    w.endNest(ip);
    const p = w.beginNest(2);
    w.u8(1, 6);
    w.be16(2, sp);
    w.be16(3, dp);
    w.endNest(p);
    w.endNest(t);
  }
  const u64 = (n: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n, false);
    return b;
  };
  for (const [type, packets, bytes] of [[9, 3n, 180n], [10, 2n, 2n ** 40n]] as const) {
    const c = w.beginNest(type);
    w.bytes(1, u64(packets));
    w.bytes(2, u64(bytes));
    w.endNest(c);
  }
  w.be32(3, 0x1fe);
  w.be32(7, 117);
  w.be32(8, 0x1234);
  w.be32(12, 0xdeadbeef);
  const pi = w.beginNest(4);
  const tcp = w.beginNest(1);
  w.u8(1, 7);
  w.endNest(tcp);
  w.endNest(pi);
  w.be32(11, 1); // CTA_USE: skipped
  const len = w.endMessage();
  const e = parseEntry(w.view, 0, len)!;
  assert.deepEqual(e, {
    orig: {
      protocol: "tcp",
      src: "198.51.100.2",
      dst: "198.51.100.10",
      srcPort: 40000,
      dstPort: 80,
    },
    reply: {
      protocol: "tcp",
      src: "203.0.113.11",
      dst: "203.0.113.201",
      srcPort: 8080,
      dstPort: 5000,
    },
    status: 0x1fe,
    mark: 0x1234,
    timeout: 117,
    id: 0xdeadbeef,
    tcpState: 7,
    countersOrig: { packets: 3n, bytes: 180n },
    countersReply: { packets: 2n, bytes: 2n ** 40n },
  });
});

Deno.test("addresses as network-order bytes (the engine's form) and offsets as uint32 encode the same bytes as text and signed offsets", () => {
  const b = (...n: number[]) => new Uint8Array(n);
  const asBytes: OffloadEntry = {
    ...v4,
    orig: { ...v4.orig, src: b(198, 51, 100, 2), dst: b(198, 51, 100, 10) },
    dnat: { address: b(203, 0, 113, 11), port: 8080 },
    snat: { address: b(203, 0, 113, 201), port: 5000 },
    seqAdjOrig: { correctionPos: 0xfffffff0, offsetBefore: 0x9e3779b9, offsetAfter: 0x9e3779b9 },
  };
  assert.equal(entryProblem(asBytes), undefined);
  assert.deepEqual(encode([asBytes]), encode([v4]));
  const six = new Uint8Array(16);
  six.set([0x20, 0x01, 0x0d, 0xb8, 0, 0x0a], 0);
  six[15] = 2;
  const v6b: OffloadEntry = { ...v6, orig: { ...v6.orig, src: six } };
  assert.deepEqual(encode([v6b]), encode([v6]));
  assert.match(
    entryProblem({ ...v4, orig: { ...v4.orig, src: six } }) ?? "",
    /orig mixes IPv6 2001:db8:a::2 and IPv4 198\.51\.100\.10/,
  );
});
