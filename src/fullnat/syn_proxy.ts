/**
 * The SYN proxy (issue 16.1; Alibaba LVS's and DPVS's `synproxy`, ipvsadm `-j enable`): the
 * balancer answers a client's SYN itself with a SYN cookie (`syn_cookie.ts`), keeps no state
 * for it, and opens the connection to the real server only once the client's ACK proves the
 * client real. A spoofed SYN flood therefore never reaches a real server and never takes a
 * local port or a session.
 *
 * Packet flow (C client, B balancer, R real server; FULLNAT addresses as usual):
 *
 * 1. C->B SYN (no session): checksum checked, then rewritten in place into the SYN-ACK
 *    B->C: seq = cookie, ack = client ISN + 1, options as Linux's `tcp_synack_options`: MSS
 *    (the MTU's, less the TOA when MSS clamping is on), and when the client sent timestamps,
 *    SACK permitted, a cookie TSval (its low 6 bits carry the client's window scale and SACK)
 *    and our window scale {@linkcode PROXY_WSCALE}. No timestamps: MSS only, as Linux.
 * 2. C->B ACK (no session): its ack - 1 must be a good cookie for its seq - 1; a bad one is
 *    dropped and counted (no reset: a reflector is what a flood wants). A good one is admitted
 *    like any new connection (checksum, ACL, per-source limits), scheduled, and a session
 *    opened; a copy of the ACK (and any data it carries) is held (`syn_proxy_hold.ts`), and
 *    the ACK itself is rewritten into the SYN to R: seq = client ISN, the client's options as
 *    the cookie and its TSecr carry them (MSS from the cookie table, window scale, SACK
 *    permitted, timestamps with the client's TSval), then forwarded as a client SYN (FULLNAT:
 *    sequence mapping, timestamp strip per service, TOA). The session is marked
 *    `PROXY_WAIT`; `proxySeq` keeps the cookie and `proxyTs` the cookie TSval meanwhile.
 * 3. Client packets while waiting are held too (dropped and counted when the hold is full;
 *    the client retransmits).
 * 4. R->B SYN-ACK acking our ISN + 1: the deltas are learnt (`proxySeq` = R's ISN - cookie,
 *    `proxyTs` = R's TSval - cookie TSval, R's window scale), nothing goes to the client, and
 *    the held packets run through the engine again in order: the held ACK becomes the third
 *    ACK to R, held data follows. With nothing held, a bare ACK is sent to R instead. An R
 *    RST turns into a RST to the client (at the cookie + 1) and the session ends.
 * 5. Then both directions are translated on top of FULLNAT's: client->R ack and SACK edges
 *    `+ proxySeq`, TSecr `+ proxyTs`; R->client seq `- proxySeq`, TSval `- proxyTs`, window
 *    rescaled from R's window scale to ours. ICMP quotes and the client's RST on expiry use
 *    `proxySeq` too (`icmp_translate.ts`, `expiry.ts`).
 *
 * Only FULLNAT real servers are proxied: a connection scheduled to another mode is refused
 * and counted. Everything here runs on rare paths (one SYN, one ACK, one SYN-ACK per
 * connection) or as out-of-line calls for sessions flagged `SYN_PROXY`; nothing allocates.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { adjust, finish, sum32, sumWords } from "../wire/checksum.ts";
import { IPPROTO, IPV4 } from "../wire/ipv4.ts";
import { IPV6 } from "../wire/ipv6.ts";
import { TCP, TCP_FLAG, tcpHeaderLength } from "../wire/tcp.ts";
import { NO_OPTION, TCPOPT, tcpOptionFind } from "../wire/tcp_options.ts";
import type { AddressFamily } from "./family.ts";
import { shiftSeq, unshiftAck } from "./seq_translate.ts";
import type { Service } from "./service.ts";
import type { SessionTable } from "./session_table.ts";
import {
  checkCookie,
  COOKIE_MSS,
  cookieMssIndex,
  cookieTsval,
  makeCookie,
  tsecrSack,
  tsecrWscale,
} from "./syn_cookie.ts";
import { keyedHash3 } from "./isn.ts";

/** The window scale the balancer announces in its cookie SYN-ACKs (Linux's usual). */
export const PROXY_WSCALE = 7;
/** The window of the cookie SYN-ACK (unscaled, as in every SYN). */
export const PROXY_SYNACK_WINDOW = 65535;
/** The MSS Linux assumes when a SYN carries none (RFC 9293). */
const DEFAULT_MSS = 536;

/** The options of the segment last read by {@linkcode readOptions}; reused. */
const opt = { mss: 0, wscale: -1, sack: false, ts: false, tsval: 0, tsecr: 0 };

/** Reads MSS, window scale, SACK permitted and timestamps of the TCP header at `l4`. */
function readOptions(b: Uint8Array, l4: number): void {
  opt.mss = DEFAULT_MSS;
  opt.wscale = -1;
  opt.sack = false;
  opt.ts = false;
  opt.tsval = 0;
  opt.tsecr = 0;
  const end = l4 + tcpHeaderLength(b, l4);
  let i = l4 + TCP.MIN_HEADER;
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
    if (k === TCPOPT.MSS && len === 4) opt.mss = get16(b, i + 2);
    else if (k === TCPOPT.WINDOW_SCALE && len === 3) opt.wscale = Math.min(b[i + 2], 14);
    else if (k === TCPOPT.SACK_PERMITTED && len === 2) opt.sack = true;
    else if (k === TCPOPT.TIMESTAMP && len === 10) {
      opt.ts = true;
      opt.tsval = get32(b, i + 2) | 0;
      opt.tsecr = get32(b, i + 6) | 0;
    }
    i += len;
  }
}

/**
 * The cookie secret (four words) derived from the ISN secret, so it lives as long as that one
 * does (kept in the run directory across restarts) without a field of its own.
 */
export function cookieKey(isnSecret: Uint32Array): Uint32Array {
  const k = new Uint32Array(4);
  for (let i = 0; i < 4; i++) k[i] = keyedHash3(isnSecret[0], isnSecret[1], 0x53594e43, i, 0);
  return k;
}

/** Offset of the packet's source address and the address width in words, per family. */
function addrOffset(fam: AddressFamily, o: number): number {
  return o + (fam.name === "ipv6" ? 8 : 12);
}
function addrWords(fam: AddressFamily): number {
  return fam.name === "ipv6" ? 4 : 1;
}

/**
 * Writes the options of a SYN or SYN-ACK at `at`: MSS, then timestamps (with SACK permitted
 * ahead of them when `sack`) or SACK permitted alone, then window scale when `wscale` >= 0;
 * the order and padding of Linux's `tcp_options_write`. Returns their length.
 */
function writeOptions(
  b: Uint8Array,
  at: number,
  mss: number,
  sack: boolean,
  ts: boolean,
  tsval: number,
  tsecr: number,
  wscale: number,
): number {
  let i = at;
  b[i] = TCPOPT.MSS;
  b[i + 1] = 4;
  set16(b, i + 2, mss);
  i += 4;
  if (ts) {
    if (sack) {
      b[i] = TCPOPT.SACK_PERMITTED;
      b[i + 1] = 2;
    } else b[i] = b[i + 1] = TCPOPT.NOP;
    b[i + 2] = TCPOPT.TIMESTAMP;
    b[i + 3] = 10;
    set32(b, i + 4, tsval >>> 0);
    set32(b, i + 8, tsecr >>> 0);
    i += 12;
  } else if (sack) {
    b[i] = b[i + 1] = TCPOPT.NOP;
    b[i + 2] = TCPOPT.SACK_PERMITTED;
    b[i + 3] = 2;
    i += 4;
  }
  if (wscale >= 0) {
    b[i] = TCPOPT.NOP;
    b[i + 1] = TCPOPT.WINDOW_SCALE;
    b[i + 2] = 3;
    b[i + 3] = wscale;
    i += 4;
  }
  return i - at;
}

/** Writes a TCP header with the options of {@linkcode writeOptions} after the IP header. */
function writeSegment(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  mss: number,
  sack: boolean,
  ts: boolean,
  tsval: number,
  tsecr: number,
  wscale: number,
): number {
  const r = o + fam.headerLength;
  const optLength = writeOptions(b, r + TCP.MIN_HEADER, mss, sack, ts, tsval, tsecr, wscale);
  const tcpLength = TCP.MIN_HEADER + optLength;
  const pseudo = fam.writeHeader(b, o, IPPROTO.TCP, tcpLength);
  set16(b, r + TCP.SPORT, sport);
  set16(b, r + TCP.DPORT, dport);
  set32(b, r + TCP.SEQ, seq >>> 0);
  set32(b, r + TCP.ACK, ack >>> 0);
  b[r + TCP.DATA_OFFSET] = (tcpLength >>> 2) << 4;
  b[r + TCP.FLAGS] = flags;
  set16(b, r + TCP.WINDOW, window);
  set16(b, r + TCP.CHECKSUM, 0);
  set16(b, r + TCP.URGENT, 0);
  set16(b, r + TCP.CHECKSUM, finish(sumWords(b, r, tcpLength, pseudo)));
  return fam.headerLength + tcpLength;
}

/**
 * Rewrites the client SYN at `o` (transport at `l4`) to service `svc` into the cookie SYN-ACK
 * that answers it, from the VIP; `count` is the cookie clock's minute (`COOKIE_TICK_MS`), `tsNow` the engine's clock in whole milliseconds (signed 32-bit),
 * `mtu` its MTU. Returns the new length.
 */
export function answerSyn(
  fam: AddressFamily,
  svc: Service,
  key: Uint32Array,
  b: Uint8Array,
  o: number,
  l4: number,
  count: number,
  tsNow: number,
  mtu: number,
): number {
  readOptions(b, l4);
  const sport = get16(b, l4 + TCP.SPORT);
  const dport = get16(b, l4 + TCP.DPORT);
  const isn = get32(b, l4 + TCP.SEQ) | 0;
  const src = addrOffset(fam, o);
  const words = addrWords(fam);
  const cookie = makeCookie(
    key,
    b,
    src,
    src + words * 4,
    words,
    (sport << 16) | dport,
    isn,
    count,
    cookieMssIndex(opt.mss),
  );
  // Without timestamps the cookie cannot carry window scale or SACK: Linux then clears them.
  const ts = opt.ts;
  const sack = ts && opt.sack;
  const wscale = ts && opt.wscale >= 0 ? PROXY_WSCALE : -1;
  const tsval = ts ? cookieTsval(tsNow, opt.wscale, sack, false) : 0;
  const ourMss = mtu - fam.headerLength - TCP.MIN_HEADER -
    (svc.toa && svc.clampMss ? fam.toaLength : 0);
  fam.swapAddrs(b, o);
  return writeSegment(
    fam,
    b,
    o,
    dport,
    sport,
    cookie,
    (isn + 1) | 0,
    TCP_FLAG.SYN | TCP_FLAG.ACK,
    PROXY_SYNACK_WINDOW,
    ourMss,
    sack,
    ts,
    tsval,
    opt.tsval,
    wscale,
  );
}

/**
 * Fills in the TCP checksum of the segment `b[l4, end)` of the packet at `o` from scratch: a
 * held packet whose checksum the client's offload left pending (`NFQA_SKB_CSUMNOTREADY`)
 * leaves through the raw socket later, where nothing completes it.
 */
export function fillTcpChecksum(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  l4: number,
  end: number,
): void {
  const len = end - l4;
  set16(b, l4 + TCP.CHECKSUM, 0);
  set16(
    b,
    l4 + TCP.CHECKSUM,
    finish(sumWords(b, l4, len, fam.sumAddrs(b, o) + IPPROTO.TCP + len)),
  );
}

/**
 * Takes one from the TTL (IPv4, header checksum kept) or hop limit (IPv6) of the held client
 * packet at `o` before it is sent on, as the kernel's forwarding does to every packet the
 * queue lets through: held packets leave by the raw socket, which forwards nothing. False,
 * the packet unchanged, when it is spent (1 or less: Linux's `ip_forward` drops it there).
 */
export function forwardHop(b: Uint8Array, o: number): boolean {
  if (b[o] >>> 4 === 4) {
    const ttl = b[o + IPV4.TTL];
    if (ttl <= 1) return false;
    // TTL is the high byte of the header's fifth word.
    const c = o + IPV4.CHECKSUM;
    b[o + IPV4.TTL] = ttl - 1;
    set16(b, c, adjust(get16(b, c), ttl << 8, (ttl - 1) << 8));
    return true;
  }
  const hops = b[o + IPV6.HOP_LIMIT];
  if (hops <= 1) return false;
  b[o + IPV6.HOP_LIMIT] = hops - 1;
  return true;
}

/**
 * The MSS index the client ACK at `o` (transport at `l4`) proves with its cookie, or
 * `BAD_COOKIE` (`syn_cookie.ts`): `count` is the cookie clock's minute now.
 */
export function checkCookieAck(
  fam: AddressFamily,
  key: Uint32Array,
  b: Uint8Array,
  o: number,
  l4: number,
  count: number,
): number {
  const src = addrOffset(fam, o);
  const words = addrWords(fam);
  return checkCookie(
    key,
    b,
    src,
    src + words * 4,
    words,
    (get16(b, l4 + TCP.SPORT) << 16) | get16(b, l4 + TCP.DPORT),
    (get32(b, l4 + TCP.SEQ) - 1) | 0,
    (get32(b, l4 + TCP.ACK) - 1) | 0,
    count,
  );
}

/**
 * Rewrites the client's cookie ACK at `o` (transport at `l4`), proven with MSS index
 * `mssIndex`, into the SYN its session `id` opens to the real server (still addressed
 * client -> VIP: the forwarding mode rewrites it next), and keeps the cookie and its TSval in
 * the session until the real server answers. Returns the new length.
 */
export function ackToSyn(
  fam: AddressFamily,
  t: SessionTable,
  id: number,
  b: Uint8Array,
  o: number,
  l4: number,
  mssIndex: number,
): number {
  readOptions(b, l4);
  const sport = get16(b, l4 + TCP.SPORT);
  const dport = get16(b, l4 + TCP.DPORT);
  const isn = (get32(b, l4 + TCP.SEQ) - 1) | 0;
  t.proxySeq[id] = (get32(b, l4 + TCP.ACK) - 1) >>> 0;
  const ts = opt.ts;
  t.proxyTs[id] = ts ? opt.tsecr >>> 0 : 0;
  const sack = ts && tsecrSack(opt.tsecr);
  const wscale = ts ? tsecrWscale(opt.tsecr) : -1;
  // A SYN's window is never scaled: the ACK's, scaled up, as far as 16 bits go.
  const window = Math.min(0xffff, get16(b, l4 + TCP.WINDOW) * (1 << Math.max(wscale, 0)));
  return writeSegment(
    fam,
    b,
    o,
    sport,
    dport,
    isn,
    0,
    TCP_FLAG.SYN,
    window,
    COOKIE_MSS[mssIndex],
    sack,
    ts,
    opt.tsval,
    0,
    wscale,
  );
}

/**
 * The real server's SYN-ACK at `l4` answers proxy session `id`: learns the deltas
 * (`proxySeq`, `proxyTs`, `proxyWscale`) from it. Returns false when it is not the SYN-ACK
 * of the SYN sent (its ack is not the balancer's ISN + 1).
 */
export function learnServer(t: SessionTable, id: number, b: Uint8Array, l4: number): boolean {
  const ourIsn = (t.clientIsn[id] + t.seqDelta[id]) >>> 0;
  if (get32(b, l4 + TCP.ACK) !== ((ourIsn + 1) >>> 0)) return false;
  readOptions(b, l4);
  t.proxySeq[id] = (get32(b, l4 + TCP.SEQ) - t.proxySeq[id]) >>> 0;
  t.proxyTs[id] = opt.ts ? (opt.tsval - t.proxyTs[id]) >>> 0 : 0;
  t.proxyWscale[id] = opt.wscale >= 0 ? opt.wscale + 1 : 0;
  return true;
}

/** Adds `tsvalDelta` and `tsecrDelta` to the timestamps of the TCP header at `l4`, if any. */
function shiftTimestamps(b: Uint8Array, l4: number, tsvalDelta: number, tsecrDelta: number): void {
  const at = tcpOptionFind(b, l4, TCPOPT.TIMESTAMP);
  if (at === NO_OPTION || b[at + 1] !== 10) return;
  const c = l4 + TCP.CHECKSUM;
  const v = get32(b, at + 2);
  const e = get32(b, at + 6);
  const nv = (v + tsvalDelta) >>> 0;
  const ne = (e + tsecrDelta) >>> 0;
  set32(b, at + 2, nv);
  set32(b, at + 6, ne);
  set16(b, c, adjust(get16(b, c), sum32(v) + sum32(e), sum32(nv) + sum32(ne)));
}

/**
 * Client->real server segment of proxy session `id`: ack and SACK edges into the real
 * server's space, TSecr into its clock. Returns how many SACK blocks moved.
 */
export function proxyIn(t: SessionTable, b: Uint8Array, l4: number, id: number): number {
  const d = t.proxySeq[id] | 0;
  const blocks = d !== 0 ? unshiftAck(b, l4, -d | 0) : 0;
  if (t.proxyTs[id] !== 0 && tcpHeaderLength(b, l4) > TCP.MIN_HEADER) {
    shiftTimestamps(b, l4, 0, t.proxyTs[id] | 0);
  }
  return blocks;
}

/**
 * Real server->client segment of proxy session `id`: seq into the cookie's space, TSval into
 * the cookie TSval's clock, window from the real server's scale to {@linkcode PROXY_WSCALE}.
 */
export function proxyOut(t: SessionTable, b: Uint8Array, l4: number, id: number): void {
  const d = t.proxySeq[id] | 0;
  if (d !== 0) shiftSeq(b, l4, -d | 0);
  if (t.proxyTs[id] !== 0 && tcpHeaderLength(b, l4) > TCP.MIN_HEADER) {
    shiftTimestamps(b, l4, -t.proxyTs[id] | 0, 0);
  }
  const ws = t.proxyWscale[id];
  if (ws === 0 || ws - 1 === PROXY_WSCALE) return;
  const p = l4 + TCP.WINDOW;
  const w = get16(b, p);
  const shift = ws - 1 - PROXY_WSCALE;
  // Scaled down, a window rounds down (never promising more than the server offers) but an
  // open window stays open.
  const nw = shift > 0
    ? Math.min(0xffff, w * (1 << shift))
    : w === 0
    ? 0
    : Math.max(1, w >>> -shift);
  if (nw === w) return;
  set16(b, p, nw);
  const c = l4 + TCP.CHECKSUM;
  set16(b, c, adjust(get16(b, c), w, nw));
}
