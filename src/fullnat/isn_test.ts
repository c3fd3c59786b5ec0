import assert from "node:assert/strict";
import { keyedHash3, secureIsnV4 } from "./isn.ts";

Deno.test("secureIsnV4() depends on key, tuple and a 4-microsecond clock", () => {
  const k = Uint32Array.of(1, 2);
  const base = secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 80, 0);
  assert.equal(secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 80, 0), base, "deterministic");
  assert.equal((secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 80, 1) - base) >>> 0, 250);
  const variants = new Set([
    base,
    secureIsnV4(Uint32Array.of(1, 3), 0xcb0071c9, 5000, 0xcb00710b, 80, 0),
    secureIsnV4(k, 0xcb0071ca, 5000, 0xcb00710b, 80, 0),
    secureIsnV4(k, 0xcb0071c9, 5001, 0xcb00710b, 80, 0),
    secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710c, 80, 0),
    secureIsnV4(k, 0xcb0071c9, 5000, 0xcb00710b, 81, 0),
  ]);
  assert.equal(variants.size, 6, "every input changes the ISN");
  // One flipped input bit flips about half the output bits.
  let flipped = 0;
  for (let bit = 0; bit < 32; bit++) {
    const x = keyedHash3(7, 9, 1 << bit, 0, 0) ^ keyedHash3(7, 9, 0, 0, 0);
    for (let v = x >>> 0; v; v &= v - 1) flipped++;
  }
  assert.ok(flipped / 32 > 12 && flipped / 32 < 20, `avalanche ${flipped / 32} bits`);
});
