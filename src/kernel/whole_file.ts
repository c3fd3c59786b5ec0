/**
 * Small run-directory files a worker rewrites while it runs (its carried counters, its
 * persistence templates): written whole or not at all (a new file renamed over the old one,
 * so a reader after a crash sees one whole version), read back when present, and removed with
 * any half-written new one.
 *
 * @module
 */

/** Writes `bytes` to `path` whole or not at all. */
export function writeWhole(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.new`;
  Deno.writeFileSync(tmp, bytes, { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

/**
 * The bytes at `path`, or nothing when there is no file (a first start), or the reason it
 * cannot be read in `problem`.
 */
export function readIfPresent(path: string): { bytes?: Uint8Array; problem?: string } {
  try {
    return { bytes: Deno.readFileSync(path) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    return { problem: `cannot read ${path}: ${e instanceof Error ? e.message : e}` };
  }
}

/** Removes `path` if it is there (nothing else). */
export function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Removes `path` and a new version of it {@linkcode writeWhole} may have left half-written. */
export function removeWhole(path: string): void {
  removeIfPresent(path);
  removeIfPresent(`${path}.new`);
}
