/**
 * Turns a refused client TCP segment into the reset that answers it, in place: the kernel then
 * routes it back to the client, who sees "connection refused" at once instead of retrying a
 * SYN into silence.
 *
 * @module
 */
import { get16, get32 } from "../wire/bytes.ts";
import { IPV4 } from "../wire/ipv4.ts";
import { TCP, TCP_FLAG } from "../wire/tcp.ts";
import { RESET_LENGTH, writeReset, writeReset6 } from "./tcp_reset.ts";

export { RESET_LENGTH };

/** The numbers of the reset answering a segment; filled by {@linkcode answerTo}, reused. */
const reply = { seq: 0, ack: 0, flags: 0 };

/**
 * RFC 9293 3.10.7.1 for the segment at `t` ending at `end`: with an ACK the reset takes its
 * sequence number from it; otherwise it has seq 0 and acknowledges everything the segment
 * carried (its data, SYN and FIN).
 */
function answerTo(b: Uint8Array, t: number, end: number): void {
  const flags = b[t + TCP.FLAGS];
  if (flags & TCP_FLAG.ACK) {
    reply.seq = get32(b, t + TCP.ACK);
    reply.ack = 0;
    reply.flags = TCP_FLAG.RST;
    return;
  }
  const dataLength = end - t - ((b[t + TCP.DATA_OFFSET] >>> 4) << 2);
  const segLength = dataLength + (flags & TCP_FLAG.SYN ? 1 : 0) + (flags & TCP_FLAG.FIN ? 1 : 0);
  reply.seq = 0;
  reply.ack = get32(b, t + TCP.SEQ) + segLength;
  reply.flags = TCP_FLAG.RST | TCP_FLAG.ACK;
}

/**
 * Overwrites the segment at `o` (IP header length `ihl`, total length `total`) with a RST from
 * its destination to its source (see {@linkcode answerTo}). Returns the new packet length.
 */
export function writeResetReply(b: Uint8Array, o: number, ihl: number, total: number): number {
  const t = o + ihl;
  const src = get32(b, o + IPV4.SRC);
  const dst = get32(b, o + IPV4.DST);
  const sport = get16(b, t + TCP.SPORT);
  const dport = get16(b, t + TCP.DPORT);
  answerTo(b, t, o + total);
  return writeReset(b, o, dst, dport, src, sport, reply.seq, reply.ack, reply.flags);
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
  answerTo(b, t, o + total);
  return writeReset6(b, o, a, 4, dport, 0, sport, reply.seq, reply.ack, reply.flags);
}
