/**
 * TUNNEL's other encapsulations (ipvsadm `--tun-type gue|gre`): GUE, the client's packet
 * behind UDP to the server's `--tun-port` and a 4-byte GUE header, and GRE, behind a 4-byte
 * header naming its EtherType; each without and with `--tun-csum`, IPv4 and IPv6, and the
 * MTU shrunk by their longer outer headers. The expected bytes are built here: the outer
 * headers by testkit's packet builder, the GRE checksum by testkit's own checksum code, the
 * GUE source port by this file's reading of the README's formula.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import type { RealServerSpec } from "../../src/fullnat/service_spec.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import { C, C6, type Row, RS, RS6, tcp, tcp6, VIP, VIP6 } from "../engine_fixture.ts";
import { internetChecksum } from "../inet_checksum.ts";
import { ipv4, ipv6, type PacketBuilder } from "../packet_builder.ts";
import type { Scenario } from "./scenario.ts";
import { TUN_SRC, TUN_SRC6 } from "./tunnel.ts";

/** GUE's UDP port on the real servers (ipvsadm's man page example). */
export const GUE_PORT = 6080;

/**
 * The UDP source port the README promises for a GUE packet of a client at `client` (its 16-bit
 * words) from `sport` to `dport`: 49152 plus the top 14 bits of
 * ((XOR of the words) << 14 XOR (sport * 31 + dport)) times 0x9E3779B1.
 */
export function expectedGueSport(client: number[], sport: number, dport: number): number {
  const x = client.reduce((a, w) => a ^ w, 0) & 0xffff;
  return 0xc000 + (Math.imul((x << 14) ^ (sport * 31 + dport), 0x9e3779b1) >>> 18);
}

const C_WORDS = [0xc633, 0x6402]; // 198.51.100.2
const C6_WORDS = C6.split(":").flatMap((w) => w === "" ? [] : [parseInt(w, 16)]);

/** One TUNNEL service VIP:`port` to RS:`port` with the given tunnel options. */
function service(v6: boolean, port: number, tunnel: Partial<RealServerSpec>) {
  return (ctl: EngineControl): void => {
    const key = { protocol: "tcp" as const, address: v6 ? VIP6 : VIP, port };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, {
      address: v6 ? RS6 : RS,
      port,
      weight: 1,
      method: "tunnel",
      ...tunnel,
    });
  };
}

/** GUE's header for an inner packet of IP protocol `proto` (4 or 41), then the packet. */
function gue(proto: number, inner: PacketBuilder): Uint8Array {
  const pkt = inner.build();
  const out = new Uint8Array(4 + pkt.length);
  out[1] = proto;
  out.set(pkt, 4);
  return out;
}

/** GRE's header for `ether` (with a checksum when `csum`), then the packet. */
function gre(ether: number, inner: PacketBuilder, csum: boolean): Uint8Array {
  const pkt = inner.build();
  const h = csum ? 8 : 4;
  const out = new Uint8Array(h + pkt.length);
  out[0] = csum ? 0x80 : 0;
  out[2] = ether >> 8;
  out[3] = ether & 0xff;
  out.set(pkt, h);
  if (csum) {
    const c = internetChecksum(out);
    out[4] = c >> 8;
    out[5] = c & 0xff;
  }
  return out;
}

/** IPv4 outer header from the tunnel source to RS, as the engine writes it. */
const outer4 = (id: number) => ipv4({ src: TUN_SRC, dst: RS, ttl: 64, id, df: true });
/** IPv6 outer header from the tunnel source to RS6. */
const outer6 = () => ipv6({ src: TUN_SRC6, dst: RS6, hopLimit: 64 });

/** IPv4 GUE, without a checksum (UDP's zero) and with one. */
export const TUNNEL_GUE_V4: Scenario = {
  section: "TUNNEL",
  what: "GUE over IPv4: UDP to the tunnel port, GUE header, the packet; zero or full checksum",
  options: { tunnelSources: [TUN_SRC] },
  configure: (ctl) => {
    service(false, 80, { tunnelType: "gue", tunnelPort: GUE_PORT })(ctl);
    service(false, 443, { tunnelType: "gue", tunnelPort: GUE_PORT, tunnelChecksum: true })(ctl);
  },
  rows: (): Row[] => {
    const syn = tcp(C, VIP, 40000, 80, "S", 5).mss(1460);
    const data = tcp(C, VIP, 40000, 80, "PA", 6, 100).payload("GET / HTTP/1.0\r\n\r\n");
    const other = tcp(C, VIP, 40001, 80, "S", 9);
    const syn443 = tcp(C, VIP, 40000, 443, "S", 5);
    const sport = (cport: number, vport: number) => expectedGueSport(C_WORDS, cport, vport);
    return [
      {
        what: "SYN: UDP to port 6080 with no checksum, GUE proto 4, the SYN unchanged",
        input: syn,
        verdict: Verdict.Rewritten,
        output: outer4(1).udp({ sport: sport(40000, 80), dport: GUE_PORT, checksum: 0 })
          .payload(gue(4, syn)),
      },
      {
        what: "data of the same flow: the same UDP source port",
        input: data,
        verdict: Verdict.Rewritten,
        output: outer4(2).udp({ sport: sport(40000, 80), dport: GUE_PORT, checksum: 0 })
          .payload(gue(4, data)),
      },
      {
        what: "another flow: its own source port",
        input: other,
        verdict: Verdict.Rewritten,
        output: outer4(3).udp({ sport: sport(40001, 80), dport: GUE_PORT, checksum: 0 })
          .payload(gue(4, other)),
      },
      {
        what: "--tun-csum: the UDP checksum covers the whole packet",
        input: syn443,
        verdict: Verdict.Rewritten,
        output: outer4(4).udp({ sport: sport(40000, 443), dport: GUE_PORT })
          .payload(gue(4, syn443)),
      },
    ];
  },
};

/** IPv4 GRE, without and with a checksum. */
export const TUNNEL_GRE_V4: Scenario = {
  section: "TUNNEL",
  what: "GRE over IPv4: protocol 47, EtherType 0x0800, optional checksum",
  options: { tunnelSources: [TUN_SRC] },
  configure: (ctl) => {
    service(false, 80, { tunnelType: "gre" })(ctl);
    service(false, 443, { tunnelType: "gre", tunnelChecksum: true })(ctl);
  },
  rows: (): Row[] => {
    const syn = tcp(C, VIP, 40000, 80, "S", 5).mss(1460);
    const syn443 = tcp(C, VIP, 40000, 443, "S", 5).payload("early data");
    return [
      {
        what: "SYN: GRE header 0000 0800, then the SYN",
        input: syn,
        verdict: Verdict.Rewritten,
        output: outer4(1).rawProto(47).payload(gre(0x0800, syn, false)),
      },
      {
        what: "--tun-csum: C bit, checksum over GRE header and packet",
        input: syn443,
        verdict: Verdict.Rewritten,
        output: outer4(2).rawProto(47).payload(gre(0x0800, syn443, true)),
      },
    ];
  },
};

/** IPv6: GUE (zero and full checksum) and GRE, and "packet too big" at the MTU less 52. */
export const TUNNEL_ENCAP_V6: Scenario = {
  section: "TUNNEL",
  what: "GUE and GRE over IPv6; packet too big announces the MTU less the GUE outer headers",
  options: { tunnelSources: [TUN_SRC6], mtu: 1500 },
  configure: (ctl) => {
    service(true, 80, { tunnelType: "gue", tunnelPort: GUE_PORT })(ctl);
    service(true, 443, { tunnelType: "gue", tunnelPort: GUE_PORT, tunnelChecksum: true })(ctl);
    service(true, 8080, { tunnelType: "gre", tunnelChecksum: true })(ctl);
  },
  rows: (): Row[] => {
    const syn = tcp6(C6, VIP6, 40000, 80, "S", 5).mss(1440);
    const syn443 = tcp6(C6, VIP6, 40000, 443, "S", 5);
    const syn8080 = tcp6(C6, VIP6, 40000, 8080, "S", 5);
    // 40 + 20 + 1400 = 1460 bytes: 1512 with IPv6, UDP and GUE in front.
    const big = tcp6(C6, VIP6, 40000, 80, "PA", 6, 100).payload(new Uint8Array(1400).fill(7));
    const sport = (vport: number) => expectedGueSport(C6_WORDS, 40000, vport);
    return [
      {
        what: "GUE, no checksum: UDP checksum zero (RFC 6935), GUE proto 41",
        input: syn,
        verdict: Verdict.Rewritten,
        output: outer6().udp({ sport: sport(80), dport: GUE_PORT, checksum: 0 })
          .payload(gue(41, syn)),
      },
      {
        what: "GUE with --tun-csum: full UDP checksum with the IPv6 pseudo-header",
        input: syn443,
        verdict: Verdict.Rewritten,
        output: outer6().udp({ sport: sport(443), dport: GUE_PORT }).payload(gue(41, syn443)),
      },
      {
        what: "GRE with a checksum, EtherType 0x86dd",
        input: syn8080,
        verdict: Verdict.Rewritten,
        output: outer6().rawProto(47).payload(gre(0x86dd, syn8080, true)),
      },
      {
        what: "1460 bytes: packet too big from the VIP announcing 1448 (1500 - 40 - 8 - 4)",
        input: big,
        verdict: Verdict.Rewritten,
        output: ipv6({ src: VIP6, dst: C6, hopLimit: 64 }).icmp({ type: 2, code: 0, rest: 1448 })
          .embed(big, 48),
      },
    ];
  },
};
