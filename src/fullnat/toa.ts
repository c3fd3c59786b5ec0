/**
 * TOA insertion (seed 4.3; README "TCP fidelity"; Alibaba LVS `net/toa/toa.c`): the client's address and port travel to the real
 * server in TCP option 254, placed right after the fixed 20-byte header, so applications (via
 * the `toa` kernel module or the TCP_SAVED_SYN shim in rs/) see who the client is. IPv4 TOA is
 * 8 bytes (port, 4-byte address), IPv6 TOA 20 (port, 16-byte address).
 *
 * Making room moves the options and payload up by 8 or 20 bytes. An even shift keeps every
 * moved byte in the same position within its 16-bit word, so their contribution to the
 * checksum is unchanged and the TCP checksum is updated incrementally: the new option's words,
 * the data offset and the pseudo-header length.
 *
 * @module
 */
import { get16, set16 } from "../wire/bytes.ts";
import { adjust, sumWords } from "../wire/checksum.ts";
import { TCP, tcpHeaderLength } from "../wire/tcp.ts";
import { NO_OPTION, TCPOPT, tcpOptionFind } from "../wire/tcp_options.ts";
import { blankOption } from "./tcp_option_edit.ts";
import { type AddressFamily, Slot } from "./family.ts";
import type { SessionTable } from "./session_table.ts";

/** Outcome of {@linkcode insertToa}; positive values are the new total length. */
export const ToaSkip = {
  /** The options leave no room for the TOA (the limit is 40 bytes of options). */
  NoOptionSpace: -1,
  /** The grown packet would exceed the MTU (or the buffer). */
  TooBig: -2,
} as const;

/** Largest TCP header: data offset 15 words. */
export const MAX_TCP_HEADER = 60;

/**
 * Opens `len` zero-valued bytes right after the fixed TCP header of the segment at `t`
 * (ending at `end`), fixing the data offset and the TCP checksum for the longer header and
 * pseudo-header length. The caller writes the option and adds its words to the checksum.
 */
function openOptionSpace(b: Uint8Array, t: number, end: number, len: number): void {
  const hl = tcpHeaderLength(b, t);
  b.copyWithin(t + TCP.MIN_HEADER + len, t + TCP.MIN_HEADER, end);
  b.fill(0, t + TCP.MIN_HEADER, t + TCP.MIN_HEADER + len);
  const offWord = get16(b, t + TCP.DATA_OFFSET);
  const newOffWord = (offWord & 0x0fff) | (((hl + len) >>> 2) << 12);
  set16(b, t + TCP.DATA_OFFSET, newOffWord);
  const l4Length = end - t;
  const c = t + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), offWord + l4Length, newOffWord + l4Length + len));
}

/**
 * Inserts the TOA of session `id` (its client's address and port) into the TCP segment at
 * `l4` of the packet at `o` (total length `total`), which may grow up to `limit` bytes.
 * Updates the IP length fields and every checksum. Returns the new total length or a
 * {@linkcode ToaSkip}.
 */
export function insertToa(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  l4: number,
  total: number,
  limit: number,
  t: SessionTable,
  id: number,
): number {
  const len = fam.toaLength;
  if (tcpHeaderLength(b, l4) + len > MAX_TCP_HEADER) return ToaSkip.NoOptionSpace;
  if (total + len > limit) return ToaSkip.TooBig;
  openOptionSpace(b, l4, o + total, len);
  const p = l4 + TCP.MIN_HEADER;
  b[p] = TCPOPT.TOA;
  b[p + 1] = len;
  set16(b, p + 2, t.cport[id]);
  fam.writeAddr(b, p + 4, t, id, Slot.C);
  const c = l4 + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), 0, sumWords(b, p, len)));
  fam.setLength(b, o, total, total + len);
  return total + len;
}

/**
 * Blanks every TOA option of the segment at `t`: one sent by a client would let it claim any
 * address to a real server that trusts TOA (README "TCP fidelity"). Returns how many were removed.
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
