/**
 * Hashes of a packet tuple as it appears on the wire (source then destination), by which the
 * session table's index is keyed: one per address family, so each family's lookup hashes its
 * own address width and none converts to the other's.
 *
 * Both return a signed 32-bit value: an unsigned one of 2^31 or more would be boxed on every
 * call not inlined.
 *
 * @module
 */

// Mixing constants of a 32-bit multiplicative hash; any odd constants with good avalanche do.
const M1 = 0x9e3779b1;
const M2 = 0x85ebca77;

/** Hash of an IPv4 tuple; addresses as signed or unsigned 32-bit values alike. */
export function tupleHash(
  proto: number,
  saddr: number,
  sport: number,
  daddr: number,
  dport: number,
): number {
  let h = Math.imul(saddr ^ proto, M1);
  h = Math.imul(h ^ (h >>> 15) ^ daddr, M2);
  h = Math.imul(h ^ (h >>> 13) ^ ((sport << 16) | dport), M1);
  return h ^ (h >>> 16);
}

/** Hash of an IPv6 tuple whose addresses are `s[so, so+4)` and `d[do_, do_+4)`. */
export function tupleHash6(
  proto: number,
  s: Uint32Array,
  so: number,
  sport: number,
  d: Uint32Array,
  do_: number,
  dport: number,
): number {
  let h = Math.imul(s[so] ^ proto, M1);
  h = Math.imul(h ^ (h >>> 15) ^ s[so + 1], M2);
  h = Math.imul(h ^ (h >>> 13) ^ s[so + 2], M1);
  h = Math.imul(h ^ (h >>> 15) ^ s[so + 3], M2);
  h = Math.imul(h ^ (h >>> 13) ^ d[do_], M1);
  h = Math.imul(h ^ (h >>> 15) ^ d[do_ + 1], M2);
  h = Math.imul(h ^ (h >>> 13) ^ d[do_ + 2], M1);
  h = Math.imul(h ^ (h >>> 15) ^ d[do_ + 3], M2);
  h = Math.imul(h ^ (h >>> 13) ^ ((sport << 16) | dport), M1);
  return h ^ (h >>> 16);
}
