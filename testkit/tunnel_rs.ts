/**
 * A real server set up for fullnat's TUNNEL mode inside a topology's `rs` namespace: the VIPs
 * on `lo`, a tunnel device that receives what the balancer's tunnel source wraps (`ipip` for
 * IPv4, `ip6tnl` for IPv6, per real-server address), `rp_filter` off on it (the unwrapped
 * packet's source, the client, is routed elsewhere), `arp_ignore=1` / `arp_announce=2` so the
 * VIP on `lo` is never announced, and a return path to the client that does not cross the
 * balancer: all but the tunnel devices are DR's real-server set-up (`direct_return.ts`), so
 * one `rs` namespace can hold DR and TUNNEL real servers at once.
 *
 * Kernels built without IPIP and ip6tnl (CONFIG_NET_IPIP, CONFIG_IPV6_TUNNEL unset, as on
 * some CI machines) get `ipip_decap.py` instead: raw sockets and a TUN device, accepting the
 * same packets (outer source the tunnel source, outer destination a real server's address).
 * GUE and GRE real servers (`encap`) always get it, with its UDP socket on the GUE port and its
 * GRE socket: one decapsulator for every type keeps the test bed the same on every kernel.
 *
 * @module
 */
import type { Topology } from "./netns.ts";
import { addDirectReturn } from "./direct_return.ts";

const DECAP = new URL("./ipip_decap.py", import.meta.url).pathname;

/** A tunnel real server; {@linkcode stop} undoes nothing (the namespaces go), it reports. */
export interface TunnelRealServer {
  /** "kernel" (ipip / ip6tnl devices) or "user" (ipip_decap.py). */
  readonly kind: "kernel" | "user";
  /** The devices unwrapped packets arrive on (to match them in the server's rules). */
  readonly ifaces: readonly string[];
  /** Packets unwrapped per real-server address. */
  unwrapped(): Promise<Record<string, number>>;
  /** Packets unwrapped per encapsulation (`ipip`, `gue`, `gre`; user-space only, else {}). */
  kinds(): Promise<Record<string, number>>;
  /** Stops the user-space decapsulator, if any. */
  stop(): Promise<void>;
}

/** What the real servers of a TUNNEL service need. */
export interface TunnelRsOptions {
  /** The balancer's tunnel sources (`--tunnel-source`), IPv4 and maybe IPv6. */
  source4: string;
  source6?: string;
  /** VIPs to put on `lo`. */
  vips: readonly string[];
  /** Real-server addresses that receive tunnelled packets (already on rs's eth0). */
  servers4: readonly string[];
  servers6?: readonly string[];
  /** Also take GUE on this UDP port and GRE (user-space decapsulation, whatever the kernel). */
  encap?: { guePort?: number; gre?: boolean };
}

/** Sets up `topo.rs` as TUNNEL real servers (see the module doc). */
export async function setupTunnelRs(
  topo: Topology,
  o: TunnelRsOptions,
): Promise<TunnelRealServer> {
  // The VIPs on lo, the ARP settings and the direct way back to the client are DR's.
  await addDirectReturn(topo, o.vips);
  if (o.encap !== undefined) return await userTunnel(topo, o);
  const kernel = await topo.exec("rs", [
    "ip",
    "link",
    "add",
    "tun0",
    "type",
    "ipip",
    "local",
    o.servers4[0],
    "remote",
    o.source4,
  ]);
  if (kernel.code === 0) return kernelTunnels(topo, o);
  return await userTunnel(topo, o);
}

/** One `ipip` (and `ip6tnl`) device per real-server address (tun0 exists already). */
async function kernelTunnels(topo: Topology, o: TunnelRsOptions): Promise<TunnelRealServer> {
  const devs: [string, string][] = [];
  for (const [i, a] of o.servers4.entries()) {
    const dev = `tun${i}`;
    if (i > 0) {
      await topo.exec("rs", [
        "ip",
        "link",
        "add",
        dev,
        "type",
        "ipip",
        "local",
        a,
        "remote",
        o.source4,
      ], {
        check: true,
      });
    }
    devs.push([dev, a]);
  }
  for (const [i, a] of (o.servers6 ?? []).entries()) {
    const dev = `tun6_${i}`;
    await topo.exec("rs", [
      "ip",
      "link",
      "add",
      dev,
      "type",
      "ip6tnl",
      "mode",
      "ip6ip6",
      "local",
      a,
      "remote",
      o.source6!,
    ], { check: true });
    devs.push([dev, a]);
  }
  for (const [dev] of devs) {
    await topo.exec("rs", ["ip", "link", "set", dev, "up"], { check: true });
    if (!dev.startsWith("tun6")) {
      await topo.exec("rs", ["sysctl", "-qw", `net.ipv4.conf.${dev}.rp_filter=0`], { check: true });
    }
  }
  return {
    kind: "kernel",
    ifaces: devs.map(([dev]) => dev),
    async unwrapped() {
      const out: Record<string, number> = {};
      for (const [dev, a] of devs) {
        const r = await topo.exec("rs", ["cat", `/sys/class/net/${dev}/statistics/rx_packets`], {
          check: true,
        });
        out[a] = Number(r.stdout.trim());
      }
      return out;
    },
    kinds: () => Promise.resolve({}),
    stop: () => Promise.resolve(),
  };
}

/** `ipip_decap.py` and its TUN device `tunfn`. */
async function userTunnel(topo: Topology, o: TunnelRsOptions): Promise<TunnelRealServer> {
  const child = topo.spawn("rs", [
    "/usr/bin/python3",
    "-u",
    DECAP,
    ...(o.encap?.guePort !== undefined ? ["--gue", String(o.encap.guePort)] : []),
    ...(o.encap?.gre ? ["--gre"] : []),
    "tunfn",
    o.source4,
    o.source6 ?? "-",
    ...o.servers4,
    ...(o.servers6 ?? []),
  ], { stdout: "piped", stderr: "piped" });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) {
      const err = await new Response(child.stderr).text();
      throw new Error(`ipip_decap.py ended before it was ready: ${err}`);
    }
    text += value;
  }
  await topo.exec("rs", ["ip", "link", "set", "tunfn", "up"], { check: true });
  await topo.exec("rs", ["sysctl", "-qw", "net.ipv4.conf.tunfn.rp_filter=0"], { check: true });
  let final: { unwrapped: Record<string, number>; kinds: Record<string, number> } | undefined;
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    if (final !== undefined) return;
    child.kill("SIGTERM");
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += value;
    }
    await child.status;
    const line = rest.trim().split("\n").pop() ?? "";
    if (!line.startsWith("{")) throw new Error(`ipip_decap.py: ${rest} ${await stderr}`);
    final = JSON.parse(line);
  };
  return {
    kind: "user",
    ifaces: ["tunfn"],
    async unwrapped() {
      await stop();
      return final!.unwrapped;
    },
    async kinds() {
      await stop();
      return final!.kinds;
    },
    stop,
  };
}
