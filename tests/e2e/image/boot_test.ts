/**
 * Boot test of the appliance image (issue 5, part 6): build it with image/build.sh (or reuse
 * the cached build), boot the disk under qemu the way a user would, by the BIOS and the disk's
 * own GRUB (no `-kernel`), with a provisioning seed made by `fullnat provision seed`, and check
 * it from the outside:
 *
 * ```
 *  client netns            VM (the appliance)                      rs netns
 *  198.51.100.2 --tap-- eth0 198.51.100.1 + VIP .10
 *                         eth1 203.0.113.1 + local address .201 --tap-- 203.0.113.11 nginx
 * ```
 *
 * - GRUB on the disk loaded the kernel from root slot A (its message on the serial console;
 *   no menu: timeout 0).
 * - SSH as `admin` with the test's own key (from the seed) lands in the admin shell, and
 *   `service list` shows the provisioned service; a system command is refused; the server
 *   offers no password login.
 * - curl from the client namespace to the VIP reaches nginx in the rs namespace (which has no
 *   route back to the client), and nginx logs the appliance's local address as the peer.
 * - `daemon restart` over SSH (issue 13) restarts the daemon in place while one download
 *   through the VIP is open (held_download.ts): the shell says the daemon came back under
 *   systemd (fullnat.service) with a new pid, `show connections` shows the same session
 *   (same local address and port) before and after, the download carries data after the
 *   restart and completes byte-identical on its one connection, and new connections work.
 *
 * - The provisioning's `ha` section made the appliance write keepalived's configuration and
 *   start it: alone, the box becomes VRRP master and answers on the floating address.
 *
 * It prints the accelerator, boot-to-SSH time, the restart's output (how long the daemon was
 * away) and the image's build figures. That the direct-kernel-boot files (vmlinuz, initrd.img,
 * cmdline) match what GRUB boots is checked by disk_test.ts without a boot; that the unit
 * restarts within a second, by tests/unit/image.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { sweepStale } from "../../../testkit/netns.ts";
import { run } from "../../../testkit/proc.ts";
import { curl, startNginx } from "../../../testkit/servers.ts";
import { waitFor } from "../../../testkit/wait.ts";
import { type HeldDownload, startHeldDownload } from "./held_download.ts";
import { buildImage, REPO_ROOT } from "./image_build.ts";
import { killOrphanVms, kvmWorks, moveTap, startVm, type Vm } from "./vm.ts";
import { sshClientArgs } from "../../../testkit/ssh_args.ts";

/** What the image's grub.cfg (image/configure.sh) prints before it loads the kernel. */
const GRUB_LOADING = "fullnat: GRUB is loading Linux from slot a";

const NETNS_PREFIX = "fnimg";
const CLIENT = "198.51.100.2";
const LB_A = "198.51.100.1";
const VIP = "198.51.100.10";
const LB_B = "203.0.113.1";
const LOCAL_ADDR = "203.0.113.201";
const RS = "203.0.113.11";
/**
 * An address the `ha` section floats (issue 14): keepalived, which the appliance configures and
 * starts from it, makes this lone box VRRP master and puts the address on eth0.
 */
const FLOATING = "198.51.100.20";
/** The held download's size: at 160 KiB/s it would run 2.5 min, far past the restart. */
const BULK_BYTES = 24 << 20;
/** How long `daemon restart` may wait for the new daemon: Deno starts slowly under TCG. */
const RESTART_WAIT_S = 60;

/** The provisioning file the seed carries (format: src/provision/types.ts). */
function provisioning(sshKey: string): string {
  return `version: 1
hostname: boot-test
admin:
  sshKeys:
    - ${sshKey}
network:
  interfaces:
    eth0: { addresses: [${LB_A}/24] }
    eth1: { addresses: [${LB_B}/24] }
  vips: { eth0: [${VIP}] }
  localAddresses: { eth1: [${LOCAL_ADDR}] }
loadBalancer:
  version: 1
  services:
    - protocol: tcp
      address: ${VIP}
      port: 80
      scheduler: rr
      realServers: [{ address: ${RS}, port: 80 }]
      localAddresses: [${LOCAL_ADDR}]
ha:
  interface: eth0
  virtualRouterId: 51
  vips: { eth0: [${FLOATING}] }
  localAddresses: {}
`;
}

function hex6(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function tailOf(path: string, lines = 60): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").slice(-lines).join("\n");
}

Deno.test({
  name:
    "appliance disk boots by its own GRUB under qemu: admin shell over SSH shows the provisioned service, FULLNAT carries HTTP, daemon restart keeps an open connection",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await killOrphanVms();
    await sweepStale(NETNS_PREFIX);
    const image = await buildImage();
    console.log(
      `image: ${image.built ? "built" : "cached"} in ${image.seconds.toFixed(0)} s` +
        ` (full build took ${image.info.build_seconds} s), raw ${image.info.raw_bytes} bytes` +
        ` (${image.info.raw_allocated_kib} KiB allocated), kernel ${image.info.kernel}`,
    );

    const tmp = await Deno.makeTempDir({ prefix: "fullnat-boot-" });
    const id = `${NETNS_PREFIX}${Deno.pid}r${hex6()}`;
    const clientNs = `${id}-client`;
    const rsNs = `${id}-rs`;
    const tapClient = `fnc${Deno.pid}`.slice(0, 15);
    const tapRs = `fnr${Deno.pid}`.slice(0, 15);
    const serialLog = join(tmp, "serial.log");
    let vm: Vm | undefined;
    let stopNginx: (() => Promise<void>) | undefined;
    let held: HeldDownload | undefined;
    try {
      // The test's own admin key, and a seed made by the product's own command.
      const key = join(tmp, "admin_key");
      await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "boot-test", "-f", key], {
        check: true,
      });
      const pub = (await Deno.readTextFile(`${key}.pub`)).trim();
      await Deno.writeTextFile(join(tmp, "fullnat.yaml"), provisioning(pub));
      const seed = join(tmp, "seed.img");
      await run(
        [
          "deno",
          "run",
          "-A",
          `${REPO_ROOT}/main.ts`,
          "provision",
          "seed",
          join(tmp, "fullnat.yaml"),
          "--output",
          seed,
        ],
        { check: true },
      );
      // Writes go to an overlay; the cached image stays as built.
      const disk = join(tmp, "disk.qcow2");
      await run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", image.raw, "-F", "raw", disk], {
        check: true,
      });

      for (const ns of [clientNs, rsNs]) await run(["ip", "netns", "add", ns], { check: true });
      const accel = await kvmWorks(image.kernel) ? "kvm" : "tcg";
      // No -kernel: SeaBIOS boots the disk, whose GRUB loads Linux from /boot.
      vm = startVm({
        disk,
        extraDisks: [seed],
        nics: [{ tap: tapClient, mac: "52:54:00:f0:00:01" }, {
          tap: tapRs,
          mac: "52:54:00:f0:00:02",
        }],
        serialLog,
        accel,
      });
      await moveTap(tapClient, clientNs, vm);
      await moveTap(tapRs, rsNs, vm);
      await run(["ip", "-n", clientNs, "-batch", "-"], {
        stdin: `link set lo up\naddr add ${CLIENT}/24 dev ${tapClient}\nlink set ${tapClient} up\n`,
        check: true,
      });
      // The real server has no route to the client's subnet: only FULLNAT can answer it.
      await run(["ip", "-n", rsNs, "-batch", "-"], {
        stdin: `link set lo up\naddr add ${RS}/24 dev ${tapRs}\nlink set ${tapRs} up\n`,
        check: true,
      });
      const nginx = await startNginx({ netns: rsNs, addrs: [RS], bulkBytes: BULK_BYTES });
      stopNginx = nginx.stop;

      const ssh = (command: string, extra: string[] = []) =>
        run(
          [...sshClientArgs(key, `admin@${LB_A}`, ["-o", "ConnectTimeout=5", ...extra]), command],
          {
            netns: clientNs,
          },
        );

      // Boot to SSH: the first time the admin shell answers a command over SSH.
      const first = await waitFor(async () => {
        if (vm!.exited()) throw new Error(`qemu exited: ${vm!.stderr().trim()}`);
        const r = await ssh("service list");
        return r.code === 0 ? r : undefined;
      }, { timeoutMs: 240_000, intervalMs: 1000, what: "SSH as admin into the admin shell" });
      const bootToSsh = (performance.now() - vm.startedAt) / 1000;
      console.log(`boot to SSH via GRUB (${accel}): ${bootToSsh.toFixed(1)} s`);
      const serial = await Deno.readTextFile(serialLog);
      assert.match(serial, new RegExp(GRUB_LOADING), "GRUB ran the image's grub.cfg entry");

      // Provisioning may still be applying the load-balancer section when SSH first answers.
      const listing = first.stdout.includes(`${VIP}:80`) ? first : await waitFor(async () => {
        const r = await ssh("service list");
        return r.code === 0 && r.stdout.includes(`${VIP}:80`) ? r : undefined;
      }, { timeoutMs: 90_000, intervalMs: 2000, what: `service ${VIP}:80 in 'service list'` });
      console.log(`service list over SSH:\n${listing.stdout.trimEnd()}`);
      assert.match(listing.stdout, new RegExp(`tcp\\s+${VIP.replaceAll(".", "\\.")}:80`));

      // The login shell is the admin shell, not a system shell.
      const escape = await ssh("cat /etc/passwd");
      assert.notEqual(escape.code, 0, "a system command must be refused");
      assert.doesNotMatch(escape.stdout, /root:/);
      // Keys only: the server offers no password or keyboard-interactive login.
      const password = await ssh("service list", [
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
      ]);
      assert.notEqual(password.code, 0);
      assert.match(password.stderr, /Permission denied \(publickey\)/);

      // FULLNAT through the appliance: client -> VIP -> local address -> real server.
      const res = await waitFor(async () => {
        const r = await curl(clientNs, `http://${VIP}/`, { maxTimeSec: 10, connectTimeoutSec: 5 });
        return r.status === 200 ? r : undefined;
      }, { timeoutMs: 60_000, intervalMs: 1000, what: `HTTP from the client to ${VIP}` });
      assert.match(res.body, new RegExp(`peer ${LOCAL_ADDR.replaceAll(".", "\\.")}:`));
      const log = await nginx.accessLog();
      assert.ok(log.length > 0, "nginx logged the request");
      assert.ok(
        log.every((e) => e.remoteAddr === LOCAL_ADDR),
        `nginx saw ${log.map((e) => e.remoteAddr).join(", ")}, not only ${LOCAL_ADDR}`,
      );
      console.log(`nginx access log: ${log.map((e) => e.line).join(" | ")}`);

      // keepalived, configured and started by first boot from the `ha` section, holds the
      // floating address (master after 3 adverts with no peer heard).
      await waitFor(async () => {
        const r = await run([
          "ip",
          "netns",
          "exec",
          clientNs,
          "ping",
          "-c",
          "1",
          "-W",
          "2",
          FLOATING,
        ]);
        return r.code === 0;
      }, { timeoutMs: 60_000, intervalMs: 1000, what: `keepalived's address ${FLOATING}` });

      // Restart in place (issue 13) with one connection open through the VIP: a download
      // read slowly, which cannot finish before it is told to.
      held = startHeldDownload(clientNs, VIP, 80, nginx.bulkPath);
      const { localPort } = await held.next("started", 60_000);
      const session = async () => {
        const r = await ssh(`show connections --client ${CLIENT}:${localPort} --json`);
        assert.equal(r.code, 0, r.stderr);
        const rows = JSON.parse(r.stdout) as {
          state: string;
          local: { address: string; port: number };
          real: { address: string; port: number };
        }[];
        assert.equal(rows.length, 1, `one session for ${CLIENT}:${localPort}: ${r.stdout}`);
        return rows[0];
      };
      const sessionBefore = await session();
      assert.equal(sessionBefore.state, "ESTABLISHED");
      assert.equal(sessionBefore.local.address, LOCAL_ADDR);
      await held.send("report");
      const bytesBefore = (await held.next("report", 10_000)).bodyBytes;

      const restartStarted = performance.now();
      const restart = await ssh(`daemon restart --wait ${RESTART_WAIT_S}`);
      const restartSeconds = (performance.now() - restartStarted) / 1000;
      console.log(
        `daemon restart over SSH (${restartSeconds.toFixed(1)} s with SSH and the shell's ` +
          `start):\n${restart.stdout.trimEnd()}`,
      );
      assert.equal(restart.code, 0, `daemon restart failed: ${restart.stderr}`);
      assert.equal(restart.stderr, "");
      const stopping = restart.stdout.match(
        /^daemon \(pid (\d+)\) stopping for a restart: diversion rules and \d+ sessions? kept for the new daemon$/m,
      );
      assert.ok(stopping, `the shell said what it kept: ${restart.stdout}`);
      const back = restart.stdout.match(
        /^daemon back after (\d+\.\d\d) s: pid (\d+), started again by systemd \(fullnat\.service\); (\d+) sessions? in its table$/m,
      );
      assert.ok(back, `the shell saw the daemon back under systemd: ${restart.stdout}`);
      assert.notEqual(back[2], stopping[1], "a new daemon process answers");
      assert.ok(Number(back[3]) >= 1, "the new daemon took the open session over");

      // The same session, taken over: same local address and port, same real server.
      const sessionAfter = await session();
      assert.equal(sessionAfter.state, "ESTABLISHED");
      assert.deepEqual(
        [sessionAfter.local, sessionAfter.real],
        [sessionBefore.local, sessionBefore.real],
      );
      // The connection carries data after the restart, then completes with every byte.
      await new Promise((r) => setTimeout(r, 2000));
      await held.send("report");
      const bytesAfter = (await held.next("report", 10_000)).bodyBytes;
      assert.ok(
        bytesAfter > bytesBefore,
        `the download moved on after the restart (${bytesBefore} then ${bytesAfter} bytes)`,
      );
      assert.ok(bytesAfter < BULK_BYTES, "it was still open, with data to come");
      await held.send("finish");
      const done = await held.next("done", 240_000);
      console.log(
        `held download: ${bytesBefore} bytes before the restart, ${bytesAfter} 2 s after it, ` +
          `${done.bodyBytes} in the end; client port ${localPort}, local ` +
          `${sessionAfter.local.address}:${sessionAfter.local.port} before and after`,
      );
      assert.deepEqual(
        [done.status, done.bodyBytes, done.sha256],
        [200, nginx.bulkBytes, nginx.bulkSha256],
        "the download completed byte-identical",
      );
      const bulk = (await nginx.accessLog()).filter((e) => e.path === nginx.bulkPath);
      assert.equal(bulk.length, 1, "one request, so one connection, carried the whole file");
      assert.deepEqual(
        [bulk[0].remoteAddr, bulk[0].remotePort, bulk[0].status, bulk[0].bodyBytes],
        [LOCAL_ADDR, sessionBefore.local.port, 200, nginx.bulkBytes],
      );

      // New connections after the restart.
      const fresh = await curl(clientNs, `http://${VIP}/`, {
        maxTimeSec: 20,
        connectTimeoutSec: 10,
      });
      assert.equal(fresh.status, 200, `HTTP after the restart: ${fresh.stderr}`);
      assert.match(fresh.body, new RegExp(`peer ${LOCAL_ADDR.replaceAll(".", "\\.")}:`));
    } catch (e) {
      console.error(`serial console (last lines):\n${await tailOf(serialLog)}`);
      if (vm) console.error(`qemu: ${vm.stderr().trim()}`);
      throw e;
    } finally {
      await held?.stop().catch(() => {});
      await stopNginx?.().catch(() => {});
      await vm?.stop();
      for (const ns of [clientNs, rsNs]) {
        const pids = (await run(["ip", "netns", "pids", ns])).stdout.split(/\s+/).filter((p) => p);
        for (const p of pids) {
          try {
            Deno.kill(Number(p), "SIGKILL");
          } catch {
            // Gone already.
          }
        }
        await run(["ip", "netns", "del", ns]);
      }
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    const left = (await run(["ip", "netns", "list"])).stdout;
    assert.ok(!left.includes(id), `namespaces ${id}-* were not deleted`);
  },
});
