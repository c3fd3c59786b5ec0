import assert from "node:assert/strict";
import { onesComplementSum } from "../../testkit/inet_checksum.ts";
import { finish, fold } from "./checksum.ts";
import { simdAvailable, SimdChecksum } from "./checksum_simd.ts";

function seeded(seed: number): (buf: Uint8Array) => Uint8Array {
  let x = seed >>> 0;
  return (buf) => {
    for (let i = 0; i < buf.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buf[i] = x >>> 24;
    }
    return buf;
  };
}

// The reference folds to 16 bits; 0 and 0xffff are the same ones'-complement value only for
// an all-zero input, which both sides then report as 0.
function expected(bytes: Uint8Array): number {
  return onesComplementSum(bytes);
}

Deno.test("simdAvailable() is true on this runtime (the fast path is what gets tested)", () => {
  assert.equal(simdAvailable(), true);
  assert.equal(new SimdChecksum(0).simd, true);
});

Deno.test("SimdChecksum.sum() matches RFC 1071 for every length 0..200 at offsets 0..3", () => {
  const summer = new SimdChecksum(512);
  const inArena = summer.allocate(256);
  const outside = new Uint8Array(256);
  seeded(1)(inArena);
  outside.set(inArena);
  for (let off = 0; off < 4; off++) {
    for (let len = 0; len <= 200; len++) {
      const want = expected(inArena.subarray(off, off + len));
      assert.equal(fold(summer.sum(inArena, off, len)), want, `arena off ${off} len ${len}`);
      assert.equal(fold(summer.sum(outside, off, len)), want, `copy off ${off} len ${len}`);
    }
  }
});

Deno.test("SimdChecksum.sum() matches on big random buffers, in the arena and copied", () => {
  const rnd = seeded(2);
  const summer = new SimdChecksum(3 << 20);
  const arena = summer.allocate(3 << 20);
  rnd(arena);
  // Lengths around the 64-byte, 16-byte and 1 MiB (one call) steps and beyond the scratch.
  for (const len of [1499, 1500, 9000, 65535, 65536, 65537, (1 << 20) + 3, (3 << 20) - 11]) {
    for (const off of [0, 1, 6]) {
      const want = expected(arena.subarray(off, off + len));
      assert.equal(fold(summer.sum(arena, off, len)), want, `arena len ${len} off ${off}`);
      const copy = arena.slice(0, off + len);
      assert.equal(fold(summer.sum(copy, off, len)), want, `copy len ${len} off ${off}`);
    }
  }
});

Deno.test("SimdChecksum.sum() does not overflow its lanes on all-0xff data", () => {
  const summer = new SimdChecksum(3 << 20);
  const ones = summer.allocate(3 << 20).fill(0xff);
  for (const len of [64, 1 << 20, (1 << 20) + 64, 3 << 20]) {
    assert.equal(fold(summer.sum(ones, 0, len)), 0xffff, `len ${len}`);
    assert.equal(finish(summer.sum(ones, 0, len)), 0, `len ${len}`);
  }
  const mixed = summer.allocate(0);
  assert.equal(mixed.length, 0);
});

Deno.test("SimdChecksum.sum() adds the running sum it is given", () => {
  const summer = new SimdChecksum(2048);
  const pkt = seeded(3)(summer.allocate(1400));
  const pseudo = 0x1234 + 0xabcd + 6 + 1400;
  assert.equal(fold(summer.sum(pkt, 0, 1400, pseudo)), onesComplementSum(pkt, pseudo));
});

Deno.test("SimdChecksum with simd: false gives the same sums (TypeScript fallback)", () => {
  const fast = new SimdChecksum(0);
  const slow = new SimdChecksum(0, { simd: false });
  assert.equal(slow.simd, false);
  const data = seeded(4)(new Uint8Array(70001));
  for (const [off, len] of [[0, 0], [1, 77], [3, 1500], [0, 70001], [5, 65536]]) {
    assert.equal(fold(slow.sum(data, off, len)), fold(fast.sum(data, off, len)));
    assert.equal(fold(slow.sum(data, off, len)), expected(data.subarray(off, off + len)));
  }
});

Deno.test("SimdChecksum.allocate() hands out disjoint aligned buffers and refuses overruns", () => {
  const summer = new SimdChecksum(100);
  const a = summer.allocate(10);
  const b = summer.allocate(10);
  assert.equal(a.byteOffset % 16, 0);
  assert.equal(b.byteOffset, 16);
  assert.throws(() => summer.allocate(200), /cannot allocate 200 bytes: 80 of the arena left/);
  assert.throws(() => new SimdChecksum(-1), /arenaBytes must be an integer/);
});
