import assert from "node:assert/strict";
import { adjust, finish, fold, sum32, sumWords } from "./checksum.ts";

// An independent reference: RFC 1071 over a byte array, summing with BigInt so it cannot share
// an overflow bug with the implementation under test.
function referenceChecksum(bytes: number[]): number {
  let s = 0n;
  for (let i = 0; i < bytes.length; i += 2) {
    s += BigInt((bytes[i] << 8) | (bytes[i + 1] ?? 0));
  }
  while (s > 0xffffn) s = (s & 0xffffn) + (s >> 16n);
  return Number(~s & 0xffffn);
}

function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) & 0xff;
  };
}

Deno.test("sumWords() + finish() match RFC 1071 on odd and long buffers", () => {
  const rnd = seeded(7);
  for (const n of [0, 1, 2, 3, 19, 20, 1499, 1500, 65535]) {
    const bytes = Array.from({ length: n }, rnd);
    assert.equal(
      finish(sumWords(new Uint8Array(bytes), 0, n)),
      referenceChecksum(bytes),
      `length ${n}`,
    );
  }
});

Deno.test("sumWords() honours the offset", () => {
  const b = new Uint8Array([0xff, 0xff, 0x12, 0x34, 0x56]);
  assert.equal(fold(sumWords(b, 2, 3)), 0x1234 + 0x5600);
});

Deno.test("adjust() equals a full recomputation after rewriting words (RFC 1624)", () => {
  const rnd = seeded(99);
  for (let trial = 0; trial < 500; trial++) {
    const bytes = Array.from({ length: 40 }, rnd);
    const before = referenceChecksum(bytes);
    const w = (trial % 18) * 2;
    const oldWord = (bytes[w] << 8) | bytes[w + 1];
    const newWord = (rnd() << 8) | rnd();
    bytes[w] = newWord >>> 8;
    bytes[w + 1] = newWord & 0xff;
    assert.equal(adjust(before, oldWord, newWord), referenceChecksum(bytes), `trial ${trial}`);
  }
});

Deno.test("adjust() handles 32-bit values split into halves", () => {
  const bytes = [10, 0, 0, 1, 192, 168, 1, 2, 0, 80];
  const before = referenceChecksum(bytes);
  const oldV = 0x0a000001;
  const newV = 0xcb0071c9;
  const after = [0xcb, 0x00, 0x71, 0xc9, 192, 168, 1, 2, 0, 80];
  assert.equal(adjust(before, sum32(oldV), sum32(newV)), referenceChecksum(after));
});

Deno.test("fold() matches end-around carry on BigInt for sums below and above 2^32", () => {
  const reference = (v: number) => {
    let s = BigInt(v);
    while (s > 0xffffn) s = (s & 0xffffn) + (s >> 16n);
    return Number(s);
  };
  const edges = [0, 1, 0xffff, 0x10000, 0x1fffe, 0xffff_ffff, 0x1_0000_0000, 0x1_ffff_fffe];
  const rnd = seeded(11);
  const word = () => (rnd() << 8) | rnd();
  const randoms = Array.from({ length: 2000 }, (_, i) => {
    const low = (word() << 16 | word()) >>> 0;
    // Half of them carry high bits above 2^32, up to 2^53 - 1.
    return i % 2 === 0 ? low : low + word() * 0x1_0000_0000 + (word() & 0x1f) * 2 ** 48;
  });
  for (const v of [...edges, Number.MAX_SAFE_INTEGER, ...randoms]) {
    assert.equal(fold(v), reference(v), `fold(${v})`);
  }
});
