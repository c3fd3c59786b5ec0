/**
 * fullnat's own parameter of a sync entry: what a backup needs beyond the IPVS entry to carry
 * a FULLNAT session on without breaking it, namely the local address and port the real server
 * sees, the sequence delta and client ISN (docs/design.md 4.6), the TOA state and the real
 * server's last ack and sequence end (for the RST on expiry, 4.8), the session's bits and the
 * exact time it has left.
 *
 * Its type, 0x46, has the kernel's "optional" bit (0x40, `IPVS_OPT_F_PARAM`) and low bits 6,
 * which no kernel parameter uses (the kernel reads `type & ~0x40` and knows 1-3), so a
 * mainline backup skips it and still installs the connection from the entry alone.
 *
 * Layout (network order), 28 bytes and the local address (none, 4 or 16 bytes):
 *
 * ```
 * 0 version (1) | 1 method | 2 session bits | 3 address words (0, 1, 4)
 * 4 local port (16 bits) | 6 zero (16 bits)
 * 8 sequence delta | 12 client ISN | 16 RS last ack | 20 RS sequence end | 24 time left, ms
 * 28 local address
 * ```
 *
 * Version 2, sent only for a SYN proxy session (`syn_proxy.ts`), puts 12 more bytes before the
 * local address: 28 proxy sequence delta | 32 proxy timestamp delta | 36 server's window scale
 * + 1 | 37 zero (3 bytes). A version-1 reader refuses such an entry by its version (and the
 * connection, which it could not carry on, is not installed there).
 *
 * @module
 */
import { IPVS_OPT_F_PARAM } from "./wire.ts";

/** The parameter type: 0x40 (optional) | 6. */
export const FULLNAT_PARAM_TYPE = IPVS_OPT_F_PARAM | 0x06;
/** Version of the layout. */
export const FULLNAT_PARAM_VERSION = 1;
/** Version of the layout with the SYN proxy's fields. */
export const FULLNAT_PARAM_VERSION_PROXY = 2;
/** Bytes before the local address. */
const FIXED = 28;
/** Bytes before the local address in version 2. */
const FIXED_PROXY = 40;

/** The SYN proxy's translation of a session (`SessionTable.proxySeq`, ...). */
export interface ProxyState {
  seq: number;
  ts: number;
  wscale: number;
}

/** What a session carries beyond the IPVS entry. */
export interface FullnatState {
  /** The engine's forwarding method code (`SessionTable.method`). */
  method: number;
  /** The session's bits (`SessionFlag`: TOA done, real server seen, one-packet). */
  sessionFlags: number;
  /** The local address as words (empty when the session has none: NAT, DR, TUNNEL). */
  laddr: readonly number[];
  lport: number;
  seqDelta: number;
  clientIsn: number;
  rsAck: number;
  rsSeqEnd: number;
  /** Milliseconds the session has left on the sender. */
  timeLeftMs: number;
  /** A SYN proxy session's translation (version 2). */
  proxy?: ProxyState;
}

/** The parameter's data for `s`. */
export function encodeFullnat(s: FullnatState): Uint8Array {
  const words = s.laddr.length;
  const fixed = s.proxy === undefined ? FIXED : FIXED_PROXY;
  const out = new Uint8Array(fixed + words * 4);
  const v = new DataView(out.buffer);
  out[0] = s.proxy === undefined ? FULLNAT_PARAM_VERSION : FULLNAT_PARAM_VERSION_PROXY;
  out[1] = s.method;
  out[2] = s.sessionFlags;
  out[3] = words;
  v.setUint16(4, s.lport);
  v.setUint32(8, s.seqDelta >>> 0);
  v.setUint32(12, s.clientIsn >>> 0);
  v.setUint32(16, s.rsAck >>> 0);
  v.setUint32(20, s.rsSeqEnd >>> 0);
  v.setUint32(24, Math.max(0, Math.min(0xffffffff, Math.round(s.timeLeftMs))));
  if (s.proxy !== undefined) {
    v.setUint32(28, s.proxy.seq >>> 0);
    v.setUint32(32, s.proxy.ts >>> 0);
    out[36] = s.proxy.wscale;
  }
  for (let w = 0; w < words; w++) v.setUint32(fixed + w * 4, s.laddr[w] >>> 0);
  return out;
}

/** Reads the parameter's data; a string says what is wrong with it. */
export function decodeFullnat(data: Uint8Array): FullnatState | string {
  if (data.length < FIXED) return `fullnat parameter of ${data.length} bytes`;
  const proxied = data[0] === FULLNAT_PARAM_VERSION_PROXY;
  if (data[0] !== FULLNAT_PARAM_VERSION && !proxied) return `fullnat parameter version ${data[0]}`;
  const fixed = proxied ? FIXED_PROXY : FIXED;
  const words = data[3];
  if ((words !== 0 && words !== 1 && words !== 4) || data.length !== fixed + words * 4) {
    return `fullnat parameter of ${data.length} bytes with ${words} address words`;
  }
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (v.getUint16(6) !== 0) return "fullnat parameter reserved bits set";
  if (proxied && (data[37] | data[38] | data[39]) !== 0) {
    return "fullnat parameter reserved bits set";
  }
  const laddr: number[] = [];
  for (let w = 0; w < words; w++) laddr.push(v.getUint32(fixed + w * 4));
  return {
    method: data[1],
    sessionFlags: data[2],
    laddr,
    lport: v.getUint16(4),
    seqDelta: v.getUint32(8),
    clientIsn: v.getUint32(12),
    rsAck: v.getUint32(16),
    rsSeqEnd: v.getUint32(20),
    timeLeftMs: v.getUint32(24),
    ...(proxied && {
      proxy: { seq: v.getUint32(28), ts: v.getUint32(32), wscale: data[36] },
    }),
  };
}
