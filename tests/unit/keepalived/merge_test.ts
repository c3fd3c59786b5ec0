/**
 * mergeWithRunning(): what a keepalived.conf cannot say keeps its running value; what it says
 * replaces the running configuration.
 */
import assert from "node:assert/strict";
import { mergeWithRunning } from "../../../src/keepalived/merge.ts";
import type { ImportedDocument } from "../../../src/keepalived/output.ts";
import { validateConfig } from "../../../src/persist/document.ts";

const running = {
  version: 1,
  timeouts: { tcpEstablished: 900, udp: 60 },
  tunables: { expireNodestConn: true },
  services: [
    {
      protocol: "tcp",
      address: "2001:db8::10",
      port: 443,
      scheduler: "mh",
      mhTableSize: 251,
      toa: false,
      clampMss: false,
      realServers: [],
      localAddresses: [],
    },
    { protocol: "udp", address: "192.0.2.53", port: 53, scheduler: "mh", mhTableSize: 509 },
    { protocol: "tcp", address: "192.0.2.99", port: 80, stripTimestamps: false },
  ],
};

const imported: ImportedDocument = {
  version: 1,
  timeouts: { udp: 30 },
  services: [
    {
      protocol: "tcp",
      address: "2001:db8::10",
      port: 443,
      scheduler: "mh",
      realServers: [{ address: "2001:db8::11", port: 443 }],
      localAddresses: [],
    },
    {
      protocol: "udp",
      address: "192.0.2.53",
      port: 53,
      scheduler: "rr",
      realServers: [],
      localAddresses: [],
    },
    {
      protocol: "tcp",
      address: "192.0.2.100",
      port: 80,
      realServers: [],
      localAddresses: [],
    },
  ],
};

Deno.test("mergeWithRunning() keeps timeouts, tunables and TCP tweaks keepalived cannot say", () => {
  const merged = mergeWithRunning(imported, running);
  assert.deepEqual(merged.timeouts, { tcpEstablished: 900, udp: 30 });
  assert.deepEqual(merged.tunables, { expireNodestConn: true });
  assert.deepEqual(merged.services, [
    {
      protocol: "tcp",
      address: "2001:db8::10",
      port: 443,
      scheduler: "mh",
      realServers: [{ address: "2001:db8::11", port: 443 }],
      localAddresses: [],
      toa: false,
      clampMss: false,
      mhTableSize: 251,
    },
    // No longer mh: the table size means nothing and is not carried over.
    {
      protocol: "udp",
      address: "192.0.2.53",
      port: 53,
      scheduler: "rr",
      realServers: [],
      localAddresses: [],
    },
    // New: defaults. 192.0.2.99, which the file does not list, is gone.
    { protocol: "tcp", address: "192.0.2.100", port: 80, realServers: [], localAddresses: [] },
  ]);
});

Deno.test("mergeWithRunning() over an empty daemon is the imported document, and validates", () => {
  const merged = mergeWithRunning({ ...imported, timeouts: undefined }, "not a document");
  assert.deepEqual(merged.timeouts, {});
  const checked = validateConfig(merged);
  assert.deepEqual(checked.ok ? [] : checked.problems, []);
});
