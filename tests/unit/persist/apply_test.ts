/**
 * Applying documents to a real engine: the round trip, refusals that change nothing, the
 * minimal difference that keeps untouched services' sessions, and rollback of a failed step.
 */
import assert from "node:assert/strict";
import { localRemote, type RemoteControl } from "../../../src/ctl/remote.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { ControlError } from "../../../src/fullnat/types.ts";
import { Verdict } from "../../../src/nfqueue/handler.ts";
import { applyConfig, checkOnFreshEngine, readRunning } from "../../../src/persist/apply.ts";
import {
  type ConfigDocument,
  ConfigInvalidError,
  formatConfig,
  parseConfig,
} from "../../../src/persist/document.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";

const A = { protocol: "tcp" as const, address: "198.51.100.10", port: 80 };
const B = { protocol: "tcp" as const, address: "198.51.100.11", port: 443 };

function engineTarget() {
  const engine = new Engine({ clock: () => 1_000, capacity: 64, localPortRange: [5000, 5100] });
  const ctl = new EngineControl(engine);
  return { engine, ctl, remote: localRemote(ctl) };
}

/** A configuration with two services, set up through the ordinary control calls. */
function configure(ctl: EngineControl): void {
  ctl.setTimeouts({ tcpEstablished: 900, udp: 60 });
  ctl.addService(A, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(A, { address: "203.0.113.11", port: 80, weight: 1, method: "fullnat" });
  ctl.addRealServer(A, { address: "203.0.113.12", port: 80, weight: 2, method: "nat" });
  ctl.addLocalAddress(A, "203.0.113.201");
  ctl.addService(B, { scheduler: "wrr", persistence: 300, toa: false, clampMss: false });
  ctl.addRealServer(B, { address: "203.0.113.13", port: 8443, weight: 5, method: "fullnat" });
  ctl.addLocalAddress(B, "203.0.113.202");
  ctl.addLocalAddress(B, "203.0.113.201");
}

/** Opens a TCP session from a client to `vip:vport` (a SYN through the engine). */
function connect(engine: Engine, vip: string, vport: number, sport: number): void {
  const syn = ipv4({ src: "198.51.100.2", dst: vip, ttl: 61 })
    .tcp({ sport, dport: vport, flags: "S", seq: 1, window: 29200 })
    .build();
  const buf = new Uint8Array(syn.length + 128);
  buf.set(syn);
  assert.equal(engine.handle(buf, 0, syn.length, buf.length), Verdict.Rewritten);
}

const exportText = async (r: RemoteControl) => formatConfig(await readRunning(r));

Deno.test("applyConfig() round trip: export, apply to a fresh engine, export gives identical bytes", async () => {
  const one = engineTarget();
  configure(one.ctl);
  const text = await exportText(one.remote);
  const two = engineTarget();
  const r = await applyConfig(two.remote, parseConfig(text));
  assert.equal(r.changes.length, 1 + 1 + 2 + 1 + 1 + 1 + 2, r.changes.join("\n"));
  assert.equal(await exportText(two.remote), text);
  // And the listing itself agrees, counters aside.
  assert.deepEqual(two.ctl.listServices(), one.ctl.listServices());
  assert.deepEqual(two.ctl.getTimeouts(), one.ctl.getTimeouts());
  // Applying the running configuration to itself changes nothing.
  assert.deepEqual((await applyConfig(one.remote, parseConfig(text))).changes, []);
});

Deno.test("applyConfig() words each change for people", async () => {
  const { remote } = engineTarget();
  const r = await applyConfig(
    remote,
    parseConfig(JSON.stringify({
      version: 1,
      timeouts: { tcpEstablished: 120 },
      services: [{
        ...A,
        scheduler: "wrr",
        persistence: 60,
        toa: false,
        realServers: [{ address: "203.0.113.11", port: 80, weight: 3 }],
        localAddresses: ["203.0.113.201"],
      }],
    })),
  );
  assert.deepEqual(r.changes, [
    "~ timeouts tcpEstablished 90 -> 120",
    "+ service tcp 198.51.100.10:80 wrr persistence 60 toa off",
    "+ rs 203.0.113.11:80 fullnat weight 3 in tcp 198.51.100.10:80",
    "+ laddr 203.0.113.201 in tcp 198.51.100.10:80",
  ]);
});

Deno.test("applyConfig() changes only what differs and keeps untouched services' sessions", async () => {
  const { engine, ctl, remote } = engineTarget();
  configure(ctl);
  connect(engine, A.address, A.port, 40000);
  connect(engine, A.address, A.port, 40001);
  connect(engine, B.address, B.port, 40002);
  const statsA = ctl.listServices()[0].stats;
  assert.equal(statsA.conns, 2);

  const doc = await readRunning(remote);
  const svcA = doc.services[0];
  const svcB = doc.services[1];
  svcB.realServers[0].weight = 7;
  svcB.realServers.push({ address: "203.0.113.14", port: 8443, weight: 1, method: "nat" });
  svcB.localAddresses = ["203.0.113.202", "203.0.113.203"];
  svcB.toa = true;
  const C = { ...svcA, address: "198.51.100.12", localAddresses: ["203.0.113.204"] };
  const next: ConfigDocument = { ...doc, services: [svcA, svcB, C] };

  const r = await applyConfig(remote, next);
  assert.deepEqual(r.changes, [
    "~ service tcp 198.51.100.11:443 toa off -> on",
    "+ laddr 203.0.113.203 in tcp 198.51.100.11:443",
    "~ rs 203.0.113.13:8443 weight 5 -> 7 in tcp 198.51.100.11:443",
    "+ rs 203.0.113.14:8443 nat weight 1 in tcp 198.51.100.11:443",
    "- laddr 203.0.113.201 in tcp 198.51.100.11:443",
    "+ service tcp 198.51.100.12:80 rr",
    "+ rs 203.0.113.11:80 fullnat weight 1 in tcp 198.51.100.12:80",
    "+ rs 203.0.113.12:80 nat weight 2 in tcp 198.51.100.12:80",
    "+ laddr 203.0.113.204 in tcp 198.51.100.12:80",
  ]);
  // Every session survived, service A's counters were not reset, and B's session still runs
  // (B is persistent: its client's template is listed beside the sessions, as IPVS lists it).
  assert.equal(ctl.listConnections().filter((c) => !c.template).length, 3);
  assert.equal(ctl.listConnections().filter((c) => c.template).length, 1);
  assert.deepEqual(ctl.listServices()[0].stats, statsA);
  assert.equal(
    ctl.listConnections().filter((c) => !c.template && c.virtual.address === B.address).length,
    1,
  );
  assert.equal(await exportText(remote), formatConfig(next));

  // Dropping service B removes it from the configuration; like IPVS, its established
  // session lives on until it ends, and so do A's.
  const r2 = await applyConfig(remote, { ...next, services: [svcA, C] });
  assert.deepEqual(r2.changes, ["- service tcp 198.51.100.11:443"]);
  assert.equal(ctl.listServices().some((s) => s.address === B.address), false);
  assert.equal(ctl.listConnections().length, 3);
});

Deno.test("applyConfig() refuses what the engine would refuse, with paths, and changes nothing", async () => {
  const { ctl, remote } = engineTarget();
  configure(ctl);
  const before = await exportText(remote);
  const doc = await readRunning(remote);
  // Hand-built (not through validateConfig), so only the fresh-engine check stands guard.
  doc.services[0].realServers[1].weight = 70000;
  doc.services[1].localAddresses.push("0.0.0.0");
  doc.services.push({ ...doc.services[0], scheduler: "sed" as "rr" });
  doc.services[0].realServers.push({ address: "203.0.113.99", port: 80, weight: 1, method: "nat" });
  await assert.rejects(() => applyConfig(remote, doc), (e: unknown) => {
    assert.ok(e instanceof ConfigInvalidError);
    assert.equal(e.code, "invalid-argument");
    assert.deepEqual(e.problems.map((p) => p.replace(/: .*/, "")), [
      "services[0].realServers[1]",
      "services[1].localAddresses[2]",
      "services[2]",
    ]);
    assert.match(e.problems[0], /Weight must be an integer from 0 to 65535 \(got 70000\)/);
    return true;
  });
  assert.equal(await exportText(remote), before);
  assert.deepEqual(checkOnFreshEngine(await readRunning(remote)), []);
});

Deno.test("applyConfig() dry run reports the changes and applies none", async () => {
  const { ctl, remote } = engineTarget();
  configure(ctl);
  const before = await exportText(remote);
  const doc = await readRunning(remote);
  doc.services.pop();
  const r = await applyConfig(remote, doc, { dryRun: true });
  assert.deepEqual(r.changes, ["- service tcp 198.51.100.11:443"]);
  assert.equal(await exportText(remote), before);
});

Deno.test("applyConfig() rolls back the steps already made when a later one fails", async () => {
  const { ctl, remote } = engineTarget();
  configure(ctl);
  const before = await exportText(remote);
  let adds = 0;
  // Fails the second real-server add, as a diversion update that iptables refused would.
  const failing: RemoteControl = {
    ...remote,
    addRealServer: (...args) => {
      if (++adds === 2) return Promise.reject(new ControlError("unsupported", "iptables said no"));
      return remote.addRealServer(...args);
    },
  };
  const doc = await readRunning(remote);
  doc.timeouts.udp = 30;
  doc.services.shift();
  doc.services.push({ ...doc.services[0], address: "198.51.100.20" });
  doc.services.push({ ...doc.services[0], address: "198.51.100.21" });
  await assert.rejects(
    () => applyConfig(failing, doc),
    /failed at "\+ rs 203\.0\.113\.13:8443 fullnat weight 5 in tcp 198\.51\.100\.21:443": iptables said no\. Rolled back/,
  );
  assert.equal(await exportText(remote), before);
});

Deno.test("applyConfig() carries IPv6 services, refuses mixed families, and names endpoints in brackets", async () => {
  const { ctl, remote } = engineTarget();
  const v6 = { protocol: "udp" as const, address: "2001:db8:a::10", port: 53 };
  ctl.addService(v6, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(v6, { address: "2001:db8:b::11", port: 53, weight: 1, method: "fullnat" });
  ctl.addLocalAddress(v6, "2001:db8:b::201");
  const text = await exportText(remote);
  const fresh = engineTarget();
  // Written by hand in a longer spelling: the document keeps the canonical form.
  const doc = parseConfig(text.replace("2001:db8:b::11", "2001:0DB8:b:0:0:0:0:11"));
  const r = await applyConfig(fresh.remote, doc);
  assert.deepEqual(r.changes, [
    "+ service udp [2001:db8:a::10]:53 rr",
    "+ rs [2001:db8:b::11]:53 fullnat weight 1 in udp [2001:db8:a::10]:53",
    "+ laddr 2001:db8:b::201 in udp [2001:db8:a::10]:53",
  ]);
  assert.equal(await exportText(fresh.remote), text);
  const mixed = parseConfig(text.replace("2001:db8:b::201", "203.0.113.201"));
  await assert.rejects(
    () => applyConfig(fresh.remote, { ...mixed, services: [{ ...mixed.services[0], port: 54 }] }),
    /is IPv4 but the service is IPv6/,
  );
  assert.equal(await exportText(fresh.remote), text, "the refused document changed nothing");
});

Deno.test("applyConfig(): a persistence mask and a tunable are changes of their own, and export reproduces them", async () => {
  const { ctl, remote } = engineTarget();
  configure(ctl);
  const doc = await readRunning(remote);
  doc.services[1].persistenceMask = 24;
  doc.tunables = { ...doc.tunables, expireQuiescentTemplate: true };
  const r = await applyConfig(remote, doc);
  assert.deepEqual(r.changes, [
    "~ tunables expireQuiescentTemplate off -> on",
    "~ service tcp 198.51.100.11:443 persistenceMask 32 -> 24",
  ]);
  assert.deepEqual(ctl.getTunables(), { expireNodestConn: false, expireQuiescentTemplate: true });
  assert.equal(ctl.listServices()[1].persistenceMask, 24);
  assert.equal(await exportText(remote), formatConfig(doc));
  // A new service with a mask says so.
  const added = await applyConfig(remote, {
    ...doc,
    services: [...doc.services, { ...doc.services[1], port: 8443, localAddresses: [] }],
  }, { dryRun: true });
  assert.equal(
    added.changes[0],
    "+ service tcp 198.51.100.11:8443 wrr persistence 300 mask /24 toa off clampMss off",
  );
  // A mask the family cannot have is refused before anything changes.
  await assert.rejects(
    applyConfig(remote, {
      ...doc,
      services: [doc.services[0], { ...doc.services[1], persistenceMask: 64 }],
    }),
    /services\[1\]: Persistence mask must be a prefix length from 0 to 32/,
  );
  assert.equal(ctl.listServices()[1].persistenceMask, 24);
});
