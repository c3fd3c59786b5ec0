/**
 * Sessions from a master engine to a backup engine through the sync codec: the backup's copy
 * lists the same, holds the same local port, and rewrites the next packet of either end into
 * the very bytes the master would have written (sequence delta, TOA state and all). Entries
 * the backup cannot take are counted by reason and change nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  C,
  C6,
  type Fixture,
  fullnatService,
  LIP,
  LIP2,
  RS,
  RS_PORT,
  service6,
  setup,
  tcp,
  tcp6,
  VIP,
  VIP6,
} from "../../testkit/engine_fixture.ts";
import type { PacketBuilder } from "../../testkit/packet_builder.ts";
import { Verdict } from "../nfqueue/handler.ts";
import { installSession, SyncScanner } from "./session_sync.ts";
import { decodeMessage, encodeMessages, type SyncConn } from "./wire.ts";
import { decodeFullnat } from "./fullnat_param.ts";
import { SYN_PROXY_V4 } from "../../testkit/engine_rows/syn_proxy.ts";

/** Pushes one packet through `fx`'s engine; the verdict and the bytes it wrote. */
function push(fx: Fixture, p: PacketBuilder): { verdict: Verdict; out: Uint8Array } {
  const pkt = p.build();
  const buf = new Uint8Array(pkt.length + 200);
  buf.set(pkt, 0);
  const verdict = fx.engine.handle(buf, 0, pkt.length, pkt.length + 128);
  return { verdict, out: buf.slice(0, fx.engine.outLength) };
}

/** Through the wire: encode at MTU 1500, decode, as a backup with syncid 1 reads it. */
function wire(conns: SyncConn[]): SyncConn[] {
  return encodeMessages(conns, 1, 1472).flatMap((m) => {
    const d = decodeMessage(m, 1);
    assert(d.ok);
    return d.conns;
  });
}

/** A master with one ESTABLISHED session from C:40000; its local port. */
function established(fx: Fixture): number {
  push(fx, tcp(C, VIP, 40000, 80, "S", 1000));
  const lport = fx.engine.table.lport[0];
  push(fx, tcp(RS, LIP, RS_PORT, lport, "SA", 7000, synSeq(fx) + 1));
  push(fx, tcp(C, VIP, 40000, 80, "A", 1001, 7001));
  assert.equal(fx.ctl.listConnections()[0].state, "ESTABLISHED");
  return lport;
}

/** The sequence number the master's SYN to the real server carried. */
function synSeq(fx: Fixture): number {
  return (1000 + fx.engine.table.seqDelta[0]) >>> 0;
}

const views = (fx: Fixture) => fx.ctl.listConnections().map(({ expiresInMs: _, ...v }) => v);

Deno.test("session sync: an ESTABLISHED FULLNAT session goes over and carries on on the backup", () => {
  const master = setup();
  const backup = setup({ localPortRange: [5000, 5010] });
  fullnatService(master.ctl);
  fullnatService(backup.ctl);
  const lport = established(master);
  const scanner = new SyncScanner(master.engine);
  const sent = scanner.scan(1000, 1000).conns;
  assert.equal(sent.length, 1);
  const fn = decodeFullnat(sent[0].params[0].data);
  assert(typeof fn !== "string");
  assert.equal(fn.lport, lport);
  assert.equal(fn.seqDelta, master.engine.table.seqDelta[0]);
  assert.equal(scanner.scan(1000, 1000).conns.length, 0, "nothing changed, nothing sent");

  assert.deepEqual(wire(sent).map((c) => installSession(backup.engine, c)), ["installed"]);
  assert.deepEqual(views(backup), views(master));
  const [bv, mv] = [backup.ctl.listConnections()[0], master.ctl.listConnections()[0]];
  assert(Math.abs(bv.expiresInMs - mv.expiresInMs) <= 1);
  const rsStats = (fx: Fixture) => fx.ctl.listServices()[0].realServers[0];
  assert.equal(rsStats(backup).activeConns, 1);
  assert.equal(rsStats(backup).inactiveConns, 0);

  // The next packets of both ends: the backup writes what the master writes.
  for (
    const p of [
      tcp(C, VIP, 40000, 80, "PA", 1001, 7001).payload(new Uint8Array(10)),
      tcp(RS, LIP, RS_PORT, lport, "PA", 7001, synSeq(master) + 11).payload(new Uint8Array(5)),
    ]
  ) {
    const m = push(master, p);
    const b = push(backup, p);
    assert.equal(b.verdict, Verdict.Rewritten);
    assert.deepEqual(b.out, m.out);
  }
  // The port is the session's: a new client cannot be given it on the backup.
  assert.equal(backup.engine.table.size, 1);
});

Deno.test("session sync: a state change is sent again and updates the backup's copy", () => {
  const master = setup();
  const backup = setup();
  fullnatService(master.ctl);
  fullnatService(backup.ctl);
  established(master);
  const scanner = new SyncScanner(master.engine);
  wire(scanner.scan(100, 100).conns).forEach((c) => installSession(backup.engine, c));
  push(master, tcp(C, VIP, 40000, 80, "FA", 1001, 7001));
  const again = scanner.scan(100, 100).conns;
  assert.equal(again.length, 1);
  assert.deepEqual(wire(again).map((c) => installSession(backup.engine, c)), ["updated"]);
  assert.deepEqual(views(backup), views(master));
  assert.equal(backup.ctl.listServices()[0].realServers[0].activeConns, 0);
  assert.equal(backup.ctl.listServices()[0].realServers[0].inactiveConns, 1);
  assert.equal(backup.engine.table.size, 1);
});

Deno.test("session sync: half-open sessions wait; refreshes follow half the time left", () => {
  const master = setup();
  fullnatService(master.ctl);
  push(master, tcp(C, VIP, 40000, 80, "S", 1000));
  const scanner = new SyncScanner(master.engine);
  assert.equal(scanner.scan(100, 100).conns.length, 0, "SYN_RECV is not synced, as in IPVS");
  const lport = master.engine.table.lport[0];
  push(master, tcp(RS, LIP, RS_PORT, lport, "SA", 7000, synSeq(master) + 1));
  push(master, tcp(C, VIP, 40000, 80, "A", 1001, 7001));
  assert.equal(scanner.scan(100, 100).conns.length, 1);
  const timeout = master.engine.timeoutMs(0);
  master.clock.ms += timeout / 2 - 1000;
  push(master, tcp(C, VIP, 40000, 80, "A", 1001, 7001));
  assert.equal(scanner.scan(100, 100).conns.length, 0, "not yet half the time it had");
  master.clock.ms += 1000;
  assert.equal(scanner.scan(100, 100).conns.length, 1);
  master.clock.ms += timeout / 2;
  assert.equal(scanner.scan(100, 100).conns.length, 0, "idle: the backup's copy ends with it");
});

Deno.test("session sync: entries the backup cannot take are refused by reason and change nothing", () => {
  const master = setup();
  fullnatService(master.ctl);
  established(master);
  const [conn] = wire(new SyncScanner(master.engine).scan(100, 100).conns);

  const noService = setup();
  assert.equal(installSession(noService.engine, conn), "service unknown");
  const otherLocal = setup();
  fullnatService(otherLocal.ctl, [RS], [LIP2]);
  assert.equal(installSession(otherLocal.engine, conn), "local address unknown");
  const otherServer = setup();
  fullnatService(otherServer.ctl, ["203.0.113.99"]);
  assert.equal(installSession(otherServer.engine, conn), "real server unknown");
  const nat = setup();
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  nat.ctl.addService(key, { scheduler: "rr", persistence: 0 });
  nat.ctl.addRealServer(key, { address: RS, port: RS_PORT, weight: 1, method: "nat" });
  assert.equal(installSession(nat.engine, conn), "forwarding method differs");
  const plain = setup();
  fullnatService(plain.ctl);
  assert.equal(installSession(plain.engine, { ...conn, params: [] }), "no fullnat parameter");
  assert.equal(
    installSession(plain.engine, { ...conn, params: [{ type: 0x46, data: new Uint8Array(3) }] }),
    "bad fullnat parameter",
  );
  assert.equal(installSession(plain.engine, { ...conn, flags: conn.flags | 0x1000 }), "template");
  for (const fx of [noService, otherLocal, otherServer, nat, plain]) {
    assert.equal(fx.engine.table.size, 0);
  }
  // The local port held by another client's session on the backup.
  const busy = setup();
  fullnatService(busy.ctl);
  const lport = conn.params[0].data[4] << 8 | conn.params[0].data[5];
  for (let p = 41000; busy.engine.table.size === 0 || busy.engine.table.lport[0] !== lport; p++) {
    busy.engine.table.size > 0 && busy.engine.removeSession(0);
    push(busy, tcp(C, VIP, p, 80, "S", 1));
  }
  assert.equal(installSession(busy.engine, conn), "local port in use");
  assert.equal(busy.engine.table.size, 1);
});

Deno.test("session sync: IPv6 sessions go over too", () => {
  const master = setup();
  const backup = setup();
  service6(master.ctl);
  service6(backup.ctl);
  push(master, tcp6(C6, VIP6, 40000, 80, "S", 1000));
  const t = master.engine.table;
  const rs6 = "2001:db8:b::11";
  push(
    master,
    tcp6(rs6, "2001:db8:b::201", RS_PORT, t.lport[0], "SA", 7000, (1000 + t.seqDelta[0] + 1) >>> 0),
  );
  push(master, tcp6(C6, VIP6, 40000, 80, "A", 1001, 7001));
  const sent = wire(new SyncScanner(master.engine).scan(100, 100).conns);
  assert.equal(sent.length, 1);
  assert(sent[0].v6);
  assert.deepEqual(sent.map((c) => installSession(backup.engine, c)), ["installed"]);
  assert.deepEqual(views(backup), views(master));
});

Deno.test("session sync: a synced session is not echoed back until traffic on this box changes it", () => {
  const master = setup();
  const backup = setup();
  fullnatService(master.ctl);
  fullnatService(backup.ctl);
  established(master);
  const sent = wire(new SyncScanner(master.engine).scan(100, 100).conns);
  // The backup's own master, running before the session came (markSent) or started after it.
  const before = new SyncScanner(backup.engine);
  assert.deepEqual(
    sent.map((c) => installSession(backup.engine, c, (id) => before.markSent(id))),
    ["installed"],
  );
  const after = new SyncScanner(backup.engine);
  assert.equal(before.scan(100, 100).conns.length, 0);
  assert.equal(after.scan(100, 100).conns.length, 0);
  // Failed over: the client's FIN now goes through the backup, which sends the change on.
  push(backup, tcp(C, VIP, 40000, 80, "FA", 1001, 7001));
  assert.equal(before.scan(100, 100).conns.length, 1);
  assert.equal(after.scan(100, 100).conns.length, 1);
});

Deno.test("session sync: --sync-refresh sends an idle session of its own again, not a synced one", () => {
  const master = setup();
  const backup = setup();
  fullnatService(master.ctl);
  fullnatService(backup.ctl);
  established(master);
  const scanner = new SyncScanner(master.engine);
  const sent = wire(scanner.scan(100, 100, 10_000).conns);
  assert.equal(sent.length, 1);
  master.clock.ms += 9_999;
  assert.equal(scanner.scan(100, 100, 10_000).conns.length, 0, "not yet the refresh period");
  assert.equal(scanner.scan(100, 100, 0).conns.length, 0);
  master.clock.ms += 1;
  assert.equal(scanner.scan(100, 100, 0).conns.length, 0, "no refresh: idle stays unsent");
  const again = wire(scanner.scan(100, 100, 10_000).conns);
  assert.equal(again.length, 1, "idle, sent again after the refresh period");
  assert.equal(scanner.scan(100, 100, 10_000).conns.length, 0, "and then not at once again");
  // On the backup the session came by sync: its master refreshes it, the backup does not echo.
  const peer = new SyncScanner(backup.engine);
  sent.forEach((c) => installSession(backup.engine, c, (id) => peer.markSent(id)));
  backup.clock.ms += 60_000;
  assert.equal(peer.scan(100, 100, 10_000).conns.length, 0, "a synced idle session is not echoed");
});

Deno.test("session sync: a session reopened by a new SYN is sent again even in the state last sent", () => {
  const master = setup();
  fullnatService(master.ctl);
  const lport = established(master);
  const scanner = new SyncScanner(master.engine);
  assert.equal(scanner.scan(100, 100).conns.length, 1);
  push(master, tcp(C, VIP, 40000, 80, "R", 1001));
  assert.equal(scanner.scan(100, 100).conns.length, 1, "CLOSE");
  // Between two scans: the tuple reopened with a new ISN, established and reset again.
  push(master, tcp(C, VIP, 40000, 80, "S", 90_000));
  assert.equal(master.engine.table.lport[0], lport);
  const syn = (90_000 + master.engine.table.seqDelta[0]) >>> 0;
  push(master, tcp(RS, LIP, RS_PORT, lport, "SA", 50_000, syn + 1));
  push(master, tcp(C, VIP, 40000, 80, "A", 90_001, 50_001));
  push(master, tcp(C, VIP, 40000, 80, "R", 90_001));
  const again = wire(scanner.scan(100, 100).conns);
  assert.equal(again.length, 1, "the new connection's mapping goes over");
  const fn = decodeFullnat(again[0].params[0].data);
  assert(typeof fn !== "string" && fn !== undefined);
  assert.equal(fn.clientIsn, 90_000);
});

Deno.test("session sync: a SYN proxy session carries its second delta, timestamps and window scale", () => {
  const sent: Uint8Array[] = [];
  const emit = (b: Uint8Array, o: number, n: number) => void sent.push(b.slice(o, o + n));
  const master = setup({ emit });
  const backup = setup({ emit });
  for (const fx of [master, backup]) {
    const key = fullnatService(fx.ctl);
    fx.ctl.editService(key, { synProxy: true, stripTimestamps: false });
  }
  // The scenario's handshake and first data on the master (its rows are checked elsewhere).
  for (const row of SYN_PROXY_V4.rows(master.clock.ms)) {
    row.before?.(master);
    push(master, row.input);
  }
  const scan = new SyncScanner(master.engine).scan(1000, 1000).conns;
  assert.equal(scan.length, 1);
  const fn = decodeFullnat(scan[0].params[0].data);
  assert(typeof fn !== "string");
  const t = master.engine.table;
  assert.deepEqual(fn.proxy, { seq: t.proxySeq[0], ts: t.proxyTs[0], wscale: t.proxyWscale[0] });
  assert.deepEqual(wire(scan).map((c) => installSession(backup.engine, c)), ["installed"]);
  const lport = t.lport[0];
  for (
    const p of [
      tcp(RS, LIP, RS_PORT, lport, "PA", 7009, 0).payload(new Uint8Array(5)),
      tcp(C, VIP, 40000, 80, "PA", 104, 12345).payload(new Uint8Array(10)),
    ]
  ) {
    const m = push(master, p);
    const b = push(backup, p);
    assert.equal(b.verdict, Verdict.Rewritten);
    assert.deepEqual(b.out, m.out);
  }
});
