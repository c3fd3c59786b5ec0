/**
 * ICMP errors the balancer writes itself, as a router would, when a client's segment would
 * outgrow the path once TOA is inserted (seed 4.3: a TOA must not push a segment past the
 * MTU): IPv4 "fragmentation needed" for DF segments, IPv6 "packet too big" (IPv6 routers never
 * fragment). The client learns a smaller MTU instead of the segment silently losing its TOA or
 * being dropped on the way.
 *
 * @module
 */
import { set16, set32 } from "../wire/bytes.ts";
import { finish, sumWords } from "../wire/checksum.ts";
import { ICMP, ICMP4_FRAG_NEEDED, ICMP4_TYPE, ICMP6_TYPE } from "../wire/icmp.ts";
import { IPPROTO, IPV4, ipv4FillChecksum } from "../wire/ipv4.ts";
import { IPV6, pseudoSumV6, writeAddr6 } from "../wire/ipv6.ts";

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
  const quote = l4 - o + QUOTED_PAYLOAD;
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
