/**
 * In-place edits of TCP options that keep the segment's length: blanking an option with NOPs
 * (the timestamp of a client SYN, a client-supplied TOA) and lowering the MSS of a SYN-ACK.
 * Each edit updates the TCP checksum incrementally over exactly the words it touched, whatever
 * the option's alignment.
 *
 * @module
 */
import { get16, set16 } from "../wire/bytes.ts";
import { adjust, sumSpan } from "../wire/checksum.ts";
import { TCP } from "../wire/tcp.ts";
import { NO_OPTION, TCPOPT, TCPOPT_LENGTH, tcpOptionFind } from "../wire/tcp_options.ts";

/** Overwrites `len` option bytes at `off` in the TCP header at `t` with NOPs. */
export function blankOption(b: Uint8Array, t: number, off: number, len: number): void {
  const before = sumSpan(b, t, off, off + len);
  b.fill(TCPOPT.NOP, off, off + len);
  const c = t + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), before, sumSpan(b, t, off, off + len)));
}

/** Blanks the timestamp option of the segment at `t`. Returns true if there was one. */
export function stripTimestamp(b: Uint8Array, t: number): boolean {
  const off = tcpOptionFind(b, t, TCPOPT.TIMESTAMP);
  if (off === NO_OPTION || b[off + 1] !== TCPOPT_LENGTH.TIMESTAMP) return false;
  blankOption(b, t, off, TCPOPT_LENGTH.TIMESTAMP);
  return true;
}

/**
 * Blanks every TOA option of the segment at `t`: one sent by a client would let it claim any
 * address to a real server that trusts TOA. Returns how many were removed.
 */
export function stripToa(b: Uint8Array, t: number): number {
  let n = 0;
  let off = tcpOptionFind(b, t, TCPOPT.TOA);
  while (off !== NO_OPTION) {
    const len = b[off + 1];
    blankOption(b, t, off, len);
    n++;
    off = tcpOptionFind(b, t, TCPOPT.TOA, off + len);
  }
  return n;
}

/** Smallest MSS the clamp leaves (RFC 9293 requires hosts to accept 536 for IPv4). */
export const MIN_CLAMPED_MSS = 536;

/**
 * Lowers the MSS option of the segment at `t` by `by` bytes, not below
 * {@linkcode MIN_CLAMPED_MSS}. Returns true if the value changed.
 */
export function clampMss(b: Uint8Array, t: number, by: number): boolean {
  const off = tcpOptionFind(b, t, TCPOPT.MSS);
  if (off === NO_OPTION || b[off + 1] !== TCPOPT_LENGTH.MSS) return false;
  const mss = get16(b, off + 2);
  const lowered = Math.max(MIN_CLAMPED_MSS, mss - by);
  if (lowered >= mss) return false;
  const before = sumSpan(b, t, off + 2, off + 4);
  set16(b, off + 2, lowered);
  const c = t + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), before, sumSpan(b, t, off + 2, off + 4)));
  return true;
}
