/**
 * ICMPv6 errors about a session (destination unreachable, packet too big, time exceeded),
 * translated into the other end's view as {@linkcode translateIcmpError} does for IPv4, and
 * the "packet too big" the balancer writes itself when a segment cannot take its IPv6 TOA.
 * The ICMPv6 checksum covers a pseudo-header, so it is recomputed after the outer addresses
 * change.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { finish, sumWords } from "../wire/checksum.ts";
import { ICMP, ICMP6_TYPE } from "../wire/icmp.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import { IPV6, pseudoSumV6, sumAddr6, writeAddr6 } from "../wire/ipv6.ts";
import { fixQuotedL4, type QuoteView } from "./icmp_translate.ts";

/**
 * Checks that the ICMPv6 message at `icmp` (ending at `end`) quotes an IPv6 header followed
 * directly by at least 8 bytes of TCP or UDP, and fills `q`. Returns false otherwise.
 */
export function readQuote6(b: Uint8Array, icmp: number, end: number, q: QuoteView): boolean {
  const ip = icmp + ICMP.QUOTE;
  if (ip + IPV6.HEADER + 8 > end || b[ip] >>> 4 !== 6) return false;
  q.ip = ip;
  q.l4 = ip + IPV6.HEADER;
  q.end = end;
  return true;
}

/**
 * Rewrites the ICMPv6 error at `icmp` of the IPv6 packet at `o` (ending at `end`): outer
 * addresses `a[outerSrc] -> a[outerDst]`, quoted datagram `a[qSrc]:qSport -> a[qDst]:qDport`
 * (all addresses four words of `a`), quoted TCP seq moved by `seqDelta`, quoted ack (when
 * present) by `ackDelta`, and `mtuDelta` taken off a "packet too big" MTU.
 */
export function translateIcmp6Error(
  b: Uint8Array,
  o: number,
  icmp: number,
  end: number,
  q: QuoteView,
  a: Uint32Array,
  outerSrc: number,
  outerDst: number,
  qSrc: number,
  qSport: number,
  qDst: number,
  qDport: number,
  seqDelta: number,
  ackDelta: number,
  mtuDelta: number,
): void {
  const proto = b[q.ip + IPV6.NEXT_HEADER];
  const l4 = q.l4;
  const oldSum = sumWords(b, q.ip + IPV6.SRC, 32) + get16(b, l4) + get16(b, l4 + 2);
  const newSum = sumAddr6(a, qSrc) + sumAddr6(a, qDst) + qSport + qDport;
  writeAddr6(b, q.ip + IPV6.SRC, a, qSrc);
  writeAddr6(b, q.ip + IPV6.DST, a, qDst);
  set16(b, l4, qSport);
  set16(b, l4 + 2, qDport);
  fixQuotedL4(b, q, proto, oldSum, newSum, seqDelta, ackDelta);
  if (mtuDelta !== 0 && b[icmp + ICMP.TYPE] === ICMP6_TYPE.PACKET_TOO_BIG) {
    const mtu = get32(b, icmp + ICMP.MTU_V6);
    if (mtu > mtuDelta) set32(b, icmp + ICMP.MTU_V6, mtu - mtuDelta);
  }
  writeAddr6(b, o + IPV6.SRC, a, outerSrc);
  writeAddr6(b, o + IPV6.DST, a, outerDst);
  fillIcmp6Checksum(b, o, icmp, end);
}

/** Computes the ICMPv6 checksum of the message at `icmp` (ending at `end`) of packet `o`. */
export function fillIcmp6Checksum(b: Uint8Array, o: number, icmp: number, end: number): void {
  set16(b, icmp + ICMP.CHECKSUM, 0);
  const len = end - icmp;
  set16(
    b,
    icmp + ICMP.CHECKSUM,
    finish(sumWords(b, icmp, len, pseudoSumV6(b, o, IPPROTO.ICMPV6, len))),
  );
}

/**
 * Replaces the IPv6 packet at `o`, whose transport header is at `l4`, in place with a
 * "packet too big" from `a[src]` to `a[dst]` announcing `mtu`, quoting the headers and 8
 * bytes of transport header. Returns the new length (the buffer needs 48 more bytes than
 * the quote).
 */
export function writePacketTooBig(
  b: Uint8Array,
  o: number,
  l4: number,
  a: Uint32Array,
  src: number,
  dst: number,
  mtu: number,
): number {
  const quote = l4 - o + 8;
  const icmp = o + IPV6.HEADER;
  b.copyWithin(icmp + ICMP.QUOTE, o, o + quote);
  const total = IPV6.HEADER + ICMP.QUOTE + quote;
  set32(b, o, 0x60000000);
  set16(b, o + IPV6.PAYLOAD_LENGTH, total - IPV6.HEADER);
  b[o + IPV6.NEXT_HEADER] = IPPROTO.ICMPV6;
  b[o + IPV6.HOP_LIMIT] = 64;
  writeAddr6(b, o + IPV6.SRC, a, src);
  writeAddr6(b, o + IPV6.DST, a, dst);
  b[icmp + ICMP.TYPE] = ICMP6_TYPE.PACKET_TOO_BIG;
  b[icmp + ICMP.CODE] = 0;
  set32(b, icmp + ICMP.MTU_V6, mtu);
  fillIcmp6Checksum(b, o, icmp, o + total);
  return total;
}
