/**
 * The SYN proxy (issue 16.1) on the rows of testkit/engine_rows/syn_proxy.ts, what the engine
 * emits on its own (the held ACK, the resets on expiry), and the refusals: forged cookies,
 * a spoofed SYN flood that leaves no state.
 */
import assert from "node:assert/strict";
import {
  CLIENT_ISN,
  expectedCookie,
  RS_ISN,
  RS_TSVAL,
  SYN_PROXY_V4,
  SYN_PROXY_V6,
} from "../../testkit/engine_rows/syn_proxy.ts";
import {
  C,
  C6,
  CLOCK_START,
  engineTest,
  firstIsn,
  type Fixture,
  fullnatService,
  hex,
  isn6,
  LIP,
  LIP6,
  RS,
  RS6,
  service6,
  setup,
  tcp,
  tcp6,
  VIP,
  VIP6,
} from "../../testkit/engine_fixture.ts";
import { ipv4, ipv6 } from "../../testkit/packet_builder.ts";
import { Verdict } from "../nfqueue/handler.ts";

/** A sink that keeps copies of what the engine emits. */
function sink(): { sent: Uint8Array[]; emit: (b: Uint8Array, o: number, n: number) => void } {
  const sent: Uint8Array[] = [];
  return { sent, emit: (b, o, n) => void sent.push(b.slice(o, o + n)) };
}

engineTest("SYN proxy over IPv4: cookie handshake, held packets, both deltas", (run) => {
  const s = sink();
  const { engine } = run.scenario(SYN_PROXY_V4, { emit: s.emit });
  run.keep(...s.sent);
  assert.equal(s.sent.length, 2, "the held ACK and the held data went to the server");
  const c = engine.counters;
  assert.deepEqual(
    [c.synProxyCookiesSent, c.synProxyCookieValid, c.synProxyServerAnswered, c.synProxyHeld],
    [1, 1, 1, 1],
  );
  assert.equal(c.synProxyReplayed, 2);
});

engineTest("SYN proxy over IPv6", (run) => {
  const s = sink();
  const { engine } = run.scenario(SYN_PROXY_V6, { emit: s.emit });
  run.keep(...s.sent);
  assert.equal(s.sent.length, 1);
  assert.equal(engine.counters.synProxyServerAnswered, 1);
  // The held cookie ACK, to the server, its hop limit one less than the client's 61.
  const isn = isn6(CLOCK_START);
  assert.equal(
    hex(s.sent[0]),
    hex(
      ipv6({ src: LIP6, dst: RS6, hopLimit: 60 })
        .tcp({
          sport: 5000,
          dport: 8080,
          flags: "A",
          seq: (isn + 1) >>> 0,
          ack: RS_ISN + 1,
          window: 29200,
        })
        .toa6(C6, 40000).build(),
    ),
  );
});

engineTest(
  "SYN proxy: a held packet whose TTL or hop limit is spent is not sent on; a bare ACK goes instead",
  (run) => {
    for (const v6 of [false, true]) {
      const s = sink();
      const fx = setup({ emit: s.emit });
      const key = v6 ? service6(fx.ctl) : fullnatService(fx.ctl);
      fx.ctl.editService(key, { synProxy: true, toa: false });
      const isn = v6 ? isn6(CLOCK_START) : firstIsn(CLOCK_START);
      const cookie = expectedCookie(v6, 40000, CLIENT_ISN, 0);
      // The cookie ACK arrives with 1 hop left: the kernel forwards the SYN it becomes (and
      // answers the spent hop itself); the copy held for the server must not leave with 0.
      const ack = v6
        ? ipv6({ src: C6, dst: VIP6, hopLimit: 1 })
          .tcp({ sport: 40000, dport: 80, flags: "A", seq: 101, ack: (cookie + 1) >>> 0 })
        : ipv4({ src: C, dst: VIP, ttl: 1, id: 0x1234, df: true })
          .tcp({ sport: 40000, dport: 80, flags: "A", seq: 101, ack: (cookie + 1) >>> 0 });
      run.rows(fx, [
        { what: "cookie ACK with one hop left", input: ack, verdict: Verdict.Rewritten },
        {
          what: "the server's SYN-ACK: the spent ACK stays, a bare ACK goes",
          input: v6
            ? tcp6(RS6, LIP6, 8080, 5000, "SA", RS_ISN, (isn + 1) >>> 0)
            : tcp(RS, LIP, 8080, 5000, "SA", RS_ISN, (isn + 1) >>> 0),
          verdict: Verdict.Drop,
        },
      ]);
      const c = fx.engine.counters;
      assert.deepEqual(
        [c.synProxyHopLimitExceeded, c.synProxyReplayed, c.synProxyAcksSent],
        [1, 0, 1],
      );
      const bare = { sport: 5000, dport: 8080, flags: "A", seq: (isn + 1) >>> 0, ack: RS_ISN + 1 };
      assert.deepEqual(s.sent.map(hex), [
        hex(
          (v6
            ? ipv6({ src: LIP6, dst: RS6, hopLimit: 64 })
            : ipv4({ src: LIP, dst: RS, ttl: 64, id: 0, df: true }))
            .tcp({ ...bare, window: 1024 }).build(),
        ),
      ]);
      run.keep(...s.sent);
      assert.equal(fx.engine.proxyHold.count, 0, "the spent packet's slot is free");
    }
  },
);

engineTest("SYN proxy: the held ACK and data reach the server translated; expiry resets", (run) => {
  const s = sink();
  const { engine, clock } = run.scenario(SYN_PROXY_V4, { emit: s.emit });
  const isn = firstIsn(CLOCK_START);
  const up = (n: number) => (n - CLIENT_ISN + isn) >>> 0;
  const cookie = expectedCookie(false, 40000, CLIENT_ISN, 3);
  // Forwarded, so one hop less than the client's 61, as the kernel's forwarding leaves the
  // packets the queue lets through: the raw socket they leave by takes none.
  const held = (flags: string, ts: number) =>
    ipv4({ src: LIP, dst: RS, ttl: 60, id: 0x1234, df: true })
      .tcp({ sport: 5000, dport: 8080, flags, seq: up(101), ack: RS_ISN + 1, window: 29200 })
      .toa(C, 40000).nop(2).timestamp(ts, RS_TSVAL);
  assert.deepEqual(s.sent.map(hex), [
    hex(held("A", 556).build()),
    hex(held("PA", 557).payload("GET").build()),
  ]);
  // ESTABLISHED since the held ACK; idle past its 90 s: a RST to each end, the client's in
  // the cookie's sequence space (after the server's 8 bytes).
  clock.ms += 90_001;
  assert.equal(engine.expire(), 1);
  const rst = (src: string, dst: string, sport: number, dport: number, seq: number) =>
    ipv4({ src, dst, ttl: 64, id: 0, df: true })
      .tcp({ sport, dport, flags: "R", seq, ack: 0, window: 0 }).build();
  assert.deepEqual(s.sent.slice(2).map(hex), [
    hex(rst(LIP, RS, 5000, 8080, up(104))),
    hex(rst(VIP, C, 80, 40000, (cookie + 9) >>> 0)),
  ]);
  run.keep(...s.sent);
  assert.equal(engine.counters.expiryResets, 1);
  assert.equal(engine.proxyHold.count, 0, "no slot left held");
});

/** The RST the VIP answers a segment of port 40000 with no session and ack `ack` with. */
const resetAt = (ack: number) =>
  ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true })
    .tcp({ sport: 80, dport: 40000, flags: "R", seq: ack >>> 0, ack: 0, window: 0 });

engineTest(
  "SYN proxy: forged and stale cookies are answered as lost sessions; a SYN flood leaves no state",
  (run) => {
    const s = sink();
    const fx = setup({ emit: s.emit });
    const key = fullnatService(fx.ctl);
    fx.ctl.editService(key, { synProxy: true });
    const e = fx.engine;
    const cookie = expectedCookie(false, 40000, CLIENT_ISN, 3);
    // A thousand SYNs from spoofed sources: each answered, none makes a session.
    for (let i = 0; i < 1000; i++) {
      const src = `10.${(i >> 8) & 255}.${i & 255}.7`;
      const pkt = tcp(src, VIP, 1024 + i, 80, "S", i * 7919).mss(1460).build();
      const buf = new Uint8Array(pkt.length + 128);
      buf.set(pkt);
      assert.equal(e.handle(buf, 0, pkt.length, buf.length), Verdict.Rewritten);
    }
    assert.equal(e.table.size, 0);
    assert.equal(e.counters.synProxyCookiesSent, 1000);
    // With no session and no good cookie an ACK is what a lost session's client sends: a RST
    // at the sequence number it acknowledged (no-session policy reset, the default), as for a
    // service without the proxy; one RST per segment, never more bytes than came in.
    const rows = [
      {
        what: "an ACK with a cookie off by one: a RST, no session",
        input: tcp(C, VIP, 40000, 80, "A", 101, (cookie + 2) >>> 0),
        verdict: Verdict.Rewritten,
        output: resetAt(cookie + 2),
      },
      {
        what: "data of a session the balancer lost (a random ack): a RST",
        input: tcp(C, VIP, 40000, 80, "PA", 101, 0x12345678).payload("lost"),
        verdict: Verdict.Rewritten,
        output: resetAt(0x12345678),
      },
      {
        what: "the right cookie two minutes later: too old, a RST",
        before: (f: Fixture) => void (f.clock.ms += 2 * 60_000),
        input: tcp(C, VIP, 40000, 80, "A", 101, (cookie + 1) >>> 0),
        verdict: Verdict.Rewritten,
        output: resetAt(cookie + 1),
      },
      {
        what: "a RST with no session: never answered",
        input: tcp(C, VIP, 40000, 80, "RA", 101, 0x12345678),
        verdict: Verdict.Drop,
      },
      {
        what: "a SYN with a bad checksum: dropped, no cookie",
        input: tcp(C, VIP, 40001, 80, "S", 5).badL4Checksum(),
        verdict: Verdict.Drop,
      },
    ];
    run.rows(fx, rows);
    assert.equal(e.counters.synProxyCookieInvalid, 3);
    assert.equal(e.counters.noSessionResets, 3);
    assert.equal(e.counters.tcpNoSession, 1, "the RST");
    assert.equal(e.counters.badChecksum, 1);
    assert.equal(e.table.size, 0);
    assert.equal(s.sent.length, 0);
  },
);

engineTest("SYN proxy: with --lost-session drop a bad cookie is dropped unanswered", (run) => {
  const fx = setup({ noSessionPolicy: "drop" });
  const key = fullnatService(fx.ctl);
  fx.ctl.editService(key, { synProxy: true });
  const cookie = expectedCookie(false, 40000, CLIENT_ISN, 3);
  run.rows(fx, [
    {
      what: "an ACK with a cookie off by one: dropped",
      input: tcp(C, VIP, 40000, 80, "A", 101, (cookie + 2) >>> 0),
      verdict: Verdict.Drop,
    },
    {
      what: "the good cookie still opens the connection",
      input: tcp(C, VIP, 40000, 80, "A", 101, (cookie + 1) >>> 0),
      verdict: Verdict.Rewritten,
    },
  ]);
  const c = fx.engine.counters;
  assert.deepEqual([c.synProxyCookieInvalid, c.noSessionResets, c.synProxyCookieValid], [1, 0, 1]);
});

engineTest("SYN proxy: a server's RST resets the client; no held ACK means a bare one", (run) => {
  const s = sink();
  const fx = setup({ emit: s.emit });
  const key = fullnatService(fx.ctl);
  fx.ctl.editService(key, { synProxy: true, toa: false });
  const isn = firstIsn(CLOCK_START);
  const cookie = expectedCookie(false, 40000, CLIENT_ISN, 0);
  const cookie2 = expectedCookie(false, 40001, CLIENT_ISN, 0);
  const isn2 = firstIsn(CLOCK_START, 5001);
  // Fill the hold so the second connection's ACK finds no slot.
  for (let i = 0; i < 64; i++) {
    fx.engine.proxyHold.put(1000 + i % 8 + 8 * (i >> 3), new Uint8Array(60), 0, 60, 0);
  }
  run.rows(fx, [
    {
      what: "cookie ACK of connection 1 (no MSS in the SYN: 536)",
      input: tcp(C, VIP, 40000, 80, "A", 101, (cookie + 1) >>> 0),
      verdict: Verdict.Rewritten,
      output: ipv4({ src: LIP, dst: RS, ttl: 64, id: 0, df: true })
        .tcp({ sport: 5000, dport: 8080, flags: "S", seq: isn, ack: 0, window: 29200 }).mss(536),
    },
    {
      what: "the server refuses: a RST to the client at cookie + 1",
      input: tcp(RS, LIP, 8080, 5000, "RA", 0, (isn + 1) >>> 0),
      verdict: Verdict.Rewritten,
      output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true })
        .tcp({ sport: 80, dport: 40000, flags: "R", seq: (cookie + 1) >>> 0, ack: 0, window: 0 }),
    },
    {
      what: "cookie ACK of connection 2",
      input: tcp(C, VIP, 40001, 80, "A", 101, (cookie2 + 1) >>> 0),
      verdict: Verdict.Rewritten,
    },
    {
      what: "the server's SYN-ACK: a bare ACK to it, as nothing was held",
      input: tcp(RS, LIP, 8080, 5001, "SA", RS_ISN, (isn2 + 1) >>> 0),
      verdict: Verdict.Drop,
    },
  ]);
  const c = fx.engine.counters;
  assert.deepEqual([c.synProxyServerRefused, c.synProxyHoldFull, c.synProxyAcksSent], [1, 0, 1]);
  assert.deepEqual(s.sent.map(hex), [
    hex(
      ipv4({ src: LIP, dst: RS, ttl: 64, id: 0, df: true })
        .tcp({
          sport: 5001,
          dport: 8080,
          flags: "A",
          seq: (isn2 + 1) >>> 0,
          ack: RS_ISN + 1,
          window: 1024,
        })
        .build(),
    ),
  ]);
  run.keep(...s.sent);
  assert.equal(fx.engine.table.size, 1);
});

engineTest("SYN proxy: a new SYN on a proxied session's tuple ends it and gets a cookie", (run) => {
  const s = sink();
  const fx = run.scenario(SYN_PROXY_V4, { emit: s.emit });
  run.keep(...s.sent);
  assert.equal(fx.engine.table.size, 1);
  const cookie = expectedCookie(false, 40000, 900, 3);
  run.rows(fx, [{
    what: "the client's port used again for a new connection: a cookie SYN-ACK",
    input: tcp(C, VIP, 40000, 80, "S", 900).mss(1460),
    verdict: Verdict.Rewritten,
    output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true })
      .tcp({ sport: 80, dport: 40000, flags: "SA", seq: cookie, ack: 901, window: 65535 })
      .mss(1452),
  }]);
  assert.equal(fx.engine.table.size, 0);
  assert.equal(fx.engine.counters.synProxyReused, 1);
});
