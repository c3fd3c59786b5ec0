/**
 * `system show`'s reading of the appliance's slot files (src/system/slots.ts): GRUB's
 * environment block, the kernel command line and fullnat-slot's records, as the image writes
 * them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  formatSystemView,
  parseKeyValues,
  readSystemView,
  runningSlot,
  systemView,
} from "../../../src/system/slots.ts";

const GRUBENV = (vars: string) => {
  const text = `# GRUB Environment Block\n${vars}`;
  return text + "#".repeat(1024 - text.length);
};

Deno.test("parseKeyValues reads grubenv, skipping its # padding", () => {
  assert.deepEqual(parseKeyValues(GRUBENV("fullnat_default=b\nnext_entry=slot-a\n")), {
    fullnat_default: "b",
    next_entry: "slot-a",
  });
});

Deno.test("runningSlot takes fullnat.slot= from the kernel command line, a or b only", () => {
  assert.equal(runningSlot("root=LABEL=fullnat-root-b fullnat.slot=b rw quiet\n"), "b");
  assert.equal(runningSlot("root=/dev/vda2 rw"), undefined);
  assert.equal(runningSlot("fullnat.slot=c"), undefined);
});

Deno.test("systemView: first boot of a fresh disk, slot b empty, slot a from the image stamp", () => {
  const v = systemView({
    grubenv: GRUBENV("fullnat_default=a\n"),
    cmdline: "root=LABEL=fullnat-root-a fullnat.slot=a rw",
    records: {},
    imageStamp: "version=1.2\ninputs=abc\n",
  });
  assert.equal(v.running, "a");
  assert.equal(v.defaultSlot, "a");
  assert.deepEqual(v.slots.map((s) => [s.slot, s.version, s.state, s.active, s.default]), [
    ["a", "1.2", "good", true, true],
    ["b", undefined, "empty", false, false],
  ]);
});

Deno.test("systemView: an upgrade waiting for its reboot, then a failed trial, say so", () => {
  const waiting = systemView({
    grubenv: GRUBENV("fullnat_default=a\nnext_entry=slot-b\n"),
    cmdline: "fullnat.slot=a",
    records: { a: "version=1\nstate=good\n", b: "version=2\nstate=trial\nnote=installed\n" },
  });
  assert.deepEqual(waiting.slots.map((s) => [s.state, s.next]), [["good", false], [
    "trial",
    true,
  ]]);
  const failed = systemView({
    grubenv: GRUBENV("fullnat_default=a\n"),
    cmdline: "fullnat.slot=a",
    records: { a: "version=1\nstate=good\n", b: "version=2\nstate=failed\nnote=no answer\n" },
    events: "t1 upgrade: x\nt2 fallback: slot b (version 2) is not healthy\n",
  });
  const text = formatSystemView(failed);
  assert.match(text, /^a\s+1\s+good\s+active, default$/m);
  assert.match(text, /^b\s+2\s+failed\s+-\s+no answer$/m);
  assert.match(text, /^ {2}t2 fallback: slot b/m);
});

Deno.test("readSystemView reads the files where the appliance keeps them; missing files are empty", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-slots-" });
  try {
    await Deno.mkdir(join(dir, "system"));
    await Deno.mkdir(join(dir, "sys", "vdz4"), { recursive: true });
    await Deno.writeTextFile(join(dir, "grubenv"), GRUBENV("fullnat_default=b\n"));
    await Deno.writeTextFile(join(dir, "cmdline"), "fullnat.slot=b\n");
    await Deno.writeTextFile(join(dir, "system", "slot-b"), "version=9\nstate=good\n");
    await Deno.writeTextFile(join(dir, "sys", "vdz4", "size"), "4096\n");
    await Deno.writeTextFile(join(dir, "vdz4"), "");
    await Deno.symlink(join(dir, "vdz4"), join(dir, "data-link"));
    const v = await readSystemView({
      grubenv: join(dir, "grubenv"),
      cmdline: join(dir, "cmdline"),
      systemDir: join(dir, "system"),
      imageStamp: join(dir, "nothing"),
      dataLink: join(dir, "data-link"),
      sysBlock: join(dir, "sys"),
    });
    assert.equal(v.running, "b");
    assert.equal(v.defaultSlot, "b");
    assert.deepEqual(v.slots.map((s) => [s.slot, s.version ?? "-", s.state]), [
      ["a", "-", "empty"],
      ["b", "9", "good"],
    ]);
    assert.deepEqual(v.data, { device: join(dir, "vdz4"), bytes: 4096 * 512 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
