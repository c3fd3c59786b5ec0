/**
 * The management plane's pure parts: the plan (only the management interface counts; a bad
 * management address falls back, never half-applies), the sshd drop-in and the host firewall
 * rules against golden files, the restore scripts that install and remove the chain as a
 * whole, and the adapter from a provisioning file's sections.
 * `UPDATE_GOLDEN=1 deno test -A tests/unit/mgmt/generators_test.ts` rewrites the golden files.
 */
import assert from "node:assert/strict";
import {
  firewallInstallScript,
  firewallRemoveScript,
  hostFirewallRules,
  parseInstalledFirewall,
} from "../../../src/mgmt/firewall_rules.ts";
import { managementInputOf } from "../../../src/mgmt/from_provisioning.ts";
import { readInput, writeInput } from "../../../src/mgmt/input_store.ts";
import { planManagement } from "../../../src/mgmt/plan.ts";
import { refreshSyncOpenings } from "../../../src/mgmt/sync_openings.ts";
import { clientAlive, sshdDropIn } from "../../../src/mgmt/sshd_config.ts";
import type { ManagementInput } from "../../../src/mgmt/types.ts";
import { checkProvisioning } from "../../../src/provision/validate.ts";
import { loadBalancerProblems } from "../../../src/provision/load_balancer.ts";
import { validateConfig } from "../../../src/persist/document.ts";

const GOLDEN = new URL("./golden/", import.meta.url);

async function golden(name: string, text: string): Promise<void> {
  const url = new URL(name, GOLDEN);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(url, text);
  assert.equal(text, await Deno.readTextFile(url), `${name} (UPDATE_GOLDEN=1 rewrites it)`);
}

/** Rules of both families as one text, as an operator reads `iptables -S; ip6tables -S`. */
const rulesText = (input: ManagementInput) => {
  const r = hostFirewallRules(planManagement(input).plan);
  return `# iptables\n${r.ipv4.join("\n")}\n# ip6tables\n${r.ipv6.join("\n")}\n`;
};

const MAC = "52:54:00:12:34:56";

/** A single box: management on eth0 with IPv4 and IPv6, data on eth1. */
const SINGLE: ManagementInput = {
  management: "eth0",
  mac: MAC,
  interfaces: [
    { name: "eth0", addresses: ["198.51.100.1/24", "2001:db8:a::1/64"] },
    { name: "eth1", addresses: ["203.0.113.1/24"] },
  ],
};

/** One box of an HA pair: a dedicated management port, unicast VRRP, two sync daemons. */
const PAIR: ManagementInput = {
  management: "eth3",
  mac: "02:00:00:00:00:01",
  interfaces: [{ name: "eth3", addresses: ["192.0.2.129/25"] }],
  ha: { interface: "eth0", peer: "198.51.100.2" },
  sync: [{ interface: "eth2", port: 8848 }, { interface: "eth2", port: 8848 }],
  sshPort: 2222,
  idleTimeoutS: 300,
};

Deno.test("mgmt plan: only the management interface's addresses, then the fallback ones", () => {
  const { plan, problems } = planManagement(SINGLE);
  assert.deepEqual(problems, []);
  assert.deepEqual(plan.listen.map((l) => `${l.address} ${l.source}`), [
    "198.51.100.1 configured",
    "2001:db8:a::1 configured",
    "169.254.46.123 fallback",
    "fe80::5054:ff:fe12:3456 fallback",
  ]);
  assert.deepEqual(plan.fallback, ["169.254.46.123/16", "fe80::5054:ff:fe12:3456/64"]);
  assert.equal(plan.idleTimeoutS, 900);
  assert.equal(plan.sshPort, 22);
});

Deno.test("mgmt plan: a bad data-interface address costs nothing; a bad management one falls back", () => {
  const data = planManagement({
    ...SINGLE,
    interfaces: [SINGLE.interfaces[0], { name: "eth1", addresses: ["203.0.113.999/24"] }],
  });
  assert.deepEqual(data.problems, []);
  assert.equal(data.plan.listen.length, 4);

  const bad = planManagement({
    ...SINGLE,
    interfaces: [{ name: "eth0", addresses: ["198.51.100.1/24", "198.51.100.300/24"] }],
  });
  assert.equal(bad.problems.length, 1);
  assert.match(
    bad.problems[0],
    /^management interface eth0: "198\.51\.100\.300" is not an IPv4 or IPv6 address; none of its configured addresses is used, SSH is offered on the fallback addresses only$/,
  );
  // Not half: the good address goes too, and SSH stays on the fallback.
  assert.deepEqual(bad.plan.listen.map((l) => l.address), [
    "169.254.46.123",
    "fe80::5054:ff:fe12:3456",
  ]);
  assert.throws(() => planManagement({ ...SINGLE, management: "eth0; rm" }), /not an interface/);
  assert.throws(() => planManagement({ ...SINGLE, sshPort: 0 }), /SSH port must be 1-65535/);
});

Deno.test("mgmt plan: a management address that is also the fallback is listed once", () => {
  const { plan } = planManagement({
    ...SINGLE,
    interfaces: [{ name: "eth0", addresses: ["169.254.46.123/16"] }],
  });
  assert.deepEqual(plan.listen.map((l) => `${l.address} ${l.source}`), [
    "169.254.46.123 configured",
    "fe80::5054:ff:fe12:3456 fallback",
  ]);
});

Deno.test("sshd drop-in: golden files", async () => {
  await golden("sshd_single.conf", sshdDropIn(planManagement(SINGLE).plan));
  await golden("sshd_pair.conf", sshdDropIn(planManagement(PAIR).plan));
  // Nothing known (no MAC, no address): sshd keeps listening everywhere, on the chosen port.
  await golden(
    "sshd_nothing.conf",
    sshdDropIn(planManagement({ management: "eth0", interfaces: [], idleTimeoutS: 0 }).plan),
  );
});

Deno.test("sshd drop-in: client-alive probes fit the idle timeout", () => {
  assert.deepEqual(clientAlive(900), { interval: 60, countMax: 3 });
  assert.deepEqual(clientAlive(30), { interval: 30, countMax: 3 });
  assert.deepEqual(clientAlive(0), { interval: 60, countMax: 3 });
  const bad = planManagement({ ...SINGLE, idleTimeoutS: -5 });
  assert.match(bad.problems[0], /idle timeout must be whole seconds .* using 900/);
});

Deno.test("host firewall: golden rules", async () => {
  await golden("firewall_single.rules", rulesText(SINGLE));
  await golden("firewall_pair.rules", rulesText(PAIR));
  await golden("firewall_nothing.rules", rulesText({ management: "eth0", interfaces: [] }));
});

Deno.test("host firewall: SSH is never admitted off the management port, even untracked", () => {
  for (const input of [SINGLE, PAIR, { management: "eth0", interfaces: [] }]) {
    const plan = planManagement(input).plan;
    const rules = hostFirewallRules(plan);
    for (const family of ["ipv4", "ipv6"] as const) {
      const r = rules[family];
      const sshAccepts = r.filter((l) => l.includes(`--dport ${plan.sshPort} -j ACCEPT`));
      assert.ok(sshAccepts.every((l) => l.includes(` -i ${plan.management} `)), sshAccepts.join());
      const drop = r.indexOf(`-A FULLNAT-HOST-IN -p tcp --dport ${plan.sshPort} -j DROP`);
      const untracked = r.indexOf("-A FULLNAT-HOST-IN -m conntrack --ctstate UNTRACKED -j ACCEPT");
      assert.ok(drop >= 0 && drop < untracked, "SSH is dropped before untracked traffic passes");
      assert.equal(r.at(-1), "-A FULLNAT-HOST-IN -j DROP");
      assert.ok(r.every((l) => !/FORWARD|OUTPUT|PREROUTING/.test(l)));
    }
  }
});

Deno.test("host firewall: install and remove scripts replace and take away the chain whole", () => {
  const rules = hostFirewallRules(planManagement(SINGLE).plan).ipv4;
  const fresh = firewallInstallScript(rules, false);
  assert.deepEqual(fresh.split("\n").slice(0, 3), [
    "*filter",
    ":FULLNAT-HOST-IN - [0:0]",
    "-F FULLNAT-HOST-IN",
  ]);
  assert.ok(fresh.endsWith("-I INPUT 1 -j FULLNAT-HOST-IN\nCOMMIT\n"));
  assert.ok(!firewallInstallScript(rules, true).includes("-I INPUT"), "hooked once only");

  const listed = [
    "-P INPUT ACCEPT",
    "-P FORWARD ACCEPT",
    "-N FULLNAT-HOST-IN",
    "-N OTHER",
    "-A INPUT -j FULLNAT-HOST-IN",
    "-A INPUT -j OTHER",
    "-A INPUT -j FULLNAT-HOST-IN",
    "-A FULLNAT-HOST-IN -i lo -j ACCEPT",
    "-A OTHER -j DROP",
  ].join("\n");
  const state = parseInstalledFirewall(listed);
  assert.deepEqual(state, {
    chain: true,
    hooks: 2,
    rules: ["-A FULLNAT-HOST-IN -i lo -j ACCEPT"],
  });
  assert.equal(
    firewallRemoveScript(state),
    "*filter\n-D INPUT -j FULLNAT-HOST-IN\n-D INPUT -j FULLNAT-HOST-IN\n" +
      "-F FULLNAT-HOST-IN\n-X FULLNAT-HOST-IN\nCOMMIT\n",
  );
  assert.equal(firewallRemoveScript(parseInstalledFirewall("-P INPUT ACCEPT\n")), undefined);
});

Deno.test("mgmt input from a provisioning file: the management interface, ha, sync", () => {
  const text = `version: 1
network:
  interfaces:
    eth0: { addresses: [198.51.100.1/24] }
    eth1: { addresses: [203.0.113.1/24] }
loadBalancer:
  version: 1
  sync:
    - { role: master, mcastInterface: eth2, syncid: 7 }
    - { role: backup, mcastInterface: eth2, syncid: 7 }
ha:
  interface: eth0
  virtualRouterId: 51
  peer: 198.51.100.2
  vips: { eth0: [198.51.100.10] }
`;
  const checked = checkProvisioning(text, "box.yaml", loadBalancerProblems);
  assert.deepEqual(checked.problems, []);
  const p = checked.provisioning;
  const lb = validateConfig(p.loadBalancer);
  assert.ok(lb.ok);
  assert.deepEqual(managementInputOf({ network: p.network, ha: p.ha, loadBalancer: lb.document }), {
    management: "eth0",
    interfaces: [{ name: "eth0", addresses: ["198.51.100.1/24"] }],
    ha: { interface: "eth0", peer: "198.51.100.2" },
    sync: [{ interface: "eth2", port: 8848 }, { interface: "eth2", port: 8848 }],
  });
  // No seed at all: eth0, nothing configured (the fallback alone).
  assert.deepEqual(managementInputOf({}), { management: "eth0", interfaces: [] });
});

Deno.test("admin.idleTimeout: checked by provisioning, carried to the management input", () => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
  const ok = checkProvisioning(
    `admin: { sshKeys: ["${key}"], idleTimeout: 300 }\n`,
    "box.yaml",
    loadBalancerProblems,
  );
  assert.deepEqual(ok.problems.map((p) => p.message), []);
  assert.equal(managementInputOf({ admin: ok.provisioning.admin }).idleTimeoutS, 300);
  const bad = checkProvisioning(
    `admin: { sshKeys: ["${key}"], idleTimeout: 1.5 }\n`,
    "box.yaml",
    loadBalancerProblems,
  );
  assert.deepEqual(bad.problems.map((p) => `${p.path.join(".")}: ${p.message}`), [
    "admin.idleTimeout: must be whole seconds from 0 (never) to 86400, not 1.5",
  ]);
});

Deno.test("sync openings: a daemon without the management side leaves the firewall alone", async () => {
  // No state directory, or one without a management input (a test daemon, a box whose
  // operator runs another firewall): nothing is read from or done to iptables.
  assert.equal(await refreshSyncOpenings(null, [{ interface: "eth2", port: 8848 }]), undefined);
  const dir = await Deno.makeTempDir({ prefix: "fullnat-mgmt-" });
  try {
    assert.equal(await refreshSyncOpenings(dir, [{ interface: "eth2", port: 8848 }]), undefined);
    // Stored already with the same openings: nothing to do either.
    await writeInput(`${dir}/mgmt`, {
      management: "eth0",
      interfaces: [],
      sync: [{ interface: "eth2", port: 8848 }],
    });
    assert.equal(await refreshSyncOpenings(dir, [{ interface: "eth2", port: 8848 }]), undefined);
    assert.deepEqual(await readInput(`${dir}/mgmt`), {
      management: "eth0",
      interfaces: [],
      sync: [{ interface: "eth2", port: 8848 }],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
