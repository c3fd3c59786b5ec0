/**
 * Full-checksum speed: the plain TypeScript sum (`sumWords`) against the WebAssembly SIMD
 * sum (`SimdChecksum`), on buffers inside the summer's memory (the queue's case: packets
 * are received straight into it) and outside it (one copy first), at 64 B, 1500 B, 64 KiB.
 *
 *   deno run bench/checksum_bench.ts      prints GB/s per size and implementation
 *   deno bench bench/checksum_bench.ts    the same cases under `deno bench`
 *
 * @module
 */

import { sumWords } from "../src/wire/checksum.ts";
import { SimdChecksum } from "../src/wire/checksum_simd.ts";

const SIZES = [64, 1500, 65535];
const summer = new SimdChecksum(1 << 17);
const arena = summer.allocate(1 << 16);
crypto.getRandomValues(arena);
const outside = arena.slice();

type Case = [label: string, fn: (len: number) => number];
const cases: Case[] = [
  ["TypeScript sumWords", (len) => sumWords(outside, 0, len)],
  ["WASM SIMD, in its memory", (len) => summer.sum(arena, 0, len)],
  ["WASM SIMD, copied in", (len) => summer.sum(outside, 0, len)],
];

// `deno bench` loads this file as a module that is not the main one.
if (import.meta.main) {
  let sink = 0;
  console.log("full ones'-complement sum, GB/s (1 GB = 1e9 bytes)");
  console.log(`${"".padEnd(26)}${SIZES.map((s) => `${s} B`.padStart(12)).join("")}`);
  for (const [label, fn] of cases) {
    const row: string[] = [];
    for (const len of SIZES) {
      // Warm up (JIT tiers), then time about 0.3 s of work.
      for (let i = 0; i < 2000; i++) sink += fn(len);
      const iterations = Math.max(1000, Math.floor(3e8 / len / 4));
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) sink += fn(len);
      const seconds = (performance.now() - t0) / 1000;
      row.push(((iterations * len) / seconds / 1e9).toFixed(2).padStart(12));
    }
    console.log(`${label.padEnd(26)}${row.join("")}`);
  }
  if (sink === -1) console.log(sink);
}

for (const len of SIZES) {
  for (const [label, fn] of cases) {
    Deno.bench({ name: `${label}, ${len} B`, group: `${len} B`, fn: () => void fn(len) });
  }
}
