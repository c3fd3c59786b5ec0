/**
 * IPv4 header (RFC 791) field offsets and accessors. Callers check {@linkcode ipv4Problem}
 * once; after it returns `undefined` every accessor is in bounds.
 *
 * @module
 */
import { adjust, finish, sum32, sumWords } from "./checksum.ts";
import { get16, get32, set16, set32 } from "./bytes.ts";

/** Byte offsets of IPv4 header fields. */
export const IPV4 = {
  VER_IHL: 0,
  TOS: 1,
  TOTAL_LENGTH: 2,
  ID: 4,
  FLAGS_FRAG: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  MIN_HEADER: 20,
} as const;

/** IP protocol numbers the engine knows. */
export const IPPROTO = {
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
} as const;

/** Header length in bytes (IHL * 4). */
export function ipv4HeaderLength(b: Uint8Array, o: number): number {
  return (b[o] & 0x0f) << 2;
}
/** Total length field. */
export function ipv4TotalLength(b: Uint8Array, o: number): number {
  return get16(b, o + IPV4.TOTAL_LENGTH);
}
/** Protocol field. */
export function ipv4Protocol(b: Uint8Array, o: number): number {
  return b[o + IPV4.PROTOCOL];
}
/** Source address as an unsigned 32-bit number. */
export function ipv4Src(b: Uint8Array, o: number): number {
  return get32(b, o + IPV4.SRC);
}
/** Destination address as an unsigned 32-bit number. */
export function ipv4Dst(b: Uint8Array, o: number): number {
  return get32(b, o + IPV4.DST);
}
/** True when the packet is a fragment (more-fragments set or a non-zero offset). */
export function ipv4IsFragment(b: Uint8Array, o: number): boolean {
  return (get16(b, o + IPV4.FLAGS_FRAG) & 0x3fff) !== 0;
}

/** Why an IPv4 packet cannot be handled, or `undefined` when its header is sound. */
export type Ipv4Problem = "short" | "version" | "header-length" | "total-length";

/**
 * Checks that `len` bytes at `o` hold a complete IPv4 header and that the total length fits.
 */
export function ipv4Problem(b: Uint8Array, o: number, len: number): Ipv4Problem | undefined {
  if (len < IPV4.MIN_HEADER) return "short";
  if (b[o] >>> 4 !== 4) return "version";
  const ihl = ipv4HeaderLength(b, o);
  if (ihl < IPV4.MIN_HEADER || ihl > len) return "header-length";
  const total = ipv4TotalLength(b, o);
  if (total < ihl || total > len) return "total-length";
  return undefined;
}

/**
 * Replaces source and destination addresses and updates the header checksum incrementally.
 * Returns nothing; the caller updates any L4 pseudo-header checksum itself.
 */
export function ipv4SetAddresses(b: Uint8Array, o: number, src: number, dst: number): void {
  const oldSum = sum32(ipv4Src(b, o)) + sum32(ipv4Dst(b, o));
  set32(b, o + IPV4.SRC, src);
  set32(b, o + IPV4.DST, dst);
  const c = o + IPV4.CHECKSUM;
  set16(b, c, adjust(get16(b, c), oldSum, sum32(src) + sum32(dst)));
}

/** Recomputes the header checksum from scratch (for packets the engine builds itself). */
export function ipv4FillChecksum(b: Uint8Array, o: number): void {
  set16(b, o + IPV4.CHECKSUM, 0);
  set16(b, o + IPV4.CHECKSUM, finish(sumWords(b, o, ipv4HeaderLength(b, o))));
}

/** Parses dotted-quad text into an unsigned 32-bit number, or `undefined` if it is not one. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

/** Formats an unsigned 32-bit number as dotted-quad text. */
export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
