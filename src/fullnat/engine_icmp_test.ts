/**
 * ICMP and other protocols on crafted packets (issue 4): errors about a session translated in
 * both directions (outer header, quote, quoted sequence numbers, next-hop MTU), errors about
 * nothing passed on, echo to a VIP left to the kernel, AH/ESP to a VIP dropped and counted.
 */
import assert from "node:assert/strict";
import { ipv4 } from "../../testkit/packet_builder.ts";
import {
  C,
  engineTest,
  firstIsn,
  fullnatService,
  LIP,
  RS,
  setup,
  tcp,
  VIP,
} from "../../testkit/engine_fixture.ts";
import { Verdict } from "../nfqueue/handler.ts";

const ROUTER_B = "203.0.113.99";
const ROUTER_A = "198.51.100.99";

engineTest(
  "Engine.handle() translates a port unreachable from the RS back to the UDP client",
  (run) => {
    const { engine, ctl } = setup();
    const key = { protocol: "udp" as const, address: VIP, port: 53 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS, port: 5353, weight: 1, method: "fullnat" });
    ctl.addLocalAddress(key, LIP);
    const udp = (src: string, dst: string, sport: number, dport: number) =>
      ipv4({ src, dst, ttl: 64 }).udp({ sport, dport }).payload("query?");
    run.rows(engine, [
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
    ]);
    assert.equal(engine.counters.icmpErrorsTranslated, 1);
  },
);

engineTest(
  "Engine.handle() translates TCP errors both ways, sequence numbers and MTU included",
  (run) => {
    const { engine, ctl, clock } = setup();
    fullnatService(ctl);
    const D = (firstIsn(clock.ms) - 1000) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    run.rows(engine, [
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
    ]);
    assert.equal(engine.counters.icmpErrorsTranslated, 4);
  },
);

engineTest(
  "Engine.handle() passes ICMP that concerns no session and drops AH/ESP to a VIP",
  (run) => {
    const { engine, ctl } = setup();
    fullnatService(ctl);
    run.rows(engine, [
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
    ]);
    const c = engine.counters;
    assert.deepEqual(
      [
        c.icmpPassed,
        c.icmpNoSession,
        c.icmpMalformedQuote,
        c.otherProtocolDropped,
        c.otherProtocol,
      ],
      [1, 1, 1, 2, 1],
    );
  },
);
