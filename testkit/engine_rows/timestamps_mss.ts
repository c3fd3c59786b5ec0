/**
 * Seed 4.4.1 and 4.4.2, timestamps and MSS, as a service turns them off: with TOA, timestamp
 * stripping and MSS clamping switched off, the SYN keeps its timestamp and gets no TOA and the
 * SYN-ACK keeps its MSS. (With them on, the FULLNAT handshake of `fullnat_transmit.ts` shows
 * the timestamp blanked and the MSS lowered.)
 *
 * @module
 */
import { C, firstIsn, fullnatService, LIP, type Row, RS, tcp, VIP } from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** TOA, timestamp stripping and MSS clamping off for the service. */
export const OPTIONS_SWITCHED_OFF: Scenario = {
  section: "4.4 timestamps and MSS",
  what: "TOA, timestamps and MSS left alone on a service that turns them off",
  configure(ctl) {
    const key = fullnatService(ctl);
    ctl.editService(key, { toa: false, stripTimestamps: false, clampMss: false });
  },
  rows(ms: number): Row[] {
    const D = (firstIsn(ms) - 5) >>> 0;
    return [
      {
        what: "SYN keeps its timestamp and gets no TOA",
        input: tcp(C, VIP, 40000, 80, "S", 5).mss(1460).timestamp(9, 0),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", (5 + D) >>> 0).mss(1460).timestamp(9, 0),
      },
      {
        what: "SYN-ACK keeps its MSS",
        input: tcp(RS, LIP, 8080, 5000, "SA", 100, (6 + D) >>> 0).mss(1460),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 100, 6).mss(1460),
      },
    ];
  },
};
