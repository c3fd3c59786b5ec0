/**
 * The configuration document: defaults, stable text, and validation that reports every
 * problem with its path.
 */
import assert from "node:assert/strict";
import {
  ConfigInvalidError,
  emptyConfig,
  formatConfig,
  parseConfig,
  validateConfig,
} from "../../../src/persist/document.ts";
import { ControlError, DEFAULT_TIMEOUTS } from "../../../src/fullnat/types.ts";

const MINIMAL = {
  version: 1,
  services: [{
    protocol: "tcp",
    address: "198.51.100.10",
    port: 80,
    realServers: [{ address: "203.0.113.11", port: 8080 }],
    localAddresses: ["203.0.113.201"],
  }],
};

Deno.test("validateConfig() fills in every default a person may leave out", () => {
  const r = validateConfig(MINIMAL);
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.document, {
    version: 1,
    timeouts: { ...DEFAULT_TIMEOUTS },
    tunables: { expireNodestConn: false, expireQuiescentTemplate: false },
    sync: [],
    network: { interfaces: [], routes: [], vips: [], localAddresses: [] },
    services: [{
      protocol: "tcp",
      address: "198.51.100.10",
      port: 80,
      scheduler: "wrr",
      schedulerFlags: [],
      mhTableSize: 4093,
      persistence: 0,
      persistenceMask: 32,
      toa: true,
      stripTimestamps: true,
      clampMss: true,
      onePacket: false,
      synProxy: false,
      timeouts: {},
      quorum: 1,
      hysteresis: 0,
      allow: [],
      deny: [],
      sourceRate: 0,
      sourceSessions: 0,
      realServers: [{
        address: "203.0.113.11",
        port: 8080,
        weight: 1,
        method: "fullnat",
        upperThreshold: 0,
        lowerThreshold: 0,
        inhibitOnFailure: false,
        checks: [],
      }],
      localAddresses: ["203.0.113.201"],
    }],
  });
});

Deno.test("formatConfig() gives the same bytes whatever the input key order", () => {
  const a = parseConfig(JSON.stringify(MINIMAL));
  const shuffled = {
    services: [{
      localAddresses: ["203.0.113.201"],
      realServers: [{ port: 8080, method: "fullnat", address: "203.0.113.11" }],
      port: 80,
      address: "198.51.100.10",
      protocol: "tcp",
    }],
    timeouts: { udp: 300 },
    version: 1,
  };
  const b = parseConfig(JSON.stringify(shuffled));
  assert.equal(formatConfig(a), formatConfig(b));
  assert.ok(formatConfig(a).endsWith("}\n"));
  assert.equal(formatConfig(parseConfig(formatConfig(a))), formatConfig(a), "fixed point");
  assert.ok(
    formatConfig(a).startsWith('{\n  "version": 1,\n  "timeouts": {\n    "tcpEstablished": 90,'),
  );
});

Deno.test("validateConfig() reports every problem with its path, not only the first", () => {
  const r = validateConfig({
    version: 2,
    timeouts: { tcpEstablished: 0, tcp: 5 },
    services: [
      MINIMAL.services[0],
      {
        protocol: "sctp",
        address: "198.51.100.300",
        port: 80,
        scheduler: "sed",
        toa: "yes",
        realServers: [
          { address: "203.0.113.11", port: 0 },
          { address: "2001:db8::x", port: 80, wieght: 2 },
          { address: "203.0.113.12", port: 80, method: "ipip", weight: -1 },
        ],
        localAddresses: ["203.0.113.201", "224.0.0.1", "203.0.113.201"],
      },
      { ...MINIMAL.services[0] },
      "tcp 1.2.3.4:80",
    ],
  });
  assert.equal(r.ok, false);
  const problems = r.ok ? [] : r.problems;
  const expected = [
    "version: must be 1, the document version this fullnat reads (got 2)",
    "timeouts.tcp: unknown field",
    "timeouts.tcpEstablished: must be an integer from 1 to 2000000 (got 0)",
    'services[1].protocol: must be one of tcp, udp (got "sctp")',
    'services[1].address: must be an IPv4 address like 192.0.2.1 (got "198.51.100.300")',
    'services[1].scheduler: must be one of rr, wrr, lc, wlc, dh, sh, mh (got "sed")',
    'services[1].toa: must be true or false (got "yes")',
    "services[1].realServers[0].port: must be an integer from 1 to 65535 (got 0)",
    "services[1].realServers[1].wieght: unknown field",
    'services[1].realServers[1].address: must be an IPv6 address like 2001:db8::1 (got "2001:db8::x")',
    'services[1].realServers[2].method: must be one of fullnat, nat, dr, tunnel (got "ipip")',
    "services[1].realServers[2].weight: must be an integer from 0 to 65535 (got -1)",
    "services[1].localAddresses[1]: 224.0.0.1 is not a unicast address",
    "services[1].localAddresses[2]: local address 203.0.113.201 is already listed at localAddresses[0]",
    "services[2]: service tcp 198.51.100.10:80 is already listed at services[0]",
    'services[3]: must be an object with protocol, address and port (got "tcp 1.2.3.4:80")',
  ];
  for (const want of expected) {
    assert.ok(
      problems.some((p) => p.startsWith(want)),
      `missing: ${want}\nin:\n${problems.join("\n")}`,
    );
  }
  assert.equal(problems.length, expected.length, problems.join("\n"));
});

Deno.test("validateConfig() prefixes paths with the place of the document in a larger file", () => {
  const r = validateConfig({ version: 1, services: [{ ...MINIMAL.services[0], port: 0 }] }, {
    at: "config",
  });
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.problems, [
    "config.services[0].port: must be an integer from 1 to 65535 (got 0)",
  ]);
});

Deno.test("parseConfig() throws an invalid-argument ControlError listing every problem", () => {
  assert.throws(
    () => parseConfig(JSON.stringify({ version: 1, services: [{ protocol: "tcp" }] })),
    (e: unknown) => {
      assert.ok(e instanceof ConfigInvalidError);
      assert.ok(e instanceof ControlError);
      assert.equal(e.code, "invalid-argument");
      assert.equal(e.problems.length, 2);
      assert.match(e.message, /2 problems/);
      assert.match(e.message, /services\[0\]\.address: /);
      assert.match(e.message, /services\[0\]\.port: /);
      return true;
    },
  );
  assert.throws(() => parseConfig("{ version: 1"), /not valid JSON/);
  assert.throws(() => parseConfig("[]"), /must be an object/);
});

Deno.test("emptyConfig() is valid and round-trips through its text", () => {
  const text = formatConfig(emptyConfig());
  assert.equal(formatConfig(parseConfig(text)), text);
});

Deno.test("scheduler flags and mh table size: validated, normalized, round-tripped through the engine, omitted when default", async () => {
  const { EngineControl } = await import("../../../src/fullnat/control.ts");
  const { Engine } = await import("../../../src/fullnat/engine.ts");
  const { configFromViews } = await import("../../../src/persist/document.ts");
  const { checkOnFreshEngine } = await import("../../../src/persist/apply.ts");
  const text = JSON.stringify({
    version: 1,
    services: [
      { ...MINIMAL.services[0], scheduler: "sh", schedulerFlags: ["sh-port", "sh-fallback"] },
      { ...MINIMAL.services[0], port: 81, scheduler: "mh", mhTableSize: 65521 },
      { ...MINIMAL.services[0], port: 82, scheduler: "mh" },
    ],
  });
  const doc = parseConfig(text);
  assert.deepEqual(doc.services.map((s) => [s.schedulerFlags, s.mhTableSize]), [
    [["sh-fallback", "sh-port"], 4093],
    [[], 65521],
    [[], 4093],
  ]);
  const out = formatConfig(doc);
  assert.equal(formatConfig(parseConfig(out)), out);
  assert.match(
    out,
    /"scheduler": "sh",\n\s+"schedulerFlags": \[\n\s+"sh-fallback",\n\s+"sh-port"\n\s+\],/,
  );
  assert.equal((out.match(/mhTableSize/g) ?? []).length, 2, "only the mh services");
  assert.doesNotMatch(
    formatConfig(parseConfig(JSON.stringify(MINIMAL))),
    /schedulerFlags|mhTableSize/,
  );
  assert.deepEqual(checkOnFreshEngine(doc), []);

  // What the engine runs exports as the same document.
  const ctl = new EngineControl(new Engine({ clock: () => 0, capacity: 1 }));
  for (const s of doc.services) {
    const key = { protocol: s.protocol, address: s.address, port: s.port };
    ctl.addService(key, {
      scheduler: s.scheduler,
      schedulerFlags: s.schedulerFlags,
      ...(s.scheduler === "mh" && { mhTableSize: s.mhTableSize }),
      persistence: s.persistence,
    });
    for (const r of s.realServers) ctl.addRealServer(key, r);
    for (const l of s.localAddresses) ctl.addLocalAddress(key, l);
  }
  assert.equal(formatConfig(configFromViews(ctl.listServices(), ctl.getTimeouts())), out);

  const bad = validateConfig({
    version: 1,
    services: [
      { ...MINIMAL.services[0], scheduler: "rr", schedulerFlags: ["sh-port"] },
      { ...MINIMAL.services[0], port: 81, scheduler: "sh", schedulerFlags: ["sh-turbo"] },
      { ...MINIMAL.services[0], port: 82, scheduler: "mh", mhTableSize: 4096 },
      { ...MINIMAL.services[0], port: 83, scheduler: "wlc", mhTableSize: 251 },
    ],
  });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems, [
    "services[0].schedulerFlags: scheduler flag sh-port belongs to sh: rr takes no scheduler flags",
    'services[1].schedulerFlags[0]: must be one of sh-fallback, sh-port, mh-fallback, mh-port (got "sh-turbo")',
    "services[2].mhTableSize: must be one of 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071 (got 4096)",
    "services[3].mhTableSize: applies to the mh scheduler only (the scheduler is wlc)",
  ]);
});

Deno.test("persistenceMask and tunables: validated by family, left out at their defaults, round-tripped", () => {
  const text = JSON.stringify({
    version: 1,
    tunables: { expireQuiescentTemplate: true },
    services: [
      { ...MINIMAL.services[0], persistence: 300, persistenceMask: 24 },
      { ...MINIMAL.services[0], port: 81, persistenceMask: 32 },
      {
        protocol: "tcp",
        address: "2001:db8::10",
        port: 443,
        persistence: 600,
        persistenceMask: 64,
      },
      { protocol: "udp", address: "2001:db8::10", port: 53, persistenceMask: 128 },
    ],
  });
  const doc = parseConfig(text);
  assert.deepEqual(doc.services.map((s) => s.persistenceMask), [24, 32, 64, 128]);
  assert.deepEqual(doc.tunables, { expireNodestConn: false, expireQuiescentTemplate: true });
  const out = formatConfig(doc);
  assert.equal(formatConfig(parseConfig(out)), out);
  assert.equal((out.match(/persistenceMask/g) ?? []).length, 2, "only the ones not at default");
  assert.match(
    out,
    /"tunables": \{\n\s+"expireNodestConn": false,\n\s+"expireQuiescentTemplate": true\n\s+\},/,
  );
  assert.match(out, /"persistence": 300,\n\s+"persistenceMask": 24,/);
  // At their defaults, neither is written: documents from before them read unchanged.
  const plain = formatConfig(parseConfig(JSON.stringify(MINIMAL)));
  assert.doesNotMatch(plain, /persistenceMask|tunables/);
  assert.equal(
    formatConfig(parseConfig(JSON.stringify({ ...MINIMAL, tunables: {} }))),
    plain,
  );

  const bad = validateConfig({
    version: 1,
    tunables: { expireQuiescentTemplate: "yes", expireEverything: true },
    services: [
      { ...MINIMAL.services[0], persistenceMask: 33 },
      { ...MINIMAL.services[0], port: 81, persistenceMask: "24" },
      { protocol: "tcp", address: "2001:db8::10", port: 80, persistenceMask: 129 },
    ],
  });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems, [
    "tunables.expireEverything: unknown field (allowed: expireNodestConn, expireQuiescentTemplate, offload)",
    'tunables.expireQuiescentTemplate: must be true or false (got "yes")',
    "services[0].persistenceMask: must be a prefix length from 0 to 32 for an IPv4 service (got 33)",
    'services[1].persistenceMask: must be a prefix length from 0 to 32 for an IPv4 service (got "24")',
    "services[2].persistenceMask: must be a prefix length from 0 to 128 for an IPv6 service (got 129)",
  ]);
});
