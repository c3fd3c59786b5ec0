/**
 * TOA insertion (seed 4.3, DESIGN section 4): the client's address and port travel to the real
 * server in TCP option 254, placed right after the fixed 20-byte header, so applications (via
 * the `toa` kernel module or the TCP_SAVED_SYN shim in rs/) see who the client is.
 *
 * Making room moves the options and payload up by 8 bytes. An even shift keeps every moved
 * byte in the same position within its 16-bit word, so their contribution to the checksum is
 * unchanged and the TCP checksum is updated incrementally: the new option's words, the data
 * offset and the pseudo-header length.
 *
 * @module
 */
import { get16, set16, set32 } from "../wire/bytes.ts";
import { adjust, sumWords } from "../wire/checksum.ts";
import { IPV6, writeAddr6 } from "../wire/ipv6.ts";
import { IPV4 } from "../wire/ipv4.ts";
import { TCP, tcpHeaderLength } from "../wire/tcp.ts";
import { TCPOPT, TCPOPT_LENGTH } from "../wire/tcp_options.ts";

/** Outcome of {@linkcode insertToaV4}; positive values are the new total length. */
export const ToaSkip = {
  /** The options leave no room for the TOA (the limit is 40 bytes of options). */
  NoOptionSpace: -1,
  /** The grown packet would exceed the MTU (or the buffer). */
  TooBig: -2,
} as const;

/** Largest TCP header: data offset 15 words. */
const MAX_TCP_HEADER = 60;

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
 * Makes room for a TOA of `len` bytes and writes its kind, length and port (the address is
 * the caller's, by family). Returns 0, or the {@linkcode ToaSkip} that forbids it.
 */
function openToa(
  b: Uint8Array,
  o: number,
  t: number,
  total: number,
  limit: number,
  len: number,
  cport: number,
): number {
  if (tcpHeaderLength(b, t) + len > MAX_TCP_HEADER) return ToaSkip.NoOptionSpace;
  if (total + len > limit) return ToaSkip.TooBig;
  openOptionSpace(b, t, o + total, len);
  const p = t + TCP.MIN_HEADER;
  b[p] = TCPOPT.TOA;
  b[p + 1] = len;
  set16(b, p + 2, cport);
  return 0;
}

/** Adds the words of the option just written at `b[t+20, t+20+len)` to the TCP checksum. */
function sumInOption(b: Uint8Array, t: number, len: number): void {
  const c = t + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), 0, sumWords(b, t + TCP.MIN_HEADER, len)));
}

/**
 * Inserts an IPv4 TOA carrying `caddr:cport` into the TCP segment of the IPv4 packet at `o`
 * (TCP header at `t`, total length `total`), which may grow up to `limit` bytes. Updates the
 * IP total length and both checksums. Returns the new total length or a {@linkcode ToaSkip}.
 */
export function insertToaV4(
  b: Uint8Array,
  o: number,
  t: number,
  total: number,
  limit: number,
  caddr: number,
  cport: number,
): number {
  const len = TCPOPT_LENGTH.TOA_V4;
  const skip = openToa(b, o, t, total, limit, len, cport);
  if (skip !== 0) return skip;
  set32(b, t + TCP.MIN_HEADER + 4, caddr);
  sumInOption(b, t, len);
  const ic = o + IPV4.CHECKSUM;
  set16(b, o + IPV4.TOTAL_LENGTH, total + len);
  set16(b, ic, adjust(get16(b, ic), total, total + len));
  return total + len;
}

/**
 * Inserts an IPv6 TOA (length 20: port, then the 16-byte client address `a[ao, ao+4)`) into
 * the TCP segment at `t` of the IPv6 packet at `o` (total length `total`, at most `limit`).
 * Updates the payload length and the TCP checksum. Returns the new total or a
 * {@linkcode ToaSkip}.
 */
export function insertToaV6(
  b: Uint8Array,
  o: number,
  t: number,
  total: number,
  limit: number,
  a: Uint32Array,
  ao: number,
  cport: number,
): number {
  const len = TCPOPT_LENGTH.TOA_V6;
  const skip = openToa(b, o, t, total, limit, len, cport);
  if (skip !== 0) return skip;
  writeAddr6(b, t + TCP.MIN_HEADER + 4, a, ao);
  sumInOption(b, t, len);
  set16(b, o + IPV6.PAYLOAD_LENGTH, total + len - IPV6.HEADER);
  return total + len;
}
