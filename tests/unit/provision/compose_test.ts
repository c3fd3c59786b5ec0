/**
 * How a later seed composes with the shell's changes (src/provision/compose.ts): the
 * differences between the previous seed and the new one are applied onto the running
 * configuration, so what the shell changed and the new seed does not touch is kept; and the
 * management port's part of an invalid network section (seed_network.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ConfigDocument, formatConfig, parseConfig } from "../../../src/persist/mod.ts";
import { networkText } from "../../../src/persist/network_section.ts";
import { composeLoadBalancer, composeNetwork, merge3 } from "../../../src/provision/compose.ts";
import { managementPart } from "../../../src/provision/seed_network.ts";

const doc = (v: Record<string, unknown>): ConfigDocument =>
  parseConfig(JSON.stringify({ version: 1, ...v }));

const SERVICE = {
  protocol: "tcp",
  address: "198.51.100.10",
  port: 80,
  scheduler: "rr",
  realServers: [{ address: "203.0.113.11", port: 80 }, { address: "203.0.113.12", port: 80 }],
  localAddresses: ["203.0.113.201"],
};

Deno.test("merge3(): only the seed's differences land; the shell's other changes stay", () => {
  const base = new Map([["a", "1"], ["b", "1"], ["c", "1"]]);
  const seed = new Map([["a", "2"], ["b", "1"], ["d", "1"]]);
  const running = new Map([["a", "1"], ["b", "9"], ["c", "1"], ["e", "1"]]);
  const { flat, overridden } = merge3(base, seed, running);
  assert.deepEqual(Object.fromEntries(flat), { a: "2", b: "9", e: "1", d: "1" });
  assert.deepEqual(overridden, []);
  // Both changed the same unit: the seed's value wins, and the merge says so.
  const both = merge3(base, seed, new Map([["a", "7"]]));
  assert.equal(both.flat.get("a"), "2");
  assert.deepEqual(both.overridden, ["a"]);
});

Deno.test("composeLoadBalancer(): an edited seed keeps a shell change it does not touch", () => {
  const base = doc({ services: [SERVICE] });
  // The shell: rs weight 5, a second local address, a new service.
  const running = doc({
    services: [
      {
        ...SERVICE,
        realServers: [{ address: "203.0.113.11", port: 80, weight: 5 }, SERVICE.realServers[1]],
        localAddresses: ["203.0.113.201", "203.0.113.202"],
      },
      { protocol: "udp", address: "198.51.100.10", port: 53, realServers: [] },
    ],
  });
  // The new seed: scheduler wlc, the second real server gone, timeouts changed.
  const seed = doc({
    timeouts: { tcpEstablished: 600 },
    services: [{ ...SERVICE, scheduler: "wlc", realServers: [SERVICE.realServers[0]] }],
  });
  const r = composeLoadBalancer(base, seed, running);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.document.timeouts.tcpEstablished, 600);
  const [tcp, udp] = r.document.services;
  assert.equal(tcp.scheduler, "wlc");
  assert.deepEqual(tcp.realServers.map((s) => `${s.address} ${s.weight}`), ["203.0.113.11 5"]);
  assert.deepEqual(tcp.localAddresses, ["203.0.113.201", "203.0.113.202"]);
  assert.equal(udp.port, 53);
  // The same seed again changes nothing.
  const again = composeLoadBalancer(seed, seed, r.document);
  assert.ok(again.ok);
  assert.equal(formatConfig(again.document), formatConfig(r.document));
});

Deno.test("composeLoadBalancer(): a first seed sets what it lists and removes nothing", () => {
  const running = doc({ services: [{ protocol: "udp", address: "198.51.100.10", port: 53 }] });
  const r = composeLoadBalancer(undefined, doc({ services: [SERVICE] }), running);
  assert.ok(r.ok);
  assert.deepEqual(r.document.services.map((s) => s.port), [53, 80]);
});

const NET = {
  interfaces: {
    eth0: { addresses: ["198.51.100.1/24"], mtu: 1400 },
    eth1: { addresses: ["203.0.113.1/24"] },
  },
  routes: [{ to: "default", via: "198.51.100.254" }],
};

Deno.test("composeNetwork(): shell addresses and routes stay; the seed's MTU change lands", () => {
  const base = doc({ network: NET }).network!;
  const running = doc({
    network: {
      ...NET,
      interfaces: {
        ...NET.interfaces,
        eth1: { addresses: ["203.0.113.1/24", "203.0.113.2/24"] },
      },
      routes: [...NET.routes, { to: "10.0.0.0/8", via: "203.0.113.254" }],
    },
  });
  const seed = doc({
    network: {
      ...NET,
      interfaces: { ...NET.interfaces, eth0: { addresses: ["198.51.100.1/24"], mtu: 1500 } },
    },
  }).network!;
  const r = composeNetwork(base, seed, running);
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(networkText(r.document.network), {
    interfaces: {
      eth0: { addresses: ["198.51.100.1/24"], mtu: 1500 },
      eth1: { addresses: ["203.0.113.1/24", "203.0.113.2/24"] },
    },
    routes: [{ to: "default", via: "198.51.100.254" }, { to: "10.0.0.0/8", via: "203.0.113.254" }],
  });
});

Deno.test("composeNetwork(managementOnly): only the management port's units change", () => {
  const seed = doc({
    network: {
      ...NET,
      interfaces: { ...NET.interfaces, eth1: { addresses: ["203.0.113.9/24"] } },
    },
  }).network!;
  const r = composeNetwork(undefined, seed, doc({}), true);
  assert.ok(r.ok);
  assert.deepEqual(networkText(r.document.network), {
    interfaces: { eth0: { addresses: ["198.51.100.1/24"], mtu: 1400 } },
    routes: [{ to: "default", via: "198.51.100.254" }],
  });
});

Deno.test("managementPart(): the management port of an otherwise invalid section", () => {
  const part = managementPart({
    management: "eth0",
    interfaces: { eth0: { addresses: ["198.51.100.1/24"] }, eth1: { addresses: ["bad/24"] } },
    routes: [{ to: "default", via: "198.51.100.254" }, { to: "10.0.0.0/8", via: "203.0.113.254" }],
    dns: { servers: ["not an address"] },
    ntp: { servers: ["pool.ntp.org"] },
  });
  assert.deepEqual(networkText(part), {
    interfaces: { eth0: { addresses: ["198.51.100.1/24"] } },
    routes: [{ to: "default", via: "198.51.100.254" }],
    ntp: { servers: ["pool.ntp.org"] },
  });
  assert.equal(managementPart({ interfaces: { eth0: { addresses: ["x"] } } }), undefined);
  assert.equal(managementPart({ interfaces: { eth1: {} } }), undefined);
});
