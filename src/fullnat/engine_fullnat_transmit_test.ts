/**
 * FULLNAT transmit (docs/design.md section 2, seed 4.2) on the rows of
 * testkit/engine_rows/fullnat_transmit.ts: a whole connection byte by byte, in IPv4 and IPv6,
 * and what the engine records of it.
 */
import assert from "node:assert/strict";
import {
  FULLNAT_HANDSHAKE,
  FULLNAT_HANDSHAKE_V6,
} from "../../testkit/engine_rows/fullnat_transmit.ts";
import { C, C6, engineTest, LIP, LIP6, RS, RS6, VIP } from "../../testkit/engine_fixture.ts";

engineTest("Engine.handle() FULLNAT: handshake, data both ways and close, byte by byte", (run) => {
  const { engine, ctl } = run.scenario(FULLNAT_HANDSHAKE);
  const [conn] = ctl.listConnections();
  assert.equal(conn.state, "FIN_WAIT");
  assert.deepEqual([conn.client, conn.virtual, conn.local, conn.real], [
    { address: C, port: 40000 },
    { address: VIP, port: 80 },
    { address: LIP, port: 5000 },
    { address: RS, port: 8080 },
  ]);
  const [svc] = ctl.listServices();
  assert.deepEqual(svc.stats, {
    conns: 1,
    inPackets: 4, // SYN (60+8 TOA), ACK (40+8), data (40+8+19), ACK with SACK (40+12)
    outPackets: 4, // SYN-ACK (44), data (40+24), ACK with SACK (40+24), FIN (40)
    inBytes: 68 + 48 + 67 + 52,
    outBytes: 44 + 64 + 64 + 40,
  });
  const c = engine.counters;
  assert.deepEqual(
    [c.toaInserted, c.timestampsStripped, c.mssClamped, c.sackBlocksTranslated],
    [3, 1, 1, 2],
  );
});

engineTest(
  "Engine.handle() IPv6 FULLNAT: TOA of 20 bytes, MSS -20, sequence and SACK translated",
  (run) => {
    const { engine, ctl } = run.scenario(FULLNAT_HANDSHAKE_V6);
    const [conn] = ctl.listConnections();
    assert.deepEqual([conn.client, conn.local, conn.real], [
      { address: C6, port: 40000 },
      { address: LIP6, port: 5000 },
      { address: RS6, port: 8080 },
    ]);
    const c = engine.counters;
    assert.deepEqual([c.toaInserted, c.mssClamped, c.sackBlocksTranslated], [2, 1, 1]);
  },
);
