/**
 * Boot time of the appliance image under qemu: the first boot (provisioning from a seed) and
 * then boots of the provisioned disk (the stored configuration only, the seed unchanged), each
 * timed to the first SSH key exchange on the provisioned address, with the serial console's
 * milestones (GRUB, the login prompt) timed as they appear and the guest's own `system
 * boot-time` printed after each boot. The later boots are power-ons (`shutdown`, then a new
 * qemu on the same disk, timed from qemu's start: the figure the issue asks for) or, with
 * `--reboot`, `reboot` inside the guest (timed from the command, so the shutdown counts too).
 *
 *   deno run -A bench/image_boot.ts [--boots 3] [--reboot] [--accel tcg|kvm] [--keep]
 *       [--image DIR]
 *
 * `--image DIR` boots another build (image/build.sh's output directory, for example one built
 * from an older revision in a worktree) instead of this tree's; the seed is made with this tree.
 *
 * Software emulation (TCG) unless `--accel kvm` and KVM works. Figures only: nothing asserted.
 *
 * @module
 */

import { join } from "node:path";
import { run } from "../testkit/proc.ts";
import { sshClientArgs } from "../testkit/ssh_args.ts";
import { waitFor } from "../testkit/wait.ts";
import { buildImage, REPO_ROOT } from "../tests/e2e/image/image_build.ts";
import { killOrphanVms, kvmWorks, moveTap, startVm, type Vm } from "../tests/e2e/image/vm.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

const boots = Number(arg("--boots", "3"));
const wantAccel = arg("--accel", "tcg");
const CLIENT = "198.51.100.2";
const LB = "198.51.100.1";

/** Serial-console lines worth a time stamp, in the order they appear. */
const MILESTONES: [string, RegExp][] = [
  ["GRUB loads Linux", /GRUB is loading Linux/],
  ["kernel's first line", /Linux version/],
  ["systemd started", /systemd\[1\]|Welcome to/],
  ["fingerprints on the console", /SSH host key fingerprints|fingerprint/i],
  ["login prompt", /login:/],
];

const imageDir = arg("--image", "");
const image = imageDir === "" ? await buildImage(["--no-qcow2"]) : {
  raw: `${imageDir}/fullnat.raw`,
  kernel: `${imageDir}/vmlinuz`,
};
await killOrphanVms();
const tmp = await Deno.makeTempDir({ prefix: "fullnat-bench-boot-" });
const ns = `fnbb${Deno.pid}`;
const tap = `fnbb${Deno.pid}`.slice(0, 15);
const box: { vm?: Vm } = {};
try {
  const key = join(tmp, "admin_key");
  await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], { check: true });
  const pub = (await Deno.readTextFile(`${key}.pub`)).trim();
  await Deno.writeTextFile(
    join(tmp, "fullnat.yaml"),
    `version: 1\nhostname: boot-bench\nadmin:\n  sshKeys:\n    - ${pub}\n` +
      `network:\n  interfaces:\n    eth0: { addresses: [${LB}/24] }\n`,
  );
  const seed = join(tmp, "seed.img");
  await run(
    ["deno", "run", "-A", `${REPO_ROOT}/main.ts`, "provision", "seed", join(tmp, "fullnat.yaml")]
      .concat(["--output", seed]),
    { check: true },
  );
  const disk = join(tmp, "disk.qcow2");
  await run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", image.raw, "-F", "raw", disk], {
    check: true,
  });
  const accel = wantAccel === "kvm" && await kvmWorks(image.kernel) ? "kvm" : "tcg";
  const serialLog = join(tmp, "serial.log");
  const power = async () => {
    box.vm = startVm({
      disk,
      extraDisks: [seed],
      nics: [{ tap, mac: "52:54:00:bb:00:01" }],
      serialLog,
      accel,
      allowReboot: true,
    });
    await moveTap(tap, ns, box.vm);
    await run(["ip", "-n", ns, "-batch", "-"], {
      stdin: `link set lo up\naddr add ${CLIENT}/24 dev ${tap}\nlink set ${tap} up\n`,
      check: true,
    });
    return box.vm;
  };
  await run(["ip", "netns", "add", ns], { check: true });
  await power();
  const ssh = (command: string) =>
    run([...sshClientArgs(key, `admin@${LB}`, ["-o", "ConnectTimeout=5"]), command], {
      netns: ns,
    });

  /** Times the serial milestones and the first key exchange, from `since`; `offset`: log bytes to skip. */
  const timeBoot = async (since: number, offset: number) => {
    const seen = new Map<string, number>();
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const text = (await Deno.readTextFile(serialLog).catch(() => "")).slice(offset);
        for (const [name, re] of MILESTONES) {
          if (!seen.has(name) && re.test(text)) seen.set(name, (performance.now() - since) / 1000);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await waitFor(async () => {
      if (box.vm!.exited()) throw new Error(`qemu exited: ${box.vm!.stderr().trim()}`);
      const r = await run(["ssh-keyscan", "-T", "2", "-t", "ed25519", LB], { netns: ns });
      return r.stdout.includes("ssh-ed25519");
    }, { timeoutMs: 400_000, intervalMs: 100, what: "sshd answering" });
    const toSsh = (performance.now() - since) / 1000;
    await waitFor(async () => (await ssh("status")).code === 0, {
      timeoutMs: 200_000,
      intervalMs: 500,
      what: "a shell command",
    });
    const toShell = (performance.now() - since) / 1000;
    done = true;
    await watcher;
    return { toSsh, toShell, seen };
  };

  const report = (label: string, r: Awaited<ReturnType<typeof timeBoot>>) => {
    const marks = [...r.seen].map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(", ");
    console.log(
      `${label} (${accel}): SSH ${r.toSsh.toFixed(1)} s, first shell command ${
        r.toShell.toFixed(1)
      } s; ${marks}`,
    );
  };

  report("first boot", await timeBoot(box.vm!.startedAt, 0));
  console.log((await ssh("system boot-time")).stdout);
  const reboot = Deno.args.includes("--reboot");
  for (let i = 1; i < boots; i++) {
    // A new qemu starts the serial log anew; a reboot appends to it.
    let offset = (await Deno.readFile(serialLog)).length;
    let since: number;
    if (reboot) {
      since = performance.now();
      await ssh("reboot --yes");
      // Wait for sshd to go away before timing its return.
      await waitFor(async () => {
        const r = await run(["ssh-keyscan", "-T", "1", "-t", "ed25519", LB], { netns: ns });
        return !r.stdout.includes("ssh-ed25519");
      }, { timeoutMs: 120_000, intervalMs: 200, what: "sshd gone" });
    } else {
      await ssh("shutdown --yes");
      await waitFor(() => box.vm!.exited(), {
        timeoutMs: 180_000,
        intervalMs: 200,
        what: "power off",
      });
      await box.vm!.stop();
      since = (await power()).startedAt;
      offset = 0;
    }
    report(`${reboot ? "reboot" : "power-on"} ${i}`, await timeBoot(since, offset));
    console.log((await ssh("system boot-time")).stdout);
  }
  // A one-shot admin command on the settled box (what `ssh admin@box COMMAND` costs): SSH, the
  // login shell's Deno start, one call to the daemon.
  await new Promise((r) => setTimeout(r, 20_000));
  const oneShot: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await ssh("service list");
    if (r.code !== 0) throw new Error(`service list: ${r.stderr}`);
    oneShot.push((performance.now() - t0) / 1000);
  }
  oneShot.sort((a, b) => a - b);
  console.log(
    `one-shot command (ssh admin@box 'service list', settled box): median ${
      oneShot[2].toFixed(2)
    } s, min ${oneShot[0].toFixed(2)} s, max ${oneShot[4].toFixed(2)} s`,
  );
} finally {
  await box.vm?.stop();
  await run(["ip", "netns", "del", ns]);
  if (Deno.args.includes("--keep")) console.log(`kept ${tmp}`);
  else await Deno.remove(tmp, { recursive: true });
}
