/**
 * The IPVS sync daemon's wire format, version 1 (Linux `net/netfilter/ipvs/ip_vs_sync.c`),
 * written and read here so a fullnat pair speaks what `ipvsadm --start-daemon` speaks.
 *
 * A message is an 8-byte header (reserved 0, syncid, size, connection count, version 1,
 * spare 0) and that many connection entries, each 32-bit aligned (zero padding between
 * entries, counted in the header's size, none after the last). An entry is 36 bytes for IPv4
 * and 72 for IPv6 (type with bit 0 = IPv6, protocol, 4-bit version 0 and 12-bit entry size,
 * IPVS connection flags, state, client/virtual/destination ports, fwmark, timeout in seconds,
 * then the three addresses), followed by parameters: a type byte, a length byte (1-255) and the
 * data. All fields are in network byte order.
 *
 * Parameter types: 1 sequence data (24 bytes: in and out `ip_vs_seq`), 2 persistence-engine
 * data, 3 persistence-engine name. The kernel reads `type & ~0x40`: with the 0x40 bit
 * (`IPVS_OPT_F_PARAM`, "optional") an unknown type is skipped, without it the entry is dropped.
 * A known type with the bit set is still read as that type, so fullnat's own parameters
 * (`fullnat_param.ts`) use types whose low bits are none of 1-3.
 *
 * Decoding never throws on what the network sends: it checks what the kernel checks, more
 * strictly where the kernel would apply half a message (a message with any structural fault is
 * refused whole, so a bad message changes nothing), and says why in one word per reason.
 *
 * @module
 */

/** The sync multicast group (224.0.0.81) and port the kernel defaults to. */
export const SYNC_GROUP = "224.0.0.81";
/** The sync port the kernel defaults to. */
export const SYNC_PORT = 8848;
/** Version of the message header this module speaks. */
export const SYNC_PROTO_VER = 1;
/** Bytes of the message header. */
export const HEADER_LENGTH = 8;
/** Bytes of an IPv4 connection entry before its parameters. */
export const ENTRY_V4_LENGTH = 36;
/** Bytes of an IPv6 connection entry before its parameters. */
export const ENTRY_V6_LENGTH = 72;
/** Most bytes an entry may have (12-bit size field). */
export const MAX_ENTRY_LENGTH = 0x0fff;
/** Most entries in one message (8-bit count). */
export const MAX_ENTRIES = 255;

/** Bit of an entry's type: the entry is IPv6. */
export const STYPE_F_INET6 = 1;
/** Parameter types the kernel knows. */
export const IPVS_OPT = { SEQ_DATA: 1, PE_DATA: 2, PE_NAME: 3 } as const;
/** The "optional" bit of a parameter type: a receiver that does not know the type skips it. */
export const IPVS_OPT_F_PARAM = 0x40;
/** Longest persistence-engine data and name the kernel accepts. */
const PE_DATA_MAXLEN = 255;
const PE_NAME_MAXLEN = 16;
/** Bytes of the sequence-data parameter's data (two `struct ip_vs_seq`). */
export const SEQ_DATA_LENGTH = 24;

/** IPVS connection flags (`include/uapi/linux/ip_vs.h`, `include/net/ip_vs.h`). */
export const ConnFlag = {
  /** The forwarding method field (low three bits). */
  FWD_MASK: 0x0007,
  MASQ: 0x0000,
  LOCALNODE: 0x0001,
  TUNNEL: 0x0002,
  DROUTE: 0x0003,
  BYPASS: 0x0004,
  /** Alibaba's FULLNAT kernel's forwarding method. */
  FULLNAT: 0x0005,
  NOOUTPUT: 0x0080,
  /** Not ESTABLISHED: counted among the server's inactive connections. */
  INACTIVE: 0x0100,
  OUT_SEQ: 0x0200,
  IN_SEQ: 0x0400,
  NO_CPORT: 0x0800,
  /** A persistence template, not a connection. */
  TEMPLATE: 0x1000,
  ONE_PACKET: 0x2000,
} as const;

/** The bits a backup takes from a received entry (`IP_VS_CONN_F_BACKUP_MASK`). */
export const BACKUP_MASK = ConnFlag.FWD_MASK | ConnFlag.NOOUTPUT | ConnFlag.INACTIVE |
  ConnFlag.IN_SEQ | ConnFlag.OUT_SEQ | ConnFlag.NO_CPORT | ConnFlag.TEMPLATE;

/** `struct ip_vs_seq` of the sequence-data parameter. */
export interface IpvsSeq {
  initSeq: number;
  delta: number;
  previousDelta: number;
}

/** A parameter of an entry that this module does not interpret: its type and data. */
export interface SyncParam {
  type: number;
  data: Uint8Array;
}

/**
 * One connection entry. Addresses are 32-bit words in network order: one word for IPv4, four
 * for IPv6 (the engine's own representation of both).
 */
export interface SyncConn {
  v6: boolean;
  protocol: number;
  /** IPVS connection flags ({@linkcode ConnFlag}). */
  flags: number;
  state: number;
  cport: number;
  vport: number;
  dport: number;
  fwmark: number;
  /** Seconds (the connection's timeout in its state, as the kernel sends it). */
  timeout: number;
  caddr: readonly number[];
  vaddr: readonly number[];
  daddr: readonly number[];
  /** Sequence data (parameter 1), when present. */
  seq?: { in: IpvsSeq; out: IpvsSeq };
  /** Persistence-engine data and name (parameters 2, 3), when present; kept, not used. */
  peData?: Uint8Array;
  peName?: string;
  /** Optional parameters of other types, in order (fullnat's own among them). */
  params: SyncParam[];
}

/** The header of a version 1 message. */
export interface SyncHeader {
  syncid: number;
  size: number;
  count: number;
}

/** Why a whole message was refused. */
export type MessageFault =
  | "short"
  | "size-mismatch"
  | "other-syncid"
  | "version-0"
  | "truncated-entry"
  | "entry-version"
  | "entry-type"
  | "entry-too-short"
  | "param-truncated"
  | "param-length"
  | "seq-data-length"
  | "param-twice"
  | "pe-data-length"
  | "trailing-bytes";

/** Why one entry of an otherwise sound message was skipped, as the kernel skips it. */
export type EntryFault = "mandatory-param" | "protocol" | "state" | "pe-without-name";

/** What {@linkcode decodeMessage} found. */
export type DecodeResult =
  | {
    ok: true;
    header: SyncHeader;
    conns: SyncConn[];
    /** Entries skipped, by reason. */
    skipped: Partial<Record<EntryFault, number>>;
  }
  | { ok: false; fault: MessageFault; detail: string };

/** States per protocol the kernel accepts (`pp->num_states`): TCP 11, UDP 2, SCTP 10. */
const NUM_STATES: Readonly<Record<number, number>> = { 6: 11, 17: 2, 132: 10 };

/** Bytes an entry takes without its parameters. */
export function entryBaseLength(v6: boolean): number {
  return v6 ? ENTRY_V6_LENGTH : ENTRY_V4_LENGTH;
}

/** Bytes `conn` takes on the wire, unpadded: entry, sequence data, parameters. */
export function entryLength(conn: SyncConn): number {
  let n = entryBaseLength(conn.v6);
  if (conn.seq !== undefined) n += 2 + SEQ_DATA_LENGTH;
  if (conn.peData !== undefined) n += 2 + conn.peData.length;
  if (conn.peName !== undefined) n += 2 + conn.peName.length;
  for (const p of conn.params) n += 2 + p.data.length;
  return n;
}

/** Rounds `n` up to a multiple of 4 (entries start 32-bit aligned). */
export const align4 = (n: number): number => (n + 3) & ~3;

/**
 * Writes `conn` at `at` of `out` (which must have {@linkcode entryLength} bytes there) and
 * returns its length. Throws RangeError on an entry that cannot be sent (a bug, not input).
 */
export function writeEntry(out: Uint8Array, at: number, conn: SyncConn): number {
  const len = entryLength(conn);
  const words = conn.v6 ? 4 : 1;
  if (len > MAX_ENTRY_LENGTH) throw new RangeError(`sync entry of ${len} bytes is too long`);
  for (const a of [conn.caddr, conn.vaddr, conn.daddr]) {
    if (a.length !== words) throw new RangeError("sync entry address of the wrong family");
  }
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[at] = conn.v6 ? STYPE_F_INET6 : 0;
  out[at + 1] = conn.protocol;
  v.setUint16(at + 2, len & MAX_ENTRY_LENGTH);
  v.setUint32(at + 4, conn.flags >>> 0);
  v.setUint16(at + 8, conn.state);
  v.setUint16(at + 10, conn.cport);
  v.setUint16(at + 12, conn.vport);
  v.setUint16(at + 14, conn.dport);
  v.setUint32(at + 16, conn.fwmark >>> 0);
  v.setUint32(at + 20, conn.timeout >>> 0);
  let p = at + 24;
  for (const a of [conn.caddr, conn.vaddr, conn.daddr]) {
    for (let w = 0; w < words; w++, p += 4) v.setUint32(p, a[w] >>> 0);
  }
  const param = (type: number, data: Uint8Array) => {
    if (data.length < 1 || data.length > 255) {
      throw new RangeError(`sync parameter ${type} of ${data.length} bytes`);
    }
    out[p] = type;
    out[p + 1] = data.length;
    out.set(data, p + 2);
    p += 2 + data.length;
  };
  if (conn.seq !== undefined) {
    const s = new Uint8Array(SEQ_DATA_LENGTH);
    const sv = new DataView(s.buffer);
    [conn.seq.in, conn.seq.out].forEach((q, i) => {
      sv.setUint32(i * 12, q.initSeq >>> 0);
      sv.setUint32(i * 12 + 4, q.delta >>> 0);
      sv.setUint32(i * 12 + 8, q.previousDelta >>> 0);
    });
    param(IPVS_OPT.SEQ_DATA, s);
  }
  if (conn.peData !== undefined) param(IPVS_OPT.PE_DATA, conn.peData);
  if (conn.peName !== undefined) param(IPVS_OPT.PE_NAME, new TextEncoder().encode(conn.peName));
  for (const x of conn.params) param(x.type, x.data);
  return len;
}

/** Writes a version 1 header for `count` entries in `size` bytes at the start of `out`. */
export function writeHeader(out: Uint8Array, syncid: number, size: number, count: number): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = 0;
  out[1] = syncid & 0xff;
  v.setUint16(2, size);
  out[4] = count;
  out[5] = SYNC_PROTO_VER;
  v.setUint16(6, 0);
}

/**
 * Packs already-encoded entries (each one entry's bytes, unpadded, as {@linkcode writeEntry}
 * writes them) into messages of at most `maxlen` bytes (the kernel's sync_maxlen: the
 * interface MTU less the IP and UDP headers) and at most 255 entries each. An entry that does
 * not fit an empty message is a RangeError: `maxlen` below one entry is a configuration bug.
 * `reserveLast` bytes are kept free at the end of every message (room for a trailer that
 * {@linkcode appendToLastEntry} adds, such as the message's authentication).
 */
export function packEntries(
  entries: readonly Uint8Array[],
  syncid: number,
  maxlen: number,
  reserveLast = 0,
): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let i = 0;
  while (i < entries.length) {
    let size = HEADER_LENGTH;
    const start = i;
    while (i < entries.length && i - start < MAX_ENTRIES) {
      const pad = i === start ? 0 : align4(size) - size;
      if (size + pad + entries[i].length + reserveLast > maxlen) break;
      size += pad + entries[i].length;
      i++;
    }
    if (i === start) {
      throw new RangeError(
        `a sync entry of ${entries[i].length} bytes does not fit messages of ${maxlen}`,
      );
    }
    const out = new Uint8Array(size);
    let at = HEADER_LENGTH;
    for (let k = start; k < i; k++) {
      at = k === start ? at : align4(at);
      out.set(entries[k], at);
      at += entries[k].length;
    }
    writeHeader(out, syncid, size, i - start);
    messages.push(out);
  }
  return messages;
}

/** Encodes `conns` into messages of at most `maxlen` bytes (see {@linkcode packEntries}). */
export function encodeMessages(
  conns: readonly SyncConn[],
  syncid: number,
  maxlen: number,
): Uint8Array[] {
  const entries = conns.map((c) => {
    const b = new Uint8Array(entryLength(c));
    writeEntry(b, 0, c);
    return b;
  });
  return packEntries(entries, syncid, maxlen);
}

/**
 * Returns a copy of `message` whose last entry has one more parameter, `type` with `data`:
 * entry size, message size and the parameter all updated. The message must have an entry and
 * room for the parameter within the entry's 12-bit size.
 */
export function appendToLastEntry(message: Uint8Array, type: number, data: Uint8Array): Uint8Array {
  const last = lastEntryOffset(message);
  if (last < 0) throw new RangeError("no entry to append a parameter to");
  const v = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const entryLen = v.getUint16(last + 2) & MAX_ENTRY_LENGTH;
  const add = 2 + data.length;
  if (entryLen + add > MAX_ENTRY_LENGTH || data.length < 1 || data.length > 255) {
    throw new RangeError("parameter does not fit the entry");
  }
  const out = new Uint8Array(message.length + add);
  out.set(message);
  out[message.length] = type;
  out[message.length + 1] = data.length;
  out.set(data, message.length + 2);
  const ov = new DataView(out.buffer);
  ov.setUint16(last + 2, entryLen + add);
  ov.setUint16(2, out.length);
  return out;
}

/** Offset of the last entry of a well-formed message, or -1 when it has none. */
function lastEntryOffset(m: Uint8Array): number {
  const v = new DataView(m.buffer, m.byteOffset, m.byteLength);
  const count = m[4];
  let p = HEADER_LENGTH;
  let last = -1;
  for (let i = 0; i < count; i++) {
    last = p;
    p += align4(v.getUint16(p + 2) & MAX_ENTRY_LENGTH);
  }
  return last;
}

/** Reads the header of `buf` and checks what the kernel checks before any entry. */
export function readHeader(
  buf: Uint8Array,
  syncid: number,
): { ok: true; header: SyncHeader } | { ok: false; fault: MessageFault; detail: string } {
  if (buf.length < HEADER_LENGTH) {
    // The kernel accepts 4 bytes (a version 0 header); a version 1 header needs 8.
    return { ok: false, fault: "short", detail: `${buf.length} bytes, a header needs 8` };
  }
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const size = v.getUint16(2);
  if (size !== buf.length) {
    return {
      ok: false,
      fault: "size-mismatch",
      detail: `header says ${size} bytes, datagram has ${buf.length}`,
    };
  }
  // A backup with syncid 0 takes every syncid, as the kernel's does.
  if (syncid !== 0 && buf[1] !== syncid) {
    return { ok: false, fault: "other-syncid", detail: `syncid ${buf[1]}, not ${syncid}` };
  }
  if (buf[5] !== SYNC_PROTO_VER || buf[0] !== 0 || v.getUint16(6) !== 0) {
    return {
      ok: false,
      fault: "version-0",
      detail: `not a version 1 message (reserved ${buf[0]}, version ${buf[5]})`,
    };
  }
  return { ok: true, header: { syncid: buf[1], size, count: buf[4] } };
}

/**
 * Decodes a received datagram. `syncid` is the receiver's (0 takes all). Never throws: a
 * fault anywhere in the message's structure refuses the whole message; an entry the kernel
 * would skip on its own (unknown mandatory parameter, unknown protocol or state) is skipped
 * and counted.
 */
export function decodeMessage(buf: Uint8Array, syncid: number): DecodeResult {
  const h = readHeader(buf, syncid);
  if (!h.ok) return h;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const conns: SyncConn[] = [];
  const skipped: Partial<Record<EntryFault, number>> = {};
  const fail = (fault: MessageFault, detail: string): DecodeResult => ({
    ok: false,
    fault,
    detail,
  });
  let p = HEADER_LENGTH;
  for (let i = 0; i < h.header.count; i++) {
    if (p + ENTRY_V4_LENGTH > buf.length) {
      return fail("truncated-entry", `entry ${i + 1} of ${h.header.count} past the end`);
    }
    const verSize = v.getUint16(p + 2);
    const size = verSize & MAX_ENTRY_LENGTH;
    const end = p + size;
    if (end > buf.length) return fail("truncated-entry", `entry ${i + 1} is ${size} bytes`);
    if (verSize >> 12 !== 0) return fail("entry-version", `entry version ${verSize >> 12}`);
    const type = buf[p];
    if (type !== 0 && type !== STYPE_F_INET6) return fail("entry-type", `entry type ${type}`);
    const v6 = type === STYPE_F_INET6;
    const base = entryBaseLength(v6);
    if (base > size) return fail("entry-too-short", `entry of ${size} bytes`);
    const e = readEntry(buf, v, p, end, v6);
    if (typeof e === "string") return fail(e, `entry ${i + 1}`);
    if (e.fault !== undefined) skipped[e.fault] = (skipped[e.fault] ?? 0) + 1;
    else conns.push(e.conn);
    p += align4(size);
  }
  // The kernel ignores bytes after the last entry; padding beyond it is not sent, so any other
  // byte means the message is not what it says.
  if (p !== align4(buf.length)) {
    return fail("trailing-bytes", `${buf.length - p} bytes after the last entry`);
  }
  return { ok: true, header: h.header, conns, skipped };
}

/** Reads one entry's fields and parameters; a string is a fault of the whole message. */
function readEntry(
  buf: Uint8Array,
  v: DataView,
  at: number,
  end: number,
  v6: boolean,
): MessageFault | { conn: SyncConn; fault?: EntryFault } {
  const words = v6 ? 4 : 1;
  const addr = (o: number) => {
    const a: number[] = [];
    for (let w = 0; w < words; w++) a.push(v.getUint32(o + w * 4));
    return a;
  };
  const conn: SyncConn = {
    v6,
    protocol: buf[at + 1],
    flags: v.getUint32(at + 4),
    state: v.getUint16(at + 8),
    cport: v.getUint16(at + 10),
    vport: v.getUint16(at + 12),
    dport: v.getUint16(at + 14),
    fwmark: v.getUint32(at + 16),
    timeout: v.getUint32(at + 20),
    caddr: addr(at + 24),
    vaddr: addr(at + 24 + words * 4),
    daddr: addr(at + 24 + words * 8),
    params: [],
  };
  let fault: EntryFault | undefined;
  let p = at + entryBaseLength(v6);
  while (p < end) {
    if (p + 2 > end) return "param-truncated";
    const type = buf[p];
    const len = buf[p + 1];
    p += 2;
    if (len === 0 || p + len > end) return "param-length";
    const data = buf.slice(p, p + len);
    switch (type & ~IPVS_OPT_F_PARAM) {
      case IPVS_OPT.SEQ_DATA: {
        if (len !== SEQ_DATA_LENGTH) return "seq-data-length";
        if (conn.seq !== undefined) return "param-twice";
        const seq = (o: number): IpvsSeq => ({
          initSeq: v.getUint32(o),
          delta: v.getUint32(o + 4),
          previousDelta: v.getUint32(o + 8),
        });
        conn.seq = { in: seq(p), out: seq(p + 12) };
        break;
      }
      case IPVS_OPT.PE_DATA:
        if (len > PE_DATA_MAXLEN) return "pe-data-length";
        if (conn.peData !== undefined) return "param-twice";
        conn.peData = data;
        break;
      case IPVS_OPT.PE_NAME:
        if (len > PE_NAME_MAXLEN) return "pe-data-length";
        if (conn.peName !== undefined) return "param-twice";
        conn.peName = new TextDecoder().decode(data);
        break;
      default:
        // The kernel drops the entry, not the message, for a mandatory type it does not know.
        if ((type & IPVS_OPT_F_PARAM) === 0) fault ??= "mandatory-param";
        else conn.params.push({ type, data });
    }
    p += len;
  }
  if (fault === undefined && (conn.flags & ConnFlag.TEMPLATE) === 0) {
    const states = NUM_STATES[conn.protocol];
    if (states === undefined) fault = "protocol";
    else if (conn.state >= states) fault = "state";
  }
  if (fault === undefined && conn.peData !== undefined && conn.peName === undefined) {
    fault = "pe-without-name";
  }
  return { conn, fault };
}
