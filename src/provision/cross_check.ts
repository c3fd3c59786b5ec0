/**
 * Consistency between the `network` and `loadBalancer` sections: a VIP or local address the
 * balancer uses but the file never assigns to an interface is most likely a slip (the box would
 * not answer ARP for it), as is a sync daemon on an interface the file does not configure. These are warnings, not problems: the address may be assigned some
 * other way, so nothing is held back because of them.
 *
 * @module
 */

import { validateConfig } from "../persist/document.ts";
import type { Problem } from "./problems.ts";
import type { Provisioning } from "./types.ts";

/** Warnings about addresses the load balancer uses that the network section does not assign. */
export function crossCheck(p: Provisioning): Problem[] {
  const warnings: Problem[] = haWarnings(p);
  if (p.network === undefined || p.loadBalancer === undefined) return warnings;
  const checked = validateConfig(p.loadBalancer);
  if (!checked.ok) return warnings;
  const assigned = new Set<string>([
    ...p.network.interfaces.flatMap((i) => i.addresses.map((a) => a.address)),
    ...p.network.vips.map((a) => a.address),
    ...p.network.localAddresses.map((a) => a.address),
    ...(p.ha?.vips ?? []).map((a) => a.address),
    ...(p.ha?.localAddresses ?? []).map((a) => a.address),
  ]);
  checked.document.services.forEach((s, i) => {
    if (!assigned.has(s.address)) {
      warnings.push({
        path: ["loadBalancer", "services", i, "address"],
        message: `VIP ${s.address} is not under network.vips (nor an interface address); ` +
          `unless it is assigned some other way the box will not answer ARP for it`,
      });
    }
    s.localAddresses.forEach((la, j) => {
      if (assigned.has(la)) return;
      warnings.push({
        path: ["loadBalancer", "services", i, "localAddresses", j],
        message: `local address ${la} is not under network.localAddresses (nor an interface ` +
          `address); real servers' replies to it will not reach the box`,
      });
    });
  });
  const named = new Set(p.network.interfaces.map((i) => i.name));
  (checked.document.sync ?? []).forEach((d, i) => {
    if (named.has(d.mcastInterface)) return;
    warnings.push({
      path: ["loadBalancer", "sync", i, "mcastInterface"],
      message: `sync interface ${d.mcastInterface} is not under network.interfaces; the ` +
        `${d.role} sync daemon starts only once it has an address`,
    });
  });
  return warnings;
}

/**
 * An address both assigned by `network` and floating under `ha` would be up on both boxes of
 * the pair at once; a VRRP interface the file does not configure may have no address to send
 * advertisements from.
 */
function haWarnings(p: Provisioning): Problem[] {
  if (p.ha === undefined) return [];
  const out: Problem[] = [];
  const fixed = new Map<string, string>([
    ...(p.network?.vips ?? []).map((a): [string, string] => [a.address, "network.vips"]),
    ...(p.network?.localAddresses ?? []).map((a): [string, string] => [
      a.address,
      "network.localAddresses",
    ]),
    ...(p.network?.interfaces ?? []).flatMap((i) =>
      i.addresses.map((a): [string, string] => [a.address, `network.interfaces.${i.name}`])
    ),
  ]);
  for (const kind of ["vips", "localAddresses"] as const) {
    const byIf = new Map<string, number>();
    for (const a of p.ha[kind]) {
      const i = byIf.get(a.interface) ?? 0;
      byIf.set(a.interface, i + 1);
      const where = fixed.get(a.address);
      if (where === undefined) continue;
      out.push({
        path: ["ha", kind, a.interface, i],
        message: `${a.address} floats but is also under ${where}: it would be up on both ` +
          `boxes at once; leave it to keepalived`,
      });
    }
  }
  if (p.network && !p.network.interfaces.some((i) => i.name === p.ha!.interface)) {
    out.push({
      path: ["ha", "interface"],
      message: `${p.ha.interface} is not under network.interfaces; VRRP needs an address there`,
    });
  }
  return out;
}
