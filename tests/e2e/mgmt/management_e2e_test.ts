/**
 * End to end, in network namespaces: the management plane on a working balancer. In `lb`, the
 * real daemon carries a FULLNAT service (VIP:80 over two nginx real servers) and a NAT service
 * (VIP:8080 over a third), each real server with a TCP health check every second. Then
 * `fullnat mgmt apply --netns lb` puts the management side on (management interface eth0 with
 * 198.51.100.1 and a second address 198.51.100.5 that is not on the interface yet), and a real
 * `/usr/sbin/sshd -D -f` is started with the generated drop-in. It checks that:
 *
 * - sshd answers (ssh-keyscan gets its host key) on the management address, on the MAC-derived
 *   IPv4 link-local fallback address and on the IPv6 link-local one (`fe80::...%eth0`);
 * - 198.51.100.5, listed before it existed, answers once added, without an sshd restart
 *   (net.ipv4.ip_nonlocal_bind);
 * - the idle timeout (3 s here): an SSH session with nothing going on is closed by sshd
 *   (`ChannelTimeout`), one printing every second outlives it;
 * - SSH is refused on the VIP, on the data interface's address and on a local address, and
 *   the firewall's SSH DROP counter (`fullnat mgmt show`, and the shell's `show firewall`)
 *   counted those attempts;
 * - with the firewall on, curl through the FULLNAT and the NAT service gets every answer, and
 *   the health checks keep passing (no round failed, no server went down): their replies are
 *   ESTABLISHED, or, from the NAT server, untracked (diverted by source) and admitted so;
 * - a sync daemon started with `ipvsadm --start-daemon` gets its UDP port opened on its
 *   interface at once (and stored for the next boot), and closed again when it stops;
 * - the boot record the apply left, replayed by the image's shell script (`fullnat-mgmt-boot`)
 *   after the chain, the fallback addresses and a configured address were removed, puts back
 *   the same rules in both families and the addresses, hooks the chain once however often it runs, and asks for the
 *   Deno apply instead when the port's MAC is not the recorded one;
 * - `fullnat mgmt firewall-off` removes the chain and its INPUT hook in both families.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { planManagement } from "../../../src/mgmt/plan.ts";
import { fallbackAddresses } from "../../../src/mgmt/link_local.ts";
import { writeInput } from "../../../src/mgmt/input_store.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { type NginxServer, startNginx } from "../../../testkit/servers.ts";
import { sshClientArgs } from "../../../testkit/ssh_args.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const SSHD = "/usr/sbin/sshd";
const BOOT_SCRIPT =
  new URL("../../../image/rootfs/usr/local/sbin/fullnat-mgmt-boot", import.meta.url)
    .pathname;

const sshdMissing = (() => {
  try {
    Deno.statSync(SSHD);
    return false;
  } catch {
    return true;
  }
})();

/** Runs `fullnat ARGS` on this checkout; its result. */
async function fullnat(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

/** The host key sshd offers at `address` from namespace `from`, or "" when none answers. */
async function keyscan(topo: Topology, from: string, address: string): Promise<string> {
  const r = await topo.exec(from, ["ssh-keyscan", "-T", "3", "-t", "ed25519", address]);
  return r.stdout.trim();
}

/** The packets the chain's SSH DROP rule counted, read from `fullnat mgmt show`. */
function sshDrops(show: string, family: "IPv4" | "IPv6"): number {
  const part = show.slice(show.indexOf(`${family} (`));
  const line = part.split("\n").find((l) => /\bDROP\b.*tcp dpt:22\b/.test(l));
  assert.ok(line !== undefined, `no SSH DROP rule in:\n${part}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** The daemon's health-check counters (`fullnat status --json`). */
async function healthCounters(
  lb: Balancer,
): Promise<{ checksRun: number; checksFailed: number; transitionsDown: number }> {
  return JSON.parse((await lb.cli("status", "--json")).stdout).health;
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await fn())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test({
  name: "e2e management: sshd on management addresses only, host firewall, traffic and checks",
  ignore: sshdMissing,
  fn: async () => {
    const topo = await createTopology({ rsDefaultViaLb: true });
    const root = await Deno.makeTempDir({ prefix: "fullnat-mgmt-e2e-" });
    const nginx: NginxServer[] = [];
    let lb: Balancer | undefined;
    let code: number | undefined;
    try {
      const [rs1, rs2, rs3] = topo.addrs.realServers;
      const vip = topo.addrs.vips[0];
      const lip = topo.addrs.localAddrs[0];
      for (const a of [rs1, rs2, rs3]) nginx.push(await startNginx({ netns: topo.rs, addrs: [a] }));
      // The daemon's state directory holds the management input, as on the appliance
      // (/var/lib/fullnat/mgmt): its sync daemons then open the firewall for themselves.
      const daemonState = join(root, "state");
      lb = await startBalancer(topo, ["--state-dir", daemonState]);
      const check = { type: "tcp", delayLoop: 1, connectTimeout: 1, retry: 0, fall: 1, rise: 1 };
      const doc = {
        version: 1,
        services: [
          {
            protocol: "tcp",
            address: vip,
            port: 80,
            scheduler: "rr",
            realServers: [rs1, rs2].map((address) => ({ address, port: 80, checks: [check] })),
            localAddresses: [lip],
          },
          {
            protocol: "tcp",
            address: vip,
            port: 8080,
            scheduler: "rr",
            realServers: [{ address: rs3, port: 80, method: "nat", checks: [check] }],
          },
        ],
      };
      const docFile = join(root, "lb.json");
      await Deno.writeTextFile(docFile, JSON.stringify(doc));
      const applied = await lb.cli("config", "apply", docFile);
      assert.equal(applied.code, 0, applied.stderr);

      // The management side, as fullnat-mgmt.service applies it at boot.
      const input = {
        management: "eth0",
        interfaces: [{ name: "eth0", addresses: ["198.51.100.1/24", "198.51.100.5/24"] }],
        // Short, so the test sees sshd close an idle session (900 s on a box by default).
        idleTimeoutS: 3,
      };
      const stateDir = join(daemonState, "mgmt");
      await writeInput(stateDir, input);
      const apply = await fullnat(
        "mgmt",
        "apply",
        "--root",
        root,
        "--netns",
        topo.lb,
        "--state-dir",
        stateDir,
      );
      assert.equal(apply.code, 0, apply.err + apply.out);
      assert.match(apply.out, /host firewall installed/);
      const macOut = await topo.exec("lb", ["cat", "/sys/class/net/eth0/address"]);
      const fb = fallbackAddresses(macOut.stdout.trim());
      const ll4 = fb.ipv4.split("/")[0];
      const ll6 = fb.ipv6.split("/")[0];
      const addrs = (await topo.exec("lb", ["ip", "-o", "addr", "show", "dev", "eth0"])).stdout;
      assert.ok(addrs.includes(` ${fb.ipv4} `), `fallback IPv4 on eth0:\n${addrs}`);
      assert.ok(addrs.includes(` ${fb.ipv6} `), `fallback IPv6 on eth0:\n${addrs}`);
      const plan = planManagement({ ...input, mac: macOut.stdout.trim() }).plan;
      assert.deepEqual(plan.listen.map((l) => l.address), [
        "198.51.100.1",
        "198.51.100.5",
        ll4,
        ll6,
      ]);

      // A real sshd with the generated drop-in, as the appliance's sshd_config includes it.
      const hostKey = join(root, "ssh_host_ed25519_key");
      const kg = await new Deno.Command("ssh-keygen", {
        args: ["-q", "-t", "ed25519", "-N", "", "-f", hostKey],
      }).output();
      assert.equal(kg.code, 0);
      // A login key: root in the test, whose keys sshd reads from the temporary directory.
      const clientKey = join(root, "client_key");
      const ck = await new Deno.Command("ssh-keygen", {
        args: ["-q", "-t", "ed25519", "-N", "", "-f", clientKey],
      }).output();
      assert.equal(ck.code, 0);
      await Deno.copyFile(`${clientKey}.pub`, join(root, "authorized_keys"));
      await Deno.mkdir("/run/sshd", { recursive: true });
      const dropIn = join(root, "etc/ssh/sshd_config.d/fullnat-listen.conf");
      const config = join(root, "sshd_config");
      await Deno.writeTextFile(
        config,
        [
          `Include ${dropIn}`,
          `HostKey ${hostKey}`,
          `PidFile ${join(root, "sshd.pid")}`,
          "UsePAM no",
          `AuthorizedKeysFile ${join(root, "authorized_keys")}`,
          "StrictModes no",
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "",
        ].join("\n"),
      );
      const test = await topo.exec("lb", [SSHD, "-t", "-f", config]);
      assert.equal(test.code, 0, `sshd -t: ${test.stderr}`);
      const sshd = topo.spawn("lb", [SSHD, "-D", "-e", "-f", config], { stderr: "piped" });
      const sshdLog: string[] = [];
      (async () => {
        for await (const c of sshd.stderr.pipeThrough(new TextDecoderStream())) sshdLog.push(c);
      })().catch(() => {});
      // The client reaches the link-local range on its link (an operator's laptop would).
      await topo.exec("client", ["ip", "route", "add", "169.254.0.0/16", "dev", "eth0"], {
        check: true,
      });
      await waitFor(
        "sshd on 198.51.100.1",
        async () => (await keyscan(topo, "client", "198.51.100.1")) !== "",
      );

      assert.match(await keyscan(topo, "client", "198.51.100.1"), /ssh-ed25519 AAAA/);
      assert.match(await keyscan(topo, "client", ll4), /ssh-ed25519 AAAA/, sshdLog.join(""));
      // IPv6 link-local needs the client's own fe80 address out of DAD.
      await waitFor(
        "sshd on the IPv6 link-local address",
        async () => (await keyscan(topo, "client", `${ll6}%eth0`)) !== "",
      );
      assert.equal(await keyscan(topo, "client", "198.51.100.5"), "", "not on eth0 yet");
      await topo.exec("lb", ["ip", "addr", "add", "198.51.100.5/24", "dev", "eth0"], {
        check: true,
      });
      // Bound before the address existed (ip_nonlocal_bind), it answers once it is there. The
      // client's neighbour entry for it failed a moment ago: allow for its re-resolution.
      const added = performance.now();
      await waitFor(
        "sshd on 198.51.100.5 without a restart",
        async () => /ssh-ed25519 AAAA/.test(await keyscan(topo, "client", "198.51.100.5")),
      );
      console.log(
        `198.51.100.5 answered SSH ${(performance.now() - added).toFixed(0)} ms after it was added`,
      );

      const before = await fullnat(
        "mgmt",
        "show",
        "--root",
        root,
        "--netns",
        topo.lb,
        "--state-dir",
        stateDir,
      );
      assert.equal(before.code, 0, before.err);
      const drops0 = sshDrops(before.out, "IPv4");
      assert.equal(await keyscan(topo, "client", vip), "", "no SSH on the VIP");
      assert.equal(await keyscan(topo, "client", topo.addrs.lbB), "", "none on a data address");
      assert.equal(await keyscan(topo, "rs", topo.addrs.lbB), "", "nor from the data side");
      assert.equal(await keyscan(topo, "rs", lip), "", "nor on a local address");
      const after = await fullnat(
        "mgmt",
        "show",
        "--root",
        root,
        "--netns",
        topo.lb,
        "--state-dir",
        stateDir,
      );
      const drops = sshDrops(after.out, "IPv4") - drops0;
      console.log(`SSH packets the firewall dropped for 4 refused attempts: ${drops}`);
      // Four refused attempts; ssh-keyscan's SYN is retransmitted within its 3 s, so more.
      assert.ok(drops >= 4, `the firewall dropped ${drops} SSH packets:\n${after.out}`);
      assert.match(after.out, /fallback addresses: 169\.254\./);
      // The admin shell's view of the same counters, read by the daemon (root) for it.
      const shown = await lb.cli("show", "firewall");
      assert.equal(shown.code, 0, shown.stderr);
      assert.ok(sshDrops(shown.stdout, "IPv4") >= drops0 + drops, shown.stdout);

      // The balancer's traffic and its health checks are untouched by the firewall.
      const checksBefore = await healthCounters(lb);
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) {
        for (const port of [80, 8080]) {
          const r = await topo.exec("client", [
            "curl",
            "-s",
            "-m",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            `http://${vip}:${port}/`,
          ]);
          answers.push(`${port}:${r.stdout}`);
        }
      }
      assert.deepEqual(answers, Array.from({ length: 6 }, () => ["80:200", "8080:200"]).flat());
      // Let three more rounds of every check run behind the firewall.
      await new Promise((r) => setTimeout(r, 3500));
      const checksAfter = await healthCounters(lb);
      assert.ok(checksAfter.checksRun >= checksBefore.checksRun + 6, JSON.stringify(checksAfter));
      assert.equal(checksAfter.checksFailed, 0, JSON.stringify(checksAfter));
      assert.equal(checksAfter.transitionsDown, 0, JSON.stringify(checksAfter));
      const listing = await lb.ipvsadmOk("-L", "-n");
      for (const a of [rs1, rs2, rs3]) assert.ok(listing.includes(`${a}:80`), listing);

      // Idle timeout (ChannelTimeout session=3): a silent session is closed, a talking one not.
      const ssh = (command: string) =>
        topo.exec("client", [
          ...sshClientArgs(clientKey, "root@198.51.100.1", ["-F", "/dev/null"]),
          command,
        ]);
      let t0 = performance.now();
      const silent = await ssh("sleep 20; echo late");
      const silentS = (performance.now() - t0) / 1000;
      assert.ok(!silent.stdout.includes("late"), `the idle session went on: ${silent.stdout}`);
      assert.ok(silentS < 12, `idle session closed after ${silentS.toFixed(1)} s`);
      t0 = performance.now();
      const talking = await ssh("for i in 1 2 3 4 5 6; do echo tick; sleep 1; done; echo end");
      const talkingS = (performance.now() - t0) / 1000;
      assert.equal(talking.code, 0, talking.stderr);
      assert.ok(talking.stdout.trim().endsWith("end"), talking.stdout);
      console.log(
        `idle timeout 3 s: a silent session closed after ${silentS.toFixed(1)} s; ` +
          `one printing every second lived its ${talkingS.toFixed(1)} s`,
      );

      // A sync daemon started from the shell is admitted at once, and stays so across boots.
      const syncRule = "-A FULLNAT-HOST-IN -i eth1 -p udp -m udp --dport 8848 -j ACCEPT";
      const rules = async () =>
        (await topo.exec("lb", ["iptables", "-S", "FULLNAT-HOST-IN"])).stdout;
      assert.ok(!(await rules()).includes(syncRule));
      await lb.ipvsadmOk("--start-daemon", "backup", "--mcast-interface", "eth1", "--syncid", "7");
      assert.ok((await rules()).includes(syncRule), await rules());
      assert.deepEqual(JSON.parse(await Deno.readTextFile(join(stateDir, "input.json"))).sync, [
        { interface: "eth1", port: 8848 },
      ]);
      await lb.ipvsadmOk("--stop-daemon", "backup");
      assert.ok(!(await rules()).includes(syncRule), await rules());

      // The next boot replays the record in a shell (fullnat-mgmt-boot, no Deno): with the
      // chain and the fallback addresses gone, as after a reboot, it puts back exactly what
      // the apply (and the sync daemon's opening and closing) left.
      const chains = async () => ({
        v4: (await topo.exec("lb", ["iptables", "-S", "FULLNAT-HOST-IN"])).stdout,
        v6: (await topo.exec("lb", ["ip6tables", "-S", "FULLNAT-HOST-IN"])).stdout,
      });
      const hooks = async () =>
        (await topo.exec("lb", ["iptables", "-S", "INPUT"])).stdout.split("\n")
          .filter((l) => l === "-A INPUT -j FULLNAT-HOST-IN").length;
      const applied4 = await chains();
      assert.match(applied4.v4, /-A FULLNAT-HOST-IN -d 198\.51\.100\.1\/32 -i eth0 .*--dport 22 /);
      const record = join(stateDir, "boot");
      assert.equal((await Deno.readTextFile(join(record, "mac"))).trim(), macOut.stdout.trim());
      const off0 = await fullnat("mgmt", "firewall-off", "--netns", topo.lb);
      assert.equal(off0.code, 0, off0.err);
      // The configured management address too: the record brings it up before networkd.
      for (const a of [fb.ipv4, fb.ipv6, "198.51.100.5/24"]) {
        await topo.exec("lb", ["ip", "addr", "del", a, "dev", "eth0"], { check: true });
      }
      const flag = join(root, "mgmt-apply-needed");
      const replay = () => topo.exec("lb", ["sh", BOOT_SCRIPT, record, flag]);
      const replayed = await replay();
      assert.equal(replayed.code, 0, replayed.stderr);
      assert.match(replayed.stdout, /from the record/, replayed.stdout + replayed.stderr);
      assert.deepEqual(await chains(), applied4);
      assert.equal(await hooks(), 1);
      const back = (await topo.exec("lb", ["ip", "-o", "addr", "show", "dev", "eth0"])).stdout;
      for (const a of [fb.ipv4, fb.ipv6, "198.51.100.5/24"]) {
        assert.ok(back.includes(` ${a} `), back);
      }
      await assert.rejects(Deno.stat(flag), Deno.errors.NotFound);
      // Twice (a restarted unit): the chain is replaced, not hooked a second time.
      assert.equal((await replay()).code, 0);
      assert.equal(await hooks(), 1);
      assert.deepEqual(await chains(), applied4);
      assert.match(await keyscan(topo, "client", ll4), /ssh-ed25519 AAAA/);
      // Another MAC (a new NIC): nothing replayed, the Deno apply is asked for.
      await Deno.writeTextFile(join(record, "mac"), "52:54:00:00:00:99\n");
      const moved = await replay();
      assert.equal(moved.code, 0, moved.stderr);
      assert.match(moved.stdout, /the record was made for 52:54:00:00:00:99/);
      await Deno.stat(flag);
      console.log(`boot record replayed: ${replayed.stdout.trim()}`);

      const off = await fullnat("mgmt", "firewall-off", "--netns", topo.lb);
      assert.equal(off.code, 0, off.err);
      for (const tool of ["iptables", "ip6tables"]) {
        const s = (await topo.exec("lb", [tool, "-S"])).stdout;
        assert.ok(!s.includes("FULLNAT-HOST-IN"), `${tool} still has the chain:\n${s}`);
      }
    } finally {
      code = await lb?.stop();
      for (const n of nginx) await n.stop();
      await topo.destroy();
      await Deno.remove(root, { recursive: true });
    }
    assert.equal(code, 0, `daemon exit code ${code}:\n${lb?.log()}`);
  },
});
