/**
 * What the engine does not forward, on the rows of testkit/engine_rows/refusals.ts: packets
 * that match no session (docs/design.md section 2, seed 3), malformed ones, and connections it
 * cannot place, answered with a reset or dropped per reject policy, in IPv4 and IPv6.
 */
import assert from "node:assert/strict";
import {
  MALFORMED_ACCEPTED,
  NO_LOCAL_ADDRESS_RESET,
  NO_LOCAL_ADDRESS_RESET_V6,
  NO_SERVER_DROPPED,
  NO_SESSION_DROPPED,
  NOT_A_SESSION,
  ORPHAN_ON_SERVER,
} from "../../testkit/engine_rows/refusals.ts";
import { UDP_FULLNAT_V6 } from "../../testkit/engine_rows/udp.ts";
import { engineTest, VIP6 } from "../../testkit/engine_fixture.ts";

engineTest("Engine.handle() passes through, drops and counts what is not a session", (run) => {
  const { engine } = run.scenario(NOT_A_SESSION);
  const c = engine.counters;
  assert.deepEqual(
    [
      c.passedThrough,
      c.tcpNoSession,
      c.fragments,
      c.malformedL4,
      c.malformedIp,
      c.icmpPassed,
      c.notIp,
    ],
    [2, 3, 1, 1, 1, 1, 1],
  );
  assert.equal(c.noSessionResets, 2, "the ACK and the SYN-ACK, not the RST");
  assert.equal(engine.table.size, 0);
});

engineTest("Engine.handle() drops a non-SYN with no session under the drop policy", (run) => {
  const { engine } = run.scenario(NO_SESSION_DROPPED);
  assert.equal(engine.counters.tcpNoSession, 2);
  assert.equal(engine.counters.noSessionResets, 0);
});

engineTest("Engine.handle() resets a real server's orphan on a new session's tuple", (run) => {
  const { engine } = run.scenario(ORPHAN_ON_SERVER);
  assert.equal(engine.counters.orphansReset, 1);
  assert.equal(engine.counters.synRetransmits, 1, "the retransmission kept its mapping");
  assert.equal(engine.table.size, 1);
});

engineTest("Engine.handle() accepts malformed packets unchanged under the accept policy", (run) => {
  const { engine } = run.scenario(MALFORMED_ACCEPTED);
  assert.equal(engine.counters.malformedL4, 1);
});

engineTest("Engine.handle() refuses a SYN it cannot place with a RST to the client", (run) => {
  const { engine } = run.scenario(NO_LOCAL_ADDRESS_RESET);
  assert.equal(engine.counters.noLocalAddress, 1);
  assert.equal(engine.counters.resetsSent, 1);
  assert.equal(engine.table.size, 0);
});

engineTest(
  "Engine.handle() under the drop policy drops a SYN for a service with no usable server",
  (run) => {
    const { engine } = run.scenario(NO_SERVER_DROPPED);
    assert.equal(engine.counters.noRealServer, 1);
  },
);

engineTest("Engine.handle() IPv6 UDP, refusal with a reset, and family mixing refused", (run) => {
  const fx = run.scenario(UDP_FULLNAT_V6);
  const ctl = fx.ctl;
  NO_LOCAL_ADDRESS_RESET_V6.configure(ctl);
  run.rows(fx, NO_LOCAL_ADDRESS_RESET_V6.rows(fx.clock.ms));
  const key = { protocol: "udp" as const, address: VIP6, port: 53 };
  assert.throws(
    () => ctl.addRealServer(key, { address: "203.0.113.11", port: 53, weight: 1, method: "nat" }),
    /is IPv4 but the service is IPv6/,
  );
  assert.throws(() => ctl.addLocalAddress(key, "203.0.113.201"), /is IPv4 but the service is IPv6/);
  assert.deepEqual(ctl.listServices().find((s) => s.port === 53)?.localAddresses.length, 1);
});
