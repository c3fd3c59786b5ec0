/**
 * SYN cookies for the SYN proxy (issue 16.1), encoded as Linux encodes them
 * (`net/ipv4/syncookies.c`, `net/core/secure_seq.c`), so a balancer's cookie carries what a
 * Linux host's would and nothing else: the balancer keeps no state for a SYN it answers.
 *
 * The cookie (the SYN-ACK's sequence number) is
 *
 *     H0(tuple) + client ISN + (minute << 24) + ((H1(tuple, minute) + mss index) & 0xffffff)
 *
 * with H0, H1 two keyed hashes (HalfSipHash, `isn.ts`, under the two halves of a 128-bit
 * secret) over the client's and the VIP's address, the two ports and, for H1, the minute
 * counter. A cookie is good for {@linkcode COOKIE_MAX_AGE} minutes (Linux's
 * `MAX_SYNCOOKIE_AGE`): the minute in its top byte rotates the secret H1 is taken under, so an
 * old cookie, or one made under another secret, decodes to garbage and is refused. The MSS is
 * one of Linux's four table values ({@linkcode COOKIE_MSS}).
 *
 * When the client sent timestamps, the SYN-ACK's TSval carries the rest in its low 6 bits
 * (`cookie_init_timestamp`): the client's window scale (15 = none), SACK permitted, ECN; the
 * client echoes it in the TSecr of its ACK (`cookie_timestamp_decode`). Without timestamps
 * the connection goes without window scaling and SACK, as on Linux.
 *
 * Addresses are read from the packet (`words` 32-bit words each: 1 for IPv4, 4 for IPv6), and
 * every value crosses calls as a signed 32-bit integer, so nothing is allocated per SYN.
 *
 * @module
 */
import { get32 } from "../wire/bytes.ts";
import { hashAbsorb, hashFinish, hashStart } from "./isn.ts";

/** The MSS values a cookie can carry (Linux's `msstab`), by index. */
export const COOKIE_MSS: readonly number[] = [536, 1300, 1440, 1460];
/** Bits of the cookie below the minute counter. */
export const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Minutes a cookie stays good (Linux's `MAX_SYNCOOKIE_AGE`). */
export const COOKIE_MAX_AGE = 2;
/** Length of the cookie clock's tick (Linux's `tcp_cookie_time()`: a minute). */
export const COOKIE_TICK_MS = 60_000;
/** {@linkcode checkCookie}'s answer for a cookie that is not good. */
export const BAD_COOKIE = -1;

/** Low bits of a cookie TSval that carry options (Linux's `TSBITS`). */
export const TS_BITS = 6;
/** The window-scale field of the TSval's option bits; all ones = the client sent none. */
export const TS_OPT_WSCALE_MASK = 0xf;
/** The client sent SACK permitted. */
export const TS_OPT_SACK = 1 << 4;
/** The client asked for ECN. */
export const TS_OPT_ECN = 1 << 5;

/** Index of the largest {@linkcode COOKIE_MSS} value not above the client's `mss`. */
export function cookieMssIndex(mss: number): number {
  let i = COOKIE_MSS.length - 1;
  while (i > 0 && mss < COOKIE_MSS[i]) i--;
  return i;
}

/**
 * Keyed hash `which` (0 or 1, the secret's words `2*which`, `2*which+1`) of the tuple: the
 * addresses at `b[src]` and `b[dst]` (`words` words each), the ports word and `count`.
 */
function tupleHash(
  key: Uint32Array,
  which: number,
  b: Uint8Array,
  src: number,
  dst: number,
  words: number,
  ports: number,
  count: number,
): number {
  hashStart(key[which * 2], key[which * 2 + 1]);
  for (let i = 0; i < words; i++) hashAbsorb(get32(b, src + i * 4) | 0);
  for (let i = 0; i < words; i++) hashAbsorb(get32(b, dst + i * 4) | 0);
  hashAbsorb(ports | 0);
  hashAbsorb(count | 0);
  return hashFinish(words * 8 + 8);
}

/**
 * The cookie (the SYN-ACK's sequence number, signed 32-bit) for a SYN from the address at
 * `b[src]` to the one at `b[dst]` (`words` words each) with `ports` = (client port << 16) |
 * virtual port, the client's ISN `clientIsn`, at minute `count`, carrying MSS index
 * `mssIndex` ({@linkcode cookieMssIndex}). `key` is the 128-bit secret (four words).
 */
export function makeCookie(
  key: Uint32Array,
  b: Uint8Array,
  src: number,
  dst: number,
  words: number,
  ports: number,
  clientIsn: number,
  count: number,
  mssIndex: number,
): number {
  const h0 = tupleHash(key, 0, b, src, dst, words, ports, 0);
  const h1 = tupleHash(key, 1, b, src, dst, words, ports, count);
  return (h0 + clientIsn + ((count & 0xff) << COOKIE_BITS) + ((h1 + mssIndex) & COOKIE_MASK)) |
    0;
}

/**
 * The MSS index a cookie carries, or {@linkcode BAD_COOKIE}: `cookie` is the client ACK's
 * acknowledgment number minus one, `clientIsn` its sequence number minus one, `count` the
 * minute now; the tuple as in {@linkcode makeCookie}.
 */
export function checkCookie(
  key: Uint32Array,
  b: Uint8Array,
  src: number,
  dst: number,
  words: number,
  ports: number,
  clientIsn: number,
  cookie: number,
  count: number,
): number {
  const rest = (cookie - tupleHash(key, 0, b, src, dst, words, ports, 0) - clientIsn) | 0;
  const diff = (count - (rest >>> COOKIE_BITS)) & 0xff;
  if (diff >= COOKIE_MAX_AGE) return BAD_COOKIE;
  const data = (rest - tupleHash(key, 1, b, src, dst, words, ports, count - diff)) & COOKIE_MASK;
  return data < COOKIE_MSS.length ? data : BAD_COOKIE;
}

/**
 * The SYN-ACK's TSval (signed 32-bit) at timestamp clock `nowTs` carrying the client's
 * options (`cookie_init_timestamp`): its window scale (`wscale`, -1 when it sent none), SACK
 * permitted, ECN. Never ahead of the clock, so the client's PAWS sees time move forward.
 */
export function cookieTsval(nowTs: number, wscale: number, sack: boolean, ecn: boolean): number {
  // RFC 7323 caps the shift at 14; 15 would read as "none".
  let options = wscale >= 0 ? Math.min(wscale, 14) : TS_OPT_WSCALE_MASK;
  if (sack) options |= TS_OPT_SACK;
  if (ecn) options |= TS_OPT_ECN;
  const now = nowTs | 0;
  let ts = ((now >>> TS_BITS) << TS_BITS) | options;
  if ((ts >>> 0) > (now >>> 0)) ts = (ts - (1 << TS_BITS)) | 0;
  return ts | 0;
}

/** The client's window scale from the TSecr of its cookie ACK, or -1 when it sent none. */
export function tsecrWscale(tsecr: number): number {
  const w = tsecr & TS_OPT_WSCALE_MASK;
  return w === TS_OPT_WSCALE_MASK ? -1 : w;
}

/** True when the TSecr of a cookie ACK says the client sent SACK permitted. */
export function tsecrSack(tsecr: number): boolean {
  return (tsecr & TS_OPT_SACK) !== 0;
}
