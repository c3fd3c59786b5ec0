/**
 * The Internet checksum (RFC 1071), written independently of `src/` so crafted test packets
 * never share a bug with the code they test.
 *
 * @module
 */

/** Adds `data` as big-endian 16-bit words (odd tail padded with zero) to `sum`, folded. */
export function onesComplementSum(data: Uint8Array, sum = 0): number {
  let acc = sum;
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) {
    acc += (data[i] << 8) | data[i + 1];
    // Fold often enough that the JS number never loses precision, whatever the length.
    if (acc > 0x7fffffff) acc = (acc & 0xffff) + (acc >>> 16);
  }
  if (even !== data.length) acc += data[even] << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/** The checksum field value for `data` (with its own checksum field zeroed) plus `sum`. */
export function internetChecksum(data: Uint8Array, sum = 0): number {
  return ~onesComplementSum(data, sum) & 0xffff;
}

/** The sum of the IPv4 pseudo-header of a TCP/UDP segment of `length` bytes. */
export function pseudoHeaderSum(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  length: number,
): number {
  const ph = new Uint8Array(12);
  ph.set(src, 0);
  ph.set(dst, 4);
  ph[9] = protocol;
  ph[10] = (length >>> 8) & 0xff;
  ph[11] = length & 0xff;
  return onesComplementSum(ph);
}

/** The sum of the IPv6 pseudo-header (RFC 8200 8.1) of an upper-layer packet of `length` bytes. */
export function pseudoHeaderSum6(
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  length: number,
): number {
  const ph = new Uint8Array(40);
  ph.set(src, 0);
  ph.set(dst, 16);
  ph[32] = (length >>> 24) & 0xff;
  ph[33] = (length >>> 16) & 0xff;
  ph[34] = (length >>> 8) & 0xff;
  ph[35] = length & 0xff;
  ph[39] = nextHeader;
  return onesComplementSum(ph);
}
