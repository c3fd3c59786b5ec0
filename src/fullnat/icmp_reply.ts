/**
 * "Fragmentation needed" written by the balancer itself (issue 4): when a client's DF segment
 * would outgrow the path once TOA is inserted, the client is told a smaller MTU, as a router
 * would, instead of the segment silently losing its TOA or being dropped on the way.
 *
 * @module
 */
import { set16, set32 } from "../wire/bytes.ts";
import { finish, sumWords } from "../wire/checksum.ts";
import { ICMP, ICMP4_FRAG_NEEDED, ICMP4_TYPE } from "../wire/icmp.ts";
import { IPPROTO, IPV4, ipv4FillChecksum } from "../wire/ipv4.ts";

/** Bytes of the offending datagram's payload that the error quotes after its IP header. */
const QUOTED_PAYLOAD = 8;

/**
 * Replaces the IPv4 packet at `o` (header length `ihl`) in place with a "fragmentation needed"
 * error from `src` to the packet's sender, quoting its header and first 8 payload bytes and
 * announcing `mtu`. Returns the new length; the buffer needs `28 + ihl + 8` bytes at `o`.
 */
export function writeFragNeeded(
  b: Uint8Array,
  o: number,
  ihl: number,
  src: number,
  dst: number,
  mtu: number,
): number {
  const quote = ihl + QUOTED_PAYLOAD;
  const icmp = o + IPV4.MIN_HEADER;
  b.copyWithin(icmp + ICMP.QUOTE, o, o + quote);
  const total = IPV4.MIN_HEADER + ICMP.QUOTE + quote;
  b[o + IPV4.VER_IHL] = 0x45;
  b[o + IPV4.TOS] = 0;
  set16(b, o + IPV4.TOTAL_LENGTH, total);
  set16(b, o + IPV4.ID, 0);
  set16(b, o + IPV4.FLAGS_FRAG, 0);
  b[o + IPV4.TTL] = 64;
  b[o + IPV4.PROTOCOL] = IPPROTO.ICMP;
  set32(b, o + IPV4.SRC, src);
  set32(b, o + IPV4.DST, dst);
  ipv4FillChecksum(b, o);
  b[icmp + ICMP.TYPE] = ICMP4_TYPE.DEST_UNREACH;
  b[icmp + ICMP.CODE] = ICMP4_FRAG_NEEDED;
  set16(b, icmp + ICMP.CHECKSUM, 0);
  set16(b, icmp + 4, 0);
  set16(b, icmp + ICMP.NEXT_HOP_MTU, mtu);
  set16(b, icmp + ICMP.CHECKSUM, finish(sumWords(b, icmp, total - IPV4.MIN_HEADER)));
  return total;
}
