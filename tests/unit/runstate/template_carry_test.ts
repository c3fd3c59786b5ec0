/**
 * Persistence templates carried over a restart (`src/fullnat/template_export.ts`,
 * `src/kernel/template_carry.ts`): what one engine holds is written to the run directory, read
 * back by a new engine whose configuration was applied again in another order (other ids), and
 * new connections of the same clients go to the same real servers; a template whose session was
 * taken over lives on with it. What no longer means the same is left, by reason; damaged bytes
 * are refused whole.
 */
import assert from "node:assert/strict";
import { ipv4, ipv6 } from "../../../testkit/packet_builder.ts";
import { Clock, RS, RS2, VIP, VIP6 } from "../../../testkit/engine_fixture.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { restoreSessions } from "../../../src/fullnat/session_restore.ts";
import {
  exportTemplates,
  importTemplates,
  TemplateDataError,
} from "../../../src/fullnat/template_export.ts";
import { TEMPLATE_LINGER_MS } from "../../../src/fullnat/persistence.ts";
import {
  clearTemplates,
  readTemplates,
  templatesFile,
  writeTemplates,
} from "../../../src/kernel/template_carry.ts";
import { clearRunState } from "../../../src/kernel/run_state.ts";
import { Verdict } from "../../../src/nfqueue/handler.ts";
import { engineOver, survivingMemory } from "../../../testkit/engine_restart.ts";

const web = { protocol: "tcp" as const, address: VIP, port: 80 };
const web6 = { protocol: "tcp" as const, address: VIP6, port: 443 };
const RS6 = ["2001:db8:b::11", "2001:db8:b::12"];

/** The IPv4 web service (a /24 per template) and the IPv6 one, servers in `order`. */
function configure(ctl: EngineControl, order: "forward" | "reverse") {
  const v4 = order === "forward" ? [RS, RS2] : [RS2, RS];
  const v6 = order === "forward" ? RS6 : [...RS6].reverse();
  // Another service first in the second engine, so every id differs.
  if (order === "reverse") {
    ctl.addService({ ...web, port: 81 }, { scheduler: "rr", persistence: 0 });
  }
  ctl.addService(web, { scheduler: "rr", persistence: 300, persistenceMask: 24 });
  for (const a of v4) ctl.addRealServer(web, { address: a, port: 80, weight: 1, method: "nat" });
  ctl.addService(web6, { scheduler: "rr", persistence: 600 });
  for (const a of v6) ctl.addRealServer(web6, { address: a, port: 443, weight: 1, method: "nat" });
}

/** Sends a SYN; returns the real server it was sent to. */
function synTo(engine: Engine, client: string, sport: number): string {
  const v6 = client.includes(":");
  const pkt = (v6 ? ipv6 : ipv4)({ src: client, dst: v6 ? VIP6 : VIP })
    .tcp({ sport, dport: v6 ? 443 : 80, flags: "S", seq: 1 }).build();
  const buf = new Uint8Array(2048);
  buf.set(pkt);
  assert.equal(engine.handle(buf, 0, pkt.length, buf.length), Verdict.Rewritten);
  const t = engine.table;
  const id = t.highWater - 1;
  return engine.registry.servers[t.server[id]]!.address;
}

/** The templates listed, as `client -> real (expires in s)`. */
function listed(ctl: EngineControl): string[] {
  return ctl.listConnections().filter((c) => c.template).map((c) =>
    `${c.client.address} -> ${c.real.address} ${Math.round(c.expiresInMs / 1000)}s`
  ).sort();
}

const CLIENTS = ["198.51.100.2", "198.51.101.2", "2001:db8:a::2", "2001:db8:a::3"];

Deno.test("templates written by one engine are taken back by the next, by what they name", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const mem = survivingMemory();
    const clock = new Clock();
    const a = engineOver(mem, clock);
    configure(a.ctl, "forward");
    const before = CLIENTS.map((c, i) => synTo(a.engine, c, 40000 + i));
    assert.deepEqual(before, [RS, RS2, RS6[0], RS6[1]]);
    const path = templatesFile(dir, 0);
    writeTemplates(path, exportTemplates(a.engine));
    const listedBefore = listed(a.ctl);

    // The daemon is away 20 s; the new one applies the configuration in another order.
    clock.ms += 20_000;
    const b = engineOver(mem, clock);
    configure(b.ctl, "reverse");
    restoreSessions(b.engine, b.previous);
    const read = readTemplates(path);
    assert.ok(read.bytes, read.problem);
    const report = importTemplates(b.engine, read.bytes, true);
    assert.deepEqual(report, { kept: 4, dropped: {} });
    // Same templates, 20 s older; the same servers keep them.
    assert.deepEqual(
      listed(b.ctl),
      listedBefore.map((l) => l.replace(/(\d+)s$/, (_, s) => `${Number(s) - 20}s`)),
    );
    const byServer = Object.fromEntries(
      b.ctl.listServices().flatMap((s) => s.realServers.map((r) => [r.address, r.persistConns])),
    );
    assert.deepEqual(byServer, { [RS]: 1, [RS2]: 1, [RS6[0]]: 1, [RS6[1]]: 1 });
    // New connections, even from another client of a /24, go where they went before.
    const after = ["198.51.100.99", "198.51.101.2", "2001:db8:a::2", "2001:db8:a::3"]
      .map((c, i) => synTo(b.engine, c, 41000 + i));
    assert.deepEqual(after, before);
    assert.equal(b.engine.counters.templatesReused, 4);
    assert.equal(b.engine.counters.templatesCreated, 0);

    clearTemplates(dir, 0);
    assert.deepEqual(readTemplates(path), {});
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a template whose restored session is still open outlives its timeout", () => {
  const mem = survivingMemory();
  const clock = new Clock();
  const a = engineOver(mem, clock);
  a.ctl.addService(web, { scheduler: "rr", persistence: 10 });
  for (const addr of [RS, RS2]) {
    a.ctl.addRealServer(web, { address: addr, port: 80, weight: 1, method: "nat" });
  }
  a.ctl.setTimeouts({ tcpSynRecv: 100 });
  assert.equal(synTo(a.engine, "198.51.100.2", 40000), RS);
  const bytes = exportTemplates(a.engine);
  const b = engineOver(mem, clock);
  b.ctl.addService(web, { scheduler: "rr", persistence: 10 });
  for (const addr of [RS, RS2]) {
    b.ctl.addRealServer(web, { address: addr, port: 80, weight: 1, method: "nat" });
  }
  b.ctl.setTimeouts({ tcpSynRecv: 100 });
  assert.equal(restoreSessions(b.engine, b.previous).kept, 1);
  assert.deepEqual(importTemplates(b.engine, bytes, true), { kept: 1, dropped: {} });
  clock.ms += 11_000;
  b.engine.expire();
  assert.equal(b.engine.table.size, 1, "the session is open");
  const t = b.ctl.listConnections().find((c) => c.template);
  assert.equal(t?.expiresInMs, TEMPLATE_LINGER_MS, "kept because its session is open");
  assert.equal(synTo(b.engine, "198.51.100.2", 40001), RS);
});

Deno.test("templates that no longer mean the same are left, by reason; times are cut to the timeout", () => {
  const clock = new Clock();
  const a = engineOver(survivingMemory(), clock);
  configure(a.ctl, "forward");
  for (const [i, c] of CLIENTS.entries()) synTo(a.engine, c, 40000 + i);
  const bytes = exportTemplates(a.engine);

  const b = engineOver(survivingMemory(), clock);
  // IPv4: another granularity. IPv6: a server gone, and a shorter timeout.
  b.ctl.addService(web, { scheduler: "rr", persistence: 300, persistenceMask: 16 });
  b.ctl.addService(web6, { scheduler: "rr", persistence: 60 });
  b.ctl.addRealServer(web6, { address: RS6[0], port: 443, weight: 1, method: "nat" });
  assert.deepEqual(importTemplates(b.engine, bytes, true), {
    kept: 1,
    dropped: { "granularity changed": 2, "real server gone": 1 },
  });
  assert.deepEqual(listed(b.ctl), [`2001:db8:a::2 -> ${RS6[0]} 60s`]);

  const c = engineOver(survivingMemory(), clock);
  c.ctl.addService(web6, { scheduler: "rr", persistence: 0 });
  assert.deepEqual(importTemplates(c.engine, bytes, true), {
    kept: 0,
    dropped: { "service gone": 2, "service no longer persistent": 2 },
  });

  // Read long after (on this box's clock): every template has run out.
  clock.ms += 700_000;
  const d = engineOver(survivingMemory(), clock);
  configure(d.ctl, "forward");
  assert.deepEqual(importTemplates(d.engine, bytes, true), { kept: 0, dropped: { expired: 4 } });
  // The same bytes from another box's clock: times count from now.
  assert.deepEqual(importTemplates(d.engine, bytes, false), { kept: 4, dropped: {} });
});

Deno.test("damaged template bytes are refused whole; a deliberate stop removes the file", () => {
  const clock = new Clock();
  const a = engineOver(survivingMemory(), clock);
  configure(a.ctl, "forward");
  synTo(a.engine, CLIENTS[0], 40000);
  const good = exportTemplates(a.engine);
  const b = engineOver(survivingMemory(), clock);
  configure(b.ctl, "forward");
  for (
    const bad of [
      new Uint8Array(0),
      new TextEncoder().encode("counters"),
      good.slice(0, good.length - 1),
      Uint8Array.of(...good, 0),
    ]
  ) {
    assert.throws(() => importTemplates(b.engine, bad, true), TemplateDataError);
  }
  assert.deepEqual(listed(b.ctl), []);

  const dir = Deno.makeTempDirSync();
  try {
    writeTemplates(templatesFile(dir, 0), good);
    writeTemplates(templatesFile(dir, 1), good);
    clearRunState(dir, 2);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
