/**
 * The greatest common divisor of weights, which the weighted schedulers divide weights by so a
 * round, a bucket table or a Maglev turn is no longer than it needs to be (wrr, sh, dh, mh).
 *
 * @module
 */

/** The greatest common divisor of two non-negative integers. */
export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The greatest common divisor of the positive `weights`; 0 when none is positive. */
export function positiveWeightGcd(weights: readonly number[]): number {
  let g = 0;
  for (const w of weights) if (w > 0) g = gcd(g, w);
  return g;
}
