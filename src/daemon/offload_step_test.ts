/**
 * The offload step against a kernel in a map (`FakeOffloadPort`): sessions the kernel takes,
 * refusals that leave them to the engine, destroy events that free ports and add counts, and
 * the dump that makes up for a lost event.
 */
import assert from "node:assert/strict";
import { OFFLOAD_FULLNAT } from "../../testkit/engine_rows/offload.ts";
import { C, type Fixture, runRows, setup, tcp, VIP } from "../../testkit/engine_fixture.ts";
import { Verdict } from "../nfqueue/handler.ts";
import { Handshake, SessionFlag } from "../fullnat/session_table.ts";
import { FakeOffloadPort, type OffloadPort } from "./offload_port.ts";
import { OffloadStep } from "./offload_step.ts";

function offloadable(): Fixture {
  const fx = setup();
  OFFLOAD_FULLNAT.configure(fx.ctl);
  runRows(fx, OFFLOAD_FULLNAT.rows(fx.clock.ms));
  return fx;
}

const options = { worker: 1, minBytes: 0, batch: 16, scanBudget: 1 << 20 };
const svcStats = (fx: Fixture) => fx.ctl.listServices()[0].stats;

Deno.test("offload step: the kernel takes an established session in one batch", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  assert.equal(step.step(), 1);
  assert.equal(fx.engine.counters.offloaded, 1);
  assert.ok((fx.engine.table.flags[0] & SessionFlag.OFFLOADED) !== 0);
  const [entry] = port.entries.values();
  assert.equal(entry.request.mark, 0x81000000);
  assert.equal(entry.request.wscaleClient, 7);
  // Nothing left to offload: the next step sends nothing.
  assert.equal(step.step(), 0);
  assert.equal(step.counters.requests, 1);
});

Deno.test("offload step: a clash or a full table leaves the session in the engine", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  port.forced.push("clash");
  const step = new OffloadStep(fx.engine, port, options);
  assert.equal(step.step(), 0);
  assert.equal(fx.engine.counters.offloadClash, 1);
  assert.equal(fx.engine.table.flags[0] & SessionFlag.OFFLOADED, 0);
  assert.equal(port.entries.size, 0);
  port.forced.push("full");
  assert.equal(step.step(), 0);
  assert.equal(fx.engine.counters.offloadFull, 1);
  // A port that throws: counted, the session still the engine's, tried again later.
  const brokenPort: OffloadPort = {
    offload: () => {
      throw new Error("netlink down");
    },
    gone: () => [],
    dump: () => [],
    remove: () => {},
    close: () => {},
  };
  const broken = new OffloadStep(fx.engine, brokenPort, options);
  assert.equal(broken.step(), 0);
  assert.equal(broken.counters.portErrors, 1);
  assert.equal(fx.engine.counters.offloadFailed, 1);
  assert.equal(step.step(), 1, "taken once the kernel has room");
});

Deno.test("offload step: a destroy event frees the session and adds the kernel's counts", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  step.step();
  const before = svcStats(fx);
  port.count(0, { inPackets: 100, inBytes: 6000, outPackets: 200, outBytes: 280000 });
  step.reconcile(); // the first dump is the baseline (a restarted daemon counted it already)
  port.count(0, { inPackets: 10, inBytes: 600, outPackets: 20, outBytes: 28000 });
  step.reconcile(); // live counts reach the stats
  assert.equal(svcStats(fx).outBytes, before.outBytes + 28000);
  port.count(0, { inPackets: 1, inBytes: 60, outPackets: 2, outBytes: 2800 });
  port.expire(0);
  step.step();
  const after = svcStats(fx);
  assert.deepEqual(
    [after.inPackets - before.inPackets, after.outBytes - before.outBytes],
    [11, 30800],
  );
  assert.equal(fx.engine.table.size, 0);
  assert.equal(fx.ctl.listServices()[0].localAddresses[0].conns, 0);
  assert.equal(fx.engine.counters.offloadGone, 1);
});

Deno.test("offload step: an entry deleted under a live connection leaves it in the engine", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  step.step();
  assert.equal(fx.engine.counters.offloaded, 1);
  // `conntrack -D` while ESTABLISHED: the event comes before any packet reached the queue.
  port.expire(0, false, true);
  step.step();
  assert.equal(fx.engine.table.size, 1, "the session carries on in the engine");
  assert.equal(fx.engine.counters.offloadGone, 1);
  assert.equal(step.step(), 0, "not offered to the kernel again");
  assert.equal(fx.engine.expire(), 0, "its idle timer starts afresh");
});

Deno.test("offload step: a lost destroy event is made up for by the dump", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  step.step();
  port.expireQuietly(0);
  step.step();
  assert.equal(fx.engine.table.size, 1, "no event: still held");
  step.reconcile();
  assert.equal(fx.engine.table.size, 0);
  assert.equal(step.counters.lostEvents, 1);
  assert.equal(fx.engine.counters.offloadGone, 1);
  // The event turning up late changes nothing.
  assert.equal(port.gone().length, 0);
});

Deno.test("offload step: an entry that goes while the dump runs is ended by its event", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  step.step();
  port.count(0, { inPackets: 3, inBytes: 300, outPackets: 4, outBytes: 4000 });
  port.beforeDump = () => port.expire(0);
  const before = svcStats(fx);
  step.reconcile();
  assert.equal(fx.engine.table.size, 0);
  assert.equal(step.counters.lostEvents, 0, "its event came: not lost");
  assert.equal(fx.engine.counters.offloadGone, 1);
  assert.equal(svcStats(fx).outBytes, before.outBytes + 4000, "the final counts from the event");
});

Deno.test("offload step: entries of ended sessions and orphans are deleted", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  step.step();
  const rs = fx.engine.registry.servers.find((s) => s !== undefined)!;
  fx.engine.endServerSessions(rs);
  step.step();
  assert.equal(port.entries.size, 0);
  assert.equal(port.removed.length, 1);
  // An entry of this worker the table does not know (a session ended while no daemon ran).
  runRows(fx, [{ what: "SYN", input: tcp(C, VIP, 40009, 80, "S", 7), verdict: Verdict.Rewritten }]);
  port.offload([{
    ...OFFLOAD_REQUEST_STUB,
    mark: 0x81000005,
    sessionId: 5,
  }]);
  step.reconcile();
  assert.equal(step.counters.orphansRemoved, 1);
  assert.equal(port.entries.size, 0);
  // Stopping for good deletes what is left.
  port.offload([{ ...OFFLOAD_REQUEST_STUB, mark: 0x81000006, sessionId: 6 }]);
  assert.equal(step.withdrawAll(), 1);
  assert.equal(port.entries.size, 0);
});

const ep = (a: number[], port: number) => ({ addr: Uint8Array.from(a), port });
const OFFLOAD_REQUEST_STUB = {
  family: 4 as const,
  proto: "tcp" as const,
  client: ep([192, 0, 2, 1], 1234),
  vip: ep([198, 51, 100, 10], 80),
  rs: ep([203, 0, 113, 11], 8080),
  local: ep([203, 0, 113, 201], 5009),
  seqDeltaClientToRs: 0,
  clientIsnPos: 0,
  wscaleClient: -1,
  wscaleRs: -1,
  timeoutSec: 90,
  mark: 0,
  sessionId: 0,
};

Deno.test("offload step: a session that closes through the queue is taken back, its entry deleted", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  step.step();
  // In flight when the kernel took it: the client's FIN reaches the engine.
  runRows(fx, [{
    what: "client FIN",
    input: tcp(C, VIP, 40000, 80, "FA", 1101, 9006),
    verdict: Verdict.Rewritten,
  }]);
  assert.equal(fx.engine.counters.offloadFallback, 1);
  step.step();
  assert.equal(port.entries.size, 0, "the kernel's ESTABLISHED entry is deleted");
  assert.equal(fx.engine.table.flags[0] & SessionFlag.OFFLOADED, 0);
  assert.equal(fx.engine.counters.offloadRecalled, 1);
  // Back under the engine's timers: its closing state's timeout ends it.
  fx.clock.ms += 60_000;
  assert.equal(fx.engine.expire(), 1);
});

Deno.test("offload step: a packet back in the queue of a still open session changes nothing", () => {
  const fx = offloadable();
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  step.step();
  runRows(fx, [{
    what: "client data",
    input: tcp(C, VIP, 40000, 80, "PA", 1101, 9006).payload("more"),
    verdict: Verdict.Rewritten,
  }]);
  step.step();
  assert.equal(port.entries.size, 1);
  assert.ok((fx.engine.table.flags[0] & SessionFlag.OFFLOADED) !== 0);
  assert.equal(fx.engine.counters.offloadRecalled, 0);
});

Deno.test("offload step: an idle expiry's event sends the probe; the dump waits for it", () => {
  const sent: Uint8Array[] = [];
  const fx = setup({ emit: (b, o, n) => sent.push(b.slice(o, o + n)) });
  OFFLOAD_FULLNAT.configure(fx.ctl);
  runRows(fx, OFFLOAD_FULLNAT.rows(fx.clock.ms));
  const port = new FakeOffloadPort();
  const step = new OffloadStep(fx.engine, port, options);
  assert.equal(step.step(), 1);
  port.expire(0, true);
  step.step();
  assert.equal(sent.length, 1, "the probe");
  assert.equal(fx.engine.counters.offloadExpiryProbes, 1);
  assert.ok((fx.engine.table.handshake[0] & Handshake.PROBING) !== 0);
  // Not in the dump, but not a lost event either: the session waits for the answer.
  step.reconcile();
  assert.equal(step.counters.lostEvents, 0);
  assert.equal(fx.engine.table.size, 1);
  assert.equal(step.step(), 0, "not offered again");
  fx.clock.ms += 1000;
  assert.equal(fx.engine.expire(), 1);
  assert.equal(fx.engine.counters.offloadExpiryNoAnswer, 1);
  assert.deepEqual(port.removed, [], "no entry to delete");
});
