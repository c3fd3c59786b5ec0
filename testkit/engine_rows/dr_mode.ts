/**
 * DR mode (ipvsadm `-g`, issue 17): the client's packets go on byte for byte, still to the
 * VIP, with the real server's mark in the verdict; the server answers the client directly,
 * so the session sees client segments only and TCP follows IPVS's input-only state table.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import { drMark } from "../../src/fullnat/dr_mark.ts";
import { C, C6, type Row, RS, RS6, tcp, tcp6, VIP, VIP6 } from "../engine_fixture.ts";
import { ipv4 } from "../packet_builder.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** VIP:80 (and VIP6:80) to RS:80 by direct routing, TCP and UDP. */
function drService(ctl: EngineControl): void {
  for (const protocol of ["tcp", "udp"] as const) {
    const key = { protocol, address: VIP, port: 80 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "dr" });
  }
  const key6 = { protocol: "tcp" as const, address: VIP6, port: 80 };
  ctl.addService(key6, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key6, { address: RS6, port: 80, weight: 1, method: "dr" });
}

/** The mark of {@linkcode RS}'s DR packets. */
export const DR_MARK = drMark(RS);
/** The mark of {@linkcode RS6}'s DR packets. */
export const DR_MARK6 = drMark(RS6);

/** A client's TCP connection, a UDP datagram and an IPv6 SYN, all untouched and marked. */
export const DR_UNCHANGED: Scenario = {
  section: "issue 17 DR mode",
  what: "client packets forwarded unchanged with the real server's mark",
  configure: drService,
  rows: (): Row[] => [
    {
      what: "client SYN keeps VIP, ports, seq, options",
      input: tcp(C, VIP, 40000, 80, "S", 5).mss(1460).timestamp(1, 0),
      verdict: Verdict.Marked,
      mark: DR_MARK,
    },
    {
      what: "third ACK",
      input: tcp(C, VIP, 40000, 80, "A", 6, 100),
      verdict: Verdict.Marked,
      mark: DR_MARK,
    },
    {
      what: "data, TOA left as the client sent it (the server sees the client itself)",
      input: tcp(C, VIP, 40000, 80, "PA", 6, 100).toa(C, 40000).payload("GET /"),
      verdict: Verdict.Marked,
      mark: DR_MARK,
    },
    {
      what: "UDP datagram",
      input: ipv4({ src: C, dst: VIP, ttl: 64 }).udp({ sport: 3333, dport: 80 }).payload("q"),
      verdict: Verdict.Marked,
      mark: DR_MARK,
    },
    {
      what: "IPv6 SYN",
      input: tcp6(C6, VIP6, 40000, 80, "S", 5),
      verdict: Verdict.Marked,
      mark: DR_MARK6,
    },
  ],
};

/** A connection's life from its client's flags alone: SYN, ACK, FIN. */
export const DR_CLIENT_STATES: Scenario = {
  section: "issue 17 DR mode",
  what: "TCP state from the client's flags only (IPVS's input-only table)",
  configure: drService,
  rows: (): Row[] => [
    { what: "SYN", input: tcp(C, VIP, 40001, 80, "S", 5), verdict: Verdict.Marked },
    { what: "ACK", input: tcp(C, VIP, 40001, 80, "A", 6, 1), verdict: Verdict.Marked },
    { what: "FIN", input: tcp(C, VIP, 40001, 80, "FA", 6, 1), verdict: Verdict.Marked },
  ],
};
