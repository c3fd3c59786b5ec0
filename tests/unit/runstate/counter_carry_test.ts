/**
 * Counters carried over a restart (`src/kernel/counter_carry.ts`): what one engine counted is
 * written, read back and added to a new engine's counters by name and by what services and
 * servers are, whatever their ids; what no longer exists starts at zero, and a damaged file
 * is reported, not trusted.
 */
import assert from "node:assert/strict";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import {
  carryCounters,
  clearCounters,
  countersFile,
  readCounters,
  snapshotCounters,
  writeCounters,
} from "../../../src/kernel/counter_carry.ts";

const svc = { protocol: "tcp" as const, address: "198.51.100.10", port: 80 };
const other = { protocol: "udp" as const, address: "198.51.100.10", port: 53 };
const rs = (address: string) => ({ address, port: 8080, weight: 1, method: "fullnat" as const });

function engine(): { engine: Engine; ctl: EngineControl } {
  const e = new Engine({ clock: () => 0, capacity: 16 });
  return { engine: e, ctl: new EngineControl(e) };
}

Deno.test("counters written by one engine are added to the next one's by name, not by id", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const a = engine();
    a.ctl.addService(svc, { scheduler: "rr", persistence: 0 });
    a.ctl.addRealServer(svc, rs("203.0.113.11"));
    a.ctl.addRealServer(svc, rs("203.0.113.12"));
    a.engine.counters.packets = 1000;
    a.engine.counters.sessionsCreated = 7;
    const s = a.engine.registry.liveServices()[0];
    s.stats.conns = 7;
    s.stats.inBytes = 123456;
    s.servers[1].stats.outPackets = 42;
    const path = countersFile(dir, 0);
    writeCounters(path, snapshotCounters(a.engine));

    // Another order, so every id differs; one server gone, one service new.
    const b = engine();
    b.ctl.addService(other, { scheduler: "rr", persistence: 0 });
    b.ctl.addService(svc, { scheduler: "rr", persistence: 0 });
    b.ctl.addRealServer(svc, rs("203.0.113.12"));
    b.engine.counters.packets = 5;
    const read = readCounters(path);
    assert.equal(read.problem, undefined);
    const report = carryCounters(b.engine, read.counters!);
    assert.deepEqual(report, {
      engine: Object.keys(b.engine.counters).length,
      services: 1,
      servers: 1,
    });
    assert.equal(b.engine.counters.packets, 1005);
    assert.equal(b.engine.counters.sessionsCreated, 7);
    const carried = b.engine.registry.liveServices().find((x) => x.key.port === 80)!;
    assert.equal(carried.stats.conns, 7);
    assert.equal(carried.stats.inBytes, 123456);
    assert.equal(carried.servers[0].stats.outPackets, 42);
    const fresh = b.engine.registry.liveServices().find((x) => x.key.port === 53)!;
    assert.equal(fresh.stats.conns, 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a missing counters file is a first start; a damaged one is reported and carries nothing", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = countersFile(dir, 1);
    assert.deepEqual(readCounters(path), {});
    Deno.writeTextFileSync(path, "{not json");
    assert.match(readCounters(path).problem ?? "", /is not valid JSON/);
    Deno.writeTextFileSync(path, JSON.stringify({ version: 9, engine: {} }));
    assert.match(readCounters(path).problem ?? "", /not a counters file of this version/);
    // Nonsense values are skipped, not added.
    const e = engine();
    const report = carryCounters(e.engine, {
      version: 1,
      engine: { packets: -5, forwarded: 3, noSuchCounter: 9 },
      services: {},
      servers: {},
    });
    assert.equal(report.engine, 1);
    assert.equal(e.engine.counters.forwarded, 3);
    assert.equal(e.engine.counters.packets, 0);
    clearCounters(dir, 1);
    assert.deepEqual(readCounters(path), {});
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
