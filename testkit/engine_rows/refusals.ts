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
  RS_PORT,
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
      what: "a non-SYN with no session: a RST at the sequence number it acknowledged",
      input: tcp(C, VIP, 40000, 80, "A", 1, 0x8000_0001).payload("lost"),
      verdict: Verdict.Rewritten,
      output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true }).tcp({
        sport: 80,
        dport: 40000,
        flags: "R",
        seq: 0x8000_0001,
        ack: 0,
        window: 0,
      }),
    },
    {
      what: "a SYN-ACK with no session: reset likewise",
      input: tcp(C, VIP, 40000, 80, "SA", 1, 7),
      verdict: Verdict.Rewritten,
      output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true }).tcp({
        sport: 80,
        dport: 40000,
        flags: "R",
        seq: 7,
        ack: 0,
        window: 0,
      }),
    },
    {
      what: "a RST with no session: never answered",
      input: tcp(C, VIP, 40000, 80, "R", 9),
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

/** The drop no-session policy: a lost session's client is left to its own timeout. */
export const NO_SESSION_DROPPED: Scenario = {
  section: "3 sessions: what matches none",
  what: "a non-SYN with no session dropped under the no-session policy drop",
  options: { noSessionPolicy: "drop" },
  configure: (ctl) => void fullnatService(ctl),
  rows: (): Row[] => [
    { what: "an ACK", input: tcp(C, VIP, 40000, 80, "A", 1, 1), verdict: Verdict.Drop },
    { what: "a FIN", input: tcp(C, VIP, 40000, 80, "FA", 1, 1), verdict: Verdict.Drop },
  ],
};

/**
 * A real server still holding a connection of a lost session on the tuple of a new one: it
 * answers the SYN with a bare (challenge) ACK, which the engine turns into a RST to it at the
 * sequence number it expects; the client's retransmitted SYN then connects.
 */
export const ORPHAN_ON_SERVER: Scenario = {
  section: "3 sessions: what matches none",
  what: "an orphan on the real server reset, then the retransmitted SYN connects",
  options: { localPortRange: [5000, 5000] },
  configure: (ctl) => void fullnatService(ctl),
  rows: (): Row[] => [
    { what: "client SYN", input: tcp(C, VIP, 40000, 80, "S", 1000), verdict: Verdict.Rewritten },
    {
      what: "the real server's challenge ACK: a RST from the local endpoint to it",
      input: tcp(RS, LIP, RS_PORT, 5000, "A", 0x7000_0000, 0x1234_5678),
      verdict: Verdict.Rewritten,
      output: ipv4({ src: LIP, dst: RS, ttl: 64, id: 0, df: true }).tcp({
        sport: 5000,
        dport: RS_PORT,
        flags: "R",
        seq: 0x1234_5678,
        ack: 0,
        window: 0,
      }),
    },
    {
      what: "the client's SYN retransmission is forwarded again",
      input: tcp(C, VIP, 40000, 80, "S", 1000),
      verdict: Verdict.Rewritten,
    },
    {
      what: "the real server's SYN-ACK now reaches the client",
      input: tcp(RS, LIP, RS_PORT, 5000, "SA", 555, 0),
      verdict: Verdict.Rewritten,
    },
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
