/**
 * Applying the `network` section with iproute2: MTUs, interface addresses, link state, VIPs
 * and local addresses (as /32 or /128 host addresses, so the box answers ARP/ND for them) and
 * static routes. Everything goes through one `ip -batch` so the changes are made in one go,
 * and every change is a `replace`, so applying the same section twice changes nothing.
 *
 * @module
 */

import { formatPrefix } from "../vocab/mod.ts";
import { exec } from "./exec.ts";
import type { Problem } from "./problems.ts";
import {
  type HostAddress,
  managementInterface,
  type NetworkConfig,
  type RouteConfig,
} from "./types.ts";

/** Where the `ip` commands act: the caller's network namespace or a named one. */
export interface NetworkTarget {
  /** Named network namespace (`ip -n NAME`), for tests; the current one when absent. */
  netns?: string;
}

function ipArgs(target: NetworkTarget, args: string[]): string[] {
  return target.netns === undefined ? args : ["-n", target.netns, ...args];
}

/** Names of the interfaces that exist in the target namespace. */
export async function listInterfaces(target: NetworkTarget): Promise<Set<string>> {
  const out = await exec("ip", ipArgs(target, ["-j", "link", "show"]));
  if (out.code !== 0) throw new Error(`ip link show failed: ${out.stderr.trim()}`);
  const links = JSON.parse(new TextDecoder().decode(out.stdout)) as Array<{ ifname: string }>;
  return new Set(links.map((l) => l.ifname));
}

/**
 * Problems the box itself raises against a valid section: interfaces it names that this box
 * does not have. Reported with the section's paths, before anything is changed.
 */
export async function checkNetworkTarget(
  target: NetworkTarget,
  net: NetworkConfig,
): Promise<Problem[]> {
  const present = await listInterfaces(target);
  const problems: Problem[] = [];
  const missing = (name: string, path: Problem["path"]) => {
    if (present.has(name)) return;
    problems.push({
      path: ["network", ...path],
      message: `this box has no interface ${JSON.stringify(name)} (it has: ${
        [...present].sort().join(", ")
      })`,
    });
  };
  for (const iface of net.interfaces) missing(iface.name, ["interfaces", iface.name]);
  const reported = new Set<string>();
  for (const [key, list] of [["vips", net.vips], ["localAddresses", net.localAddresses]] as const) {
    for (const a of list) {
      if (reported.has(`${key}/${a.interface}`)) continue;
      reported.add(`${key}/${a.interface}`);
      missing(a.interface, [key, a.interface]);
    }
  }
  net.routes.forEach((r, i) => r.dev !== undefined && missing(r.dev, ["routes", i, "dev"]));
  return problems;
}

/** `addr replace A/32 dev IF` (`/128 ... nodad` for IPv6), or `addr del ...`. */
export function hostAddressLine(verb: "replace" | "del", a: HostAddress): string {
  const len = a.family === 4 ? 32 : 128;
  // A VIP must answer at once; duplicate address detection would hold an IPv6 one back.
  const nodad = verb === "replace" && a.family === 6 ? " nodad" : "";
  return `addr ${verb} ${a.address}/${len} dev ${a.interface}${nodad}`;
}

function routeLine(verb: "replace" | "del", r: RouteConfig): string {
  const family = r.family === 6 ? "-6 " : "";
  let line = `${family}route ${verb} ${r.to}`;
  if (r.via !== undefined) line += ` via ${r.via}`;
  if (r.dev !== undefined) line += ` dev ${r.dev}`;
  if (r.metric !== undefined) line += ` metric ${r.metric}`;
  return line;
}

/**
 * The `ip -batch` lines that apply `net`, in an order the kernel accepts, the management port
 * first (a batch stops at its first failure: what comes before it stands).
 */
export function networkBatch(net: NetworkConfig): string[] {
  const lines: string[] = [];
  const mgmt = managementInterface(net);
  const ordered = [
    ...net.interfaces.filter((i) => i.name === mgmt),
    ...net.interfaces.filter((i) => i.name !== mgmt),
  ];
  for (const iface of ordered) {
    if (iface.mtu !== undefined) lines.push(`link set dev ${iface.name} mtu ${iface.mtu}`);
    for (const a of iface.addresses) {
      lines.push(`addr replace ${formatPrefix(a)} dev ${iface.name}`);
    }
    lines.push(`link set dev ${iface.name} ${iface.up ? "up" : "down"}`);
  }
  for (const a of [...net.vips, ...net.localAddresses]) lines.push(hostAddressLine("replace", a));
  // Routes last: a gateway is only reachable once its subnet's address and link are up.
  for (const r of net.routes) lines.push(routeLine("replace", r));
  return lines;
}

/**
 * The lines that take back what an earlier provisioning added and `next` no longer has
 * (addresses and routes only; links and MTUs are left as they are).
 */
export function withdrawBatch(previous: NetworkConfig, next: NetworkConfig): string[] {
  const lines: string[] = [];
  const keep = new Set(networkBatch(next));
  for (const r of previous.routes) {
    if (!keep.has(routeLine("replace", r))) lines.push(routeLine("del", r));
  }
  for (const a of [...previous.vips, ...previous.localAddresses]) {
    if (!keep.has(hostAddressLine("replace", a))) lines.push(hostAddressLine("del", a));
  }
  for (const iface of previous.interfaces) {
    for (const a of iface.addresses) {
      const line = `addr replace ${formatPrefix(a)} dev ${iface.name}`;
      if (!keep.has(line)) lines.push(`addr del ${formatPrefix(a)} dev ${iface.name}`);
    }
  }
  return lines;
}

/**
 * Runs `lines` through one `ip -batch` (`-force`: on past failures); returns iproute2's
 * message, or "" when every line succeeded.
 */
export async function runBatch(
  target: NetworkTarget,
  lines: string[],
  force: boolean,
): Promise<string> {
  if (lines.length === 0) return "";
  const args = ipArgs(target, [...(force ? ["-force"] : []), "-batch", "-"]);
  const out = await exec("ip", args, { stdin: lines.join("\n") + "\n" });
  return out.code === 0 ? "" : out.stderr.trim() || `ip -batch exited with ${out.code}`;
}

/**
 * Applies `net`, first withdrawing what `previous` (the last applied provisioning) added and
 * `net` drops. Throws with iproute2's message when the kernel refuses a change.
 */
export async function applyNetwork(
  target: NetworkTarget,
  net: NetworkConfig,
  previous?: NetworkConfig,
): Promise<void> {
  if (previous !== undefined) {
    // Something withdrawn by hand since is no reason to stop: -force goes on past it.
    await runBatch(target, withdrawBatch(previous, net), true);
  }
  const failure = await runBatch(target, networkBatch(net), false);
  if (failure !== "") throw new Error(`the kernel refused a network change: ${failure}`);
}
