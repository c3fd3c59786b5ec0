/**
 * What the engine does not forward: packets that match no session and may not open one
 * (passed to the kernel or dropped, and counted), malformed packets (per malformed policy), and
 * connection attempts it cannot place (a reset from the VIP, or a drop, per reject policy).
 *
 * @module
 */
import {
  C,
  C6,
  fullnatService,
  LIP,
  type Row,
  RS,
  RS6,
  tcp,
  tcp6,
  VIP,
  VIP6,
} from "../engine_fixture.ts";
import { ipv4, ipv6 } from "../packet_builder.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** Passed through, dropped and counted: nothing here is or opens a session. */
export const NOT_A_SESSION: Scenario = {
  section: "3 sessions: what matches none",
  what: "passed through, dropped and counted",
  configure: (ctl) => void fullnatService(ctl),
  rows: (): Row[] => [
    {
      what: "another port of the VIP",
      input: tcp(C, VIP, 40000, 81, "S", 1),
      verdict: Verdict.Accept,
    },
    {
      what: "traffic to a local address with no session",
      input: tcp(RS, LIP, 22, 6000, "A", 1),
      verdict: Verdict.Accept,
    },
    {
      what: "a non-SYN with no session",
      input: tcp(C, VIP, 40000, 80, "A", 1, 1),
      verdict: Verdict.Drop,
    },
    {
      what: "a SYN-ACK with no session",
      input: tcp(C, VIP, 40000, 80, "SA", 1, 1),
      verdict: Verdict.Drop,
    },
    {
      what: "an IPv4 fragment",
      input: ipv4({ src: C, dst: VIP, mf: true }).tcp({ sport: 1, dport: 80, flags: "S" }),
      verdict: Verdict.Drop,
    },
    {
      what: "a TCP data offset past the end",
      input: ipv4({ src: C, dst: VIP }).tcp({ sport: 1, dport: 80, flags: "S", dataOffset: 15 }),
      verdict: Verdict.Drop,
    },
    {
      what: "ICMP to the VIP",
      input: ipv4({ src: C, dst: VIP }).icmp({ type: 8 }),
      verdict: Verdict.Accept,
    },
    {
      what: "total length beyond the bytes",
      input: tcp(C, VIP, 40001, 80, "S", 1),
      truncate: 30,
      verdict: Verdict.Drop,
    },
    { what: "empty", input: tcp(C, VIP, 40001, 80, "S", 1), truncate: 0, verdict: Verdict.Accept },
  ],
};

/** The accept policy hands what it cannot parse to the kernel unchanged. */
export const MALFORMED_ACCEPTED: Scenario = {
  section: "3 sessions: what matches none",
  what: "malformed packets accepted unchanged under the accept policy",
  options: { malformedPolicy: "accept" },
  configure: (ctl) => void fullnatService(ctl),
  rows: (): Row[] => [{
    what: "bad data offset",
    input: ipv4({ src: C, dst: VIP }).tcp({ sport: 1, dport: 80, flags: "S", dataOffset: 15 }),
    verdict: Verdict.Accept,
  }],
};

/** A service with a real server but no local address. */
export const NO_LOCAL_ADDRESS_RESET: Scenario = {
  section: "refusals",
  what: "a SYN it cannot place answered with a RST",
  configure: (ctl) => void fullnatService(ctl, [RS], []),
  rows: (): Row[] => [{
    what: "no local address: reset from the VIP acknowledging the SYN",
    input: tcp(C, VIP, 40000, 80, "S", 0xfffffffe).mss(1460).payload("x"),
    verdict: Verdict.Rewritten,
    output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true }).tcp({
      sport: 80,
      dport: 40000,
      flags: "RA",
      seq: 0,
      ack: 0, // 0xfffffffe + SYN + 1 byte wraps to 0
      window: 0,
    }),
  }],
};

/** The drop policy, and a service whose only server is quiesced (weight 0). */
export const NO_SERVER_DROPPED: Scenario = {
  section: "refusals",
  what: "under the drop policy a SYN with no usable server dropped",
  options: { rejectPolicy: "drop" },
  configure(ctl) {
    const key = fullnatService(ctl);
    ctl.editRealServer(key, { address: RS, port: 8080, weight: 0 });
  },
  rows: (): Row[] => [{
    what: "quiesced",
    input: tcp(C, VIP, 1, 80, "S", 1),
    verdict: Verdict.Drop,
  }],
};

/** An IPv6 service on port 443 with a real server but no local address. */
export const NO_LOCAL_ADDRESS_RESET_V6: Scenario = {
  section: "refusals",
  what: "an IPv6 SYN it cannot place answered with a RST",
  configure(ctl) {
    const key = { protocol: "tcp" as const, address: VIP6, port: 443 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS6, port: 443, weight: 1, method: "fullnat" });
  },
  rows: (): Row[] => [{
    what: "a SYN with no local address to use is refused with a reset from the VIP",
    input: tcp6(C6, VIP6, 41000, 443, "S", 99),
    verdict: Verdict.Rewritten,
    output: ipv6({ src: VIP6, dst: C6 }).tcp({
      sport: 443,
      dport: 41000,
      flags: "RA",
      seq: 0,
      ack: 100,
      window: 0,
    }),
  }],
};
