/**
 * Sessions taken over by a new engine from memory the old one left (`session_restore.ts`):
 * the configuration is applied again in another order, so every owner id differs; packets of
 * the old sessions must come out byte for byte as the old engine would have written them.
 */
import assert from "node:assert/strict";
import { ipv4, ipv6 } from "../../../testkit/packet_builder.ts";
import {
  C,
  C6,
  Clock,
  LIP,
  LIP6,
  RS,
  RS2,
  RS6,
  VIP,
  VIP6,
} from "../../../testkit/engine_fixture.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { restoreSessions } from "../../../src/fullnat/session_restore.ts";
import { Verdict } from "../../../src/nfqueue/handler.ts";
import {
  engineOver as restartEngine,
  type SurvivingMemory,
  survivingMemory,
} from "../../../testkit/engine_restart.ts";

const TCP = "tcp" as const;
const svc4 = { protocol: TCP, address: VIP, port: 80 };
const svc6 = { protocol: TCP, address: VIP6, port: 80 };
const udp4 = { protocol: "udp" as const, address: VIP, port: 53 };

/** An engine over `mem`, with the fixture's small local port range. */
const engineOver = (mem: SurvivingMemory, clock: Clock) =>
  restartEngine(mem, clock, { localPortRange: [5000, 5010] });

function run(engine: Engine, pkt: Uint8Array): { verdict: Verdict; out: Uint8Array } {
  const buf = new Uint8Array(2048);
  buf.set(pkt);
  const verdict = engine.handle(buf, 0, pkt.length, buf.length);
  return { verdict, out: buf.slice(0, engine.outLength) };
}

Deno.test("a new engine takes over sessions left in memory, with its own owner ids", () => {
  const mem = survivingMemory();
  const clock = new Clock();
  const a = engineOver(mem, clock);
  a.ctl.addService(svc4, { scheduler: "rr", persistence: 0 });
  a.ctl.addRealServer(svc4, { address: RS, port: 8080, weight: 1, method: "fullnat" });
  a.ctl.addRealServer(svc4, { address: RS2, port: 8080, weight: 1, method: "fullnat" });
  a.ctl.addLocalAddress(svc4, LIP);
  a.ctl.addService(svc6, { scheduler: "rr", persistence: 0 });
  a.ctl.addRealServer(svc6, { address: RS6, port: 8080, weight: 1, method: "fullnat" });
  a.ctl.addLocalAddress(svc6, LIP6);
  a.ctl.addService(udp4, { scheduler: "rr", persistence: 0 });
  a.ctl.addRealServer(udp4, { address: RS, port: 53, weight: 1, method: "nat" });

  const syn = (sport: number) =>
    ipv4({ src: C, dst: VIP }).tcp({ sport, dport: 80, flags: "S", seq: 100 }).build();
  const syn6 = ipv6({ src: C6, dst: VIP6 }).tcp({ sport: 4000, dport: 80, flags: "S", seq: 100 })
    .build();
  assert.equal(run(a.engine, syn(1111)).verdict, Verdict.Rewritten);
  assert.equal(run(a.engine, syn(2222)).verdict, Verdict.Rewritten);
  assert.equal(run(a.engine, syn6).verdict, Verdict.Rewritten);
  const dns = ipv4({ src: C, dst: VIP }).udp({ sport: 3333, dport: 53 }).payload(new Uint8Array(20))
    .build();
  assert.equal(run(a.engine, dns).verdict, Verdict.Rewritten);
  // What the old engine writes for the next segment of each session.
  const data = (sport: number) =>
    ipv4({ src: C, dst: VIP }).tcp({ sport, dport: 80, flags: "A", seq: 101, ack: 1 }).build();
  const data6 = ipv6({ src: C6, dst: VIP6 }).tcp({
    sport: 4000,
    dport: 80,
    flags: "A",
    seq: 101,
    ack: 1,
  })
    .build();
  const expected = [data(1111), data(2222), data6, dns].map((p) => run(a.engine, p).out);
  const before = a.ctl.listConnections();
  assert.equal(before.length, 4);

  // The new process: the same configuration in another order, RS2 deleted meanwhile.
  const b = engineOver(mem, clock);
  b.ctl.addService(udp4, { scheduler: "rr", persistence: 0 });
  b.ctl.addRealServer(udp4, { address: RS, port: 53, weight: 1, method: "nat" });
  b.ctl.addService(svc6, { scheduler: "rr", persistence: 0 });
  b.ctl.addRealServer(svc6, { address: RS6, port: 8080, weight: 1, method: "fullnat" });
  b.ctl.addLocalAddress(svc6, LIP6);
  b.ctl.addService(svc4, { scheduler: "rr", persistence: 0 });
  b.ctl.addLocalAddress(svc4, LIP);
  b.ctl.addRealServer(svc4, { address: RS, port: 8080, weight: 1, method: "fullnat" });
  const report = restoreSessions(b.engine, b.previous);
  assert.deepEqual(report, { kept: 4, dropped: {}, standIns: 1 });
  assert.deepEqual(
    b.ctl.listConnections().map((c) => [c.client, c.local, c.real, c.state]),
    before.map((c) => [c.client, c.local, c.real, c.state]),
  );
  const got = [data(1111), data(2222), data6, dns].map((p) => run(b.engine, p));
  for (let i = 0; i < got.length; i++) {
    assert.equal(got[i].verdict, Verdict.Rewritten, `packet ${i}`);
    assert.deepEqual(got[i].out, expected[i], `packet ${i} rewritten as before`);
  }
  // RS2 is not configured any more: its session drains on a deleted stand-in that takes no
  // new connection, and the listing shows only RS.
  const listed = b.ctl.listServices().find((s) => s.address === VIP && s.port === 80)!;
  assert.deepEqual(listed.realServers.map((s) => s.address), [RS]);
  for (let i = 0; i < 4; i++) {
    const r = run(b.engine, syn(5000 + i));
    assert.equal(r.verdict, Verdict.Rewritten);
  }
  assert.ok(
    b.ctl.listConnections().filter((c) => c.client.port >= 5000).every((c) =>
      c.real.address === RS
    ),
  );
  // Counts carried over: the deleted server is released when its session ends.
  const rs2Id = b.engine.registry.servers.findIndex((s) => s?.address === RS2);
  assert.ok(rs2Id >= 0, "RS2's stand-in exists while its session lives");
  clock.ms += 3_600_000;
  b.engine.expire();
  assert.equal(b.engine.table.size, 0);
  assert.equal(b.engine.registry.servers.findIndex((s) => s?.address === RS2), -1);
});

Deno.test("sessions whose owners cannot be told are dropped with the reason, the rest kept", () => {
  const mem = survivingMemory();
  const clock = new Clock();
  const a = engineOver(mem, clock);
  a.ctl.addService(svc4, { scheduler: "rr", persistence: 0 });
  a.ctl.addRealServer(svc4, { address: RS, port: 8080, weight: 1, method: "fullnat" });
  a.ctl.addLocalAddress(svc4, LIP);
  for (const sport of [1111, 2222]) {
    run(a.engine, ipv4({ src: C, dst: VIP }).tcp({ sport, dport: 80, flags: "S", seq: 1 }).build());
  }
  // Damage: one session names a real server no record describes, one has a bad protocol.
  const t = a.engine.table;
  t.server[0] = 999;
  t.proto[1] = 99;
  const b = engineOver(mem, clock);
  b.ctl.addService(svc4, { scheduler: "rr", persistence: 0 });
  const report = restoreSessions(b.engine, b.previous);
  assert.deepEqual(report.dropped, { "real server unknown": 1, "unknown protocol": 1 });
  assert.equal(report.kept, 0);
  assert.equal(b.engine.table.size, 0);
});

Deno.test("sessions taken over count against their source's --source-sessions in the new engine", () => {
  const mem = survivingMemory();
  const clock = new Clock();
  const setup = (e: ReturnType<typeof engineOver>) => {
    e.ctl.addService(svc4, { scheduler: "rr", persistence: 0, sourceSessions: 2 });
    e.ctl.addRealServer(svc4, { address: RS, port: 8080, weight: 1, method: "fullnat" });
    e.ctl.addLocalAddress(svc4, LIP);
  };
  const syn = (sport: number) =>
    ipv4({ src: C, dst: VIP }).tcp({ sport, dport: 80, flags: "S", seq: 100 }).build();
  const a = engineOver(mem, clock);
  setup(a);
  assert.equal(run(a.engine, syn(1111)).verdict, Verdict.Rewritten);
  assert.equal(run(a.engine, syn(2222)).verdict, Verdict.Rewritten);
  assert.equal(run(a.engine, syn(3333)).verdict, Verdict.Drop, "at the limit");

  const b = engineOver(mem, clock);
  setup(b);
  assert.equal(restoreSessions(b.engine, b.previous).kept, 2);
  assert.equal(run(b.engine, syn(3333)).verdict, Verdict.Drop, "the two taken over count");
  assert.equal(b.engine.counters.sourceSessionsRefused, 1);
  // One of them ends: the source may open one more.
  b.engine.removeSession(0);
  assert.equal(run(b.engine, syn(3333)).verdict, Verdict.Rewritten);
});
