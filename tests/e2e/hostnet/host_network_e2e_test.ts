// The daemon managing its own network in the `lb` namespace of a test topology: the stored
// network section applied, VIPs bound where ARP answers for them, bad addresses refused with
// nothing changed, and the network put back by a restart after the addresses were flushed.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { waitFor } from "../../../testkit/wait.ts";

async function addrs(topo: Topology, dev: string): Promise<string[]> {
  const r = await topo.exec("lb", ["ip", "-j", "addr", "show", "dev", dev], { check: true });
  const [link] = JSON.parse(r.stdout) as Array<
    { addr_info: Array<{ local: string; prefixlen: number; family: string }> }
  >;
  return link.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)
    .sort();
}

const NETWORK_DOC = {
  version: 1,
  network: {
    interfaces: {
      eth0: { addresses: ["198.51.100.1/24"] },
      eth1: { addresses: ["203.0.113.1/24"], mtu: 1400 },
    },
    routes: [{ to: "192.0.2.0/24", via: "203.0.113.11" }],
    dns: { servers: ["198.51.100.53"], search: ["example.net"] },
  },
  services: [],
};

Deno.test("the daemon applies, binds, refuses and restores its own network", async () => {
  const topo = await createTopology({ prefix: "fnhnet", vips: [], localAddrs: [] });
  const dir = await Deno.makeTempDir({ prefix: "fullnat-hostnet-" });
  const state = join(dir, "state");
  const files = join(dir, "etc/systemd/network");
  const args = [
    "--manage-host-network",
    "--host-network-dir",
    files,
    "--state-dir",
    state,
    "--keepalived-conf",
    join(dir, "keepalived.conf"),
  ];
  let lb: Balancer | undefined;
  try {
    // A box fresh from the image: no address on either port.
    for (const dev of ["eth0", "eth1"]) {
      await topo.exec("lb", ["ip", "addr", "flush", "dev", dev], { check: true });
    }
    lb = await startBalancer(topo, args);
    const docPath = join(dir, "net.json");
    await Deno.writeTextFile(docPath, JSON.stringify(NETWORK_DOC));
    const applied = await lb.cli("config", "apply", docPath);
    assert.equal(applied.code, 0, applied.stderr + lb.log());
    assert.match(applied.stdout, /\+ address 198\.51\.100\.1\/24 on eth0/);
    assert.deepEqual(await addrs(topo, "eth0"), ["198.51.100.1/24"]);
    assert.deepEqual(await addrs(topo, "eth1"), ["203.0.113.1/24"]);
    const route = await topo.exec("lb", ["ip", "-j", "route", "show", "192.0.2.0/24"]);
    assert.equal(JSON.parse(route.stdout)[0]?.gateway, "203.0.113.11");
    const exported = await lb.cli("config", "export");
    assert.equal(JSON.parse(exported.stdout).network.interfaces.eth1.mtu, 1400, exported.stdout);

    // A VIP added by the shell is bound on eth0 (its subnet) and answers ARP from the client.
    const svc = await lb.cli("service", "add", "tcp", "198.51.100.10:80", "--scheduler", "rr");
    assert.equal(svc.code, 0, svc.stderr);
    const la = await lb.cli("laddr", "add", "tcp", "198.51.100.10:80", "203.0.113.201");
    assert.equal(la.code, 0, la.stderr);
    assert.deepEqual(await addrs(topo, "eth0"), ["198.51.100.1/24", "198.51.100.10/32"]);
    assert.deepEqual(await addrs(topo, "eth1"), ["203.0.113.1/24", "203.0.113.201/32"]);
    await topo.exec("client", ["ping", "-c", "1", "-W", "1", "198.51.100.10"]);
    const neigh = await topo.exec("client", ["ip", "-j", "neigh", "show", "198.51.100.10"], {
      check: true,
    });
    const lbMac = JSON.parse(
      (await topo.exec("lb", ["ip", "-j", "link", "show", "dev", "eth0"], { check: true })).stdout,
    )[0].address;
    assert.equal(JSON.parse(neigh.stdout)[0]?.lladdr, lbMac, neigh.stdout);

    // The boot-time files follow.
    const eth0File = await Deno.readTextFile(join(files, "10-fullnat-eth0.network"));
    assert.match(eth0File, /Address=198\.51\.100\.1\/24\n/);
    assert.match(eth0File, /Address=198\.51\.100\.10\/32\n/);
    assert.match(
      await Deno.readTextFile(join(dir, "etc/systemd/resolved.conf.d/fullnat.conf")),
      /DNS=198\.51\.100\.53\n/,
    );

    // A VIP on none of the box's subnets is refused, and nothing changes.
    const before = await lb.cli("config", "export");
    const bad = await lb.cli("service", "add", "tcp", "192.0.2.77:80");
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /192\.0\.2\.77 \(the VIP of tcp 192\.0\.2\.77:80\) is on none/);
    // An interface the box does not have, and a data address that breaks nothing else.
    const noIf = await lb.cli("interface", "address", "add", "eth7", "10.9.9.1/24");
    assert.equal(noIf.code, 2, noIf.stderr);
    assert.match(noIf.stderr, /no interface "eth7"/);
    const orphan = await lb.cli("interface", "address", "delete", "eth0", "198.51.100.1/24");
    assert.equal(orphan.code, 2, orphan.stderr);
    assert.match(orphan.stderr, /198\.51\.100\.10 \(the VIP of tcp 198\.51\.100\.10:80\)/);
    assert.equal((await lb.cli("config", "export")).stdout, before.stdout);
    assert.deepEqual(await addrs(topo, "eth0"), ["198.51.100.1/24", "198.51.100.10/32"]);

    // A shell change is applied and kept.
    const added = await lb.cli("interface", "address", "add", "eth1", "203.0.113.2/24");
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /\+ address 203\.0\.113\.2\/24 on eth1/);
    const shown = await lb.cli("show", "interfaces");
    assert.match(shown.stdout, /eth1 .*203\.0\.113\.2\/24/);

    // Restart: the addresses flushed by hand while the daemon was away come back.
    assert.equal(await lb.stop(), 0, lb.log());
    lb = undefined;
    for (const dev of ["eth0", "eth1"]) {
      await topo.exec("lb", ["ip", "addr", "flush", "dev", dev], { check: true });
    }
    lb = await startBalancer(topo, args);
    await waitFor(async () => (await addrs(topo, "eth0")).length === 2, { timeoutMs: 10_000 });
    assert.deepEqual(await addrs(topo, "eth0"), ["198.51.100.1/24", "198.51.100.10/32"]);
    assert.deepEqual(await addrs(topo, "eth1"), [
      "203.0.113.1/24",
      "203.0.113.2/24",
      "203.0.113.201/32",
    ]);
    assert.match(lb.log(), /management port eth0 configured/);
    assert.equal(await lb.stop(), 0, lb.log());
    lb = undefined;
  } finally {
    await lb?.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
