/**
 * `Engine.handle()` allocates nothing per packet: testkit/alloc_probe.ts calls the engine
 * directly in a child Deno whose young generation is large enough that no GC happens inside a
 * phase, so heap growth is exactly what the phase allocated. The phases use the values that
 * V8 boxes into heap numbers when they cross a call (IPv4 addresses from 128.0.0.0 up,
 * sequence numbers and a sequence delta of 2^31 or more, the fractional `performance.now()`
 * clock); one boxed value per packet would show as 16 bytes per packet.
 */

import assert from "node:assert/strict";
import { ENGINE_PHASES, runProbe, TUNNEL_PHASES } from "../../testkit/alloc_probe.ts";

Deno.test("Engine.handle() allocates nothing per packet: established, handshake, IPv4 and IPv6", async () => {
  await probe(ENGINE_PHASES);
});

Deno.test("Engine.handle() allocates nothing per packet in TUNNEL mode, IPv4 and IPv6", async () => {
  await probe(TUNNEL_PHASES);
});

/** Runs `phases` in one child and checks each forwarded every packet without allocating. */
async function probe(phases: string[]): Promise<void> {
  const packets = 200_000;
  const results = await runProbe(packets, phases);
  assert.deepEqual(results.map((r) => r.phase), phases);
  for (const r of results) {
    assert.ok(r.packets >= packets, `${r.phase}: ${r.packets} packets`);
    // Every packet was forwarded: the rewrite path under test really ran.
    assert.equal(r.rewritten, r.packets, `${r.phase}: forwarded`);
    // Under 1 B per packet: a few KiB of constant noise (memoryUsage() itself) is not per packet.
    assert.ok(r.bytesPerPacket < 1, `${r.phase}: ${r.bytesPerPacket} B/packet`);
  }
}
