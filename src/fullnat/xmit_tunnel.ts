/**
 * TUNNEL transmit (ipvsadm `-i`, IPVS's `ip_vs_tunnel_xmit`): the client's packet is left as
 * it is (its destination stays the VIP, which the real server carries on a loopback or its
 * tunnel device) and wrapped in an outer header from the balancer's tunnel source address to
 * the real server: IPIP (IPv4 in IPv4, protocol 4) for IPv4 services, IPv6 in IPv6 (next
 * header 41) for IPv6 ones. The real server unwraps it and answers the client directly, so
 * the session sees only client packets (`inputOnly`, `nextTcpStateInputOnly`). There is no
 * local address, no sequence translation and no TOA (the real server sees the client
 * itself); a TOA the client forged is blanked, as in NAT.
 *
 * The outer header is written in front of the packet: the packet moves up by the header's
 * length within the queue's buffer (which has room past its end), so nothing is allocated.
 * A packet that no longer fits the MTU once wrapped is answered as a router would: IPv4
 * "fragmentation needed" when DF is set (without DF the kernel fragments the outer packet),
 * IPv6 "packet too big", announcing the MTU less the outer header, as for TOA growth.
 * GUE (Katran's UDP encapsulation) is not implemented.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { IPPROTO, IPV4, ipv4FillChecksum } from "../wire/ipv4.ts";
import { IPV6, writeAddr6 } from "../wire/ipv6.ts";
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { A6 } from "./session_table.ts";
import { METHOD_TUNNEL, type Transmit } from "./xmit.ts";
import { NAT } from "./xmit_nat.ts";

/** IPv4's DF bit in the flags and fragment offset word. */
const DF = 0x4000;
/** Hop limit of the outer header, as a host's default. */
const OUTER_TTL = 64;

/** TUNNEL (ipvsadm `-i`). */
export const TUNNEL: Transmit = {
  code: METHOD_TUNNEL,
  inputOnly: true,
  marks: false,

  // Indexed by the client's own tuple, as in NAT: the reply tuple (real server -> client)
  // must be free so a NAT session's replies are never taken for this session's.
  connect: NAT.connect,

  mapSequence(): void {},

  // A TOA the client forged is blanked, as in NAT: the server sees the client itself.
  tcpIn: NAT.tcpIn,

  tcpOut(): void {},

  // The inner packet keeps its addresses and ports: nothing to rewrite.
  xmit(): void {},

  wrap(
    e: Engine,
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    room: number,
    gso: boolean,
    id: number,
  ): number {
    return fam.name === "ipv4"
      ? wrap4(e, fam, b, o, l4, total, room, gso, id)
      : wrap6(e, fam, b, o, l4, total, room, gso, id);
  },
};

/**
 * The outcome of a packet that cannot be wrapped as it is, or 1 when it can: 0 (drop,
 * counted) for a GSO super-packet (the kernel could not segment it once wrapped: its GSO type
 * says TCP, not IPIP), a packet with no room for the outer header, or a family without a
 * tunnel source, minus the length of the "too big"
 * error that replaced a packet that no longer fits `e.mtu` with `outer` more bytes.
 */
function unwrappable(
  e: Engine,
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  l4: number,
  total: number,
  room: number,
  gso: boolean,
  id: number,
  outer: number,
  hasSource: boolean,
): number {
  const c = e.counters;
  if (!hasSource) {
    c.tunnelNoSource++;
    return 0;
  }
  if (gso) {
    c.tunnelGsoDropped++;
    return 0;
  }
  if (total + outer > room) {
    c.tunnelNoRoom++;
    return 0;
  }
  if (total + outer > e.mtu && fam.dontFragment(b, o)) {
    c.tunnelFragNeeded++;
    return -fam.writeTooBig(b, o, l4, e.table, id, e.mtu - outer);
  }
  return 1;
}

/** Wraps the IPv4 packet at `o` in IPIP to its session's real server. */
function wrap4(
  e: Engine,
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  l4: number,
  total: number,
  room: number,
  gso: boolean,
  id: number,
): number {
  const outer = IPV4.MIN_HEADER;
  const src = e.tunnelSource4;
  if (gso || total + outer > e.mtu || total + outer > room || src === undefined) {
    const r = unwrappable(e, fam, b, o, l4, total, room, gso, id, outer, src !== undefined);
    if (r !== 1) return r;
  }
  b.copyWithin(o + outer, o, o + total);
  const inner = o + outer;
  b[o + IPV4.VER_IHL] = 0x45;
  // DSCP and ECN travel on the outer header (RFC 6040's normal mode); DF too, as Linux's
  // ipip does, so the path's MTU stays the client's to discover.
  b[o + IPV4.TOS] = b[inner + IPV4.TOS];
  set16(b, o + IPV4.TOTAL_LENGTH, total + outer);
  set16(b, o + IPV4.ID, e.nextTunnelIpId());
  set16(b, o + IPV4.FLAGS_FRAG, get16(b, inner + IPV4.FLAGS_FRAG) & DF);
  b[o + IPV4.TTL] = OUTER_TTL;
  b[o + IPV4.PROTOCOL] = IPPROTO.IPIP;
  // Written byte by byte here: an address of 128.0.0.0 or above passed to a call that is not
  // inlined is boxed into a new heap number.
  const s = src as number;
  b[o + IPV4.SRC] = s >>> 24;
  b[o + IPV4.SRC + 1] = s >>> 16;
  b[o + IPV4.SRC + 2] = s >>> 8;
  b[o + IPV4.SRC + 3] = s;
  const d = e.table.daddr[id];
  b[o + IPV4.DST] = d >>> 24;
  b[o + IPV4.DST + 1] = d >>> 16;
  b[o + IPV4.DST + 2] = d >>> 8;
  b[o + IPV4.DST + 3] = d;
  ipv4FillChecksum(b, o);
  e.counters.tunnelEncapsulated++;
  return total + outer;
}

/** Wraps the IPv6 packet at `o` in an IPv6 header to its session's real server. */
function wrap6(
  e: Engine,
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  l4: number,
  total: number,
  room: number,
  gso: boolean,
  id: number,
): number {
  const outer = IPV6.HEADER;
  const src = e.tunnelSource6;
  if (gso || total + outer > e.mtu || total + outer > room || src === undefined) {
    const r = unwrappable(e, fam, b, o, l4, total, room, gso, id, outer, src !== undefined);
    if (r !== 1) return r;
  }
  b.copyWithin(o + outer, o, o + total);
  // Version, traffic class and flow label as the inner packet's (the flow label keeps the
  // flow's packets on one path through ECMP).
  set32(b, o, get32(b, o + outer));
  set16(b, o + IPV6.PAYLOAD_LENGTH, total);
  b[o + IPV6.NEXT_HEADER] = IPPROTO.IPV6;
  b[o + IPV6.HOP_LIMIT] = OUTER_TTL;
  writeAddr6(b, o + IPV6.SRC, src as Uint32Array, 0);
  writeAddr6(b, o + IPV6.DST, e.table.addr6, (id << 4) + A6.D);
  e.counters.tunnelEncapsulated++;
  return total + outer;
}
