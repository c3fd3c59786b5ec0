/**
 * Keeps the host firewall's session-sync openings in step with the sync daemons the fullnat
 * daemon runs. A sync daemon started from the shell (`ipvsadm --start-daemon backup
 * --mcast-interface eth2`, `config apply` with a `sync` section) must receive its datagrams
 * at once, not after the next provisioning: the daemon calls {@linkcode refreshSyncOpenings}
 * after every start and stop, and it re-installs the firewall with the new openings and stores
 * them in the management input and the boot record, so the next boot has them too.
 *
 * Only a box whose management side is on (the input file exists in the daemon's state
 * directory, as provisioning leaves it) is touched; a daemon in a test namespace or beside
 * another firewall leaves iptables' filter table alone.
 *
 * @module
 */

import { join } from "node:path";
import { readMac } from "./apply.ts";
import { configuredAddresses, writeBootRecord } from "./boot_record.ts";
import { installFirewall } from "./firewall.ts";
import { readInput, withMgmtLock, writeInput } from "./input_store.ts";
import { planManagement } from "./plan.ts";
import type { SyncAccess } from "./types.ts";

const same = (a: readonly SyncAccess[], b: readonly SyncAccess[]) =>
  JSON.stringify(a) === JSON.stringify(b);

/**
 * Stores `sync` in the management input under `stateDir` (the daemon's, `/var/lib/fullnat`) and
 * re-installs the firewall when they changed. Returns what it did, or undefined when the box's
 * management side is off or nothing changed. Throws with the reason when it could not.
 */
export async function refreshSyncOpenings(
  stateDir: string | null,
  sync: SyncAccess[],
): Promise<string | undefined> {
  if (stateDir === null) return undefined;
  const dir = join(stateDir, "mgmt");
  if (await readInput(dir) === undefined) return undefined;
  const changed = await withMgmtLock(dir, async () => {
    const input = await readInput(dir);
    if (input === undefined || same(input.sync ?? [], sync)) return false;
    const next = { ...input, sync };
    const mac = await readMac({ root: "/", reloadSshd: false }, input.management);
    const plan = planManagement({ ...next, mac }).plan;
    await installFirewall({}, plan);
    await writeInput(dir, next);
    // The boot script replays the record, not the input: it must carry the openings too.
    if (mac !== undefined) await writeBootRecord(dir, plan, mac, configuredAddresses(next, plan));
    return true;
  });
  if (!changed) return undefined;
  return `host firewall: session sync now admitted on ${
    sync.length === 0 ? "no interface" : sync.map((s) => `${s.interface} udp/${s.port}`).join(", ")
  }`;
}
