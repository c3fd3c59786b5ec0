/**
 * Local addresses and ports (docs/design.md section 2, seed 4.5) on the rows of
 * testkit/engine_rows/local_address.ts.
 */
import assert from "node:assert/strict";
import { LOCAL_PORTS } from "../../testkit/engine_rows/local_address.ts";
import { engineTest, LIP, LIP2 } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine local ports: round robin over addresses, no reuse of a live tuple, exhaustion counted",
  (run) => {
    const { engine, ctl } = run.scenario(LOCAL_PORTS);
    const seen = ctl.listConnections().map((c) => `${c.local.address}:${c.local.port}`);
    assert.deepEqual(seen.sort(), [`${LIP}:5000`, `${LIP}:5001`, `${LIP2}:5000`, `${LIP2}:5001`]);
    assert.equal(engine.counters.portExhausted, 1);
    const la = ctl.listServices()[0].localAddresses;
    assert.equal(la[0].portConflicts + la[1].portConflicts, 8);
  },
);
