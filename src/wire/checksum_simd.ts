/**
 * A fast ones'-complement sum (RFC 1071) for full checksums over large packets (GSO
 * super-packets of up to 64 KiB), in WebAssembly SIMD, with the plain TypeScript
 * {@linkcode sumWords} as the fallback where WebAssembly SIMD is missing.
 *
 * The WebAssembly module is assembled here from its bytes (no toolchain). It can only read
 * its own linear memory, so a {@linkcode SimdChecksum} owns one and hands out buffers inside
 * it ({@linkcode SimdChecksum.allocate}): bytes received straight into such a buffer are
 * summed in place; bytes anywhere else are first copied into a scratch area of that memory.
 *
 * Why it is fast: the Internet checksum does not depend on byte order (RFC 1071 section
 * 2(B)), so the module adds little-endian 16-bit lanes (`i32x4.extadd_pairwise_i16x8_u`,
 * 16 bytes per instruction, four independent accumulators) and the result is byte-swapped
 * once at the end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimdChecksum } from "./checksum_simd.ts";
 * import { finish } from "./checksum.ts";
 *
 * const summer = new SimdChecksum(2048);
 * const pkt = summer.allocate(1500); // received into, then summed without a copy
 * pkt.fill(0x5a);
 * const check = finish(summer.sum(pkt, 0, pkt.length));
 * assert.ok(check === (~(0x5a5a * 750 % 0xffff) & 0xffff));
 * ```
 *
 * @module
 */

import { fold, sumWords } from "./checksum.ts";

// Bytes one call into the module may sum: 1 MiB keeps every 32-bit lane of the four
// accumulators below 2^32 (16384 iterations of at most 2 * 0xffff each).
const CALL_LIMIT = 1 << 20;
// Copy area for bytes that live outside the module's memory.
const SCRATCH_BYTES = 64 * 1024;
// Below this the call and the byte swap cost more than the scalar loop.
const SMALL = 32;
const PAGE = 64 * 1024;

/** Unsigned LEB128, as WebAssembly encodes counts, indices and offsets. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** A section: id, byte length, contents. */
function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** A name as WebAssembly encodes it (length-prefixed UTF-8; ASCII here). */
function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

// Opcodes used below (WebAssembly core 2.0; SIMD ones follow the 0xfd prefix as LEB128).
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d;
const VOID = 0x40, I32 = 0x7f, V128 = 0x7b;
const GET = 0x20, SET = 0x21;
const I32_LOAD8_U = 0x2d, I32_LOAD16_U = 0x2f, I32_CONST = 0x41;
const I32_GE_U = 0x4f, I32_ADD = 0x6a, I32_AND = 0x71;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00];
const I32X4_SPLAT = [SIMD, 0x11];
const I32X4_EXTRACT_LANE = [SIMD, 0x1b];
const V128_AND = [SIMD, 0x4e];
const I32X4_EXTADD_PAIRWISE_I16X8_U = [SIMD, 0x7f];
const I32X4_SHR_U = [SIMD, ...uleb(0xad)];
const I32X4_ADD = [SIMD, ...uleb(0xae)];

// Locals of sum(p, n): parameters 0 and 1, then end, total, four accumulators.
const P = 0, N = 1, E = 2, T = 3, A0 = 4;

/** Sets local E = p + (n & mask): the end of the part a loop of `mask`-sized steps covers. */
function setEnd(mask: number): number[] {
  return [GET, P, GET, N, I32_CONST, ...sleb(mask), I32_AND, I32_ADD, SET, E];
}

/** Signed LEB128 for i32.const. */
function sleb(n: number): number[] {
  const out: number[] = [];
  while (true) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

/** `while (p < e) { body; p += step }` */
function loopUntilEnd(body: number[], step: number): number[] {
  return [
    BLOCK,
    VOID,
    LOOP,
    VOID,
    ...[GET, P, GET, E, I32_GE_U, BR_IF, 1],
    ...body,
    ...[GET, P, I32_CONST, ...sleb(step), I32_ADD, SET, P],
    ...[BR, 0],
    END,
    END,
  ];
}

/** acc += pairwise u16 sums of the 16 bytes at p + offset. */
function accumulate(acc: number, offset: number): number[] {
  return [
    ...[GET, acc, GET, P, ...V128_LOAD, 0, ...uleb(offset)],
    ...I32X4_EXTADD_PAIRWISE_I16X8_U,
    ...I32X4_ADD,
    ...[SET, acc],
  ];
}

/** Pushes (acc & 0xffff) + (acc >>> 16) lane-wise: every lane then stays below 2^17. */
function foldLanes(acc: number): number[] {
  return [
    ...[GET, acc, I32_CONST, ...sleb(0xffff), ...I32X4_SPLAT, ...V128_AND],
    ...[GET, acc, I32_CONST, 16, ...I32X4_SHR_U],
    ...I32X4_ADD,
  ];
}

/**
 * The module: imports its memory as "e"."m" and exports `sum(p: i32, n: i32) -> i32`, the
 * unfolded sum of the little-endian 16-bit words of memory[p, p + n) (an odd last byte
 * counts as the low byte of a word), for n <= 1 MiB.
 */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const body = [
    // Locals: end, total (i32); four v128 accumulators (zeroed by WebAssembly).
    ...[2, 2, I32, 4, V128],
    // 64 bytes per iteration into four accumulators (independent dependency chains).
    ...setEnd(-64),
    ...loopUntilEnd([0, 1, 2, 3].flatMap((k) => accumulate(A0 + k, 16 * k)), 64),
    // Up to three more 16-byte blocks.
    ...setEnd(48),
    ...loopUntilEnd(accumulate(A0, 0), 16),
    // Fold every accumulator's lanes to 17 bits, add them, then add the four lanes.
    ...foldLanes(A0),
    ...foldLanes(A0 + 1),
    ...I32X4_ADD,
    ...foldLanes(A0 + 2),
    ...I32X4_ADD,
    ...foldLanes(A0 + 3),
    ...I32X4_ADD,
    ...[SET, A0],
    ...[GET, A0, ...I32X4_EXTRACT_LANE, 0],
    ...[GET, A0, ...I32X4_EXTRACT_LANE, 1, I32_ADD],
    ...[GET, A0, ...I32X4_EXTRACT_LANE, 2, I32_ADD],
    ...[GET, A0, ...I32X4_EXTRACT_LANE, 3, I32_ADD],
    ...[SET, T],
    // Up to seven 16-bit words.
    ...setEnd(14),
    ...loopUntilEnd([GET, T, GET, P, I32_LOAD16_U, 1, 0, I32_ADD, SET, T], 2),
    // An odd last byte.
    ...[GET, N, I32_CONST, 1, I32_AND, IF, VOID],
    ...[GET, T, GET, P, I32_LOAD8_U, 0, 0, I32_ADD, SET, T],
    END,
    ...[GET, T],
    END,
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 2, I32, I32, 1, I32]),
    ...section(2, [1, ...name("e"), ...name("m"), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("sum"), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null when this runtime has no WebAssembly SIMD. */
function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    compiled = typeof WebAssembly === "object" && WebAssembly.validate(bytes)
      ? new WebAssembly.Module(bytes)
      : null;
  }
  return compiled;
}

/** Whether this runtime runs the WebAssembly SIMD sum (else the TypeScript fallback). */
export function simdAvailable(): boolean {
  return simdModule() !== null;
}

/**
 * Ones'-complement sums over its own memory: WebAssembly SIMD where available, else plain
 * TypeScript. One per thread that needs fast sums (a queue owns one for its receive ring).
 */
export class SimdChecksum {
  /** Whether sums run in WebAssembly SIMD (false: the TypeScript fallback). */
  readonly simd: boolean;
  readonly #memory: ArrayBuffer;
  readonly #bytes: Uint8Array;
  readonly #wasmSum: ((p: number, n: number) => number) | undefined;
  readonly #scratch: number;
  #next = 0;

  /**
   * @param arenaBytes room for {@linkcode allocate} (a 64 KiB scratch area is added)
   * @param options `simd: false` forces the TypeScript fallback (for comparisons)
   */
  constructor(arenaBytes = 0, options: { simd?: boolean } = {}) {
    if (!Number.isInteger(arenaBytes) || arenaBytes < 0 || arenaBytes > 1 << 30) {
      throw new RangeError(`arenaBytes must be an integer 0..1 GiB, got ${arenaBytes}`);
    }
    const arena = (arenaBytes + 15) & ~15;
    const mod = options.simd === false ? null : simdModule();
    if (mod !== null) {
      const pages = Math.ceil((arena + SCRATCH_BYTES) / PAGE);
      // Fixed size: growing would detach the ArrayBuffer whose views we hand out.
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      const instance = new WebAssembly.Instance(mod, { e: { m: memory } });
      this.#wasmSum = instance.exports.sum as (p: number, n: number) => number;
      this.#memory = memory.buffer as ArrayBuffer;
    } else {
      this.#wasmSum = undefined;
      this.#memory = new ArrayBuffer(arena + SCRATCH_BYTES);
    }
    this.simd = mod !== null;
    this.#bytes = new Uint8Array(this.#memory);
    this.#scratch = arena;
  }

  /**
   * A zeroed buffer of `bytes` inside this summer's memory (16-byte aligned). It lives as
   * long as this object; sums over it need no copy. Throws when the arena is used up.
   */
  allocate(bytes: number): Uint8Array {
    const at = this.#next;
    if (!Number.isInteger(bytes) || bytes < 0 || at + bytes > this.#scratch) {
      throw new RangeError(
        `cannot allocate ${bytes} bytes: ${this.#scratch - at} of the arena left ` +
          `(pass a larger arenaBytes to the constructor)`,
      );
    }
    this.#next = at + ((bytes + 15) & ~15);
    return new Uint8Array(this.#memory, at, bytes);
  }

  /**
   * Adds the big-endian 16-bit words of `buf[off, off + len)` (odd last byte padded with
   * zero) to `sum` and returns the result, unfolded like {@linkcode sumWords}: pass it to
   * `finish()` for a checksum field. Allocates nothing for buffers from {@linkcode allocate}
   * (a range elsewhere is copied in, 64 KiB at a time, through a short-lived subarray).
   */
  sum(buf: Uint8Array, off: number, len: number, sum = 0): number {
    const wasm = this.#wasmSum;
    if (wasm === undefined || len < SMALL) return sumWords(buf, off, len, sum);
    let le = 0;
    if (buf.buffer === this.#memory) {
      let p = buf.byteOffset + off;
      let left = len;
      while (left > CALL_LIMIT) {
        le = fold(le + wasm(p, CALL_LIMIT));
        p += CALL_LIMIT;
        left -= CALL_LIMIT;
      }
      le = fold(le + wasm(p, left));
    } else {
      // Copies of an even size keep the word pairing of the whole range.
      const bytes = this.#bytes;
      const scratch = this.#scratch;
      let p = off;
      let left = len;
      while (left > 0) {
        const n = left > SCRATCH_BYTES ? SCRATCH_BYTES : left;
        bytes.set(buf.subarray(p, p + n), scratch);
        le = fold(le + wasm(scratch, n));
        p += n;
        left -= n;
      }
    }
    // Byte order only swaps the bytes of the folded sum (RFC 1071 2(B)).
    return (((le & 0xff) << 8) | (le >>> 8)) + sum;
  }
}
