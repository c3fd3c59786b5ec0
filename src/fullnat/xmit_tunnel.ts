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
 *
 * A server's tunnel type (ipvsadm `--tun-type`) may instead be GUE, as IPVS and Katran send it:
 * the outer header carries UDP to the server's `--tun-port`, then a 4-byte GUE header (version
 * 0, no options, the inner protocol), then the packet; the UDP source port is a hash of the
 * client's address and ports, so a network spreading flows over paths (ECMP, RSS) keeps each
 * flow on one. Or GRE (RFC 2784): a 4-byte header naming the inner EtherType. With
 * `--tun-csum` the UDP or GRE checksum covers the whole packet; without it (the default, as in
 * IPVS) UDP carries a zero checksum, which IPv4 allows and IPv6 allows for tunnels (RFC 6935;
 * Linux's fou takes it).
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { finish, sumWords } from "../wire/checksum.ts";
import { IPPROTO, IPV4, ipv4FillChecksum } from "../wire/ipv4.ts";
import { IPV6, writeAddr6 } from "../wire/ipv6.ts";
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import type { RealServer } from "./service.ts";
import { A6 } from "./session_table.ts";
import { METHOD_TUNNEL, type Transmit } from "./xmit.ts";
import { NAT } from "./xmit_nat.ts";

/** IPv4's DF bit in the flags and fragment offset word. */
const DF = 0x4000;
/** Hop limit of the outer header, as a host's default. */
const OUTER_TTL = 64;
/** Tunnel type codes (`tunnelTypeCode` in src/vocab/tunnel_type.ts, IPVS's). */
const TUN_GUE = 1;
const TUN_GRE = 2;
/** GRE's IP protocol number, and its header's checksum-present bit. */
const IPPROTO_GRE = 47;
const GRE_C = 0x8000;
/** EtherTypes GRE names the inner packet by. */
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
/** UDP (8) and GUE (4) headers in front of the packet. */
const GUE_LENGTH = 12;
/** GUE's UDP source ports: the flow hash picks one of the top 16,384 (49152-65535). */
const GUE_SPORT_BASE = 0xc000;

/** The bytes wrapping puts in front of a packet to `rs` (IPv6 when `v6`): IP and encapsulation. */
export function tunnelOverhead(rs: RealServer, v6: boolean): number {
  return (v6 ? IPV6.HEADER : IPV4.MIN_HEADER) + encapLength(rs);
}

/** The bytes `rs`'s encapsulation puts between the outer IP header and the packet. */
function encapLength(rs: RealServer): number {
  return rs.tunType === TUN_GUE ? GUE_LENGTH : rs.tunType === TUN_GRE ? (rs.tunCsum ? 8 : 4) : 0;
}

/**
 * The UDP source port of a GUE packet, from `addr` (the XOR of the client address's 16-bit
 * words) and `ports` (the client's port times 31 plus the virtual port): the top 14 bits of
 * ((`addr` << 14) XOR `ports`) times 0x9E3779B1, above 49152. The same for every packet of a
 * flow. Both arguments stay small integers, so passing them allocates nothing.
 */
export function gueSourcePort(addr: number, ports: number): number {
  return GUE_SPORT_BASE | (Math.imul(((addr & 0xffff) << 14) ^ ports, 0x9e3779b1) >>> 18);
}

/**
 * Writes the GUE or GRE header of `rs` at `at`, in front of the `total`-byte packet at
 * `at + encapLength(rs)`. `inner` is its IP protocol number for GUE (4 or 41) and `ether` its
 * EtherType for GRE; `flow` the word the UDP source port hashes; `pseudo` the outer
 * pseudo-header's address sum, for a UDP checksum.
 */
function writeEncap(
  b: Uint8Array,
  at: number,
  rs: RealServer,
  total: number,
  inner: number,
  ether: number,
  flow: number,
  ports: number,
  pseudo: number,
): void {
  if (rs.tunType === TUN_GUE) {
    const len = GUE_LENGTH + total;
    set16(b, at, gueSourcePort(flow, ports));
    set16(b, at + 2, rs.tunPort);
    set16(b, at + 4, len);
    set16(b, at + 6, 0);
    set32(b, at + 8, inner << 16);
    if (rs.tunCsum) {
      const c = finish(sumWords(b, at, len, pseudo + IPPROTO.UDP + len));
      set16(b, at + 6, c === 0 ? 0xffff : c);
    }
    return;
  }
  set16(b, at, rs.tunCsum ? GRE_C : 0);
  set16(b, at + 2, ether);
  if (rs.tunCsum) {
    set32(b, at + 4, 0);
    set16(b, at + 4, finish(sumWords(b, at, 8 + total)));
  }
}

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

/** Wraps the IPv4 packet at `o` in IPIP (GUE, GRE) to its session's real server. */
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
  const rs = e.registry.servers[e.table.server[id]] as RealServer;
  const encap = encapLength(rs);
  const outer = IPV4.MIN_HEADER + encap;
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
  b[o + IPV4.PROTOCOL] = rs.tunType === 0
    ? IPPROTO.IPIP
    : rs.tunType === TUN_GUE
    ? IPPROTO.UDP
    : IPPROTO_GRE;
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
  if (encap !== 0) {
    // The flow hash and pseudo-header sum are read back as 16-bit halves for the same reason.
    const flow = get16(b, inner + IPV4.SRC) ^ get16(b, inner + IPV4.SRC + 2);
    const pseudo = get16(b, o + IPV4.SRC) + get16(b, o + IPV4.SRC + 2) +
      get16(b, o + IPV4.DST) + get16(b, o + IPV4.DST + 2);
    const at = o + IPV4.MIN_HEADER;
    const ports = get16(b, l4 + outer) * 31 + get16(b, l4 + outer + 2);
    writeEncap(b, at, rs, total, IPPROTO.IPIP, ETH_P_IP, flow, ports, pseudo);
  }
  e.counters.tunnelEncapsulated++;
  return total + outer;
}

/** Wraps the IPv6 packet at `o` in an IPv6 header (GUE, GRE) to its session's real server. */
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
  const rs = e.registry.servers[e.table.server[id]] as RealServer;
  const encap = encapLength(rs);
  const outer = IPV6.HEADER + encap;
  const src = e.tunnelSource6;
  if (gso || total + outer > e.mtu || total + outer > room || src === undefined) {
    const r = unwrappable(e, fam, b, o, l4, total, room, gso, id, outer, src !== undefined);
    if (r !== 1) return r;
  }
  b.copyWithin(o + outer, o, o + total);
  // Version, traffic class and flow label as the inner packet's (the flow label keeps the
  // flow's packets on one path through ECMP).
  set32(b, o, get32(b, o + outer));
  set16(b, o + IPV6.PAYLOAD_LENGTH, total + encap);
  b[o + IPV6.NEXT_HEADER] = rs.tunType === 0
    ? IPPROTO.IPV6
    : rs.tunType === TUN_GUE
    ? IPPROTO.UDP
    : IPPROTO_GRE;
  b[o + IPV6.HOP_LIMIT] = OUTER_TTL;
  writeAddr6(b, o + IPV6.SRC, src as Uint32Array, 0);
  writeAddr6(b, o + IPV6.DST, e.table.addr6, (id << 4) + A6.D);
  if (encap !== 0) {
    const inner = o + outer;
    let flow = 0;
    for (let i = 0; i < 16; i += 2) flow ^= get16(b, inner + IPV6.SRC + i);
    // The two addresses' words: the pseudo-header's address part.
    const pseudo = sumWords(b, o + IPV6.SRC, 32);
    const at = o + IPV6.HEADER;
    const ports = get16(b, l4 + outer) * 31 + get16(b, l4 + outer + 2);
    writeEncap(b, at, rs, total, IPPROTO.IPV6, ETH_P_IPV6, flow, ports, pseudo);
  }
  e.counters.tunnelEncapsulated++;
  return total + outer;
}
