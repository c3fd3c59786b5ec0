/**
 * The daemon hooks against a real engine: restore on start, save after each mutating op, the
 * configExport / configApply ops, and a stored document that turned invalid.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { ControlError } from "../../../src/fullnat/types.ts";
import { attachPersistence, type OpRegistry } from "../../../src/persist/attach.ts";
import { ConfigStore } from "../../../src/persist/store.ts";

const A = { protocol: "tcp" as const, address: "198.51.100.10", port: 80 };

function daemonParts() {
  const ctl = new EngineControl(new Engine({ clock: () => 0, capacity: 16 }));
  const lines: string[] = [];
  const ops = new Map<string, (...args: unknown[]) => unknown>();
  const server: OpRegistry = { register: (op, fn) => ops.set(op, fn) };
  return { ctl, lines, log: (m: string) => void lines.push(m), ops, server };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-attach-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const DOC = JSON.stringify({
  version: 1,
  timeouts: { tcpEstablished: 600 },
  services: [{
    ...A,
    scheduler: "rr",
    realServers: [{ address: "203.0.113.11", port: 80 }, { address: "203.0.113.12", port: 80 }],
    localAddresses: ["203.0.113.201"],
  }],
});

Deno.test("attachPersistence() saves after mutating ops and a restarted daemon restores it", () =>
  withDir(async (dir) => {
    const one = daemonParts();
    const p1 = await attachPersistence(one.ctl, { stateDir: dir, log: one.log });
    assert.match(one.lines.join("\n"), /no stored configuration .* starting empty/);
    await p1.target.addService(A, { scheduler: "wrr", persistence: 0 });
    await p1.target.addRealServer(A, {
      address: "203.0.113.11",
      port: 80,
      weight: 4,
      method: "fullnat",
    });
    await p1.target.setTimeouts({ udp: 30 });
    await assert.rejects(
      async () => await p1.target.addService(A, { scheduler: "rr", persistence: 0 }),
      ControlError,
    );
    p1.target.listServices();
    p1.target.zeroStats();
    const history = p1.store!.history();
    assert.deepEqual(history.map((v) => v.reason), ["setTimeouts", "addRealServer", "addService"]);
    await p1.close();

    const two = daemonParts();
    const p2 = await attachPersistence(two.ctl, { stateDir: dir, log: two.log });
    assert.match(
      two.lines.join("\n"),
      /restored configuration version 3 .*\(setTimeouts\).*1 service\(s\), 1 real server\(s\), 0 local address\(es\)/,
    );
    assert.deepEqual(
      two.ctl.listServices().map((s) => [s.address, s.scheduler, s.realServers[0].weight]),
      [[A.address, "wrr", 4]],
    );
    assert.equal(two.ctl.getTimeouts().udp, 30);
    // Restoring is not a change: nothing new was saved.
    assert.equal(p2.store!.history().length, 3);
    await p2.close();
  }));

Deno.test("configApply and configExport ops: dry run, apply, export, refusals", () =>
  withDir(async (dir) => {
    const d = daemonParts();
    const p = await attachPersistence(d.ctl, { stateDir: dir, log: d.log });
    p.register(d.server);
    const apply = d.ops.get("configApply")!;
    const exportOp = d.ops.get("configExport")!;

    const dry = await apply(DOC, { dryRun: true }) as { changes: string[] };
    assert.equal(dry.changes.length, 5, dry.changes.join("\n"));
    assert.equal(d.ctl.listServices().length, 0, "dry run applied nothing");
    assert.equal(p.store!.history().length, 0);

    const done = await apply(DOC) as { changes: string[] };
    assert.deepEqual(done.changes, dry.changes);
    const text = await exportOp() as string;
    assert.equal(p.store!.load()?.text, text, "saved what is exported");
    assert.equal(p.store!.load()?.reason, "configApply");
    assert.match(text, /"tcpEstablished": 600/);
    assert.deepEqual(await apply(text), { changes: [] });
    assert.equal(await exportOp(), text);

    const bad = JSON.stringify({ version: 1, services: [{ ...A, port: 0, scheduler: "sed" }] });
    await assert.rejects(async () => await apply(bad), (e: unknown) => {
      assert.ok(e instanceof ControlError);
      assert.equal(e.code, "invalid-argument");
      assert.match(e.message, /services\[0\]\.port: .*\n.*services\[0\]\.scheduler: /);
      return true;
    });
    await assert.rejects(async () => await apply(42), /document text as a string/);
    await assert.rejects(async () => await apply(DOC, { dryrun: true }), /dryRun\?: boolean/);
    assert.equal(await exportOp(), text, "refusals changed nothing");
    assert.equal(p.store!.history().length, 1);
    await p.close();
  }));

Deno.test("attachPersistence() sets an invalid stored document aside and starts empty", () =>
  withDir(async (dir) => {
    const store = ConfigStore.open(`${dir}/config.db`);
    store.save(DOC.replace('"rr"', '"sed"'), "hand edit");
    store.close();
    const d = daemonParts();
    const p = await attachPersistence(d.ctl, { stateDir: dir, log: d.log });
    const log = d.lines.join("\n");
    assert.match(
      log,
      /stored configuration version 1 .* is invalid, starting empty; the file is kept as .*config\.db\.bad-/,
    );
    assert.match(
      log,
      /services\[0\]\.scheduler: must be one of rr, wrr, lc, wlc, dh, sh, mh \(got "sed"\)/,
    );
    assert.equal(d.ctl.listServices().length, 0);
    const aside = readdirSync(dir).filter((f) => f.startsWith("config.db.bad-"));
    assert.equal(aside.length, 1);
    assert.equal(p.store!.load(), undefined, "a fresh store");
    await p.close();
  }));

Deno.test("attachPersistence() with persistence off serves the ops and writes nothing", async () => {
  const d = daemonParts();
  const p = await attachPersistence(d.ctl, { stateDir: null, log: d.log });
  p.register(d.server);
  assert.equal(p.store, undefined);
  assert.match(d.lines.join("\n"), /persistence is off/);
  await d.ops.get("configApply")!(DOC);
  assert.equal(d.ctl.listServices().length, 1);
  await p.target.deleteService(A);
  assert.equal(d.ctl.listServices().length, 0);
});

Deno.test("attachPersistence() says how to fix a state directory it cannot use", () =>
  withDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "");
    const d = daemonParts();
    await assert.rejects(
      () => attachPersistence(d.ctl, { stateDir: `${dir}/file`, log: d.log }),
      /cannot open the configuration store .*--state-dir DIR.*--no-persist/,
    );
    assert.equal(existsSync(`${dir}/file/config.db`), false);
  }));

Deno.test("a change applied with confirmWithin rolls back when the daemon restarts unconfirmed", () =>
  withDir(async (dir) => {
    const one = daemonParts();
    const p1 = await attachPersistence(one.ctl, { stateDir: dir, log: one.log });
    p1.register(one.server);
    await one.ops.get("configApply")!(DOC, {});
    const changed = DOC.replace('"rr"', '"wlc"');
    const r = await one.ops.get("configApply")!(changed, { confirmWithin: 600 }) as {
      confirmBy: string;
    };
    assert.equal(typeof r.confirmBy, "string");
    assert.equal(p1.versions.status().pendingConfirm?.previousId, 1);
    // The daemon stops inside the window (a crash, a restart, a reboot).
    await p1.close();

    const two = daemonParts();
    const p2 = await attachPersistence(two.ctl, { stateDir: dir, log: two.log });
    assert.equal(two.ctl.listServices()[0].scheduler, "rr");
    assert.match(two.lines.join("\n"), /rolled back to version 1 \(the daemon restarted/);
    assert.equal(
      p2.store!.history()[0].reason,
      "rollback to 1: the daemon restarted before it was confirmed",
    );
    assert.equal(p2.versions.status().confirmRollbacks, 1);
    assert.equal(p2.versions.status().pendingConfirm, null);
    await assert.rejects(
      async () => await one.ops.get("configApply")!(DOC, { dryRun: true, confirmWithin: 5 }),
      /nothing to confirm/,
    );
    await p2.close();
  }));
