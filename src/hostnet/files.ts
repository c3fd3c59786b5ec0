/**
 * Writes the boot-time network files (networkd.ts) where systemd reads them: the `.network`
 * files into the networkd directory the daemon was given (`--host-network-dir`, normally
 * `/etc/systemd/network`), the resolved and timesyncd drop-ins beside it
 * (`/etc/systemd/resolved.conf.d/fullnat.conf`, ...). Each file is written whole through a
 * temporary file, flushed to disk and renamed, the directory flushed after (a power cut leaves
 * the old file or the new, never half of either); files of ours the configuration no longer
 * has are removed. Files of anyone else are never touched. A directory made for them is
 * readable by all (the services reading the drop-ins do not run as root).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { FILE_PREFIX } from "./networkd.ts";

/** Where a path of {@linkcode networkdFiles} goes, given the networkd directory. */
export function placeFile(networkDir: string, relative: string): string {
  if (relative.startsWith("network/")) return join(networkDir, relative.slice("network/".length));
  return join(dirname(networkDir), relative);
}

/** The drop-ins this module may own besides the `.network` files. */
const DROP_INS = ["resolved.conf.d/fullnat.conf", "timesyncd.conf.d/fullnat.conf"];

async function fsyncDir(dir: string): Promise<void> {
  const f = await Deno.open(dir, { read: true });
  try {
    await f.sync();
  } catch {
    // Some filesystems do not flush directories; the rename is still atomic.
  } finally {
    f.close();
  }
}

/**
 * Makes `dir` when missing, readable by all: systemd-resolved and systemd-timesyncd read their
 * drop-ins as their own users, and the daemon's umask (0007 in its unit) would leave a new
 * `resolved.conf.d` closed to them.
 */
async function ensureDir(dir: string): Promise<void> {
  try {
    await Deno.stat(dir);
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  await Deno.chmod(dir, 0o755);
}

async function writeDurably(path: string, text: string): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      await f.write(new TextEncoder().encode(text));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.chmod(tmp, 0o644);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dirname(path));
}

/**
 * Makes the files on disk match `files` (relative paths, networkd.ts): writes those whose
 * bytes differ, removes ours that are gone. Returns the paths written or removed.
 */
export async function syncFiles(networkDir: string, files: Map<string, string>): Promise<string[]> {
  const touched: string[] = [];
  for (const [rel, text] of files) {
    const path = placeFile(networkDir, rel);
    let old: string | undefined;
    try {
      old = await Deno.readTextFile(path);
    } catch {
      old = undefined;
    }
    if (old === text) continue;
    await writeDurably(path, text);
    touched.push(path);
  }
  const stale: string[] = [];
  try {
    for await (const e of Deno.readDir(networkDir)) {
      if (!e.isFile || !e.name.startsWith(FILE_PREFIX) || !e.name.endsWith(".network")) continue;
      if (!files.has(`network/${e.name}`)) stale.push(join(networkDir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const rel of DROP_INS) if (!files.has(rel)) stale.push(placeFile(networkDir, rel));
  for (const path of stale) {
    try {
      await Deno.remove(path);
      touched.push(path);
      await fsyncDir(dirname(path));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return touched;
}
