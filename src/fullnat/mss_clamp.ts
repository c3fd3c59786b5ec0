/**
 * MSS clamp (seed 4.4.2): the MSS of a real server's SYN-ACK is lowered by the TOA length (8
 * for IPv4, 20 for IPv6), so the client's segments still fit the MTU once TOA is inserted.
 *
 * @module
 */
import { get16, set16 } from "../wire/bytes.ts";
import { adjust, sumSpan } from "../wire/checksum.ts";
import { TCP } from "../wire/tcp.ts";
import { NO_OPTION, TCPOPT, TCPOPT_LENGTH, tcpOptionFind } from "../wire/tcp_options.ts";

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
