/**
 * Health state in the engine (health_state.ts): a server held down gets no new connection and
 * keeps its sessions, inhibit_on_failure keeps it listed at weight 0, the configured weight is
 * never rewritten, and the sorry server serves alone while the quorum is lost; the hashing
 * tables leave a removed server out.
 */
import assert from "node:assert/strict";
import { C, RS, RS2, RS_PORT, setup, tcp, VIP } from "../../testkit/engine_fixture.ts";
import { Verdict } from "../nfqueue/handler.ts";
import type { Fixture } from "../../testkit/engine_fixture.ts";
import { ControlError, type SchedulerName, type ServiceKey } from "./types.ts";
import type { SchedulerFlag } from "../vocab/mod.ts";

const RS3 = "203.0.113.13";
const SORRY = "203.0.113.99";
const LIP = "203.0.113.201";

function service(
  fx: Fixture,
  scheduler: SchedulerName = "rr",
  schedulerFlags: SchedulerFlag[] = [],
): ServiceKey {
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  fx.ctl.addService(key, { scheduler, schedulerFlags, persistence: 0 });
  for (const a of [RS, RS2, RS3]) {
    fx.ctl.addRealServer(key, { address: a, port: RS_PORT, weight: 1, method: "fullnat" });
  }
  fx.ctl.addLocalAddress(key, LIP);
  return key;
}

/** Sends a packet from the client port `cport` to the VIP; returns the verdict. */
function send(fx: Fixture, cport: number, flags: string, seq = 1000): Verdict {
  const pkt = tcp(C, VIP, cport, 80, flags, seq).build();
  const buf = new Uint8Array(pkt.length + 256);
  buf.set(pkt, 0);
  return fx.engine.handle(buf, 0, pkt.length, buf.length);
}

/** Opens connections from ports `from`.. and returns the real server of each. */
function connect(fx: Fixture, from: number, n: number): string[] {
  const out: string[] = [];
  for (let p = from; p < from + n; p++) {
    assert.equal(send(fx, p, "S"), Verdict.Rewritten, `SYN from ${p}`);
    const c = fx.ctl.listConnections().find((x) => x.client.port === p);
    out.push(c!.real.address);
  }
  return out;
}

const down = (a: string) => ({ address: a, port: RS_PORT, up: false });
const up = (a: string) => ({ address: a, port: RS_PORT, up: true });

Deno.test("Engine health: a down server gets no new connection, keeps its sessions and its configured weight", () => {
  const fx = setup();
  const key = service(fx);
  connect(fx, 40000, 3);
  fx.ctl.setHealth(key, { servers: [down(RS2)] });
  const picks = connect(fx, 41000, 6);
  assert.ok(!picks.includes(RS2), `RS2 got ${picks}`);
  // Its established session still forwards (the client's ACK is rewritten, not refused).
  assert.equal(send(fx, 40001, "A", 1001), Verdict.Rewritten);
  const view = fx.ctl.listServices()[0].realServers.find((r) => r.address === RS2)!;
  assert.equal(view.weight, 1, "configured weight kept");
  assert.equal(view.currentWeight, 0);
  assert.equal(view.up, false);
  assert.equal(view.listed, false, "not inhibited: out of the listing");
  // Back up: it takes connections again.
  fx.ctl.setHealth(key, { servers: [up(RS2)] });
  assert.ok(connect(fx, 42000, 3).includes(RS2));
});

Deno.test("Engine health: inhibitOnFailure keeps a down server listed at weight 0", () => {
  const fx = setup();
  const key = service(fx);
  fx.ctl.editRealServer(key, { address: RS, port: RS_PORT, inhibitOnFailure: true });
  fx.ctl.setHealth(key, { servers: [down(RS)] });
  const view = fx.ctl.listServices()[0].realServers.find((r) => r.address === RS)!;
  assert.deepEqual([view.listed, view.currentWeight, view.weight], [true, 0, 1]);
  // An edit of its weight while down changes the configured weight only.
  fx.ctl.editRealServer(key, { address: RS, port: RS_PORT, weight: 5 });
  const after = fx.ctl.listServices()[0].realServers.find((r) => r.address === RS)!;
  assert.deepEqual([after.weight, after.currentWeight], [5, 0]);
  fx.ctl.setHealth(key, { servers: [up(RS)] });
  const back = fx.ctl.listServices()[0].realServers.find((r) => r.address === RS)!;
  assert.equal(back.currentWeight, 5);
});

Deno.test("Engine health: a dynamic weight replaces the configured one while set", () => {
  const fx = setup();
  const key = service(fx, "wrr");
  fx.ctl.setHealth(key, { servers: [{ address: RS, port: RS_PORT, up: true, weight: 0 }] });
  assert.ok(!connect(fx, 40000, 6).includes(RS));
  fx.ctl.setHealth(key, { servers: [{ address: RS, port: RS_PORT, up: true, weight: null }] });
  assert.ok(connect(fx, 41000, 6).includes(RS));
});

Deno.test("Engine health: the sorry server serves alone while the quorum is lost", () => {
  const fx = setup();
  const key = service(fx);
  fx.ctl.editService(key, { sorryServer: { address: SORRY, port: 80, method: "fullnat" } });
  let svc = fx.ctl.listServices()[0];
  assert.equal(svc.realServers.length, 3, "the sorry server is not a real server");
  assert.equal(svc.sorryServer?.active, false);
  assert.ok(!connect(fx, 40000, 3).includes(SORRY), "no connection while the quorum holds");
  fx.ctl.setHealth(key, { servers: [down(RS), down(RS2)], quorumUp: false });
  assert.deepEqual(connect(fx, 41000, 3), [SORRY, SORRY, SORRY], "live RS3 displaced too");
  svc = fx.ctl.listServices()[0];
  assert.equal(svc.sorryServer?.active, true);
  assert.equal(svc.sorryServer?.activeConns! + svc.sorryServer?.inactiveConns!, 3);
  assert.deepEqual(svc.realServers.map((r) => r.listed), [false, false, false]);
  fx.ctl.setHealth(key, { servers: [up(RS)], quorumUp: true });
  const picks = connect(fx, 42000, 4);
  assert.ok(!picks.includes(SORRY) && picks.includes(RS3), String(picks));
  // The sorry server cannot be a real server too, either way round.
  assert.throws(
    () => fx.ctl.addRealServer(key, { address: SORRY, port: 80, weight: 1, method: "fullnat" }),
    /sorry server/,
  );
  assert.throws(
    () => fx.ctl.editService(key, { sorryServer: { address: RS, port: RS_PORT, method: "nat" } }),
    /real servers/,
  );
  fx.ctl.editService(key, { sorryServer: null });
  assert.equal(fx.ctl.listServices()[0].sorryServer, undefined);
});

Deno.test("Engine health: a lost quorum without a sorry server changes no weight", () => {
  const fx = setup();
  const key = service(fx);
  fx.ctl.setHealth(key, { quorumUp: false });
  assert.equal(connect(fx, 40000, 3).length, 3);
  assert.deepEqual(fx.ctl.listServices()[0].realServers.map((r) => r.currentWeight), [1, 1, 1]);
});

Deno.test("Engine health: mh and sh give a removed server's clients to the others; inhibited ones keep their places", () => {
  // The port flag spreads one client's connections over the table, as many clients would.
  for (const [scheduler, flag] of [["mh", "mh-port"], ["sh", "sh-port"]] as const) {
    const fx = setup({ capacity: 256, localPortRange: [5000, 5300] });
    const key = service(fx, scheduler, [flag]);
    fx.ctl.setHealth(key, { servers: [down(RS2)] });
    // Every client is served: without a fallback flag a place kept at weight 0 would refuse.
    const picks = connect(fx, 40000, 30);
    assert.ok(!picks.includes(RS2), `${scheduler}: ${picks}`);
    assert.equal(fx.engine.counters.noRealServer, 0, scheduler);
    fx.ctl.setHealth(key, { servers: [up(RS2)] });
    assert.ok(connect(fx, 41000, 30).includes(RS2), `${scheduler}: RS2 back`);

    // Inhibited (weight 0, listed): its places are kept, as IPVS keeps a weight-0 server's,
    // so without a fallback flag its clients are refused and no other client moves.
    const fx2 = setup({ capacity: 256, localPortRange: [5000, 5300] });
    const key2 = service(fx2, scheduler, [flag]);
    fx2.ctl.editRealServer(key2, { address: RS2, port: RS_PORT, inhibitOnFailure: true });
    fx2.ctl.setHealth(key2, { servers: [down(RS2)] });
    for (let p = 40000; p < 40030; p++) send(fx2, p, "S");
    assert.ok(fx2.engine.counters.noRealServer > 0, `${scheduler}: refused some`);
    assert.ok(!fx2.ctl.listConnections().some((c) => c.real.address === RS2));
  }
});

Deno.test("Engine health: setHealth refuses what it cannot apply and changes nothing", () => {
  const fx = setup();
  const key = service(fx);
  assert.throws(
    () => fx.ctl.setHealth(key, { servers: [down(RS), down("203.0.113.77")] }),
    (e) => e instanceof ControlError && e.code === "no-dest",
  );
  assert.equal(fx.ctl.listServices()[0].realServers[0].up, true, "the valid entry not applied");
  assert.throws(
    () => fx.ctl.setHealth(key, { servers: [{ address: RS, port: RS_PORT, up: "no" as never }] }),
    /up must be true or false/,
  );
  assert.throws(
    () => fx.ctl.setHealth({ ...key, port: 81 }, { quorumUp: false }),
    (e) => e instanceof ControlError && e.code === "no-service",
  );
});

Deno.test("Engine health: checks and inhibitOnFailure are validated and listed as configured", () => {
  const fx = setup();
  const key = service(fx);
  fx.ctl.editRealServer(key, {
    address: RS,
    port: RS_PORT,
    checks: [{ type: "http", delayLoop: 2, urls: [{ path: "/health" }] } as never],
  });
  const rs = fx.ctl.listServices()[0].realServers[0];
  assert.equal(rs.checks?.[0].delayLoop, 2);
  assert.equal(rs.checks?.[0].connectTimeout, 5, "defaults filled in");
  assert.throws(
    () =>
      fx.ctl.editRealServer(key, {
        address: RS,
        port: RS_PORT,
        checks: [{ type: "http" } as never],
      }),
    /checks\[0\]\.urls/,
  );
  assert.equal(fx.ctl.listServices()[0].realServers[0].checks?.[0].delayLoop, 2, "unchanged");
  assert.throws(
    () => fx.ctl.editService(key, { quorum: 0 }),
    /Quorum must be an integer from 1/,
  );
});

Deno.test("Engine health: a persistent client leaves a server its checks hold down, inhibited or not", () => {
  for (const inhibit of [true, false]) {
    const fx = setup();
    const key = service(fx);
    fx.ctl.editService(key, { persistence: 300 });
    fx.ctl.editRealServer(key, { address: RS, port: RS_PORT, inhibitOnFailure: inhibit });
    const [first] = connect(fx, 43000, 1);
    // The template sticks while the server is up...
    assert.deepEqual(connect(fx, 43100, 3), [first, first, first], `inhibit ${inhibit}`);
    fx.ctl.setHealth(key, { servers: [down(first)] });
    // ...and is not followed once its checks take it down (IPVS would follow a quiesced
    // server's template with expire_quiescent_template off; a failed server must get none).
    const after = connect(fx, 43200, 3);
    assert.ok(!after.includes(first), `inhibit ${inhibit}: ${after}`);
    assert.equal(new Set(after).size, 1, "a new template holds the client again");
  }
});

Deno.test("Engine health: expireNodestConn ends a session of a server its checks took out", () => {
  const fx = setup();
  const key = service(fx);
  fx.ctl.setTunables({ expireNodestConn: true });
  const [first] = connect(fx, 44000, 1);
  const before = fx.engine.counters.nodestExpired;
  // Up: the session's next packet is forwarded as usual.
  assert.equal(send(fx, 44000, "A", 1001), Verdict.Rewritten);
  assert.equal(fx.engine.counters.nodestExpired, before);
  fx.ctl.setHealth(key, { servers: [down(first)] });
  // Out of the service (not inhibited): the next client packet ends the session.
  send(fx, 44000, "A", 1002);
  assert.equal(fx.engine.counters.nodestExpired, before + 1);
  assert.ok(!fx.ctl.listConnections().some((c) => c.client.port === 44000 && !c.template));
});
