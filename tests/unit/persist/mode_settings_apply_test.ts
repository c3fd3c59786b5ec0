/**
 * FULLNAT-only settings on services whose servers are all DR or TUNNEL (`mode_settings.ts`):
 * refused by every control call that would leave them so, naming the mode, changing nothing;
 * and documents that move a service between FULLNAT and DR or TUNNEL apply in an order that
 * never passes through such a state.
 */
import assert from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { applyConfig, checkOnFreshEngine, readRunning } from "../../../src/persist/apply.ts";
import { formatConfig, parseConfig } from "../../../src/persist/document.ts";

const KEY = { protocol: "tcp" as const, address: "198.51.100.10", port: 80 };
const RS1 = "203.0.113.11";
const RS2 = "203.0.113.12";
const LADDR = "203.0.113.201";

function control(): EngineControl {
  return new EngineControl(
    new Engine({ clock: () => 0, capacity: 16, tunnelSources: ["203.0.113.250"] }),
  );
}

/** What `ctl` runs, as a document's text: to prove a refusal changed nothing. */
async function snapshot(ctl: EngineControl): Promise<string> {
  return formatConfig(await readRunning(localRemote(ctl)));
}

async function refused(ctl: EngineControl, fn: () => void, pattern: RegExp): Promise<void> {
  const before = await snapshot(ctl);
  assert.throws(fn, pattern);
  assert.equal(await snapshot(ctl), before, "a refusal changes nothing");
}

Deno.test("EngineControl refuses local addresses on a service whose servers are all DR or TUNNEL", async () => {
  const ctl = control();
  ctl.addService(KEY, { scheduler: "rr", persistence: 0 });
  // No server yet: local addresses may come first, as ipvsadm users add them.
  ctl.addLocalAddress(KEY, LADDR);
  await refused(
    ctl,
    () => ctl.addRealServer(KEY, { address: RS1, port: 80, weight: 1, method: "dr" }),
    /Service TCP 198\.51\.100\.10:80: local addresses are used by FULLNAT real servers only, and its real servers are all DR \(Route\)/,
  );
  ctl.addRealServer(KEY, { address: RS1, port: 80, weight: 1, method: "fullnat" });
  ctl.addRealServer(KEY, { address: RS2, port: 80, weight: 1, method: "tunnel" });
  // The last FULLNAT server may neither turn DR nor leave while the local addresses stay.
  await refused(
    ctl,
    () => ctl.editRealServer(KEY, { address: RS1, port: 80, method: "dr" }),
    /all DR \(Route\) and TUNNEL \(Tunnel\), whose packets keep the client's address: delete the local addresses first/,
  );
  await refused(
    ctl,
    () => ctl.deleteRealServer(KEY, { address: RS1, port: 80 }),
    /its real servers are all TUNNEL \(Tunnel\)/,
  );
  ctl.deleteLocalAddress(KEY, LADDR);
  ctl.deleteRealServer(KEY, { address: RS1, port: 80 });
  await refused(
    ctl,
    () => ctl.addLocalAddress(KEY, LADDR),
    /local addresses are used by FULLNAT real servers only, and its real servers are all TUNNEL/,
  );
  // NAT servers are outside the rule (README: "Settings DR and TUNNEL servers do not use").
  ctl.addRealServer(KEY, { address: RS1, port: 80, weight: 1, method: "nat" });
  ctl.addLocalAddress(KEY, LADDR);
});

Deno.test("EngineControl refuses TOA, timestamp or MSS switches turned on for DR/TUNNEL-only services", async () => {
  const ctl = control();
  ctl.addService(KEY, { scheduler: "rr", persistence: 0, toa: false });
  ctl.addRealServer(KEY, { address: RS1, port: 80, weight: 1, method: "dr" });
  await refused(
    ctl,
    () => ctl.editService(KEY, { toa: true, clampMss: true }),
    /Service TCP 198\.51\.100\.10:80: TOA, MSS clamping apply to FULLNAT real servers only, and its real servers are all DR \(Route\), which see the client's own packets/,
  );
  // Turning them off, or leaving the defaults alone, is no request.
  ctl.editService(KEY, { toa: false, scheduler: "wrr" });
  // A sorry server counts: a DR sorry server alone is still all DR.
  const other = { ...KEY, port: 443 };
  assert.throws(
    () =>
      ctl.addService(other, {
        scheduler: "rr",
        persistence: 0,
        stripTimestamps: true,
        sorryServer: { address: RS2, port: 443, method: "dr" },
      }),
    /The service: timestamp stripping applies to FULLNAT real servers only/,
  );
  assert.equal(ctl.listServices().length, 1, "nothing added");
});

Deno.test("applyConfig() moves a service between FULLNAT and DR/TUNNEL both ways", async () => {
  const doc = (servers: [string, string][], laddrs: string[]) =>
    JSON.stringify({
      version: 1,
      services: [{
        ...KEY,
        scheduler: "rr",
        realServers: servers.map(([address, method]) => ({ address, port: 80, method })),
        localAddresses: laddrs,
      }],
    });
  const fullnat = doc([[RS1, "fullnat"], [RS2, "dr"]], [LADDR]);
  const direct = doc([[RS1, "tunnel"], [RS2, "dr"]], []);
  const ctl = control();
  const remote = localRemote(ctl);
  await applyConfig(remote, parseConfig(fullnat));
  const there = await applyConfig(remote, parseConfig(direct));
  assert.deepEqual(there.changes, [
    `- laddr ${LADDR} in tcp 198.51.100.10:80`,
    `~ rs ${RS1}:80 method fullnat -> tunnel in tcp 198.51.100.10:80`,
  ]);
  assert.equal(await snapshot(ctl), formatConfig(parseConfig(direct)));
  const back = await applyConfig(remote, parseConfig(fullnat));
  assert.deepEqual(back.changes, [
    `~ rs ${RS1}:80 method tunnel -> fullnat in tcp 198.51.100.10:80`,
    `+ laddr ${LADDR} in tcp 198.51.100.10:80`,
  ]);
  assert.equal(await snapshot(ctl), formatConfig(parseConfig(fullnat)));
});

Deno.test("checkOnFreshEngine() names the entry of a DR-only service's local address", () => {
  const doc = parseConfig(JSON.stringify({
    version: 1,
    services: [{
      ...KEY,
      realServers: [{ address: RS1, port: 80, method: "dr" }],
      localAddresses: [LADDR],
    }],
  }));
  const problems = checkOnFreshEngine(doc);
  assert.equal(problems.length, 1);
  assert.match(
    problems[0],
    /^services\[0\]\.localAddresses\[0\]: Service TCP 198\.51\.100\.10:80: local addresses are used by FULLNAT real servers only, and its real servers are all DR \(Route\)/,
  );
});
