/**
 * Parsing of ctnetlink entry messages (dump replies and events) into {@linkcode CtEntry}:
 * tuples, status, mark, timeout, TCP state, counters, sequence adjustments. Unknown
 * attributes are skipped; a message whose attributes overrun it does not parse.
 *
 * @module
 */

import { formatIpv4, formatIpv6 } from "../../vocab/address.ts";
import { NLA_HDRLEN, NLA_TYPE_MASK, NLMSG_HDRLEN } from "../../nfqueue/constants.ts";
import { nlAlign } from "../../nfqueue/netlink_parse.ts";
import {
  CTA,
  CTA_COUNTERS,
  CTA_IP,
  CTA_PROTO,
  CTA_PROTOINFO_TCP,
  CTA_SEQADJ,
  CTA_TCP,
  CTA_TUPLE,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from "./constants.ts";
import type { CtCounters, CtEntry, CtSeqAdj, CtTupleText } from "./types.ts";

/** Attribute offsets by type within one nest (value offset, value length). */
type Attrs = Map<number, [at: number, len: number]>;

/** Reads the attributes in `[pos, end)`; undefined when one overruns. */
export function readAttrs(v: DataView, pos: number, end: number): Attrs | undefined {
  const out: Attrs = new Map();
  while (pos + NLA_HDRLEN <= end) {
    const len = v.getUint16(pos, true);
    if (len < NLA_HDRLEN || pos + len > end) return undefined;
    out.set(v.getUint16(pos + 2, true) & NLA_TYPE_MASK, [pos + NLA_HDRLEN, len - NLA_HDRLEN]);
    pos += nlAlign(len);
  }
  return out;
}

function nest(v: DataView, a: Attrs, type: number): Attrs | undefined {
  const x = a.get(type);
  return x === undefined ? undefined : readAttrs(v, x[0], x[0] + x[1]);
}

function u32(v: DataView, a: Attrs | undefined, type: number): number | undefined {
  const x = a?.get(type);
  return x === undefined || x[1] < 4 ? undefined : v.getUint32(x[0], false);
}

function u64(v: DataView, a: Attrs | undefined, type: number): bigint | undefined {
  const x = a?.get(type);
  return x === undefined || x[1] < 8 ? undefined : v.getBigUint64(x[0], false);
}

function addr(v: DataView, a: Attrs, type: number, bytes: 4 | 16): string | undefined {
  const x = a.get(type);
  if (x === undefined || x[1] < bytes) return undefined;
  if (bytes === 4) return formatIpv4(v.getUint32(x[0], false));
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = v.getUint32(x[0] + 4 * i, false);
  return formatIpv6(w);
}

function tuple(v: DataView, a: Attrs | undefined): CtTupleText | undefined {
  if (a === undefined) return undefined;
  const ip = nest(v, a, CTA_TUPLE.IP);
  const proto = nest(v, a, CTA_TUPLE.PROTO);
  if (ip === undefined || proto === undefined) return undefined;
  const v6 = ip.has(CTA_IP.V6_SRC);
  const src = v6 ? addr(v, ip, CTA_IP.V6_SRC, 16) : addr(v, ip, CTA_IP.V4_SRC, 4);
  const dst = v6 ? addr(v, ip, CTA_IP.V6_DST, 16) : addr(v, ip, CTA_IP.V4_DST, 4);
  const num = proto.get(CTA_PROTO.NUM);
  const sp = proto.get(CTA_PROTO.SRC_PORT);
  const dp = proto.get(CTA_PROTO.DST_PORT);
  if (src === undefined || dst === undefined || num === undefined) return undefined;
  const n = v.getUint8(num[0]);
  if (n !== IPPROTO_TCP && n !== IPPROTO_UDP) return undefined;
  return {
    protocol: n === IPPROTO_TCP ? "tcp" : "udp",
    src,
    dst,
    srcPort: sp === undefined ? 0 : v.getUint16(sp[0], false),
    dstPort: dp === undefined ? 0 : v.getUint16(dp[0], false),
  };
}

function counters(v: DataView, a: Attrs | undefined): CtCounters | undefined {
  if (a === undefined) return undefined;
  const packets = u64(v, a, CTA_COUNTERS.PACKETS);
  const bytes = u64(v, a, CTA_COUNTERS.BYTES);
  return packets === undefined || bytes === undefined ? undefined : { packets, bytes };
}

function seqAdj(v: DataView, a: Attrs | undefined): CtSeqAdj | undefined {
  if (a === undefined) return undefined;
  const pos = u32(v, a, CTA_SEQADJ.CORRECTION_POS);
  const before = u32(v, a, CTA_SEQADJ.OFFSET_BEFORE);
  const after = u32(v, a, CTA_SEQADJ.OFFSET_AFTER);
  if (pos === undefined || before === undefined || after === undefined) return undefined;
  return { correctionPos: pos, offsetBefore: before | 0, offsetAfter: after | 0 };
}

/**
 * Parses the conntrack message at `msg` (`msgLen` bytes, header included). Undefined when it
 * does not parse or is not a TCP/UDP entry (ICMP and other protocols are not ours).
 */
export function parseEntry(v: DataView, msg: number, msgLen: number): CtEntry | undefined {
  if (msgLen < NLMSG_HDRLEN + 4) return undefined;
  const a = readAttrs(v, msg + NLMSG_HDRLEN + 4, msg + msgLen);
  if (a === undefined) return undefined;
  const orig = tuple(v, nest(v, a, CTA.TUPLE_ORIG));
  const reply = tuple(v, nest(v, a, CTA.TUPLE_REPLY));
  if (orig === undefined || reply === undefined) return undefined;
  const e: CtEntry = {
    orig,
    reply,
    status: u32(v, a, CTA.STATUS) ?? 0,
    mark: u32(v, a, CTA.MARK) ?? 0,
  };
  const timeout = u32(v, a, CTA.TIMEOUT);
  if (timeout !== undefined) e.timeout = timeout;
  const id = u32(v, a, CTA.ID);
  if (id !== undefined) e.id = id;
  const pi = nest(v, a, CTA.PROTOINFO);
  const tcp = pi === undefined ? undefined : nest(v, pi, CTA_PROTOINFO_TCP);
  const st = tcp?.get(CTA_TCP.STATE);
  if (st !== undefined && st[1] >= 1) e.tcpState = v.getUint8(st[0]);
  const co = counters(v, nest(v, a, CTA.COUNTERS_ORIG));
  if (co !== undefined) e.countersOrig = co;
  const cr = counters(v, nest(v, a, CTA.COUNTERS_REPLY));
  if (cr !== undefined) e.countersReply = cr;
  const so = seqAdj(v, nest(v, a, CTA.SEQ_ADJ_ORIG));
  if (so !== undefined) e.seqAdjOrig = so;
  const sr = seqAdj(v, nest(v, a, CTA.SEQ_ADJ_REPLY));
  if (sr !== undefined) e.seqAdjReply = sr;
  return e;
}
