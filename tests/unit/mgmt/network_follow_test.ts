/**
 * The management side following the stored network section: the management port's new
 * addresses replace the stored ones and nothing else of the input changes; a box without a
 * stored input (a test or developer daemon), a section that configures no interface, or an
 * unchanged management port leave everything alone.
 */
import assert from "node:assert/strict";
import { followedInput, followNetwork } from "../../../src/mgmt/network_follow.ts";
import { readInput, writeInput } from "../../../src/mgmt/input_store.ts";
import type { ManagementInput } from "../../../src/mgmt/types.ts";
import type { NetworkConfig } from "../../../src/provision/types.ts";
import { parsePrefix } from "../../../src/vocab/mod.ts";

function net(management: string, addresses: Record<string, string[]>): NetworkConfig {
  return {
    management,
    interfaces: Object.entries(addresses).map(([name, a]) => ({
      name,
      addresses: a.map((x) => {
        const p = parsePrefix(x);
        if (!p.ok) throw new Error(p.message);
        return p.prefix;
      }),
      up: true,
    })),
    routes: [],
    vips: [],
    localAddresses: [],
  };
}

const stored: ManagementInput = {
  management: "eth0",
  interfaces: [{ name: "eth0", addresses: ["198.51.100.1/24"] }],
  ha: { interface: "eth1", peer: "203.0.113.2" },
  sync: [{ interface: "eth1", port: 8848 }],
  idleTimeoutS: 600,
};

Deno.test("followedInput() takes the management port and its addresses, keeps the rest", () => {
  const next = followedInput(
    stored,
    net("eth2", { eth1: ["203.0.113.1/24"], eth2: ["192.0.2.5/24", "2001:db8::5/64"] }),
  );
  assert.deepEqual(next, {
    ...stored,
    management: "eth2",
    interfaces: [{ name: "eth2", addresses: ["192.0.2.5/24", "2001:db8::5/64"] }],
  });
  // A management port the section does not configure keeps no address of another port.
  assert.deepEqual(followedInput(stored, net("eth3", { eth1: ["203.0.113.1/24"] })).interfaces, []);
});

Deno.test("followNetwork() touches nothing without a stored input, an interface, or a change", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-follow-" });
  try {
    const changed = net("eth0", { eth0: ["198.51.100.7/24"] });
    assert.equal(await followNetwork(null, changed), undefined);
    assert.equal(await followNetwork(dir, changed), undefined, "no input stored: management off");
    await writeInput(`${dir}/mgmt`, stored);
    assert.equal(await followNetwork(dir, net("eth0", {})), undefined, "no interface configured");
    assert.equal(
      await followNetwork(dir, net("eth0", { eth0: ["198.51.100.1/24"] })),
      undefined,
      "same management addresses",
    );
    assert.deepEqual(await readInput(`${dir}/mgmt`), stored);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
