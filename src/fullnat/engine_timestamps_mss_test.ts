/**
 * Timestamps and MSS (docs/design.md section 2, seeds 4.4.1 and 4.4.2) on the rows of
 * testkit/engine_rows/timestamps_mss.ts: a service that turns them off. (With them on, the
 * FULLNAT handshake test counts the timestamp stripped and the MSS clamped.)
 */
import assert from "node:assert/strict";
import { OPTIONS_SWITCHED_OFF } from "../../testkit/engine_rows/timestamps_mss.ts";
import { engineTest } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine.handle() leaves TOA, timestamps and MSS alone on a service that turns them off",
  (run) => {
    const { engine, ctl } = run.scenario(OPTIONS_SWITCHED_OFF);
    const c = engine.counters;
    assert.deepEqual([c.toaInserted, c.timestampsStripped, c.mssClamped], [0, 0, 0]);
    assert.deepEqual(
      [ctl.listServices()[0].toa, ctl.listServices()[0].stripTimestamps],
      [false, false],
    );
  },
);
