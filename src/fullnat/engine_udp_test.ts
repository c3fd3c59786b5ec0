/**
 * UDP (docs/design.md section 2, seed 5.1) on the rows of testkit/engine_rows/udp.ts. (The
 * IPv6 rows run in engine_refusals_test.ts, with the family-mixing checks on their service.)
 */
import assert from "node:assert/strict";
import { UDP_FULLNAT } from "../../testkit/engine_rows/udp.ts";
import { engineTest } from "../../testkit/engine_fixture.ts";

engineTest(
  "Engine.handle() UDP: rewrites ports and checksum, keeps a zero checksum zero",
  (run) => {
    const { ctl } = run.scenario(UDP_FULLNAT);
    assert.equal(ctl.listConnections()[0].state, "UDP");
  },
);
