/**
 * Keeps the management side (sshd's listen addresses, the host firewall, the fallback
 * addresses) in step with the stored `network` section: an admin who moves the management
 * address with `interface address add|delete eth0 ...` or `config apply` must find sshd on the
 * new address at once, not after the next boot's `fullnat mgmt apply`. The daemon calls
 * {@linkcode followNetwork} after every network apply and at start (src/hostnet's
 * `onApplied`); it stores the new management part in the management input and applies it.
 *
 * Only a box whose management side is on (the input file exists in the daemon's state
 * directory, as provisioning leaves it) is touched, as for the sync openings
 * (`sync_openings.ts`): a daemon in a test namespace leaves sshd and iptables alone.
 *
 * @module
 */

import { join } from "node:path";
import type { NetworkConfig } from "../provision/types.ts";
import { applyManagement, type MgmtTarget } from "./apply.ts";
import { managementInputOf } from "./from_provisioning.ts";
import { readInput, withMgmtLock, writeInput } from "./input_store.ts";
import type { ManagementInput } from "./types.ts";

/** The management input `input` becomes under `net`: its interface and addresses, the rest kept. */
export function followedInput(input: ManagementInput, net: NetworkConfig): ManagementInput {
  const fromNet = managementInputOf({ management: net.management, network: net });
  return { ...input, management: fromNet.management, interfaces: fromNet.interfaces };
}

/**
 * Stores and applies the management part of `net` under `stateDir` (the daemon's,
 * `/var/lib/fullnat`) when it differs from the stored one. Returns the lines to log, or
 * undefined when the management side is off or nothing changed.
 */
export async function followNetwork(
  stateDir: string | null,
  net: NetworkConfig,
  target: MgmtTarget = { root: "/", reloadSshd: true },
): Promise<string[] | undefined> {
  if (stateDir === null) return undefined;
  const dir = join(stateDir, "mgmt");
  // The management side is off unless provisioning stored an input (checked again in the lock).
  if (await readInput(dir) === undefined) return undefined;
  const result = await withMgmtLock(dir, async () => {
    const input = await readInput(dir);
    if (input === undefined) return undefined;
    // A section that configures no interface (a box whose addresses come from elsewhere) says
    // nothing about the management port: keep what provisioning stored.
    if (net.interfaces.length === 0) return undefined;
    const next = followedInput(input, net);
    if (JSON.stringify(next) === JSON.stringify(input)) return undefined;
    const applied = await applyManagement({ ...target, recordDir: dir }, next);
    await writeInput(dir, next);
    return applied;
  });
  if (result === undefined) return undefined;
  return [
    ...result.done.map((d) => `management: ${d}`),
    ...result.problems.map((p) => `management: ${p}`),
  ];
}
