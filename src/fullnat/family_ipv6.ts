/**
 * {@linkcode AddressFamily} for IPv6: session addresses live in the table's `addr6`, four
 * words per address at `(id << 4) + slot * 4`; there is no header checksum, and the ICMPv6
 * checksum covers a pseudo-header. Packet addresses are read once into a reused scratch.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { sumWords } from "../wire/checksum.ts";
import { ICMP, ICMP6_TYPE, icmp6IsTranslatedError } from "../wire/icmp.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import {
  addr6Equal,
  IPV6,
  type Ipv6Walk,
  ipv6Walk,
  pseudoSumV6,
  readAddr6,
  sumAddr6,
  writeAddr6,
} from "../wire/ipv6.ts";
import { TCPOPT_LENGTH } from "../wire/tcp_options.ts";
import type { AddressFamily, PacketView, QuoteView, Slot } from "./family.ts";
import { fillIcmp6Checksum, writePacketTooBig } from "./icmp_reply.ts";
import { isnV6 } from "./isn.ts";
import type { Registry } from "./registry.ts";
import type { LocalAddress, RealServer } from "./service.ts";
import { A6, Dir, NO_SESSION, type SessionTable, V6 } from "./session_table.ts";
import { hashV6 } from "./scheduler_hash.ts";
import { tupleHash6 } from "./tuple_hash.ts";

/** Source (words 0..3) and destination (4..7) of the packet in hand; reused. */
const pkt = new Uint32Array(8);
/** Where the packet in hand has its transport header; reused. */
const walk: Ipv6Walk = { proto: 0, l4: 0, end: 0, fragment: false };

/** Reads the packet's source and destination into {@linkcode pkt}. */
function readAddrs(b: Uint8Array, ip: number): void {
  readAddr6(b, ip + IPV6.SRC, pkt, 0);
  readAddr6(b, ip + IPV6.DST, pkt, 4);
}

/** Offset in `addr6` of session `id`'s address in `slot`. */
function at(id: number, slot: Slot): number {
  return (id << 4) + (slot << 2);
}

/**
 * The entry (id * 2 + direction) of the IPv6 session whose in- or out-tuple is the packet
 * tuple `s[so, so+4):sport -> d[do_, do_+4):dport` of `proto` (the plain protocol number),
 * or {@linkcode NO_SESSION}.
 */
function find(
  t: SessionTable,
  proto: number,
  s: Uint32Array,
  so: number,
  sport: number,
  d: Uint32Array,
  do_: number,
  dport: number,
): number {
  const p6 = proto | V6;
  const a = t.addr6;
  let e = t.head(tupleHash6(p6, s, so, sport, d, do_, dport));
  while (e !== -1) {
    const id = e >> 1;
    if (t.proto[id] === p6) {
      const base = id << 4;
      if ((e & 1) === Dir.In) {
        if (
          t.cport[id] === sport && t.vport[id] === dport &&
          addr6Equal(a, base + A6.C, s, so) && addr6Equal(a, base + A6.V, d, do_)
        ) return e;
      } else if (
        t.dport[id] === sport && t.lport[id] === dport &&
        addr6Equal(a, base + A6.D, s, so) && addr6Equal(a, base + A6.L, d, do_)
      ) return e;
    }
    e = t.next(e);
  }
  return NO_SESSION;
}

/** IPv6. */
export const INET6: AddressFamily = {
  name: "ipv6",
  icmpProto: IPPROTO.ICMPV6,
  toaLength: TCPOPT_LENGTH.TOA_V6,
  headerLength: IPV6.HEADER,
  udpChecksumOptional: false,

  parse(b: Uint8Array, o: number, len: number, v: PacketView): boolean {
    if (ipv6Walk(b, o, len, walk) !== undefined) return false;
    v.proto = walk.proto;
    v.l4 = walk.l4;
    v.end = walk.end;
    v.fragment = walk.fragment;
    return true;
  },

  lookup(t: SessionTable, b: Uint8Array, o: number, proto: number, sport: number, dport: number) {
    readAddrs(b, o);
    return find(t, proto, pkt, 0, sport, pkt, 4, dport);
  },

  service(r: Registry, b: Uint8Array, o: number, proto: number, dport: number) {
    readAddrs(b, o);
    return r.find6(proto, pkt, 4, dport);
  },

  isVip(r: Registry, b: Uint8Array, o: number): boolean {
    readAddrs(b, o);
    return r.isVip6(pkt, 4);
  },

  clientWords(b: Uint8Array, o: number, out: Uint32Array): void {
    readAddr6(b, o + IPV6.SRC, out, 0);
  },

  sourceHash(b: Uint8Array, o: number): number {
    readAddrs(b, o);
    return hashV6(pkt, 0);
  },

  destHash(b: Uint8Array, o: number): number {
    readAddrs(b, o);
    return hashV6(pkt, 4);
  },

  serves(rs: RealServer): boolean {
    return rs.addr6 !== undefined;
  },

  localTaken(t: SessionTable, proto: number, rs: RealServer, la: LocalAddress, lport: number) {
    return find(t, proto, rs.addr6!, 0, rs.port, la.addr6!, 0, lport) !== NO_SESSION;
  },

  clientTaken(
    t: SessionTable,
    proto: number,
    rs: RealServer,
    b: Uint8Array,
    o: number,
    cport: number,
  ) {
    readAddrs(b, o);
    return find(t, proto, rs.addr6!, 0, rs.port, pkt, 0, cport) !== NO_SESSION;
  },

  insert(
    t: SessionTable,
    proto: number,
    b: Uint8Array,
    o: number,
    cport: number,
    vport: number,
    la: LocalAddress | undefined,
    lport: number,
    rs: RealServer,
  ): number {
    readAddrs(b, o);
    const l = la === undefined ? pkt : la.addr6!;
    const d = rs.addr6!;
    const dport = rs.port;
    const p6 = proto | V6;
    const id = t.open(p6);
    if (id === NO_SESSION) return id;
    const a = t.addr6;
    const base = id << 4;
    for (let i = 0; i < 4; i++) {
      a[base + A6.C + i] = pkt[i];
      a[base + A6.V + i] = pkt[4 + i];
      a[base + A6.L + i] = l[i];
      a[base + A6.D + i] = d[i];
    }
    t.cport[id] = cport;
    t.vport[id] = vport;
    t.lport[id] = lport;
    t.dport[id] = dport;
    INET6.relink(t, id);
    return id;
  },

  relink(t: SessionTable, id: number): void {
    const p6 = t.proto[id];
    const a = t.addr6;
    const base = id << 4;
    t.link(
      id,
      tupleHash6(p6, a, base + A6.C, t.cport[id], a, base + A6.V, t.vport[id]),
      tupleHash6(p6, a, base + A6.D, t.dport[id], a, base + A6.L, t.lport[id]),
    );
  },

  sumAddrs(b: Uint8Array, ip: number): number {
    return sumWords(b, ip + IPV6.SRC, 32);
  },

  writeAddrs(b: Uint8Array, ip: number, t: SessionTable, id: number, src: Slot, dst: Slot) {
    const a = t.addr6;
    writeAddr6(b, ip + IPV6.SRC, a, at(id, src));
    writeAddr6(b, ip + IPV6.DST, a, at(id, dst));
    return sumAddr6(a, at(id, src)) + sumAddr6(a, at(id, dst));
  },

  writeAddr(b: Uint8Array, to: number, t: SessionTable, id: number, slot: Slot): void {
    writeAddr6(b, to, t.addr6, at(id, slot));
  },

  adjustHeader(): void {},

  fillHeaderChecksum(): void {},

  setLength(b: Uint8Array, o: number, _total: number, newTotal: number): void {
    set16(b, o + IPV6.PAYLOAD_LENGTH, newTotal - IPV6.HEADER);
  },

  dontFragment(): boolean {
    // Routers never fragment IPv6.
    return true;
  },

  swapAddrs(b: Uint8Array, o: number): void {
    readAddrs(b, o);
    writeAddr6(b, o + IPV6.SRC, pkt, 4);
    writeAddr6(b, o + IPV6.DST, pkt, 0);
  },

  writeHeader(b: Uint8Array, o: number, proto: number, l4Length: number): number {
    set32(b, o, 0x60000000);
    set16(b, o + IPV6.PAYLOAD_LENGTH, l4Length);
    b[o + IPV6.NEXT_HEADER] = proto;
    b[o + IPV6.HOP_LIMIT] = 64;
    return pseudoSumV6(b, o, proto, l4Length);
  },

  isn(secret: Uint32Array, t: SessionTable, id: number, ticks: number): number {
    const base = id << 4;
    return isnV6(secret, t.addr6, base + A6.L, t.lport[id], base + A6.D, t.dport[id], ticks);
  },

  isTranslatedError: icmp6IsTranslatedError,

  readQuote(b: Uint8Array, icmp: number, end: number, q: QuoteView): boolean {
    // The quote must carry its transport ports right after the fixed header.
    const ip = icmp + ICMP.QUOTE;
    if (ip + IPV6.HEADER + 8 > end || b[ip] >>> 4 !== 6) return false;
    q.ip = ip;
    q.l4 = ip + IPV6.HEADER;
    q.end = end;
    return true;
  },

  quoteProto(b: Uint8Array, q: QuoteView): number {
    return b[q.ip + IPV6.NEXT_HEADER];
  },

  lookupQuote(t: SessionTable, b: Uint8Array, q: QuoteView, proto: number): number {
    readAddrs(b, q.ip);
    return find(t, proto, pkt, 4, get16(b, q.l4 + 2), pkt, 0, get16(b, q.l4));
  },

  shrinkMtu(b: Uint8Array, icmp: number, by: number): void {
    if (b[icmp + ICMP.TYPE] !== ICMP6_TYPE.PACKET_TOO_BIG) return;
    const mtu = get32(b, icmp + ICMP.MTU_V6);
    if (mtu > by) set32(b, icmp + ICMP.MTU_V6, mtu - by);
  },

  finishIcmp(b: Uint8Array, o: number, icmp: number, end: number): void {
    fillIcmp6Checksum(b, o, icmp, end);
  },

  writeTooBig(b: Uint8Array, o: number, l4: number, t: SessionTable, id: number, mtu: number) {
    const base = id << 4;
    return writePacketTooBig(b, o, l4, t.addr6, base + A6.V, base + A6.C, mtu);
  },
};
