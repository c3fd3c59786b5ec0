/**
 * The shell's edits of the `network` section (src/shell/network_edit.ts): each changes what it
 * says and refuses an edit that makes no sense with a message saying why.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  addAddress,
  addRoute,
  deleteAddress,
  deleteRoute,
  type NetworkText,
  parseCidr,
  parseDestination,
  setDns,
  setInterface,
  setNtp,
} from "../../../src/shell/network_edit.ts";
import { UsageError } from "../../../src/shell/errors.ts";

const START: NetworkText = {
  interfaces: { eth0: { addresses: ["198.51.100.1/24"] } },
  routes: [{ to: "default", via: "198.51.100.254" }],
};

Deno.test("interface edits: add, delete and set, never touching the input", () => {
  const added = addAddress(START, "eth1", parseCidr("203.0.113.1/24"));
  assert.deepEqual(added.interfaces?.eth1, { addresses: ["203.0.113.1/24"] });
  assert.equal(START.interfaces?.eth1, undefined);
  assert.throws(() => addAddress(added, "eth1", "203.0.113.1/25"), /already configured on eth1/);
  assert.deepEqual(deleteAddress(added, "eth1", "203.0.113.1").interfaces?.eth1, {});
  assert.throws(() => deleteAddress(START, "eth1", "203.0.113.1/24"), /not configured on eth1/);
  const set = setInterface(START, "eth0", { mtu: 9000, up: false });
  assert.deepEqual(set.interfaces?.eth0, { addresses: ["198.51.100.1/24"], mtu: 9000, up: false });
  assert.deepEqual(setInterface(set, "eth0", { up: true }).interfaces?.eth0.up, undefined);
  assert.throws(() => setInterface(START, "eth0", {}), UsageError);
  assert.throws(() => parseCidr("10.0.0.1"), /has no prefix length/);
});

Deno.test("route edits: one route per destination and metric; delete says which", () => {
  const r = addRoute(START, { to: parseDestination("10.0.0.0/8"), via: "198.51.100.254" });
  assert.equal(r.routes?.length, 2);
  assert.throws(() => addRoute(r, { to: "10.0.0.0/8", dev: "eth0" }), /already configured/);
  const two = addRoute(r, { to: "10.0.0.0/8", dev: "eth0", metric: 50 });
  assert.throws(() => deleteRoute(two, "10.0.0.0/8"), /differ by metric; give --metric N/);
  assert.equal(deleteRoute(two, "10.0.0.0/8", 50).routes?.length, 2);
  assert.throws(() => deleteRoute(START, "10.0.0.0/8"), /no configured route to 10\.0\.0\.0\/8/);
  assert.throws(() => addRoute(START, { to: "default" }), /needs --via GATEWAY, --dev/);
  assert.throws(() => parseDestination("10.0.0.1/8"), /host bits set/);
});

Deno.test("dns and ntp: set, and cleared by an empty list", () => {
  const dns = setDns(START, ["192.0.2.53"], ["example.net"]);
  assert.deepEqual(dns.dns, { servers: ["192.0.2.53"], search: ["example.net"] });
  assert.equal(setDns(dns, [], []).dns, undefined);
  assert.throws(() => setDns(START, ["ns1.example.net"], []), /not an IP address/);
  assert.deepEqual(setNtp(START, ["pool.ntp.org"]).ntp, { servers: ["pool.ntp.org"] });
  assert.equal(setNtp(setNtp(START, ["x"]), []).ntp, undefined);
});
