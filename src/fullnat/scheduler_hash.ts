/**
 * The hashes of the hashing schedulers (sh, dh, mh): of a client or virtual address, of a port
 * mixed into one, of a real server for its Maglev permutation, and the probe order a fallback
 * walks. Every word of an IPv6 address goes through the mix in turn: folding the four words
 * into one by XOR first (as IPVS's sh and mh do) makes addresses collide whenever their words
 * XOR alike, e.g. any two whose four words are the same words in another order, or a /64 of
 * clients whose interface ids differ only in bits their prefix words cancel.
 *
 * All results are signed 32-bit values (an unsigned one of 2^31 or more would be boxed when it
 * crosses a call that is not inlined); {@linkcode bucketOf} turns one into a table index.
 *
 * @module
 */

// Odd multipliers with good avalanche (the 32-bit finalizer constants of MurmurHash3) and
// distinct seeds, so the address hash, the port mix and the two server hashes are independent.
const C1 = 0x85ebca6b;
const C2 = 0xc2b2ae35;
const GOLDEN = 0x9e3779b1;
const SEED_ADDR = 0x3c6ef372;
const SEED_PORT = 0x1b873593;
const SEED_PROBE = 0x27d4eb2f;
/** Seeds of the two server hashes of a Maglev permutation (offset, skip). */
export const SEED_OFFSET = 0x165667b1;
/** See {@linkcode SEED_OFFSET}. */
export const SEED_SKIP = 0x61c88647;

/** Full avalanche of one 32-bit word. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, C1);
  h ^= h >>> 13;
  h = Math.imul(h, C2);
  return h ^ (h >>> 16);
}

/** Mixes word `w` into the running hash `h`. */
function step(h: number, w: number): number {
  return fmix(Math.imul(h ^ w, GOLDEN) + SEED_ADDR | 0);
}

/** Hash of an IPv4 address (signed or unsigned alike). */
export function hashV4(addr: number, seed = SEED_ADDR): number {
  return step(seed, addr | 0);
}

/** Hash of the IPv6 address `w[o, o+4)`: each word mixed in turn. */
export function hashV6(w: Uint32Array, o: number, seed = SEED_ADDR): number {
  let h = step(seed, w[o] | 0);
  h = step(h, w[o + 1] | 0);
  h = step(h, w[o + 2] | 0);
  return step(h, w[o + 3] | 0);
}

/** `h` with a port mixed in (the sh-port and mh-port flags). */
export function withPort(h: number, port: number): number {
  return fmix(h ^ Math.imul(port + SEED_PORT | 0, GOLDEN));
}

/** The index of `h` in a table of `size` entries (size below 2^31). */
export function bucketOf(h: number, size: number): number {
  return (h >>> 1) % size;
}

/**
 * The `k`-th entry (k from 1) a fallback tries in a table of `size` entries, for the client
 * hashed `h`: a fresh hash per try, not a stride through the table, because the tables are
 * periodic (sh deals its buckets in rounds), and a fixed stride would keep landing on the same
 * few servers and leave others out.
 */
export function probeBucket(h: number, k: number, size: number): number {
  return bucketOf(fmix(h ^ Math.imul(k + SEED_PROBE | 0, GOLDEN)), size);
}
