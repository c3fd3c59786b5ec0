/**
 * The management plane as last applied, kept as plain files that a shell script can replay at
 * boot (`image/rootfs/usr/local/sbin/fullnat-mgmt-boot`, fullnat-mgmt.service) without starting
 * Deno: under software emulation a Deno start costs seconds of CPU that sshd, udev and the
 * daemon need at the same moment, and the management plane sits next to sshd on the way to
 * the first SSH login.
 *
 * The record, in `<mgmt state dir>/boot/`, each file written whole (atomically, fsynced):
 *
 * - `interface`: the management port's name;
 * - `mac`: the MAC it had when the record was made. The fallback addresses derive from it, so
 *   the script replays the record only while the port still has this MAC, and otherwise runs
 *   `fullnat mgmt apply` (a new NIC, a moved disk);
 * - `ip.batch`: `ip -batch` input that brings the port up with its configured addresses and its
 *   fallback ones: the configured ones are systemd-networkd's to keep (the daemon writes its
 *   files), but networkd starts seconds later under emulation, and SSH on the management
 *   address waited for it. networkd then finds them there, as its files say;
 * - `firewall4.rules`, `firewall6.rules`: `iptables-restore --noflush` input that installs the
 *   host firewall's chain and hooks it into INPUT (the script drops the hook line when the hook
 *   is already there, so running it twice is harmless).
 *
 * `ip_nonlocal_bind` is not recorded: the script sets it as the apply does.
 *
 * @module
 */

import { join } from "node:path";
import { removeIfExists, writeFileAtomic } from "../provision/files.ts";
import { firewallInstallScript, hostFirewallRules } from "./firewall_rules.ts";
import type { ManagementPlan } from "./plan.ts";
import type { ManagementInput } from "./types.ts";

/**
 * Left by the boot script when it could not replay a record: fullnat-mgmt-apply.service (the
 * Deno apply) runs only while it is there, after provisioning, which removes it when it applied
 * the management side itself (the first boot: one Deno apply instead of two at once).
 */
export const MGMT_APPLY_FLAG = "/run/fullnat-mgmt-apply";

/** The record's directory under a management state directory. */
export const bootRecordDir = (mgmtStateDir: string) => join(mgmtStateDir, "boot");

/**
 * The files of a record, by name: what {@linkcode writeBootRecord} writes. `configured`: the
 * management port's configured addresses with their prefix lengths (`198.51.100.1/24`).
 */
export function bootRecordFiles(
  plan: ManagementPlan,
  mac: string,
  configured: readonly string[] = [],
): Record<string, string> {
  const ipBatch = [`link set dev ${plan.management} up`];
  for (const a of configured) ipBatch.push(`addr replace ${a} dev ${plan.management}`);
  for (const f of plan.fallback) {
    // `ip -batch` takes the family from the address; link-local IPv4 needs its scope, IPv6
    // skips duplicate detection as the apply does.
    ipBatch.push(
      `addr replace ${f} dev ${plan.management} ${f.includes(":") ? "nodad" : "scope link"}`,
    );
  }
  const rules = hostFirewallRules(plan);
  return {
    interface: `${plan.management}\n`,
    mac: `${mac.toLowerCase()}\n`,
    "ip.batch": ipBatch.join("\n") + "\n",
    "firewall4.rules": firewallInstallScript(rules.ipv4, false),
    "firewall6.rules": firewallInstallScript(rules.ipv6, false),
  };
}

/**
 * Writes the record of `plan` applied on the port with `mac`. The MAC file goes last: a record
 * cut short by a power failure has the old MAC or none, and the script then takes the slow,
 * complete path instead of replaying a mix.
 */
export async function writeBootRecord(
  mgmtStateDir: string,
  plan: ManagementPlan,
  mac: string,
  configured: readonly string[] = [],
): Promise<void> {
  const dir = bootRecordDir(mgmtStateDir);
  await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
  await dropBootRecord(mgmtStateDir);
  const files = Object.entries(bootRecordFiles(plan, mac, configured));
  for (const [name, text] of files.filter(([n]) => n !== "mac")) {
    await writeFileAtomic(join(dir, name), text, { mode: 0o640 });
  }
  await writeFileAtomic(join(dir, "mac"), files.find(([n]) => n === "mac")![1], { mode: 0o640 });
}

/** Makes the record unusable (its MAC file gone), so the next boot applies anew. */
export async function dropBootRecord(mgmtStateDir: string): Promise<void> {
  await removeIfExists(join(bootRecordDir(mgmtStateDir), "mac"));
}

/**
 * The management port's configured addresses of `input` that `plan` kept (the plan drops all of
 * them when one is bad), with their prefix lengths, for {@linkcode writeBootRecord}.
 */
export function configuredAddresses(input: ManagementInput, plan: ManagementPlan): string[] {
  if (!plan.listen.some((l) => l.source === "configured")) return [];
  return input.interfaces.find((i) => i.name === plan.management)?.addresses ?? [];
}
