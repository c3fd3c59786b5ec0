/**
 * What first boot remembers between boots (`/var/lib/fullnat/provision/applied.json`): the
 * hash of the last provisioning file it processed and how each section fared, so the same seed
 * is applied once and a changed seed again; the file's text, and the `network` and
 * `loadBalancer` sections as they were applied (text forms), the base a later seed's
 * differences are taken from (compose.ts), so what the shell changed since is kept.
 *
 * @module
 */

import { join } from "node:path";
import { readTextIfExists, removeIfExists, underRoot, writeFileAtomic } from "./files.ts";
import type { NetworkConfig, SectionName } from "./types.ts";

/** How a section of the file fared. */
export type SectionOutcome = "applied" | "invalid" | "failed" | "absent";

/** The record of one first-boot run. */
export interface ProvisionState {
  /** SHA-256 (hex) of the provisioning file's bytes. */
  sha256: string;
  /** The seed device or image it came from. */
  seed: string;
  /** ISO 8601 time of the run. */
  processedAt: string;
  sections: Record<SectionName, SectionOutcome>;
  /** True when no section failed to apply; a failed one is retried at the next boot. */
  complete: boolean;
  /** The network section as applied by a release before the daemon kept it (read only). */
  network?: NetworkConfig;
  /** The provisioning file's text. */
  text?: string;
  /**
   * What of the seed was applied, section by section (their `config export` text forms): the
   * base of the next seed's three-way merge. A section that was not applied keeps the base
   * of the seed before.
   */
  applied?: { network?: unknown; loadBalancer?: unknown };
}

/** The default state directory under a root. */
export function defaultStateDir(root: string): string {
  return underRoot(root, "/var/lib/fullnat/provision");
}

const STATE_FILE = "applied.json";

/**
 * The SHA-256 of the seed last applied completely, alone in a file, for the boot's shell check
 * (`image/rootfs/usr/local/sbin/fullnat-provision-check`): an unchanged seed then costs no
 * Deno start at all. Absent while the last run was incomplete, so the check lets it run again.
 */
export const APPLIED_SEED_FILE = "applied-seed.sha256";

/** The last run's record, or undefined when there was none (or it is unreadable). */
export async function readState(dir: string): Promise<ProvisionState | undefined> {
  const text = await readTextIfExists(join(dir, STATE_FILE));
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text);
    return typeof value?.sha256 === "string" ? value as ProvisionState : undefined;
  } catch {
    // A torn or hand-edited record only means the seed is applied again: harmless.
    return undefined;
  }
}

/** Records a run (atomically, mode 0600: it names the box's addresses). */
export async function writeState(dir: string, state: ProvisionState): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // The marker goes first and comes back last: a power cut between the two leaves no marker, and
  // the next boot runs provisioning rather than skipping a seed it did not finish.
  await removeIfExists(join(dir, APPLIED_SEED_FILE));
  await writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state, null, 2) + "\n", {
    mode: 0o600,
  });
  if (state.complete && state.applied !== undefined) await writeAppliedSeed(dir, state.sha256);
}

/**
 * Writes the marker of a completely applied seed ({@linkcode APPLIED_SEED_FILE}). Also for a
 * seed found unchanged: a box upgraded from a release without the marker gets it at its first
 * boot, and no Deno start at the boots after.
 */
export async function writeAppliedSeed(dir: string, sha256: string): Promise<void> {
  await writeFileAtomic(join(dir, APPLIED_SEED_FILE), `${sha256}\n`, { mode: 0o600 });
}
