/**
 * The real-server side of modes whose replies bypass the balancer (DR, and TUNNEL's return):
 * on a topology from `netns.ts`, a direct link between `client` and `rs` (`ret0`,
 * 100.64.0.1/30 and fd64::1/64 on the client, .2 and ::2 on the server) that the server's
 * replies to the client take, the VIPs on the server's `lo`, and the ARP settings an LVS DR
 * real server has (`arp_ignore=1`, `arp_announce=2`, so it never answers ARP for the VIP nor
 * announces it on the shared segment). `rp_filter` is off at both ends of the new path:
 * replies from the VIP reach the client by another interface than its route to the VIP.
 *
 * @module
 */
import type { Topology } from "./netns.ts";

/** Interface name of the direct link at both ends. */
export const RETURN_IFACE = "ret0";
/** Addresses of the direct link. */
export const RETURN_PLAN = {
  client: "100.64.0.1",
  rs: "100.64.0.2",
  client6: "fd64::1",
  rs6: "fd64::2",
} as const;

/** Builds the return path and puts `vips` (either family) on the server's `lo`. */
export async function addDirectReturn(topo: Topology, vips: readonly string[]): Promise<void> {
  const p = RETURN_PLAN;
  await topo.exec("client", [
    "ip",
    "link",
    "add",
    RETURN_IFACE,
    "type",
    "veth",
    "peer",
    "name",
    RETURN_IFACE,
    "netns",
    topo.rs,
  ], { check: true });
  const v6 = topo.addrs.v6;
  const batch = (ns: "client" | "rs", lines: string[]) =>
    topo.exec(ns, ["ip", "-batch", "-"], { stdin: lines.join("\n") + "\n", check: true });
  await batch("client", [
    `addr add ${p.client}/30 dev ${RETURN_IFACE}`,
    ...(v6 ? [`addr add ${p.client6}/64 dev ${RETURN_IFACE} nodad`] : []),
    `link set ${RETURN_IFACE} up`,
  ]);
  await batch("rs", [
    `addr add ${p.rs}/30 dev ${RETURN_IFACE}`,
    ...(v6 ? [`addr add ${p.rs6}/64 dev ${RETURN_IFACE} nodad`] : []),
    `link set ${RETURN_IFACE} up`,
    `route add ${topo.addrs.client}/32 via ${p.client} dev ${RETURN_IFACE}`,
    ...(v6 ? [`route add ${v6.client}/128 via ${p.client6} dev ${RETURN_IFACE}`] : []),
    ...vips.map((v) => `addr add ${v}/${v.includes(":") ? 128 : 32} dev lo`),
  ]);
  const sysctl = (ns: "client" | "rs", settings: string[]) =>
    topo.exec(ns, ["sysctl", "-qw", ...settings], { check: true });
  const rpOff = (ifaces: string[]) =>
    ["all", "default", ...ifaces].map((i) => `net.ipv4.conf.${i}.rp_filter=0`);
  await sysctl("client", rpOff([topo.ifaces.client, RETURN_IFACE]));
  await sysctl("rs", [
    ...rpOff([topo.ifaces.rs, RETURN_IFACE]),
    "net.ipv4.conf.all.arp_ignore=1",
    "net.ipv4.conf.all.arp_announce=2",
    `net.ipv4.conf.${topo.ifaces.rs}.arp_ignore=1`,
    `net.ipv4.conf.${topo.ifaces.rs}.arp_announce=2`,
  ]);
}
