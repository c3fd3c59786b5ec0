/**
 * The fuzzer's own reading of IPv4/IPv6 packets, independent of `src/`: where the transport
 * header is by the packet's own (possibly lying) lengths, which checksums verify (outer IP,
 * transport, and for an ICMP error or a tunnelled packet the inner ones), and a repair that
 * writes every checksum a packet's lengths let it have, so mutated packets still reach the
 * engine's deeper paths. Checksums come from `testkit/inet_checksum.ts`, never from `src/`.
 *
 * @module
 */
import { onesComplementSum, pseudoHeaderSum, pseudoHeaderSum6 } from "../inet_checksum.ts";

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;
const IPIP = 4;
const IPV6_IN = 41;

/** Where a packet's parts are, by its own header lengths. */
export interface Located {
  v6: boolean;
  /** Offset of the transport header (after IPv4 options or IPv6 extension headers). */
  l4: number;
  /** One past the IP packet (IPv4 total length, 40 + IPv6 payload length). */
  end: number;
  /** Transport protocol. */
  proto: number;
  /** IPv4 MF/offset or an IPv6 fragment header: no whole transport header to check. */
  fragment: boolean;
  /** Offsets of the source and destination addresses. */
  src: number;
  dst: number;
  /** IPv4 header length (40 for IPv6). */
  ihl: number;
}

/**
 * Reads the IP packet at `p[off, off+len)`: undefined when its header lengths do not fit the
 * bytes (IPv4: IHL >= 20, IHL <= total length <= len; IPv6: 40 + payload length <= len and the
 * extension headers inside it).
 */
export function locate(p: Uint8Array, off: number, len: number): Located | undefined {
  if (len < 1) return undefined;
  const version = p[off] >>> 4;
  if (version === 4) {
    if (len < 20) return undefined;
    const ihl = (p[off] & 15) * 4;
    const total = (p[off + 2] << 8) | p[off + 3];
    if (ihl < 20 || ihl > len || total < ihl || total > len) return undefined;
    const frag = ((p[off + 6] << 8) | p[off + 7]) & 0x3fff;
    return {
      v6: false,
      l4: off + ihl,
      end: off + total,
      proto: p[off + 9],
      fragment: frag !== 0,
      src: off + 12,
      dst: off + 16,
      ihl,
    };
  }
  if (version !== 6 || len < 40) return undefined;
  const end = off + 40 + ((p[off + 4] << 8) | p[off + 5]);
  if (end > off + len) return undefined;
  let next = p[off + 6];
  let at = off + 40;
  let fragment = false;
  for (let hops = 0; hops < 8; hops++) {
    if (next === 0 || next === 43 || next === 60 || next === 44) {
      if (at + 8 > end) return undefined;
      if (next === 44) fragment = true;
      const size = next === 44 ? 8 : (p[at + 1] + 1) * 8;
      next = p[at];
      at += size;
      continue;
    }
    if (at > end) return undefined;
    return { v6: true, l4: at, end, proto: next, fragment, src: off + 8, dst: off + 24, ihl: 40 };
  }
  return undefined;
}

/** Where a transport's checksum field is, or -1 for protocols without one checked here. */
function checksumAt(proto: number): number {
  if (proto === TCP) return 16;
  if (proto === UDP) return 6;
  if (proto === ICMP || proto === ICMPV6) return 2;
  return -1;
}

/** The bytes a transport checksum covers: UDP's own length when it is sane, else to the end. */
function l4Span(p: Uint8Array, at: Located): number {
  const len = at.end - at.l4;
  if (at.proto === UDP && len >= 8) {
    const u = (p[at.l4 + 4] << 8) | p[at.l4 + 5];
    if (u >= 8 && u <= len) return u;
  }
  return len;
}

/** The pseudo-header sum of `at`'s transport over `span` bytes (none for ICMPv4). */
function pseudo(p: Uint8Array, at: Located, span: number): number {
  if (at.proto === ICMP) return 0;
  if (at.v6) {
    return pseudoHeaderSum6(
      p.subarray(at.src, at.src + 16),
      p.subarray(at.dst, at.dst + 16),
      at.proto,
      span,
    );
  }
  return pseudoHeaderSum(
    p.subarray(at.src, at.src + 4),
    p.subarray(at.dst, at.dst + 4),
    at.proto,
    span,
  );
}

/** Whether a checksum verifies: true, false, or null when there is none to check. */
export type Check = boolean | null;

/** Which of a packet's checksums verify. */
export interface ChecksumReport {
  /** The IPv4 header checksum (null for IPv6). */
  ip: Check;
  /** The TCP/UDP/ICMP checksum (null for fragments, other protocols, short transports). */
  l4: Check;
  /** The inner packet's IP header (ICMP error quote or tunnelled packet), when whole. */
  innerIp: Check;
  /** The inner packet's transport checksum, when the inner packet is whole. */
  innerL4: Check;
}

/** The outer IPv4 header checksum of `at`. */
function ipCheck(p: Uint8Array, off: number, at: Located): Check {
  if (at.v6) return null;
  return onesComplementSum(p.subarray(off, off + at.ihl)) === 0xffff;
}

/** The transport checksum of `at`; UDP over IPv4 with checksum 0 has none. */
function l4Check(p: Uint8Array, at: Located): Check {
  const c = checksumAt(at.proto);
  if (c < 0 || at.fragment) return null;
  const span = l4Span(p, at);
  if (span < c + 2 || (at.proto === TCP && span < 20) || (at.proto === UDP && span < 8)) {
    return null;
  }
  if (at.proto === UDP && !at.v6 && p[at.l4 + 6] === 0 && p[at.l4 + 7] === 0) return null;
  return onesComplementSum(p.subarray(at.l4, at.l4 + span), pseudo(p, at, span)) === 0xffff;
}

/** True when `at` is an ICMP error (one that quotes a datagram). */
export function isIcmpError(p: Uint8Array, at: Located): boolean {
  if (at.fragment || at.end - at.l4 < 8) return false;
  const type = p[at.l4];
  return at.proto === ICMP
    ? type === 3 || type === 4 || type === 5 || type === 11 || type === 12
    : at.proto === ICMPV6
    ? type < 128
    : false;
}

/** The inner packet of an ICMP error or a tunnel, located inside its quote, if it reads whole. */
export function inner(p: Uint8Array, at: Located): Located | undefined {
  if (at.fragment) return undefined;
  if (at.proto === IPIP || at.proto === IPV6_IN) return locate(p, at.l4, at.end - at.l4);
  if (!isIcmpError(p, at)) return undefined;
  return locate(p, at.l4 + 8, at.end - at.l4 - 8);
}

/** Which checksums of the packet at `p[off, off+len)` verify (undefined: it does not parse). */
export function checksums(p: Uint8Array, off: number, len: number): ChecksumReport | undefined {
  const at = locate(p, off, len);
  if (at === undefined) return undefined;
  const r: ChecksumReport = { ip: ipCheck(p, off, at), l4: null, innerIp: null, innerL4: null };
  if (at.proto !== IPIP && at.proto !== IPV6_IN) r.l4 = l4Check(p, at);
  const q = inner(p, at);
  if (q !== undefined) {
    r.innerIp = ipCheck(p, q.src - (q.v6 ? 8 : 12), q);
    r.innerL4 = l4Check(p, q);
  } else if (isIcmpError(p, at)) {
    // A quote cut short: only its IPv4 header can be checked, when it is all there.
    const qo = at.l4 + 8;
    if (at.end - qo >= 20 && p[qo] >>> 4 === 4) {
      const ihl = (p[qo] & 15) * 4;
      if (ihl >= 20 && qo + ihl <= at.end) {
        r.innerIp = onesComplementSum(p.subarray(qo, qo + ihl)) === 0xffff;
      }
    }
  }
  return r;
}

/** Writes the IPv4 header checksum of `at`. */
function fixIp(p: Uint8Array, off: number, at: Located): void {
  if (at.v6) return;
  p[off + 10] = 0;
  p[off + 11] = 0;
  const c = ~onesComplementSum(p.subarray(off, off + at.ihl)) & 0xffff;
  p[off + 10] = c >>> 8;
  p[off + 11] = c & 0xff;
}

/** Writes the transport checksum of `at` where its lengths allow one. */
function fixL4(p: Uint8Array, at: Located): void {
  const c = checksumAt(at.proto);
  if (c < 0 || at.fragment) return;
  const span = l4Span(p, at);
  if (span < c + 2) return;
  if (at.proto === UDP && !at.v6 && p[at.l4 + 6] === 0 && p[at.l4 + 7] === 0) return;
  p[at.l4 + c] = 0;
  p[at.l4 + c + 1] = 0;
  let sum = ~onesComplementSum(p.subarray(at.l4, at.l4 + span), pseudo(p, at, span)) & 0xffff;
  if (sum === 0 && at.proto === UDP) sum = 0xffff;
  p[at.l4 + c] = sum >>> 8;
  p[at.l4 + c + 1] = sum & 0xff;
}

/**
 * Writes every checksum the packet at `p[off, off+len)` can have by its own lengths: the inner
 * packet's first (an ICMP error's quote), then the transport's, then the IPv4 header's.
 */
export function repair(p: Uint8Array, off: number, len: number): void {
  const at = locate(p, off, len);
  if (at === undefined) {
    // A header whose lengths lie can still carry a right header checksum.
    if (len >= 20 && p[off] >>> 4 === 4) {
      const ihl = (p[off] & 15) * 4;
      if (ihl >= 20 && ihl <= len) {
        fixIp(p, off, { v6: false, l4: 0, end: 0, proto: 0, fragment: false, src: 0, dst: 0, ihl });
      }
    }
    return;
  }
  const q = inner(p, at);
  if (q !== undefined) {
    fixL4(p, q);
    fixIp(p, q.src - (q.v6 ? 8 : 12), q);
  } else if (isIcmpError(p, at)) {
    const qo = at.l4 + 8;
    if (at.end - qo >= 20 && p[qo] >>> 4 === 4) {
      const ihl = (p[qo] & 15) * 4;
      if (ihl >= 20 && qo + ihl <= at.end) {
        fixIp(p, qo, { v6: false, l4: 0, end: 0, proto: 0, fragment: false, src: 0, dst: 0, ihl });
      }
    }
  }
  if (at.proto !== IPIP && at.proto !== IPV6_IN) fixL4(p, at);
  fixIp(p, off, at);
}
