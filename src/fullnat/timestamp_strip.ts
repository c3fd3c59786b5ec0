/**
 * Timestamp removal (seed 4.4.1): the timestamp option of a client SYN is overwritten with
 * NOPs (length unchanged), because real servers with `tcp_tw_recycle` reject clients behind
 * NAT whose timestamps go backwards, and shared local addresses make that worse.
 *
 * @module
 */
import { NO_OPTION, TCPOPT, TCPOPT_LENGTH, tcpOptionFind } from "../wire/tcp_options.ts";
import { blankOption } from "./tcp_option_edit.ts";

/** Blanks the timestamp option of the segment at `t`. Returns true if there was one. */
export function stripTimestamp(b: Uint8Array, t: number): boolean {
  const off = tcpOptionFind(b, t, TCPOPT.TIMESTAMP);
  if (off === NO_OPTION || b[off + 1] !== TCPOPT_LENGTH.TIMESTAMP) return false;
  blankOption(b, t, off, TCPOPT_LENGTH.TIMESTAMP);
  return true;
}
