/**
 * Drains with a deadline (`src/daemon/drains.ts`) over a real engine: weight 0 at once, the
 * server removed when its sessions are gone or at the deadline (what is left ended then), and
 * the refusals that change nothing.
 */
import assert from "node:assert/strict";
import { Drains } from "../../../src/daemon/drains.ts";
import { drainLine } from "../../../src/daemon/status_text.ts";
import { localRemote } from "../../../src/ctl/remote.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { ControlError } from "../../../src/fullnat/types.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";

const VIP = "198.51.100.10";
const key = { protocol: "tcp" as const, address: VIP, port: 80 };
const RS1 = { address: "203.0.113.11", port: 80 };
const RS2 = { address: "203.0.113.12", port: 80 };

function bed() {
  const engine = new Engine({ clock: () => 0, capacity: 64, localPortRange: [5000, 5063] });
  const ctl = new EngineControl(engine);
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  for (const rs of [RS1, RS2]) ctl.addRealServer(key, { ...rs, weight: 1, method: "fullnat" });
  ctl.addLocalAddress(key, "203.0.113.201");
  const log: string[] = [];
  const drains = new Drains({
    control: localRemote(ctl),
    endSessions: (k, s) => Promise.resolve(ctl.endServerSessions(k, s)),
    pollMs: 20,
    log: (m) => void log.push(m),
  });
  const syn = (cport: number) => {
    const p = ipv4({ src: "198.51.100.2", dst: VIP }).tcp({ sport: cport, dport: 80, flags: "S" })
      .build();
    const buf = new Uint8Array(p.length + 64);
    buf.set(p);
    engine.handle(buf, 0, p.length, buf.length);
  };
  const rs1 = () => ctl.listServices()[0].realServers.find((r) => r.address === RS1.address);
  return { engine, ctl, drains, log, syn, rs1 };
}

const until = async (what: string, ok: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

Deno.test("a drain with no sessions removes the server at once", async () => {
  const { drains, rs1 } = bed();
  const v = await drains.start(key, RS1, { within: 300 });
  assert.equal(v.state, "done");
  assert.equal(v.outcome, "no sessions left");
  assert.equal(rs1(), undefined);
  assert.match(
    drainLine(v),
    /^#1 tcp 198\.51\.100\.10:80 rs 203\.0\.113\.11:80 done \(no sessions left\) after 0\.\d\d s; removed$/,
  );
});

Deno.test("a drain waits for the sessions to end, with weight 0 meanwhile", async () => {
  const { engine, drains, syn, rs1 } = bed();
  syn(40000); // RS1
  syn(40001); // RS2
  const v = await drains.start(key, RS1, { within: 60 });
  assert.deepEqual([v.state, v.sessionsAtStart, rs1()?.weight], ["draining", 1, 0]);
  for (let i = 0; i < 4; i++) syn(40010 + i);
  assert.equal(rs1()?.inactiveConns, 1, "no new session reaches it");
  assert.match(drainLine(drains.list()[0]), /draining: 1 session\(s\) left of 1, deadline in 60 s/);
  // Its session ends on its own: the drain sees it at its next look.
  for (let id = 0; id < engine.table.highWater; id++) {
    if (
      engine.table.live(id) &&
      engine.registry.servers[engine.table.server[id]]!.address === RS1.address
    ) {
      engine.removeSession(id);
    }
  }
  await until("the drain to end", () => drains.list()[0].state === "done");
  assert.equal(drains.list()[0].outcome, "no sessions left");
  assert.equal(rs1(), undefined);
  drains.stop();
});

Deno.test("at the deadline what is left is ended and the server removed", async () => {
  const { engine, drains, syn, rs1, log } = bed();
  syn(40000);
  syn(40002); // rr: 40000 -> RS1, 40002 -> RS2
  syn(40004); // RS1
  const t0 = performance.now();
  await drains.start(key, RS1, { within: 1 });
  await until("the deadline", () => drains.list()[0].state !== "draining");
  const took = performance.now() - t0;
  const v = drains.list()[0];
  assert.deepEqual([v.state, v.outcome, v.ended, v.reset], ["done", "deadline", 2, 0]);
  assert.ok(took >= 1000 && took < 1500, `ended after ${took} ms`);
  assert.equal(rs1(), undefined);
  assert.equal(engine.table.size, 1, "the other server's session stays");
  assert.match(
    log.at(-1)!,
    /drained 203\.0\.113\.11:80 of tcp 198\.51\.100\.10:80 in 1\.\d\d s \(deadline: 2 session\(s\) ended, 0 reset\); removed/,
  );
});

Deno.test("drain refusals change nothing", async () => {
  const { drains, syn, rs1 } = bed();
  await assert.rejects(
    () => drains.start(key, { address: "203.0.113.99", port: 80 }, { within: 5 }),
    (e: unknown) => e instanceof ControlError && e.code === "no-dest",
  );
  await assert.rejects(
    () => drains.start({ ...key, port: 81 }, RS1, { within: 5 }),
    (e: unknown) => e instanceof ControlError && e.code === "no-service",
  );
  await assert.rejects(() => drains.start(key, RS1, { within: -1 }), /whole seconds from 0/);
  await assert.rejects(() => drains.start(key, "bogus", {}), /real server must be an object/);
  assert.equal(rs1()?.weight, 1, "nothing changed");
  syn(40000);
  await drains.start(key, RS1, { within: 30 });
  await assert.rejects(() => drains.start(key, RS1, { within: 5 }), /is being drained already/);
  drains.stop();
});
