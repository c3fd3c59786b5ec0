/**
 * Installs, replaces, removes and shows the host firewall (rules: {@link ./firewall_rules.ts})
 * with iptables-restore, in both families, as a whole: each family's chain is replaced in one
 * transaction, and removing takes the hook and the chain away together.
 *
 * @module
 */

import { exec } from "../provision/exec.ts";
import {
  type Family,
  firewallInstallScript,
  firewallRemoveScript,
  HOST_CHAIN,
  hostFirewallRules,
  type InstalledFirewall,
  parseInstalledFirewall,
} from "./firewall_rules.ts";
import type { ManagementPlan } from "./plan.ts";

/** Where the commands act: the caller's network namespace or a named one (tests). */
export interface FirewallTarget {
  netns?: string;
}

const TOOLS: Record<Family, { list: string; restore: string }> = {
  ipv4: { list: "iptables", restore: "iptables-restore" },
  ipv6: { list: "ip6tables", restore: "ip6tables-restore" },
};

async function run(
  target: FirewallTarget,
  cmd: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [c, a] = target.netns === undefined
    ? [cmd, args]
    : ["ip", ["netns", "exec", target.netns, cmd, ...args]];
  const out = await exec(c, a, stdin === undefined ? {} : { stdin });
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout), stderr: out.stderr };
}

/** The firewall's part of `family`'s filter table, or why it cannot be read. */
export async function installedFirewall(
  target: FirewallTarget,
  family: Family,
): Promise<InstalledFirewall | string> {
  const tool = TOOLS[family].list;
  const r = await run(target, tool, ["-w", "-t", "filter", "-S"]);
  if (r.code !== 0) return `${tool} -S failed (exit ${r.code}): ${r.stderr.trim()}`;
  return parseInstalledFirewall(r.stdout);
}

async function restore(target: FirewallTarget, family: Family, script: string): Promise<void> {
  const tool = TOOLS[family].restore;
  const r = await run(target, tool, ["-w", "--noflush"], script);
  if (r.code !== 0) {
    throw new Error(`${tool} failed (exit ${r.code}): ${r.stderr.trim()}\nscript:\n${script}`);
  }
}

/**
 * Installs the firewall for `plan` in both families (replacing the chain if it is there).
 * IPv6 is skipped, not failed, on a kernel without ip6tables. Returns the rules installed.
 */
export async function installFirewall(
  target: FirewallTarget,
  plan: ManagementPlan,
): Promise<Record<Family, string[]>> {
  const rules = hostFirewallRules(plan);
  for (const family of ["ipv4", "ipv6"] as const) {
    const state = await installedFirewall(target, family);
    if (typeof state === "string") {
      if (family === "ipv6") continue;
      throw new Error(`cannot install the host firewall: ${state}`);
    }
    await restore(target, family, firewallInstallScript(rules[family], state.hooks > 0));
  }
  return rules;
}

/** Unhooks and deletes the chain in both families. Safe to call when it is not there. */
export async function removeFirewall(target: FirewallTarget): Promise<void> {
  for (const family of ["ipv4", "ipv6"] as const) {
    const state = await installedFirewall(target, family);
    if (typeof state === "string") {
      if (family === "ipv6") continue;
      throw new Error(`cannot remove the host firewall: ${state}`);
    }
    const script = firewallRemoveScript(state);
    if (script !== undefined) await restore(target, family, script);
  }
}

/**
 * The chain with its packet and byte counters, per family, as `iptables -L -n -v -x` prints
 * it (what an operator reads anyway); "not installed" when there is no chain.
 */
export async function showFirewall(target: FirewallTarget): Promise<string> {
  const parts: string[] = [];
  for (const family of ["ipv4", "ipv6"] as const) {
    const tool = TOOLS[family].list;
    const r = await run(target, tool, ["-w", "-L", HOST_CHAIN, "-n", "-v", "-x"]);
    parts.push(
      `${family === "ipv4" ? "IPv4" : "IPv6"} (${tool}):`,
      r.code === 0 ? r.stdout.trimEnd() : "  not installed",
      "",
    );
  }
  return parts.join("\n");
}
