/**
 * ctnetlink requests built by hand into a caller's buffer: CT_NEW for an
 * {@linkcode OffloadEntry}, CT_DELETE by original tuple, and the CT_GET dump filtered by mark.
 * Netlink headers are host-order (little-endian here), attribute values big-endian, nests
 * flagged `NLA_F_NESTED` as libnetfilter_conntrack sends them.
 *
 * Every entry is checked before a byte is written ({@linkcode entryProblem}): a bad entry is
 * refused with a message naming the field, and the kernel never sees half a batch.
 *
 * @module
 */

import { formatIpv6, parseIpv4, parseIpv6 } from "../../vocab/address.ts";
import { NLA_HDRLEN, NLMSG_HDRLEN } from "../../nfqueue/constants.ts";
import {
  AF_INET,
  AF_INET6,
  CTA,
  CTA_IP,
  CTA_NAT,
  CTA_PROTO,
  CTA_PROTOINFO_TCP,
  CTA_PROTONAT,
  CTA_SEQADJ,
  CTA_TCP,
  CTA_TUPLE,
  IP_CT_TCP_FLAG,
  IPCTNL_MSG_CT_DELETE,
  IPCTNL_MSG_CT_GET,
  IPCTNL_MSG_CT_NEW,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPS,
  NFNL_SUBSYS_CTNETLINK,
  NLM_F,
  TCP_CONNTRACK_ESTABLISHED,
} from "./constants.ts";
import type { CtAddress, CtNatTarget, CtSeqAdj, CtTuple, OffloadEntry } from "./types.ts";

const NLA_F_NESTED = 0x8000;
/** Room one CT_NEW message can take at most (IPv6, every attribute): 336 bytes, rounded up. */
export const MAX_NEW_MESSAGE_BYTES = 512;

/** Appends netlink messages and attributes to a buffer. */
export class NlWriter {
  readonly view: DataView;
  /** Bytes written so far. */
  pos = 0;
  #msgStart = 0;

  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Room left. */
  get free(): number {
    return this.buf.length - this.pos;
  }

  /** Starts a ctnetlink message (nlmsghdr + nfgenmsg); close it with {@linkcode endMessage}. */
  beginMessage(msgType: number, flags: number, seq: number, family: number): void {
    this.#msgStart = this.pos;
    const v = this.view;
    const p = this.pos;
    v.setUint32(p, 0, true);
    v.setUint16(p + 4, (NFNL_SUBSYS_CTNETLINK << 8) | msgType, true);
    v.setUint16(p + 6, flags, true);
    v.setUint32(p + 8, seq >>> 0, true);
    v.setUint32(p + 12, 0, true);
    v.setUint8(p + 16, family); // nfgen_family
    v.setUint8(p + 17, 0); // NFNETLINK_V0
    v.setUint16(p + 18, 0, false); // res_id
    this.pos = p + NLMSG_HDRLEN + 4;
  }

  /** Writes the message length; returns it. */
  endMessage(): number {
    const len = this.pos - this.#msgStart;
    this.view.setUint32(this.#msgStart, len, true);
    return len;
  }

  /** Opens a nested attribute; returns its start for {@linkcode endNest}. */
  beginNest(type: number): number {
    const start = this.pos;
    this.view.setUint16(start + 2, type | NLA_F_NESTED, true);
    this.pos += NLA_HDRLEN;
    return start;
  }

  /** Closes the nest opened at `start`. */
  endNest(start: number): void {
    this.view.setUint16(start, this.pos - start, true);
  }

  #attr(type: number, len: number): number {
    const p = this.pos;
    this.view.setUint16(p, NLA_HDRLEN + len, true);
    this.view.setUint16(p + 2, type, true);
    const padded = (NLA_HDRLEN + len + 3) & ~3;
    this.buf.fill(0, p + NLA_HDRLEN + len, p + padded);
    this.pos = p + padded;
    return p + NLA_HDRLEN;
  }

  /** A u8 attribute. */
  u8(type: number, v: number): void {
    this.view.setUint8(this.#attr(type, 1), v);
  }

  /** A big-endian u16 attribute. */
  be16(type: number, v: number): void {
    this.view.setUint16(this.#attr(type, 2), v, false);
  }

  /** A big-endian u32 attribute (negative values are written as their two's complement). */
  be32(type: number, v: number): void {
    this.view.setUint32(this.#attr(type, 4), v >>> 0, false);
  }

  /** A raw-bytes attribute. */
  bytes(type: number, b: Uint8Array): void {
    this.buf.set(b, this.#attr(type, b.length));
  }
}

/** Parsed addresses by text: VIPs, real servers and local addresses repeat in every entry. */
const addressCache = new Map<string, { family: 4 | 6; bytes: Uint8Array } | undefined>();
const ADDRESS_CACHE_LIMIT = 4096;

/**
 * The address bytes and family of an address given as numeric text or as its 4 or 16
 * network-order bytes (the engine's form, taken as is); undefined when it is neither.
 */
export function addressBytes(
  text: CtAddress,
): { family: 4 | 6; bytes: Uint8Array } | undefined {
  if (text instanceof Uint8Array) {
    if (text.length === 4) return { family: 4, bytes: text };
    if (text.length === 16) return { family: 6, bytes: text };
    return undefined;
  }
  if (typeof text !== "string") return undefined;
  const hit = addressCache.get(text);
  if (hit !== undefined || addressCache.has(text)) return hit;
  let out: { family: 4 | 6; bytes: Uint8Array } | undefined;
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    if (v4 !== undefined) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v4, false);
      out = { family: 4, bytes: b };
    }
  } else {
    const v6 = parseIpv6(text);
    if (v6 !== undefined) {
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      for (let i = 0; i < 4; i++) v.setUint32(i * 4, v6[i], false);
      out = { family: 6, bytes: b };
    }
  }
  // Client addresses are many and seldom repeat within a short time: the cache is only for
  // the few that do, so it is simply cleared when it fills.
  if (addressCache.size >= ADDRESS_CACHE_LIMIT) addressCache.clear();
  addressCache.set(text, out);
  return out;
}

/** An address for a message: its text, or its bytes' text, or what was wrong with it. */
function show(a: CtAddress): string {
  if (a instanceof Uint8Array) {
    if (a.length === 4) return Array.from(a).join(".");
    if (a.length === 16) {
      const v = new DataView(a.buffer, a.byteOffset, 16);
      return formatIpv6(Uint32Array.from([0, 4, 8, 12], (o) => v.getUint32(o, false)));
    }
    return `a ${a.length}-byte array (4 or 16 expected)`;
  }
  return typeof a === "string" ? a : JSON.stringify(a);
}

function familyOf(text: CtAddress): 4 | 6 | undefined {
  return addressBytes(text)?.family;
}

const isPort = (p: unknown): boolean =>
  Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535;
const isU32 = (n: unknown): boolean =>
  Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;
// Offsets are 32-bit on the wire: signed or unsigned notation, the same bits.
const isS32 = (n: unknown): boolean =>
  Number.isInteger(n) && (n as number) >= -0x80000000 && (n as number) <= 0xffffffff;

/** What is wrong with a tuple, or undefined; `what` names it in the message. */
export function tupleProblem(t: CtTuple, what: string): string | undefined {
  if (t === null || typeof t !== "object") return `${what} must be a tuple object`;
  if (t.protocol !== "tcp" && t.protocol !== "udp") {
    return `${what}.protocol must be "tcp" or "udp", got ${JSON.stringify(t.protocol)}`;
  }
  const fs = familyOf(t.src);
  if (fs === undefined) return `${what}.src is not a numeric IP address: ${show(t.src)}`;
  const fd = familyOf(t.dst);
  if (fd === undefined) return `${what}.dst is not a numeric IP address: ${show(t.dst)}`;
  if (fs !== fd) return `${what} mixes IPv${fs} ${show(t.src)} and IPv${fd} ${show(t.dst)}`;
  if (!isPort(t.srcPort)) return `${what}.srcPort must be 0..65535, got ${t.srcPort}`;
  if (!isPort(t.dstPort)) return `${what}.dstPort must be 0..65535, got ${t.dstPort}`;
  return undefined;
}

function natProblem(n: CtNatTarget, family: 4 | 6, what: string): string | undefined {
  if (n === null || typeof n !== "object") return `${what} must be {address, port}`;
  const f = familyOf(n.address);
  if (f === undefined) {
    return `${what}.address is not a numeric IP address: ${show(n.address)}`;
  }
  if (f !== family) {
    return `${what}.address ${show(n.address)} is IPv${f}, the tuple is IPv${family}`;
  }
  if (!isPort(n.port) || n.port === 0) return `${what}.port must be 1..65535, got ${n.port}`;
  return undefined;
}

function seqAdjProblem(s: CtSeqAdj, what: string): string | undefined {
  if (s === null || typeof s !== "object") {
    return `${what} must be {correctionPos, offsetBefore, offsetAfter}`;
  }
  if (!isU32(s.correctionPos)) {
    return `${what}.correctionPos must be 0..2^32-1, got ${s.correctionPos}`;
  }
  if (!isS32(s.offsetBefore)) {
    return `${what}.offsetBefore must be a 32-bit integer (-2^31..2^32-1), got ${s.offsetBefore}`;
  }
  if (!isS32(s.offsetAfter)) {
    return `${what}.offsetAfter must be a 32-bit integer (-2^31..2^32-1), got ${s.offsetAfter}`;
  }
  return undefined;
}

/** What is wrong with an offload entry, or undefined when the kernel can be sent it. */
export function entryProblem(e: OffloadEntry): string | undefined {
  if (e === null || typeof e !== "object") return "an offload entry must be an object";
  const t = tupleProblem(e.orig, "orig");
  if (t !== undefined) return t;
  const family = familyOf(e.orig.src)!;
  const d = natProblem(e.dnat, family, "dnat");
  if (d !== undefined) return d;
  if (e.snat !== undefined) {
    const s = natProblem(e.snat, family, "snat");
    if (s !== undefined) return s;
  }
  if (!Number.isInteger(e.timeout) || e.timeout < 1 || e.timeout > 0x7fffffff) {
    return `timeout must be 1..2147483647 seconds, got ${e.timeout}`;
  }
  if (!isU32(e.mark)) return `mark must be 0..4294967295, got ${e.mark}`;
  const tcp = e.orig.protocol === "tcp";
  for (const [s, name] of [[e.seqAdjOrig, "seqAdjOrig"], [e.seqAdjReply, "seqAdjReply"]] as const) {
    if (s === undefined) continue;
    if (!tcp) return `${name} applies to TCP only; the tuple is UDP`;
    const p = seqAdjProblem(s, name);
    if (p !== undefined) return p;
  }
  if (tcp) {
    const i = e.tcp;
    if (i === undefined || i === null || typeof i !== "object") {
      return "tcp (the handshake's window scales) is required for a TCP entry";
    }
    for (const k of ["wscaleOriginal", "wscaleReply"] as const) {
      if (!Number.isInteger(i[k]) || i[k] < 0 || i[k] > 14) {
        return `tcp.${k} must be 0..14, got ${i[k]}`;
      }
    }
  }
  return undefined;
}

function writeTuple(w: NlWriter, type: number, t: CtTuple): void {
  const src = addressBytes(t.src)!;
  const dst = addressBytes(t.dst)!;
  const v6 = src.family === 6;
  const outer = w.beginNest(type);
  const ip = w.beginNest(CTA_TUPLE.IP);
  w.bytes(v6 ? CTA_IP.V6_SRC : CTA_IP.V4_SRC, src.bytes);
  w.bytes(v6 ? CTA_IP.V6_DST : CTA_IP.V4_DST, dst.bytes);
  w.endNest(ip);
  const proto = w.beginNest(CTA_TUPLE.PROTO);
  w.u8(CTA_PROTO.NUM, t.protocol === "tcp" ? IPPROTO_TCP : IPPROTO_UDP);
  w.be16(CTA_PROTO.SRC_PORT, t.srcPort);
  w.be16(CTA_PROTO.DST_PORT, t.dstPort);
  w.endNest(proto);
  w.endNest(outer);
}

/** The tuple the reply direction has before NAT: the original one inverted (as conntrack-tools sends it). */
export function invertTuple(t: CtTuple): CtTuple {
  return { protocol: t.protocol, src: t.dst, dst: t.src, srcPort: t.dstPort, dstPort: t.srcPort };
}

function writeNat(w: NlWriter, type: number, n: CtNatTarget): void {
  const a = addressBytes(n.address)!;
  const v6 = a.family === 6;
  const nest = w.beginNest(type);
  w.bytes(v6 ? CTA_NAT.V6_MINIP : CTA_NAT.V4_MINIP, a.bytes);
  w.bytes(v6 ? CTA_NAT.V6_MAXIP : CTA_NAT.V4_MAXIP, a.bytes);
  const proto = w.beginNest(CTA_NAT.PROTO);
  w.be16(CTA_PROTONAT.PORT_MIN, n.port);
  w.be16(CTA_PROTONAT.PORT_MAX, n.port);
  w.endNest(proto);
  w.endNest(nest);
}

function writeSeqAdj(w: NlWriter, type: number, s: CtSeqAdj): void {
  const nest = w.beginNest(type);
  w.be32(CTA_SEQADJ.CORRECTION_POS, s.correctionPos);
  w.be32(CTA_SEQADJ.OFFSET_BEFORE, s.offsetBefore);
  w.be32(CTA_SEQADJ.OFFSET_AFTER, s.offsetAfter);
  w.endNest(nest);
}

/** The status a created entry gets: confirmed (the kernel insists), seen reply, assured. */
export const OFFLOAD_STATUS = IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED;

/**
 * Writes the CT_NEW (`CREATE|EXCL|ACK`) message of a checked entry (see
 * {@linkcode entryProblem}) with sequence number `seq`; returns its length. Needs
 * {@linkcode MAX_NEW_MESSAGE_BYTES} of room.
 */
export function writeNew(w: NlWriter, e: OffloadEntry, seq: number): number {
  const v6 = addressBytes(e.orig.src)!.family === 6;
  w.beginMessage(
    IPCTNL_MSG_CT_NEW,
    NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL | NLM_F.ACK,
    seq,
    v6 ? AF_INET6 : AF_INET,
  );
  writeTuple(w, CTA.TUPLE_ORIG, e.orig);
  writeTuple(w, CTA.TUPLE_REPLY, invertTuple(e.orig));
  writeNat(w, CTA.NAT_DST, e.dnat);
  if (e.snat !== undefined) writeNat(w, CTA.NAT_SRC, e.snat);
  // IPS_SEQ_ADJUST must not be sent: it is in IPS_UNCHANGEABLE_MASK and the seqadj
  // attributes set it themselves.
  w.be32(CTA.STATUS, OFFLOAD_STATUS);
  w.be32(CTA.TIMEOUT, e.timeout);
  w.be32(CTA.MARK, e.mark);
  if (e.orig.protocol === "tcp") {
    if (e.seqAdjOrig !== undefined) writeSeqAdj(w, CTA.SEQ_ADJ_ORIG, e.seqAdjOrig);
    if (e.seqAdjReply !== undefined) writeSeqAdj(w, CTA.SEQ_ADJ_REPLY, e.seqAdjReply);
    const t = e.tcp!;
    const flags = IP_CT_TCP_FLAG.BE_LIBERAL |
      (t.windowScale === false ? 0 : IP_CT_TCP_FLAG.WINDOW_SCALE) |
      (t.sackPermitted === false ? 0 : IP_CT_TCP_FLAG.SACK_PERM);
    const mask = IP_CT_TCP_FLAG.BE_LIBERAL | IP_CT_TCP_FLAG.WINDOW_SCALE | IP_CT_TCP_FLAG.SACK_PERM;
    const pi = w.beginNest(CTA.PROTOINFO);
    const tcp = w.beginNest(CTA_PROTOINFO_TCP);
    w.u8(CTA_TCP.STATE, TCP_CONNTRACK_ESTABLISHED);
    w.u8(CTA_TCP.WSCALE_ORIGINAL, t.wscaleOriginal);
    w.u8(CTA_TCP.WSCALE_REPLY, t.wscaleReply);
    const fm = new Uint8Array([flags, mask]);
    w.bytes(CTA_TCP.FLAGS_ORIGINAL, fm);
    w.bytes(CTA_TCP.FLAGS_REPLY, fm);
    w.endNest(tcp);
    w.endNest(pi);
  }
  return w.endMessage();
}

/** Writes a CT_DELETE (`ACK`) of the entry whose original tuple is `t` (checked). */
export function writeDelete(w: NlWriter, t: CtTuple, seq: number): number {
  const v6 = addressBytes(t.src)!.family === 6;
  w.beginMessage(IPCTNL_MSG_CT_DELETE, NLM_F.REQUEST | NLM_F.ACK, seq, v6 ? AF_INET6 : AF_INET);
  writeTuple(w, CTA.TUPLE_ORIG, t);
  return w.endMessage();
}

/**
 * Writes a CT_GET dump request of both families, restricted by the kernel to entries whose
 * `mark & mask === mark & mask` (CTA_MARK + CTA_MARK_MASK; mask 0 dumps everything).
 */
export function writeDump(w: NlWriter, mark: number, mask: number, seq: number): number {
  w.beginMessage(IPCTNL_MSG_CT_GET, NLM_F.REQUEST | NLM_F.DUMP, seq, 0);
  if (mask !== 0) {
    w.be32(CTA.MARK, (mark & mask) >>> 0);
    w.be32(CTA.MARK_MASK, mask);
  }
  return w.endMessage();
}
