/**
 * The engine's half of the kernel fast path (`offload.ts`), on the rows of
 * testkit/engine_rows/offload.ts: which sessions may go to the kernel, what the kernel is
 * told, and what becomes of a session while the kernel holds it and once its entry is gone.
 */
import assert from "node:assert/strict";
import {
  OFFLOAD_CLIENT_ISN,
  OFFLOAD_FULLNAT,
  OFFLOAD_FULLNAT_V6,
  OFFLOAD_NAT,
} from "../../testkit/engine_rows/offload.ts";
import { SYN_PROXY_V4 } from "../../testkit/engine_rows/syn_proxy.ts";
import { DR_CLIENT_STATES } from "../../testkit/engine_rows/dr_mode.ts";
import { UDP_FULLNAT } from "../../testkit/engine_rows/udp.ts";
import { TUNNEL_IPV4 } from "../../testkit/engine_rows/tunnel.ts";
import { EXPIRY_TIMEOUTS } from "../../testkit/engine_rows/expiry.ts";
import {
  C,
  engineTest,
  firstIsn,
  type Fixture,
  LIP,
  type Row,
  RS,
  tcp,
  VIP,
} from "../../testkit/engine_fixture.ts";
import { Verdict } from "../nfqueue/handler.ts";
import {
  collectOffloadCandidates,
  markOffloaded,
  offloadFailed,
  offloadGone,
  offloadKey,
  offloadMark,
  offloadRefusal,
  offloadRequest,
} from "./offload.ts";
import { SessionFlag } from "./session_table.ts";

const candidates = (fx: Fixture, minBytes = 0) => {
  const out = new Int32Array(8);
  return [...out.subarray(0, collectOffloadCandidates(fx.engine, out, minBytes, 1 << 20))];
};

const bytes = (...b: number[]) => Uint8Array.from(b);

/** The client's next 10 bytes and the server's answer, in the session of OFFLOAD_FULLNAT. */
function laterRows(ms: number): Row[] {
  const D = (firstIsn(ms) - OFFLOAD_CLIENT_ISN) >>> 0;
  return [
    {
      what: "10 more client bytes",
      input: tcp(C, VIP, 40000, 80, "PA", 1101, 9006).payload(new Uint8Array(10)),
      verdict: Verdict.Rewritten,
    },
    {
      what: "RS data acking them",
      input: tcp(RS, LIP, 8080, 5000, "PA", 9006, (1111 + D) >>> 0).payload("world"),
      verdict: Verdict.Rewritten,
    },
  ];
}

engineTest("offload: a FULLNAT session is a candidate once its real server sent data", (run) => {
  const sc = OFFLOAD_FULLNAT;
  const fx = run.scenario(sc, {});
  const rows = sc.rows(fx.clock.ms);
  // Before the server's data: not yet (TOA may still be due).
  const early = run.scenario({ ...sc, rows: () => rows.slice(0, 4) });
  assert.deepEqual(candidates(early), []);
  assert.equal(offloadRefusal(early.engine, 0, 0), "real server has sent no data (TOA pending)");
  assert.deepEqual(candidates(fx), [0]);
  const D = (firstIsn(fx.clock.ms) - OFFLOAD_CLIENT_ISN) >>> 0;
  assert.deepEqual(offloadRequest(fx.engine, 0, 3), {
    family: 4,
    proto: "tcp",
    client: { addr: bytes(198, 51, 100, 2), port: 40000 },
    vip: { addr: bytes(198, 51, 100, 10), port: 80 },
    rs: { addr: bytes(203, 0, 113, 11), port: 8080 },
    local: { addr: bytes(203, 0, 113, 201), port: 5000 },
    seqDeltaClientToRs: D,
    clientIsnPos: OFFLOAD_CLIENT_ISN,
    wscaleClient: 7,
    wscaleRs: 9,
    timeoutSec: 90,
    mark: 0x83000000,
    sessionId: 0,
  });
  assert.equal(offloadMark(63, 0xffffff), 0xbfffffff);
});

engineTest("offload: the byte threshold counts both directions", (run) => {
  const fx = run.scenario(OFFLOAD_FULLNAT);
  // 100 client bytes acknowledged, 5 server bytes sent.
  assert.deepEqual(candidates(fx, 106), []);
  assert.equal(offloadRefusal(fx.engine, 0, 106), "below the byte threshold");
  assert.deepEqual(candidates(fx, 105), [0]);
  run.rows(fx, laterRows(fx.clock.ms));
  assert.deepEqual(candidates(fx, 120), [0]);
});

engineTest("offload: NAT sessions carry no sequence delta; IPv6 addresses are 16 bytes", (run) => {
  const nat = run.scenario(OFFLOAD_NAT);
  assert.deepEqual(candidates(nat), [0]);
  const r = offloadRequest(nat.engine, 0, 0);
  assert.deepEqual([r.seqDeltaClientToRs, r.wscaleClient, r.wscaleRs], [0, 2, -1]);
  assert.deepEqual(r.local, { addr: bytes(198, 51, 100, 2), port: 40000 });
  assert.deepEqual(r.rs, { addr: bytes(203, 0, 113, 11), port: 80 });
  const v6 = run.scenario(OFFLOAD_FULLNAT_V6);
  assert.deepEqual(candidates(v6), [0]);
  const r6 = offloadRequest(v6.engine, 0, 1);
  assert.equal(r6.family, 6);
  assert.deepEqual(
    r6.client.addr,
    bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2),
  );
  assert.deepEqual(r6.local.addr.subarray(12), bytes(0, 0, 0x02, 0x01));
  assert.deepEqual([r6.wscaleClient, r6.wscaleRs], [-1, -1]);
});

engineTest(
  "offload: SYN proxy, DR, TUNNEL, UDP and unanswered sessions are never candidates",
  (run) => {
    const proxy = run.scenario(SYN_PROXY_V4);
    assert.deepEqual(candidates(proxy), []);
    const proxied = [...Array(proxy.engine.table.highWater).keys()].filter((id) =>
      proxy.engine.table.live(id)
    );
    assert.ok(proxied.length > 0);
    for (const id of proxied) {
      assert.match(offloadRefusal(proxy.engine, id, 0)!, /SYN proxy|not ESTABLISHED/);
    }
    for (const sc of [DR_CLIENT_STATES, TUNNEL_IPV4, UDP_FULLNAT, EXPIRY_TIMEOUTS]) {
      const fx = run.scenario(sc);
      assert.deepEqual(candidates(fx), [], sc.what);
    }
    const udp = run.scenario(UDP_FULLNAT);
    assert.equal(offloadRefusal(udp.engine, 0, 0), "not TCP");
  },
);

engineTest("offload: an offloaded session outlives its idle timeout and keeps its port", (run) => {
  const fx = run.scenario(OFFLOAD_FULLNAT);
  const { engine, ctl, clock } = fx;
  markOffloaded(engine, 0);
  assert.equal(engine.counters.offloaded, 1);
  assert.deepEqual(candidates(fx), [], "offloaded once");
  assert.equal(offloadRefusal(engine, 0, 0), "already offloaded");
  clock.ms += 10_000_000;
  assert.equal(engine.expire(), 0);
  assert.equal(engine.table.size, 1);
  // Another client port gets the next local port: 5000 is still the kernel's.
  run.rows(fx, [
    { what: "SYN", input: tcp(C, VIP, 40001, 80, "S", 1), verdict: Verdict.Rewritten },
  ]);
  assert.deepEqual(ctl.listConnections().map((c) => c.local.port).sort(), [5000, 5001]);
});

engineTest("offload: a packet that comes back to the queue is handled exactly as before", (run) => {
  const ref = run.scenario(OFFLOAD_FULLNAT);
  const fx = run.scenario(OFFLOAD_FULLNAT);
  markOffloaded(fx.engine, 0);
  const later = laterRows(fx.clock.ms);
  const before = run.written.length;
  run.rows(ref, later);
  const expected = run.written.slice(before);
  const mark = run.written.length;
  run.rows(fx, later);
  assert.deepEqual(run.written.slice(mark), expected);
  assert.equal(fx.engine.counters.offloadFallback, 2);
  assert.equal(ref.engine.counters.offloadFallback, 0);
  assert.ok((fx.engine.table.flags[0] & SessionFlag.OFFLOADED) !== 0, "still the kernel's");
});

engineTest("offload: the kernel's entry gone ends the session and adds its counts", (run) => {
  const fx = run.scenario(OFFLOAD_FULLNAT);
  const { engine, ctl } = fx;
  markOffloaded(engine, 0);
  const key = offloadKey(engine, 0, 0);
  const before = ctl.listServices()[0].stats;
  assert.equal(
    offloadGone(engine, key, { inPackets: 10, inBytes: 1000, outPackets: 20, outBytes: 30000 }),
    "ended",
  );
  const svc = ctl.listServices()[0];
  assert.deepEqual(
    [svc.stats.inPackets, svc.stats.inBytes, svc.stats.outPackets, svc.stats.outBytes],
    [before.inPackets + 10, before.inBytes + 1000, before.outPackets + 20, before.outBytes + 30000],
  );
  assert.equal(svc.realServers[0].stats.outBytes, before.outBytes + 30000);
  assert.equal(engine.table.size, 0);
  assert.equal(svc.realServers[0].activeConns, 0);
  assert.equal(svc.localAddresses[0].conns, 0);
  assert.deepEqual(engine.offloadWithdrawn, [], "nothing to delete: the kernel's entry is gone");
  assert.equal(engine.counters.offloadGone, 1);
  // Reported twice (an event and a dump): the second names nothing.
  const zero = { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0 };
  assert.equal(offloadGone(engine, key, zero), "stale");
  assert.equal(engine.counters.offloadGoneStale, 1);
  // The tuple is free again: the same client port opens a new session.
  run.rows(fx, [
    { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 5), verdict: Verdict.Rewritten },
  ]);
  assert.equal(engine.table.size, 1);
  assert.equal(ctl.listServices()[0].localAddresses[0].conns, 1);
});

engineTest("offload: a session whose packets fell back carries on when the entry goes", (run) => {
  const sent: Uint8Array[] = [];
  const fx = run.scenario(OFFLOAD_FULLNAT, { emit: (b, o, n) => sent.push(b.slice(o, o + n)) });
  const { engine, clock } = fx;
  markOffloaded(engine, 0);
  const later = laterRows(clock.ms);
  run.rows(fx, [later[0]]);
  const zero = { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0 };
  assert.equal(offloadGone(engine, offloadKey(engine, 0, 0), zero), "carried");
  assert.equal(engine.table.size, 1);
  assert.equal(engine.table.flags[0] & SessionFlag.OFFLOADED, 0);
  assert.equal(offloadRefusal(engine, 0, 0), "came back from the kernel", "not offered again");
  run.rows(fx, [later[1]]);
  // Back under the idle timer: it expires, reset at both ends from the numbers seen since.
  clock.ms += 90_001;
  assert.equal(engine.expire(), 1);
  assert.equal(sent.length, 2);
  run.keep(...sent);
});

engineTest("offload: ending an offloaded session queues its kernel entry for deletion", (run) => {
  const sent: Uint8Array[] = [];
  const fx = run.scenario(OFFLOAD_FULLNAT, { emit: (b, o, n) => sent.push(b.slice(o, o + n)) });
  const { engine } = fx;
  markOffloaded(engine, 0);
  engine.offloadWorker = 2;
  const key = offloadKey(engine, 0, 2);
  // A drain's deadline: the server's sessions end; no resets from numbers gone stale.
  const rs = engine.registry.servers.find((s) => s !== undefined)!;
  assert.deepEqual(engine.endServerSessions(rs), { ended: 1, reset: 0 });
  assert.deepEqual(sent, []);
  assert.equal(engine.table.size, 0);
  assert.deepEqual(engine.offloadWithdrawn, [key]);
  assert.equal(engine.counters.offloadWithdrawn, 1);
});

engineTest("offload: a refused offload leaves the session to the engine, counted", (run) => {
  const fx = run.scenario(OFFLOAD_FULLNAT);
  const { engine } = fx;
  offloadFailed(engine, "clash");
  offloadFailed(engine, "full");
  offloadFailed(engine, "error");
  const c = engine.counters;
  assert.deepEqual([c.offloadClash, c.offloadFull, c.offloadFailed, c.offloaded], [1, 1, 1, 0]);
  assert.deepEqual(candidates(fx), [0], "tried again next time");
});

engineTest("offload: listings show an offloaded session, its timeout the state's", (run) => {
  const fx = run.scenario(OFFLOAD_FULLNAT);
  const { engine, ctl, clock } = fx;
  assert.equal(ctl.listConnections()[0].offloaded, undefined);
  markOffloaded(engine, 0);
  clock.ms += 500_000;
  const [c] = ctl.listConnections();
  assert.deepEqual([c.state, c.offloaded, c.expiresInMs], ["ESTABLISHED", true, 90_000]);
  // A reused row (the paged JSON listing) loses the mark on the next, not offloaded, session.
  run.rows(fx, [
    { what: "SYN", input: tcp(C, VIP, 40001, 80, "S", 1), verdict: Verdict.Rewritten },
  ]);
  const seen: (true | undefined)[] = [];
  ctl.listConnectionsPage(0, 10, (row) => seen.push(row.offloaded));
  assert.deepEqual(seen, [true, undefined]);
});

engineTest(
  "offload: packets only in flight at the handover do not keep a closed session",
  (run) => {
    const fx = run.scenario(OFFLOAD_FULLNAT);
    const { engine, clock } = fx;
    markOffloaded(engine, 0);
    run.rows(fx, [laterRows(clock.ms)[0]]);
    assert.equal(engine.counters.offloadFallback, 1);
    // The kernel carried the rest, saw the close, and its entry went after TIME_WAIT.
    clock.ms += 8_000;
    const zero = { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0 };
    assert.equal(offloadGone(engine, offloadKey(engine, 0, 0), zero), "ended");
    assert.equal(engine.table.size, 0);
  },
);
