/**
 * The per-source table on its own: token buckets refill at the rate with a burst of one
 * second's worth, session counts go up and down, and a full window evicts an idle source
 * first (uncounted) and else the one with the fewest sessions (counted).
 */
import assert from "node:assert/strict";
import { newEngineCounters } from "./counters.ts";
import { OVER_RATE, OVER_SESSIONS, SourceTable, sourceTime } from "./source_table.ts";

const addr = (n: number) => Uint32Array.of(0x0a000000 + n, 0, 0, 0);

Deno.test("SourceTable: a bucket of `rate` tokens refilled at `rate` a second", () => {
  const t = new SourceTable(64);
  const c = newEngineCounters();
  sourceTime[0] = 1000;
  const got = [0, 1, 2].map(() => t.admit(addr(1), 2, 0, c) >= 0);
  assert.deepEqual(got, [true, true, false]);
  assert.equal(t.admit(addr(1), 2, 0, c), OVER_RATE);
  sourceTime[0] = 1499;
  assert.equal(t.admit(addr(1), 2, 0, c), OVER_RATE, "0.999 tokens");
  sourceTime[0] = 1501;
  assert.ok(t.admit(addr(1), 2, 0, c) >= 0);
  sourceTime[0] = 100_000;
  const burst = [0, 1, 2].map(() => t.admit(addr(1), 2, 0, c) >= 0);
  assert.deepEqual(burst, [true, true, false], "idle for long: still a burst of 2 only");
});

Deno.test("SourceTable: sessions counted, refused at the limit, given back", () => {
  const t = new SourceTable(64);
  const c = newEngineCounters();
  const s = t.admit(addr(1), 0, 2, c);
  t.opened(s);
  t.opened(t.admit(addr(1), 0, 2, c));
  assert.equal(t.admit(addr(1), 0, 2, c), OVER_SESSIONS);
  t.release(addr(1));
  assert.equal(t.sessions(s), 1);
  assert.ok(t.admit(addr(1), 0, 2, c) >= 0);
  t.release(addr(9));
  t.release(addr(1));
  t.release(addr(1));
  assert.equal(t.sessions(s), 0, "never below 0");
});

Deno.test("SourceTable: full, it evicts an idle source first, else the one with the fewest sessions", () => {
  // The smallest table is one window: every source competes for the same 8 slots.
  const t = new SourceTable(1);
  assert.equal(t.slots, 8);
  const c = newEngineCounters();
  sourceTime[0] = 0;
  for (let i = 0; i < 8; i++) {
    const s = t.admit(addr(i), 0, 100, c);
    for (let k = 0; k <= i; k++) t.opened(s);
  }
  assert.equal(t.size, 8);
  // No idle source: the one with 1 session (addr 0) goes, counted.
  t.admit(addr(100), 0, 100, c);
  assert.equal(c.sourceEvictions, 1);
  assert.equal(t.find(addr(0)), -1);
  assert.ok(t.find(addr(7)) >= 0);
  // addr 100 holds none: idle, it is taken next without a count.
  t.admit(addr(101), 0, 100, c);
  assert.equal(c.sourceEvictions, 1);
  assert.equal(t.find(addr(100)), -1);
  assert.equal(t.size, 8);
});
