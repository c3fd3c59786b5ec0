/**
 * Direct kernel boot of the appliance image (issue 5): qemu loads the `vmlinuz`, `initrd.img`
 * and `cmdline` image/build.sh puts beside the disk, GRUB never runs, and the root filesystem on
 * the disk's partition comes up to the login prompt on the serial console. The full check of
 * the appliance (SSH, provisioning, FULLNAT) boots by GRUB in boot_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { run } from "../../../testkit/proc.ts";
import { buildImage } from "./image_build.ts";
import { killOrphanVms, kvmWorks, startVm, type Vm, waitForSerial } from "./vm.ts";

Deno.test({
  name:
    "appliance image boots by direct kernel boot (-kernel/-initrd/-append) to the serial login prompt",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await killOrphanVms();
    const image = await buildImage();
    const tmp = await Deno.makeTempDir({ prefix: "fullnat-direct-" });
    const serialLog = join(tmp, "serial.log");
    let vm: Vm | undefined;
    try {
      const disk = join(tmp, "disk.qcow2");
      await run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", image.raw, "-F", "raw", disk], {
        check: true,
      });
      const accel = await kvmWorks(image.kernel) ? "kvm" : "tcg";
      vm = startVm({
        direct: { kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline },
        disk,
        nics: [],
        serialLog,
        accel,
      });
      const serial = await waitForSerial(serialLog, /login: ?$/m, vm, 180_000);
      console.log(
        `direct kernel boot to the login prompt (${accel}): ` +
          `${((performance.now() - vm.startedAt) / 1000).toFixed(1)} s`,
      );
      assert.match(serial, /^Debian GNU\/Linux 12 \S+ ttyS0/m);
      assert.doesNotMatch(serial, /GNU GRUB/, "direct kernel boot bypasses the disk's GRUB");
    } catch (e) {
      const text = await Deno.readTextFile(serialLog).catch(() => "");
      console.error(`serial console (last lines):\n${text.split("\n").slice(-40).join("\n")}`);
      if (vm) console.error(`qemu: ${vm.stderr().trim()}`);
      throw e;
    } finally {
      await vm?.stop();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
