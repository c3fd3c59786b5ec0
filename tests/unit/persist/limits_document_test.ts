/**
 * The configuration document's fields of issue 18 point 3 (`tunables`, a service's
 * `timeouts` and `onePacket`, a real server's `upperThreshold` / `lowerThreshold`): validated
 * with paths, left out of the text at their defaults, applied to an engine as the smallest
 * change, and exported back byte for byte.
 */
import assert from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { applyConfig, readRunning } from "../../../src/persist/apply.ts";
import { formatConfig, parseConfig, validateConfig } from "../../../src/persist/document.ts";

const DOC = {
  version: 1,
  tunables: { expireNodestConn: true },
  services: [
    {
      protocol: "tcp",
      address: "198.51.100.10",
      port: 22,
      scheduler: "wlc",
      timeouts: { tcpEstablished: 900 },
      realServers: [
        { address: "203.0.113.11", port: 22, upperThreshold: 200, lowerThreshold: 150 },
        { address: "203.0.113.12", port: 22 },
      ],
      localAddresses: ["203.0.113.201"],
    },
    {
      protocol: "udp",
      address: "198.51.100.10",
      port: 53,
      scheduler: "rr",
      onePacket: true,
      timeouts: { udp: 5 },
      realServers: [{ address: "203.0.113.11", port: 53 }],
      localAddresses: ["203.0.113.201"],
    },
  ],
};

const engine = () => localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 16 })));

Deno.test("the limits round-trip: text, engine, export; defaults are left out", async () => {
  const doc = parseConfig(JSON.stringify(DOC));
  const text = formatConfig(doc);
  assert.equal(formatConfig(parseConfig(text)), text, "fixed point");
  assert.match(
    text,
    /"tunables": \{\n {4}"expireNodestConn": true,\n {4}"expireQuiescentTemplate": false\n {2}\},/,
  );
  assert.match(text, /"timeouts": \{\n {8}"tcpEstablished": 900\n {6}\},/);
  assert.match(text, /"onePacket": true,/);
  assert.match(text, /"upperThreshold": 200,\n {10}"lowerThreshold": 150/);
  // The second server has no thresholds, the TCP service no onePacket: not written.
  assert.equal(text.match(/Threshold/g)?.length, 2);
  assert.equal(text.match(/onePacket/g)?.length, 1);

  const remote = engine();
  const r = await applyConfig(remote, doc);
  assert.ok(r.changes.includes("~ tunables expireNodestConn off -> on"), r.changes.join("\n"));
  assert.ok(r.changes.includes("+ service tcp 198.51.100.10:22 wlc timeouts tcpEstablished=900"));
  assert.ok(r.changes.includes("+ service udp 198.51.100.10:53 rr onePacket on timeouts udp=5"));
  assert.ok(
    r.changes.includes(
      "+ rs 203.0.113.11:22 fullnat weight 1 thresholds 200/150 in tcp 198.51.100.10:22",
    ),
  );
  assert.equal(formatConfig(await readRunning(remote)), text, "config export reproduces it");
  assert.deepEqual((await applyConfig(remote, doc)).changes, [], "applied again: no change");

  // Back to the defaults: each field changes back, and the text has none of them.
  const plain = structuredClone(DOC) as Record<string, unknown> & typeof DOC;
  delete (plain as Partial<typeof DOC>).tunables;
  const [ssh, dns] = plain.services as Record<string, unknown>[];
  delete ssh.timeouts;
  ssh.realServers = [{ address: "203.0.113.11", port: 22 }, { address: "203.0.113.12", port: 22 }];
  delete dns.onePacket;
  delete dns.timeouts;
  const back = await applyConfig(remote, parseConfig(JSON.stringify(plain)));
  assert.deepEqual(back.changes, [
    "~ tunables expireNodestConn on -> off",
    "~ service tcp 198.51.100.10:22 timeouts tcpEstablished=900 -> none",
    "~ rs 203.0.113.11:22 upperThreshold 200 -> 0, lowerThreshold 150 -> 0 in tcp 198.51.100.10:22",
    "~ service udp 198.51.100.10:53 onePacket on -> off, timeouts udp=5 -> none",
  ]);
  const exported = formatConfig(await readRunning(remote));
  assert.doesNotMatch(exported, /tunables|Threshold|onePacket|"timeouts": \{\}/);
  assert.equal(exported.match(/"timeouts"/g)?.length, 1, "the document's own timeouts only");
});

Deno.test("the limits' problems are reported with their paths", () => {
  const bad = structuredClone(DOC) as unknown as {
    tunables: Record<string, unknown>;
    services: Record<string, unknown>[];
  };
  bad.tunables = { expireNodestConn: "yes", expireEverything: true };
  bad.services[0].onePacket = true;
  bad.services[0].timeouts = { udp: 30, tcpEstablished: 0 };
  bad.services[0].realServers = [
    { address: "203.0.113.11", port: 22, upperThreshold: 10, lowerThreshold: 20 },
    { address: "203.0.113.12", port: 22, upperThreshold: -1 },
  ];
  const r = validateConfig(bad);
  assert.ok(!r.ok);
  assert.deepEqual(r.problems, [
    "tunables.expireEverything: unknown field (allowed: expireNodestConn, expireQuiescentTemplate, offload)",
    'tunables.expireNodestConn: must be true or false (got "yes")',
    "services[0].timeouts.tcpEstablished: must be an integer from 1 to 2000000 (got 0)",
    "services[0].timeouts.udp: applies to UDP services only (this one is tcp)",
    "services[0].onePacket: one-packet scheduling is for UDP services only",
    "services[0].realServers[0].lowerThreshold: must not be higher than upperThreshold (20 > 10)",
    "services[0].realServers[1].upperThreshold: must be an integer from 0 to 2147483647 (got -1)",
  ]);
});
