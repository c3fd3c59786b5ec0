/**
 * Completing the TCP/UDP checksum of a packet the kernel queued with checksum offload still
 * pending (`NFQA_SKB_CSUMNOTREADY`: `CHECKSUM_PARTIAL`, typical of GSO super-packets and of
 * anything sent by a local stack over veth). Such a packet's checksum field holds only the
 * pseudo-header sum. A verdict that carries a payload makes the kernel mark the packet
 * `CHECKSUM_NONE` (`nfqnl_mangle` in `net/netfilter/nfnetlink_queue.c`), i.e. complete, so the
 * queue must write the full checksum before sending it back.
 *
 * @module
 */

import { finish, sumWords } from "../wire/checksum.ts";
import type { SimdChecksum } from "../wire/checksum_simd.ts";

const TCP = 6;
const UDP = 17;
/** IPv4 in IPv4 and IPv6 in IPv6: a TUNNEL packet, whose inner packet carries the checksum. */
const IPIP = 4;
const IPV6_IN = 41;
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const DEST_OPTS = 60;

/**
 * Writes the full, correct TCP or UDP checksum of the IPv4 or IPv6 packet at
 * `buf[off, off + len)`, summing with `summer`. Returns false, changing nothing, when the
 * packet is not one whose checksum can be completed here: not TCP/UDP, a fragment, an IPv6
 * jumbogram or routing header with segments left, or lengths that do not add up. A packet the
 * engine wrapped (TUNNEL: IPIP, IPv6 in IPv6) has its inner packet's checksum completed: the
 * client's offload left that one pending.
 */
export function completeL4Checksum(
  buf: Uint8Array,
  off: number,
  len: number,
  summer: SimdChecksum,
  wrapped = false,
): boolean {
  if (len < 1) return false;
  const version = buf[off] >> 4;
  let l4: number;
  let l4Len: number;
  let proto: number;
  let pseudo: number;
  if (version === 4) {
    const ihl = (buf[off] & 15) * 4;
    if (ihl < 20 || len < ihl) return false;
    const total = (buf[off + 2] << 8) | buf[off + 3];
    // More-fragments flag or a fragment offset: the L4 header is not (all) here.
    if (total < ihl || total > len || (((buf[off + 6] << 8) | buf[off + 7]) & 0x3fff) !== 0) {
      return false;
    }
    proto = buf[off + 9];
    l4 = off + ihl;
    l4Len = total - ihl;
    pseudo = sumWords(buf, off + 12, 8, proto + l4Len);
  } else if (version === 6) {
    if (len < 40) return false;
    const payload = (buf[off + 4] << 8) | buf[off + 5];
    const end = off + 40 + payload;
    if (payload === 0 || end > off + len) return false;
    proto = buf[off + 6];
    l4 = off + 40;
    while (proto === HOP_BY_HOP || proto === DEST_OPTS || proto === ROUTING) {
      if (l4 + 8 > end) return false;
      // With segments left the pseudo-header would need the final destination.
      if (proto === ROUTING && buf[l4 + 3] !== 0) return false;
      proto = buf[l4];
      l4 += (buf[l4 + 1] + 1) * 8;
    }
    if (proto === FRAGMENT || l4 > end) return false;
    l4Len = end - l4;
    pseudo = sumWords(buf, off + 8, 32, proto + l4Len);
  } else {
    return false;
  }
  if ((proto === IPIP || proto === IPV6_IN) && !wrapped) {
    return completeL4Checksum(buf, l4, l4Len, summer, true);
  }
  let field: number;
  if (proto === TCP) {
    if (l4Len < 20) return false;
    field = l4 + 16;
  } else if (proto === UDP) {
    if (l4Len < 8) return false;
    field = l4 + 6;
  } else {
    return false;
  }
  buf[field] = 0;
  buf[field + 1] = 0;
  let check = finish(summer.sum(buf, l4, l4Len, pseudo));
  // In UDP a zero field means "no checksum"; a computed zero is sent as all ones.
  if (check === 0 && proto === UDP) check = 0xffff;
  buf[field] = check >>> 8;
  buf[field + 1] = check & 0xff;
  return true;
}

/** GRE's protocol number and its header's checksum-present bit. */
const GRE = 47;
const GRE_C = 0x80;

/**
 * Completes the pending checksum of a packet a handler wrapped: the packet at `off + inner`
 * (the client's, whose offload left its checksum pending) gets its full TCP/UDP checksum, then
 * the encapsulation in front of it is made right over it: a UDP checksum (GUE) that is not
 * zero ("none") is recomputed, a GRE header with its checksum bit gets its checksum again;
 * IPIP has none. Returns false, changing nothing past the inner packet, when the inner one
 * cannot be completed or the outer header does not read.
 */
export function completeWrapped(
  buf: Uint8Array,
  off: number,
  len: number,
  inner: number,
  summer: SimdChecksum,
): boolean {
  if (!completeL4Checksum(buf, off + inner, len - inner, summer, true)) return false;
  const version = buf[off] >> 4;
  const l4 = version === 4 ? off + (buf[off] & 15) * 4 : off + 40;
  const proto = version === 4 ? buf[off + 9] : buf[off + 6];
  if (l4 >= off + inner) return true;
  if (proto === UDP) {
    // A zero field says "no checksum" (GUE's default): it stays so.
    if (buf[l4 + 6] === 0 && buf[l4 + 7] === 0) return true;
    return completeL4Checksum(buf, off, len, summer, true);
  }
  if (proto === GRE && (buf[l4] & GRE_C) !== 0) {
    buf[l4 + 4] = 0;
    buf[l4 + 5] = 0;
    const check = finish(summer.sum(buf, l4, off + len - l4, 0));
    buf[l4 + 4] = check >>> 8;
    buf[l4 + 5] = check & 0xff;
  }
  return true;
}
