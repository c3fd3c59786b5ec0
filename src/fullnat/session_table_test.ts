import assert from "node:assert/strict";
import { Dir, NO_SESSION, SessionTable } from "./session_table.ts";

const TCP = 6;
const C = 0xc6336402; // 198.51.100.2
const V = 0xc633640a; // 198.51.100.10
const L = 0xcb0071c9; // 203.0.113.201
const R = 0xcb00710b; // 203.0.113.11

Deno.test("SessionTable.lookup() finds a session from both tuples and tells the direction", () => {
  const t = new SessionTable(8);
  const id = t.insert(TCP, C, 40000, V, 80, L, 2000, R, 8080);
  assert.equal(t.lookup(TCP, C, 40000, V, 80), id * 2 + Dir.In);
  assert.equal(t.lookup(TCP, R, 8080, L, 2000), id * 2 + Dir.Out);
  assert.equal(t.lookup(TCP, V, 80, C, 40000), NO_SESSION, "reversed in-tuple is not a match");
  assert.equal(t.lookup(17, C, 40000, V, 80), NO_SESSION, "other protocol");
  assert.equal(t.lookup(TCP, C, 40001, V, 80), NO_SESSION, "other port");
});

Deno.test("SessionTable.remove() unlinks both entries and frees the slot for reuse", () => {
  const t = new SessionTable(2);
  const a = t.insert(TCP, C, 1, V, 80, L, 1025, R, 80);
  const b = t.insert(TCP, C, 2, V, 80, L, 1026, R, 80);
  assert.equal(t.insert(TCP, C, 3, V, 80, L, 1027, R, 80), NO_SESSION, "full table refuses");
  t.remove(a);
  assert.equal(t.size, 1);
  assert.equal(t.lookup(TCP, C, 1, V, 80), NO_SESSION);
  assert.equal(t.lookup(TCP, R, 80, L, 1025), NO_SESSION);
  assert.equal(t.lookup(TCP, C, 2, V, 80), b * 2);
  const c = t.insert(TCP, C, 3, V, 80, L, 1027, R, 80);
  assert.equal(c, a, "freed slot reused");
  assert.equal(t.lookup(TCP, R, 80, L, 1027), c * 2 + 1);
});

Deno.test("SessionTable keeps every session findable under many hash collisions and removals", () => {
  const n = 5000;
  const t = new SessionTable(n);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(t.insert(TCP, C + (i % 7), 1024 + i, V, 80, L, 1025 + i, R, 80));
  }
  for (let i = 0; i < n; i += 2) t.remove(ids[i]);
  for (let i = 0; i < n; i++) {
    const inE = t.lookup(TCP, C + (i % 7), 1024 + i, V, 80);
    const outE = t.lookup(TCP, R, 80, L, 1025 + i);
    if (i % 2 === 0) {
      assert.equal(inE, NO_SESSION);
      assert.equal(outE, NO_SESSION);
    } else {
      assert.equal(inE, ids[i] * 2);
      assert.equal(outE, ids[i] * 2 + 1);
    }
  }
  assert.equal(t.size, n / 2);
});

Deno.test("SessionTable rejects an impossible capacity", () => {
  assert.throws(() => new SessionTable(0), RangeError);
});
