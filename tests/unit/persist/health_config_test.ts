/**
 * The health fields of the configuration document (checks, inhibitOnFailure, quorum,
 * hysteresis, sorryServer): validated with their paths, left out at their defaults, planned as
 * readable change lines, applied without disturbing sessions, and reproduced by export.
 */
import assert from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { Verdict } from "../../../src/nfqueue/handler.ts";
import { applyConfig, readRunning } from "../../../src/persist/apply.ts";
import { formatConfig, parseConfig, validateConfig } from "../../../src/persist/document.ts";
import { planChanges } from "../../../src/persist/plan.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";

const BASE = {
  protocol: "tcp",
  address: "198.51.100.10",
  port: 80,
  realServers: [
    { address: "203.0.113.11", port: 80 },
    { address: "203.0.113.12", port: 80 },
  ],
  localAddresses: ["203.0.113.201"],
};

const WITH_HEALTH = {
  version: 1,
  services: [{
    ...BASE,
    quorum: 2,
    hysteresis: 1,
    sorryServer: { address: "203.0.113.99", port: 8080, method: "fullnat" },
    realServers: [
      {
        address: "203.0.113.11",
        port: 80,
        inhibitOnFailure: true,
        checks: [
          { type: "tcp", delayLoop: 1, fall: 2, connectTimeout: 5 },
          { type: "http", urls: [{ path: "/health", statusCodes: [200] }], retry: 1 },
        ],
      },
      { address: "203.0.113.12", port: 80 },
    ],
  }],
};

Deno.test("health fields: the text form leaves every default out and is stable", () => {
  const text = formatConfig(parseConfig(JSON.stringify(WITH_HEALTH)));
  const doc = JSON.parse(text);
  const svc = doc.services[0];
  assert.equal(svc.quorum, 2);
  assert.equal(svc.hysteresis, 1);
  assert.deepEqual(svc.sorryServer, { address: "203.0.113.99", port: 8080, method: "fullnat" });
  assert.deepEqual(svc.realServers[0].checks, [
    { type: "tcp", delayLoop: 1, fall: 2 },
    { type: "http", urls: [{ path: "/health", statusCodes: [200] }] },
  ]);
  assert.equal(svc.realServers[0].inhibitOnFailure, true);
  assert.deepEqual(Object.keys(svc.realServers[1]), ["address", "port", "weight", "method"]);
  assert.equal(formatConfig(parseConfig(text)), text, "stable");
  // A document without them reads, and writes, as before they existed.
  const plain = JSON.parse(
    formatConfig(parseConfig(JSON.stringify({ version: 1, services: [BASE] }))),
  );
  assert.deepEqual(Object.keys(plain.services[0]), [
    "protocol",
    "address",
    "port",
    "scheduler",
    "persistence",
    "toa",
    "stripTimestamps",
    "clampMss",
    "realServers",
    "localAddresses",
  ]);
});

Deno.test("health fields: every problem is reported with its path", () => {
  const bad = {
    version: 1,
    services: [{
      ...BASE,
      quorum: 0,
      hysteresis: -1,
      sorryServer: { address: "203.0.113.12", port: 80, weight: 3 },
      realServers: [
        {
          address: "203.0.113.11",
          port: 80,
          inhibitOnFailure: "yes",
          checks: [{ type: "http" }, { type: "ping" }],
        },
        { address: "203.0.113.12", port: 80 },
      ],
    }, {
      ...BASE,
      address: "2001:db8::10",
      realServers: [],
      sorryServer: { address: "203.0.113.99", port: 80 },
    }],
  };
  const r = validateConfig(bad);
  assert.ok(!r.ok);
  const text = r.problems.join("\n");
  for (
    const p of [
      "services[0].quorum: must be an integer from 1 to 2147483647 (got 0)",
      "services[0].hysteresis: must be an integer from 0 to 2147483647 (got -1)",
      "services[0].sorryServer.weight: unknown field (allowed: address, port, method)",
      'services[0].realServers[0].inhibitOnFailure: must be true or false (got "yes")',
      "services[0].realServers[0].checks[0].urls: must list at least one URL",
      "services[0].realServers[0].checks[1].type: must be one of tcp, http, https, misc",
      "services[1].sorryServer.address: 203.0.113.99 is IPv4 but the service is IPv6",
    ]
  ) assert.ok(text.includes(p), `missing: ${p}\nin:\n${text}`);
  // The sorry server may not be one of the real servers.
  const clash = structuredClone(WITH_HEALTH);
  clash.services[0].sorryServer = { address: "203.0.113.12", port: 80, method: "fullnat" };
  const c = validateConfig(clash);
  assert.ok(!c.ok);
  assert.match(c.problems.join("\n"), /sorryServer: 203\.0\.113\.12:80 is also realServers\[1\]/);
});

function engineTarget() {
  const engine = new Engine({ clock: () => 1_000, capacity: 64, localPortRange: [5000, 5100] });
  const ctl = new EngineControl(engine);
  return { engine, ctl, remote: localRemote(ctl) };
}

function connect(engine: Engine, sport: number): void {
  const syn = ipv4({ src: "198.51.100.2", dst: "198.51.100.10", ttl: 61 })
    .tcp({ sport, dport: 80, flags: "S", seq: 1, window: 29200 })
    .build();
  const buf = new Uint8Array(syn.length + 128);
  buf.set(syn);
  assert.equal(engine.handle(buf, 0, syn.length, buf.length), Verdict.Rewritten);
}

Deno.test("health fields: config apply then export reproduces the document", async () => {
  const t = engineTarget();
  const text = formatConfig(parseConfig(JSON.stringify(WITH_HEALTH)));
  const r = await applyConfig(t.remote, parseConfig(text));
  assert.deepEqual(r.changes, [
    "+ service tcp 198.51.100.10:80 wrr quorum 2 hysteresis 1 sorryServer 203.0.113.99:8080",
    "+ rs 203.0.113.11:80 fullnat weight 1 checks [tcp delayLoop 1 fall 2; http /health (200)] " +
    "inhibitOnFailure in tcp 198.51.100.10:80",
    "+ rs 203.0.113.12:80 fullnat weight 1 in tcp 198.51.100.10:80",
    "+ laddr 203.0.113.201 in tcp 198.51.100.10:80",
  ]);
  assert.equal(formatConfig(await readRunning(t.remote)), text);
  // Applying it again changes nothing.
  assert.deepEqual((await applyConfig(t.remote, parseConfig(text))).changes, []);
});

Deno.test("health fields: changes are readable lines, applied in place: sessions and counters stay", async () => {
  const t = engineTarget();
  await applyConfig(t.remote, parseConfig(JSON.stringify({ version: 1, services: [BASE] })));
  connect(t.engine, 40000);
  connect(t.engine, 40001);
  const before = t.ctl.listServices()[0];
  const next = parseConfig(JSON.stringify(WITH_HEALTH));
  const plan = planChanges(await readRunning(t.remote), next);
  assert.deepEqual(plan.map((c) => c.text), [
    "~ service tcp 198.51.100.10:80 quorum 1 -> 2, hysteresis 0 -> 1, " +
    "sorryServer none -> 203.0.113.99:8080",
    "~ rs 203.0.113.11:80 inhibitOnFailure off -> on, checks [] -> [tcp delayLoop 1 fall 2; " +
    "http /health (200)] in tcp 198.51.100.10:80",
  ]);
  await applyConfig(t.remote, next);
  assert.equal(t.engine.table.size, 2, "sessions kept");
  const after = t.ctl.listServices()[0];
  assert.equal(after.stats.conns, before.stats.conns);
  assert.deepEqual(
    after.realServers.map((r) => r.inactiveConns + r.activeConns),
    before.realServers.map((r) => r.inactiveConns + r.activeConns),
  );
  // Back: the sorry server and the checks go, in place again.
  const back = planChanges(
    await readRunning(t.remote),
    parseConfig(JSON.stringify({ version: 1, services: [BASE] })),
  );
  assert.deepEqual(back.map((c) => c.text), [
    "~ service tcp 198.51.100.10:80 quorum 2 -> 1, hysteresis 1 -> 0, " +
    "sorryServer 203.0.113.99:8080 -> none",
    "~ rs 203.0.113.11:80 inhibitOnFailure on -> off, checks [tcp delayLoop 1 fall 2; " +
    "http /health (200)] -> [] in tcp 198.51.100.10:80",
  ]);
  await applyConfig(t.remote, parseConfig(JSON.stringify({ version: 1, services: [BASE] })));
  assert.equal(t.engine.table.size, 2);
  assert.equal(t.ctl.listServices()[0].sorryServer, undefined);
});

Deno.test("health fields: a real server that becomes the sorry server leaves first", async () => {
  const t = engineTarget();
  await applyConfig(t.remote, parseConfig(JSON.stringify({ version: 1, services: [BASE] })));
  const moved = {
    version: 1,
    services: [{
      ...BASE,
      realServers: [BASE.realServers[0]],
      sorryServer: { address: "203.0.113.12", port: 80 },
    }],
  };
  const r = await applyConfig(t.remote, parseConfig(JSON.stringify(moved)));
  assert.deepEqual(r.changes, [
    "- rs 203.0.113.12:80 in tcp 198.51.100.10:80",
    "~ service tcp 198.51.100.10:80 sorryServer none -> 203.0.113.12:80",
  ]);
  // And back: the sorry server goes before the real server comes.
  const r2 = await applyConfig(
    t.remote,
    parseConfig(JSON.stringify({ version: 1, services: [BASE] })),
  );
  assert.deepEqual(r2.changes, [
    "~ service tcp 198.51.100.10:80 sorryServer 203.0.113.12:80 -> none",
    "+ rs 203.0.113.12:80 fullnat weight 1 in tcp 198.51.100.10:80",
  ]);
});
