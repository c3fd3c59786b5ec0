/**
 * Seed 4.8, reset on expiry: the packets that bring sessions to the states the expiry tests
 * then time out (their clock moves, `expire()` calls and the resets it sends stay in the tests).
 *
 * @module
 */
import { C, firstIsn, fullnatService, LIP, type Row, RS, tcp, VIP } from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** SYN then ACK, under a 5 s SYN_RECV and a 20 s ESTABLISHED timeout. */
export const EXPIRY_TIMEOUTS: Scenario = {
  section: "4.8 reset on expiry",
  what: "a session through SYN_RECV to ESTABLISHED under short timeouts",
  configure(ctl) {
    fullnatService(ctl);
    ctl.setTimeouts({ tcpSynRecv: 5, tcpEstablished: 20 });
  },
  rows: (): Row[] => [
    { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 1), verdict: Verdict.Rewritten },
    { what: "ACK", input: tcp(C, VIP, 40000, 80, "A", 2, 1), verdict: Verdict.Rewritten },
  ],
};

/**
 * A connection ESTABLISHED with a 10 s timeout in which the real server has sent 5 bytes and
 * acknowledged 10 of the client's: the numbers the resets on its expiry are written with.
 */
export const EXPIRY_ESTABLISHED: Scenario = {
  section: "4.8 reset on expiry",
  what: "an ESTABLISHED session the real server has spoken in",
  configure(ctl) {
    fullnatService(ctl);
    ctl.setTimeouts({ tcpEstablished: 10 });
  },
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
      { what: "ACK", input: tcp(C, VIP, 40000, 80, "A", 1001, 9001), verdict: Verdict.Rewritten },
      {
        what: "RS data, 5 bytes, acking 10 client bytes",
        input: tcp(RS, LIP, 8080, 5000, "PA", 9001, up(1011)).payload("hello"),
        verdict: Verdict.Rewritten,
      },
    ];
  },
};

/** A session ESTABLISHED by the client alone: the real server never sent a segment. */
export const EXPIRY_SILENT_SERVER: Scenario = {
  section: "4.8 reset on expiry",
  what: "an ESTABLISHED session the real server never spoke in",
  configure: (ctl) => void fullnatService(ctl),
  rows: (): Row[] => [
    { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 1, 1), verdict: Verdict.Rewritten },
    { what: "ACK", input: tcp(C, VIP, 40000, 80, "A", 2, 1), verdict: Verdict.Rewritten },
  ],
};
