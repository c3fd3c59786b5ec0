/**
 * The layout of the appliance disk image/build.sh makes (issue 5), read back without booting
 * or mounting it: one bootable MBR partition from 1 MiB to the end holding a clean ext4 root,
 * GRUB's boot.img in sector 0 patched as grub-install patches it, core.img in the gap before the
 * partition, and a grub.cfg with the same kernel command line as direct kernel boot.
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
const fsSpec = (raw: string) => `${raw}?offset=${PART_START * SECTOR}`;

let cached: ApplianceImage | undefined;
async function image(): Promise<ApplianceImage> {
  cached ??= await buildImage();
  return cached;
}

/** Copies `path` out of the root filesystem into `dest` with debugfs, reading only. */
async function dumpFromRoot(raw: string, path: string, dest: string): Promise<Uint8Array> {
  await run(["debugfs", "-R", `dump ${path} ${dest}`, fsSpec(raw)], { check: true });
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

Deno.test("appliance disk: one bootable MBR partition from 1 MiB to the end, a clean ext4 root", async () => {
  const img = await image();
  const table = JSON.parse((await run(["sfdisk", "--json", img.raw], { check: true })).stdout)
    .partitiontable;
  assert.equal(table.label, "dos");
  assert.equal(table.partitions.length, 1);
  const [p] = table.partitions;
  assert.equal(p.start, PART_START);
  assert.equal(p.type, "83");
  assert.equal(p.bootable, true);
  assert.equal((p.start + p.size) * SECTOR, (await Deno.stat(img.raw)).size);

  const fsck = await run(["e2fsck", "-fn", fsSpec(img.raw)]);
  assert.equal(fsck.code, 0, `e2fsck: ${fsck.stdout}${fsck.stderr}`);
  const label = await run(["e2label", fsSpec(img.raw)], { check: true });
  assert.equal(label.stdout.trim(), "fullnat-root");
});

Deno.test("appliance disk: GRUB's boot.img in sector 0 and core.img from sector 1, as in the image's /boot/grub", async () => {
  const img = await image();
  const tmp = await Deno.makeTempDir({ prefix: "fullnat-disk-" });
  try {
    const bootImg = await dumpFromRoot(img.raw, "/boot/grub/i386-pc/boot.img", join(tmp, "b"));
    const coreImg = await dumpFromRoot(img.raw, "/boot/grub/i386-pc/core.img", join(tmp, "c"));
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

Deno.test("appliance disk: grub.cfg boots /vmlinuz (Debian's kernel in /boot) with the direct-boot command line", async () => {
  const img = await image();
  const tmp = await Deno.makeTempDir({ prefix: "fullnat-disk-" });
  try {
    const cfg = new TextDecoder().decode(
      await dumpFromRoot(img.raw, "/boot/grub/grub.cfg", join(tmp, "grub.cfg")),
    );
    const linux = cfg.split("\n").map((l) => l.trim()).find((l) => l.startsWith("linux "));
    assert.equal(linux, `linux /vmlinuz ${img.cmdline}`);
    assert.match(cfg, /^\s*initrd \/initrd\.img$/m);
    assert.match(cfg, /^serial --unit=0/m);
    // The links GRUB follows name the kernel build.sh took out for direct kernel boot.
    const link = await run(["debugfs", "-R", "stat /vmlinuz", fsSpec(img.raw)], { check: true });
    assert.match(link.stdout, new RegExp(`Fast link dest: "boot/${img.info.kernel}"`));
    const kernel = await dumpFromRoot(img.raw, `/boot/${img.info.kernel}`, join(tmp, "k"));
    assert.deepEqual(kernel, await Deno.readFile(img.kernel));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
