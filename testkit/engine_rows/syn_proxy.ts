/**
 * Issue 16.1, the SYN proxy: a client's SYN answered by the balancer with a cookie SYN-ACK,
 * its ACK turned into the SYN to the real server (client options from the cookie, TOA), the
 * real server's SYN-ACK answered by the held ACK (emitted, not a row: the tests look at the
 * sink), then data both ways through both sequence deltas, the timestamp delta and the window
 * rescaled from the server's scale to the balancer's, SACK, and ICMP quotes both ways. IPv4 and
 * IPv6.
 *
 * @module
 */
import {
  C,
  C6,
  CLOCK_START,
  firstIsn,
  fullnatService,
  isn6,
  LIP,
  LIP6,
  type Row,
  RS,
  RS6,
  SECRET,
  service6,
  tcp,
  tcp6,
  VIP,
  VIP6,
} from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import { cookieKey, PROXY_WSCALE } from "../../src/fullnat/syn_proxy.ts";
import { COOKIE_TICK_MS, cookieTsval, makeCookie } from "../../src/fullnat/syn_cookie.ts";
import { ipv4, ipv6, type PacketBuilder } from "../packet_builder.ts";
import type { Scenario } from "./scenario.ts";

/** The cookie the engine of the fixture (its ISN secret) gives a client SYN. */
export function expectedCookie(
  v6: boolean,
  sport: number,
  isn: number,
  mssIndex: number,
  ms = CLOCK_START,
): number {
  const syn = (v6 ? tcp6(C6, VIP6, sport, 80, "S", isn) : tcp(C, VIP, sport, 80, "S", isn)).build();
  const src = v6 ? 8 : 12;
  const words = v6 ? 4 : 1;
  return makeCookie(
    cookieKey(SECRET),
    syn,
    src,
    src + words * 4,
    words,
    (sport << 16) | 80,
    isn | 0,
    Math.floor(ms / COOKIE_TICK_MS),
    mssIndex,
  ) >>> 0;
}

/** The cookie TSval of a SYN with window scale 7 and SACK permitted, at the fixture's start. */
export const COOKIE_TSVAL = cookieTsval(CLOCK_START, 7, true, false) >>> 0;
/** The real server's ISN and first TSval in the rows. */
export const RS_ISN = 7000;
export const RS_TSVAL = 9000;
/** The client's ISN in the rows. */
export const CLIENT_ISN = 100;

/** The client's SYN as Linux writes its options: MSS, SACK permitted, timestamps, wscale 7. */
function clientSyn(p: PacketBuilder): PacketBuilder {
  return p.mss(1460).sackPermitted().timestamp(555, 0).nop().wscale(7);
}

/** The proxied handshake and data over IPv4 (service: TOA on, timestamps kept). */
export const SYN_PROXY_V4: Scenario = {
  section: "16.1 SYN proxy",
  what: "cookie SYN-ACK, cookie ACK to SYN, data both ways with both deltas",
  configure(ctl) {
    const key = fullnatService(ctl);
    ctl.editService(key, { synProxy: true, stripTimestamps: false });
  },
  rows(ms: number): Row[] {
    const cookie = expectedCookie(false, 40000, CLIENT_ISN, 3, ms);
    const isn = firstIsn(ms);
    const up = (n: number) => (n - CLIENT_ISN + isn) >>> 0;
    const c = (n: number) => (cookie + n) >>> 0;
    const tsv = (n: number) => (COOKIE_TSVAL + n) >>> 0;
    return [
      {
        what: "client SYN: answered by the balancer with a cookie SYN-ACK from the VIP",
        input: clientSyn(tcp(C, VIP, 40000, 80, "S", CLIENT_ISN)),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true })
          .tcp({ sport: 80, dport: 40000, flags: "SA", seq: cookie, ack: 101, window: 65535 })
          .mss(1500 - 40 - 8).sackPermitted().timestamp(COOKIE_TSVAL, 555).nop()
          .wscale(PROXY_WSCALE),
      },
      {
        what: "client ACK with the cookie: the SYN to the real server with its options and TOA",
        input: tcp(C, VIP, 40000, 80, "A", 101, c(1)).nop(2).timestamp(556, COOKIE_TSVAL),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: LIP, dst: RS, ttl: 64, id: 0, df: true })
          .tcp({
            sport: 5000,
            dport: 8080,
            flags: "S",
            seq: isn,
            ack: 0,
            // The ACK's 29200 scaled by 2^7, capped at 16 bits.
            window: 65535,
          })
          .toa(C, 40000).mss(1460).sackPermitted().timestamp(556, 0).nop().wscale(7),
      },
      {
        what: "client data before the server answered, checksum left to offload: held, completed",
        input: tcp(C, VIP, 40000, 80, "PA", 101, c(1)).nop(2).timestamp(557, COOKIE_TSVAL)
          .payload("GET").badL4Checksum(),
        skbInfo: 1,
        verdict: Verdict.Drop,
      },
      {
        what: "the server's SYN-ACK: nothing to the client (the held packets are emitted)",
        input: tcp(RS, LIP, 8080, 5000, "SA", RS_ISN, up(CLIENT_ISN + 1)).mss(1460)
          .sackPermitted().timestamp(RS_TSVAL, 556).nop().wscale(9),
        verdict: Verdict.Drop,
      },
      {
        what: "server data: seq into the cookie's space, TSval into the cookie's clock, window x4",
        input: tcp(RS, LIP, 8080, 5000, "PA", RS_ISN + 1, up(104)).nop(2)
          .timestamp(RS_TSVAL + 1, 557).payload("HTTP/1.1"),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 61, id: 0x1234, df: true })
          .tcp({ sport: 80, dport: 40000, flags: "PA", seq: c(1), ack: 104, window: 65535 })
          .nop(2).timestamp(tsv(1), 557).payload("HTTP/1.1"),
      },
      {
        what: "client ACK with a SACK block: ack, SACK edges and TSecr into the server's space",
        input: tcp(C, VIP, 40000, 80, "A", 104, c(5)).nop(2).timestamp(558, tsv(1)).nop(2)
          .sack([[c(7), c(9)]]),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "A", up(104), RS_ISN + 5).nop(2)
          .timestamp(558, RS_TSVAL + 1).nop(2).sack([[RS_ISN + 7, RS_ISN + 9]]),
      },
      {
        what: "a router before the server: the quote's seq and ack back in the client's view",
        input: ipv4({ src: "203.0.113.99", dst: LIP, ttl: 63 }).icmp({ type: 11, code: 0 })
          .embed(tcp(LIP, RS, 5000, 8080, "A", up(104), RS_ISN + 9), 28),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 63 }).icmp({ type: 11, code: 0 })
          .embed(tcp(C, VIP, 40000, 80, "A", 104, c(9)), 28),
      },
      {
        what: "a router on the client side: the quote's seq and ack in the server's view",
        input: ipv4({ src: "198.51.100.99", dst: VIP, ttl: 63 }).icmp({ type: 3, code: 1 })
          .embed(tcp(VIP, C, 80, 40000, "PA", c(9), 104).payload("y".repeat(10))),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: LIP, dst: RS, ttl: 63 }).icmp({ type: 3, code: 1 })
          .embed(tcp(RS, LIP, 8080, 5000, "PA", RS_ISN + 9, up(104)).payload("y".repeat(10))),
      },
    ];
  },
};

/** The same handshake over IPv6, without timestamps: MSS only, as Linux's cookies. */
export const SYN_PROXY_V6: Scenario = {
  section: "16.1 SYN proxy",
  what: "IPv6: cookie SYN-ACK without timestamps, cookie ACK to SYN, data both ways",
  configure(ctl) {
    const key = service6(ctl);
    ctl.editService(key, { synProxy: true });
  },
  rows(ms: number): Row[] {
    const cookie = expectedCookie(true, 40000, CLIENT_ISN, 2, ms);
    const isn = isn6(ms);
    const up = (n: number) => (n - CLIENT_ISN + isn) >>> 0;
    const c = (n: number) => (cookie + n) >>> 0;
    return [
      {
        what: "client SYN (MSS 1440, no timestamps): a SYN-ACK with our MSS only",
        input: tcp6(C6, VIP6, 40000, 80, "S", CLIENT_ISN).mss(1440).sackPermitted().nop().wscale(7),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: VIP6, dst: C6, hopLimit: 64 })
          .tcp({ sport: 80, dport: 40000, flags: "SA", seq: cookie, ack: 101, window: 65535 })
          .mss(1500 - 60 - 20),
      },
      {
        what: "client ACK with the cookie: the SYN to the server with MSS 1440 and TOA",
        input: tcp6(C6, VIP6, 40000, 80, "A", 101, c(1)),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: LIP6, dst: RS6, hopLimit: 64 })
          .tcp({ sport: 5000, dport: 8080, flags: "S", seq: isn, ack: 0, window: 29200 })
          .toa6(C6, 40000).mss(1440),
      },
      {
        what: "the server's SYN-ACK: dropped, the held ACK goes to the server",
        input: tcp6(RS6, LIP6, 8080, 5000, "SA", RS_ISN, up(CLIENT_ISN + 1)).mss(1440),
        verdict: Verdict.Drop,
      },
      {
        what: "client data: ack into the server's space (TOA: the server has not spoken yet)",
        input: tcp6(C6, VIP6, 40000, 80, "PA", 101, c(1)).payload("GET"),
        verdict: Verdict.Rewritten,
        output: tcp6(LIP6, RS6, 5000, 8080, "PA", up(101), RS_ISN + 1).toa6(C6, 40000)
          .payload("GET"),
      },
      {
        what: "server data: seq into the cookie's space",
        input: tcp6(RS6, LIP6, 8080, 5000, "PA", RS_ISN + 1, up(104)).payload("HTTP"),
        verdict: Verdict.Rewritten,
        output: tcp6(VIP6, C6, 80, 40000, "PA", c(1), 104).payload("HTTP"),
      },
    ];
  },
};
