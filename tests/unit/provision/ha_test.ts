/**
 * The provisioning file's `ha` section: validation (keepalived's names, defaults and ranges,
 * every problem at its path), the keepalived.conf written from it against golden files
 * (`UPDATE_GOLDEN=1` rewrites them), the cross-section warnings, and applying it to a test root.
 */
import assert from "node:assert/strict";
import { applyHa, KEEPALIVED_CONF } from "../../../src/provision/apply_ha.ts";
import { keepalivedConf } from "../../../src/provision/keepalived_conf.ts";
import { formatProblem, Problems } from "../../../src/provision/problems.ts";
import type { HaConfig } from "../../../src/provision/types.ts";
import { validateProvisioning } from "../../../src/provision/validate.ts";
import { validateHa } from "../../../src/provision/validate_ha.ts";
import { loadBalancerProblems } from "../../../src/provision/load_balancer.ts";

const GOLDEN = new URL("./golden/", import.meta.url);

/** The section as a pair's first box writes it. */
const LB1 = {
  interface: "eth0",
  virtualRouterId: 51,
  priority: 150,
  peer: "198.51.100.2",
  authPass: "s3cret",
  vips: { eth0: ["198.51.100.10", "198.51.100.11"] },
  localAddresses: { eth1: ["203.0.113.201", "203.0.113.202"] },
};

function valid(value: unknown): HaConfig {
  const p = new Problems(["ha"]);
  const ha = validateHa(value, p);
  assert.deepEqual(p.list.map(formatProblem), []);
  return ha!;
}

function problems(value: unknown): string[] {
  const p = new Problems(["ha"]);
  assert.equal(validateHa(value, p), undefined);
  return p.list.map(formatProblem);
}

async function golden(name: string, text: string): Promise<void> {
  const url = new URL(name, GOLDEN);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(url, text);
  assert.equal(text, await Deno.readTextFile(url), `${name} (UPDATE_GOLDEN=1 rewrites it)`);
}

Deno.test("ha section: keepalived's defaults, addresses per interface", () => {
  const ha = valid({ interface: "eth0", virtualRouterId: 7, vips: { eth0: ["198.51.100.10"] } });
  assert.deepEqual(ha, {
    interface: "eth0",
    virtualRouterId: 7,
    priority: 100,
    advertInterval: 1,
    preempt: false,
    vips: [{ address: "198.51.100.10", family: 4, interface: "eth0" }],
    localAddresses: [],
  });
  const full = valid({ ...LB1, advertInterval: 2, preempt: true });
  assert.equal(full.peer, "198.51.100.2");
  assert.equal(full.authPass, "s3cret");
  assert.deepEqual(full.localAddresses.map((a) => `${a.address}@${a.interface}`), [
    "203.0.113.201@eth1",
    "203.0.113.202@eth1",
  ]);
});

Deno.test("ha section: every problem at its path", () => {
  assert.deepEqual(problems({}), [
    "ha.interface: missing; name the interface VRRP advertisements go out of",
    "ha.virtualRouterId: missing; give 1-255, the same on both boxes and on no other pair of the segment",
    "ha: no address floats: list the VIPs under vips and the local addresses under localAddresses",
  ]);
  assert.deepEqual(
    problems({
      interface: "eth 0",
      virtualRouterId: 256,
      priority: 255,
      advertInterval: 0,
      peer: "lb2",
      authPass: "much too long",
      preempt: "no",
      vips: { eth0: ["198.51.100.10/32"] },
      localAddresses: { eth1: ["203.0.113.201", "203.0.113.201"] },
      garp: 1,
    }),
    [
      "ha.garp: unknown setting (allowed here: interface, virtualRouterId, priority, advertInterval, peer, authPass, preempt, vips, localAddresses)",
      "ha.interface: interface names contain no spaces, '/' or ':'",
      "ha.virtualRouterId: must be a whole number from 1 to 255, not the number 256",
      "ha.priority: must be a whole number from 1 to 254, not the number 255",
      "ha.advertInterval: must be a whole number from 1 to 255, not the number 0",
      'ha.peer: "lb2" is not an IP address',
      "ha.authPass: must be 1 to 8 printable characters without spaces (VRRP carries 8 bytes of it)",
      'ha.preempt: must be true or false, not the text "no"',
      "ha.vips.eth0[0]: give the bare address (198.51.100.10); VIP addresses are assigned as /32 (/128)",
      "ha.localAddresses.eth1[1]: 203.0.113.201 is already listed under localAddresses.eth1",
    ],
  );
});

Deno.test("keepalived.conf: golden files for a pair, with and without the options", async () => {
  await golden("keepalived_lb1.conf", keepalivedConf(valid(LB1), { routerId: "edge-lb-1" }));
  await golden(
    "keepalived_lb2.conf",
    keepalivedConf(valid({ ...LB1, priority: 100, peer: "198.51.100.1" }), {
      routerId: "edge-lb-2",
    }),
  );
  await golden(
    "keepalived_minimal.conf",
    keepalivedConf(
      valid({ interface: "eth0", virtualRouterId: 7, vips: { eth0: ["198.51.100.10"] } }),
    ),
  );
  // 21 IPv4 addresses and an IPv6 one: 20 in the advertisement, the rest excluded; preempt.
  const many = Array.from({ length: 21 }, (_, i) => `198.51.100.${100 + i}`);
  await golden(
    "keepalived_many.conf",
    keepalivedConf(
      valid({
        interface: "eth0",
        virtualRouterId: 9,
        preempt: true,
        advertInterval: 3,
        vips: { eth0: [...many, "2001:db8::10"] },
      }),
    ),
  );
});

Deno.test("provisioning: ha validated with the file, its warnings, a bad ha holds back only itself", () => {
  const r = validateProvisioning(
    {
      version: 1,
      network: {
        interfaces: { eth0: { addresses: ["198.51.100.1/24"] }, eth1: {} },
        vips: { eth0: ["198.51.100.10"] },
      },
      loadBalancer: {
        version: 1,
        services: [{
          protocol: "tcp",
          address: "198.51.100.11",
          port: 80,
          realServers: [{ address: "203.0.113.11", port: 80 }],
          localAddresses: ["203.0.113.201"],
        }],
      },
      ha: LB1,
    },
    loadBalancerProblems,
  );
  assert.deepEqual(r.problems, []);
  assert.ok(r.provisioning.ha);
  // The VIP and local address float (no "not assigned" warning); 198.51.100.10 is also static.
  assert.deepEqual(r.warnings.map(formatProblem), [
    "ha.vips.eth0[0]: 198.51.100.10 floats but is also under network.vips: it would be up on both boxes at once; leave it to keepalived",
  ]);
  const bad = validateProvisioning(
    { version: 1, hostname: "lb", ha: { interface: "eth0" } },
    () => [],
  );
  assert.deepEqual(bad.invalid, ["ha"]);
  assert.equal(bad.provisioning.hostname, "lb");
});

Deno.test("applyHa() writes keepalived.conf under the root, root-only", async () => {
  const root = await Deno.makeTempDir({ prefix: "fullnat-ha-" });
  try {
    const ha = valid(LB1);
    const line = await applyHa({ root, restartService: false, routerId: "edge-lb-1" }, ha);
    assert.equal(
      line,
      "VRRP instance 51 on eth0, priority 150, nopreempt: 2 VIP(s) and 2 local address(es) " +
        "float; /etc/keepalived/keepalived.conf written",
    );
    const path = `${root}${KEEPALIVED_CONF}`;
    assert.equal(await Deno.readTextFile(path), keepalivedConf(ha, { routerId: "edge-lb-1" }));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
