/**
 * FULLNAT TCP fidelity on crafted packets (issue 3): TOA placement and its skips, removal of a
 * client's own TOA, per-service switches, sequence mappings across retransmitted and reused
 * SYNs, and the resets sent when an ESTABLISHED session expires. Expected bytes come from the
 * independent packet builder; scapy re-checks every checksum at the end.
 */
import assert from "node:assert/strict";
import { ipv4 } from "../../testkit/packet_builder.ts";
import { TOA_SPOOF } from "../../testkit/engine_rows/toa.ts";
import {
  C,
  engineTest,
  firstIsn,
  fullnatService,
  LIP,
  RS,
  setup,
  tcp,
  VIP,
} from "../../testkit/engine_fixture.ts";
import { keyedHash3, secureIsnV4 } from "./isn.ts";
import { Verdict } from "../nfqueue/handler.ts";

engineTest("Engine.handle() blanks a client's own TOA and inserts the real one", (run) => {
  const sc = TOA_SPOOF;
  const { engine, ctl, clock } = setup(sc.options);
  sc.configure(ctl);
  run.rows(engine, sc.rows(clock.ms));
  assert.equal(engine.counters.toaSpoofRemoved, 1);
  assert.equal(engine.counters.toaInserted, 1);
});

engineTest(
  "Engine.handle() skips TOA when options are full or the MTU would be exceeded",
  (run) => {
    const { engine, ctl, clock } = setup({ mtu: 1500 });
    fullnatService(ctl);
    const D = (firstIsn(clock.ms) - 5) >>> 0;
    const body = "x".repeat(1500 - 40 - 12);
    run.rows(engine, [
      {
        what: "SYN with 36 bytes of options: no room for 8 more",
        input: tcp(C, VIP, 40000, 80, "S", 5).mss(1460).sackPermitted().timestamp(1, 0).nop()
          .wscale(7).nop(16),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", (5 + D) >>> 0).mss(1460).sackPermitted().nop(10)
          .nop().wscale(7).nop(16),
      },
      {
        what: "data already at the MTU, fragmentable: forwarded without TOA",
        input: tcp(C, VIP, 40000, 80, "PA", 6, 1).ip({ df: false }).timestamp(2, 3).payload(body),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "PA", (6 + D) >>> 0, 1).ip({ df: false }).timestamp(2, 3)
          .payload(body),
      },
      {
        what: "data at the MTU with DF: the client is told the MTU minus the TOA",
        input: tcp(C, VIP, 40000, 80, "PA", 6, 1).timestamp(2, 3).payload(body),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0 }).icmp({ type: 3, code: 4, rest: 1492 })
          .embed(tcp(C, VIP, 40000, 80, "PA", 6, 1).timestamp(2, 3).payload(body), 28),
      },
    ]);
    const c = engine.counters;
    assert.deepEqual(
      [c.toaInserted, c.toaNoOptionSpace, c.toaTooBig, c.toaFragNeeded],
      [0, 1, 1, 1],
    );
  },
);

engineTest(
  "Engine.handle() leaves TOA, timestamps and MSS alone on a service that turns them off",
  (run) => {
    const { engine, ctl, clock } = setup();
    const key = fullnatService(ctl);
    ctl.editService(key, { toa: false, stripTimestamps: false, clampMss: false });
    const D = (firstIsn(clock.ms) - 5) >>> 0;
    run.rows(engine, [
      {
        what: "SYN keeps its timestamp and gets no TOA",
        input: tcp(C, VIP, 40000, 80, "S", 5).mss(1460).timestamp(9, 0),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", (5 + D) >>> 0).mss(1460).timestamp(9, 0),
      },
      {
        what: "SYN-ACK keeps its MSS",
        input: tcp(RS, LIP, 8080, 5000, "SA", 100, (6 + D) >>> 0).mss(1460),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 100, 6).mss(1460),
      },
    ]);
    const c = engine.counters;
    assert.deepEqual([c.toaInserted, c.timestampsStripped, c.mssClamped], [0, 0, 0]);
    assert.deepEqual(
      [ctl.listServices()[0].toa, ctl.listServices()[0].stripTimestamps],
      [false, false],
    );
  },
);

engineTest(
  "Engine.handle() keeps the mapping for a retransmitted SYN and renews it for a new ISN",
  (run) => {
    const { engine, ctl, clock } = setup();
    const key = fullnatService(ctl);
    ctl.editService(key, { toa: false });
    const first = firstIsn(clock.ms);
    const t0 = clock.ms;
    clock.ms += 1000;
    run.rows(engine, [
      {
        what: "SYN",
        input: tcp(C, VIP, 40000, 80, "S", 100),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", firstIsn(t0 + 1000)),
      },
    ]);
    clock.ms += 1000;
    run.rows(engine, [
      {
        what: "the same SYN again a second later: same ISN",
        input: tcp(C, VIP, 40000, 80, "S", 100),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", firstIsn(t0 + 1000)),
      },
      {
        what: "a SYN with a new ISN on the tuple still in SYN_RECV: a fresh, later ISN",
        input: tcp(C, VIP, 40000, 80, "S", 5000),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", firstIsn(t0 + 2000)),
      },
      {
        what: "the RS answers the new mapping",
        input: tcp(RS, LIP, 8080, 5000, "SA", 1, (firstIsn(t0 + 2000) + 1) >>> 0),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 1, 5001),
      },
    ]);
    // Two seconds of a 4-microsecond clock apart.
    assert.equal((firstIsn(t0 + 2000) - first) >>> 0, 500_000);
    assert.deepEqual([engine.counters.synRetransmits, engine.counters.seqMappingsRenewed], [1, 1]);
  },
);

engineTest("Engine.handle() does not translate sequence numbers in NAT mode", (run) => {
  const { engine, ctl } = setup();
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "nat" });
  run.rows(engine, [
    {
      what: "SYN keeps seq, timestamp and gets no TOA (the RS sees the client itself)",
      input: tcp(C, VIP, 40000, 80, "S", 5).mss(1460).timestamp(1, 0),
      verdict: Verdict.Rewritten,
      output: tcp(C, RS, 40000, 80, "S", 5).mss(1460).timestamp(1, 0),
    },
    {
      what: "SYN-ACK keeps ack and MSS",
      input: tcp(RS, C, 80, 40000, "SA", 9, 6).mss(1460),
      verdict: Verdict.Rewritten,
      output: tcp(VIP, C, 80, 40000, "SA", 9, 6).mss(1460),
    },
  ]);
});

engineTest(
  "Engine.expire() resets both ends of an ESTABLISHED session with the RS's numbers",
  (run) => {
    const sent: Uint8Array[] = [];
    const { engine, ctl, clock } = setup({ emit: (b, o, len) => sent.push(b.slice(o, o + len)) });
    fullnatService(ctl);
    ctl.setTimeouts({ tcpEstablished: 10 });
    const D = (firstIsn(clock.ms) - 1000) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    run.rows(engine, [
      { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 1000), verdict: Verdict.Rewritten },
      {
        what: "SYN-ACK",
        input: tcp(RS, LIP, 8080, 5000, "SA", 9000, up(1001)),
        verdict: Verdict.Rewritten,
      },
      { what: "ACK", input: tcp(C, VIP, 40000, 80, "A", 1001, 9001), verdict: Verdict.Rewritten },
      {
        what: "RS data, 5 bytes, acking 10 client bytes",
        input: tcp(RS, LIP, 8080, 5000, "PA", 9001, up(1011)).payload("hello"),
        verdict: Verdict.Rewritten,
      },
    ]);
    assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
    clock.ms += 10_001;
    assert.equal(engine.expire(), 1);
    const rst = (src: string, dst: string, sport: number, dport: number, seq: number) =>
      ipv4({ src, dst, ttl: 64, id: 0, df: true })
        .tcp({ sport, dport, flags: "R", seq, ack: 0, window: 0 }).build();
    assert.deepEqual(sent, [
      rst(LIP, RS, 5000, 8080, up(1011)), // the RS at the last ack it sent, in its space
      rst(VIP, C, 80, 40000, 9006), // the client at the end of the RS's data
    ]);
    assert.equal(engine.counters.expiryResets, 1);
    run.keep(...sent);
  },
);

Deno.test("Engine.expire() sends nothing when resets are off or the session never got going", () => {
  const sent: Uint8Array[] = [];
  const { engine, ctl, clock } = setup({
    emit: (b, o, len) => sent.push(b.slice(o, o + len)),
    resetOnExpiry: false,
  });
  fullnatService(ctl);
  for (const [flags, seq] of [["S", 1], ["A", 2]] as const) {
    const p = tcp(C, VIP, 40000, 80, flags, seq, 1).build();
    const buf = new Uint8Array(p.length + 8);
    buf.set(p);
    engine.handle(buf, 0, p.length, buf.length);
  }
  assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
  clock.ms += 1_000_000;
  assert.equal(engine.expire(), 1);
  assert.deepEqual(sent, []);
  engine.resetOnExpiry = true;
  for (const [flags, seq] of [["S", 1], ["A", 2]] as const) {
    const p = tcp(C, VIP, 40000, 80, flags, seq, 1).build();
    const buf = new Uint8Array(p.length + 8);
    buf.set(p);
    engine.handle(buf, 0, p.length, buf.length);
  }
  clock.ms += 1_000_000;
  assert.equal(engine.expire(), 1);
  assert.deepEqual(sent, [], "no RS segment seen: nothing to base the resets on");
  assert.equal(engine.counters.expiryResetsSkipped, 1);
});

Deno.test("secureIsnV4() depends on key, tuple and a 4-microsecond clock", () => {
  const k = Uint32Array.of(1, 2);
  const base = secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 80, 0);
  assert.equal(secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 80, 0), base, "deterministic");
  assert.equal((secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 80, 1) - base) >>> 0, 250);
  const variants = new Set([
    base,
    secureIsnV4(Uint32Array.of(1, 3), 0xcb0071c9, 5000, 0xcb00710b, 80, 0),
    secureIsnV4(k, 0xcb0071ca, 5000, 0xcb00710b, 80, 0),
    secureIsnV4(k, 0xcb0071c9, 5001, 0xcb00710b, 80, 0),
    secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710c, 80, 0),
    secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 81, 0),
  ]);
  assert.equal(variants.size, 6, "every input changes the ISN");
  // One flipped input bit flips about half the output bits.
  let flipped = 0;
  for (let bit = 0; bit < 32; bit++) {
    const x = keyedHash3(7, 9, 1 << bit, 0, 0) ^ keyedHash3(7, 9, 0, 0, 0);
    for (let v = x >>> 0; v; v &= v - 1) flipped++;
  }
  assert.ok(flipped / 32 > 12 && flipped / 32 < 20, `avalanche ${flipped / 32} bits`);
});

Deno.test("Engine.handle() lets a GSO super-packet take its TOA past the MTU", () => {
  const { engine, ctl, clock } = setup();
  fullnatService(ctl);
  const D = (firstIsn(clock.ms) - 5) >>> 0;
  const syn = tcp(C, VIP, 40000, 80, "S", 5).build();
  engine.handle(syn.slice(), 0, syn.length, syn.length + 64);
  const body = "g".repeat(4000);
  const pkt = tcp(C, VIP, 40000, 80, "PA", 6, 1).payload(body).build();
  const buf = new Uint8Array(pkt.length + 64);
  buf.set(pkt);
  assert.equal(engine.handle(buf, 0, pkt.length, buf.length, 2), Verdict.Rewritten);
  const want = tcp(LIP, RS, 5000, 8080, "PA", (6 + D) >>> 0, 1).toa(C, 40000).payload(body)
    .build();
  assert.deepEqual(buf.slice(0, engine.outLength), want);
  assert.equal(engine.counters.toaFragNeeded, 0);
});
