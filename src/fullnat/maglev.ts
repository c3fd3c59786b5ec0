/**
 * The Maglev lookup table of the mh scheduler (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, section 3.4; IPVS `ip_vs_mh.c`). Each server has
 * its own permutation of the table's positions, `offset + k * skip (mod size)`, from two
 * hashes of its address and port; the servers take turns claiming their next free preferred
 * position until the table is full. A server's permutation depends on nothing but itself, so
 * when one leaves, the others keep almost all of their positions and only about 1/N of the
 * clients move (bench/maglev_disruption.ts measures it).
 *
 * Weights (IPVS's facts): a server claims `weight / gcd` positions per turn, shifted right so
 * the largest claim stays within 2^6 per turn; a server of positive weight claims at least
 * one. The weight used is the server's last non-zero weight (`lastWeight`): a server set to
 * weight 0 keeps its positions, so quiescing it moves no other client (its own are refused,
 * or sent elsewhere with mh-fallback); a server added with weight 0 claims none.
 *
 * The servers take their turns in the order of their hashes, not of the service's list, so
 * the table depends only on the set of servers: a server deleted and added back (to the end of
 * the list) gets the very positions it had.
 *
 * The table size must be prime (every skip from 1 to size - 1 is then coprime with it and a
 * permutation visits every position); the sizes offered are in src/vocab/scheduler.ts.
 *
 * @module
 */
import { positiveWeightGcd } from "./weight_gcd.ts";

/** Largest claim per turn, as a power of two (IPVS: half the bits of its default index 12). */
const TURN_BITS = 6;

/** Positions each server claims per turn, from their weights (0: none). */
export function maglevTurns(weights: readonly number[]): number[] {
  const g = positiveWeightGcd(weights);
  let max = 0;
  for (const w of weights) if (w > max) max = w;
  if (g === 0) return weights.map(() => 0);
  const bits = 32 - Math.clz32(max / g);
  const shift = Math.max(0, bits - TURN_BITS);
  return weights.map((w) => (w > 0 ? Math.max(1, (w / g) >> shift) : 0));
}

/** What the table needs of one server: its two hashes and its last non-zero weight. */
export interface MaglevServer {
  /** Hash giving the start of the server's permutation. */
  offsetHash: number;
  /** Hash giving the stride of the server's permutation. */
  skipHash: number;
  weight: number;
}

/**
 * The lookup table of `size` (a prime) positions: position to index in `servers`, every
 * position -1 when no server has a weight.
 */
export function buildMaglevTable(servers: readonly MaglevServer[], size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const turns = maglevTurns(servers.map((s) => s.weight));
  const n = servers.length;
  if (turns.every((t) => t === 0)) return table;
  const next = new Int32Array(n);
  const skip = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = (servers[i].offsetHash >>> 1) % size;
    skip[i] = 1 + (servers[i].skipHash >>> 1) % (size - 1);
  }
  const order = [...servers.keys()].sort((a, b) =>
    (servers[a].offsetHash - servers[b].offsetHash) || (servers[a].skipHash - servers[b].skipHash)
  );
  let filled = 0;
  for (;;) {
    for (const i of order) {
      for (let t = 0; t < turns[i]; t++) {
        let c = next[i];
        while (table[c] !== -1) {
          c += skip[i];
          if (c >= size) c -= size;
        }
        table[c] = i;
        c += skip[i];
        next[i] = c >= size ? c - size : c;
        if (++filled === size) return table;
      }
    }
  }
}
