/**
 * Control (docs/design.md section 2, seed 4.9): a deleted local address or service drains, on
 * the rows of testkit/engine_rows/drain.ts (whose rows make the deletions).
 */
import assert from "node:assert/strict";
import { DELETED_LOCAL_ADDRESS, DELETED_SERVICE } from "../../testkit/engine_rows/drain.ts";
import { engineTest, fullnatService, LIP, VIP } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine: a deleted local address serves its sessions until they end, then leaves the diversion",
  (run) => {
    const { engine, ctl, clock } = run.scenario(DELETED_LOCAL_ADDRESS);
    assert.deepEqual(ctl.diversion().localAddresses, [LIP], "still diverted while used");
    assert.equal(engine.counters.noLocalAddress, 1, "a new connection is refused");
    clock.ms += 60_000;
    engine.expire();
    assert.deepEqual(ctl.diversion().localAddresses, [], "released after its last session");
  },
);

engineTest(
  "Engine: a deleted service serves its sessions until they end, then leaves the diversion",
  (run) => {
    const { engine, ctl, clock } = run.scenario(DELETED_SERVICE);
    const key = { protocol: "tcp" as const, address: VIP, port: 80 };
    assert.deepEqual(ctl.listServices(), [], "no longer listed");
    assert.equal(engine.table.size, 1, "its session stays");
    assert.deepEqual(ctl.diversion().services, [key], "still diverted while used");
    clock.ms += 60_000;
    assert.equal(engine.expire(), 1);
    assert.deepEqual(ctl.diversion(), { services: [], localAddresses: [], natRealServers: [] });
    // The same service can come back while nothing is left of the old one.
    fullnatService(ctl);
    assert.equal(ctl.listServices().length, 1);
  },
);
