/**
 * Resets on expiry of an offloaded session (`offload_expiry.ts`), on the rows of
 * testkit/engine_rows/offload.ts: the probe the engine sends the real server when the kernel's
 * entry ends by idle timeout, the two resets the answer's numbers give, byte by byte, and what
 * happens without an answer.
 */
import assert from "node:assert/strict";
import { OFFLOAD_FULLNAT, OFFLOAD_FULLNAT_V6 } from "../../testkit/engine_rows/offload.ts";
import {
  C,
  C6,
  engineTest,
  firstIsn,
  type Fixture,
  isn6,
  LIP,
  LIP6,
  RS,
  RS6,
  tcp,
  tcp6,
  VIP,
  VIP6,
} from "../../testkit/engine_fixture.ts";
import { ipv4, ipv6 } from "../../testkit/packet_builder.ts";
import { Verdict } from "../nfqueue/handler.ts";
import { markOffloaded, offloadGone, offloadKey, recallOffloaded } from "./offload.ts";
import { PROBE_WAIT_MS } from "./offload_expiry.ts";
import { Handshake, SessionFlag } from "./session_table.ts";

const ZERO = { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0 };
const BACK = 0x40000000;

/** A bare segment as the engine writes it (TTL 64, id 0, DF; no options). */
const seg = (
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: string,
  seq: number,
  ack: number,
  window: number,
) => ipv4({ src, dst, ttl: 64, id: 0, df: true }).tcp({ sport, dport, flags, seq, ack, window });

/** OFFLOAD_FULLNAT offloaded, with a sink that keeps what the engine emits. */
function offloaded(run: Parameters<Parameters<typeof engineTest>[1]>[0], resetOnExpiry = true) {
  const sent: Uint8Array[] = [];
  const fx = run.scenario(OFFLOAD_FULLNAT, {
    emit: (b, o, n) => sent.push(b.slice(o, o + n)),
    resetOnExpiry,
  });
  markOffloaded(fx.engine, 0);
  return { fx, sent, D: (firstIsn(fx.clock.ms) - 1000) >>> 0 };
}

const gone = (fx: Fixture, idle: boolean) =>
  offloadGone(fx.engine, offloadKey(fx.engine, 0, 0), ZERO, idle);

engineTest(
  "offload expiry: an idle expiry probes the real server; its answer resets both ends",
  (run) => {
    const { fx, sent, D } = offloaded(run);
    const { engine, ctl, clock } = fx;
    assert.equal(gone(fx, true), "probing");
    // The probe: an ACK from the local endpoint, seq and ack 2^30 behind the last seen.
    assert.deepEqual(sent, [
      seg(LIP, RS, 5000, 8080, "A", (1101 + D - BACK) >>> 0, (9006 - BACK) >>> 0, 0xffff).build(),
    ]);
    assert.equal(engine.counters.offloadExpiryProbes, 1);
    assert.equal(engine.table.size, 1, "kept for the answer");
    assert.equal(ctl.listConnections()[0].offloaded, true);
    assert.equal(gone(fx, true), "stale", "a second report of the entry changes nothing");
    clock.ms += PROBE_WAIT_MS - 1;
    assert.equal(engine.expire(), 0);
    // The kernel carried 2000 more bytes up and 5000 down since the engine last looked. The
    // server's duplicate ACK: its SND.NXT and RCV.NXT; it goes to neither end.
    run.rows(fx, [{
      what: "the real server's duplicate ACK",
      input: tcp(RS, LIP, 8080, 5000, "A", 14006, (3101 + D) >>> 0),
      verdict: Verdict.Drop,
    }]);
    assert.deepEqual(sent.slice(1), [
      seg(LIP, RS, 5000, 8080, "R", (3101 + D) >>> 0, 0, 0).build(),
      seg(VIP, C, 80, 40000, "R", 14006, 0, 0).build(),
    ]);
    const c = engine.counters;
    assert.deepEqual(
      [c.offloadExpiryResets, c.offloadExpiryNoAnswer, c.offloadFallback, c.sessionsExpired],
      [1, 0, 0, 1],
    );
    assert.equal(engine.table.size, 0);
    assert.deepEqual(engine.offloadWithdrawn, [], "the kernel's entry is gone already");
    const svc = ctl.listServices()[0];
    assert.deepEqual([svc.realServers[0].activeConns, svc.localAddresses[0].conns], [0, 0]);
    run.keep(...sent);
  },
);

engineTest("offload expiry: no answer in time ends the session without resets", (run) => {
  const { fx, sent } = offloaded(run);
  const { engine, ctl, clock } = fx;
  assert.equal(gone(fx, true), "probing");
  clock.ms += PROBE_WAIT_MS;
  assert.equal(engine.expire(), 1);
  assert.equal(sent.length, 1, "the probe only");
  const c = engine.counters;
  assert.deepEqual([c.offloadExpiryNoAnswer, c.offloadExpiryResets, c.sessionsExpired], [1, 0, 1]);
  assert.equal(engine.table.size, 0);
  assert.deepEqual(engine.offloadWithdrawn, []);
  assert.equal(ctl.listServices()[0].localAddresses[0].conns, 0);
  run.keep(...sent);
});

engineTest(
  "offload expiry: the client's packets wait; a RST from the server ends it without resets",
  (run) => {
    const { fx, sent, D } = offloaded(run);
    const { engine } = fx;
    assert.equal(gone(fx, true), "probing");
    run.rows(fx, [
      {
        what: "client data after the idle timeout",
        input: tcp(C, VIP, 40000, 80, "PA", 1101, 9006).payload("late"),
        verdict: Verdict.Drop,
      },
      {
        what: "the server holds no connection: RST",
        input: tcp(RS, LIP, 8080, 5000, "R", (1101 + D - BACK) >>> 0),
        verdict: Verdict.Drop,
      },
    ]);
    assert.equal(sent.length, 1, "the probe only");
    const c = engine.counters;
    assert.deepEqual([c.offloadExpiryNoAnswer, c.offloadExpiryResets, c.offloadFallback], [
      1,
      0,
      0,
    ]);
    assert.equal(engine.table.size, 0);
  },
);

engineTest("offload expiry: a deleted or closed entry, or resets off, sends no probe", (run) => {
  const deleted = offloaded(run);
  assert.equal(gone(deleted.fx, false), "ended");
  const off = offloaded(run, false);
  assert.equal(gone(off.fx, true), "ended");
  assert.deepEqual([...deleted.sent, ...off.sent], []);
  assert.equal(deleted.fx.engine.counters.offloadExpiryProbes, 0);
  assert.equal(off.fx.engine.counters.offloadExpiryProbes, 0);
});

engineTest(
  "offload expiry: switching the fast path off mid-probe takes the session back",
  (run) => {
    const { fx } = offloaded(run);
    const { engine } = fx;
    assert.equal(gone(fx, true), "probing");
    // The daemon's switch-off: every offloaded session back under the idle timer.
    assert.equal(recallOffloaded(engine), 1);
    assert.equal(engine.table.handshake[0] & Handshake.PROBING, 0);
    assert.equal(engine.table.flags[0] & SessionFlag.OFFLOADED, 0);
  },
);

engineTest("offload expiry: an IPv6 session's probe and resets", (run) => {
  const sent: Uint8Array[] = [];
  const fx = run.scenario(OFFLOAD_FULLNAT_V6, { emit: (b, o, n) => sent.push(b.slice(o, o + n)) });
  const D = (isn6(fx.clock.ms) - 1000) >>> 0;
  markOffloaded(fx.engine, 0);
  assert.equal(gone(fx, true), "probing");
  const seg6 = (
    src: string,
    dst: string,
    sport: number,
    dport: number,
    flags: string,
    seq: number,
    ack: number,
    window: number,
  ) => ipv6({ src, dst, hopLimit: 64 }).tcp({ sport, dport, flags, seq, ack, window }).build();
  assert.deepEqual(sent, [
    seg6(LIP6, RS6, 5000, 8080, "A", (1001 + D - BACK) >>> 0, (9006 - BACK) >>> 0, 0xffff),
  ]);
  run.rows(fx, [{
    what: "the real server's duplicate ACK",
    input: tcp6(RS6, LIP6, 8080, 5000, "A", 9006, (1001 + D) >>> 0),
    verdict: Verdict.Drop,
  }]);
  assert.deepEqual(sent.slice(1), [
    seg6(LIP6, RS6, 5000, 8080, "R", (1001 + D) >>> 0, 0, 0),
    seg6(VIP6, C6, 80, 40000, "R", 9006, 0, 0),
  ]);
  assert.equal(fx.engine.counters.offloadExpiryResets, 1);
  run.keep(...sent);
});
