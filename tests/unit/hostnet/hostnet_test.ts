/**
 * The host network's pure parts: the networkd/resolved/timesyncd files (golden files in
 * ./golden/, `UPDATE_GOLDEN=1` rewrites them), which addresses are bound where, which are
 * refused and why, keepalived's floating addresses, and the files written to a directory.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../../../src/persist/mod.ts";
import type { NetworkConfig } from "../../../src/provision/types.ts";
import { networkdFiles } from "../../../src/hostnet/networkd.ts";
import { canOwn, ownershipProblems, wantedBindings } from "../../../src/hostnet/binding.ts";
import { floatingAddresses } from "../../../src/hostnet/floating.ts";
import { syncFiles } from "../../../src/hostnet/files.ts";
import { buildStatements } from "../../../src/keepalived/parse.ts";
import { tokenize } from "../../../src/keepalived/tokens.ts";
import { Findings } from "../../../src/keepalived/findings.ts";
import { keepalivedConf } from "../../../src/provision/keepalived_conf.ts";

const GOLDEN = new URL("./golden/", import.meta.url);

async function golden(name: string, text: string): Promise<void> {
  const url = new URL(name, GOLDEN);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(url, text);
  assert.equal(text, await Deno.readTextFile(url), `${name} (UPDATE_GOLDEN=1 rewrites it)`);
}

function network(section: unknown): NetworkConfig {
  return parseConfig(JSON.stringify({ version: 1, network: section, services: [] })).network!;
}

const NET = network({
  interfaces: {
    eth0: { addresses: ["198.51.100.1/24"], mtu: 1500 },
    eth1: { addresses: ["203.0.113.1/24", "2001:db8:b::1/64"] },
    eth2: { up: false },
  },
  routes: [
    { to: "default", via: "198.51.100.254" },
    { to: "192.0.2.0/24", via: "203.0.113.11", metric: 10 },
    { to: "10.9.0.0/16", dev: "eth2" },
  ],
  dns: { servers: ["198.51.100.53", "2001:db8:a::53"], search: ["example.net"] },
  ntp: { servers: ["0.debian.pool.ntp.org"] },
  vips: { lo: ["192.0.2.80"] },
});

const SERVICES = [
  {
    protocol: "tcp",
    address: "198.51.100.10",
    port: 80,
    localAddresses: ["203.0.113.201", "2001:db8:b::201"],
  },
  { protocol: "tcp", address: "198.51.100.1", port: 22, localAddresses: [] },
  { protocol: "udp", address: "198.51.100.20", port: 53, localAddresses: [] },
];

Deno.test("networkd files: golden files for interfaces, routes, bound addresses, DNS, NTP", async () => {
  const bound = wantedBindings(NET, SERVICES, new Set(["198.51.100.20"]));
  const files = networkdFiles(NET, bound);
  assert.deepEqual([...files.keys()], [
    "network/10-fullnat-eth0.network",
    "network/10-fullnat-eth1.network",
    "network/10-fullnat-eth2.network",
    "network/10-fullnat-lo.network",
    "resolved.conf.d/fullnat.conf",
    "timesyncd.conf.d/fullnat.conf",
  ]);
  for (const [path, text] of files) await golden(path.replace("/", "_"), text);
  // The same configuration gives the same bytes.
  assert.deepEqual(networkdFiles(NET, bound), files);
});

Deno.test("bindings: each address on its subnet's interface or the one named; keepalived's never", () => {
  const bound = wantedBindings(NET, SERVICES, new Set(["198.51.100.20"]));
  assert.deepEqual(bound.map((b) => `${b.address} ${b.interface}`), [
    "192.0.2.80 lo",
    "198.51.100.10 eth0",
    "203.0.113.201 eth1",
    "2001:db8:b::201 eth1",
  ]);
  assert.equal(bound[1].what, "the VIP of tcp 198.51.100.10:80");
});

Deno.test("ownership: an address on no subnet is refused with what to do; old ones do not block", () => {
  const services = [...SERVICES, {
    protocol: "tcp",
    address: "192.0.2.99",
    port: 443,
    localAddresses: ["10.1.1.1"],
  }];
  const problems = ownershipProblems(NET, services, NET, SERVICES, new Set());
  assert.equal(problems.length, 2, problems.join("\n"));
  assert.match(
    problems[0],
    /^services\[3\]\.address: 192\.0\.2\.99 \(the VIP of tcp 192\.0\.2\.99:443\) is on none of this box's subnets \(eth0 198\.51\.100\.1\/24, eth1 203\.0\.113\.1\/24, eth1 2001:db8:b::1\/64\), so the box would not answer ARP for it: add an address of its subnet/,
  );
  assert.match(problems[1], /^services\[3\]\.localAddresses\[0\]: 10\.1\.1\.1 \(a local address/);
  // Already used and unowned before: not held against a change that does not touch it.
  assert.deepEqual(ownershipProblems(NET, services, NET, services, new Set()), []);
  // A network change that takes away the subnet of a VIP in use is refused.
  const shrunk = network({ interfaces: { eth1: { addresses: ["203.0.113.1/24"] } } });
  assert.match(
    ownershipProblems(shrunk, SERVICES, NET, SERVICES, new Set())[0],
    /^services\[0\]\.address: 198\.51\.100\.10/,
  );
  // Floated by keepalived, or no interface configured at all: owned.
  assert.ok(canOwn(NET, "192.0.2.99", new Set(["192.0.2.99"])));
  assert.ok(canOwn(network({}), "192.0.2.99", new Set()));
});

Deno.test("floating addresses: read from keepalived.conf's virtual_ipaddress blocks", () => {
  const conf = keepalivedConf({
    interface: "eth0",
    virtualRouterId: 51,
    priority: 100,
    advertInterval: 1,
    preempt: false,
    vips: [{ address: "198.51.100.10", family: 4, interface: "eth0" }],
    localAddresses: [{ address: "2001:db8:b::201", family: 6, interface: "eth1" }],
  });
  const f = new Findings();
  const tree = buildStatements(tokenize(conf, "k.conf", f), f);
  assert.deepEqual([...floatingAddresses(tree)].sort(), ["198.51.100.10", "2001:db8:b::201"]);
});

Deno.test("syncFiles(): writes what differs, removes its own stale files, leaves others alone", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = join(root, "network");
    await Deno.mkdir(dir);
    await Deno.writeTextFile(join(dir, "10-fullnat-eth9.network"), "old\n");
    await Deno.writeTextFile(join(dir, "50-other.network"), "theirs\n");
    const files = networkdFiles(NET, []);
    const first = await syncFiles(dir, files);
    assert.ok(first.includes(join(dir, "10-fullnat-eth9.network")), "stale file removed");
    assert.ok(first.includes(join(root, "resolved.conf.d/fullnat.conf")));
    assert.equal(await Deno.readTextFile(join(dir, "50-other.network")), "theirs\n");
    assert.deepEqual(await syncFiles(dir, files), [], "nothing differs the second time");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), [
      "10-fullnat-eth0.network",
      "10-fullnat-eth1.network",
      "10-fullnat-eth2.network",
      "50-other.network",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("HostNetwork without --manage-host-network: keeps, writes files, refuses nothing", async () => {
  const { HostNetwork } = await import("../../../src/hostnet/host_network.ts");
  const root = await Deno.makeTempDir();
  try {
    const logs: string[] = [];
    const told: NetworkConfig[] = [];
    const host = new HostNetwork({
      manage: false,
      filesDir: join(root, "network"),
      keepalivedConf: join(root, "none.conf"),
      log: (m) => logs.push(m),
      onApplied: (net) => void told.push(net),
    });
    await host.apply(NET);
    assert.deepEqual(host.current(), NET);
    assert.equal(told.length, 1);
    await host.admit("192.0.2.99", "the VIP of tcp 192.0.2.99:80");
    assert.deepEqual(await host.check({ network: NET, services: SERVICES }, { services: [] }), []);
    await host.follow(SERVICES, false);
    const eth0 = await Deno.readTextFile(join(root, "network/10-fullnat-eth0.network"));
    assert.match(eth0, /Address=198\.51\.100\.10\/32\n/);
    assert.equal(host.status().managed, false);
    assert.deepEqual(logs, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
