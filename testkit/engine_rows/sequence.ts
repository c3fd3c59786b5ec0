/**
 * Seed 4.6, sequence translation: a client SYN gets an ISN from the keyed, time-based hash;
 * a retransmitted SYN keeps its mapping and a SYN with a new ISN on a tuple still in SYN_RECV
 * gets a fresh, later one, which the real server's answer is translated by.
 *
 * @module
 */
import {
  C,
  firstIsn,
  type Fixture,
  fullnatService,
  LIP,
  type Row,
  RS,
  tcp,
  VIP,
} from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** A second later the same SYN again, another second later a SYN with a new ISN. */
export const SYN_RETRANSMIT_AND_RENEW: Scenario = {
  section: "4.6 sequence translation",
  what: "a retransmitted SYN keeps its mapping, a new ISN renews it",
  configure(ctl) {
    const key = fullnatService(ctl);
    ctl.editService(key, { toa: false });
  },
  rows(t0: number): Row[] {
    const second = (fx: Fixture) => void (fx.clock.ms += 1000);
    return [
      {
        what: "SYN",
        before: second,
        input: tcp(C, VIP, 40000, 80, "S", 100),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", firstIsn(t0 + 1000)),
      },
      {
        what: "the same SYN again a second later: same ISN",
        before: second,
        input: tcp(C, VIP, 40000, 80, "S", 100),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", firstIsn(t0 + 1000)),
      },
      {
        what: "a SYN with a new ISN on the tuple still in SYN_RECV: a fresh, later ISN",
        input: tcp(C, VIP, 40000, 80, "S", 5000),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", firstIsn(t0 + 2000)),
      },
      {
        what: "the RS answers the new mapping",
        input: tcp(RS, LIP, 8080, 5000, "SA", 1, (firstIsn(t0 + 2000) + 1) >>> 0),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 1, 5001),
      },
    ];
  },
};
