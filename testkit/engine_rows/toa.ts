/**
 * Seed 4.3, TOA: the client's address and port inserted right after the fixed TCP header,
 * and a TOA the client wrote itself blanked first (a spoofing vector).
 *
 * @module
 */
import { C, firstIsn, fullnatService, LIP, type Row, RS, tcp, VIP } from "../engine_fixture.ts";
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
