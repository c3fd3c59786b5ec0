/**
 * TUNNEL mode (ipvsadm `-i`): the client's packet, unchanged, wrapped in IPIP (IPv6 in IPv6)
 * from the balancer's tunnel source to the real server; replies bypass the balancer, so TCP
 * state follows the client alone; a packet that no longer fits the MTU once wrapped is
 * answered "fragmentation needed" / "packet too big"; GSO super-packets and families without
 * a tunnel source are dropped. The expected outer headers are built by testkit's own packet
 * builder and checksum code, not the engine's.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import { C, C6, type Row, RS, RS6, tcp, tcp6, VIP, VIP6 } from "../engine_fixture.ts";
import { ipv4, ipv6, type PacketBuilder } from "../packet_builder.ts";
import type { Scenario } from "./scenario.ts";

/** The balancer's IPv4 tunnel source (`--tunnel-source`). */
export const TUN_SRC = "203.0.113.250";
/** The balancer's IPv6 tunnel source. */
export const TUN_SRC6 = "2001:db8:b::250";

/** IP protocol numbers of the outer headers. */
const IPIP = 4;
const IPV6_IN_IP = 41;

/** VIP:80 (or VIP6:80) to RS:80 by tunnel. */
function tunnelService(v6: boolean, protocol: "tcp" | "udp" = "tcp") {
  return (ctl: EngineControl): void => {
    const key = { protocol, address: v6 ? VIP6 : VIP, port: 80 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: v6 ? RS6 : RS, port: 80, weight: 1, method: "tunnel" });
  };
}

/** `inner` wrapped in IPIP as the engine should: TTL 64, DF and TOS copied, the given id. */
export function ipip(inner: PacketBuilder, id: number, df = true, tos = 0): PacketBuilder {
  return ipv4({ src: TUN_SRC, dst: RS, ttl: 64, id, df, tos }).rawProto(IPIP).payload(
    inner.build(),
  );
}

/** `inner` wrapped in IPv6 (next header 41, hop limit 64) to the real server. */
export function ip6ip6(inner: PacketBuilder): PacketBuilder {
  return ipv6({ src: TUN_SRC6, dst: RS6, hopLimit: 64 }).rawProto(IPV6_IN_IP).payload(
    inner.build(),
  );
}

/** IPv4: handshake, data, the client's FIN, a stray reply; all wrapped, nothing rewritten. */
export const TUNNEL_IPV4: Scenario = {
  section: "TUNNEL",
  what: "client packets wrapped in IPIP unchanged, replies not the balancer's",
  options: { tunnelSources: [TUN_SRC] },
  configure: tunnelService(false),
  rows: (): Row[] => {
    const syn = tcp(C, VIP, 40000, 80, "S", 5).mss(1460).timestamp(1, 0);
    const ack = tcp(C, VIP, 40000, 80, "A", 6, 100);
    const data = tcp(C, VIP, 40000, 80, "PA", 6, 100).payload("GET / HTTP/1.0\r\n\r\n");
    const fin = tcp(C, VIP, 40000, 80, "FA", 24, 100);
    const nodf = ipv4({ src: C, dst: VIP, ttl: 61, id: 7, tos: 0x2e }).tcp({
      sport: 40000,
      dport: 80,
      flags: "A",
      seq: 25,
      ack: 101,
      window: 29200,
    });
    return [
      {
        what: "SYN: wrapped whole, no TOA, no sequence change, no timestamp removal",
        input: syn,
        verdict: Verdict.Rewritten,
        output: ipip(syn, 1),
      },
      { what: "third ACK", input: ack, verdict: Verdict.Rewritten, output: ipip(ack, 2) },
      { what: "data", input: data, verdict: Verdict.Rewritten, output: ipip(data, 3) },
      {
        what: "a reply from the real server crossing the balancer is passed on untouched",
        input: tcp(RS, C, 80, 40000, "A", 100, 24),
        verdict: Verdict.Accept,
      },
      { what: "client FIN", input: fin, verdict: Verdict.Rewritten, output: ipip(fin, 4) },
      {
        what: "no DF: the outer header has none either, TOS copied",
        input: nodf,
        verdict: Verdict.Rewritten,
        output: ipip(nodf, 5, false, 0x2e),
      },
    ];
  },
};

/** 580 bytes of client data: 620 with IPv4 and TCP headers, 640 wrapped. */
const BIG = new Uint8Array(580).fill(0x61);

/** IPv4 MTU: a DF packet that no longer fits once wrapped gets "fragmentation needed". */
export const TUNNEL_MTU_V4: Scenario = {
  section: "TUNNEL",
  what: "fragmentation needed for DF packets that outgrow the MTU once wrapped",
  options: { tunnelSources: [TUN_SRC], mtu: 620 },
  configure: tunnelService(false),
  rows: (): Row[] => {
    const syn = tcp(C, VIP, 40001, 80, "S", 5);
    const big = tcp(C, VIP, 40001, 80, "PA", 6, 100).payload(BIG);
    const bigNoDf = ipv4({ src: C, dst: VIP, ttl: 61, id: 9 }).tcp({
      sport: 40001,
      dport: 80,
      flags: "PA",
      seq: 6,
      ack: 100,
      window: 29200,
    }).payload(BIG);
    return [
      { what: "SYN", input: syn, verdict: Verdict.Rewritten, output: ipip(syn, 1) },
      {
        what: "620 bytes with DF: frag-needed from the VIP announcing 600 (620 - 20)",
        input: big,
        verdict: Verdict.Rewritten,
        output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0 }).icmp({ type: 3, code: 4, rest: 600 })
          .embed(big, 28),
      },
      {
        what: "620 bytes without DF: wrapped (640), the kernel fragments the outer packet",
        input: bigNoDf,
        verdict: Verdict.Rewritten,
        output: ipip(bigNoDf, 2, false),
      },
    ];
  },
};

/** IPv6: wrapped in IPv6 (next header 41); "packet too big" past the MTU. */
export const TUNNEL_IPV6: Scenario = {
  section: "TUNNEL",
  what: "IPv6 in IPv6, and packet too big past the MTU",
  options: { tunnelSources: [TUN_SRC, TUN_SRC6], mtu: 1500 },
  configure: tunnelService(true),
  rows: (): Row[] => {
    const syn = tcp6(C6, VIP6, 40000, 80, "S", 5).mss(1440);
    const ack = tcp6(C6, VIP6, 40000, 80, "A", 6, 100);
    // 40 + 20 + 1420 = 1480 bytes: 1520 wrapped.
    const big = tcp6(C6, VIP6, 40000, 80, "PA", 6, 100).payload(new Uint8Array(1420).fill(7));
    return [
      { what: "SYN", input: syn, verdict: Verdict.Rewritten, output: ip6ip6(syn) },
      { what: "ACK", input: ack, verdict: Verdict.Rewritten, output: ip6ip6(ack) },
      {
        what: "1480 bytes: packet too big from the VIP announcing 1460 (1500 - 40)",
        input: big,
        verdict: Verdict.Rewritten,
        output: ipv6({ src: VIP6, dst: C6, hopLimit: 64 }).icmp({ type: 2, code: 0, rest: 1460 })
          .embed(big, 48),
      },
    ];
  },
};

/** UDP is wrapped the same way; GSO super-packets and a family without a source are dropped. */
export const TUNNEL_UDP_AND_DROPS: Scenario = {
  section: "TUNNEL",
  what: "UDP wrapped; GSO super-packets and a family with no tunnel source dropped",
  options: { tunnelSources: [TUN_SRC6] },
  configure: (ctl) => {
    tunnelService(true, "udp")(ctl);
    tunnelService(false)(ctl);
  },
  rows: (): Row[] => {
    const dgram = ipv6({ src: C6, dst: VIP6, hopLimit: 61 }).udp({ sport: 5353, dport: 80 })
      .payload("hello");
    return [
      { what: "UDP datagram", input: dgram, verdict: Verdict.Rewritten, output: ip6ip6(dgram) },
      {
        what: "GSO super-packet: the kernel could not segment it once wrapped, dropped",
        input: dgram,
        skbInfo: 2,
        verdict: Verdict.Drop,
      },
      {
        what: "IPv4 SYN with no IPv4 tunnel source: dropped",
        input: tcp(C, VIP, 40002, 80, "S", 5),
        verdict: Verdict.Drop,
      },
    ];
  },
};
