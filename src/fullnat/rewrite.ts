/**
 * Address and port translation of an IPv4 TCP or UDP packet with incremental checksum updates
 * (RFC 1624): the IP header checksum for the addresses, the L4 checksum for the pseudo-header
 * addresses and the ports.
 *
 * @module
 */
import { adjust, sum32, sumWords } from "../wire/checksum.ts";
import { IPV6, sumAddr6, writeAddr6 } from "../wire/ipv6.ts";
import { get16, set16 } from "../wire/bytes.ts";
import { IPPROTO, ipv4Dst, ipv4SetAddresses, ipv4Src } from "../wire/ipv4.ts";
import { TCP } from "../wire/tcp.ts";
import { UDP } from "../wire/udp.ts";

/**
 * Rewrites source and destination address and port of the packet whose IP header is at `o`
 * and L4 header at `l4`.
 */
export function translate(
  b: Uint8Array,
  o: number,
  l4: number,
  proto: number,
  src: number,
  sport: number,
  dst: number,
  dport: number,
): void {
  const oldSum = sum32(ipv4Src(b, o)) + sum32(ipv4Dst(b, o)) + get16(b, l4) + get16(b, l4 + 2);
  const newSum = sum32(src) + sum32(dst) + sport + dport;
  ipv4SetAddresses(b, o, src, dst);
  set16(b, l4, sport);
  set16(b, l4 + 2, dport);
  if (proto === IPPROTO.TCP) {
    const c = l4 + TCP.CHECKSUM;
    set16(b, c, adjust(get16(b, c), oldSum, newSum));
  } else {
    const c = l4 + UDP.CHECKSUM;
    const check = get16(b, c);
    // Zero means the sender computed no checksum (IPv4 only); keep it that way.
    if (check !== 0) {
      const v = adjust(check, oldSum, newSum);
      set16(b, c, v === 0 ? 0xffff : v);
    }
  }
}

/**
 * {@linkcode translate} for IPv6: the new source address is `a[so, so+4)` and the new
 * destination `a[do_, do_+4)`. IPv6 has no header checksum; the L4 checksum covers the
 * pseudo-header addresses and the ports.
 */
export function translate6(
  b: Uint8Array,
  o: number,
  l4: number,
  proto: number,
  a: Uint32Array,
  so: number,
  sport: number,
  do_: number,
  dport: number,
): void {
  const oldSum = sumWords(b, o + IPV6.SRC, 32) + get16(b, l4) + get16(b, l4 + 2);
  const newSum = sumAddr6(a, so) + sumAddr6(a, do_) + sport + dport;
  writeAddr6(b, o + IPV6.SRC, a, so);
  writeAddr6(b, o + IPV6.DST, a, do_);
  set16(b, l4, sport);
  set16(b, l4 + 2, dport);
  const c = l4 + (proto === IPPROTO.TCP ? TCP.CHECKSUM : UDP.CHECKSUM);
  const v = adjust(get16(b, c), oldSum, newSum);
  // An IPv6 UDP checksum is mandatory; zero is written as all ones (RFC 8200 8.1).
  set16(b, c, v === 0 && proto === IPPROTO.UDP ? 0xffff : v);
}
