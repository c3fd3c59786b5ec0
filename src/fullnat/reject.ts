/**
 * Turns a refused client TCP segment into the reset that answers it, in place: the kernel then
 * routes it back to the client, who sees "connection refused" at once instead of retrying a
 * SYN into silence.
 *
 * @module
 */
import { finish, pseudoSumV4, sumWords } from "./wire/checksum.ts";
import { get16, get32, set16, set32 } from "./wire/bytes.ts";
import { IPPROTO, IPV4, ipv4FillChecksum } from "./wire/ipv4.ts";
import { TCP, TCP_FLAG } from "./wire/tcp.ts";

/** Length of the reset written by {@linkcode writeResetReply}. */
export const RESET_LENGTH = 40;

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

  b[o + IPV4.VER_IHL] = 0x45;
  b[o + IPV4.TOS] = 0;
  set16(b, o + IPV4.TOTAL_LENGTH, RESET_LENGTH);
  set16(b, o + IPV4.ID, 0);
  set16(b, o + IPV4.FLAGS_FRAG, 0x4000);
  b[o + IPV4.TTL] = 64;
  b[o + IPV4.PROTOCOL] = IPPROTO.TCP;
  set32(b, o + IPV4.SRC, dst);
  set32(b, o + IPV4.DST, src);
  ipv4FillChecksum(b, o);

  const r = o + IPV4.MIN_HEADER;
  set16(b, r + TCP.SPORT, dport);
  set16(b, r + TCP.DPORT, sport);
  // With an ACK the reset takes its sequence number from it; otherwise seq 0 and ACK set.
  set32(b, r + TCP.SEQ, hasAck ? ack : 0);
  set32(b, r + TCP.ACK, hasAck ? 0 : (seq + segLength) >>> 0);
  b[r + TCP.DATA_OFFSET] = 5 << 4;
  b[r + TCP.FLAGS] = hasAck ? TCP_FLAG.RST : TCP_FLAG.RST | TCP_FLAG.ACK;
  set16(b, r + TCP.WINDOW, 0);
  set16(b, r + TCP.CHECKSUM, 0);
  set16(b, r + TCP.URGENT, 0);
  const sum = sumWords(b, r, TCP.MIN_HEADER, pseudoSumV4(dst, src, IPPROTO.TCP, TCP.MIN_HEADER));
  set16(b, r + TCP.CHECKSUM, finish(sum));
  return RESET_LENGTH;
}
