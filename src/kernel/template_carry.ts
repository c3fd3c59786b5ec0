/**
 * Persistence templates that carry over a restart (README "Sessions outlive the daemon"):
 * each packet worker writes its templates (`exportTemplates()`, `src/fullnat/template_export.ts`)
 * to `worker-N.templates` in the run directory when they changed, at most once a second from
 * its expiry timer, and when it stops; the worker that takes the sessions over reads them back
 * (`importTemplates()`), so a client keeps its real server across `fullnat restart`. A
 * `kill -9` loses at most the last second's new templates. Written like the counters
 * (`counter_carry.ts`): a new file renamed over the old one, so a reader sees one whole version.
 *
 * @module
 */
import { readIfPresent, removeWhole, writeWhole } from "./whole_file.ts";

/** The templates file of worker `index`. */
export function templatesFile(dir: string, index: number): string {
  return `${dir}/worker-${index}.templates`;
}

/** Writes `bytes` to `path` whole or not at all. */
export function writeTemplates(path: string, bytes: Uint8Array): void {
  writeWhole(path, bytes);
}

/**
 * The templates at `path`, or nothing when there are none (a first start) or they cannot be
 * read (then the reason is in `problem`).
 */
export function readTemplates(path: string): { bytes?: Uint8Array; problem?: string } {
  return readIfPresent(path);
}

/** Removes worker `index`'s templates file (after a deliberate stop, or a table started afresh). */
export function clearTemplates(dir: string, index: number): void {
  removeWhole(templatesFile(dir, index));
}
