/**
 * File writes first boot makes under the target root: atomic (a reader sees the old file or
 * the whole new one, never half of it) and with the mode and owner the file must have.
 *
 * @module
 */

import { dirname, join } from "node:path";

/** Joins a path inside the box's root directory (`/` on the appliance, a temp dir in tests). */
export function underRoot(root: string, path: string): string {
  return join(root, path.replace(/^\/+/, ""));
}

/**
 * Writes `text` to `path` through a temporary file in the same directory and a rename, the file
 * and then the directory fsynced: a power cut right after first boot must not lose the record
 * of an applied seed (the next boot would apply the seed again over the shell's changes).
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  opts: { mode?: number; uid?: number; gid?: number } = {},
): Promise<void> {
  const tmp = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
  try {
    await Deno.writeTextFile(tmp, text, { mode: opts.mode ?? 0o644, createNew: true });
    // writeTextFile's mode is filtered by the umask; the file must end up exactly so.
    await Deno.chmod(tmp, opts.mode ?? 0o644);
    if (opts.uid !== undefined) await Deno.chown(tmp, opts.uid, opts.gid ?? null);
    await fsyncPath(tmp);
    await Deno.rename(tmp, path);
    await fsyncPath(dirname(path));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** fsync of a file or a directory (opened read-only: Linux syncs a directory so). */
async function fsyncPath(path: string): Promise<void> {
  const f = await Deno.open(path, { read: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}

/** Reads a text file, or undefined when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Removes `path`; true when it was there, false when it was not (any other error throws). */
export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
