// First boot against a throwaway root directory, the `lb` namespace of a test topology and a
// real daemon: what a VM does at boot, without the VM.
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildSeed, sha256Hex } from "../../../src/provision/seed.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { curl, startNginx } from "../../../testkit/servers.ts";
import { ed25519Key, EXAMPLE, exampleYaml } from "../../../testkit/provision_fixtures.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

interface Box {
  topo: Topology;
  lb: Balancer;
  root: string;
  seed: string;
  console: string;
  /** Writes `text` to the seed image. */
  writeSeed(text: string): Promise<void>;
  /** Runs `fullnat provision firstboot` against this box. */
  firstboot(...extra: string[]): Promise<{ code: number; stderr: string; console: string }>;
  addrs(dev: string): Promise<string[]>;
}

/** A root tree with the accounts and files of the appliance image that first boot touches. */
async function makeRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "fullnat-root-" });
  await Deno.mkdir(join(root, "etc"));
  await Deno.mkdir(join(root, "home/admin"), { recursive: true });
  await Deno.writeTextFile(
    join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nadmin:x:1000:1000::/home/admin:/usr/local/bin/fullnat-login-shell\n",
  );
  await Deno.writeTextFile(join(root, "etc/hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n");
  await Deno.writeTextFile(join(root, "etc/hostname"), "debian\n");
  return root;
}

async function withBox(
  fn: (box: Box) => Promise<void>,
  opts: { bare?: boolean } = {},
): Promise<void> {
  // No VIPs or local addresses yet: provisioning is what puts them there.
  const topo = await createTopology({ prefix: "fnprov", vips: [], localAddrs: [] });
  let lb: Balancer | undefined;
  const root = await makeRoot();
  try {
    // A box fresh from the image has no address on its ports.
    if (opts.bare) {
      for (const dev of ["eth0", "eth1"]) {
        await topo.exec("lb", ["ip", "addr", "flush", "dev", dev], { check: true });
      }
    }
    // The daemon keeps and applies the box's network (as the appliance's unit runs it); no
    // keepalived here.
    lb = await startBalancer(topo, [
      "--manage-host-network",
      "--keepalived-conf",
      join(root, "no-keepalived.conf"),
    ]);
    const seed = join(root, "seed.img");
    const consolePath = join(root, "console");
    const box: Box = {
      topo,
      lb,
      root,
      seed,
      console: consolePath,
      writeSeed: (text) => buildSeed(new TextEncoder().encode(text), "yaml", seed),
      async firstboot(...extra) {
        await Deno.writeTextFile(consolePath, "");
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            MAIN,
            "provision",
            "firstboot",
            "--seed",
            seed,
            "--root",
            root,
            "--netns",
            topo.lb,
            "--socket",
            lb!.socket,
            "--console",
            consolePath,
            "--seed-wait",
            "0",
            "--daemon-wait",
            "20",
            ...extra,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        return {
          code: out.code,
          stderr: dec.decode(out.stderr),
          console: await Deno.readTextFile(consolePath),
        };
      },
      async addrs(dev) {
        const r = await topo.exec("lb", ["ip", "-j", "addr", "show", "dev", dev], { check: true });
        const [link] = JSON.parse(r.stdout) as Array<
          { addr_info: Array<{ local: string; prefixlen: number; family: string }> }
        >;
        return link.addr_info.filter((a) => a.family === "inet").map((a) =>
          `${a.local}/${a.prefixlen}`
        );
      },
    };
    await fn(box);
    assert.equal(await lb.stop(), 0, lb.log());
    lb = undefined;
  } finally {
    await lb?.stop();
    await topo.destroy();
    await Deno.remove(root, { recursive: true });
  }
}

async function mtu(topo: Topology, dev: string): Promise<number> {
  const r = await topo.exec("lb", ["ip", "-j", "link", "show", "dev", dev], { check: true });
  return JSON.parse(r.stdout)[0].mtu;
}

Deno.test("provision firstboot applies host name, keys, addresses, routes and services, once per seed", async () => {
  await withBox(async (box) => {
    const { topo, lb, root } = box;
    await box.writeSeed(exampleYaml());
    const first = await box.firstboot();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.console, /done: applied hostname, admin, network, loadBalancer\r\n/);
    // Deno itself may add lines to stderr (a first download, say); the report is the same.
    const logged = first.stderr.split("\n").filter((l) => l.startsWith("fullnat-provision: "));
    assert.equal(first.console, logged.map((l) => `${l}\r\n`).join(""), "console and log agree");

    // Network: interface addresses kept, VIP and local addresses as host addresses, MTU, route.
    assert.deepEqual(await box.addrs("eth0"), ["198.51.100.1/24", `${EXAMPLE.vip}/32`]);
    assert.deepEqual(await box.addrs("eth1"), [
      "203.0.113.1/24",
      ...EXAMPLE.localAddresses.map((a) => `${a}/32`),
    ]);
    assert.equal(await mtu(topo, "eth0"), 1400);
    const route = await topo.exec("lb", ["ip", "-j", "route", "show", "192.0.2.0/24"]);
    assert.deepEqual(
      JSON.parse(route.stdout).map((r: { gateway: string; dev: string }) => [r.gateway, r.dev]),
      [["203.0.113.11", "eth1"]],
    );

    // The daemon runs the service, and FULLNAT traffic flows through the provisioned VIP.
    const listing = await lb.ipvsadmOk("-L", "-n");
    assert.match(listing, /TCP {2}198\.51\.100\.10:80 rr\n/);
    for (const rs of EXAMPLE.realServers) {
      assert.match(listing, new RegExp(`-> ${rs}:80\\s+FullNat\\s+1`));
    }
    const laddrs = await lb.ipvsadmOk("-G", "-t", `${EXAMPLE.vip}:80`);
    for (const la of EXAMPLE.localAddresses) {
      assert.match(laddrs, new RegExp(la.replaceAll(".", "\\.")));
    }
    const nginx = await startNginx({ netns: topo.rs, addrs: EXAMPLE.realServers });
    try {
      const r = await curl(topo.client, `http://${EXAMPLE.vip}/`);
      assert.equal(r.status, 200, r.stderr);
      const seen = (await nginx.accessLog()).map((e) => e.remoteAddr);
      assert.equal(seen.length, 1);
      assert.ok((EXAMPLE.localAddresses as readonly string[]).includes(seen[0]), seen[0]);
    } finally {
      await nginx.stop();
    }

    // Host files under the root; the admin's keys with the modes sshd's StrictModes wants.
    assert.equal(await Deno.readTextFile(join(root, "etc/hostname")), "edge-lb-1\n");
    assert.equal(
      await Deno.readTextFile(join(root, "etc/hosts")),
      "127.0.0.1\tlocalhost\n127.0.1.1\tedge-lb-1\n",
    );
    const keysPath = join(root, "home/admin/.ssh/authorized_keys");
    const keys = await Deno.readTextFile(keysPath);
    assert.deepEqual(keys.split("\n").filter((l) => l !== "" && !l.startsWith("#")), [
      ed25519Key(1, "alice@laptop"),
      ed25519Key(2, "bob@desk"),
    ]);
    const keyStat = await Deno.stat(keysPath);
    assert.equal(keyStat.mode! & 0o777, 0o600);
    assert.equal(keyStat.uid, 1000);
    assert.equal((await Deno.stat(join(root, "home/admin/.ssh"))).mode! & 0o777, 0o700);
    const state = JSON.parse(
      await Deno.readTextFile(join(root, "var/lib/fullnat/provision/applied.json")),
    );
    assert.equal(state.complete, true);
    assert.match(state.sha256, /^[0-9a-f]{64}$/);

    // The same seed again does nothing: what was undone by hand stays undone.
    await topo.exec("lb", ["ip", "addr", "del", `${EXAMPLE.vip}/32`, "dev", "eth0"], {
      check: true,
    });
    await lb.ipvsadmOk("-D", "-t", `${EXAMPLE.vip}:80`);
    // The marker the boot's shell check reads is written again by an unchanged run (a box
    // upgraded from a release without it).
    const marker = join(root, "var/lib/fullnat/provision/applied-seed.sha256");
    assert.equal(
      (await Deno.readTextFile(marker)).trim(),
      await sha256Hex(new TextEncoder().encode(exampleYaml())),
    );
    await Deno.remove(marker);
    const again = await box.firstboot();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.console, /was already applied at .*; nothing to do/);
    assert.equal(
      (await Deno.readTextFile(marker)).trim(),
      await sha256Hex(new TextEncoder().encode(exampleYaml())),
    );
    assert.deepEqual(await box.addrs("eth0"), ["198.51.100.1/24"]);
    assert.equal(await lb.ipvsadmOk("-L", "-n"), listing.replace(/TCP[^]*$/, ""));
    assert.equal((await Deno.stat(keysPath)).mtime?.getTime(), keyStat.mtime?.getTime());

    // A changed seed is applied as a change: what it no longer lists is withdrawn, the network
    // is applied whole again (the VIP deleted by hand is back), and the service deleted with
    // ipvsadm, which the new seed does not touch, stays deleted (never a silent revert).
    const [kept, dropped] = EXAMPLE.localAddresses;
    const changed = exampleYaml({ hostname: "edge-lb-9", keys: [ed25519Key(3, "carol@ops")] })
      .replaceAll(`[${kept}, ${dropped}]`, `[${kept}]`);
    await box.writeSeed(changed);
    const third = await box.firstboot();
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(await box.addrs("eth0"), ["198.51.100.1/24", `${EXAMPLE.vip}/32`]);
    assert.deepEqual(await box.addrs("eth1"), ["203.0.113.1/24", `${kept}/32`]);
    assert.equal(await lb.ipvsadmOk("-L", "-n"), listing.replace(/TCP[^]*$/, ""));
    const exported = JSON.parse((await lb.cli("config", "export")).stdout);
    assert.deepEqual(exported.network.localAddresses, { eth1: [kept] });
    assert.equal(await Deno.readTextFile(join(root, "etc/hostname")), "edge-lb-9\n");
    assert.match(await Deno.readTextFile(keysPath), /carol@ops\n$/);
  });
});

Deno.test("provision firstboot applies an edited seed as a change: shell changes it does not touch are kept", async () => {
  await withBox(async (box) => {
    const { topo, lb } = box;
    await box.writeSeed(exampleYaml());
    const first = await box.firstboot();
    assert.equal(first.code, 0, first.stderr + first.console);
    // The shell changes a real server's weight and adds a route and an address.
    const [rs1] = EXAMPLE.realServers;
    await lb.ipvsadmOk("-e", "-t", `${EXAMPLE.vip}:80`, "-r", `${rs1}:80`, "-b", "-w", "5");
    for (
      const cmd of [
        ["route", "add", "10.20.0.0/16", "--via", "203.0.113.12"],
        ["interface", "address", "add", "eth1", "203.0.113.2/24"],
      ]
    ) {
      const r = await lb.cli(...cmd);
      assert.equal(r.code, 0, r.stderr);
    }
    // The edited seed changes eth0's MTU and the scheduler only.
    await box.writeSeed(exampleYaml({ mtu: 1450 }).replace("scheduler: rr", "scheduler: wlc"));
    const second = await box.firstboot();
    assert.equal(second.code, 0, second.stderr + second.console);
    assert.equal(await mtu(topo, "eth0"), 1450);
    const listing = await lb.ipvsadmOk("-L", "-n");
    assert.match(listing, /TCP {2}198\.51\.100\.10:80 wlc\n/);
    assert.match(listing, new RegExp(`-> ${rs1}:80\\s+FullNat\\s+5`), listing);
    const route = await topo.exec("lb", ["ip", "-j", "route", "show", "10.20.0.0/16"]);
    assert.equal(JSON.parse(route.stdout)[0]?.gateway, "203.0.113.12");
    assert.ok((await box.addrs("eth1")).includes("203.0.113.2/24"));
  });
});

Deno.test("provision firstboot: one bad data-interface address keeps the management address", async () => {
  await withBox(async (box) => {
    await box.writeSeed(`version: 1
network:
  management: eth0
  interfaces:
    eth0: { addresses: [198.51.100.1/24] }
    eth1: { addresses: [203.0.113.300/24] }
  routes:
    - { to: default, via: 198.51.100.254 }
`);
    const r = await box.firstboot();
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.console, /network\.interfaces\.eth1\.addresses\[0\] \(line 6\)/);
    assert.match(r.console, /network: the management port eth0 applied on its own/);
    assert.deepEqual(await box.addrs("eth0"), ["198.51.100.1/24"]);
    assert.deepEqual(await box.addrs("eth1"), []);
    const route = await box.topo.exec("lb", ["ip", "-j", "route", "show", "default"]);
    assert.equal(JSON.parse(route.stdout)[0]?.gateway, "198.51.100.254");
    // It is stored: the daemon has it in its configuration.
    const exported = JSON.parse((await box.lb.cli("config", "export")).stdout);
    assert.deepEqual(exported.network.interfaces, { eth0: { addresses: ["198.51.100.1/24"] } });
  }, { bare: true });
});

Deno.test("provision firstboot: the first seed's management port goes up before, and without, the daemon", async () => {
  await withBox(async (box) => {
    await box.writeSeed(`version: 1
network:
  management: eth0
  interfaces:
    eth0: { addresses: [198.51.100.1/24], mtu: 1400 }
    eth1: { addresses: [203.0.113.1/24] }
`);
    // A daemon that never answers (at boot: one still starting, tens of seconds under emulation).
    const r = await box.firstboot(
      "--socket",
      join(box.root, "no-daemon.sock"),
      "--daemon-wait",
      "1",
    );
    assert.equal(r.code, 2, r.stderr + r.console);
    assert.match(
      r.console,
      /network: management port eth0 up before the daemon \(198\.51\.100\.1\/24\)/,
    );
    assert.match(r.console, /network: FAILED: .*no-daemon\.sock/);
    assert.deepEqual(await box.addrs("eth0"), ["198.51.100.1/24"]);
    assert.equal(await mtu(box.topo, "eth0"), 1400);
    assert.deepEqual(await box.addrs("eth1"), [], "the rest waits for the daemon");
    // With the daemon, the same seed is applied whole (the early lines again, harmlessly).
    const again = await box.firstboot();
    assert.equal(again.code, 0, again.stderr + again.console);
    assert.doesNotMatch(again.console, /before the daemon/, "only the first seed goes up early");
    assert.deepEqual(await box.addrs("eth0"), ["198.51.100.1/24"]);
    assert.deepEqual(await box.addrs("eth1"), ["203.0.113.1/24"]);
  }, { bare: true });
});

Deno.test("provision firstboot reports every problem, leaves the invalid sections untouched and applies the valid ones", async () => {
  await withBox(async (box) => {
    const { lb, root } = box;
    // The running configuration the bad seed must not disturb.
    await lb.ipvsadmOk("-A", "-t", "198.51.100.20:80", "-s", "wrr");
    await lb.ipvsadmOk("-a", "-t", "198.51.100.20:80", "-r", "203.0.113.13:80", "-b", "-w", "3");
    const listingBefore = await lb.ipvsadmOk("-L", "-n");
    const eth0Before = await box.addrs("eth0");
    const eth1Before = await box.addrs("eth1");

    await box.writeSeed(`version: 1
hostname: edge-lb-7
admin:
  sshKeys:
    - ${ed25519Key(4, "dave@noc")}
network:
  interfaces:
    eth1: { addresses: [203.0.113.1/24] }
  vips:
    eth7: [198.51.100.30]
loadBalancer:
  version: 1
  services:
    - protocol: tcp
      address: 198.51.100.30
      port: 0
      realServers:
        - { address: 203.0.113.11, port: 80, wieght: 2 }
`);
    const r = await box.firstboot();
    assert.equal(r.code, 2, r.stderr);
    const report = r.console.split("\r\n");
    const at = report.indexOf("fullnat-provision: the provisioning file has 3 problems:");
    assert.ok(at > 0, r.console);
    assert.deepEqual(report.slice(at + 1, at + 3), [
      `fullnat-provision:   network.vips.eth7 (line 10): this box has no interface "eth7" (it has: eth0, eth1, lo)`,
      "fullnat-provision:   loadBalancer.services[0].port (line 16): must be an integer from 1 to 65535 (got 0)",
    ]);
    // The field list grows with the document; what matters is the line, the field and the cause.
    assert.match(
      report[at + 3],
      /^fullnat-provision: {3}loadBalancer\.services\[0\]\.realServers\[0\]\.wieght \(line 18\): unknown field \(allowed: address, port, weight, method, /,
    );
    assert.match(
      r.console,
      /done: applied hostname, admin; NOT applied: network \(invalid\), loadBalancer \(invalid\)/,
    );

    // Nothing of the invalid sections changed.
    assert.equal(await lb.ipvsadmOk("-L", "-n"), listingBefore);
    assert.deepEqual(await box.addrs("eth0"), eth0Before);
    assert.deepEqual(await box.addrs("eth1"), eth1Before);
    // The valid ones keep the box reachable.
    assert.equal(await Deno.readTextFile(join(root, "etc/hostname")), "edge-lb-7\n");
    assert.match(
      await Deno.readTextFile(join(root, "home/admin/.ssh/authorized_keys")),
      /dave@noc\n$/,
    );

    // An invalid seed is not retried at every boot; it takes a new seed.
    const again = await box.firstboot();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.console, /already applied/);
  });
});

Deno.test("provision firstboot moves the network of a seed an earlier release applied into the daemon's configuration", async () => {
  await withBox(async (box) => {
    const yaml = exampleYaml();
    await box.writeSeed(yaml);
    // The record an earlier release left: the seed applied, the network applied once by
    // `ip -batch` and stored nowhere.
    const stateDir = join(box.root, "var/lib/fullnat/provision");
    await Deno.mkdir(stateDir, { recursive: true });
    await Deno.writeTextFile(
      join(stateDir, "applied.json"),
      JSON.stringify({
        sha256: await sha256Hex(new TextEncoder().encode(yaml)),
        seed: box.seed,
        processedAt: "2026-01-01T00:00:00.000Z",
        sections: {
          hostname: "applied",
          admin: "applied",
          network: "applied",
          loadBalancer: "applied",
          ha: "absent",
        },
        complete: true,
      }),
    );
    const r = await box.firstboot();
    assert.equal(r.code, 0, r.stderr + r.console);
    assert.match(r.console, /applied by an earlier release/);
    const exported = JSON.parse((await box.lb.cli("config", "export")).stdout);
    assert.deepEqual(Object.keys(exported.network.interfaces), ["eth0", "eth1"]);
    // Only the network: the load balancer stays as it is (the shell may have changed it).
    assert.deepEqual(exported.services, []);
    assert.equal(await Deno.readTextFile(join(box.root, "etc/hostname")), "debian\n");
    // And the next boot has nothing to do.
    const again = await box.firstboot();
    assert.match(again.console, /already applied/);
  });
});
