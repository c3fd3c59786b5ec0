/**
 * The appliance's own durability under qemu (issue 12, points 4-7), one boot serving several
 * checks: the disk is booted by its own GRUB from an overlay made 1 GiB bigger than the image,
 * with a qemu monitor and reboots allowed, and then
 *
 * 1. boot to SSH (timed); `system show` lists slot a active and default, and the data
 *    partition grown to the end of the enlarged disk;
 * 2. power cut: `service add` returns over SSH, `system_reset` at once through the monitor;
 *    after the reboot (timed) the service is there (the store's commit is on disk);
 * 3. upgrade: `system upgrade -` with a bundle built from a changed tree (build.sh --version)
 *    streamed over SSH; the box reboots into slot b, confirms it and makes it the default;
 *    configuration, SSH host key, admin key (the login itself) and the host name (the files
 *    the box wrote in /etc, carried into the new slot) are kept (timed);
 * 4. rollback: an upgrade to a bundle whose daemon cannot start (build.sh --break-daemon) goes
 *    into slot a, is booted once, is not confirmed, and the box returns by itself to slot b
 *    with its configuration (timed).
 *
 * The seed's DNS and NTP servers are in effect (systemd-resolved, systemd-timesyncd, as `dns
 * show` and `ntp show` report) after the first boot, the power cut and the upgrade.
 *
 * Every reboot keeps addresses, routes and configuration: the seed is never changed, so
 * provisioning has nothing to do at any boot after the first, and the address SSH answers on,
 * the seed's route (`show routes`) and the service come from the stored configuration (the
 * daemon's `--manage-host-network`) after the power cut, the upgrade and the fallback alike. (A
 * separate plain reboot at the end checked nothing these three do not, so it is gone: one
 * emulated boot less.)
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { sweepStale } from "../../../testkit/netns.ts";
import { sshClientArgs } from "../../../testkit/ssh_args.ts";
import { run } from "../../../testkit/proc.ts";
import { waitFor } from "../../../testkit/wait.ts";
import { buildImage, REPO_ROOT } from "./image_build.ts";
import { killOrphanVms, kvmWorks, monitorCommand, moveTap, startVm, type Vm } from "./vm.ts";

const NETNS_PREFIX = "fnslot";
const CLIENT = "198.51.100.2";
const LB_A = "198.51.100.1";
const VIP = "198.51.100.10";
/** A route the seed adds: it must be there after every reboot. */
const FAR_NET = "192.0.2.0/24";
/** The seed's name and time servers: in effect (systemd-resolved, systemd-timesyncd) at every boot. */
const DNS = "192.0.2.53";
const NTP = "192.0.2.123";
const V2 = "fullnat-slots-test-v2";
const BROKEN = "fullnat-slots-test-broken";

function provisioning(sshKey: string): string {
  return `version: 1
hostname: slots-test
admin:
  sshKeys:
    - ${sshKey}
network:
  interfaces:
    eth0: { addresses: [${LB_A}/24] }
  routes:
    - { to: ${FAR_NET}, via: ${CLIENT} }
  dns: { servers: [${DNS}], search: [example.net] }
  ntp: { servers: [${NTP}] }
`;
}

interface SlotJson {
  running?: string;
  runningVersion?: string;
  defaultSlot: string;
  slots: { slot: string; version?: string; state: string; note?: string }[];
  events: string[];
  data?: { device: string; bytes: number };
}

Deno.test({
  name:
    "appliance slots under qemu: data partition grows, a change survives system_reset, upgrade keeps config and keys, a broken upgrade falls back, every reboot keeps addresses and routes with the seed unchanged",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await killOrphanVms();
    await sweepStale(NETNS_PREFIX);
    const image = await buildImage();
    const v2 = await buildImage(["--bundle-only", "--version", V2]);
    const broken = await buildImage(["--bundle-only", "--version", BROKEN, "--break-daemon"]);
    console.log(
      `images: base ${image.info.version} (${image.seconds.toFixed(0)} s), ` +
        `${v2.info.version} bundle ${v2.info.bundle_bytes} bytes (${v2.seconds.toFixed(0)} s), ` +
        `${broken.info.version} (${broken.seconds.toFixed(0)} s)`,
    );
    assert.equal(v2.info.version, V2);

    const tmp = await Deno.makeTempDir({ prefix: "fullnat-slots-" });
    const ns = `${NETNS_PREFIX}${Deno.pid}`;
    const tap = `fns${Deno.pid}`.slice(0, 15);
    const serialLog = join(tmp, "serial.log");
    const monitor = join(tmp, "monitor.sock");
    let vm: Vm | undefined;
    const figures: string[] = [];
    try {
      const key = join(tmp, "admin_key");
      await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "slots", "-f", key], {
        check: true,
      });
      const pub = (await Deno.readTextFile(`${key}.pub`)).trim();
      const seed = join(tmp, "seed.img");
      await Deno.writeTextFile(join(tmp, "fullnat.yaml"), provisioning(pub));
      await run([
        "deno",
        "run",
        "-A",
        `${REPO_ROOT}/main.ts`,
        "provision",
        "seed",
        join(tmp, "fullnat.yaml"),
        "--output",
        seed,
      ], { check: true });
      const seedBytes = await Deno.readFile(seed);
      const disk = join(tmp, "disk.qcow2");
      await run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", image.raw, "-F", "raw", disk], {
        check: true,
      });
      await run(["qemu-img", "resize", "-q", disk, "+1G"], { check: true });
      const diskBytes = Number(image.info.raw_bytes) + 2 ** 30;

      await run(["ip", "netns", "add", ns], { check: true });
      const accel = await kvmWorks(image.kernel) ? "kvm" : "tcg";
      vm = startVm({
        disk,
        extraDisks: [seed],
        nics: [{ tap, mac: "52:54:00:f1:00:01" }],
        serialLog,
        accel,
        allowReboot: true,
        monitor,
      });
      await moveTap(tap, ns, vm);
      await run(["ip", "-n", ns, "-batch", "-"], {
        stdin: `link set lo up\naddr add ${CLIENT}/24 dev ${tap}\nlink set ${tap} up\n`,
        check: true,
      });
      const sshArgs = sshClientArgs(key, `admin@${LB_A}`, ["-o", "ConnectTimeout=5"]);
      const ssh = (command: string, stdin?: string) =>
        run([...sshArgs, command], { netns: ns, ...(stdin !== undefined ? { stdin } : {}) });
      const systemShow = async (): Promise<SlotJson | undefined> => {
        const r = await ssh("system show --json");
        return r.code === 0 ? JSON.parse(r.stdout) as SlotJson : undefined;
      };
      /** Waits until `system show` over SSH satisfies `ok`; returns it. */
      const until = (what: string, ok: (v: SlotJson) => boolean, timeoutMs = 400_000) =>
        waitFor(async () => {
          if (vm!.exited()) throw new Error(`qemu exited: ${vm!.stderr().trim()}`);
          const v = await systemShow().catch(() => undefined);
          return v !== undefined && ok(v) ? v : undefined;
        }, { timeoutMs, intervalMs: 1000, what });
      const hostKey = async () =>
        (await run(["ssh-keyscan", "-T", "5", "-t", "ed25519", LB_A], { netns: ns })).stdout.trim();
      const services = async () => (await ssh("service list")).stdout;
      /** Seconds from `since` until sshd answers a key exchange on the provisioned address. */
      const sshAnswersAfter = async (since: number) => {
        await waitFor(async () => {
          if (vm!.exited()) throw new Error(`qemu exited: ${vm!.stderr().trim()}`);
          return (await hostKey()).includes("ssh-ed25519");
        }, { timeoutMs: 400_000, intervalMs: 250, what: "sshd answering" });
        return (performance.now() - since) / 1000;
      };
      /**
       * The stored configuration came back: the service (`service list`) and the seed's route
       * (`show routes`). Both are the daemon's answers: SSH answers before the daemon has
       * restored its store (the address is up from networkd's files), so this waits for them.
       */
      const assertStored = (when: string) =>
        waitFor(async () => {
          const s = await services();
          const r = (await ssh("show routes")).stdout;
          return s.includes(`${VIP}:8080`) && r.includes(FAR_NET) ? s : undefined;
        }, { timeoutMs: 120_000, intervalMs: 2000, what: `${when}: the service and ${FAR_NET}` });

      /**
       * The seed's DNS and NTP servers are in effect: systemd-resolved and systemd-timesyncd
       * read the daemon's drop-ins (`dns show`, `ntp show` print what the services use).
       */
      const assertDnsNtp = (when: string) =>
        waitFor(async () => {
          const dns = (await ssh("dns show")).stdout;
          const ntp = (await ssh("ntp show")).stdout;
          return new RegExp(`in effect\\s+${DNS.replaceAll(".", "\\.")}`).test(dns) &&
              /search in effect\s+example\.net/.test(dns) &&
              new RegExp(`in effect\\s+${NTP.replaceAll(".", "\\.")}`).test(ntp)
            ? `${dns}${ntp}`
            : undefined;
        }, {
          timeoutMs: 120_000,
          intervalMs: 2000,
          what: `${when}: DNS ${DNS} and NTP ${NTP} in effect`,
        });

      // 1. Boot to SSH; the slots; the data partition grown to the disk's end.
      // Boot to SSH is when sshd first answers on the provisioned address (a key exchange,
      // ssh-keyscan); a shell command after it adds the Deno start of a one-shot command.
      const bootToSsh = await sshAnswersAfter(vm.startedAt);
      const first = await until("SSH and system show", (v) => v.running === "a");
      const bootToShell = (performance.now() - vm.startedAt) / 1000;
      figures.push(
        `boot to SSH ${bootToSsh.toFixed(1)} s (to a first shell command ${
          bootToShell.toFixed(1)
        } s)`,
      );
      console.log(
        `first boot to SSH (${accel}): ${bootToSsh.toFixed(1)} s\n${JSON.stringify(first)}`,
      );
      assert.equal(first.defaultSlot, "a");
      assert.equal(first.runningVersion, image.info.version);
      assert.deepEqual(first.slots.map((s) => [s.slot, s.state]), [["a", "good"], ["b", "empty"]]);
      assert.ok(first.data, "system show names the data partition");
      // The data partition is the last: grown to the disk's end, it ends where the disk does.
      const dataStart = diskBytes - 2 ** 30 - Number(image.info.data_mib) * 2 ** 20;
      assert.equal(
        first.data!.bytes,
        diskBytes - dataStart,
        "the data partition grew to the disk's end",
      );
      console.log(`where the boot went:\n${(await ssh("system boot-time")).stdout}`);
      console.log(`DNS and NTP after the first boot:\n${await assertDnsNtp("the first boot")}`);
      const key1 = await hostKey();
      assert.match(key1, /ssh-ed25519/);

      // 2. Power cut right after an acknowledged change.
      const add = await ssh(`service add tcp ${VIP}:8080 -s rr`);
      assert.equal(add.code, 0, `service add: ${add.stderr}`);
      const cut = performance.now();
      await monitorCommand(monitor, "system_reset");
      // The old sshd may still answer for a moment: wait for it to stop answering first.
      await waitFor(async () => (await hostKey()) === "", {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: "sshd gone after system_reset",
      }).catch(() => {});
      const cutToSsh = await sshAnswersAfter(cut);
      await until("SSH after system_reset", (v) => v.running === "a");
      const resetToSsh = (performance.now() - cut) / 1000;
      figures.push(
        `reboot (power cut) to SSH ${cutToSsh.toFixed(1)} s (to a shell command ${
          resetToSsh.toFixed(1)
        } s)`,
      );
      const afterCut = await assertStored("after system_reset (the service added before it)");
      await assertDnsNtp("after system_reset");
      console.log(`after system_reset (${resetToSsh.toFixed(1)} s to SSH):\n${afterCut.trimEnd()}`);
      console.log(`where the reboot went:\n${(await ssh("system boot-time")).stdout}`);

      // 3. Upgrade to a bundle from a changed tree.
      const bundle = await Deno.readFile(`${v2.dir}/fullnat-upgrade.img`);
      const upStarted = performance.now();
      const up = await run([...sshArgs, "system upgrade -"], { netns: ns, stdin: bundle });
      const streamed = (performance.now() - upStarted) / 1000;
      console.log(
        `system upgrade (${
          streamed.toFixed(1)
        } s until the box rebooted):\n${up.stdout}${up.stderr}`,
      );
      assert.match(up.stdout, new RegExp(`version ${V2} in slot b verified`));
      // fullnat-slot makes the slot the default, then records it good: wait for both.
      const upgraded = await until(
        "slot b confirmed",
        (v) => v.running === "b" && v.defaultSlot === "b" && v.slots[1]?.state === "good",
      );
      const upgradeSeconds = (performance.now() - upStarted) / 1000;
      figures.push(
        `upgrade (stream, write, verify, reboot, confirm) ${upgradeSeconds.toFixed(1)} s`,
      );
      console.log(`upgraded in ${upgradeSeconds.toFixed(1)} s: ${JSON.stringify(upgraded)}`);
      assert.equal(upgraded.runningVersion, V2);
      assert.deepEqual(upgraded.slots.map((s) => [s.slot, s.state]), [["a", "good"], [
        "b",
        "good",
      ]]);
      assert.equal(await hostKey(), key1, "the host key is kept");
      await assertStored("after the upgrade");
      await assertDnsNtp("after the upgrade");
      // The box's own /etc files (host name, network files, ...) were carried into slot b: the
      // console's login banner of its boot names the seed's host name, not the image's.
      const banners = [
        ...(await Deno.readTextFile(serialLog)).matchAll(/with fullnat (\S+) ttyS0/g),
      ].map((m) => m[1]);
      assert.equal(banners.at(-1), "slots-test", `login banners: ${banners.join(", ")}`);

      // 4. A broken upgrade falls back.
      const bad = await Deno.readFile(`${broken.dir}/fullnat-upgrade.img`);
      const badStarted = performance.now();
      const down = await run([...sshArgs, "system upgrade -"], { netns: ns, stdin: bad });
      console.log(`broken upgrade:\n${down.stdout}${down.stderr}`);
      assert.match(down.stdout, new RegExp(`version ${BROKEN} in slot a verified`));
      const back = await until(
        "the box back on slot b after the broken slot a",
        (v) => v.running === "b" && v.slots[0].state === "failed",
      );
      const rollbackSeconds = (performance.now() - badStarted) / 1000;
      figures.push(
        `rollback (broken upgrade to back on the old slot) ${rollbackSeconds.toFixed(1)} s`,
      );
      console.log(`fell back in ${rollbackSeconds.toFixed(1)} s: ${JSON.stringify(back)}`);
      assert.equal(back.defaultSlot, "b");
      assert.equal(back.runningVersion, V2);
      assert.equal(back.slots[0].version, BROKEN);
      await assertStored("after the fallback");

      assert.deepEqual(await Deno.readFile(seed), seedBytes, "the seed never changed");
    } catch (e) {
      const text = await Deno.readTextFile(serialLog).catch(() => "");
      console.error(`serial console (last lines):\n${text.split("\n").slice(-60).join("\n")}`);
      if (vm) console.error(`qemu: ${vm.stderr().trim()}`);
      throw e;
    } finally {
      console.log(`figures (${vm?.accel}): ${figures.join("; ")}`);
      await vm?.stop();
      for (
        const p of (await run(["ip", "netns", "pids", ns])).stdout.split(/\s+/).filter((p) => p)
      ) {
        try {
          Deno.kill(Number(p), "SIGKILL");
        } catch {
          // Gone already.
        }
      }
      await run(["ip", "netns", "del", ns]);
      // FULLNAT_KEEP_VM_DIR=1 keeps the disk overlay and serial log to look at afterwards.
      if (Deno.env.get("FULLNAT_KEEP_VM_DIR") === "1") console.log(`kept ${tmp}`);
      else await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
