/**
 * The queue loop's per-packet work allocates nothing: testkit/alloc_probe.ts runs the batch
 * processor over a crafted receive ring in a child Deno with a young generation large enough
 * that no GC happens inside a phase, so heap growth is exactly what was allocated.
 */

import assert from "node:assert/strict";
import { runProbe } from "../../../testkit/alloc_probe.ts";

Deno.test("BatchProcessor allocates nothing per packet: accept, rewrite, engine, checksum completion", async () => {
  const packets = 300_000;
  const results = await runProbe(packets, [
    "queue+accept",
    "queue+dnat",
    "queue+engine",
    "control",
  ]);
  const by = new Map(results.map((r) => [r.phase, r]));
  const accept = by.get("queue+accept")!;
  const dnat = by.get("queue+dnat")!;
  const engine = by.get("queue+engine")!;
  const control = by.get("control")!;
  assert.ok(accept.packets >= packets && dnat.packets >= packets);
  // Every packet rewritten, half with a completed checksum: the path under test really ran.
  assert.equal(dnat.rewritten, dnat.packets);
  assert.equal(dnat.checksumsCompleted, dnat.packets / 2);
  // A few KiB of constant noise (the memoryUsage() call itself) is not per packet.
  assert.ok(accept.heapGrowth < 64 * 1024, `accept: ${accept.heapGrowth} bytes`);
  assert.ok(dnat.heapGrowth < 64 * 1024, `dnat: ${dnat.heapGrowth} bytes`);
  // The FULLNAT engine behind the queue: both directions of a session, all rewritten.
  assert.equal(engine.rewritten, engine.packets);
  assert.ok(engine.heapGrowth < 64 * 1024, `engine: ${engine.heapGrowth} bytes`);
  // The probe sees allocation where there is some: 16-byte copies cost far more than 16 B.
  assert.ok(control.bytesPerPacket > 16, `control: ${control.bytesPerPacket} B/packet`);
});
