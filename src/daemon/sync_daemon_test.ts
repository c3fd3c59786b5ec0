/**
 * Two {@linkcode SyncDaemons} over the loopback interface, each over engines standing in for
 * its workers (`EngineOps`, as a worker answers): a session made on the master's engine shows
 * on the backup's; signed messages are checked, and forged, foreign and malformed datagrams are
 * counted and change nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { EngineOps } from "./engine_ops.ts";
import { SyncDaemons, type SyncWorkers } from "./sync_daemon.ts";
import {
  C,
  type Fixture,
  fullnatService,
  LIP,
  RS,
  RS_PORT,
  setup,
  tcp,
  VIP,
} from "../../testkit/engine_fixture.ts";
import { ControlError } from "../fullnat/types.ts";
import { encodeMessages } from "../sync/wire.ts";

const lo = (): Deno.NetworkInterfaceInfo[] => [{
  name: "lo",
  family: "IPv4",
  address: "127.0.0.1",
  netmask: "255.0.0.0",
  scopeid: null,
  cidr: "127.0.0.1/8",
  mac: "00:00:00:00:00:00",
}];

function workers(fx: Fixture): SyncWorkers {
  const ops = new EngineOps(fx.ctl);
  return {
    size: 1,
    call: (_i, op, args = []) => Promise.resolve(ops.answer(op, args)!.result),
  };
}

function push(fx: Fixture, p: ReturnType<typeof tcp>) {
  const pkt = p.build();
  const buf = new Uint8Array(pkt.length + 200);
  buf.set(pkt);
  fx.engine.handle(buf, 0, pkt.length, pkt.length + 128);
}

async function until(what: string, f: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

Deno.test("sync daemons: a master's session appears on the backup; bad datagrams change nothing", async () => {
  const key = new TextEncoder().encode("0123456789abcdef-test-key");
  const master = setup({ capacity: 64 });
  const backup = setup({ capacity: 64 });
  fullnatService(master.ctl);
  fullnatService(backup.ctl);
  const log = (_: string) => {};
  const port = await freePort();
  const m = new SyncDaemons({
    workers: workers(master),
    localPorts: [[5000, 5010]],
    key,
    log,
    interfaces: lo,
  });
  const b = new SyncDaemons({
    workers: workers(backup),
    localPorts: [[5000, 5010]],
    key,
    log,
    interfaces: lo,
  });
  const spec = { mcastInterface: "lo", syncid: 7, maxlen: 0, group: "127.0.0.1", port, ttl: 1 };
  const raw = dgram.createSocket("udp4");
  try {
    await b.start({ ...spec, role: "backup" });
    await m.start({ ...spec, role: "master" });
    await assert.rejects(() => m.start({ ...spec, role: "master" }), ControlError);
    assert.deepEqual(m.list().map((d) => d.line), [
      `master sync daemon (mcast=lo, syncid=7, maxlen=1472, group=127.0.0.1, port=${port}, ttl=1)`,
    ]);

    push(master, tcp(C, VIP, 40000, 80, "S", 1000));
    const lport = master.engine.table.lport[0];
    push(
      master,
      tcp(RS, LIP, RS_PORT, lport, "SA", 7000, (1001 + master.engine.table.seqDelta[0]) >>> 0),
    );
    push(master, tcp(C, VIP, 40000, 80, "A", 1001, 7001));
    await until("the session on the backup", () => backup.engine.table.size === 1);
    const strip = (f: Fixture) => f.ctl.listConnections().map(({ expiresInMs: _, ...v }) => v);
    assert.deepEqual(strip(backup), strip(master));
    const bc = () => b.list()[0].backup!;
    assert.equal(bc().entries.installed, 1);
    assert.equal(m.list()[0].master!.entries, 1);

    // Unsigned, forged, other syncid, malformed: each counted, nothing installed.
    const send = (bytes: Uint8Array) =>
      new Promise<void>((r) => raw.send(bytes, port, "127.0.0.1", () => r()));
    const msgs = bc().messages;
    const forged = encodeMessages(
      [{
        v6: false,
        protocol: 6,
        flags: 5,
        state: 1,
        cport: 1,
        vport: 80,
        dport: RS_PORT,
        fwmark: 0,
        timeout: 900,
        caddr: [0x0a000001],
        vaddr: [0xc633640a],
        daddr: [0xcb00710b],
        params: [],
      }],
      7,
      1472,
    )[0];
    await send(forged);
    const signedWrong = (await import("../sync/auth.ts")).signMessage(
      forged,
      new TextEncoder().encode("not the key at all!"),
      1,
      1,
    );
    await send(signedWrong);
    const other = signedWrong.slice();
    other[1] = 8;
    await send(other);
    await send(new Uint8Array([1, 2, 3]));
    await until("four datagrams counted", () => bc().messages === msgs + 4);
    assert.deepEqual(bc().refused, { unsigned: 1, forged: 1, "other-syncid": 1, short: 1 });
    assert.equal(backup.engine.table.size, 1);
    // Signed with the key: read (and refused on its merits); played again: refused whole.
    const genuine = (await import("../sync/auth.ts")).signMessage(forged, key, 5, 1);
    await send(genuine);
    await send(genuine);
    await until("two more datagrams counted", () => bc().messages === msgs + 6);
    assert.equal(bc().refused.replayed, 1);
    assert.equal(bc().entries["no fullnat parameter"], 1);
    assert.equal(backup.engine.table.size, 1);

    m.stop("master");
    assert.throws(() => m.stop("master"), /No daemon is running/);
  } finally {
    raw.close();
    m.close();
    b.close();
  }
});
