/**
 * Builds a bare 40-byte IPv4 TCP reset (no options, no payload) with correct checksums. Used to
 * answer refused connection attempts and to reset both ends of an ESTABLISHED session that
 * expires (seed 4.8).
 *
 * @module
 */
import { finish, pseudoSumV4, sumWords } from "../wire/checksum.ts";
import { set16, set32 } from "../wire/bytes.ts";
import { IPPROTO, IPV4, ipv4FillChecksum } from "../wire/ipv4.ts";
import { TCP } from "../wire/tcp.ts";
import { IPV6, pseudoSumV6, writeAddr6 } from "../wire/ipv6.ts";

/** Length of the packet {@linkcode writeReset} writes. */
export const RESET_LENGTH = 40;

/** Writes a 20-byte TCP header with no options and window 0 at `r`, checksummed over `pseudo`. */
function writeBareTcp(
  b: Uint8Array,
  r: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  pseudo: number,
): void {
  set16(b, r + TCP.SPORT, sport);
  set16(b, r + TCP.DPORT, dport);
  set32(b, r + TCP.SEQ, seq >>> 0);
  set32(b, r + TCP.ACK, ack >>> 0);
  b[r + TCP.DATA_OFFSET] = 5 << 4;
  b[r + TCP.FLAGS] = flags;
  set16(b, r + TCP.WINDOW, 0);
  set16(b, r + TCP.CHECKSUM, 0);
  set16(b, r + TCP.URGENT, 0);
  set16(b, r + TCP.CHECKSUM, finish(sumWords(b, r, TCP.MIN_HEADER, pseudo)));
}

/** Writes the reset `src:sport -> dst:dport` with `seq`, `ack` and `flags` at `b[o]`. */
export function writeReset(
  b: Uint8Array,
  o: number,
  src: number,
  sport: number,
  dst: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
): number {
  b[o + IPV4.VER_IHL] = 0x45;
  b[o + IPV4.TOS] = 0;
  set16(b, o + IPV4.TOTAL_LENGTH, RESET_LENGTH);
  set16(b, o + IPV4.ID, 0);
  set16(b, o + IPV4.FLAGS_FRAG, 0x4000);
  b[o + IPV4.TTL] = 64;
  b[o + IPV4.PROTOCOL] = IPPROTO.TCP;
  set32(b, o + IPV4.SRC, src);
  set32(b, o + IPV4.DST, dst);
  ipv4FillChecksum(b, o);

  const pseudo = pseudoSumV4(src, dst, IPPROTO.TCP, TCP.MIN_HEADER);
  writeBareTcp(b, o + IPV4.MIN_HEADER, sport, dport, seq, ack, flags, pseudo);
  return RESET_LENGTH;
}

/** Length of the packet {@linkcode writeReset6} writes. */
export const RESET6_LENGTH = 60;

/**
 * {@linkcode writeReset} for IPv6: the reset `a[so]:sport -> a[do_]:dport` (addresses as four
 * words of `a`) at `b[o]`. Returns its length.
 */
export function writeReset6(
  b: Uint8Array,
  o: number,
  a: Uint32Array,
  so: number,
  sport: number,
  do_: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
): number {
  set32(b, o, 0x60000000);
  set16(b, o + IPV6.PAYLOAD_LENGTH, TCP.MIN_HEADER);
  b[o + IPV6.NEXT_HEADER] = IPPROTO.TCP;
  b[o + IPV6.HOP_LIMIT] = 64;
  writeAddr6(b, o + IPV6.SRC, a, so);
  writeAddr6(b, o + IPV6.DST, a, do_);
  const pseudo = pseudoSumV6(b, o, IPPROTO.TCP, TCP.MIN_HEADER);
  writeBareTcp(b, o + IPV6.HEADER, sport, dport, seq, ack, flags, pseudo);
  return RESET6_LENGTH;
}
