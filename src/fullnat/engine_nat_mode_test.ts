/**
 * NAT mode (docs/design.md section 2, seed 4.1: one lookup path for every mode) on the rows of
 * testkit/engine_rows/nat_mode.ts.
 */
import assert from "node:assert/strict";
import { NAT_ADDRESSES, NAT_NO_SEQUENCE } from "../../testkit/engine_rows/nat_mode.ts";
import { engineTest, RS } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine.handle() NAT mode translates only the destination, and the source on the way out",
  (run) => {
    const { ctl } = run.scenario(NAT_ADDRESSES);
    assert.deepEqual(ctl.diversion().natRealServers, [{ protocol: "tcp", address: RS, port: 80 }]);
    assert.equal(ctl.listConnections()[0].method, "nat");
  },
);

engineTest("Engine.handle() does not translate sequence numbers in NAT mode", (run) => {
  run.scenario(NAT_NO_SEQUENCE);
});
