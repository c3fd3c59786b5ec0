/** The engine's offload request as the conntrack entry the ctnetlink module makes of it. */
import assert from "node:assert/strict";
import { entryProblem } from "../kernel/conntrack/mod.ts";
import { conntrackEntry } from "./offload_kernel.ts";
import type { OffloadRequest } from "./offload_port.ts";

const ep = (a: number[], port: number) => ({ addr: Uint8Array.from(a), port });
const FULLNAT: OffloadRequest = {
  family: 4,
  proto: "tcp",
  client: ep([198, 51, 100, 2], 40000),
  vip: ep([198, 51, 100, 10], 80),
  rs: ep([203, 0, 113, 11], 8080),
  local: ep([203, 0, 113, 201], 5000),
  seqDeltaClientToRs: 0x9e3779b9,
  clientIsnPos: 1000,
  wscaleClient: 7,
  wscaleRs: 9,
  timeoutSec: 90,
  mark: 0x81000003,
  sessionId: 3,
};

Deno.test("conntrackEntry: FULLNAT gets DNAT, SNAT, the seqadj and both window scales", () => {
  const e = conntrackEntry(FULLNAT);
  assert.equal(entryProblem(e), undefined);
  assert.deepEqual(e, {
    orig: {
      protocol: "tcp",
      src: FULLNAT.client.addr,
      dst: FULLNAT.vip.addr,
      srcPort: 40000,
      dstPort: 80,
    },
    dnat: { address: FULLNAT.rs.addr, port: 8080 },
    snat: { address: FULLNAT.local.addr, port: 5000 },
    seqAdjOrig: { correctionPos: 1000, offsetBefore: 0x9e3779b9, offsetAfter: 0x9e3779b9 },
    tcp: { wscaleOriginal: 7, wscaleReply: 9, windowScale: true },
    timeout: 90,
    mark: 0x81000003,
  });
});

Deno.test("conntrackEntry: NAT mode has no SNAT and no seqadj; unknown scales are not used", () => {
  const e = conntrackEntry({
    ...FULLNAT,
    local: FULLNAT.client,
    seqDeltaClientToRs: 0,
    wscaleRs: -1,
  });
  assert.equal(entryProblem(e), undefined);
  assert.equal(e.snat, undefined);
  assert.equal(e.seqAdjOrig, undefined);
  assert.deepEqual(e.tcp, { wscaleOriginal: 7, wscaleReply: 0, windowScale: false });
});
