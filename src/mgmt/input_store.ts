/**
 * The management input last derived from the configuration, kept in
 * `/var/lib/fullnat/mgmt/input.json` so that `fullnat mgmt apply` at boot (fullnat-mgmt.service,
 * before sshd) rebuilds sshd's listen addresses and the host firewall without waiting for
 * provisioning or the daemon. Written atomically whenever the management side is applied.
 *
 * @module
 */

import { join } from "node:path";
import { readTextIfExists, underRoot, writeFileAtomic } from "../provision/files.ts";
import { isInterfaceName, type ManagementInput } from "./types.ts";

/** The directory under a root. */
export function defaultMgmtStateDir(root: string): string {
  return underRoot(root, "/var/lib/fullnat/mgmt");
}

const FILE = "input.json";

const isStringList = (x: unknown): x is string[] =>
  Array.isArray(x) && x.every((s) => typeof s === "string");

/** Reads the stored input; undefined when there is none, an error when it is unreadable. */
export async function readInput(dir: string): Promise<ManagementInput | undefined> {
  const text = await readTextIfExists(join(dir, FILE));
  if (text === undefined) return undefined;
  const x = JSON.parse(text) as ManagementInput;
  if (
    typeof x !== "object" || x === null || typeof x.management !== "string" ||
    !isInterfaceName(x.management) || !Array.isArray(x.interfaces) ||
    !x.interfaces.every((i) => typeof i?.name === "string" && isStringList(i.addresses))
  ) {
    throw new Error(`${join(dir, FILE)} is not a management input`);
  }
  return x;
}

/** Stores `input` (without the MAC, which is read from the port at every apply). */
export async function writeInput(dir: string, input: ManagementInput): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
  const { mac: _mac, ...kept } = input;
  await writeFileAtomic(join(dir, FILE), JSON.stringify(kept, null, 2) + "\n", { mode: 0o640 });
}

/**
 * Runs `fn` holding an exclusive lock on `dir` (a `.lock` file in it). At the first boot
 * provisioning and fullnat-mgmt-apply.service apply the management side at the same time; each
 * reads the stored input inside the lock, so the one that applies last applies the newest
 * input, and the sshd drop-in, the firewall and the boot record are never a mix of two.
 */
export async function withMgmtLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
  const file = await Deno.open(join(dir, ".lock"), { create: true, write: true, mode: 0o640 });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}
