import assert from "node:assert/strict";
import { CONTROL_METHODS } from "../../../src/ctl/remote.ts";
import { workerConfigs } from "../../../src/daemon/daemon.ts";
import { EngineOps } from "../../../src/daemon/engine_ops.ts";
import { fanOutControl, type WorkerCalls } from "../../../src/daemon/fan_out.ts";
import { mergeServices, sumCounters, unionDiversion } from "../../../src/daemon/merge.ts";
import { defaultDaemonOptions } from "../../../src/daemon/options.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { ControlError, type ServiceView } from "../../../src/fullnat/types.ts";

/** Workers as in-process engines: the same calls the pool makes, recorded in order. */
function engines(n: number): WorkerCalls & { log: string[]; controls: EngineControl[] } {
  const controls = Array.from(
    { length: n },
    (_, i) =>
      new EngineControl(
        new Engine({ clock: () => 0, localPortRange: [1000 + i * 10, 1009 + i * 10] }),
      ),
  );
  const ops = controls.map((c) => new EngineOps(c));
  const log: string[] = [];
  const call = (i: number, op: string, args: unknown[] = []) => {
    log.push(`${i}:${op}`);
    try {
      const reply = ops[i].answer(op, args);
      if (reply === undefined) throw new Error(`unknown worker op '${op}'`);
      return Promise.resolve(reply.result);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  return {
    size: n,
    log,
    controls,
    call,
    all: (op, args) => Promise.all(controls.map((_, i) => call(i, op, args))),
  };
}

const svc = { protocol: "tcp" as const, address: "10.0.0.1", port: 80 };

Deno.test("fanOutControl() serves every contract method", () => {
  const remote = fanOutControl(engines(2), () => Promise.resolve(), () => {});
  for (const m of CONTROL_METHODS) assert.equal(typeof remote[m], "function", m);
});

Deno.test("fanOutControl() applies a change on worker 0 first, then the others, then syncs", async () => {
  const w = engines(3);
  let syncs = 0;
  const remote = fanOutControl(w, () => {
    syncs++;
    return Promise.resolve();
  }, () => {});
  await remote.addService(svc, { scheduler: "rr", persistence: 0 });
  assert.deepEqual(w.log, ["0:addService", "1:addService", "2:addService"]);
  assert.equal(syncs, 1);
  for (const c of w.controls) assert.equal(c.listServices().length, 1);
  // zeroStats changes no diversion: no sync.
  await remote.zeroStats();
  assert.equal(syncs, 1);
});

Deno.test("fanOutControl() stops at worker 0's refusal: the others never see the change", async () => {
  const w = engines(2);
  const remote = fanOutControl(w, () => Promise.resolve(), () => {});
  await assert.rejects(
    remote.addService({ ...svc, address: "300.1.1.1" }, { scheduler: "rr", persistence: 0 }),
    (e) => e instanceof ControlError && e.code === "invalid-argument",
  );
  assert.deepEqual(w.log, ["0:addService"]);
});

Deno.test("fanOutControl() reports workers that diverge from worker 0", async () => {
  const w = engines(2);
  w.controls[1].addService(svc, { scheduler: "rr", persistence: 0 }); // only worker 1 has it
  const logged: string[] = [];
  const remote = fanOutControl(w, () => Promise.resolve(), (m) => logged.push(m));
  await assert.rejects(
    remote.addService(svc, { scheduler: "rr", persistence: 0 }),
    /worker 1 refused addService that worker 0 accepted/,
  );
  assert.equal(logged.length, 1);
});

Deno.test("fanOutControl().setHealth() reaches every worker, worker 0 first, and is no configuration change", async () => {
  const w = engines(3);
  let syncs = 0;
  const remote = fanOutControl(w, () => {
    syncs++;
    return Promise.resolve();
  }, () => {});
  await remote.addService(svc, {
    scheduler: "rr",
    persistence: 0,
    sorryServer: { address: "10.1.0.9", port: 80, method: "fullnat" },
  });
  await remote.addRealServer(svc, { address: "10.1.0.1", port: 80, weight: 1, method: "fullnat" });
  w.log.length = 0;
  syncs = 0;
  await remote.setHealth(svc, {
    servers: [{ address: "10.1.0.1", port: 80, up: false }],
    quorumUp: false,
  });
  assert.deepEqual(w.log, ["0:setHealth", "1:setHealth", "2:setHealth"]);
  assert.equal(syncs, 0, "not announced: nothing to save or re-divert");
  for (const c of w.controls) {
    const [view] = c.listServices();
    assert.deepEqual([view.realServers[0].up, view.quorumUp, view.sorryServer?.active], [
      false,
      false,
      true,
    ]);
  }
  // The merged listing sums the sorry server's counters like a real server's.
  w.controls[0].engine.registry.liveServices()[0].sorryServer!.stats.conns = 2;
  w.controls[2].engine.registry.liveServices()[0].sorryServer!.stats.conns = 3;
  assert.equal((await remote.listServices())[0].sorryServer?.stats.conns, 5);
  // A refusal of worker 0 reaches no other worker.
  w.log.length = 0;
  await assert.rejects(
    remote.setHealth(svc, { servers: [{ address: "10.1.0.7", port: 80, up: false }] }),
    (e) => e instanceof ControlError && e.code === "no-dest",
  );
  assert.deepEqual(w.log, ["0:setHealth"]);
});

Deno.test("fanOutControl() merges listings: services with summed counters, connections concatenated", async () => {
  const w = engines(2);
  const remote = fanOutControl(w, () => Promise.resolve(), () => {});
  await remote.addService(svc, { scheduler: "rr", persistence: 0 });
  await remote.addRealServer(svc, { address: "10.1.0.1", port: 80, weight: 1, method: "fullnat" });
  await remote.addLocalAddress(svc, "10.2.0.1");
  w.controls[0].engine.registry.liveServices()[0].stats.inPackets = 5;
  w.controls[1].engine.registry.liveServices()[0].stats.inPackets = 7;
  const [view] = await remote.listServices();
  assert.equal(view.stats.inPackets, 12);
  assert.equal(view.realServers.length, 1);
  assert.equal(view.localAddresses.length, 1);
  assert.deepEqual(await remote.listConnections(), []);
  assert.deepEqual((await remote.diversion()).localAddresses, ["10.2.0.1"]);
});

Deno.test("mergeServices() keeps objects only some workers list and sums their counters", () => {
  const stats = (n: number) => ({ conns: n, inPackets: n, outPackets: 0, inBytes: 0, outBytes: 0 });
  const base: ServiceView = {
    ...svc,
    scheduler: "rr",
    persistence: 0,
    toa: true,
    stripTimestamps: true,
    clampMss: true,
    stats: stats(1),
    realServers: [{
      address: "10.1.0.1",
      port: 80,
      weight: 1,
      method: "fullnat",
      activeConns: 1,
      inactiveConns: 2,
      stats: stats(1),
    }],
    localAddresses: [{ address: "10.2.0.1", conns: 3, portConflicts: 1 }],
  };
  const other: ServiceView = {
    ...base,
    stats: stats(2),
    realServers: [{ ...base.realServers[0], activeConns: 4, inactiveConns: 0, stats: stats(2) }, {
      ...base.realServers[0],
      address: "10.1.0.2",
      stats: stats(9),
    }],
    localAddresses: [{ address: "10.2.0.1", conns: 1, portConflicts: 0 }],
  };
  const [m] = mergeServices([[base], [other]]);
  assert.equal(m.stats.conns, 3);
  assert.deepEqual(m.realServers.map((r) => [r.address, r.activeConns, r.inactiveConns]), [
    ["10.1.0.1", 5, 2],
    ["10.1.0.2", 1, 2],
  ]);
  assert.deepEqual(m.localAddresses, [{ address: "10.2.0.1", conns: 4, portConflicts: 1 }]);
  // The inputs are untouched.
  assert.equal(base.stats.conns, 1);
  assert.equal(base.realServers[0].activeConns, 1);
});

Deno.test("unionDiversion() and sumCounters() combine per-worker figures", () => {
  const a = {
    services: [svc],
    localAddresses: ["10.2.0.1"],
    natRealServers: [{ protocol: "tcp" as const, address: "10.1.0.9", port: 80 }],
  };
  const b = { services: [svc], localAddresses: ["10.2.0.1", "10.2.0.2"], natRealServers: [] };
  assert.deepEqual(unionDiversion([a, b]), {
    services: [svc],
    localAddresses: ["10.2.0.1", "10.2.0.2"],
    natRealServers: a.natRealServers,
  });
  assert.deepEqual(sumCounters([{ x: 1, y: 2 }, { x: 10, y: 20 }]), { x: 11, y: 22 });
});

Deno.test("workerConfigs() splits ports, queues and capacity; refuses what cannot be split", () => {
  const o = { ...defaultDaemonOptions(() => undefined), workers: 2, queue: 7, maxSessions: 101 };
  const c = workerConfigs(o);
  assert.deepEqual(c.map((w) => [w.queueNum, w.localPorts, w.capacity]), [
    [7, [1025, 33279], 51],
    [8, [33280, 65535], 51],
  ]);
  assert.equal(c[0].resetOnExpiry, true);
  assert.throws(
    () => workerConfigs({ ...o, workers: 3, localPorts: [10, 11] }),
    /at least one port per worker/,
  );
  assert.throws(() => workerConfigs({ ...o, queue: 65535 }), /lower --queue/);
});
