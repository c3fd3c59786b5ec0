/**
 * ICMP errors about a session (seed 4.7), in either family: the error quotes the datagram
 * that caused it, as the sender of that datagram wrote it; the other end of the session knows
 * the connection by different addresses, ports and sequence numbers. Both the outer header and
 * the quote are rewritten into the other end's view, so its socket matches the error (PMTU
 * discovery, "connection refused" for UDP). The quoted header checksum is recomputed, the
 * quoted L4 checksum updated incrementally when it is present, and the ICMP checksum recomputed
 * over the whole message (with its pseudo-header in IPv6).
 *
 * Translated: IPv4 destination unreachable (fragmentation needed included), source quench and
 * time exceeded; IPv6 destination unreachable, packet too big and time exceeded (as Alibaba LVS's
 * `ip_vs_core.c` does). Everything else ICMP goes on to the kernel unchanged. Errors about the
 * replies of DR and TUNNEL sessions are not translated but forwarded whole to the real server
 * that sent them (`Forward`).
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { adjust, sum32 } from "../wire/checksum.ts";
import { ICMP } from "../wire/icmp.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import { TCP } from "../wire/tcp.ts";
import { UDP } from "../wire/udp.ts";
import type { EngineCounters } from "./counters.ts";
import { type AddressFamily, type QuoteView, Slot } from "./family.ts";
import type { Registry } from "./registry.ts";
import { Dir, NO_SESSION, type SessionTable } from "./session_table.ts";
import { METHOD_DR, METHOD_FULLNAT, METHOD_TUNNEL } from "./xmit.ts";

/** What {@linkcode handleIcmp} says about a message. */
export const IcmpOutcome = {
  /** Translated in place; the packet keeps its length. */
  Translated: 0,
  /** Not an error about a session: the kernel gets it unchanged. */
  Passed: 1,
  /** Cut short or quoting nothing usable (counted). */
  Malformed: 2,
  /**
   * About the replies of a DR or TUNNEL session (which its real server sent from the VIP
   * itself): to go to that server unchanged, by the session's mode ({@linkcode icmpSession}).
   * Not counted yet.
   */
  Forward: 3,
} as const;
/** One of the {@linkcode IcmpOutcome} values. */
export type IcmpOutcome = typeof IcmpOutcome[keyof typeof IcmpOutcome];

/** Where the quote of the ICMP error in hand lies; reused for every error. */
const quote: QuoteView = { ip: 0, l4: 0, end: 0 };

/** After {@linkcode handleIcmp} said `Forward`: the session the error is about. */
export const icmpSession = { id: 0 };

/**
 * The ICMP message at `icmp` of the packet at `o` (ending at `end`): an error about a session
 * is translated for the session's other end; anything else is passed on. Counts either way.
 */
export function handleIcmp(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  icmp: number,
  end: number,
  t: SessionTable,
  registry: Registry,
  c: EngineCounters,
): IcmpOutcome {
  if (end - icmp < ICMP.QUOTE) {
    c.malformedL4++;
    return IcmpOutcome.Malformed;
  }
  if (!fam.isTranslatedError(b[icmp + ICMP.TYPE])) {
    c.icmpPassed++;
    return IcmpOutcome.Passed;
  }
  const q = quote;
  if (!fam.readQuote(b, icmp, end, q)) {
    c.icmpMalformedQuote++;
    return IcmpOutcome.Malformed;
  }
  const proto = fam.quoteProto(b, q);
  if (proto !== IPPROTO.TCP && proto !== IPPROTO.UDP) {
    c.icmpPassed++;
    return IcmpOutcome.Passed;
  }
  // The quote is a datagram sent towards the error's source; its reverse is a packet of the
  // session travelling the other way, which the table knows.
  const e = fam.lookupQuote(t, b, q, proto);
  if (e === NO_SESSION) {
    c.icmpNoSession++;
    return IcmpOutcome.Passed;
  }
  const id = e >> 1;
  const method = t.method[id];
  if ((e & 1) === Dir.In && (method === METHOD_DR || method === METHOD_TUNNEL)) {
    // The real server answered from the VIP itself, so the quote is its own datagram as it
    // sent it: the error is for it, unchanged (IPVS's ip_vs_in_icmp hands it to the mode's
    // transmit), which PMTU discovery on its replies needs.
    icmpSession.id = id;
    return IcmpOutcome.Forward;
  }
  let mtuDelta = 0;
  if ((e & 1) === Dir.Out && proto === IPPROTO.TCP && t.method[id] === METHOD_FULLNAT) {
    // The client's segments grow by the TOA on the way in, so it must aim lower.
    if (registry.servers[t.server[id]]?.service.toa) mtuDelta = fam.toaLength;
  }
  translateIcmpError(fam, b, o, icmp, end, q, t, id, (e & 1) as Dir, mtuDelta);
  c.icmpErrorsTranslated++;
  return IcmpOutcome.Translated;
}

/**
 * Rewrites the ICMP error at `icmp` of the packet at `o` (ending at `end`) whose quote `q`
 * belongs to session `id`, the quote's reverse travelling in direction `dir`. An error from
 * the real-server side (`Dir.Out`) goes to the client, outer virtual -> client, quote client ->
 * virtual with its sequence number shifted back; one from the client side goes to the real
 * server, outer local -> real server, quote real server -> local with its ack shifted into
 * the real server's space. `mtuDelta` comes off an announced MTU.
 */
export function translateIcmpError(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  icmp: number,
  end: number,
  q: QuoteView,
  t: SessionTable,
  id: number,
  dir: Dir,
  mtuDelta: number,
): void {
  const proto = fam.quoteProto(b, q);
  const l4 = q.l4;
  const delta = proto === IPPROTO.TCP ? t.seqDelta[id] : 0;
  // The SYN proxy's second delta: the real server's sequence space against the cookie's.
  const proxy = proto === IPPROTO.TCP ? t.proxySeq[id] : 0;
  // The quoted L4 checksum, if quoted, sees the same address, port and sequence changes.
  const oldSum = fam.sumAddrs(b, q.ip) + get16(b, l4) + get16(b, l4 + 2);
  let newSum: number;
  if (dir === Dir.Out) {
    newSum = fam.writeAddrs(b, q.ip, t, id, Slot.C, Slot.V) + t.cport[id] + t.vport[id];
    set16(b, l4, t.cport[id]);
    set16(b, l4 + 2, t.vport[id]);
    fixQuotedL4(b, q, proto, oldSum, newSum, -delta | 0, -proxy | 0);
  } else {
    newSum = fam.writeAddrs(b, q.ip, t, id, Slot.D, Slot.L) + t.dport[id] + t.lport[id];
    set16(b, l4, t.dport[id]);
    set16(b, l4 + 2, t.lport[id]);
    fixQuotedL4(b, q, proto, oldSum, newSum, proxy, delta);
  }
  fam.fillHeaderChecksum(b, q.ip);
  if (mtuDelta !== 0) fam.shrinkMtu(b, icmp, mtuDelta);
  if (dir === Dir.Out) fam.writeAddrs(b, o, t, id, Slot.V, Slot.C);
  else fam.writeAddrs(b, o, t, id, Slot.L, Slot.D);
  fam.finishIcmp(b, o, icmp, end);
}

/**
 * The rest of a quote's transport header, once its addresses and ports were rewritten (their
 * words summing `oldSum` before and `newSum` after): a quoted TCP seq moves by `seqDelta` and
 * a quoted ack (when quoted) by `ackDelta`; the quoted TCP or UDP checksum, when quoted and
 * not the "none" of UDP, is updated for all of it.
 */
function fixQuotedL4(
  b: Uint8Array,
  q: QuoteView,
  proto: number,
  oldSum: number,
  newSum: number,
  seqDelta: number,
  ackDelta: number,
): void {
  const l4 = q.l4;
  if (proto === IPPROTO.TCP) {
    if (seqDelta !== 0) {
      const seq = get32(b, l4 + TCP.SEQ);
      const now = (seq + seqDelta) >>> 0;
      set32(b, l4 + TCP.SEQ, now);
      oldSum += sum32(seq);
      newSum += sum32(now);
    }
    if (ackDelta !== 0 && l4 + TCP.ACK + 4 <= q.end) {
      const ack = get32(b, l4 + TCP.ACK);
      const now = (ack + ackDelta) >>> 0;
      set32(b, l4 + TCP.ACK, now);
      oldSum += sum32(ack);
      newSum += sum32(now);
    }
    if (l4 + TCP.CHECKSUM + 2 <= q.end) {
      const c = l4 + TCP.CHECKSUM;
      set16(b, c, adjust(get16(b, c), oldSum, newSum));
    }
  } else {
    const c = l4 + UDP.CHECKSUM;
    const check = get16(b, c);
    if (check !== 0) {
      const v = adjust(check, oldSum, newSum);
      set16(b, c, v === 0 ? 0xffff : v);
    }
  }
}
