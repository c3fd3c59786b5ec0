import assert from "node:assert/strict";
import { parseKernelQueueStats, readKernelQueueStats } from "../../../src/nfqueue/proc_stats.ts";

Deno.test("the kernel's queue table is parsed", () => {
  const text = "    0  12345     3 2 65531     0     7     1000  1\n" +
    "65535 -20000     0 2 65531    10     0 4294967295  1\n";
  const rows = parseKernelQueueStats(text);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], {
    queueNum: 0,
    peerPortId: 12345,
    queueTotal: 3,
    copyMode: 2,
    copyRange: 65531,
    queueDropped: 0,
    userDropped: 7,
    idSequence: 1000,
  });
  assert.equal(rows[1].queueDropped, 10);
  assert.equal(rows[1].idSequence, 4294967295);
  assert.deepEqual(parseKernelQueueStats("garbage\n\n1 2 3\n"), []);
});

Deno.test("a missing table means no queue", () => {
  assert.equal(readKernelQueueStats(1, "/nonexistent/nfnetlink_queue"), undefined);
});
