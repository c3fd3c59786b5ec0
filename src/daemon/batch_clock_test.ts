import assert from "node:assert/strict";
import { BatchClock } from "./batch_clock.ts";

Deno.test("BatchClock.now() reads the source once per batch and afresh outside batches", () => {
  let t = 100;
  let reads = 0;
  const clock = new BatchClock(() => {
    reads++;
    return t;
  });
  assert.deepStrictEqual(clock.now(), 100);
  t = 200;
  assert.deepStrictEqual(clock.now(), 200);
  clock.start();
  t = 300;
  // Every packet of the batch sees the time the batch began.
  assert.deepStrictEqual([clock.now(), clock.now()], [200, 200]);
  clock.end();
  assert.deepStrictEqual(clock.now(), 300);
  // 2 reads outside, 1 for the batch, 1 after it.
  assert.deepStrictEqual(reads, 4);
});

Deno.test("BatchClock.now() is a bare function the engine can keep", () => {
  let t = 5;
  const clock = new BatchClock(() => t);
  const now = clock.now;
  clock.start();
  t = 6;
  assert.deepStrictEqual(now(), 5);
  clock.end();
  assert.deepStrictEqual(now(), 6);
});
