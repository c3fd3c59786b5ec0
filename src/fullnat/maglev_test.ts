/**
 * The Maglev table of mh: every position taken, positions shared by weight, and the
 * disruption when a server leaves or returns bounded near the ideal 1/N (the share of
 * clients that move, measured on synthetic clients through the engine's control; the bench
 * bench/maglev_disruption.ts prints the same figures for 100,000 clients).
 */
import assert from "node:assert/strict";
import { disruption } from "../../bench/maglev_disruption.ts";
import { buildMaglevTable, maglevTurns } from "./maglev.ts";
import { bucketTurns, buildBucketTable } from "./bucket_table.ts";
import { randomClients, scheduled, schedulerBed } from "../../testkit/scheduler_clients.ts";
import { hashV4, SEED_OFFSET, SEED_SKIP } from "./scheduler_hash.ts";

function servers(weights: number[]) {
  return weights.map((weight, i) => ({
    offsetHash: hashV4(0xcb007100 + i, SEED_OFFSET),
    skipHash: hashV4(0xcb007100 + i, SEED_SKIP),
    weight,
  }));
}

function counts(table: Int32Array, n: number): number[] {
  const out = new Array(n).fill(0);
  for (const i of table) out[i]++;
  return out;
}

Deno.test("maglev table: every position taken, shared in proportion to the weights, none for weight 0", () => {
  for (const size of [251, 4093, 65521]) {
    const t = buildMaglevTable(servers([1, 1, 1, 1, 1]), size);
    const c = counts(t, 5);
    assert.equal(c.reduce((a, b) => a + b, 0), size);
    for (const k of c) assert.ok(Math.abs(k / size - 0.2) < 0.01, `${size}: ${c}`);
  }
  const w = buildMaglevTable(servers([1, 2, 3, 0]), 4093);
  const c = counts(w, 4);
  assert.equal(c[3], 0);
  [1 / 6, 2 / 6, 3 / 6].forEach((share, i) =>
    assert.ok(Math.abs(c[i] / 4093 - share) < 0.01, `weights 1,2,3: ${c}`)
  );
  assert.deepEqual([...buildMaglevTable(servers([0, 0]), 251)].filter((i) => i !== -1), []);
});

Deno.test("maglev turns: weight / gcd, capped at 2^6 per turn by a shift, at least 1 for a positive weight", () => {
  assert.deepEqual(maglevTurns([100, 200, 0, 300]), [1, 2, 0, 3]);
  assert.deepEqual(maglevTurns([1, 65535]), [1, 63]);
  assert.deepEqual(maglevTurns([0, 0]), [0, 0]);
});

Deno.test("sh/dh buckets: weight-many consecutive buckets per round (after the gcd), one for weight 0", () => {
  assert.deepEqual(bucketTurns([2, 4, 0]), [1, 2, 1]);
  const t = buildBucketTable([{ weight: 1, listed: true }, { weight: 3, listed: true }] as never);
  assert.deepEqual([...t.slice(0, 8)], [0, 1, 1, 1, 0, 1, 1, 1]);
  assert.deepEqual(counts(t, 2), [64, 192]);
  // A round longer than the table is scaled down so every server keeps its share.
  const big = bucketTurns([1, 300, 600]);
  assert.ok(big.reduce((a, b) => a + b, 0) <= 256 && big[0] === 1, String(big));
});

Deno.test("mh disruption: when 1 of N servers leaves or returns, at most 1.5/N of the clients move (sh: most)", () => {
  for (const n of [3, 5, 10, 20]) {
    const mh = disruption("mh", n, 20_000);
    // At least the clients of the server that left (about 1/N) move, and not many more.
    assert.ok(mh.leave >= 0.8 / n && mh.leave <= 1.5 / n, `N=${n}: mh leave ${mh.leave}`);
    assert.ok(mh.back >= 0.8 / n && mh.back <= 1.5 / n, `N=${n}: mh back ${mh.back}`);
    const sh = disruption("sh", n, 20_000);
    assert.ok(sh.leave > 0.5, `N=${n}: sh leave ${sh.leave}`);
  }
  const v6 = disruption("mh", 10, 20_000, { v6: true });
  assert.ok(v6.leave <= 0.15 && v6.back <= 0.15, JSON.stringify(v6));
});

Deno.test("mh: leaving and returning give back the very same assignment", () => {
  const bed = schedulerBed({ scheduler: "mh", persistence: 0 }, [1, 2, 1, 1]);
  const clients = randomClients(5000, false, 3);
  const before = clients.map((c) => scheduled(bed, c));
  const rs = { address: "203.0.113.2", port: 80 };
  bed.ctl.deleteRealServer(bed.key, rs);
  assert.ok(!clients.some((c) => scheduled(bed, c) === rs.address));
  bed.ctl.addRealServer(bed.key, { ...rs, weight: 2, method: "fullnat" });
  assert.deepEqual(clients.map((c) => scheduled(bed, c)), before);
});
