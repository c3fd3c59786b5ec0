/**
 * TCP header (RFC 9293) field offsets and accessors, relative to the start of the TCP header.
 * Callers check {@linkcode tcpProblem} once; afterwards every accessor is in bounds.
 *
 * @module
 */
import { get16, get32 } from "./bytes.ts";

/** Byte offsets of TCP header fields. */
export const TCP = {
  SPORT: 0,
  DPORT: 2,
  SEQ: 4,
  ACK: 8,
  DATA_OFFSET: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  MIN_HEADER: 20,
} as const;

/** TCP flag bits. */
export const TCP_FLAG = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
} as const;

/** Source port. */
export function tcpSport(b: Uint8Array, t: number): number {
  return get16(b, t + TCP.SPORT);
}
/** Destination port. */
export function tcpDport(b: Uint8Array, t: number): number {
  return get16(b, t + TCP.DPORT);
}
/** Sequence number. */
export function tcpSeq(b: Uint8Array, t: number): number {
  return get32(b, t + TCP.SEQ);
}
/** Acknowledgment number. */
export function tcpAck(b: Uint8Array, t: number): number {
  return get32(b, t + TCP.ACK);
}
/** Header length in bytes (data offset * 4). */
export function tcpHeaderLength(b: Uint8Array, t: number): number {
  return (b[t + TCP.DATA_OFFSET] >>> 4) << 2;
}
/** Flag byte. */
export function tcpFlags(b: Uint8Array, t: number): number {
  return b[t + TCP.FLAGS];
}

/** Why a TCP segment cannot be handled, or `undefined` when its header is sound. */
export type TcpProblem = "short" | "header-length";

/** Checks that `l4Length` bytes at `t` hold a complete TCP header including its options. */
export function tcpProblem(b: Uint8Array, t: number, l4Length: number): TcpProblem | undefined {
  if (l4Length < TCP.MIN_HEADER) return "short";
  const hl = tcpHeaderLength(b, t);
  if (hl < TCP.MIN_HEADER || hl > l4Length) return "header-length";
  return undefined;
}
