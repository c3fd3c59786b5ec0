/**
 * Finding the seed volume at boot: the disk labelled `cidata`, through udev's by-label link or,
 * when udev has not made one (early boot, no udev), through blkid's own probe.
 *
 * @module
 */

import { exec } from "./exec.ts";
import { SEED_LABEL } from "./seed.ts";

/** Options of {@linkcode findSeed}. */
export interface FindSeedOptions {
  /** Keep looking this long for a disk that is still being probed (ms, default 0). */
  waitMs?: number;
  /** Pause between looks (ms, default 500). */
  intervalMs?: number;
}

async function lookOnce(): Promise<string | undefined> {
  // FAT labels are often shown in capitals; NoCloud accepts both spellings.
  for (const label of [SEED_LABEL, SEED_LABEL.toUpperCase()]) {
    const link = `/dev/disk/by-label/${label}`;
    try {
      return await Deno.realPath(link);
    } catch {
      // No such link: try the next spelling, then blkid.
    }
  }
  for (const label of [SEED_LABEL, SEED_LABEL.toUpperCase()]) {
    const out = await exec("blkid", ["-t", `LABEL=${label}`, "-o", "device"]);
    const device = new TextDecoder().decode(out.stdout).split("\n")[0]?.trim();
    if (out.code === 0 && device) return device;
  }
  return undefined;
}

/** The device of the seed volume, or undefined when the box has none. */
export async function findSeed(opts: FindSeedOptions = {}): Promise<string | undefined> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const device = await lookOnce();
    if (device !== undefined || Date.now() >= deadline) return device;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}
