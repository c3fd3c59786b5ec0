/**
 * A test bed for end-to-end tests: the IPv4 namespace topology, nginx on the real servers and
 * the real daemon in `lb` ({@linkcode withFamilyBed} with those choices): always torn down,
 * and a daemon that did not stop cleanly fails the test.
 *
 * @module
 */
import { withFamilyBed } from "./family_bed.ts";
import type { Topology } from "./netns.ts";
import type { NginxServer } from "./servers.ts";
import type { Balancer } from "./balancer.ts";

export interface Bed {
  topo: Topology;
  lb: Balancer;
  nginx: NginxServer;
  vip: string;
}

/** Builds the topology, starts nginx and the daemon, runs `fn`, and always tears down. */
export function withBed(
  opts: { nat?: boolean; bulkBytes?: number; daemonArgs?: string[] },
  fn: (bed: Bed) => Promise<void>,
): Promise<void> {
  return withFamilyBed(
    {
      rsDefaultViaLb: opts.nat ?? false,
      nginx: { bulkBytes: opts.bulkBytes },
      daemonArgs: opts.daemonArgs,
    },
    ({ topo, lb, nginx }) => fn({ topo, lb, nginx: nginx!, vip: topo.addrs.vips[0] }),
  );
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
