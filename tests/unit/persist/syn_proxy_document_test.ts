/**
 * The configuration document's `synProxy` of a service (issue 16 point 1): written only when
 * on, applied to an engine, exported back byte for byte, switched off as a change, and refused
 * with its path on a UDP service.
 */
import assert from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { applyConfig, readRunning } from "../../../src/persist/apply.ts";
import { formatConfig, parseConfig, validateConfig } from "../../../src/persist/document.ts";

const DOC = {
  version: 1,
  services: [
    {
      protocol: "tcp",
      address: "198.51.100.10",
      port: 80,
      synProxy: true,
      realServers: [{ address: "203.0.113.11", port: 80 }],
      localAddresses: ["203.0.113.201"],
    },
  ],
};

Deno.test("synProxy round-trips: text, engine, export; off is left out", async () => {
  const doc = parseConfig(JSON.stringify(DOC));
  const text = formatConfig(doc);
  assert.equal(formatConfig(parseConfig(text)), text, "fixed point");
  assert.equal(text.match(/"synProxy": true/g)?.length, 1);
  const control = new EngineControl(new Engine({ clock: () => 0, capacity: 16 }));
  const remote = localRemote(control);
  const r = await applyConfig(remote, doc);
  assert.ok(
    r.changes.includes("+ service tcp 198.51.100.10:80 wrr synProxy on"),
    r.changes.join("\n"),
  );
  assert.equal(control.engine.registry.liveServices()[0].synProxy, true);
  assert.equal(formatConfig(await readRunning(remote)), text, "config export reproduces it");
  assert.deepEqual((await applyConfig(remote, doc)).changes, [], "applied again: no change");

  const off = structuredClone(DOC);
  delete (off.services[0] as Record<string, unknown>).synProxy;
  const r2 = await applyConfig(remote, parseConfig(JSON.stringify(off)));
  assert.deepEqual(r2.changes, ["~ service tcp 198.51.100.10:80 synProxy on -> off"]);
  assert.equal(control.engine.registry.liveServices()[0].synProxy, false);
  assert.equal(formatConfig(await readRunning(remote)).includes("synProxy"), false);
});

Deno.test("synProxy on a UDP service or not a boolean is named with its path", () => {
  const bad = structuredClone(DOC) as { version: number; services: Record<string, unknown>[] };
  bad.services.push({ ...bad.services[0], protocol: "udp", port: 53 });
  bad.services[0].synProxy = "yes";
  const r = validateConfig(bad);
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.problems, [
    'services[0].synProxy: must be true or false (got "yes")',
    "services[1].synProxy: the SYN proxy is for TCP services only",
  ]);
});
