/**
 * The layout of the appliance disk image/build.sh makes (issues 5 and 12), read back without
 * booting or mounting it: four MBR partitions (the bootable GRUB partition from 1 MiB, root
 * slots a and b, the data partition to the end), clean filesystems with their labels, GRUB's
 * boot.img in sector 0 patched as grub-install patches it, core.img in the gap before partition
 * 1, a grub.cfg that boots either slot with the direct-boot command line, a grubenv naming slot
 * a, and an upgrade bundle whose header's sha256 is that of the root filesystem it carries.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { run } from "../../../testkit/proc.ts";
import { type ApplianceImage, buildImage } from "./image_build.ts";

const SECTOR = 512;
const PART_START = 2048;
/** e2fsprogs opens a filesystem inside a bigger file with `FILE?offset=BYTES`. */
const fsAt = (raw: string, startSector: number) => `${raw}?offset=${startSector * SECTOR}`;

interface Partition {
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
}
async function partitions(raw: string): Promise<Partition[]> {
  const t = JSON.parse((await run(["sfdisk", "--json", raw], { check: true })).stdout)
    .partitiontable;
  assert.equal(t.label, "dos");
  return t.partitions;
}
/** The boot partition (1) and root slot a (2). */
const bootSpec = async (raw: string) => fsAt(raw, (await partitions(raw))[0].start);
const rootSpec = async (raw: string) => fsAt(raw, (await partitions(raw))[1].start);

let cached: ApplianceImage | undefined;
async function image(): Promise<ApplianceImage> {
  cached ??= await buildImage();
  return cached;
}

/** Copies `path` out of the root filesystem into `dest` with debugfs, reading only. */
async function dumpFrom(spec: string, path: string, dest: string): Promise<Uint8Array> {
  await run(["debugfs", "-R", `dump ${path} ${dest}`, spec], { check: true });
  return await Deno.readFile(dest);
}

async function readBytes(path: string, offset: number, length: number): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    await f.seek(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    f.close();
  }
}

Deno.test("appliance disk: boot, slot a, slot b, data partitions; clean labelled filesystems; data to the end", async () => {
  const img = await image();
  const parts = await partitions(img.raw);
  assert.equal(parts.length, 4);
  assert.equal(parts[0].start, PART_START);
  assert.ok(parts.every((p) => p.type === "83"));
  assert.deepEqual(parts.map((p) => p.bootable === true), [true, false, false, false]);
  for (let i = 1; i < 4; i++) assert.equal(parts[i].start, parts[i - 1].start + parts[i - 1].size);
  assert.equal(parts[1].size, parts[2].size, "the two slots are the same size");
  assert.equal(parts[1].size * SECTOR, Number(img.info.slot_mib) * 2 ** 20);
  assert.equal((parts[3].start + parts[3].size) * SECTOR, (await Deno.stat(img.raw)).size);

  const labels = [[0, "fullnat-boot"], [1, "fullnat-root-a"], [3, "fullnat-data"]] as const;
  for (const [i, label] of labels) {
    const spec = fsAt(img.raw, parts[i].start);
    const fsck = await run(["e2fsck", "-fn", spec]);
    assert.equal(fsck.code, 0, `e2fsck ${label}: ${fsck.stdout}${fsck.stderr}`);
    assert.equal((await run(["e2label", spec], { check: true })).stdout.trim(), label);
  }
  // Slot b is empty until the first upgrade: no filesystem.
  assert.notEqual((await run(["e2label", fsAt(img.raw, parts[2].start)])).code, 0);
  // The data partition holds what both slots share.
  const ls = await run(["debugfs", "-R", "ls -l /", fsAt(img.raw, parts[3].start)], {
    check: true,
  });
  for (const d of ["fullnat", "ssh", "system", "journal", "home"]) {
    assert.match(ls.stdout, new RegExp(`\\s${d}\\s*$`, "m"), `/data/${d}`);
  }
});

Deno.test("appliance upgrade bundle: header with version, size and sha256 of the zstd-compressed root filesystem", async () => {
  const img = await image();
  const bundle = await Deno.readFile(`${img.dir}/fullnat-upgrade.img`);
  const headerEnd = new TextDecoder().decode(bundle.subarray(0, 1024)).indexOf("\n\n");
  assert.ok(headerEnd > 0);
  const header = new TextDecoder().decode(bundle.subarray(0, headerEnd)).split("\n");
  assert.equal(header[0], "fullnat-upgrade-bundle 1");
  const fields = Object.fromEntries(header.slice(1).map((l) => l.split("=", 2)));
  assert.equal(fields.version, img.info.version);
  assert.equal(fields.compression, "zstd");
  assert.equal(fields.image_sha256, img.info.bundle_sha256);
  const tmp = await Deno.makeTempDir({ prefix: "fullnat-bundle-" });
  try {
    await Deno.writeFile(join(tmp, "fs.zst"), bundle.subarray(headerEnd + 2));
    await run(["zstd", "-q", "-d", join(tmp, "fs.zst"), "-o", join(tmp, "fs")], { check: true });
    assert.equal((await Deno.stat(join(tmp, "fs"))).size, Number(fields.image_bytes));
    const sum = await run(["sha256sum", join(tmp, "fs")], { check: true });
    assert.equal(sum.stdout.split(" ")[0], fields.image_sha256);
    const fsck = await run(["e2fsck", "-fn", join(tmp, "fs")]);
    assert.equal(fsck.code, 0, fsck.stdout);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("appliance disk: GRUB's boot.img in sector 0 and core.img from sector 1, as in the image's /boot/grub", async () => {
  const img = await image();
  const tmp = await Deno.makeTempDir({ prefix: "fullnat-disk-" });
  try {
    const boot = await bootSpec(img.raw);
    const bootImg = await dumpFrom(boot, "/grub/i386-pc/boot.img", join(tmp, "b"));
    const coreImg = await dumpFrom(boot, "/grub/i386-pc/core.img", join(tmp, "c"));
    assert.equal(bootImg.length, SECTOR);
    const mbr = await readBytes(img.raw, 0, SECTOR);
    assert.deepEqual([mbr[510], mbr[511]], [0x55, 0xaa], "boot signature");
    // boot.img's code up to the disk signature, except the drive-check jump: two NOPs.
    const expected = bootImg.slice(0, 440);
    expected[0x66] = 0x90;
    expected[0x67] = 0x90;
    assert.deepEqual(mbr.subarray(0, 440), expected);
    // boot.img loads core.img from the sector its kernel_sector field names: 1.
    assert.equal(new DataView(mbr.buffer).getBigUint64(0x5c, true), 1n);

    assert.ok(coreImg.length > SECTOR && coreImg.length < (PART_START - 1) * SECTOR);
    assert.deepEqual(await readBytes(img.raw, SECTOR, coreImg.length), coreImg);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("appliance disk: grub.cfg boots slot a or b (each slot's /vmlinuz) with the direct-boot command line; grubenv names slot a", async () => {
  const img = await image();
  const tmp = await Deno.makeTempDir({ prefix: "fullnat-disk-" });
  try {
    const boot = await bootSpec(img.raw);
    const cfg = new TextDecoder().decode(await dumpFrom(boot, "/grub/grub.cfg", join(tmp, "g")));
    const linux = cfg.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("linux "));
    // cmdline is slot a's: root=LABEL=fullnat-root-a fullnat.slot=a, then image/kernel-cmdline.
    const common = img.cmdline.replace(/^root=LABEL=fullnat-root-a fullnat\.slot=a /, "");
    assert.notEqual(common, img.cmdline);
    assert.deepEqual(linux, [
      `linux ($disk,msdos2)/vmlinuz root=LABEL=fullnat-root-a fullnat.slot=a ${common}`,
      `linux ($disk,msdos3)/vmlinuz root=LABEL=fullnat-root-b fullnat.slot=b ${common}`,
    ]);
    assert.match(cfg, /^\s*set timeout=0$/m);
    assert.match(cfg, /^\s*save_env next_entry$/m);
    assert.match(cfg, /^serial --unit=0/m);
    const env = await dumpFrom(boot, "/grub/grubenv", join(tmp, "e"));
    assert.equal(env.length, 1024);
    assert.match(
      new TextDecoder().decode(env),
      /^# GRUB Environment Block\nfullnat_default=a\n#+$/,
    );
    // The links GRUB follows in slot a name the kernel build.sh took out for direct kernel boot.
    const root = await rootSpec(img.raw);
    const link = await run(["debugfs", "-R", "stat /vmlinuz", root], { check: true });
    assert.match(link.stdout, new RegExp(`Fast link dest: "boot/${img.info.kernel}"`));
    const kernel = await dumpFrom(root, `/boot/${img.info.kernel}`, join(tmp, "k"));
    assert.deepEqual(kernel, await Deno.readFile(img.kernel));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
