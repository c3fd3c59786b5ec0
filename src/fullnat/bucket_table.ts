/**
 * The bucket table of the sh and dh schedulers (IPVS `ip_vs_sh.c`, `ip_vs_dh.c`): 256 buckets
 * dealt to the servers in list order, each server taking as many consecutive buckets as its
 * weight, round after round until every bucket is taken, so a server's share of hashed clients
 * is its share of the weights. A server of weight 0 still takes one bucket, as in IPVS: its
 * clients are then refused, or sent elsewhere with sh-fallback, and no other client moves.
 *
 * Weights are divided by their greatest common divisor first (IPVS deals raw weights, so
 * weights 100 and 200 would give the first server every bucket); when one round still needs
 * more than 256 buckets the turns are scaled down to fit, at least one each.
 *
 * @module
 */
import type { RealServer } from "./service.ts";
import { positiveWeightGcd } from "./weight_gcd.ts";

/** Buckets of the sh and dh table (IPVS's default `CONFIG_IP_VS_SH_TAB_BITS=8`). */
export const BUCKETS = 256;

/** How many consecutive buckets each server takes per round. */
export function bucketTurns(weights: readonly number[]): number[] {
  const g = positiveWeightGcd(weights);
  const turns = weights.map((w) => (w > 0 ? w / g : 1));
  const round = turns.reduce((a, t) => a + t, 0);
  if (round <= BUCKETS) return turns;
  return turns.map((t, i) => (weights[i] > 0 ? Math.max(1, Math.floor((t * BUCKETS) / round)) : 1));
}

/**
 * The table: bucket to index in `servers`, or -1 for every bucket when there is none. A server
 * out of its service (`listed` false: down by its health checks, or displaced by the sorry
 * server) takes no bucket, as if it were deleted.
 */
export function buildBucketTable(servers: readonly RealServer[]): Int32Array {
  const table = new Int32Array(BUCKETS).fill(-1);
  const dealt: number[] = [];
  servers.forEach((s, i) => s.listed && dealt.push(i));
  if (dealt.length === 0) return table;
  const turns = bucketTurns(dealt.map((i) => servers[i].weight));
  let server = 0;
  let taken = 0;
  for (let b = 0; b < BUCKETS; b++) {
    table[b] = dealt[server];
    if (++taken >= turns[server]) {
      taken = 0;
      server = (server + 1) % dealt.length;
    }
  }
  return table;
}
