/**
 * The configuration document's `network` section: it round-trips through its text form with
 * the defaults left out, bad values are reported at their paths, changes are planned as one
 * step with readable lines, and a target without a host network refuses one.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  applyConfig,
  ConfigInvalidError,
  formatConfig,
  parseConfig,
  planChanges,
  validateConfig,
} from "../../../src/persist/mod.ts";
import {
  describeNetworkChanges,
  managementSlice,
  networkText,
} from "../../../src/persist/network_section.ts";
import { managementAddresses, managementInterface } from "../../../src/provision/types.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { localRemote } from "../../../src/ctl/remote.ts";

const DOC = {
  version: 1,
  network: {
    management: "mgmt0",
    interfaces: {
      mgmt0: { addresses: ["192.0.2.10/24"] },
      eth1: { addresses: ["203.0.113.1/24", "2001:db8:b::1/64"], mtu: 9000 },
      eth2: { up: false },
    },
    routes: [
      { to: "default", via: "192.0.2.1" },
      { to: "10.0.0.0/8", via: "203.0.113.254", dev: "eth1", metric: 20 },
    ],
    dns: { servers: ["192.0.2.53"], search: ["example.net"] },
    ntp: { servers: ["pool.ntp.org", "192.0.2.123"] },
    vips: { lo: ["198.51.100.10"] },
    localAddresses: { eth1: ["203.0.113.201"] },
  },
  services: [],
};

Deno.test("network section: round-trips through the text form, stable and complete", () => {
  const doc = parseConfig(JSON.stringify(DOC));
  const text = formatConfig(doc);
  assert.equal(formatConfig(parseConfig(text)), text);
  const back = JSON.parse(text);
  assert.deepEqual(back.network, DOC.network);
  assert.equal(managementInterface(doc.network!), "mgmt0");
  assert.deepEqual(managementAddresses(doc.network!).map((a) => a.address), ["192.0.2.10"]);
});

Deno.test("network section: defaults are left out, and an empty one entirely", () => {
  const doc = parseConfig(JSON.stringify({
    version: 1,
    network: { management: "eth0", interfaces: { eth0: { addresses: [], up: true } }, routes: [] },
    services: [],
  }));
  assert.deepEqual(JSON.parse(formatConfig(doc)).network, { interfaces: { eth0: {} } });
  const none = parseConfig(JSON.stringify({ version: 1, network: {}, services: [] }));
  assert.equal(JSON.parse(formatConfig(none)).network, undefined);
  assert.equal(networkText(none.network), undefined);
});

Deno.test("network section: every problem at its path, with what to write", () => {
  const r = validateConfig({
    version: 1,
    network: {
      management: "eth9",
      interfaces: { eth0: { addresses: ["10.0.0.1", "10.0.0.300/24"], mtu: 20 } },
      routes: [{ to: "10.1.0.1/16", via: "10.0.0.254" }, { to: "default" }],
      dns: { servers: ["192.0.2.53", "not-an-ip"], search: ["bad domain"] },
      ntp: { servers: ["-x-"] },
      bogus: 1,
    },
    services: [],
  });
  assert.ok(!r.ok);
  const want = [
    /^network\.bogus: unknown setting/,
    /^network\.interfaces\.eth0\.addresses\[0\]: "10\.0\.0\.1" has no prefix length; write it as 10\.0\.0\.1\/24/,
    /^network\.interfaces\.eth0\.addresses\[1\]: prefix length|^network\.interfaces\.eth0\.addresses\[1\]: "10\.0\.0\.300" is not/,
    /^network\.interfaces\.eth0\.mtu: must be a whole number from 68 to 65535/,
    /^network\.routes\[0\]\.to: 10\.1\.0\.1\/16 has host bits set/,
    /^network\.routes\[1\]: a route needs 'via'/,
    /^network\.management: eth9 is not under interfaces/,
    /^network\.dns\.servers\[1\]: "not-an-ip" is not an IP address/,
    /^network\.dns\.search\[0\]: "bad domain" is not a domain name/,
    /^network\.ntp\.servers\[0\]: "-x-" is neither an IP address nor a host name/,
  ];
  for (const w of want) {
    assert.ok(r.problems.some((p) => w.test(p)), `${w}\n${r.problems.join("\n")}`);
  }
  assert.equal(r.problems.length, want.length, r.problems.join("\n"));
});

Deno.test("network changes: described line by line and planned as one step, first", () => {
  const from = parseConfig(JSON.stringify(DOC));
  const next = structuredClone(DOC);
  next.network.interfaces.eth1 = { addresses: ["203.0.113.1/24", "203.0.113.2/24"], mtu: 1500 };
  next.network.routes = [{ to: "default", via: "192.0.2.254" }];
  next.network.dns = { servers: ["192.0.2.54"], search: ["example.net"] };
  const to = parseConfig(JSON.stringify(next));
  assert.deepEqual(describeNetworkChanges(from.network!, to.network!), [
    "~ interface eth1 mtu 9000 -> 1500",
    "- address 2001:db8:b::1/64 on eth1",
    "+ address 203.0.113.2/24 on eth1",
    "- route 10.0.0.0/8 via 203.0.113.254 dev eth1 metric 20",
    "~ route default via 192.0.2.1 -> default via 192.0.2.254",
    "~ dns servers 192.0.2.53 -> 192.0.2.54",
  ]);
  const plan = planChanges(from, to);
  assert.equal(plan.length, 1);
  assert.equal(plan[0].text, "~ interface eth1 mtu 9000 -> 1500");
  assert.equal(plan[0].more?.length, 5);
  // Reordering alone is no change.
  const reordered = structuredClone(DOC);
  reordered.network.routes.reverse();
  assert.deepEqual(planChanges(from, parseConfig(JSON.stringify(reordered))), []);
});

Deno.test("a target without a host network refuses a document that configures one", async () => {
  const target = localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 1 })));
  await assert.rejects(
    () => applyConfig(target, parseConfig(JSON.stringify(DOC))),
    (e) =>
      e instanceof ConfigInvalidError &&
      /^ {2}network: the box's network is configured by the fullnat daemon/m.test(e.message),
  );
});

Deno.test("managementSlice(): the management port, its routes, DNS and NTP only", () => {
  const slice = managementSlice(parseConfig(JSON.stringify(DOC)).network!);
  assert.deepEqual(networkText(slice), {
    management: "mgmt0",
    interfaces: { mgmt0: { addresses: ["192.0.2.10/24"] } },
    routes: [{ to: "default", via: "192.0.2.1" }],
    dns: DOC.network.dns,
    ntp: DOC.network.ntp,
  });
});
