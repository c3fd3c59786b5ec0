/**
 * The management plane's boot record (src/mgmt/boot_record.ts): the files the boot script
 * replays, written whole, with the MAC last so a record cut short is never replayed, and made
 * unusable when an apply could not finish. The replay itself runs against a real network
 * namespace in tests/e2e/mgmt/management_e2e_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bootRecordDir,
  bootRecordFiles,
  configuredAddresses,
  dropBootRecord,
  writeBootRecord,
} from "../../../src/mgmt/boot_record.ts";
import { firewallInstallScript, hostFirewallRules } from "../../../src/mgmt/firewall_rules.ts";
import { fallbackAddresses } from "../../../src/mgmt/link_local.ts";
import { planManagement } from "../../../src/mgmt/plan.ts";

const MAC = "52:54:00:AB:CD:EF";
const input = {
  management: "eth0",
  interfaces: [{ name: "eth0", addresses: ["198.51.100.1/24", "2001:db8:a::1/64"] }, {
    name: "eth1",
    addresses: ["203.0.113.1/24"],
  }],
  mac: MAC,
  sync: [{ interface: "eth2", port: 8848 }],
};
const plan = planManagement(input).plan;

Deno.test("boot record: the port up with its fallback addresses, and both firewall scripts", () => {
  const configured = configuredAddresses(input, plan);
  assert.deepEqual(
    configured,
    ["198.51.100.1/24", "2001:db8:a::1/64"],
    "the management port's only",
  );
  const files = bootRecordFiles(plan, MAC, configured);
  const fb = fallbackAddresses(MAC);
  assert.deepEqual(Object.keys(files).sort(), [
    "firewall4.rules",
    "firewall6.rules",
    "interface",
    "ip.batch",
    "mac",
  ]);
  assert.equal(files.interface, "eth0\n");
  assert.equal(files.mac, "52:54:00:ab:cd:ef\n", "as /sys/class/net/*/address spells it");
  assert.equal(
    files["ip.batch"],
    "link set dev eth0 up\naddr replace 198.51.100.1/24 dev eth0\n" +
      "addr replace 2001:db8:a::1/64 dev eth0\n" +
      `addr replace ${fb.ipv4} dev eth0 scope link\n` +
      `addr replace ${fb.ipv6} dev eth0 nodad\n`,
  );
  const rules = hostFirewallRules(plan);
  assert.equal(files["firewall4.rules"], firewallInstallScript(rules.ipv4, false));
  assert.equal(files["firewall6.rules"], firewallInstallScript(rules.ipv6, false));
  assert.match(files["firewall4.rules"], /^-I INPUT 1 -j FULLNAT-HOST-IN$/m);
  assert.match(files["firewall4.rules"], /--dport 8848 -j ACCEPT/, "sync openings are kept");
});

Deno.test("boot record: a bad management address keeps none of them, as the plan does", () => {
  const bad = { ...input, interfaces: [{ name: "eth0", addresses: ["198.51.100.300/24"] }] };
  assert.deepEqual(configuredAddresses(bad, planManagement(bad).plan), []);
  const files = bootRecordFiles(planManagement(bad).plan, MAC, []);
  assert.doesNotMatch(files["ip.batch"], /198\.51\.100/);
});

Deno.test("boot record: written whole, MAC last; dropped by removing the MAC", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-boot-record-" });
  try {
    await writeBootRecord(dir, plan, MAC);
    const rec = bootRecordDir(dir);
    const expected = bootRecordFiles(plan, MAC);
    for (const [name, text] of Object.entries(expected)) {
      assert.equal(await Deno.readTextFile(join(rec, name)), text, name);
    }
    const mtimes = await Promise.all(
      Object.keys(expected).map(async (n) => [n, (await Deno.stat(join(rec, n))).mtime!] as const),
    );
    const macTime = mtimes.find(([n]) => n === "mac")![1].getTime();
    for (const [n, t] of mtimes) assert.ok(t.getTime() <= macTime, `${n} after mac`);
    // No temporary files left beside them.
    const names = [];
    for await (const e of Deno.readDir(rec)) names.push(e.name);
    assert.deepEqual(names.sort(), Object.keys(expected).sort());

    await dropBootRecord(dir);
    await assert.rejects(Deno.stat(join(rec, "mac")), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(join(rec, "interface")), "eth0\n");
    await dropBootRecord(dir); // nothing to drop: fine
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
