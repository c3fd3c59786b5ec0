/**
 * Seed 4.5, local addresses and ports: round robin over a service's local addresses, no port
 * reused for a live tuple, and a SYN refused once every try found its port taken.
 *
 * @module
 */
import { C, fullnatService, LIP, LIP2, type Row, RS, tcp, VIP } from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** Two local addresses of two ports each: four connections fit, the fifth is refused. */
export const LOCAL_PORTS: Scenario = {
  section: "4.5 local addresses and ports",
  what: "round robin over addresses, no reuse of a live tuple, exhaustion",
  options: { localPortRange: [5000, 5001], portTries: 8 },
  configure: (ctl) => void fullnatService(ctl, [RS], [LIP, LIP2]),
  rows(): Row[] {
    const syn = (p: number) => tcp(C, VIP, 40000 + p, 80, "S", 1);
    return [
      ...[1, 2, 3, 4].map((p) => ({
        what: `SYN from port ${40000 + p}`,
        input: syn(p),
        verdict: Verdict.Rewritten,
      })),
      {
        what: "a fifth SYN finds every local port taken: answered with a reset",
        input: syn(10),
        verdict: Verdict.Rewritten,
      },
    ];
  },
};
