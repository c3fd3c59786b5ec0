/**
 * Sequence translation (seed 4.6): the real server sees the balancer's ISN instead of the
 * client's. With delta = our ISN - client ISN, client->RS segments carry `seq + delta`, and
 * RS->client segments carry `ack - delta` with both edges of every SACK block shifted back
 * too. The real server's own sequence numbers are never changed.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { adjust, sum32, sumSpan } from "../wire/checksum.ts";
import { TCP, TCP_FLAG } from "../wire/tcp.ts";
import { NO_OPTION, TCPOPT, tcpOptionFind } from "../wire/tcp_options.ts";

/** Adds `delta` to the sequence number of the segment at `t`, fixing the checksum. */
export function shiftSeq(b: Uint8Array, t: number, delta: number): void {
  const p = t + TCP.SEQ;
  const old = get32(b, p);
  const now = (old + delta) >>> 0;
  set32(b, p, now);
  const c = t + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), sum32(old), sum32(now)));
}

/**
 * Subtracts `delta` from the acknowledgment number (when ACK is set) and from every SACK
 * block edge of the segment at `t`, fixing the checksum. Returns the number of SACK blocks
 * translated.
 */
export function unshiftAck(b: Uint8Array, t: number, delta: number): number {
  const c = t + TCP.CHECKSUM;
  if (b[t + TCP.FLAGS] & TCP_FLAG.ACK) {
    const p = t + TCP.ACK;
    const old = get32(b, p);
    const now = (old - delta) >>> 0;
    set32(b, p, now);
    set16(b, c, adjust(get16(b, c), sum32(old), sum32(now)));
  }
  let blocks = 0;
  let off = tcpOptionFind(b, t, TCPOPT.SACK);
  while (off !== NO_OPTION) {
    const len = b[off + 1];
    const first = off + 2;
    const end = first + (((len - 2) >>> 3) << 3);
    if (end > first) {
      const before = sumSpan(b, t, first, end);
      for (let e = first; e < end; e += 4) set32(b, e, (get32(b, e) - delta) >>> 0);
      set16(b, c, adjust(get16(b, c), before, sumSpan(b, t, first, end)));
      blocks += (end - first) >>> 3;
    }
    off = tcpOptionFind(b, t, TCPOPT.SACK, off + len);
  }
  return blocks;
}
