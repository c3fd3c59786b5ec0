/**
 * The configuration document's fields of issue 16 point 3 (a service's `allow`, `deny`,
 * `sourceRate`, `sourceSessions`) and the `tcpSynAck` timeout of point 2: validated with
 * paths and clear messages, left out of the text at their defaults, applied to an engine as
 * the smallest change, and exported back byte for byte.
 */
import assert from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { applyConfig, readRunning } from "../../../src/persist/apply.ts";
import { formatConfig, parseConfig, validateConfig } from "../../../src/persist/document.ts";

const DOC = {
  version: 1,
  timeouts: { tcpSynAck: 3 },
  services: [
    {
      protocol: "tcp",
      address: "198.51.100.10",
      port: 80,
      allow: ["198.51.100.0/24", "192.0.2.7"],
      deny: ["198.51.100.66/32"],
      sourceRate: 20,
      sourceSessions: 100,
      realServers: [{ address: "203.0.113.11", port: 80 }],
      localAddresses: ["203.0.113.201"],
    },
    {
      protocol: "tcp",
      address: "2001:db8::10",
      port: 443,
      deny: ["2001:db8:bad::/48"],
      realServers: [{ address: "2001:db8:1::11", port: 443 }],
      localAddresses: ["2001:db8:1::201"],
    },
  ],
};

const engine = () => localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 16 })));

Deno.test("allow, deny and the per-source limits round-trip: text, engine, export; defaults left out", async () => {
  const doc = parseConfig(JSON.stringify(DOC));
  const text = formatConfig(doc);
  assert.equal(formatConfig(parseConfig(text)), text, "fixed point");
  // A bare address is the host's prefix, written canonically.
  assert.match(text, /"allow": \[\n {8}"198\.51\.100\.0\/24",\n {8}"192\.0\.2\.7\/32"\n {6}\],/);
  assert.match(text, /"sourceRate": 20,\n {6}"sourceSessions": 100,/);
  assert.match(text, /"tcpSynAck": 3,/);
  // The IPv6 service has no allow list and no limits: not written.
  assert.equal(text.match(/"allow"/g)?.length, 1);
  assert.equal(text.match(/"sourceRate"/g)?.length, 1);

  const remote = engine();
  const r = await applyConfig(remote, doc);
  assert.ok(
    r.changes.includes(
      "+ service tcp 198.51.100.10:80 wrr allow 198.51.100.0/24,192.0.2.7/32 " +
        "deny 198.51.100.66/32 sourceRate 20 sourceSessions 100",
    ),
    r.changes.join("\n"),
  );
  assert.ok(r.changes.includes("~ timeouts tcpSynAck 5 -> 3"), r.changes.join("\n"));
  assert.equal(formatConfig(await readRunning(remote)), text, "config export reproduces it");
  assert.deepEqual((await applyConfig(remote, doc)).changes, [], "applied again: no change");

  // Back to the defaults: each field changes back, and the text has none of them.
  const plain = structuredClone(DOC) as typeof DOC;
  const web = plain.services[0] as Record<string, unknown>;
  for (const k of ["allow", "deny", "sourceRate", "sourceSessions"]) delete web[k];
  web.deny = ["203.0.113.0/24"];
  const r2 = await applyConfig(remote, parseConfig(JSON.stringify(plain)));
  assert.deepEqual(
    r2.changes,
    [
      "~ service tcp 198.51.100.10:80 allow 198.51.100.0/24,192.0.2.7/32 -> none, " +
      "deny 198.51.100.66/32 -> 203.0.113.0/24, sourceRate 20 -> 0, sourceSessions 100 -> 0",
    ],
  );
  const back = formatConfig(await readRunning(remote));
  assert.equal(back.match(/"allow"|"source/g), null);
  assert.match(back, /"deny": \[\n {8}"203\.0\.113\.0\/24"\n {6}\],/);
});

Deno.test("bad lists and limits are each named with their path", () => {
  const bad = structuredClone(DOC) as typeof DOC;
  const web = bad.services[0] as Record<string, unknown>;
  web.allow = ["198.51.100.1/24", "198.51.100.0/24", "198.51.100.0/24", 7];
  web.deny = "198.51.100.66";
  web.sourceRate = -1;
  web.sourceSessions = 2.5;
  (bad.services[1] as Record<string, unknown>).allow = ["192.0.2.0/24"];
  const r = validateConfig(bad);
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.problems, [
    "services[0].allow[0]: 198.51.100.1/24 has bits set past its length: write the network, " +
    "198.51.100.0/24",
    "services[0].allow[2]: 198.51.100.0/24 is already listed at allow[1]",
    "services[0].allow[3]: must be an address/length text (got 7)",
    'services[0].deny: must be a list (got "198.51.100.66")',
    "services[0].sourceRate: must be an integer from 0 to 2147483647 (got -1)",
    "services[0].sourceSessions: must be an integer from 0 to 2147483647 (got 2.5)",
    "services[1].allow[0]: 192.0.2.0/24 is IPv4 but the service is IPv6: a list holds " +
    "prefixes of the service's family",
  ]);
});
