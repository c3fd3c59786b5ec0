/**
 * NAT mode (seed 4.1: the local address is the client's, so the one FULLNAT lookup and rewrite
 * path serves it): only the destination is translated on the way in and the source on the way
 * out; sequence numbers, timestamps, MSS and TOA are the client's own.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import { C, type Row, RS, tcp, VIP } from "../engine_fixture.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** VIP:80 to RS:80 in NAT mode. */
function natService(ctl: EngineControl): void {
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "nat" });
}

/** Addresses only. */
export const NAT_ADDRESSES: Scenario = {
  section: "4.1 NAT mode",
  what: "only the destination translated, and the source on the way out",
  configure: natService,
  rows: (): Row[] => [
    {
      what: "client SYN keeps its source",
      input: tcp(C, VIP, 40000, 80, "S", 5),
      verdict: Verdict.Rewritten,
      output: tcp(C, RS, 40000, 80, "S", 5),
    },
    {
      what: "RS reply to the client directly gets the VIP as source",
      input: tcp(RS, C, 80, 40000, "SA", 77, 6),
      verdict: Verdict.Rewritten,
      output: tcp(VIP, C, 80, 40000, "SA", 77, 6),
    },
  ],
};

/** TCP options and sequence numbers untouched. */
export const NAT_NO_SEQUENCE: Scenario = {
  section: "4.1 NAT mode",
  what: "no sequence translation, timestamp, MSS clamp or TOA",
  configure: natService,
  rows: (): Row[] => [
    {
      what: "SYN keeps seq, timestamp and gets no TOA (the RS sees the client itself)",
      input: tcp(C, VIP, 40000, 80, "S", 5).mss(1460).timestamp(1, 0),
      verdict: Verdict.Rewritten,
      output: tcp(C, RS, 40000, 80, "S", 5).mss(1460).timestamp(1, 0),
    },
    {
      what: "SYN-ACK keeps ack and MSS",
      input: tcp(RS, C, 80, 40000, "SA", 9, 6).mss(1460),
      verdict: Verdict.Rewritten,
      output: tcp(VIP, C, 80, 40000, "SA", 9, 6).mss(1460),
    },
  ],
};
