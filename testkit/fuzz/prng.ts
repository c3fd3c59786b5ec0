/**
 * The fuzzer's seeded pseudo-random numbers (mulberry32): one 32-bit seed fixes every packet a
 * run generates, so a failure is replayed by running the same seed again.
 *
 * @module
 */

/** A small, fast, deterministic generator; never `Math.random`. */
export class Prng {
  #s: number;

  constructor(readonly seed: number) {
    this.#s = seed | 0;
  }

  /** The next unsigned 32-bit value. */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in `[0, n)`. */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  /** An integer in `[lo, hi]`. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p * 0x1_0000_0000;
  }

  /** One element of `list`. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }

  /** Fills `b[from, to)` with random bytes. */
  fill(b: Uint8Array, from: number, to: number): void {
    for (let i = from; i < to; i++) b[i] = this.next() & 0xff;
  }
}
