/**
 * Initial sequence numbers for the balancer's side of a FULLNAT connection (seed 4.6, RFC
 * 6528): ISN = M + F(laddr, lport, raddr, rport, secret), where M is a 4-microsecond clock and
 * F a keyed hash. SYNs reusing a tuple therefore get increasing ISNs, and nobody without the
 * secret can predict them.
 *
 * F is the HalfSipHash-2-4 construction (32-bit words, 64-bit key) over three words: the two
 * addresses and the two ports. The secret comes from the caller (the engine takes it as an
 * option) so tests are deterministic.
 *
 * @module
 */

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

// The state lives in module scope so hashing allocates nothing.
let v0 = 0, v1 = 0, v2 = 0, v3 = 0;

function round(): void {
  v0 = (v0 + v1) | 0;
  v1 = rotl(v1, 5) ^ v0;
  v0 = rotl(v0, 16);
  v2 = (v2 + v3) | 0;
  v3 = rotl(v3, 8) ^ v2;
  v0 = (v0 + v3) | 0;
  v3 = rotl(v3, 7) ^ v0;
  v2 = (v2 + v1) | 0;
  v1 = rotl(v1, 13) ^ v2;
  v2 = rotl(v2, 16);
}

/** Absorbs one 32-bit word into the running hash ({@linkcode hashStart} first). */
export function hashAbsorb(m: number): void {
  absorb(m);
}

function absorb(m: number): void {
  v3 ^= m;
  round();
  round();
  v0 ^= m;
}

/**
 * Starts a keyed hash of any number of words (the SYN cookies' hash, `syn_cookie.ts`): then
 * {@linkcode hashAbsorb} each word and {@linkcode hashFinish} with the byte count.
 */
export function hashStart(k0: number, k1: number): void {
  start(k0, k1);
}

/** Ends the hash begun by {@linkcode hashStart}; a signed 32-bit value. */
export function hashFinish(bytes: number): number {
  return finish(bytes);
}

function start(k0: number, k1: number): void {
  v0 = k0 | 0;
  v1 = k1 | 0;
  v2 = 0x6c796765 ^ k0;
  v3 = 0x74656462 ^ k1;
}

/** Absorbs the message length word and runs the finalization rounds; a signed 32-bit hash. */
function finish(bytes: number): number {
  absorb((bytes << 24) | 0); // message length in bytes, in the top byte of the final word
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v1 ^ v3;
}

/** Keyed 32-bit hash of three 32-bit words with key `k0:k1`. */
export function keyedHash3(k0: number, k1: number, a: number, b: number, c: number): number {
  return hash3(k0, k1, a, b, c) >>> 0;
}

// The hot path's variants below return signed 32-bit values: an unsigned one of 2^31 or more
// is not a small integer and would be boxed into a new heap number on every call.
function hash3(k0: number, k1: number, a: number, b: number, c: number): number {
  start(k0, k1);
  absorb(a | 0);
  absorb(b | 0);
  absorb(c | 0);
  return finish(12);
}

/** Multiplier of {@linkcode isnV4}'s clock: 4-microsecond ticks per millisecond. */
export const ISN_TICKS_PER_MS = 250;

/**
 * {@linkcode secureIsnV4} as a signed 32-bit value, the clock given as `ticks`, which is
 * `Math.floor(nowMs * ISN_TICKS_PER_MS) | 0`. The engine computes that itself, so no double
 * crosses a call.
 */
export function isnV4(
  key: Uint32Array,
  laddr: number,
  lport: number,
  raddr: number,
  rport: number,
  ticks: number,
): number {
  return (hash3(key[0], key[1], laddr, raddr, (lport << 16) | rport) + ticks) | 0;
}

/**
 * The ISN for a connection from `laddr:lport` to `raddr:rport` at monotonic time `nowMs`,
 * under the 64-bit secret `key` (two 32-bit words).
 */
export function secureIsnV4(
  key: Uint32Array,
  laddr: number,
  lport: number,
  raddr: number,
  rport: number,
  nowMs: number,
): number {
  // 4 microsecond ticks, wrapping
  return isnV4(key, laddr, lport, raddr, rport, Math.floor(nowMs * ISN_TICKS_PER_MS) | 0) >>> 0;
}

/**
 * {@linkcode secureIsnV4} for IPv6: the local address is `a[lo, lo+4)` and the real server's
 * `a[ro, ro+4)` (RFC 6528 hashes the whole 128-bit addresses).
 */
export function secureIsnV6(
  key: Uint32Array,
  a: Uint32Array,
  lo: number,
  lport: number,
  ro: number,
  rport: number,
  nowMs: number,
): number {
  return isnV6(key, a, lo, lport, ro, rport, Math.floor(nowMs * ISN_TICKS_PER_MS) | 0) >>> 0;
}

/** {@linkcode secureIsnV6} as a signed 32-bit value, the clock as in {@linkcode isnV4}. */
export function isnV6(
  key: Uint32Array,
  a: Uint32Array,
  lo: number,
  lport: number,
  ro: number,
  rport: number,
  ticks: number,
): number {
  start(key[0], key[1]);
  for (let i = 0; i < 4; i++) absorb(a[lo + i] | 0);
  for (let i = 0; i < 4; i++) absorb(a[ro + i] | 0);
  absorb((lport << 16) | rport);
  return (finish(36) + ticks) | 0;
}
