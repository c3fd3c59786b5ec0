/**
 * A test bed for end-to-end tests: the namespace topology, nginx on the real servers and the
 * real daemon in `lb`, always torn down, and a daemon that did not stop cleanly fails the test.
 *
 * @module
 */
import { createTopology, type Topology } from "../support/netns.ts";
import { type NginxServer, startNginx } from "../support/servers.ts";
import { type Balancer, startBalancer } from "./balancer.ts";

export interface Bed {
  topo: Topology;
  lb: Balancer;
  nginx: NginxServer;
  vip: string;
}

/** Builds the topology, starts nginx and the daemon, runs `fn`, and always tears down. */
export async function withBed(
  opts: { nat?: boolean; bulkBytes?: number; daemonArgs?: string[] },
  fn: (bed: Bed) => Promise<void>,
): Promise<void> {
  const topo = await createTopology({ rsDefaultViaLb: opts.nat ?? false });
  let lb: Balancer | undefined;
  let nginx: NginxServer | undefined;
  let code: number | undefined;
  try {
    nginx = await startNginx({
      netns: topo.rs,
      addrs: topo.addrs.realServers,
      bulkBytes: opts.bulkBytes,
    });
    lb = await startBalancer(topo, opts.daemonArgs);
    await fn({ topo, lb, nginx, vip: topo.addrs.vips[0] });
  } finally {
    code = await lb?.stop();
    await nginx?.stop();
    await topo.destroy();
  }
  // A daemon that did not stop cleanly (leftover chains, a crash) fails the test.
  if (code !== undefined && code !== 0) {
    throw new Error(`daemon exited with ${code}:\n${lb?.log()}`);
  }
}

/** A FULLNAT service on port 80 over every real server, with `lips` local addresses. */
export async function fullnatService(bed: Bed, lips: string[]): Promise<void> {
  const svc = `${bed.vip}:80`;
  await bed.lb.ipvsadmOk("-A", "-t", svc, "-s", "rr");
  for (const rs of bed.topo.addrs.realServers) {
    await bed.lb.ipvsadmOk("-a", "-t", svc, "-r", `${rs}:80`, "-b", "-w", "1");
  }
  for (const l of lips) await bed.lb.ipvsadmOk("-P", "-t", svc, "-z", l);
}
