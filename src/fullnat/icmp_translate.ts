/**
 * Translation of ICMPv4 errors about a session (seed 4.7): the error quotes the datagram that
 * caused it, as the sender of that datagram wrote it; the other end of the session knows the
 * connection by different addresses, ports and sequence numbers. Both the outer header and the
 * quote are rewritten into the other end's view, so its socket matches the error (PMTU
 * discovery, "connection refused" for UDP). The quoted header checksum is recomputed, the
 * quoted L4 checksum updated incrementally when it is present, and the ICMP checksum recomputed
 * over the whole message.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { adjust, finish, sum32, sumWords } from "../wire/checksum.ts";
import { ICMP } from "../wire/icmp.ts";
import { IPPROTO, IPV4, ipv4FillChecksum, ipv4HeaderLength } from "../wire/ipv4.ts";
import { TCP } from "../wire/tcp.ts";
import { UDP } from "../wire/udp.ts";

/** Where the quoted datagram of an ICMPv4 error lies, once {@linkcode quoteProblem} passed. */
export interface QuoteView {
  /** Offset of the quoted IP header. */
  ip: number;
  /** Offset of the quoted L4 header. */
  l4: number;
  /** One past the last byte of the message. */
  end: number;
}

/**
 * Checks that the ICMP message at `icmp` (ending at `end`) quotes an IPv4 header and at least
 * the 8 bytes of L4 header that carry the ports, and fills `q`. Returns false otherwise.
 */
export function readQuote(b: Uint8Array, icmp: number, end: number, q: QuoteView): boolean {
  const ip = icmp + ICMP.QUOTE;
  if (ip + IPV4.MIN_HEADER > end || b[ip] >>> 4 !== 4) return false;
  const ihl = ipv4HeaderLength(b, ip);
  if (ihl < IPV4.MIN_HEADER || ip + ihl + 8 > end) return false;
  q.ip = ip;
  q.l4 = ip + ihl;
  q.end = end;
  return true;
}

/**
 * The rest of a quote's transport header, once its addresses and ports were rewritten (their
 * words summing `oldSum` before and `newSum` after): a quoted TCP seq moves by `seqDelta` and
 * a quoted ack (when quoted) by `ackDelta`; the quoted TCP or UDP checksum, when quoted and
 * not the "none" of UDP, is updated for all of it. Shared by ICMPv4 and ICMPv6.
 */
export function fixQuotedL4(
  b: Uint8Array,
  q: QuoteView,
  proto: number,
  oldSum: number,
  newSum: number,
  seqDelta: number,
  ackDelta: number,
): void {
  const l4 = q.l4;
  if (proto === IPPROTO.TCP) {
    if (seqDelta !== 0) {
      const seq = get32(b, l4 + TCP.SEQ);
      const now = (seq + seqDelta) >>> 0;
      set32(b, l4 + TCP.SEQ, now);
      oldSum += sum32(seq);
      newSum += sum32(now);
    }
    if (ackDelta !== 0 && l4 + TCP.ACK + 4 <= q.end) {
      const ack = get32(b, l4 + TCP.ACK);
      const now = (ack + ackDelta) >>> 0;
      set32(b, l4 + TCP.ACK, now);
      oldSum += sum32(ack);
      newSum += sum32(now);
    }
    if (l4 + TCP.CHECKSUM + 2 <= q.end) {
      const c = l4 + TCP.CHECKSUM;
      set16(b, c, adjust(get16(b, c), oldSum, newSum));
    }
  } else if (proto === IPPROTO.UDP) {
    const c = l4 + UDP.CHECKSUM;
    const check = get16(b, c);
    if (check !== 0) {
      const v = adjust(check, oldSum, newSum);
      set16(b, c, v === 0 ? 0xffff : v);
    }
  }
}

/**
 * Rewrites the ICMPv4 error at `o` (IP header length `ihl`, total `total`) whose quote `q`
 * describes: the outer addresses become `outerSrc -> outerDst`; the quoted datagram becomes
 * `qSrc:qSport -> qDst:qDport`; a quoted TCP sequence number moves by `seqDelta` and a quoted
 * acknowledgment (when present) by `ackDelta`. `mtuDelta` is subtracted from the next-hop MTU
 * of a "fragmentation needed" (0 otherwise).
 */
export function translateIcmpError(
  b: Uint8Array,
  o: number,
  ihl: number,
  total: number,
  q: QuoteView,
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
  const icmp = o + ihl;
  const proto = b[q.ip + IPV4.PROTOCOL];
  const l4 = q.l4;
  // The quoted L4 checksum, if quoted, sees the same address, port and sequence changes.
  const oldSum = sum32(get32(b, q.ip + IPV4.SRC)) + sum32(get32(b, q.ip + IPV4.DST)) +
    get16(b, l4) + get16(b, l4 + 2);
  const newSum = sum32(qSrc) + sum32(qDst) + qSport + qDport;
  set32(b, q.ip + IPV4.SRC, qSrc);
  set32(b, q.ip + IPV4.DST, qDst);
  set16(b, l4, qSport);
  set16(b, l4 + 2, qDport);
  fixQuotedL4(b, q, proto, oldSum, newSum, seqDelta, ackDelta);
  ipv4FillChecksum(b, q.ip);

  if (mtuDelta !== 0) {
    const mtu = get16(b, icmp + ICMP.NEXT_HOP_MTU);
    if (mtu > mtuDelta) set16(b, icmp + ICMP.NEXT_HOP_MTU, mtu - mtuDelta);
  }
  set32(b, o + IPV4.SRC, outerSrc);
  set32(b, o + IPV4.DST, outerDst);
  ipv4FillChecksum(b, o);
  set16(b, icmp + ICMP.CHECKSUM, 0);
  set16(b, icmp + ICMP.CHECKSUM, finish(sumWords(b, icmp, total - ihl)));
}
