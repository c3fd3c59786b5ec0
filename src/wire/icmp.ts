/**
 * ICMP for IPv4 (RFC 792) and ICMPv6 (RFC 4443): field offsets, the message types the engine
 * translates, and which of them are errors that quote the datagram that caused them.
 *
 * @module
 */

/** Byte offsets of ICMP header fields, relative to the start of the ICMP header. */
export const ICMP = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Fragmentation needed (v4): the next-hop MTU is the low 16 bits of the second word. */
  NEXT_HOP_MTU: 6,
  /** Packet too big (v6): the MTU is the whole second word. */
  MTU_V6: 4,
  /** Where the quoted datagram starts in an error message. */
  QUOTE: 8,
} as const;

/** ICMPv4 types the engine knows. */
export const ICMP4_TYPE = {
  ECHO_REPLY: 0,
  DEST_UNREACH: 3,
  SOURCE_QUENCH: 4,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
} as const;

/** Destination unreachable code "fragmentation needed and DF set". */
export const ICMP4_FRAG_NEEDED = 4;

/** ICMPv6 types the engine knows. */
export const ICMP6_TYPE = {
  DEST_UNREACH: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
} as const;

/** True for the ICMPv4 errors that are translated (seed 4.7; README "Beyond IPv4 TCP"). */
export function icmp4IsTranslatedError(type: number): boolean {
  return type === ICMP4_TYPE.DEST_UNREACH || type === ICMP4_TYPE.SOURCE_QUENCH ||
    type === ICMP4_TYPE.TIME_EXCEEDED;
}

/** True for the ICMPv6 errors that are translated. */
export function icmp6IsTranslatedError(type: number): boolean {
  return type === ICMP6_TYPE.DEST_UNREACH || type === ICMP6_TYPE.PACKET_TOO_BIG ||
    type === ICMP6_TYPE.TIME_EXCEEDED;
}
