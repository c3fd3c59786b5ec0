/**
 * Seed 4.7, ICMP: errors about a session translated in both directions (outer header, quote,
 * quoted sequence numbers, next-hop MTU lowered by the TOA), in IPv4 and IPv6; errors about
 * nothing passed on; echo to a VIP left to the kernel; AH/ESP to a VIP dropped (seed 5.2).
 *
 * @module
 */
import {
  C,
  C6,
  firstIsn,
  fullnatService,
  isn6,
  LIP,
  LIP6,
  ROUTER6,
  type Row,
  RS,
  RS6,
  service6,
  tcp,
  tcp6,
  VIP,
  VIP6,
} from "../engine_fixture.ts";
import { ipv4, ipv6 } from "../packet_builder.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

const ROUTER_B = "203.0.113.99";
const ROUTER_A = "198.51.100.99";

/** A UDP query, and the port unreachable the real server answers it with. */
export const ICMP_UDP_UNREACHABLE: Scenario = {
  section: "4.7 ICMP",
  what: "a port unreachable from the RS back to the UDP client",
  configure(ctl) {
    const key = { protocol: "udp" as const, address: VIP, port: 53 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS, port: 5353, weight: 1, method: "fullnat" });
    ctl.addLocalAddress(key, LIP);
  },
  rows(): Row[] {
    const udp = (src: string, dst: string, sport: number, dport: number) =>
      ipv4({ src, dst, ttl: 64 }).udp({ sport, dport }).payload("query?");
    return [
      {
        what: "query",
        input: udp(C, VIP, 3333, 53),
        verdict: Verdict.Rewritten,
        output: udp(LIP, RS, 5000, 5353),
      },
      {
        what: "port unreachable from the RS quoting what it got",
        input: ipv4({ src: RS, dst: LIP, ttl: 64 }).icmp({ type: 3, code: 3 })
          .embed(udp(LIP, RS, 5000, 5353)),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 64 }).icmp({ type: 3, code: 3 })
          .embed(udp(C, VIP, 3333, 53)),
      },
    ];
  },
};

/** Errors about a TCP session from routers on either side and from the real server. */
export const ICMP_TCP_BOTH_WAYS: Scenario = {
  section: "4.7 ICMP",
  what: "TCP errors both ways, sequence numbers and MTU included",
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    const D = (firstIsn(ms) - 1000) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    return [
      { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 1000), verdict: Verdict.Rewritten },
      {
        what: "SYN-ACK",
        input: tcp(RS, LIP, 8080, 5000, "SA", 9000, up(1001)),
        verdict: Verdict.Rewritten,
      },
      {
        what:
          "a router before the RS needs fragmentation of our segment: the client learns it, 8 less",
        input: ipv4({ src: ROUTER_B, dst: LIP, ttl: 63 }).icmp({ type: 3, code: 4, rest: 1400 })
          .embed(tcp(LIP, RS, 5000, 8080, "PA", up(1001), 9001).payload("x".repeat(40))),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 63 }).icmp({ type: 3, code: 4, rest: 1392 })
          .embed(tcp(C, VIP, 40000, 80, "PA", 1001, 9001).payload("x".repeat(40))),
      },
      {
        what: "time exceeded quoting only 8 bytes of TCP (RFC 792 minimum)",
        input: ipv4({ src: ROUTER_B, dst: LIP, ttl: 63 }).icmp({ type: 11, code: 0 })
          .embed(tcp(LIP, RS, 5000, 8080, "A", up(1500), 9001), 28),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 63 }).icmp({ type: 11, code: 0 })
          .embed(tcp(C, VIP, 40000, 80, "A", 1500, 9001), 28),
      },
      {
        what: "a router on the client side: the RS learns it, its ack back in its own space",
        input: ipv4({ src: ROUTER_A, dst: VIP, ttl: 63 }).icmp({ type: 3, code: 1 })
          .embed(tcp(VIP, C, 80, 40000, "PA", 9001, 1001).payload("y".repeat(10))),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: LIP, dst: RS, ttl: 63 }).icmp({ type: 3, code: 1 })
          .embed(tcp(RS, LIP, 8080, 5000, "PA", 9001, up(1001)).payload("y".repeat(10))),
      },
      {
        what: "source quench from the RS",
        input: ipv4({ src: RS, dst: LIP }).icmp({ type: 4, code: 0 })
          .embed(tcp(LIP, RS, 5000, 8080, "A", up(1001), 9001)),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C }).icmp({ type: 4, code: 0 })
          .embed(tcp(C, VIP, 40000, 80, "A", 1001, 9001)),
      },
    ];
  },
};

/** ICMP about no session, echo, and IPsec to and past a VIP. */
export const ICMP_NO_SESSION_AND_IPSEC: Scenario = {
  section: "4.7 ICMP",
  what: "ICMP about no session passed, AH/ESP to a VIP dropped",
  configure: (ctl) => void fullnatService(ctl),
  rows: (): Row[] => [
    {
      what: "echo request to the VIP: the kernel answers it",
      input: ipv4({ src: C, dst: VIP }).icmp({ type: 8, rest: 0x00010001 }).payload("ping"),
      verdict: Verdict.Accept,
    },
    {
      what: "an error about a connection the balancer does not know",
      input: ipv4({ src: ROUTER_B, dst: LIP }).icmp({ type: 3, code: 3 })
        .embed(tcp(LIP, RS, 6000, 8080, "S", 1)),
      verdict: Verdict.Accept,
    },
    {
      what: "an error whose quote is cut inside the IP header",
      input: ipv4({ src: ROUTER_B, dst: LIP }).icmp({ type: 3, code: 3 })
        .embed(tcp(LIP, RS, 5000, 8080, "S", 1), 16),
      verdict: Verdict.Drop,
    },
    {
      what: "ESP to the VIP",
      input: ipv4({ src: C, dst: VIP, proto: 50 }).payload(new Uint8Array(24).fill(7)),
      verdict: Verdict.Drop,
    },
    {
      what: "AH to the VIP",
      input: ipv4({ src: C, dst: VIP, proto: 51 }).payload(new Uint8Array(24).fill(8)),
      verdict: Verdict.Drop,
    },
    {
      what: "ESP to an address that is no VIP",
      input: ipv4({ src: C, dst: "198.51.100.77", proto: 50 }).payload(new Uint8Array(24)),
      verdict: Verdict.Accept,
    },
  ],
};

/**
 * IPv6: "packet too big" from the VIP for a segment too big for its TOA, ICMPv6 errors both
 * ways, echo to the kernel and ESP dropped; the session is left ESTABLISHED (with a 10 s
 * timeout) for the test to expire.
 */
export const ICMP6_BOTH_WAYS: Scenario = {
  section: "4.7 ICMP",
  what: "IPv6 errors both ways and packet too big",
  configure(ctl) {
    service6(ctl);
    ctl.setTimeouts({ tcpEstablished: 10 });
  },
  rows(ms: number): Row[] {
    const D = (isn6(ms) - 1000) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    const body = "z".repeat(1500 - 40 - 20 - 12);
    return [
      { what: "SYN", input: tcp6(C6, VIP6, 40000, 80, "S", 1000), verdict: Verdict.Rewritten },
      {
        what: "SYN-ACK",
        input: tcp6(RS6, LIP6, 8080, 5000, "SA", 7000, up(1001)),
        verdict: Verdict.Rewritten,
      },
      {
        what: "a client segment too big for its TOA: packet too big from the VIP, MTU - 20",
        input: tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7001).timestamp(1, 2).payload(body),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: VIP6, dst: C6 }).icmp({ type: 2, code: 0, rest: 1480 })
          .embed(tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7001).timestamp(1, 2).payload(body), 48),
      },
      {
        what: "ACK",
        input: tcp6(C6, VIP6, 40000, 80, "A", 1001, 7001),
        verdict: Verdict.Rewritten,
      },
      {
        what: "packet too big from a router before the RS: the client learns MTU - 20",
        input: ipv6({ src: ROUTER6, dst: LIP6 }).icmp({ type: 2, code: 0, rest: 1400 })
          .embed(tcp6(LIP6, RS6, 5000, 8080, "PA", up(1001), 7001).payload("q".repeat(30))),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: VIP6, dst: C6 }).icmp({ type: 2, code: 0, rest: 1380 })
          .embed(tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7001).payload("q".repeat(30))),
      },
      {
        what: "unreachable from the client side: the RS learns it, ack in its space",
        input: ipv6({ src: "2001:db8:a::99", dst: VIP6 }).icmp({ type: 1, code: 3 })
          .embed(tcp6(VIP6, C6, 80, 40000, "A", 7001, 1001)),
        verdict: Verdict.Rewritten,
        output: ipv6({ src: LIP6, dst: RS6 }).icmp({ type: 1, code: 3 })
          .embed(tcp6(RS6, LIP6, 8080, 5000, "A", 7001, up(1001))),
      },
      {
        what: "echo request to the VIP goes to the kernel",
        input: ipv6({ src: C6, dst: VIP6 }).icmp({ type: 128, rest: 1 }).payload("ping"),
        verdict: Verdict.Accept,
      },
      {
        what: "ESP to the VIP is dropped",
        input: ipv6({ src: C6, dst: VIP6 }).rawProto(50).payload(new Uint8Array(16)),
        verdict: Verdict.Drop,
      },
    ];
  },
};
