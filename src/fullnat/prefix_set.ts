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

/**
 * Where a key's probe starts: the four masked words `k[0, 4)` and the length mixed; 30 bits, a
 * small integer that is never boxed when returned from a call that is not inlined.
 */
function hashKey(k: Int32Array, length: number): number {
  let h = Math.imul(k[0] ^ 0x9e3779b9 ^ length, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ k[1];
  h = Math.imul((h << 13) | (h >>> 19), 0xe6546b64) ^ k[2];
  h = Math.imul((h << 15) | (h >>> 17), 0x85ebca6b) ^ k[3];
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h ^ (h >>> 16)) & 0x3fffffff;
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
  /**
   * The masked address being looked up: words travel in this array, not as arguments (a word
   * of 2^30 or more passed to a call that is not inlined would be boxed).
   */
  readonly #probe: Int32Array = new Int32Array(4);
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
      const probe = this.#probe;
      for (let i = 0; i < 4; i++) probe[i] = p.words[i] & m[i];
      if (this.#find(p.length) >= 0) continue;
      let i = hashKey(probe, p.length) & this.#slotMask;
      while (this.#used[i] !== 0) i = (i + 1) & this.#slotMask;
      this.#keys.set(probe, i * 4);
      this.#used[i] = p.length + 1;
      size++;
    }
    this.size = size;
  }

  /** The slot of the prefix of `length` whose masked words are in `#probe`, or -1. */
  #find(length: number): number {
    const keys = this.#keys;
    const used = this.#used;
    const mask = this.#slotMask;
    const p = this.#probe;
    for (let i = hashKey(p, length) & mask;; i = (i + 1) & mask) {
      const u = used[i];
      if (u === 0) return -1;
      const k = i << 2;
      if (
        u === length + 1 && keys[k] === p[0] && keys[k + 1] === p[1] && keys[k + 2] === p[2] &&
        keys[k + 3] === p[3]
      ) return i;
    }
  }

  /** True when the address `w[0, 4)` lies inside one of the set's prefixes. */
  has(w: Uint32Array): boolean {
    const lengths = this.#lengths;
    const m = this.#masks;
    const p = this.#probe;
    for (let j = 0; j < lengths.length; j++) {
      const k = j << 2;
      p[0] = w[0] & m[k];
      p[1] = w[1] & m[k + 1];
      p[2] = w[2] & m[k + 2];
      p[3] = w[3] & m[k + 3];
      if (this.#find(lengths[j]) >= 0) return true;
    }
    return false;
  }
}
