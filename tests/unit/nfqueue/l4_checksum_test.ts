import assert from "node:assert/strict";
import { SimdChecksum } from "../../../src/wire/checksum_simd.ts";
import { completeL4Checksum, completeWrapped } from "../../../src/nfqueue/l4_checksum.ts";
import { internetChecksum, onesComplementSum } from "../../../testkit/inet_checksum.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";

const summer = new SimdChecksum(0);

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

/** What the kernel hands over for CHECKSUM_PARTIAL: the folded pseudo-header sum, uncomplemented. */
function pseudoOnly(pkt: Uint8Array, field: number, pseudo: number): void {
  pkt[field] = pseudo >>> 8;
  pkt[field + 1] = pseudo & 0xff;
}

function v4Pseudo(pkt: Uint8Array, proto: number): number {
  const ihl = (pkt[0] & 15) * 4;
  const l4Len = pkt.length - ihl;
  return onesComplementSum(pkt.subarray(12, 20), proto + l4Len);
}

/** An extension header: its type and its bytes (length a multiple of 8). */
type Ext = [type: number, bytes: Uint8Array];

/** An IPv6 packet: fixed header, extension headers chained in order, then `l4`. */
function ipv6(nextProto: number, l4: Uint8Array, ext: Ext[] = []): Uint8Array {
  const extLen = ext.reduce((n, [, e]) => n + e.length, 0);
  const pkt = new Uint8Array(40 + extLen + l4.length);
  pkt[0] = 0x60;
  const payload = extLen + l4.length;
  pkt[4] = payload >>> 8;
  pkt[5] = payload & 0xff;
  pkt[6] = ext.length > 0 ? ext[0][0] : nextProto;
  pkt[7] = 64;
  pkt.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 8);
  pkt.set([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11], 24);
  let at = 40;
  for (let i = 0; i < ext.length; i++) {
    const bytes = ext[i][1];
    pkt.set(bytes, at);
    pkt[at] = i + 1 < ext.length ? ext[i + 1][0] : nextProto;
    pkt[at + 1] = bytes.length / 8 - 1;
    at += bytes.length;
  }
  pkt.set(l4, at);
  return pkt;
}

function v6Pseudo(pkt: Uint8Array, proto: number, l4Len: number): number {
  return onesComplementSum(pkt.subarray(8, 40), proto + l4Len);
}

Deno.test("completeL4Checksum() turns IPv4 TCP and UDP pseudo-header sums into full checksums", () => {
  for (const size of [0, 1, 1447, 63_000]) {
    const body = randomBytes(size);
    const tcp = ipv4({ src: "10.1.2.3", dst: "10.4.5.6" }).tcp({ flags: "PA", seq: 7 })
      .payload(body).build();
    const udp = ipv4({ src: "10.1.2.3", dst: "10.4.5.6" }).udp().payload(body).build();
    for (const [pkt, proto, field] of [[tcp, 6, 36], [udp, 17, 26]] as const) {
      const want = (pkt[field] << 8) | pkt[field + 1];
      pseudoOnly(pkt, field, v4Pseudo(pkt, proto));
      assert.equal(completeL4Checksum(pkt, 0, pkt.length, summer), true);
      assert.equal((pkt[field] << 8) | pkt[field + 1], want, `proto ${proto} size ${size}`);
      assert.equal(internetChecksum(pkt.subarray(20), v4Pseudo(pkt, proto)), 0);
    }
  }
});

Deno.test("completeL4Checksum() works at an offset inside a bigger buffer and with IP options", () => {
  const pkt = ipv4({ src: "192.0.2.1", dst: "198.51.100.7" }).tcp().payload(randomBytes(999))
    .build();
  // Rebuild with a 4-byte IP option (NOP x3 + EOL): IHL 6.
  const withOpt = new Uint8Array(pkt.length + 4);
  withOpt.set(pkt.subarray(0, 20), 0);
  withOpt.set([1, 1, 1, 0], 20);
  withOpt.set(pkt.subarray(20), 24);
  withOpt[0] = 0x46;
  const total = withOpt.length;
  withOpt[2] = total >>> 8;
  withOpt[3] = total & 0xff;
  const buf = new Uint8Array(total + 100).fill(0xee);
  buf.set(withOpt, 37);
  assert.equal(completeL4Checksum(buf, 37, total, summer), true);
  const out = buf.subarray(37, 37 + total);
  assert.equal(internetChecksum(out.subarray(24), v4Pseudo(out, 6)), 0);
  assert.equal(buf[36], 0xee);
  assert.equal(buf[37 + total], 0xee);
});

Deno.test("completeL4Checksum() handles IPv6 TCP and UDP, also behind hop-by-hop/destination options", () => {
  const chains: Ext[][] = [
    [],
    [[0, new Uint8Array(8)]],
    [[0, new Uint8Array(8)], [60, new Uint8Array(16)]],
    [[43, new Uint8Array(8)]], // routing header, no segments left
  ];
  for (const ext of chains) {
    for (const [proto, l4Size, field] of [[6, 20 + 3000, 16], [17, 8 + 777, 6]] as const) {
      const l4 = randomBytes(l4Size);
      l4[field] = 0;
      l4[field + 1] = 0;
      if (proto === 6) l4[12] = 0x50;
      else {
        l4[4] = l4Size >>> 8;
        l4[5] = l4Size & 0xff;
      }
      const pkt = ipv6(proto, l4, ext);
      const l4At = pkt.length - l4Size;
      const pseudo = v6Pseudo(pkt, proto, l4Size);
      pseudoOnly(pkt, l4At + field, pseudo);
      assert.equal(completeL4Checksum(pkt, 0, pkt.length, summer), true, `ext ${ext.length}`);
      assert.equal(internetChecksum(pkt.subarray(l4At), pseudo), 0, `proto ${proto}`);
    }
  }
});

Deno.test("completeL4Checksum() writes a computed UDP zero as 0xffff", () => {
  // Search a 2-byte payload that makes the checksum come out as zero.
  for (let v = 0; v < 0x10000; v++) {
    const pkt = ipv4({ src: "10.0.0.1", dst: "10.0.0.2" }).udp({ sport: 1, dport: 2 })
      .payload(new Uint8Array([v >>> 8, v & 0xff])).build();
    pkt[26] = 0;
    pkt[27] = 0;
    if (internetChecksum(pkt.subarray(20), v4Pseudo(pkt, 17)) !== 0) continue;
    assert.equal(completeL4Checksum(pkt, 0, pkt.length, summer), true);
    assert.deepEqual([pkt[26], pkt[27]], [0xff, 0xff]);
    return;
  }
  assert.fail("no payload gives a zero checksum");
});

Deno.test("completeL4Checksum() refuses what it cannot complete and leaves it unchanged", () => {
  const tcp = ipv4({ src: "10.0.0.1", dst: "10.0.0.2" }).tcp().payload(randomBytes(100)).build();
  const cases: Array<[string, Uint8Array]> = [];
  const frag = tcp.slice();
  frag[6] = 0x20; // more fragments
  cases.push(["IPv4 fragment", frag]);
  const icmp = ipv4({ src: "10.0.0.1", dst: "10.0.0.2" }).icmp().build();
  cases.push(["ICMP", icmp]);
  const long = tcp.slice();
  long[2] = 0xff; // total length beyond the data
  cases.push(["IPv4 total length too big", long]);
  const shortTcp = ipv4({ src: "10.0.0.1", dst: "10.0.0.2" }).rawProto(6).payload(
    new Uint8Array(10),
  ).build();
  cases.push(["TCP shorter than its header", shortTcp]);
  const v6frag = ipv6(6, randomBytes(40), [[44, new Uint8Array(8)]]);
  cases.push(["IPv6 fragment header", v6frag]);
  const jumbo = ipv6(6, randomBytes(40));
  jumbo[4] = 0;
  jumbo[5] = 0;
  cases.push(["IPv6 jumbogram", jumbo]);
  const routing = ipv6(6, randomBytes(40), [[43, new Uint8Array(8)]]);
  routing[43] = 1; // segments left
  cases.push(["IPv6 routing header with segments left", routing]);
  cases.push(["version 5", new Uint8Array(40).fill(0x50, 0, 1)]);
  cases.push(["empty", new Uint8Array(0)]);
  for (const [what, pkt] of cases) {
    const before = pkt.slice();
    assert.equal(completeL4Checksum(pkt, 0, pkt.length, summer), false, what);
    assert.deepEqual(pkt, before, what);
  }
});

Deno.test("completeL4Checksum() completes the inner packet of an IPIP / IPv6-in-IPv6 one (TUNNEL)", () => {
  // IPv4 in IPv4: the inner TCP checksum holds the pseudo-header sum only.
  const inner = ipv4({ src: "198.51.100.2", dst: "198.51.100.10", df: true })
    .tcp({ sport: 40000, dport: 80, flags: "PA", seq: 1 }).payload(randomBytes(999)).build();
  const good = inner[36] << 8 | inner[37];
  pseudoOnly(inner, 36, v4Pseudo(inner, 6));
  const outer = ipv4({ src: "203.0.113.1", dst: "203.0.113.11" }).rawProto(4).payload(inner)
    .build();
  assert.ok(completeL4Checksum(outer, 0, outer.length, summer));
  assert.equal(outer[56] << 8 | outer[57], good);
  // IPv6 in IPv6.
  const tcp = ipv4({ src: "198.51.100.2", dst: "198.51.100.10" })
    .tcp({ sport: 1, dport: 80, flags: "S" }).build().subarray(20);
  const in6 = ipv6(6, Uint8Array.from(tcp));
  in6[56] = 0;
  in6[57] = 0;
  const want = internetChecksum(in6.subarray(40), v6Pseudo(in6, 6, tcp.length));
  pseudoOnly(in6, 56, v6Pseudo(in6, 6, tcp.length));
  const out6 = ipv6(41, in6);
  assert.ok(completeL4Checksum(out6, 0, out6.length, summer));
  assert.equal(out6[96] << 8 | out6[97], want);
  // One level only: IPIP in IPIP is left alone.
  const twice = ipv4({ src: "203.0.113.1", dst: "203.0.113.11" }).rawProto(4).payload(outer)
    .build();
  assert.equal(completeL4Checksum(twice, 0, twice.length, summer), false);
});

Deno.test("completeWrapped() completes the inner packet of GUE and GRE, then their own checksums", () => {
  const inner = ipv4({ src: "198.51.100.2", dst: "198.51.100.10", df: true })
    .tcp({ sport: 40000, dport: 80, flags: "PA", seq: 1 }).payload(randomBytes(777)).build();
  const good = inner[36] << 8 | inner[37];
  pseudoOnly(inner, 36, v4Pseudo(inner, 6));
  const gue = (csum: boolean) => {
    const body = new Uint8Array(4 + inner.length);
    body[1] = 4;
    body.set(inner, 4);
    // The UDP checksum as the engine wrote it over the still-pending inner packet: wrong.
    return ipv4({ src: "203.0.113.1", dst: "203.0.113.11" })
      .udp({ sport: 50000, dport: 6080, ...(csum ? { checksum: 0x1234 } : { checksum: 0 }) })
      .payload(body).build();
  };
  for (const csum of [false, true]) {
    const pkt = gue(csum);
    assert.ok(completeWrapped(pkt, 0, pkt.length, 32, summer));
    assert.equal(pkt[32 + 36] << 8 | pkt[32 + 37], good, "inner TCP checksum completed");
    const udp = pkt[26] << 8 | pkt[27];
    if (!csum) assert.equal(udp, 0, "no checksum stays none");
    else {
      // The outer UDP checksum now verifies over the completed inner packet.
      const sum = onesComplementSum(pkt.subarray(12, 20), 17 + pkt.length - 20);
      assert.equal(internetChecksum(pkt.subarray(20), sum), 0);
    }
  }
  // GRE with its checksum: recomputed over the completed inner packet.
  const greBody = new Uint8Array(8 + inner.length);
  greBody.set([0x80, 0, 0x08, 0x00, 0xde, 0xad, 0, 0]);
  greBody.set(inner, 8);
  const gre = ipv4({ src: "203.0.113.1", dst: "203.0.113.11" }).rawProto(47).payload(greBody)
    .build();
  assert.ok(completeWrapped(gre, 0, gre.length, 28, summer));
  assert.equal(gre[28 + 36] << 8 | gre[28 + 37], good);
  assert.equal(internetChecksum(gre.subarray(20)), 0, "GRE checksum right");
  // An inner packet that cannot be completed leaves the outer one alone.
  const bad = gue(true);
  bad[32 + 9] = 99; // inner protocol neither TCP nor UDP
  const before = Uint8Array.from(bad);
  assert.equal(completeWrapped(bad, 0, bad.length, 32, summer), false);
  assert.deepEqual(bad, before);
});
