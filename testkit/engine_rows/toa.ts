/**
 * Seed 4.3, TOA: the client's address and port inserted right after the fixed TCP header,
 * a TOA the client wrote itself blanked first (a spoofing vector), and the cases where it does
 * not fit: options full, a segment at the MTU (forwarded without TOA, or answered with "need
 * to fragment" when it may not be fragmented), and a GSO super-packet, which may outgrow it.
 *
 * @module
 */
import { C, firstIsn, fullnatService, LIP, type Row, RS, tcp, VIP } from "../engine_fixture.ts";
import { ipv4 } from "../packet_builder.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** A SYN carrying a forged TOA: blanked, and the real one inserted. */
export const TOA_SPOOF: Scenario = {
  section: "4.3 TOA",
  what: "a client's own TOA blanked, the real one inserted",
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    const D = (firstIsn(ms) - 77) >>> 0;
    return [{
      what: "SYN claiming to come from 10.9.9.9",
      input: tcp(C, VIP, 40000, 80, "S", 77).mss(1400).toa("10.9.9.9", 1234),
      verdict: Verdict.Rewritten,
      output: tcp(LIP, RS, 5000, 8080, "S", (77 + D) >>> 0).toa(C, 40000).mss(1400).nop(8),
    }];
  },
};

/** No room for TOA: in the options, or under the MTU. */
export const TOA_SKIPS: Scenario = {
  section: "4.3 TOA",
  what: "TOA skipped when options are full or the MTU would be exceeded",
  options: { mtu: 1500 },
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    const D = (firstIsn(ms) - 5) >>> 0;
    const body = "x".repeat(1500 - 40 - 12);
    return [
      {
        what: "SYN with 36 bytes of options: no room for 8 more",
        input: tcp(C, VIP, 40000, 80, "S", 5).mss(1460).sackPermitted().timestamp(1, 0).nop()
          .wscale(7).nop(16),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", (5 + D) >>> 0).mss(1460).sackPermitted().nop(10)
          .nop().wscale(7).nop(16),
      },
      {
        what: "data already at the MTU, fragmentable: forwarded without TOA",
        input: tcp(C, VIP, 40000, 80, "PA", 6, 1).ip({ df: false }).timestamp(2, 3).payload(body),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "PA", (6 + D) >>> 0, 1).ip({ df: false }).timestamp(2, 3)
          .payload(body),
      },
      {
        what: "data at the MTU with DF: the client is told the MTU minus the TOA",
        input: tcp(C, VIP, 40000, 80, "PA", 6, 1).timestamp(2, 3).payload(body),
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0 }).icmp({ type: 3, code: 4, rest: 1492 })
          .embed(tcp(C, VIP, 40000, 80, "PA", 6, 1).timestamp(2, 3).payload(body), 28),
      },
    ];
  },
};

/** A GSO super-packet: the kernel segments it after the queue, so the MTU does not bind it. */
export const TOA_GSO: Scenario = {
  section: "4.3 TOA",
  what: "a GSO super-packet takes its TOA past the MTU",
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    const D = (firstIsn(ms) - 5) >>> 0;
    const body = "g".repeat(4000);
    return [
      { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 5), verdict: Verdict.Rewritten },
      {
        what: "4000 bytes of data in one GSO packet",
        input: tcp(C, VIP, 40000, 80, "PA", 6, 1).payload(body),
        skbInfo: 2,
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "PA", (6 + D) >>> 0, 1).toa(C, 40000).payload(body),
      },
    ];
  },
};
