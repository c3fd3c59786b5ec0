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
 * @module
 */
import { IPVS_OPT_F_PARAM } from "./wire.ts";

/** The parameter type: 0x40 (optional) | 6. */
export const FULLNAT_PARAM_TYPE = IPVS_OPT_F_PARAM | 0x06;
/** Version of the layout. */
export const FULLNAT_PARAM_VERSION = 1;
/** Bytes before the local address. */
const FIXED = 28;

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
}

/** The parameter's data for `s`. */
export function encodeFullnat(s: FullnatState): Uint8Array {
  const words = s.laddr.length;
  const out = new Uint8Array(FIXED + words * 4);
  const v = new DataView(out.buffer);
  out[0] = FULLNAT_PARAM_VERSION;
  out[1] = s.method;
  out[2] = s.sessionFlags;
  out[3] = words;
  v.setUint16(4, s.lport);
  v.setUint32(8, s.seqDelta >>> 0);
  v.setUint32(12, s.clientIsn >>> 0);
  v.setUint32(16, s.rsAck >>> 0);
  v.setUint32(20, s.rsSeqEnd >>> 0);
  v.setUint32(24, Math.max(0, Math.min(0xffffffff, Math.round(s.timeLeftMs))));
  for (let w = 0; w < words; w++) v.setUint32(FIXED + w * 4, s.laddr[w] >>> 0);
  return out;
}

/** Reads the parameter's data; a string says what is wrong with it. */
export function decodeFullnat(data: Uint8Array): FullnatState | string {
  if (data.length < FIXED) return `fullnat parameter of ${data.length} bytes`;
  if (data[0] !== FULLNAT_PARAM_VERSION) return `fullnat parameter version ${data[0]}`;
  const words = data[3];
  if ((words !== 0 && words !== 1 && words !== 4) || data.length !== FIXED + words * 4) {
    return `fullnat parameter of ${data.length} bytes with ${words} address words`;
  }
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (v.getUint16(6) !== 0) return "fullnat parameter reserved bits set";
  const laddr: number[] = [];
  for (let w = 0; w < words; w++) laddr.push(v.getUint32(FIXED + w * 4));
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
  };
}
