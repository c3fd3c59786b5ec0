/**
 * Seed 4.9, control: a local address or a service deleted while sessions use it keeps serving
 * them (its diversion stays until the last one ends) but takes no new connection.
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

/** The service {@linkcode fullnatService} adds. */
const KEY = { protocol: "tcp" as const, address: VIP, port: 80 };

/** The only local address deleted after a SYN: its session goes on, a new one is refused. */
export const DELETED_LOCAL_ADDRESS: Scenario = {
  section: "4.9 control: draining",
  what: "a deleted local address serves its sessions until they end",
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    return [
      { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 1), verdict: Verdict.Rewritten },
      {
        what: "established reply still translated after the local address is deleted",
        before: (fx: Fixture) => fx.ctl.deleteLocalAddress(KEY, LIP),
        input: tcp(RS, LIP, 8080, 5000, "SA", 9, (firstIsn(ms) + 1) >>> 0),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 9, 2),
      },
      {
        what: "a new connection has no local address left: answered with a reset",
        input: tcp(C, VIP, 40001, 80, "S", 1),
        verdict: Verdict.Rewritten,
      },
    ];
  },
};

/** The service deleted after a SYN: its session goes on, a new connection is the kernel's. */
export const DELETED_SERVICE: Scenario = {
  section: "4.9 control: draining",
  what: "a deleted service serves its sessions until they end",
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    const D = (firstIsn(ms) - 1) >>> 0;
    return [
      { what: "SYN", input: tcp(C, VIP, 40000, 80, "S", 1), verdict: Verdict.Rewritten },
      {
        what: "the established session is still translated after the service is deleted",
        before: (fx: Fixture) => fx.ctl.deleteService(KEY),
        input: tcp(RS, LIP, 8080, 5000, "SA", 9, (D + 2) >>> 0),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 9, 2),
      },
      {
        what: "a new connection finds no service: the kernel gets it",
        input: tcp(C, VIP, 40001, 80, "S", 1),
        verdict: Verdict.Accept,
      },
    ];
  },
};
