/**
 * TOA (docs/design.md section 2, seed 4.3) on the rows of testkit/engine_rows/toa.ts: a
 * client's own TOA blanked, and what happens when the real one does not fit.
 */
import assert from "node:assert/strict";
import { TOA_GSO, TOA_SKIPS, TOA_SPOOF } from "../../testkit/engine_rows/toa.ts";
import { engineTest } from "../../testkit/engine_fixture.ts";

engineTest("Engine.handle() blanks a client's own TOA and inserts the real one", (run) => {
  const { engine } = run.scenario(TOA_SPOOF);
  assert.equal(engine.counters.toaSpoofRemoved, 1);
  assert.equal(engine.counters.toaInserted, 1);
});

engineTest(
  "Engine.handle() skips TOA when options are full or the MTU would be exceeded",
  (run) => {
    const c = run.scenario(TOA_SKIPS).engine.counters;
    assert.deepEqual(
      [c.toaInserted, c.toaNoOptionSpace, c.toaTooBig, c.toaFragNeeded],
      [0, 1, 1, 1],
    );
  },
);

engineTest("Engine.handle() lets a GSO super-packet take its TOA past the MTU", (run) => {
  const { engine } = run.scenario(TOA_GSO);
  assert.equal(engine.counters.toaFragNeeded, 0);
});
