/**
 * DR mode (issue 17) on the rows of testkit/engine_rows/dr_mode.ts: packets unchanged, the
 * real server's mark in the verdict, sessions made, state from the client's flags only,
 * expiry without resets, and what DR cannot do refused.
 */
import assert from "node:assert/strict";
import {
  DR_CLIENT_STATES,
  DR_MARK,
  DR_MARK6,
  DR_UNCHANGED,
} from "../../testkit/engine_rows/dr_mode.ts";
import { engineTest, RS, RS6, VIP } from "../../testkit/engine_fixture.ts";
import { ControlError } from "./control_target.ts";

engineTest("Engine.handle() DR mode forwards client packets unchanged, marked", (run) => {
  const { ctl, engine } = run.scenario(DR_UNCHANGED);
  const conns = ctl.listConnections();
  assert.equal(conns.length, 3);
  for (const c of conns) {
    assert.equal(c.method, "dr");
    // No local address: the real server sees the client itself.
    assert.deepEqual(c.local, c.client);
    assert.equal(c.real.port, 80);
  }
  assert.equal(engine.counters.drRouted, 5);
  assert.equal(engine.counters.forwarded, 5);
  assert.deepEqual(ctl.diversion().drRealServers, [
    { address: RS, mark: DR_MARK },
    { address: RS6, mark: DR_MARK6 },
  ]);
  assert.deepEqual(ctl.diversion().natRealServers, []);
  assert.equal(DR_MARK, 0xcb00710b);
});

engineTest("Engine.handle() DR: TCP state follows the client's flags (input-only)", (run) => {
  const sent: Uint8Array[] = [];
  const fx = run.scenario(DR_CLIENT_STATES, {
    emit: (b, o, len) => sent.push(b.slice(o, o + len)),
  });
  const [c] = fx.ctl.listConnections();
  // The client's FIN in ESTABLISHED: FIN_WAIT (7 s), where IPVS's both-way table says
  // CLOSE_WAIT; the server's FIN will never be seen.
  assert.equal(c.state, "FIN_WAIT");
  assert.equal(c.expiresInMs, 7000);
  const svc = fx.ctl.listServices().find((s) => s.protocol === "tcp" && s.address === VIP)!;
  assert.equal(svc.realServers[0].inactiveConns, 1);
  fx.clock.ms += 7001;
  assert.equal(fx.engine.expire(), 1);
  assert.equal(sent.length, 0, "no resets: nothing was seen of the server's sequence space");
});

engineTest("Engine.handle() DR: an ESTABLISHED session expires without resets", (run) => {
  const sent: Uint8Array[] = [];
  const fx = run.scenario(
    { ...DR_CLIENT_STATES, rows: (ms) => DR_CLIENT_STATES.rows(ms).slice(0, 2) },
    { emit: (b, o, len) => sent.push(b.slice(o, o + len)) },
  );
  const [c] = fx.ctl.listConnections();
  assert.equal(c.state, "ESTABLISHED");
  const svc = fx.ctl.listServices().find((s) => s.protocol === "tcp" && s.address === VIP)!;
  assert.equal(svc.realServers[0].activeConns, 1);
  fx.clock.ms += 90_001;
  assert.equal(fx.engine.expire(), 1);
  assert.equal(sent.length, 0);
  assert.equal(fx.engine.counters.expiryResetsSkipped, 1);
});

engineTest("EngineControl refuses a DR real server on another port than the VIP's", (run) => {
  const { ctl } = run.scenario({ ...DR_UNCHANGED, rows: () => [] });
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  assert.throws(
    () => ctl.addRealServer(key, { address: "203.0.113.12", port: 8080, weight: 1, method: "dr" }),
    (e: Error) =>
      e instanceof ControlError &&
      /8080 cannot be used with direct routing \(dr\)/.test(e.message) &&
      /virtual port 80/.test(e.message),
  );
  ctl.addRealServer(key, { address: "203.0.113.12", port: 8080, weight: 1, method: "fullnat" });
  assert.throws(
    () => ctl.editRealServer(key, { address: "203.0.113.12", port: 8080, method: "dr" }),
    /direct routing/,
  );
});
