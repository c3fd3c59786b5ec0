/**
 * The one in-place edit every option removal shares: blanking an option with NOPs keeps the
 * segment's length, and the TCP checksum is updated incrementally over exactly the words it
 * touched, whatever the option's alignment. Used by the timestamp strip (seed 4.4.1,
 * `timestamp_strip.ts`) and the removal of a client's own TOA (`toa.ts`).
 *
 * @module
 */
import { get16, set16 } from "../wire/bytes.ts";
import { adjust, sumSpan } from "../wire/checksum.ts";
import { TCP } from "../wire/tcp.ts";
import { TCPOPT } from "../wire/tcp_options.ts";

/** Overwrites `len` option bytes at `off` in the TCP header at `t` with NOPs. */
export function blankOption(b: Uint8Array, t: number, off: number, len: number): void {
  const before = sumSpan(b, t, off, off + len);
  b.fill(TCPOPT.NOP, off, off + len);
  const c = t + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), before, sumSpan(b, t, off, off + len)));
}
