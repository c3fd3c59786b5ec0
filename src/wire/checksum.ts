/**
 * Internet checksums (RFC 1071) and their incremental update (RFC 1624), as pure functions
 * over byte ranges. Nothing here allocates.
 *
 * @module
 */

/**
 * Adds the 16-bit big-endian words of `buf[off, off+len)` to `sum`, without folding.
 * An odd trailing byte is padded with zero, as RFC 1071 says.
 */
export function sumWords(buf: Uint8Array, off: number, len: number, sum = 0): number {
  const end = off + len - 1;
  let i = off;
  // Fold every 4096 words so the running sum stays a small integer (no float precision loss).
  while (i < end) {
    sum += (buf[i] << 8) | buf[i + 1];
    i += 2;
    if ((i & 0x1fff) === 0) sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (i === end) sum += buf[i] << 8;
  return sum;
}

/** Folds a running sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  // Running sums stay far below 2^32, where two shift-and-add rounds are exact and cost a few
  // cycles; a float division per round cost the engine about a tenth of its time per packet.
  // The wide case is a call of its own so that fold stays small: the engine's rewrite inlines
  // it a dozen times, and its bytecode counts against V8's inlining budget each time.
  if (sum > 0xffffffff) sum = foldWide(sum);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** Folds a sum of 2^32 or more to below 2^32 (float arithmetic: no 32-bit operator fits). */
function foldWide(sum: number): number {
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for a running sum: the complement of its 16-bit fold. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Sum of an IPv4 pseudo-header (RFC 793/768) for the given addresses, protocol and L4 length. */
export function pseudoSumV4(src: number, dst: number, proto: number, l4Length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4Length;
}

/**
 * Updates checksum `check` for 16-bit words whose ones'-complement sum changed from
 * `oldSum` to `newSum` (both may be unfolded). RFC 1624 equation 3: HC' = ~(~HC + ~m + m').
 */
export function adjust(check: number, oldSum: number, newSum: number): number {
  const sum = (~check & 0xffff) + (~fold(oldSum) & 0xffff) + fold(newSum);
  return ~fold(sum) & 0xffff;
}

/** Sum of the two 16-bit halves of a 32-bit value (an IPv4 address, a sequence number). */
export function sum32(v: number): number {
  return (v >>> 16) + (v & 0xffff);
}

/**
 * Sum of the 16-bit words that cover bytes `[from, to)`, with word boundaries counted from
 * `base` (the start of the checksummed header). Taken before and after editing bytes at any
 * alignment, it gives {@linkcode adjust} the old and new sums of exactly the words that changed.
 */
export function sumSpan(b: Uint8Array, base: number, from: number, to: number): number {
  const start = from - ((from - base) & 1);
  const end = to + ((to - base) & 1);
  return sumWords(b, start, end - start);
}
