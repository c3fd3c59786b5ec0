/**
 * The configuration document's `sync` section: round trip with the defaults left out, every
 * problem at its path, the plan's steps, applying and rolling back through the sync ops, and
 * a daemon restart that starts the stored sync daemons again (one that cannot start costs no
 * service).
 */
import assert from "node:assert/strict";
import { ConfigChanges } from "../../../src/ctl/changes.ts";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { ControlError } from "../../../src/fullnat/types.ts";
import { applyConfig, readRunning } from "../../../src/persist/apply.ts";
import { attachPersistence, type OpRegistry } from "../../../src/persist/attach.ts";
import { formatConfig, parseConfig, validateConfig } from "../../../src/persist/document.ts";
import { planChanges } from "../../../src/persist/plan.ts";
import { sortSync, type SyncOps } from "../../../src/persist/sync_section.ts";
import type { SyncDaemonSpec, SyncRole } from "../../../src/sync/sync_config.ts";

const SERVICE = {
  protocol: "tcp",
  address: "198.51.100.10",
  port: 80,
  realServers: [{ address: "203.0.113.11", port: 80 }],
  localAddresses: ["203.0.113.201"],
};

/** Sync daemons in memory; a start on interface `failOn` fails as a missing device does. */
function fakeSync(changes?: ConfigChanges, failOn?: string) {
  const running = new Map<SyncRole, SyncDaemonSpec>();
  const calls: string[] = [];
  const ops: SyncOps = {
    list: () => Promise.resolve(sortSync([...running.values()])),
    start: async (spec) => {
      calls.push(`start ${spec.role} ${spec.mcastInterface}`);
      if (running.has(spec.role)) {
        throw new ControlError("invalid-argument", "Daemon has already run");
      }
      if (spec.mcastInterface === failOn) {
        throw new ControlError("invalid-argument", `No such device: '${failOn}'`);
      }
      running.set(spec.role, { ...spec });
      await changes?.announce("syncStart");
    },
    stop: async (role) => {
      calls.push(`stop ${role}`);
      if (!running.delete(role)) throw new ControlError("invalid-argument", "No daemon is running");
      await changes?.announce("syncStop");
    },
  };
  return { ops, running, calls };
}

const engine = () => new EngineControl(new Engine({ clock: () => 0, capacity: 16 }));

Deno.test("sync section: round trip, master first, defaults left out, none: no section", () => {
  const text = JSON.stringify({
    version: 1,
    sync: [
      { role: "backup", mcastInterface: "eth2", syncid: 5, group: "192.0.2.1" },
      { role: "master", mcastInterface: "eth2", syncid: 5, port: 8848, ttl: 1, maxlen: 0 },
    ],
    services: [SERVICE],
  });
  const doc = parseConfig(text);
  assert.deepEqual(doc.sync, [
    {
      role: "master",
      mcastInterface: "eth2",
      syncid: 5,
      maxlen: 0,
      group: "224.0.0.81",
      port: 8848,
      ttl: 1,
    },
    {
      role: "backup",
      mcastInterface: "eth2",
      syncid: 5,
      maxlen: 0,
      group: "192.0.2.1",
      port: 8848,
      ttl: 1,
    },
  ]);
  const out = formatConfig(doc);
  const back = JSON.parse(out);
  assert.deepEqual(Object.keys(back), ["version", "timeouts", "sync", "services"]);
  assert.deepEqual(back.sync, [
    { role: "master", mcastInterface: "eth2", syncid: 5 },
    { role: "backup", mcastInterface: "eth2", syncid: 5, group: "192.0.2.1" },
  ]);
  assert.equal(formatConfig(parseConfig(out)), out, "stable");
  const none = formatConfig(parseConfig(JSON.stringify({ version: 1, sync: [] })));
  assert.doesNotMatch(none, /sync/);
  assert.deepEqual(parseConfig(none).sync, []);
  // IPv6 groups come back canonical.
  const v6 = parseConfig(JSON.stringify({
    version: 1,
    sync: [{ role: "master", mcastInterface: "eth2", group: "FF02:0:0::1:2" }],
  }));
  assert.equal(v6.sync![0].group, "ff02::1:2");
});

Deno.test("sync section: every problem at its path, nothing half-read", () => {
  const r = validateConfig({
    version: 1,
    sync: [
      { role: "leader", mcastInterface: "eth2" },
      { role: "master", mcastInterface: "a very long name", syncid: 256, colour: "red" },
      { role: "backup", mcastInterface: "eth2", port: 0, ttl: 0, group: "not-an-ip" },
      { role: "backup", mcastInterface: "eth3", maxlen: -1 },
      "master",
    ],
  });
  assert.equal(r.ok, false);
  const problems = r.ok ? [] : r.problems;
  const expect = [
    /^sync\[0\]\.role: must be one of master, backup \(got "leader"\)$/,
    /^sync\[1\]\.colour: unknown field \(allowed: role, mcastInterface, syncid, maxlen, group, port, ttl\)$/,
    /^sync\[1\]\.mcastInterface: must be an interface name of 1 to 15 characters/,
    /^sync\[1\]\.syncid: must be an integer from 0 to 255 \(got 256\)$/,
    /^sync\[2\]\.port: must be an integer from 1 to 65535 \(got 0\)$/,
    /^sync\[2\]\.ttl: must be an integer from 1 to 255 \(got 0\)$/,
    /^sync\[2\]\.group: must be a multicast group or the peer's unicast address/,
    /^sync\[3\]\.maxlen: must be an integer from 0 to 65535 \(got -1\)$/,
    /^sync\[4\]: must be an object with role and mcastInterface \(got "master"\)$/,
  ];
  assert.equal(problems.length, expect.length, problems.join("\n"));
  expect.forEach((re, i) => assert.match(problems[i], re));

  const twice = validateConfig({
    version: 1,
    sync: [{ role: "master", mcastInterface: "eth2" }, { role: "master", mcastInterface: "eth3" }],
  });
  assert.deepEqual(twice.ok ? [] : twice.problems, [
    "sync[1].role: a master sync daemon is already listed at sync[0] (one per role)",
  ]);
  const notList = validateConfig({ version: 1, sync: { role: "master" } });
  assert.match((notList.ok ? [] : notList.problems)[0], /^sync: must be a list/);
});

Deno.test("planChanges(): sync daemons after the services, restarted when their settings change", () => {
  const base = { version: 1, services: [SERVICE] };
  const none = parseConfig(JSON.stringify(base));
  const one = parseConfig(JSON.stringify({
    ...base,
    sync: [{ role: "master", mcastInterface: "eth2", syncid: 5 }],
  }));
  const other = parseConfig(JSON.stringify({
    ...base,
    sync: [
      { role: "master", mcastInterface: "eth3", syncid: 5 },
      { role: "backup", mcastInterface: "eth3", group: "192.0.2.1" },
    ],
  }));
  const empty = parseConfig(JSON.stringify({ version: 1 }));
  assert.deepEqual(planChanges(empty, one).map((c) => c.text), [
    "+ service tcp 198.51.100.10:80 wrr",
    "+ rs 203.0.113.11:80 fullnat weight 1 in tcp 198.51.100.10:80",
    "+ laddr 203.0.113.201 in tcp 198.51.100.10:80",
    "+ sync master mcast eth2 syncid 5",
  ]);
  assert.deepEqual(planChanges(none, one).map((c) => c.text), [
    "+ sync master mcast eth2 syncid 5",
  ]);
  assert.deepEqual(planChanges(one, one), []);
  assert.deepEqual(planChanges(one, other).map((c) => c.text), [
    "~ sync master mcast eth2 syncid 5 -> master mcast eth3 syncid 5",
    "+ sync backup mcast eth3 group 192.0.2.1",
  ]);
  assert.deepEqual(planChanges(other, none).map((c) => c.text), [
    "- sync master mcast eth3 syncid 5",
    "- sync backup mcast eth3 group 192.0.2.1",
  ]);
});

Deno.test("applyConfig() starts, restarts and stops sync daemons; a start that fails rolls all back", async () => {
  const ctl = engine();
  const remote = localRemote(ctl);
  const sync = fakeSync();
  const doc = parseConfig(JSON.stringify({
    version: 1,
    sync: [{ role: "master", mcastInterface: "eth2", syncid: 5 }],
    services: [SERVICE],
  }));
  await applyConfig(remote, doc, { sync: sync.ops });
  assert.deepEqual([...sync.running.keys()], ["master"]);
  const text = formatConfig(await readRunning(remote, sync.ops));
  assert.equal(text, formatConfig(doc), "export reproduces what was applied");
  assert.deepEqual((await applyConfig(remote, doc, { sync: sync.ops })).changes, []);

  // A backup on an interface that is not there: refused, the new service rolled back too.
  const broken = fakeSync(undefined, "eth9");
  await applyConfig(remote, doc, { sync: broken.ops });
  const worse = parseConfig(JSON.stringify({
    version: 1,
    sync: [
      { role: "master", mcastInterface: "eth2", syncid: 5 },
      { role: "backup", mcastInterface: "eth9" },
    ],
    services: [SERVICE, { ...SERVICE, port: 443 }],
  }));
  await assert.rejects(
    async () => await applyConfig(remote, worse, { sync: broken.ops }),
    /failed at "\+ sync backup mcast eth9": No such device.*Rolled back/s,
  );
  assert.equal(ctl.listServices().length, 1, "the added service is gone again");
  assert.deepEqual([...broken.running.keys()], ["master"]);

  // A target without sync ops reads as running none and refuses a document that names some.
  const bare = localRemote(engine());
  assert.deepEqual((await readRunning(bare)).sync, []);
  await assert.rejects(
    async () => await applyConfig(bare, doc),
    /sync daemons run in the fullnat daemon; this target has none/,
  );
  assert.equal((await bare.listServices()).length, 0);

  // Stopping: a document without the section stops them.
  await applyConfig(remote, parseConfig(JSON.stringify({ version: 1, services: [SERVICE] })), {
    sync: sync.ops,
  });
  assert.equal(sync.running.size, 0);
});

Deno.test("attachPersistence(): sync daemons are saved, restored at start, one that fails is logged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-sync-section-" });
  try {
    const parts = () => {
      const changes = new ConfigChanges();
      const lines: string[] = [];
      const ops = new Map<string, (...args: unknown[]) => unknown>();
      const server: OpRegistry = { register: (op, fn) => ops.set(op, fn) };
      return { changes, lines, log: (m: string) => void lines.push(m), ops, server };
    };
    const one = parts();
    const sync1 = fakeSync(one.changes);
    const p1 = await attachPersistence(engine(), {
      stateDir: dir,
      log: one.log,
      changes: one.changes,
      sync: sync1.ops,
    });
    p1.register(one.server);
    const text = JSON.stringify({
      version: 1,
      sync: [
        { role: "master", mcastInterface: "eth2", syncid: 5 },
        { role: "backup", mcastInterface: "eth3", syncid: 5 },
      ],
      services: [SERVICE],
    });
    await one.ops.get("configApply")!(text);
    const exported = await one.ops.get("configExport")!() as string;
    assert.match(exported, /"sync": \[/);
    assert.equal(p1.store!.load()?.text, exported, "saved with its sync section");
    await p1.close();

    // Restarted: eth3 is gone; the services and the master come back, the backup is logged.
    const two = parts();
    const sync2 = fakeSync(two.changes, "eth3");
    const ctl2 = engine();
    const p2 = await attachPersistence(ctl2, {
      stateDir: dir,
      log: two.log,
      changes: two.changes,
      sync: sync2.ops,
    });
    assert.equal(ctl2.listServices().length, 1);
    assert.deepEqual([...sync2.running.keys()], ["master"]);
    assert.match(
      two.lines.join("\n"),
      /the stored backup mcast eth3 syncid 5 sync daemon did not start .*No such device/,
    );
    assert.equal(p2.store!.history().length, 1, "restoring saved nothing");
    await p2.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
