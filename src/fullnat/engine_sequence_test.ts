/**
 * Sequence translation (docs/design.md section 2, seed 4.6) on the rows of
 * testkit/engine_rows/sequence.ts. (NAT mode's absence of it is in engine_nat_mode_test.ts.)
 */
import assert from "node:assert/strict";
import { SYN_RETRANSMIT_AND_RENEW } from "../../testkit/engine_rows/sequence.ts";
import { CLOCK_START, engineTest, firstIsn } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine.handle() keeps the mapping for a retransmitted SYN and renews it for a new ISN",
  (run) => {
    const { engine } = run.scenario(SYN_RETRANSMIT_AND_RENEW);
    const t0 = CLOCK_START;
    // Two seconds of a 4-microsecond clock apart.
    assert.equal((firstIsn(t0 + 2000) - firstIsn(t0)) >>> 0, 500_000);
    assert.deepEqual([engine.counters.synRetransmits, engine.counters.seqMappingsRenewed], [1, 1]);
  },
);
