/**
 * Seed 4.2, FULLNAT transmit: the in-handler (client->RS: DNAT+SNAT, sequence shifted, TOA,
 * SYN timestamp blanked) and the out-handler (RS->client: back from the VIP, ack and SACK
 * shifted back, SYN-ACK MSS clamped) over a whole connection, in IPv4 and in IPv6.
 *
 * @module
 */
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
import { Verdict } from "../../src/nfqueue/handler.ts";
import type { Scenario } from "./scenario.ts";

/** Handshake, data both ways and the real server's FIN, byte by byte. */
export const FULLNAT_HANDSHAKE: Scenario = {
  section: "4.2 FULLNAT transmit",
  what: "handshake, data both ways and close",
  configure: (ctl) => void fullnatService(ctl),
  rows(ms: number): Row[] {
    // Client seq 1000 maps to our ISN: client->RS seq += D, RS->client ack and SACK -= D.
    const D = (firstIsn(ms) - 1000) >>> 0;
    const up = (seq: number) => (seq + D) >>> 0;
    return [
      {
        what: "client SYN: DNAT+SNAT, new ISN, TOA first, timestamp blanked",
        input: tcp(C, VIP, 40000, 80, "S", 1000).mss(1460).sackPermitted().timestamp(7, 0).nop()
          .wscale(7),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "S", up(1000)).toa(C, 40000).mss(1460).sackPermitted()
          .nop(10).nop().wscale(7),
      },
      {
        what: "RS SYN-ACK: back from the VIP, ack shifted back, MSS lowered by 8",
        input: tcp(RS, LIP, 8080, 5000, "SA", 9000, up(1001)).mss(1460),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 9000, 1001).mss(1452),
      },
      {
        what: "client third-handshake ACK carries TOA",
        input: tcp(C, VIP, 40000, 80, "A", 1001, 9001),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "A", up(1001), 9001).toa(C, 40000),
      },
      {
        what: "client data before the RS spoke carries TOA (odd length)",
        input: tcp(C, VIP, 40000, 80, "PA", 1001, 9001).payload("GET / HTTP/1.0\r\n\r\n!"),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "PA", up(1001), 9001).toa(C, 40000)
          .payload("GET / HTTP/1.0\r\n\r\n!"),
      },
      {
        what: "RS data",
        input: tcp(RS, LIP, 8080, 5000, "PA", 9001, up(1020)).payload(
          "HTTP/1.0 200 OK\r\n\r\nhello",
        ),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "PA", 9001, 1020).payload("HTTP/1.0 200 OK\r\n\r\nhello"),
      },
      {
        what: "client ACK after the RS spoke: no TOA; its SACK (RS space) untouched",
        input: tcp(C, VIP, 40000, 80, "A", 1020, 9026).nop(2).sack([[9100, 9200]]),
        verdict: Verdict.Rewritten,
        output: tcp(LIP, RS, 5000, 8080, "A", up(1020), 9026).nop(2).sack([[9100, 9200]]),
      },
      {
        what: "RS ACK with SACK blocks at an odd offset: both edges of each shifted back",
        input: tcp(RS, LIP, 8080, 5000, "A", 9026, up(1020)).nop().sack([
          [up(2000), up(3000)],
          [up(0xfffffff0), up(5)],
        ]).nop(3),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "A", 9026, 1020).nop().sack([[2000, 3000], [
          0xfffffff0,
          5,
        ]]).nop(3),
      },
      {
        what: "RS FIN",
        input: tcp(RS, LIP, 8080, 5000, "FA", 9026, up(1020)),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "FA", 9026, 1020),
      },
    ];
  },
};

/**
 * The same over IPv6: the IPv6 TOA (length 20), the MSS lowered by 20, the IPv6 ISN, and
 * sequence and SACK translated.
 */
export const FULLNAT_HANDSHAKE_V6: Scenario = {
  section: "4.2 FULLNAT transmit",
  what: "IPv6 handshake, data both ways, SACK",
  configure: (ctl) => void service6(ctl),
  rows(ms: number): Row[] {
    const D = (isn6(ms) - 1000) >>> 0;
    const up = (n: number) => (n + D) >>> 0;
    return [
      {
        what: "SYN: addresses, ISN, TOA first, timestamp blanked",
        input: tcp6(C6, VIP6, 40000, 80, "S", 1000).mss(1440).sackPermitted().timestamp(5, 0).nop()
          .wscale(7),
        verdict: Verdict.Rewritten,
        output: tcp6(LIP6, RS6, 5000, 8080, "S", up(1000)).toa6(C6, 40000).mss(1440)
          .sackPermitted().nop(10).nop().wscale(7),
      },
      {
        what: "SYN-ACK: from the VIP, ack back, MSS lowered by 20",
        input: tcp6(RS6, LIP6, 8080, 5000, "SA", 7000, up(1001)).mss(1440),
        verdict: Verdict.Rewritten,
        output: tcp6(VIP6, C6, 80, 40000, "SA", 7000, 1001).mss(1420),
      },
      {
        what: "third ACK with TOA",
        input: tcp6(C6, VIP6, 40000, 80, "A", 1001, 7001),
        verdict: Verdict.Rewritten,
        output: tcp6(LIP6, RS6, 5000, 8080, "A", up(1001), 7001).toa6(C6, 40000),
      },
      {
        what: "RS data",
        input: tcp6(RS6, LIP6, 8080, 5000, "PA", 7001, up(1001)).payload("hello"),
        verdict: Verdict.Rewritten,
        output: tcp6(VIP6, C6, 80, 40000, "PA", 7001, 1001).payload("hello"),
      },
      {
        what: "client data after the RS spoke: no TOA",
        input: tcp6(C6, VIP6, 40000, 80, "PA", 1001, 7006).payload("GET /"),
        verdict: Verdict.Rewritten,
        output: tcp6(LIP6, RS6, 5000, 8080, "PA", up(1001), 7006).payload("GET /"),
      },
      {
        what: "RS SACK edges shifted back",
        input: tcp6(RS6, LIP6, 8080, 5000, "A", 7006, up(1001)).nop(2).sack([[up(3000), up(4000)]]),
        verdict: Verdict.Rewritten,
        output: tcp6(VIP6, C6, 80, 40000, "A", 7006, 1001).nop(2).sack([[3000, 4000]]),
      },
    ];
  },
};
