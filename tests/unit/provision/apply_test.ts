import assert from "node:assert/strict";
import { join } from "node:path";
import { ControlClient } from "../../../src/ctl/client.ts";
import { ControlServer } from "../../../src/ctl/server.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { hostsWithName } from "../../../src/provision/apply_host.ts";
import { networkBatch, withdrawBatch } from "../../../src/provision/apply_network.ts";
import { firstboot } from "../../../src/provision/firstboot.ts";
import { applyLoadBalancer, checkLoadBalancer } from "../../../src/provision/load_balancer.ts";
import { buildSeed } from "../../../src/provision/seed.ts";
import type { NetworkConfig } from "../../../src/provision/types.ts";
import { checkProvisioning } from "../../../src/provision/validate.ts";
import { loadBalancerProblems } from "../../../src/provision/load_balancer.ts";

function network(yaml: string): NetworkConfig {
  const r = checkProvisioning(yaml, "x.yaml", loadBalancerProblems);
  assert.deepEqual(r.problems, []);
  return r.provisioning.network!;
}

Deno.test("networkBatch() sets MTU and addresses before link state, host addresses, then routes", () => {
  const net = network(`network:
  interfaces:
    eth0: { addresses: [198.51.100.1/24, "2001:db8:a::1/64"], mtu: 9000 }
    eth2: { up: false }
  routes:
    - { to: default, via: 198.51.100.254, metric: 10 }
    - { to: "2001:db8:ff::/48", dev: eth0 }
  vips: { eth0: [198.51.100.10, "2001:db8:a::10"] }
  localAddresses: { eth1: [203.0.113.201] }
`);
  assert.deepEqual(networkBatch(net), [
    "link set dev eth0 mtu 9000",
    "addr replace 198.51.100.1/24 dev eth0",
    "addr replace 2001:db8:a::1/64 dev eth0",
    "link set dev eth0 up",
    "link set dev eth2 down",
    "addr replace 198.51.100.10/32 dev eth0",
    "addr replace 2001:db8:a::10/128 dev eth0 nodad",
    "addr replace 203.0.113.201/32 dev eth1",
    "route replace default via 198.51.100.254 metric 10",
    "-6 route replace 2001:db8:ff::/48 dev eth0",
  ]);
});

Deno.test("withdrawBatch() takes back only what the previous provisioning added and the next drops", () => {
  const before = network(`network:
  interfaces: { eth1: { addresses: [203.0.113.1/24, 203.0.113.2/24] } }
  routes: [{ to: 10.0.0.0/8, via: 203.0.113.254 }, { to: 172.16.0.0/12, via: 203.0.113.254 }]
  vips: { eth0: [198.51.100.10, 198.51.100.11] }
  localAddresses: { eth1: [203.0.113.201] }
`);
  const after = network(`network:
  interfaces: { eth1: { addresses: [203.0.113.1/24] } }
  routes: [{ to: 10.0.0.0/8, via: 203.0.113.254 }]
  vips: { eth0: [198.51.100.10] }
`);
  assert.deepEqual(withdrawBatch(before, after), [
    "route del 172.16.0.0/12 via 203.0.113.254",
    "addr del 198.51.100.11/32 dev eth0",
    "addr del 203.0.113.201/32 dev eth1",
    "addr del 203.0.113.2/24 dev eth1",
  ]);
  assert.deepEqual(withdrawBatch(after, after), []);
});

Deno.test("hostsWithName() replaces Debian's 127.0.1.1 line or adds one after localhost", () => {
  assert.equal(
    hostsWithName("127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost\n", "lb1"),
    "127.0.0.1\tlocalhost\n127.0.1.1\tlb1\n::1\tlocalhost\n",
  );
  assert.equal(
    hostsWithName("127.0.0.1 localhost\n::1 localhost\n", "lb1.example.net"),
    "127.0.0.1 localhost\n127.0.1.1\tlb1.example.net lb1\n::1 localhost\n",
  );
  assert.equal(hostsWithName("", "lb1"), "127.0.1.1\tlb1\n");
});

Deno.test("applyLoadBalancer() applies through control ops when the daemon has no configApply", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-prov-apply-" });
  const server = new ControlServer(new EngineControl(new Engine({ clock: () => 0, capacity: 64 })));
  const path = join(dir, "control.sock");
  await server.listen({ path });
  const client = await ControlClient.connect(path);
  try {
    const checked = checkLoadBalancer({
      version: 1,
      timeouts: { tcpEstablished: 120 },
      services: [{
        protocol: "tcp",
        address: "198.51.100.10",
        port: 443,
        realServers: [{ address: "203.0.113.11", port: 8443, weight: 2 }],
        localAddresses: ["203.0.113.201"],
      }],
    });
    assert.ok(checked.ok);
    const changes = await applyLoadBalancer(client, checked.document);
    assert.ok(changes.length >= 3, changes.join("\n"));
    const [svc] = await client.listServices();
    assert.equal(`${svc.address}:${svc.port}`, "198.51.100.10:443");
    assert.deepEqual(svc.realServers.map((r) => [r.address, r.port, r.weight]), [
      ["203.0.113.11", 8443, 2],
    ]);
    assert.deepEqual(svc.localAddresses.map((l) => l.address), ["203.0.113.201"]);
    assert.equal((await client.getTimeouts()).tcpEstablished, 120);
    // Applying the same document again changes nothing.
    assert.deepEqual(await applyLoadBalancer(client, checked.document), []);
  } finally {
    await client.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("firstboot() marks the load balancer failed when no daemon answers, and retries that seed next time", async () => {
  const root = await Deno.makeTempDir({ prefix: "fullnat-root-" });
  try {
    const seed = join(root, "seed.img");
    const text = `hostname: lb-retry
loadBalancer:
  version: 1
  services: [{ protocol: udp, address: 198.51.100.10, port: 53, realServers: [{ address: 203.0.113.11, port: 53 }] }]
`;
    await buildSeed(new TextEncoder().encode(text), "yaml", seed);
    await Deno.mkdir(join(root, "etc"));
    const opts = {
      seed,
      seedWaitMs: 0,
      root,
      socket: join(root, "no-daemon.sock"),
      daemonWaitMs: 300,
      force: false,
    };
    const r = await firstboot(opts);
    assert.equal(r.status, "processed");
    assert.equal(r.sections.hostname, "applied");
    assert.equal(r.sections.loadBalancer, "failed");
    assert.equal(r.sections.admin, "absent");
    assert.match(r.failures[0], /^loadBalancer: fullnat daemon is not running .*waited 0 s/);
    assert.equal(await Deno.readTextFile(join(root, "etc/hostname")), "lb-retry\n");

    const again = await firstboot(opts);
    assert.equal(again.status, "processed", "a failed section makes the seed run again");
    assert.equal(again.sections.loadBalancer, "failed");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("firstboot() reports an unreadable seed and changes nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "fullnat-root-" });
  try {
    const seed = join(root, "not-a-seed.img");
    await Deno.writeTextFile(seed, "just text");
    const r = await firstboot({
      seed,
      seedWaitMs: 0,
      root,
      socket: join(root, "none.sock"),
      daemonWaitMs: 0,
      force: false,
    });
    assert.equal(r.status, "unreadable");
    assert.match(
      r.failures[0],
      /holds no filesystem blkid recognises; make seeds with: fullnat provision seed/,
    );
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), ["not-a-seed.img"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
