/**
 * {@linkcode AddressFamily} for IPv4: session addresses live in the table's `caddr`,
 * `vaddr`, `laddr` and `daddr` arrays; the header has its own checksum.
 *
 * Addresses cross calls as signed 32-bit values: an unsigned one of 2^31 or more (any address
 * from 128.0.0.0 up) is not a small integer, and every call that is not inlined would box it
 * into a new heap number. The table and registry compare either form.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { adjust, finish, pseudoSumV4, sum32, sumWords } from "../wire/checksum.ts";
import { ICMP, ICMP4_FRAG_NEEDED, ICMP4_TYPE, icmp4IsTranslatedError } from "../wire/icmp.ts";
import {
  IPPROTO,
  IPV4,
  ipv4FillChecksum,
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4Problem,
  ipv4TotalLength,
} from "../wire/ipv4.ts";
import { TCPOPT_LENGTH } from "../wire/tcp_options.ts";
import type { AddressFamily, PacketView, QuoteView, Slot } from "./family.ts";
import { writeFragNeeded } from "./icmp_reply.ts";
import { isnV4 } from "./isn.ts";
import type { Registry } from "./registry.ts";
import type { LocalAddress, RealServer } from "./service.ts";
import { Dir, NO_SESSION, type SessionTable } from "./session_table.ts";
import { hashV4 } from "./scheduler_hash.ts";
import { tupleHash } from "./tuple_hash.ts";

/** The Don't Fragment flag in the flags/fragment-offset word. */
const DF = 0x4000;

/**
 * Session `id`'s address in `slot`, signed (see the module doc). An array per slot rather
 * than a branch over four fields: the rewrite passes slots it picks at run time, and this
 * stays small enough for V8 to inline anywhere (see `rewrite.ts`).
 */
function addr(t: SessionTable, id: number, slot: Slot): number {
  return t.addrBySlot[slot][id] | 0;
}

/**
 * The entry (id * 2 + direction) of the IPv4 session whose in- or out-tuple is the packet tuple
 * `saddr:sport -> daddr:dport` of `proto`, or {@linkcode NO_SESSION}.
 */
export function find(
  t: SessionTable,
  proto: number,
  saddr: number,
  sport: number,
  daddr: number,
  dport: number,
): number {
  const s = saddr | 0;
  const d = daddr | 0;
  let e = t.head(tupleHash(proto, s, sport, d, dport));
  while (e !== -1) {
    const id = e >> 1;
    if (t.proto[id] === proto) {
      if ((e & 1) === Dir.In) {
        if (
          (t.caddr[id] | 0) === s && (t.vaddr[id] | 0) === d &&
          t.cport[id] === sport && t.vport[id] === dport
        ) return e;
      } else if (
        (t.daddr[id] | 0) === s && (t.laddr[id] | 0) === d &&
        t.dport[id] === sport && t.lport[id] === dport
      ) return e;
    }
    e = t.next(e);
  }
  return NO_SESSION;
}

/** IPv4. */
export const INET: AddressFamily = {
  name: "ipv4",
  icmpProto: IPPROTO.ICMP,
  toaLength: TCPOPT_LENGTH.TOA_V4,
  headerLength: IPV4.MIN_HEADER,
  udpChecksumOptional: true,

  parse(b: Uint8Array, o: number, len: number, v: PacketView): boolean {
    if (ipv4Problem(b, o, len) !== undefined) return false;
    v.proto = b[o + IPV4.PROTOCOL];
    v.l4 = o + ipv4HeaderLength(b, o);
    v.end = o + ipv4TotalLength(b, o);
    v.fragment = ipv4IsFragment(b, o);
    return true;
  },

  lookup(t: SessionTable, b: Uint8Array, o: number, proto: number, sport: number, dport: number) {
    return find(t, proto, get32(b, o + IPV4.SRC) | 0, sport, get32(b, o + IPV4.DST) | 0, dport);
  },

  service(r: Registry, b: Uint8Array, o: number, proto: number, dport: number) {
    return r.find(proto, get32(b, o + IPV4.DST) | 0, dport);
  },

  isVip(r: Registry, b: Uint8Array, o: number): boolean {
    return r.isVip(get32(b, o + IPV4.DST));
  },

  clientWords(b: Uint8Array, o: number, out: Uint32Array): void {
    out[0] = get32(b, o + IPV4.SRC);
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
  },

  sourceHash(b: Uint8Array, o: number): number {
    return hashV4(get32(b, o + IPV4.SRC));
  },

  destHash(b: Uint8Array, o: number): number {
    return hashV4(get32(b, o + IPV4.DST));
  },

  serves(_rs: RealServer): boolean {
    return true;
  },

  localTaken(t: SessionTable, proto: number, rs: RealServer, la: LocalAddress, lport: number) {
    return find(t, proto, rs.addr | 0, rs.port, la.addr | 0, lport) !== NO_SESSION;
  },

  clientTaken(
    t: SessionTable,
    proto: number,
    rs: RealServer,
    b: Uint8Array,
    o: number,
    cport: number,
  ) {
    return find(t, proto, rs.addr | 0, rs.port, get32(b, o + IPV4.SRC) | 0, cport) !== NO_SESSION;
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
    const caddr = get32(b, o + IPV4.SRC) | 0;
    const vaddr = get32(b, o + IPV4.DST) | 0;
    const laddr = la === undefined ? caddr : la.addr | 0;
    const daddr = rs.addr | 0;
    const dport = rs.port;
    const id = t.open(proto);
    if (id === NO_SESSION) return id;
    t.caddr[id] = caddr;
    t.cport[id] = cport;
    t.vaddr[id] = vaddr;
    t.vport[id] = vport;
    t.laddr[id] = laddr;
    t.lport[id] = lport;
    t.daddr[id] = daddr;
    t.dport[id] = dport;
    t.link(
      id,
      tupleHash(proto, caddr, cport, vaddr, vport),
      tupleHash(proto, daddr, dport, laddr, lport),
    );
    return id;
  },

  relink(t: SessionTable, id: number): void {
    const p = t.proto[id];
    // Signed, so the addresses are not boxed when tupleHash is not inlined.
    t.link(
      id,
      tupleHash(p, t.caddr[id] | 0, t.cport[id], t.vaddr[id] | 0, t.vport[id]),
      tupleHash(p, t.daddr[id] | 0, t.dport[id], t.laddr[id] | 0, t.lport[id]),
    );
  },

  sumAddrs(b: Uint8Array, ip: number): number {
    return sum32(get32(b, ip + IPV4.SRC)) + sum32(get32(b, ip + IPV4.DST));
  },

  writeAddrs(b: Uint8Array, ip: number, t: SessionTable, id: number, src: Slot, dst: Slot) {
    const s = addr(t, id, src);
    const d = addr(t, id, dst);
    set32(b, ip + IPV4.SRC, s);
    set32(b, ip + IPV4.DST, d);
    return sum32(s) + sum32(d);
  },

  writeAddr(b: Uint8Array, at: number, t: SessionTable, id: number, slot: Slot): void {
    set32(b, at, addr(t, id, slot));
  },

  adjustHeader(b: Uint8Array, ip: number, oldSum: number, newSum: number): void {
    const c = ip + IPV4.CHECKSUM;
    set16(b, c, adjust(get16(b, c), oldSum, newSum));
  },

  fillHeaderChecksum(b: Uint8Array, ip: number): void {
    ipv4FillChecksum(b, ip);
  },

  setLength(b: Uint8Array, o: number, total: number, newTotal: number): void {
    set16(b, o + IPV4.TOTAL_LENGTH, newTotal);
    const c = o + IPV4.CHECKSUM;
    set16(b, c, adjust(get16(b, c), total, newTotal));
  },

  dontFragment(b: Uint8Array, o: number): boolean {
    return (get16(b, o + IPV4.FLAGS_FRAG) & DF) !== 0;
  },

  swapAddrs(b: Uint8Array, o: number): void {
    const s = get32(b, o + IPV4.SRC);
    set32(b, o + IPV4.SRC, get32(b, o + IPV4.DST));
    set32(b, o + IPV4.DST, s);
  },

  writeHeader(b: Uint8Array, o: number, proto: number, l4Length: number): number {
    b[o + IPV4.VER_IHL] = 0x45;
    b[o + IPV4.TOS] = 0;
    set16(b, o + IPV4.TOTAL_LENGTH, IPV4.MIN_HEADER + l4Length);
    set16(b, o + IPV4.ID, 0);
    set16(b, o + IPV4.FLAGS_FRAG, DF);
    b[o + IPV4.TTL] = 64;
    b[o + IPV4.PROTOCOL] = proto;
    ipv4FillChecksum(b, o);
    return pseudoSumV4(get32(b, o + IPV4.SRC), get32(b, o + IPV4.DST), proto, l4Length);
  },

  isn(secret: Uint32Array, t: SessionTable, id: number, ticks: number): number {
    return isnV4(secret, t.laddr[id] | 0, t.lport[id], t.daddr[id] | 0, t.dport[id], ticks);
  },

  isTranslatedError: icmp4IsTranslatedError,

  readQuote(b: Uint8Array, icmp: number, end: number, q: QuoteView): boolean {
    const ip = icmp + ICMP.QUOTE;
    if (ip + IPV4.MIN_HEADER > end || b[ip] >>> 4 !== 4) return false;
    const ihl = ipv4HeaderLength(b, ip);
    if (ihl < IPV4.MIN_HEADER || ip + ihl + 8 > end) return false;
    q.ip = ip;
    q.l4 = ip + ihl;
    q.end = end;
    return true;
  },

  quoteProto(b: Uint8Array, q: QuoteView): number {
    return b[q.ip + IPV4.PROTOCOL];
  },

  lookupQuote(t: SessionTable, b: Uint8Array, q: QuoteView, proto: number): number {
    return find(
      t,
      proto,
      get32(b, q.ip + IPV4.DST),
      get16(b, q.l4 + 2),
      get32(b, q.ip + IPV4.SRC),
      get16(b, q.l4),
    );
  },

  shrinkMtu(b: Uint8Array, icmp: number, by: number): void {
    if (
      b[icmp + ICMP.TYPE] !== ICMP4_TYPE.DEST_UNREACH || b[icmp + ICMP.CODE] !== ICMP4_FRAG_NEEDED
    ) {
      return;
    }
    const mtu = get16(b, icmp + ICMP.NEXT_HOP_MTU);
    if (mtu > by) set16(b, icmp + ICMP.NEXT_HOP_MTU, mtu - by);
  },

  finishIcmp(b: Uint8Array, o: number, icmp: number, end: number): void {
    ipv4FillChecksum(b, o);
    set16(b, icmp + ICMP.CHECKSUM, 0);
    set16(b, icmp + ICMP.CHECKSUM, finish(sumWords(b, icmp, end - icmp)));
  },

  writeTooBig(b: Uint8Array, o: number, l4: number, t: SessionTable, id: number, mtu: number) {
    return writeFragNeeded(b, o, l4 - o, t.vaddr[id], t.caddr[id], mtu);
  },
};
