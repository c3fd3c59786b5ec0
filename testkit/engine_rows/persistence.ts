/**
 * Seed 5.1, persistence templates: with persistence on, every connection of a client goes to
 * the real server its first one was scheduled to; another client is scheduled afresh.
 *
 * @module
 */
import { C, type Row, RS, RS2, tcp, VIP } from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** Four connections of one client, then one of another, over two NAT real servers. */
export const PERSISTENT_CLIENT: Scenario = {
  section: "5.1 persistence",
  what: "a client goes back to the same real server",
  configure(ctl) {
    const key = { protocol: "tcp" as const, address: VIP, port: 80 };
    ctl.addService(key, { scheduler: "rr", persistence: 300 });
    for (const rs of [RS, RS2]) {
      ctl.addRealServer(key, { address: rs, port: 80, weight: 1, method: "nat" });
    }
  },
  rows: (): Row[] => [
    ...[1, 2, 3, 4].map((p) => ({
      what: `SYN from port ${40000 + p}`,
      input: tcp(C, VIP, 40000 + p, 80, "S", 1),
      verdict: Verdict.Rewritten,
    })),
    {
      what: "SYN from another client",
      input: tcp("198.51.100.3", VIP, 40000, 80, "S", 1),
      verdict: Verdict.Rewritten,
    },
  ],
};
