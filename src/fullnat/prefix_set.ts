/**
 * A set of address prefixes that answers "is this address inside one of them?" without
 * allocating: a service's allow and deny lists (DPVS's whitelist and blacklist), asked once
 * per new connection. Prefixes are grouped by length; for each distinct length the address is
 * masked and looked up in one open-addressing table keyed by (length, masked address), so a
 * list of ten thousand /32s costs one probe and a list mixing /8, /16 and /24 costs three,
 * whatever its size. Built once when configuration changes; never changed afterwards.
 *
 * Addresses are four words, most significant first, an IPv4 address in the first word and
 * zeros after it (as {@linkcode AddressFamily.clientWords} writes them); a set holds the
 * prefixes of one family.
 *
 * @module
 */
import { prefixMaskWords } from "../vocab/persistence_mask.ts";

/** One prefix of the set: its address as four words (host bits zero) and its length. */
export interface PrefixWords {
  words: ArrayLike<number>;
  length: number;
}

/** Where a key's probe starts: the four masked words and the length mixed. */
function hashKey(a: number, b: number, c: number, d: number, length: number): number {
  let h = Math.imul(a ^ 0x9e3779b9 ^ length, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ b;
  h = Math.imul((h << 13) | (h >>> 19), 0xe6546b64) ^ c;
  h = Math.imul((h << 15) | (h >>> 17), 0x85ebca6b) ^ d;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h ^ (h >>> 16)) >>> 0;
}

/** An immutable set of prefixes of one family. */
export class PrefixSet {
  /** The distinct prefix lengths held, longest first. */
  readonly #lengths: Int32Array;
  /** The mask of each entry of `#lengths`, four words each. */
  readonly #masks: Uint32Array;
  /**
   * Key words, four per slot, signed: a word of 2^31 or more passed to a call that is not
   * inlined would be boxed into a new heap number.
   */
  readonly #keys: Int32Array;
  /** Each slot's prefix length plus one; 0 marks a free slot. */
  readonly #used: Int32Array;
  readonly #slotMask: number;
  /** Prefixes held (duplicates counted once). */
  readonly size: number;

  constructor(prefixes: readonly PrefixWords[]) {
    let slots = 8;
    while (slots < prefixes.length * 2) slots *= 2;
    this.#keys = new Int32Array(slots * 4);
    this.#used = new Int32Array(slots);
    this.#slotMask = slots - 1;
    const lengths = [...new Set(prefixes.map((p) => p.length))].sort((a, b) => b - a);
    this.#lengths = Int32Array.from(lengths);
    this.#masks = new Uint32Array(lengths.length * 4);
    lengths.forEach((l, i) => prefixMaskWords(l, this.#masks.subarray(i * 4, i * 4 + 4)));
    let size = 0;
    for (const p of prefixes) {
      const m = new Uint32Array(4);
      prefixMaskWords(p.length, m);
      const w = [0, 1, 2, 3].map((i) => p.words[i] & m[i]);
      if (this.#find(w[0], w[1], w[2], w[3], p.length) >= 0) continue;
      let i = hashKey(w[0], w[1], w[2], w[3], p.length) & this.#slotMask;
      while (this.#used[i] !== 0) i = (i + 1) & this.#slotMask;
      this.#keys.set(w, i * 4);
      this.#used[i] = p.length + 1;
      size++;
    }
    this.size = size;
  }

  /** The slot of the prefix of `length` whose masked words are `a..d`, or -1. */
  #find(a: number, b: number, c: number, d: number, length: number): number {
    const keys = this.#keys;
    const used = this.#used;
    const mask = this.#slotMask;
    for (let i = hashKey(a, b, c, d, length) & mask;; i = (i + 1) & mask) {
      const u = used[i];
      if (u === 0) return -1;
      const k = i << 2;
      if (
        u === length + 1 && keys[k] === a && keys[k + 1] === b && keys[k + 2] === c &&
        keys[k + 3] === d
      ) return i;
    }
  }

  /** True when the address `w[0, 4)` lies inside one of the set's prefixes. */
  has(w: Uint32Array): boolean {
    const lengths = this.#lengths;
    const m = this.#masks;
    for (let j = 0; j < lengths.length; j++) {
      const k = j << 2;
      if (
        this.#find(
          w[0] & m[k],
          w[1] & m[k + 1],
          w[2] & m[k + 2],
          w[3] & m[k + 3],
          lengths[j],
        ) >= 0
      ) return true;
    }
    return false;
  }
}
