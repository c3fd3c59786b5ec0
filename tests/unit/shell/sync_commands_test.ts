/**
 * `sync start|stop|show` in a shell session against an in-process daemon that serves the sync
 * ops over real {@linkcode SyncDaemons} on the loopback interface (workers with no sessions):
 * what they print and the status of mistakes.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { SyncDaemons } from "../../../src/daemon/sync_daemon.ts";
import { checkSyncRole, checkSyncSpec } from "../../../src/sync/sync_config.ts";
import { shellSession, startDaemon } from "./fixture.ts";

const lo = () => [{
  name: "lo",
  family: "IPv4" as const,
  address: "127.0.0.1",
  netmask: "255.0.0.0",
  scopeid: null,
  cidr: "127.0.0.1/8",
  mac: "00:00:00:00:00:00",
}];

async function freePort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

Deno.test("sync start|show|stop: ipvsadm's line, counters, config export, mistakes", async () => {
  const daemons = new SyncDaemons({
    workers: { size: 1, call: () => Promise.resolve([]) },
    localPorts: [[5000, 5999]],
    log: () => {},
    interfaces: lo,
  });
  const d = await startDaemon({
    ops: () => ({
      syncStart: (spec) => daemons.start(checkSyncSpec(spec)),
      syncStop: (role) => daemons.stop(checkSyncRole(role)),
      syncList: () => daemons.list(),
    }),
  });
  const s = shellSession(d.socket);
  const port = await freePort();
  try {
    assert.deepEqual(await s.run("sync show"), { code: 0, out: "no sync daemon runs", err: "" });
    const start = await s.run(
      `sync start backup --mcast-interface lo --syncid 5 --mcast-group 127.0.0.1 --mcast-port ${port}`,
    );
    assert.deepEqual(start, { code: 0, out: "", err: "" });
    const show = await s.run("sync show");
    assert.equal(show.code, 0);
    assert.equal(
      show.out,
      `backup sync daemon (mcast=lo, syncid=5, maxlen=65507, group=127.0.0.1, port=${port}, ` +
        `ttl=1)\n  received 0 message(s), 0 bytes; refused: none\n  entries: none`,
    );
    const json = JSON.parse((await s.run("sync show --json")).out);
    assert.equal(json[0].spec.syncid, 5);

    // (The daemon's saving and export of them: tests/unit/persist/sync_section_test.ts.)
    const again = await s.run(`sync start backup --mcast-interface lo --mcast-port ${port}`);
    assert.equal(again.code, 2);
    assert.match(again.err, /^error: the daemon refused: Daemon has already run$/);
    const noIf = await s.run("sync start master");
    assert.notEqual(noIf.code, 0);
    assert.match(noIf.err, /required option '--mcast-interface <if>' not specified/);
    const role = await s.run("sync start leader --mcast-interface lo");
    assert.notEqual(role.code, 0);
    assert.match(
      role.err,
      /value 'leader' is invalid for argument 'role'\. Allowed choices are master, backup/,
    );
    const ttl = await s.run("sync start master --mcast-interface lo --mcast-ttl 0");
    assert.notEqual(ttl.code, 0);
    assert.match(ttl.err, /invalid mcast-ttl: must be 1-255/);
    const missing = await s.run("sync start master --mcast-interface eth9");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /No such device: no IPv4 address on mcast interface 'eth9'/);

    assert.deepEqual(await s.run("sync stop backup"), { code: 0, out: "", err: "" });
    const none = await s.run("sync stop backup");
    assert.equal(none.code, 2);
    assert.match(none.err, /No daemon is running/);
  } finally {
    daemons.close();
    await s.close();
    await d.dispose();
  }
});
