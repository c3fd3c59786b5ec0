/**
 * The kernel settings a daemon found before it changed them (`sysctl.ts`), kept in the run
 * directory so that the daemon that finally stops puts back what the box had before the first
 * one started. A restart (or a crash) leaves the settings changed, since sessions still flow;
 * the next daemon then sees them already set and changes nothing itself, so without this file
 * the original values would be lost and forwarding left on for good.
 *
 * @module
 */
import type { SysctlChange } from "./sysctl.ts";
import { readIfPresent, removeWhole, writeWhole } from "./whole_file.ts";

/** The file's name in the run directory. */
export const SYSCTL_FILE = "sysctls.json";

/** What {@linkcode carrySysctls} found. */
export interface SysctlCarry {
  /** Every setting to put back at the final stop: the carried ones first, then the new ones. */
  changes: SysctlChange[];
  /** Why a file was there but could not be used (logged; its values are lost). */
  problem?: string;
}

function isChange(v: unknown): v is SysctlChange {
  if (v === null || typeof v !== "object") return false;
  const c = v as Record<string, unknown>;
  return typeof c.key === "string" && typeof c.path === "string" &&
    typeof c.from === "string" && typeof c.to === "string" && c.path.startsWith("/");
}

/**
 * Merges the settings a previous daemon of `runDir` changed with those this one just changed
 * (`fresh`), writes the merged list back, and returns it. A setting both changed keeps the
 * first daemon's original value.
 */
export function carrySysctls(runDir: string, fresh: readonly SysctlChange[]): SysctlCarry {
  const path = `${runDir}/${SYSCTL_FILE}`;
  const read = readIfPresent(path);
  let carried: SysctlChange[] = [];
  let problem = read.problem;
  if (read.bytes !== undefined) {
    try {
      const v: unknown = JSON.parse(new TextDecoder().decode(read.bytes));
      if (!Array.isArray(v) || !v.every(isChange)) throw new Error("not a list of settings");
      carried = v;
    } catch (e) {
      problem = `${path}: ${e instanceof Error ? e.message : e}`;
    }
  }
  const known = new Set(carried.map((c) => c.path));
  const changes = [...carried, ...fresh.filter((c) => !known.has(c.path))];
  if (changes.length > 0 || read.bytes !== undefined) {
    // The first daemon of a boot may get here before its workers make the run directory.
    Deno.mkdirSync(runDir, { recursive: true, mode: 0o700 });
    writeWhole(path, new TextEncoder().encode(JSON.stringify(changes)));
  }
  return { changes, ...(problem !== undefined && { problem }) };
}

/** Forgets the carried settings (after they were put back). */
export function clearSysctlCarry(runDir: string): void {
  removeWhole(`${runDir}/${SYSCTL_FILE}`);
}
