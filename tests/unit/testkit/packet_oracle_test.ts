/** Crafted packets from packet_builder.ts, judged by scapy through oracle.ts. */

import assert from "node:assert/strict";
import { ipv4, ipv4ChecksumValid, TCPOPT } from "../../../testkit/packet_builder.ts";
import {
  ipv4Dst,
  ipv4Src,
  l4Dport,
  l4Sport,
  tcpAck,
  tcpFlags,
  tcpOptionArea,
  tcpPayload,
  tcpSeq,
} from "../../../testkit/packet_reader.ts";
import { decode, decodeOne, type TcpOption } from "../../../testkit/oracle.ts";

const CLIENT = "198.51.100.2";
const VIP = "198.51.100.10";

function hex(s: string): string {
  return Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("oracle: a TCP SYN's fields and checksums", async () => {
  const pkt = ipv4({ src: CLIENT, dst: VIP, ttl: 63, id: 0xbeef, df: true })
    .tcp({ sport: 40001, dport: 80, seq: 0xfffffff0, ack: 0x80000001, flags: "S", window: 29200 })
    .mss(1460)
    .payload("hi")
    .build();
  const d = await decodeOne(pkt);
  assert.equal(d.error, undefined);
  assert.deepEqual(
    { ...d.ip, chksum: 0 },
    {
      version: 4,
      ihl: 5,
      tos: 0,
      len: 20 + 24 + 2,
      id: 0xbeef,
      flags: "DF",
      frag: 0,
      ttl: 63,
      proto: 6,
      chksum: 0,
      src: CLIENT,
      dst: VIP,
      optionsHex: "",
    },
  );
  assert.equal(d.ipChecksumOk, true);
  assert.equal(d.l4ChecksumOk, true);
  assert.equal(d.truncated, false);
  const tcp = d.tcp!;
  assert.equal(tcp.sport, 40001);
  assert.equal(tcp.dport, 80);
  assert.equal(tcp.seq, 0xfffffff0);
  assert.equal(tcp.ack, 0x80000001);
  assert.equal(tcp.flags, "S");
  assert.equal(tcp.window, 29200);
  assert.equal(tcp.dataofs, 6);
  assert.deepEqual(tcp.options, [["MSS", 1460]]);
  assert.equal(tcp.payload, hex("hi"));
  assert.ok(ipv4ChecksumValid(pkt));
});

Deno.test("oracle: TCP options round-trip with scapy's names", async () => {
  const cases: { build: ReturnType<typeof ipv4>; want: TcpOption[] }[] = [
    {
      // A Linux-like SYN: MSS, SACK-permitted, timestamp, NOP, window scale (20 bytes).
      build: ipv4({ src: CLIENT, dst: VIP }).tcp({ flags: "S" })
        .mss(1460).sackPermitted().timestamp(123456789, 0).nop().wscale(7),
      want: [["MSS", 1460], ["SAckOK", ""], ["Timestamp", [123456789, 0]], ["NOP", null], [
        "WScale",
        7,
      ]],
    },
    {
      // SACK blocks near the wrap, behind the usual two NOPs.
      build: ipv4({ src: "203.0.113.11", dst: "203.0.113.201" }).tcp({ flags: "A" })
        .nop(2).sack([[0xfffffff0, 0x10], [100, 200], [0x7fffffff, 0x80000000]]),
      want: [["NOP", null], ["NOP", null], [
        "SAck",
        [0xfffffff0, 0x10, 100, 200, 0x7fffffff, 0x80000000],
      ]],
    },
    {
      // TOA (kind 254, unknown to scapy) right after the header, then data.
      build: ipv4({ src: "203.0.113.201", dst: "203.0.113.11" }).tcp({ flags: "PA" })
        .toa(CLIENT, 8080).nop().nop().timestamp(1, 2).payload("GET / HTTP/1.1\r\n\r\n"),
      want: [[254, "1f90c6336402"], ["NOP", null], ["NOP", null], ["Timestamp", [1, 2]]],
    },
    {
      // An unknown kind with raw data, then padding with EOL zeros.
      build: ipv4({ src: CLIENT, dst: VIP }).tcp({ flags: "S" })
        .option(99, Uint8Array.of(0xde, 0xad, 0xbe)).mss(536),
      want: [[99, "deadbe"], ["MSS", 536], ["EOL", null]],
    },
    {
      // The full 40 bytes of option space.
      build: ipv4({ src: CLIENT, dst: VIP }).tcp({ flags: "S" })
        .mss(1400).sackPermitted().timestamp(7, 8).wscale(14).nop().option(200, new Uint8Array(18)),
      want: [["MSS", 1400], ["SAckOK", ""], ["Timestamp", [7, 8]], ["WScale", 14], ["NOP", null], [
        200,
        "00".repeat(18),
      ]],
    },
    {
      // A malformed length (MSS claiming 3 bytes): scapy keeps the data as hex.
      build: ipv4({ src: CLIENT, dst: VIP }).tcp({ flags: "S" })
        .option(TCPOPT.MSS, Uint8Array.of(5, 0xb4, 0), 5).nop(3),
      want: [["MSS", "05b400"], ["NOP", null], ["NOP", null], ["NOP", null]],
    },
  ];
  const packets = cases.map((c) => c.build.build());
  const decoded = await decode(packets);
  decoded.forEach((d, i) => {
    assert.equal(d.ipChecksumOk, true, `case ${i}`);
    assert.equal(d.l4ChecksumOk, true, `case ${i}`);
    assert.deepEqual(d.tcp?.options, cases[i].want, `case ${i}: ${d.summary}`);
    const area = tcpOptionArea(packets[i]);
    assert.equal(
      d.tcp?.optionsHex,
      Array.from(area, (b) => b.toString(16).padStart(2, "0")).join(""),
    );
    assert.equal(d.tcp?.dataofs, 5 + area.length / 4);
  });
  assert.equal(decoded[2].tcp?.payload, hex("GET / HTTP/1.1\r\n\r\n"));
  assert.equal(decoded[2].tcp?.flags, "PA");
  assert.equal(decoded[1].tcp?.flags, "A");
});

Deno.test("oracle: every flag combination reads back in scapy's notation", async () => {
  const combos = ["S", "SA", "A", "PA", "FA", "R", "RA", "FSRPAUECN", ""];
  const d = await decode(
    combos.map((f) => ipv4({ src: CLIENT, dst: VIP }).tcp({ flags: f }).build()),
  );
  assert.deepEqual(d.map((x) => x.tcp?.flags), combos);
});

Deno.test("oracle: deliberately bad checksums are caught, good ones are not", async () => {
  const tcp = () => ipv4({ src: CLIENT, dst: VIP }).tcp({ flags: "PA" }).payload("x");
  const udp = () => ipv4({ src: CLIENT, dst: VIP }).udp({ sport: 5353, dport: 53 }).payload("q");
  const icmp = () => ipv4({ src: CLIENT, dst: VIP }).icmp({ type: 8, rest: 0x12340001 });
  const builders = [tcp, udp, icmp];
  const packets = builders.flatMap((b) => [
    b().build(),
    b().badIpChecksum().build(),
    b().badL4Checksum().build(),
    b().badIpChecksum().badL4Checksum().build(),
  ]);
  const d = await decode(packets);
  const verdicts = d.map((x) => [x.ipChecksumOk, x.l4ChecksumOk]);
  const expected = [[true, true], [false, true], [true, false], [false, false]];
  assert.deepEqual(verdicts, [...expected, ...expected, ...expected]);
  assert.equal(ipv4ChecksumValid(packets[1]), false);
});

Deno.test("oracle: UDP fields, odd payloads and the no-checksum zero", async () => {
  const payload = new Uint8Array(333).map((_, i) => (i * 7) & 0xff);
  const d = await decode([
    ipv4({ src: CLIENT, dst: VIP }).udp({ sport: 1234, dport: 53 }).payload(payload).build(),
    ipv4({ src: CLIENT, dst: VIP }).udp({ sport: 1, dport: 2, checksum: 0 }).payload("z").build(),
  ]);
  assert.equal(d[0].udp?.sport, 1234);
  assert.equal(d[0].udp?.dport, 53);
  assert.equal(d[0].udp?.len, 8 + 333);
  assert.equal(d[0].udp?.payload.length, 333 * 2);
  assert.equal(d[0].l4ChecksumOk, true);
  assert.equal(d[1].udp?.chksum, 0);
  assert.equal(d[1].l4ChecksumOk, true);
});

Deno.test("oracle: ICMP errors quote a datagram that decodes the same way", async () => {
  const inner = ipv4({ src: "203.0.113.201", dst: "203.0.113.11", df: true })
    .tcp({ sport: 5001, dport: 80, seq: 0xdeadbeef, ack: 42, flags: "PA" })
    .payload(new Uint8Array(1400));
  const short = ipv4({ src: "203.0.113.1", dst: "203.0.113.201" })
    .icmp({ type: 3, code: 4, rest: 1300 }).embed(inner, 28).build();
  const long = ipv4({ src: "203.0.113.1", dst: "203.0.113.201" })
    .icmp({ type: 11, code: 0 }).embed(inner, 20 + 20 + 64).build();
  const echo = ipv4({ src: CLIENT, dst: VIP }).icmp({ type: 8, rest: (7 << 16) | 9 })
    .payload("ping").build();
  const [s, l, e] = await decode([short, long, echo]);

  assert.equal(s.l4ChecksumOk, true);
  assert.equal(s.icmp?.type, 3);
  assert.equal(s.icmp?.code, 4);
  assert.equal(s.icmp?.nexthopmtu, 1300);
  const se = s.icmp!.embedded!;
  assert.equal(se.ip?.src, "203.0.113.201");
  assert.equal(se.ip?.len, 20 + 20 + 1400);
  assert.equal(se.ipChecksumOk, true);
  assert.equal(se.truncated, true);
  assert.equal(se.l4ChecksumOk, null);
  assert.deepEqual(se.tcpPartial, { sport: 5001, dport: 80, seq: 0xdeadbeef });

  assert.equal(l.l4ChecksumOk, true);
  const le = l.icmp!.embedded!;
  assert.equal(le.tcp?.seq, 0xdeadbeef);
  assert.equal(le.tcp?.ack, 42);
  assert.equal(le.tcp?.flags, "PA");
  assert.equal(le.tcp?.payload, "00".repeat(64));
  assert.equal(le.l4ChecksumOk, null);

  assert.equal(e.icmp?.id, 7);
  assert.equal(e.icmp?.seq, 9);
  assert.equal(e.icmp?.payload, hex("ping"));
  assert.equal(e.l4ChecksumOk, true);
});

Deno.test("oracle: fragments, IP options and undecodable input", async () => {
  const d = await decode([
    ipv4({ src: CLIENT, dst: VIP, mf: true }).tcp().payload("abc").build(),
    ipv4({ src: CLIENT, dst: VIP, fragOffset: 185 }).rawProto(6).payload("tail").build(),
    // Router alert option (RFC 2113), 4 bytes.
    ipv4({ src: CLIENT, dst: VIP, options: Uint8Array.of(0x94, 4, 0, 0) }).udp().build(),
    Uint8Array.of(0x45, 0),
  ]);
  assert.equal(d[0].ip?.flags, "MF");
  assert.equal(d[0].tcp?.sport, 40000);
  assert.equal(d[0].l4ChecksumOk, null, "a fragment's checksum cannot be judged");
  assert.equal(d[1].ip?.frag, 185);
  assert.equal(d[1].payload, hex("tail"));
  assert.equal(d[2].ip?.ihl, 6);
  assert.equal(d[2].ip?.optionsHex, "94040000");
  assert.equal(d[2].ipChecksumOk, true);
  assert.equal(d[2].l4ChecksumOk, true);
  assert.match(d[3].error ?? "", /shorter than an IPv4 header/);
});

Deno.test("oracle: random packets all carry checksums scapy agrees with", async () => {
  // A fixed-seed generator keeps failures reproducible.
  let state = 0x9e3779b9;
  const rnd = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const addr = () => `${1 + rnd(223)}.${rnd(256)}.${rnd(256)}.${1 + rnd(254)}`;
  const packets: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const payload = new Uint8Array(rnd(1500)).map(() => rnd(256));
    const b = ipv4({ src: addr(), dst: addr(), id: rnd(65536), ttl: 1 + rnd(255) });
    if (i % 3 === 0) {
      b.tcp({ sport: rnd(65536), dport: rnd(65536), seq: rnd(2 ** 32), ack: rnd(2 ** 32) });
      if (rnd(2)) b.mss(rnd(65536));
      if (rnd(2)) b.timestamp(rnd(2 ** 32), rnd(2 ** 32));
    } else if (i % 3 === 1) b.udp({ sport: rnd(65536), dport: rnd(65536) });
    else b.icmp({ type: 8, rest: rnd(2 ** 32) });
    packets.push(b.payload(payload).build());
  }
  const d = await decode(packets);
  d.forEach((x, i) => {
    assert.equal(x.ipChecksumOk, true, `packet ${i}`);
    assert.equal(x.l4ChecksumOk, true, `packet ${i}: ${x.summary}`);
    assert.equal(x.ip?.src, ipv4Src(packets[i]));
    assert.equal(x.ip?.dst, ipv4Dst(packets[i]));
  });
});

Deno.test("readers agree with the builder", () => {
  const pkt = ipv4({ src: CLIENT, dst: VIP }).tcp({
    sport: 1,
    dport: 2,
    seq: 0xffffffff,
    ack: 5,
    flags: "FA",
  }).nop().nop().payload("data").build();
  assert.equal(ipv4Src(pkt), CLIENT);
  assert.equal(ipv4Dst(pkt), VIP);
  assert.equal(l4Sport(pkt), 1);
  assert.equal(l4Dport(pkt), 2);
  assert.equal(tcpSeq(pkt), 0xffffffff);
  assert.equal(tcpAck(pkt), 5);
  assert.equal(tcpFlags(pkt), "FA");
  assert.deepEqual(tcpOptionArea(pkt), Uint8Array.of(1, 1, 0, 0));
  assert.deepEqual(tcpPayload(pkt), new TextEncoder().encode("data"));
  assert.throws(() => ipv4({ src: CLIENT, dst: VIP }).udp().mss(1).build(), /not TCP/);
  assert.throws(() => ipv4({ src: "1.2.3", dst: VIP }).build(), /not an IPv4 address/);
  assert.throws(
    () => ipv4({ src: CLIENT, dst: VIP }).tcp().option(200, new Uint8Array(40)).build(),
    /max 40/,
  );
});
