import assert from "node:assert/strict";
import { loadBalancerProblems } from "../../../src/provision/load_balancer.ts";
import { formatProblem } from "../../../src/provision/problems.ts";
import { parseSshPublicKey } from "../../../src/provision/ssh_key.ts";
import { checkProvisioning } from "../../../src/provision/validate.ts";
import { parse as parseYaml } from "yaml";
import { ed25519Key, EXAMPLE, exampleYaml } from "../../../testkit/provision_fixtures.ts";

const check = (text: string, name = "fullnat.yaml") =>
  checkProvisioning(text, name, loadBalancerProblems);
const lines = (text: string, name?: string) => check(text, name).problems.map(formatProblem);

Deno.test("checkProvisioning() accepts the full YAML example and normalises every section", () => {
  const r = check(exampleYaml());
  assert.deepEqual(r.problems, []);
  assert.equal(r.fatal, false);
  const p = r.provisioning;
  assert.equal(p.hostname, "edge-lb-1");
  assert.deepEqual(p.admin, {
    user: "admin",
    sshKeys: [ed25519Key(1, "alice@laptop"), ed25519Key(2, "bob@desk")],
  });
  assert.deepEqual(p.network, {
    interfaces: [
      {
        name: "eth0",
        addresses: [{ address: "198.51.100.1", prefixLength: 24, family: 4 }],
        mtu: 1400,
        up: true,
      },
      {
        name: "eth1",
        addresses: [{ address: "203.0.113.1", prefixLength: 24, family: 4 }],
        up: true,
      },
    ],
    routes: [{ to: "192.0.2.0/24", family: 4, via: "203.0.113.11" }],
    vips: [{ address: EXAMPLE.vip, family: 4, interface: "eth0" }],
    localAddresses: EXAMPLE.localAddresses.map((address) => ({
      address,
      family: 4,
      interface: "eth1",
    })),
  });
  assert.equal((p.loadBalancer as { services: unknown[] }).services.length, 1);
});

Deno.test("checkProvisioning() reads the same file written as JSON to the same result", () => {
  const asJson = JSON.stringify(parseYaml(exampleYaml()), null, 2);
  const fromYaml = check(exampleYaml());
  const fromJson = check(asJson, "fullnat.json");
  assert.deepEqual(fromJson.problems, []);
  assert.deepEqual(fromJson.provisioning, fromYaml.provisioning);
  // A leading brace is JSON even without the file name saying so.
  assert.deepEqual(check(asJson, "").provisioning, fromYaml.provisioning);
});

Deno.test("checkProvisioning() lists every problem with its path and line, in file order", () => {
  const text = `version: 1
hostname: -bad-
hostnme: x
admin:
  sshKeys:
    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbroken
network:
  interfaces:
    eth0:
      addresses: [198.51.100.300/24, 10.0.0.1]
      mtu: 20
      up: yes
  routes:
    - { to: 10.0.0.1/8 }
  vips: { eth0: [198.51.100.10/32] }
loadBalancer:
  version: 1
  services:
    - protocol: sctp
      address: 198.51.100.10
      port: 0
`;
  const r = check(text);
  assert.deepEqual(r.problems.map(formatProblem), [
    `hostname (line 2): "-bad-" is not a valid host name: use letters, digits and '-' (not first or last), dot-separated, at most 64 characters`,
    `hostnme (line 3): unknown setting; did you mean "hostname"? (allowed here: version, hostname, admin, network, loadBalancer, ha)`,
    "admin.sshKeys[0] (line 6): SSH key data is not valid base64 (truncated paste?)",
    `network.interfaces.eth0.addresses[0] (line 10): "198.51.100.300" is not an IPv4 or IPv6 address`,
    `network.interfaces.eth0.addresses[1] (line 10): "10.0.0.1" has no prefix length; write it as 10.0.0.1/24 or similar`,
    "network.interfaces.eth0.mtu (line 11): must be a whole number from 68 to 65535, not the number 20",
    // YAML 1.2: `yes` is text, not a boolean, so it is caught rather than silently taken.
    `network.interfaces.eth0.up (line 12): must be true or false, not the text "yes"`,
    "network.routes[0].to (line 14): 10.0.0.1/8 has host bits set; a route names a network (e.g. the address with the host part zero)",
    "network.routes[0] (line 14): a route needs 'via' (a gateway), 'dev' (an interface), or both",
    "network.vips.eth0[0] (line 15): give the bare address (198.51.100.10); VIP addresses are assigned as /32 (/128)",
    `loadBalancer.services[0].protocol (line 19): must be one of tcp, udp (got "sctp")`,
    "loadBalancer.services[0].port (line 21): must be an integer from 1 to 65535 (got 0)",
  ]);
  assert.deepEqual(r.invalid, ["hostname", "admin", "network", "loadBalancer"]);
  assert.equal(r.fatal, false, "an unknown top-level key does not condemn the other sections");
  assert.deepEqual(r.provisioning, { version: 1 });
});

Deno.test("checkProvisioning() keeps valid sections when only the load-balancer section is wrong", () => {
  const text = exampleYaml().replace(
    "port: 80\n      scheduler: rr",
    "port: 80\n      scheduler: sed",
  );
  const r = check(text);
  assert.deepEqual(r.problems.map(formatProblem), [
    `loadBalancer.services[0].scheduler (line 28): must be one of rr, wrr, lc, wlc, dh, sh, mh (got "sed")`,
  ]);
  assert.deepEqual(r.invalid, ["loadBalancer"]);
  assert.equal(r.provisioning.hostname, "edge-lb-1");
  assert.equal(r.provisioning.admin?.sshKeys.length, 2);
  assert.equal(r.provisioning.network?.vips.length, 1);
  assert.equal(r.provisioning.loadBalancer, undefined);
});

Deno.test("checkProvisioning() reports YAML and JSON syntax errors with their line, as fatal", () => {
  const yaml = check("hostname: a\nadmin: [\n  x\nnetwork: {}\n");
  assert.equal(yaml.fatal, true);
  assert.ok(yaml.problems.length >= 1);
  assert.match(formatProblem(yaml.problems[0]), /^\(document\) \(line \d+\): not valid YAML: /);

  const json = check('{\n  "hostname": "a"\n  "admin": {}\n}\n', "fullnat.json");
  assert.equal(json.fatal, true);
  assert.deepEqual(json.problems.length, 1);
  assert.equal(json.problems[0].line, 3);
  assert.match(json.problems[0].message, /^not valid JSON: /);

  const dup = check("hostname: a\nhostname: b\n");
  assert.equal(dup.fatal, true);
  assert.match(dup.problems[0].message, /unique/i);
});

Deno.test("checkProvisioning() refuses another version and a document that is not a mapping", () => {
  const v = check("version: 2\nhostname: ok\n");
  assert.equal(v.fatal, true);
  assert.deepEqual(lines("version: 2\nhostname: ok\n"), [
    "version (line 1): must be 1 (the only version there is), not the number 2",
  ]);
  assert.equal(
    v.provisioning.hostname,
    undefined,
    "nothing applies from a file of unknown version",
  );
  assert.deepEqual(lines("- a\n- b\n"), [
    "(document) (line 1): must be a mapping (key: value lines), not a list",
  ]);
});

Deno.test("checkProvisioning() refuses an address listed twice across interfaces, VIPs and local addresses", () => {
  const text = `network:
  interfaces:
    eth0: { addresses: [198.51.100.1/24] }
  vips:
    eth0: [198.51.100.10, 198.51.100.1]
  localAddresses:
    eth1: [198.51.100.10]
`;
  assert.deepEqual(lines(text), [
    "network.vips.eth0[1] (line 5): 198.51.100.1 is already listed under interfaces.eth0",
    "network.localAddresses.eth1[0] (line 7): 198.51.100.10 is already listed under vips.eth0",
  ]);
});

Deno.test("checkProvisioning() checks route families, interface names and admin keys", () => {
  const text = `admin:
  user: Admin
  sshKeys: []
network:
  interfaces:
    this-name-is-far-too-long: {}
  routes:
    - { to: default, via: "2001:db8::1", dev: eth0 }
    - { to: "2001:db8:1::/48", via: 192.0.2.1 }
`;
  assert.deepEqual(lines(text), [
    `admin.user (line 2): "Admin" is not a valid user name`,
    "admin.sshKeys (line 3): is empty; with no key nobody can log in over SSH",
    "network.interfaces.this-name-is-far-too-long (line 6): interface names are 1 to 15 characters long",
    "network.routes[1].via (line 9): gateway 192.0.2.1 is not of the same IP version as 2001:db8:1::/48",
  ]);
  // `default` takes its family from the gateway.
  const ok = check(`network:\n  routes:\n    - { to: default, via: "2001:db8::1" }\n`);
  assert.deepEqual(ok.provisioning.network?.routes, [
    { to: "default", family: 6, via: "2001:db8::1" },
  ]);
});

Deno.test("parseSshPublicKey() accepts a well-formed key and refuses mangled ones", () => {
  const good = ed25519Key(7, "carol@example");
  assert.deepEqual(parseSshPublicKey(`  ${good.replaceAll(" ", "   ")}  `), {
    ok: true,
    key: good,
  });
  const blob = good.split(" ")[1];
  const cases: Array<[string, RegExp]> = [
    [`ssh-rsa ${blob}`, /does not belong to a ssh-rsa key \(it says "ssh-ed25519"\)/],
    [`ssh-ed25519 ${blob.slice(0, 20)}`, /incomplete \(truncated paste\?\)/],
    [`ssh-ed25519 ${blob.slice(0, 30)}`, /not valid base64/],
    [`ssh-ed25519`, /no key data/],
    [`ssh-dss ${blob}`, /must start with its type/],
    [`from="10.0.0.1" ${good}`, /options are not supported/],
    [`${good}\n${good}`, /must be one line/],
  ];
  for (const [line, expected] of cases) {
    const r = parseSshPublicKey(line);
    assert.equal(r.ok, false, line);
    assert.match((r as { message: string }).message, expected);
  }
});

Deno.test("checkProvisioning() warns, without holding anything back, about balancer addresses the network section does not assign", () => {
  const text = exampleYaml()
    .replace(`  vips:\n    eth0: [${EXAMPLE.vip}]\n`, "")
    .replace(
      `eth1: [${EXAMPLE.localAddresses.join(", ")}]`,
      `eth1: [${EXAMPLE.localAddresses[0]}]`,
    );
  const r = check(text);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.warnings.map(formatProblem), [
    "loadBalancer.services[0].address (line 24): VIP 198.51.100.10 is not under network.vips (nor an interface address); unless it is assigned some other way the box will not answer ARP for it",
    "loadBalancer.services[0].localAddresses[1] (line 30): local address 203.0.113.202 is not under network.localAddresses (nor an interface address); real servers' replies to it will not reach the box",
  ]);
  assert.ok(r.provisioning.loadBalancer !== undefined && r.provisioning.network !== undefined);
  assert.deepEqual(check(exampleYaml()).warnings, []);
});
