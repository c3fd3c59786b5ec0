/**
 * TCP options (RFC 9293 3.1): kinds the engine reads or edits and a walker that finds one in a
 * header. Callers have checked the header with `tcpProblem`, so the option area lies inside the
 * packet; a malformed option list simply ends the walk.
 *
 * @module
 */
import { TCP, tcpHeaderLength } from "./tcp.ts";

/** Option kinds. */
export const TCPOPT = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMP: 8,
  /** TCP Option Address: the client's address and port (Alibaba LVS, DPVS). */
  TOA: 254,
} as const;

/** Lengths of the fixed-size options the engine edits. */
export const TCPOPT_LENGTH = { MSS: 4, TIMESTAMP: 10, TOA_V4: 8, TOA_V6: 20 } as const;

/** Returned by {@linkcode tcpOptionFind} when there is no such option. */
export const NO_OPTION = -1;

/**
 * Offset of the first option of `kind` at or after `from` in the TCP header at `t`, or
 * {@linkcode NO_OPTION}. `from` defaults to the start of the option area; pass the end of the
 * previous match to find the next one.
 */
export function tcpOptionFind(
  b: Uint8Array,
  t: number,
  kind: number,
  from = t + TCP.MIN_HEADER,
): number {
  const end = t + tcpHeaderLength(b, t);
  let i = from;
  while (i < end) {
    const k = b[i];
    if (k === TCPOPT.EOL) break;
    if (k === TCPOPT.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) break;
    const len = b[i + 1];
    if (len < 2 || i + len > end) break;
    if (k === kind) return i;
    i += len;
  }
  return NO_OPTION;
}
