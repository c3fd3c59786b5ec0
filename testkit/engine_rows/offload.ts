/**
 * The kernel fast path (`--offload established`, `src/fullnat/offload.ts`): connections brought
 * to the point where the engine may hand them to the kernel's conntrack (ESTABLISHED, the real
 * server has sent data), with window scales in the handshake; the packets that later reach
 * the queue anyway stay in the tests, which compare them with an engine that never offloaded.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import {
  C,
  C6,
  firstIsn,
  fullnatService,
  isn6,
  LIP,
  LIP6,
  type Row,
  RS,
  RS6,
  service6,
  tcp,
  tcp6,
  VIP,
  VIP6,
} from "../engine_fixture.ts";
import type { Scenario } from "./scenario.ts";

/** The client's ISN and the real server's in the offload scenarios. */
export const OFFLOAD_CLIENT_ISN = 1000;
export const OFFLOAD_RS_ISN = 9000;

/**
 * FULLNAT: a handshake with window scales 7 (client) and 9 (server), 100 bytes from the
 * client, then 5 from the server acknowledging them: offloadable from the last row on.
 */
export const OFFLOAD_FULLNAT: Scenario = {
  section: "offload",
  what: "a FULLNAT connection up to the real server's first data",
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    const D = (firstIsn(ms) - OFFLOAD_CLIENT_ISN) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    return [
      {
        what: "SYN, window scale 7",
        input: tcp(C, VIP, 40000, 80, "S", 1000).mss(1460).wscale(7),
        verdict: Verdict.Rewritten,
      },
      {
        what: "SYN-ACK, window scale 9",
        input: tcp(RS, LIP, 8080, 5000, "SA", 9000, up(1001)).mss(1460).wscale(9),
        verdict: Verdict.Rewritten,
      },
      { what: "ACK", input: tcp(C, VIP, 40000, 80, "A", 1001, 9001), verdict: Verdict.Rewritten },
      {
        what: "100 client bytes",
        input: tcp(C, VIP, 40000, 80, "PA", 1001, 9001).payload(new Uint8Array(100)),
        verdict: Verdict.Rewritten,
      },
      {
        what: "RS data, 5 bytes, acking the client's 100",
        input: tcp(RS, LIP, 8080, 5000, "PA", 9001, up(1101)).payload("hello"),
        verdict: Verdict.Rewritten,
      },
    ];
  },
};

/** The same connection over IPv6, without window scales. */
export const OFFLOAD_FULLNAT_V6: Scenario = {
  section: "offload",
  what: "an IPv6 FULLNAT connection up to the real server's first data",
  configure: (ctl) => void service6(ctl),
  rows(ms: number): Row[] {
    const D = (isn6(ms) - OFFLOAD_CLIENT_ISN) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    return [
      { what: "SYN", input: tcp6(C6, VIP6, 40000, 80, "S", 1000), verdict: Verdict.Rewritten },
      {
        what: "SYN-ACK",
        input: tcp6(RS6, LIP6, 8080, 5000, "SA", 9000, up(1001)),
        verdict: Verdict.Rewritten,
      },
      {
        what: "ACK",
        input: tcp6(C6, VIP6, 40000, 80, "A", 1001, 9001),
        verdict: Verdict.Rewritten,
      },
      {
        what: "RS data",
        input: tcp6(RS6, LIP6, 8080, 5000, "PA", 9001, up(1001)).payload("hello"),
        verdict: Verdict.Rewritten,
      },
    ];
  },
};

/** VIP:80 to RS:80 in NAT mode. */
function natService(ctl: EngineControl): void {
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "nat" });
}

/** NAT: the client's own sequence space, the real server's data acknowledging nothing new. */
export const OFFLOAD_NAT: Scenario = {
  section: "offload",
  what: "a NAT connection up to the real server's first data",
  configure: natService,
  rows: (): Row[] => [
    {
      what: "SYN, window scale 2",
      input: tcp(C, VIP, 40000, 80, "S", 1000).wscale(2),
      verdict: Verdict.Rewritten,
    },
    { what: "SYN-ACK", input: tcp(RS, C, 80, 40000, "SA", 9000, 1001), verdict: Verdict.Rewritten },
    { what: "ACK", input: tcp(C, VIP, 40000, 80, "A", 1001, 9001), verdict: Verdict.Rewritten },
    {
      what: "RS data",
      input: tcp(RS, C, 80, 40000, "PA", 9001, 1001).payload("hello"),
      verdict: Verdict.Rewritten,
    },
  ],
};
