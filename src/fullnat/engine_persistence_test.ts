/**
 * Persistence templates (docs/design.md section 2, seed 5.1) on the rows of
 * testkit/engine_rows/persistence.ts.
 */
import assert from "node:assert/strict";
import { PERSISTENT_CLIENT } from "../../testkit/engine_rows/persistence.ts";
import { C, engineTest, RS, RS2 } from "../../testkit/engine_fixture.ts";

engineTest("Engine: persistence sends a client back to the same real server", (run) => {
  const { ctl } = run.scenario(PERSISTENT_CLIENT);
  const byClient = ctl.listConnections().map((c) => `${c.client.address} ${c.real.address}`);
  assert.deepEqual(new Set(byClient), new Set([`${C} ${RS}`, `198.51.100.3 ${RS2}`]));
});
