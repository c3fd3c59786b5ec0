/**
 * A test bed for the end-to-end tests beyond IPv4 TCP: the namespace topology with its
 * options (IPv6 plan, a router with a smaller MTU), the real daemon in `lb`, and optionally
 * nginx on the real servers; always torn down, and a daemon that did not stop cleanly fails the
 * test. `testkit/bed.ts` is the IPv4 web bed built on it.
 *
 * @module
 */
import { formatEndpoint } from "../src/vocab/mod.ts";
import { type Balancer, startBalancer } from "./balancer.ts";
import { createTopology, type RouterOptions, type Topology } from "./netns.ts";
import { type NginxServer, startNginx } from "./servers.ts";

/** What {@linkcode withFamilyBed} hands the test. */
export interface FamilyBed {
  topo: Topology;
  lb: Balancer;
  /** Present when asked for with `nginx`. */
  nginx?: NginxServer;
}

/** Options of {@linkcode withFamilyBed}. */
export interface FamilyBedOptions {
  ipv6?: boolean;
  /** Give the real servers a default route via lb (NAT mode). */
  rsDefaultViaLb?: boolean;
  router?: RouterOptions;
  /** Start nginx on the real servers: on their IPv4 addresses, or IPv6 ones with `ipv6`. */
  nginx?: { bulkBytes?: number };
  daemonArgs?: string[];
}

/** Builds the bed, runs `fn`, always tears down; a daemon exit code other than 0 fails. */
export async function withFamilyBed(
  opts: FamilyBedOptions,
  fn: (bed: FamilyBed) => Promise<void>,
): Promise<void> {
  const topo = await createTopology({
    ipv6: opts.ipv6,
    router: opts.router,
    rsDefaultViaLb: opts.rsDefaultViaLb,
  });
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  let code: number | undefined;
  try {
    if (opts.nginx) {
      // nginx wants IPv6 listen addresses in brackets; its `ss` check then matches as well.
      const addrs = opts.ipv6
        ? topo.addrs.v6!.realServers.map((a) => `[${a}]`)
        : topo.addrs.realServers;
      nginx = await startNginx({ netns: topo.rs, addrs, bulkBytes: opts.nginx.bulkBytes });
    }
    lb = await startBalancer(topo, opts.daemonArgs);
    await fn({ topo, lb, nginx });
  } finally {
    code = await lb?.stop();
    await nginx?.stop();
    await topo.destroy();
  }
  if (code !== undefined && code !== 0) {
    throw new Error(`daemon exited with ${code}:\n${lb?.log()}`);
  }
}

/**
 * A FULLNAT service (`-t` or `-u`) over the given real servers at `rport`, round robin, with
 * `lips` as its local addresses, configured with `fullnat ipvsadm` as an operator would.
 */
export async function addFullnatService(
  lb: Balancer,
  proto: "tcp" | "udp",
  vip: string,
  port: number,
  servers: readonly string[],
  lips: readonly string[],
  rport = port,
): Promise<void> {
  const flag = proto === "tcp" ? "-t" : "-u";
  const svc = formatEndpoint(vip, port);
  await lb.ipvsadmOk("-A", flag, svc, "-s", "rr");
  for (const rs of servers) {
    await lb.ipvsadmOk("-a", flag, svc, "-r", formatEndpoint(rs, rport), "-b", "-w", "1");
  }
  for (const l of lips) await lb.ipvsadmOk("-P", flag, svc, "-z", l);
}
