/**
 * Turns a refused client TCP segment into the reset that answers it, in place: the kernel then
 * routes it back to the client, who sees "connection refused" at once instead of retrying a
 * SYN into silence.
 *
 * @module
 */
import { get16, get32 } from "./wire/bytes.ts";
import { IPV4 } from "./wire/ipv4.ts";
import { TCP, TCP_FLAG } from "./wire/tcp.ts";
import { RESET_LENGTH, writeReset, writeReset6 } from "./tcp_reset.ts";

export { RESET_LENGTH };

/**
 * Overwrites the segment at `o` (IP header length `ihl`, total length `total`) with a RST from
 * its destination to its source, acknowledging everything the segment carried (RFC 9293
 * 3.10.7.1). Returns the new packet length.
 */
export function writeResetReply(b: Uint8Array, o: number, ihl: number, total: number): number {
  const t = o + ihl;
  const src = get32(b, o + IPV4.SRC);
  const dst = get32(b, o + IPV4.DST);
  const sport = get16(b, t + TCP.SPORT);
  const dport = get16(b, t + TCP.DPORT);
  const seq = get32(b, t + TCP.SEQ);
  const ack = get32(b, t + TCP.ACK);
  const flags = b[t + TCP.FLAGS];
  const dataLength = total - ihl - ((b[t + TCP.DATA_OFFSET] >>> 4) << 2);
  const hasAck = (flags & TCP_FLAG.ACK) !== 0;
  const segLength = dataLength + (flags & TCP_FLAG.SYN ? 1 : 0) + (flags & TCP_FLAG.FIN ? 1 : 0);
  // With an ACK the reset takes its sequence number from it; otherwise seq 0 and ACK set.
  return hasAck
    ? writeReset(b, o, dst, dport, src, sport, ack, 0, TCP_FLAG.RST)
    : writeReset(b, o, dst, dport, src, sport, 0, seq + segLength, TCP_FLAG.RST | TCP_FLAG.ACK);
}

/**
 * {@linkcode writeResetReply} for IPv6: the segment at `t` of the IPv6 packet at `o` (total
 * length `total`), whose source and destination addresses are `a[0..4)` and `a[4..8)`.
 */
export function writeResetReply6(
  b: Uint8Array,
  o: number,
  t: number,
  total: number,
  a: Uint32Array,
): number {
  const sport = get16(b, t + TCP.SPORT);
  const dport = get16(b, t + TCP.DPORT);
  const seq = get32(b, t + TCP.SEQ);
  const ack = get32(b, t + TCP.ACK);
  const flags = b[t + TCP.FLAGS];
  const dataLength = o + total - t - ((b[t + TCP.DATA_OFFSET] >>> 4) << 2);
  const segLength = dataLength + (flags & TCP_FLAG.SYN ? 1 : 0) + (flags & TCP_FLAG.FIN ? 1 : 0);
  return flags & TCP_FLAG.ACK
    ? writeReset6(b, o, a, 4, dport, 0, sport, ack, 0, TCP_FLAG.RST)
    : writeReset6(b, o, a, 4, dport, 0, sport, 0, seq + segLength, TCP_FLAG.RST | TCP_FLAG.ACK);
}
