/**
 * An ICMP error about a DR or TUNNEL real server's reply, for end-to-end tests: the server
 * answered the client from the VIP itself, so a router that cannot pass that reply sends
 * "fragmentation needed" (IPv6: "packet too big") back to the VIP, which is the balancer. The
 * balancer must hand it to the server unchanged. Here scapy plays that router from the client
 * namespace (quoting a reply of a live session, as the server sent it), and a capture on the
 * real server's side finds what arrived.
 *
 * @module
 */
import { startCapture } from "./capture.ts";
import type { Topology } from "./netns.ts";

/** The session whose reply the error quotes. */
export interface QuotedReply {
  vip: string;
  vport: number;
  client: string;
  cport: number;
}

/** The client port of a live session of `client` to `vip:vport` in `ipvsadm -L -n -c` text. */
export function clientPort(listing: string, client: string, vip: string, vport: number): number {
  const host = (a: string) => (a.includes(":") ? `\\[${a}\\]` : a).replaceAll(".", "\\.");
  const m = listing.match(new RegExp(`${host(client)}:(\\d+) +${host(vip)}:${vport} `));
  if (m === null) throw new Error(`no session of ${client} to ${vip}:${vport}:\n${listing}`);
  return Number(m[1]);
}

/**
 * Sends, from `topo.client`, an error with next-hop MTU 1280 quoting the reply `q` (the head of
 * a 1400-byte segment from the VIP to the client, as a router quotes it), while capturing ICMP on `rsIface` in `topo.rs`. Returns
 * the errors of that type quoting that reply (its ports checked), as IP packets, that reached
 * the real server.
 */
export async function errorReachesServer(
  topo: Topology,
  q: QuotedReply,
  rsIface: string,
): Promise<Uint8Array[]> {
  const v6 = q.vip.includes(":");
  const cap = await startCapture(topo.rs, rsIface, [v6 ? "icmp6" : "icmp"]);
  const layer = v6
    ? `IPv6(src="${q.client}", dst="${q.vip}")/ICMPv6PacketTooBig(mtu=1280)/` +
      `IPv6(src="${q.vip}", dst="${q.client}", plen=1420)`
    : `IP(src="${q.client}", dst="${q.vip}")/ICMP(type=3, code=4, nexthopmtu=1280)/` +
      `IP(src="${q.vip}", dst="${q.client}", flags="DF", len=1440)`;
  const script = "from scapy.all import *\n" +
    `send(${layer}/TCP(sport=${q.vport}, dport=${q.cport}, flags="PA", seq=1000)/` +
    `(b"x" * 64), verbose=0)\n`;
  const r = await topo.exec("client", ["/usr/bin/python3", "-c", script]);
  if (r.code !== 0) throw new Error(`scapy: ${r.stderr}`);
  await new Promise((res) => setTimeout(res, 300));
  const got = await cap.stop();
  return got.filter((p) => {
    const ver = p[0] >> 4;
    const icmp = ver === 4 ? (p[0] & 15) * 4 : 40;
    const type = p[icmp];
    if (ver === 4 ? type !== 3 : type !== 2) return false;
    const quote = icmp + 8;
    const ql4 = ver === 4 ? quote + (p[quote] & 15) * 4 : quote + 40;
    const sport = (p[ql4] << 8) | p[ql4 + 1];
    const dport = (p[ql4 + 2] << 8) | p[ql4 + 3];
    return sport === q.vport && dport === q.cport;
  });
}
