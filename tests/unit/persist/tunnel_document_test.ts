/**
 * TUNNEL servers' encapsulation in the configuration document: written only when not the
 * default, refused with ipvsadm's rules, round-tripped through a running engine, and changed
 * in place by `config apply`.
 */
import assert from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { applyConfig, readRunning } from "../../../src/persist/apply.ts";
import { formatConfig, parseConfig, validateConfig } from "../../../src/persist/document.ts";

const KEY = { protocol: "tcp", address: "198.51.100.10", port: 80 };

function doc(...servers: Record<string, unknown>[]): string {
  return JSON.stringify({
    version: 1,
    services: [{ ...KEY, realServers: servers.map((r) => ({ port: 80, ...r })) }],
  });
}

function target() {
  const ctl = new EngineControl(
    new Engine({ clock: () => 0, capacity: 16, tunnelSources: ["203.0.113.250"] }),
  );
  return localRemote(ctl);
}

Deno.test("config document: tunnel options round-trip, defaults left out", async () => {
  const text = doc(
    { address: "203.0.113.11", method: "tunnel", tunnelType: "gue", tunnelPort: 6080 },
    { address: "203.0.113.12", method: "tunnel", tunnelType: "gre", tunnelChecksum: true },
    { address: "203.0.113.13", method: "tunnel", tunnelType: "ipip", tunnelChecksum: false },
  );
  const formatted = formatConfig(parseConfig(text));
  const servers = JSON.parse(formatted).services[0].realServers;
  assert.deepEqual(
    servers.map((r: Record<string, unknown>) => [r.tunnelType, r.tunnelPort, r.tunnelChecksum]),
    [
      ["gue", 6080, undefined],
      ["gre", undefined, true],
      [undefined, undefined, undefined],
    ],
  );
  assert.equal(formatConfig(parseConfig(formatted)), formatted, "stable");
  const remote = target();
  await applyConfig(remote, parseConfig(formatted));
  assert.equal(formatConfig(await readRunning(remote)), formatted, "the engine gives it back");
});

Deno.test("config document: tunnel options refused as ipvsadm refuses them", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { method: "dr", tunnelType: "gue", tunnelPort: 6080 },
      /realServers\[0\]: tunnel options .* apply to tunnel real servers only, not dr/,
    ],
    [{ method: "tunnel", tunnelType: "gue" }, /realServers\[0\]: a gue tunnel needs its UDP port/],
    [{ method: "tunnel", tunnelPort: 6080 }, /an ipip tunnel takes no port/],
    [{ method: "tunnel", tunnelType: "geneve" }, /realServers\[0\]\.tunnelType/],
    [{ method: "tunnel", tunnelType: "gue", tunnelPort: 70000 }, /realServers\[0\]\.tunnelPort/],
  ];
  for (const [extra, pattern] of cases) {
    const r = validateConfig(JSON.parse(doc({ address: "203.0.113.11", ...extra })));
    assert.ok(!r.ok, `refused: ${JSON.stringify(extra)}`);
    assert.match(r.problems.join("\n"), pattern);
  }
});

Deno.test("config apply: changing a server's encapsulation is one edit, in place", async () => {
  const remote = target();
  const server = { address: "203.0.113.11", method: "tunnel" };
  await applyConfig(remote, parseConfig(doc({ ...server, tunnelType: "gue", tunnelPort: 6080 })));
  const r = await applyConfig(
    remote,
    parseConfig(doc({ ...server, tunnelType: "gue", tunnelPort: 7000, tunnelChecksum: true })),
  );
  assert.deepEqual(r.changes, [
    "~ rs 203.0.113.11:80 tunnel gue:6080 -> gue:7000+csum in tcp 198.51.100.10:80",
  ]);
  const back = await applyConfig(remote, parseConfig(doc(server)));
  assert.deepEqual(back.changes, [
    "~ rs 203.0.113.11:80 tunnel gue:7000+csum -> ipip in tcp 198.51.100.10:80",
  ]);
  assert.equal(formatConfig(await readRunning(remote)), formatConfig(parseConfig(doc(server))));
});
