/**
 * Seed 5.1, UDP: any datagram to a service opens a session; ports and checksum are rewritten,
 * a zero (absent) IPv4 checksum stays zero, and in IPv6, where the checksum is mandatory, an
 * ICMPv6 port unreachable from the real server finds its way back to the client.
 *
 * @module
 */
import { C, C6, LIP, LIP6, type Row, RS, RS6, service6, VIP, VIP6 } from "../engine_fixture.ts";
import { ipv4, ipv6 } from "../packet_builder.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

const udp = (src: string, dst: string, sport: number, dport: number, checksum?: number) =>
  ipv4({ src, dst, ttl: 64 }).udp({ sport, dport, checksum }).payload("query?");

const udp6 = (src: string, dst: string, sport: number, dport: number) =>
  ipv6({ src, dst }).udp({ sport, dport }).payload("query?");

/** VIP:53 to RS:5353 from LIP. */
export const UDP_FULLNAT: Scenario = {
  section: "5.1 UDP",
  what: "ports and checksum rewritten, a zero checksum kept zero",
  configure(ctl) {
    const key = { protocol: "udp" as const, address: VIP, port: 53 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS, port: 5353, weight: 1, method: "fullnat" });
    ctl.addLocalAddress(key, LIP);
  },
  rows: (): Row[] => [
    {
      what: "query",
      input: udp(C, VIP, 3333, 53),
      verdict: Verdict.Rewritten,
      output: udp(LIP, RS, 5000, 5353),
    },
    {
      what: "answer",
      input: udp(RS, LIP, 5353, 5000),
      verdict: Verdict.Rewritten,
      output: udp(VIP, C, 53, 3333),
    },
    {
      what: "no-checksum datagram",
      input: udp(C, VIP, 3333, 53, 0),
      verdict: Verdict.Rewritten,
      output: udp(LIP, RS, 5000, 5353, 0),
    },
  ],
};

/** VIP6:53 to RS6:8080 from LIP6. */
export const UDP_FULLNAT_V6: Scenario = {
  section: "5.1 UDP",
  what: "IPv6 query, and the port unreachable it draws",
  configure: (ctl) => void service6(ctl, "udp", 53),
  rows: (): Row[] => [
    {
      what: "query",
      input: udp6(C6, VIP6, 3333, 53),
      verdict: Verdict.Rewritten,
      output: udp6(LIP6, RS6, 5000, 8080),
    },
    {
      what: "port unreachable from the RS back to the client",
      input: ipv6({ src: RS6, dst: LIP6 }).icmp({ type: 1, code: 4 }).embed(
        udp6(LIP6, RS6, 5000, 8080),
      ),
      verdict: Verdict.Rewritten,
      output: ipv6({ src: VIP6, dst: C6 }).icmp({ type: 1, code: 4 }).embed(
        udp6(C6, VIP6, 3333, 53),
      ),
    },
  ],
};
