/**
 * UDP header (RFC 768) field offsets and accessors, relative to the start of the UDP header.
 *
 * @module
 */
import { get16 } from "./bytes.ts";

/** Byte offsets of UDP header fields. */
export const UDP = { SPORT: 0, DPORT: 2, LENGTH: 4, CHECKSUM: 6, HEADER: 8 } as const;

/** Source port. */
export function udpSport(b: Uint8Array, u: number): number {
  return get16(b, u + UDP.SPORT);
}
/** Destination port. */
export function udpDport(b: Uint8Array, u: number): number {
  return get16(b, u + UDP.DPORT);
}

/** Why a UDP datagram cannot be handled, or `undefined` when its header is sound. */
export type UdpProblem = "short" | "length";

/** Checks the UDP header and that its length field fits the IP payload. */
export function udpProblem(b: Uint8Array, u: number, l4Length: number): UdpProblem | undefined {
  if (l4Length < UDP.HEADER) return "short";
  const len = get16(b, u + UDP.LENGTH);
  if (len < UDP.HEADER || len > l4Length) return "length";
  return undefined;
}
