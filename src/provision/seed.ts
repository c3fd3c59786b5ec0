/**
 * The NoCloud-style seed volume: a small FAT filesystem labelled `cidata` that carries the
 * provisioning file (`fullnat.yaml` or `fullnat.json`) and a NoCloud `meta-data` file. It is
 * built and read with mkfs.vfat and mtools, so nothing is ever mounted.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { exec, execOk } from "./exec.ts";
import type { SourceFormat } from "./source.ts";

/** The filesystem label first boot looks for (as cloud-init's NoCloud does). */
export const SEED_LABEL = "cidata";

/** The provisioning file's name on the seed, by notation. */
export const SEED_FILE_NAMES: Readonly<Record<SourceFormat, string>> = {
  yaml: "fullnat.yaml",
  json: "fullnat.json",
};

// mtools refuses images whose geometry it finds odd unless told not to check.
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: "1" };

/** Lowercase hex SHA-256 of some bytes. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes a seed image to `out` holding `content` as the provisioning file. The image is built
 * beside `out` and renamed over it, so `out` is either the old file or the complete new one.
 */
export async function buildSeed(
  content: Uint8Array,
  format: SourceFormat,
  out: string,
): Promise<void> {
  // FAT12 wants at least ~64 KiB; leave ample room for directory entries and slack.
  const sizeKiB = Math.max(1024, Math.ceil(content.length / 1024) * 2 + 512);
  const tmpDir = await Deno.makeTempDir({ dir: dirname(out) || ".", prefix: ".seed-" });
  const tmpImage = join(tmpDir, basename(out));
  try {
    // Lowercase labels draw a warning from mkfs.fat; NoCloud's label is lowercase anyway.
    await execOk("mkfs.vfat", ["-C", "-n", SEED_LABEL, tmpImage, String(sizeKiB)]);
    const instanceId = `fullnat-${(await sha256Hex(content)).slice(0, 16)}`;
    const files: Array<[string, Uint8Array]> = [
      [SEED_FILE_NAMES[format], content],
      ["meta-data", new TextEncoder().encode(`instance-id: ${instanceId}\n`)],
    ];
    for (const [name, bytes] of files) {
      const local = join(tmpDir, name);
      await Deno.writeFile(local, bytes);
      await execOk("mcopy", ["-i", tmpImage, local, `::/${name}`], { env: MTOOLS_ENV });
    }
    await Deno.rename(tmpImage, out);
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
}

/** A provisioning file read from a seed volume. */
export interface SeedFile {
  name: string;
  format: SourceFormat;
  content: Uint8Array;
}

/** The filesystem type blkid reports for a device or image ("vfat", "iso9660", ...). */
export async function filesystemType(device: string): Promise<string | undefined> {
  const out = await exec("blkid", ["-o", "value", "-s", "TYPE", device]);
  const type = new TextDecoder().decode(out.stdout).trim();
  return out.code === 0 && type !== "" ? type : undefined;
}

/** Reads one file from a FAT image with mtools; undefined when the file is not there. */
async function readFatFile(device: string, name: string): Promise<Uint8Array | undefined> {
  const out = await exec("mcopy", ["-n", "-i", device, `::/${name}`, "-"], { env: MTOOLS_ENV });
  if (out.code === 0) return out.stdout;
  if (/not found/i.test(out.stderr)) return undefined;
  throw new Error(`cannot read ${name} from the seed ${device}: ${out.stderr.trim()}`);
}

/** Reads files from any filesystem the kernel knows through a read-only mount. */
async function readMountedFiles(device: string, names: string[]): Promise<Map<string, Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-seed-" });
  const found = new Map<string, Uint8Array>();
  try {
    // An image file (rather than a disk) needs a loop device.
    const isFile = (await Deno.stat(device)).isFile;
    await execOk("mount", ["-o", isFile ? "ro,loop" : "ro", device, dir]);
    try {
      for (const name of names) {
        try {
          found.set(name, await Deno.readFile(join(dir, name)));
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
    } finally {
      await exec("umount", [dir]);
    }
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
  return found;
}

/**
 * Reads the provisioning file from a seed volume (a block device or an image file). FAT seeds
 * are read with mtools; other filesystems (an ISO 9660 seed, say) through a read-only mount.
 * Throws when the volume holds no provisioning file or holds both notations.
 */
export async function readSeed(device: string): Promise<SeedFile> {
  const type = await filesystemType(device);
  if (type === undefined) {
    throw new Error(
      `${device} holds no filesystem blkid recognises; make seeds with: fullnat provision seed FILE -o IMAGE`,
    );
  }
  const names = Object.entries(SEED_FILE_NAMES) as Array<[SourceFormat, string]>;
  const found: SeedFile[] = [];
  if (type === "vfat" || type === "msdos") {
    for (const [format, name] of names) {
      const content = await readFatFile(device, name);
      if (content !== undefined) found.push({ name, format, content });
    }
  } else {
    const files = await readMountedFiles(device, names.map(([, n]) => n));
    for (const [format, name] of names) {
      const content = files.get(name);
      if (content !== undefined) found.push({ name, format, content });
    }
  }
  if (found.length === 0) {
    throw new Error(
      `the seed volume ${device} holds neither ${SEED_FILE_NAMES.yaml} nor ${SEED_FILE_NAMES.json}`,
    );
  }
  if (found.length > 1) {
    throw new Error(
      `the seed volume ${device} holds both ${SEED_FILE_NAMES.yaml} and ${SEED_FILE_NAMES.json}; keep one`,
    );
  }
  return found[0];
}
