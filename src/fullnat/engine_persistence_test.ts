/**
 * Persistence templates (docs/design.md section 2, seed 5.1) on the rows of
 * testkit/engine_rows/persistence.ts: each SYN's expected bytes name the real server it must
 * reach; the listing, the per-server template counts and the counters are checked here.
 */
import assert from "node:assert/strict";
import {
  C6_XOR_A,
  C6_XOR_B,
  PERSISTENT_CLIENT,
  PERSISTENT_DELETED,
  PERSISTENT_EXPIRY,
  PERSISTENT_LINGER,
  PERSISTENT_MASK_V4,
  PERSISTENT_MASK_V6,
  PERSISTENT_QUIESCED,
  PERSISTENT_V6_NO_COLLISION,
  persistentKey,
  RS6_2,
} from "../../testkit/engine_rows/persistence.ts";
import { C, engineTest, RS, RS2, RS6, setup, VIP, VIP6 } from "../../testkit/engine_fixture.ts";
import type { EngineControl } from "./control.ts";
import { TEMPLATE_LINGER_MS } from "./persistence.ts";
import { parseIpv6 } from "../wire/ipv6.ts";

/** The templates listed among the connections, as `client:port -> real:port` lines. */
function templates(ctl: EngineControl): string[] {
  return ctl.listConnections().filter((c) => c.template).map((c) =>
    `${c.client.address}:${c.client.port} -> ${c.real.address}:${c.real.port}`
  ).sort();
}

/** Templates per real server of the first service, as listed (`persistConns`). */
function persistConns(ctl: EngineControl): Record<string, number | undefined> {
  return Object.fromEntries(
    ctl.listServices()[0].realServers.map((r) => [r.address, r.persistConns]),
  );
}

engineTest("Engine: persistence sends a client back to the same real server", (run) => {
  const { ctl } = run.scenario(PERSISTENT_CLIENT);
  const byClient = ctl.listConnections().filter((c) => !c.template)
    .map((c) => `${c.client.address} ${c.real.address}`);
  assert.deepEqual(new Set(byClient), new Set([`${C} ${RS}`, `198.51.100.3 ${RS2}`]));
  assert.deepEqual(templates(ctl), [`${C}:0 -> ${RS}:80`, `198.51.100.3:0 -> ${RS2}:80`]);
});

engineTest(
  "Engine: two IPv6 clients whose words XOR alike get a template each (no collision)",
  (run) => {
    // The precondition: the old key (the XOR of the four words) is the same for both.
    const xor = (a: string) => parseIpv6(a)!.reduce((x, w) => x ^ w, 0);
    assert.equal(xor(C6_XOR_A), xor(C6_XOR_B));
    const { ctl, engine } = run.scenario(PERSISTENT_V6_NO_COLLISION);
    assert.deepEqual(templates(ctl), [
      `${C6_XOR_A}:0 -> ${RS6}:80`,
      `${C6_XOR_B}:0 -> ${RS6_2}:80`,
    ]);
    assert.deepEqual(persistConns(ctl), { [RS6]: 1, [RS6_2]: 1 });
    assert.equal(engine.counters.templatesCreated, 2);
    assert.equal(engine.counters.templatesReused, 2);
  },
);

engineTest(
  "Engine: -M 255.255.255.0 keeps one template per /24, listed as IPVS lists it",
  (run) => {
    const { ctl, engine } = run.scenario(PERSISTENT_MASK_V4);
    assert.deepEqual(templates(ctl), [`198.51.100.0:0 -> ${RS}:80`, `198.51.101.0:0 -> ${RS2}:80`]);
    assert.deepEqual(persistConns(ctl), { [RS]: 1, [RS2]: 1 });
    assert.equal(engine.counters.templatesCreated, 2);
    assert.equal(engine.counters.templatesReused, 3);
    assert.deepEqual(ctl.listConnections().find((c) => c.template), {
      protocol: "tcp",
      method: "nat",
      state: "NONE",
      expiresInMs: 300_000,
      client: { address: "198.51.100.0", port: 0 },
      virtual: { address: VIP, port: 80 },
      local: { address: "0.0.0.0", port: 0 },
      real: { address: RS, port: 80 },
      template: true,
    });
    assert.equal(ctl.listServices()[0].persistenceMask, 24);
    // Sessions are still listed one per connection, with their real client.
    assert.equal(ctl.listConnections().filter((c) => !c.template).length, 5);
  },
);

engineTest("Engine: -M 64 keeps one template per IPv6 /64", (run) => {
  const { ctl } = run.scenario(PERSISTENT_MASK_V6);
  assert.deepEqual(templates(ctl), [
    `2001:db8:a:1:::0 -> ${RS6_2}:80`,
    `2001:db8:a:::0 -> ${RS6}:80`,
  ]);
  const t = ctl.listConnections().find((c) => c.template)!;
  assert.equal(t.local.address, "::");
  assert.equal(t.virtual.address, VIP6);
});

engineTest(
  "Engine: a quiesced server keeps its persistent clients unless expireQuiescentTemplate",
  (run) => {
    const { ctl, engine } = run.scenario(PERSISTENT_QUIESCED);
    assert.equal(engine.counters.templatesInvalidated, 1);
    assert.deepEqual(templates(ctl), [`${C}:0 -> ${RS2}:80`, `198.51.100.3:0 -> ${RS2}:80`]);
    assert.deepEqual(persistConns(ctl), { [RS]: 0, [RS2]: 2 });
    assert.deepEqual(ctl.getTunables(), { expireNodestConn: false, expireQuiescentTemplate: true });
  },
);

engineTest("Engine: a deleted real server's template is replaced by a fresh choice", (run) => {
  const { ctl, engine } = run.scenario(PERSISTENT_DELETED);
  assert.equal(engine.counters.templatesInvalidated, 1);
  assert.deepEqual(templates(ctl), [`${C}:0 -> ${RS2}:80`]);
});

engineTest("Engine: a template expires after its timeout, renewed by each use", (run) => {
  const { ctl, engine } = run.scenario(PERSISTENT_EXPIRY);
  assert.equal(engine.counters.templatesCreated, 2);
  assert.equal(engine.counters.templatesReused, 2);
  assert.equal(engine.counters.templatesExpired, 1);
  assert.deepEqual(templates(ctl), [`${C}:0 -> ${RS2}:80`]);
  assert.equal(ctl.listConnections().find((c) => c.template)!.expiresInMs, 60_000);
});

engineTest(
  "Engine: a template lives on, 60 s at a time, while a session it placed is open",
  (run) => {
    const fx = setup();
    PERSISTENT_LINGER.configure(fx.ctl);
    const rows = PERSISTENT_LINGER.rows(fx.clock.ms);
    run.rows(fx, rows.slice(0, 3));
    // Its 10 s are up; the ESTABLISHED session it placed is not: the scan keeps it 60 s more.
    fx.clock.ms += 11_000;
    fx.engine.expire();
    const t = fx.ctl.listConnections().find((c) => c.template)!;
    assert.equal(t.expiresInMs, TEMPLATE_LINGER_MS);
    assert.equal(fx.engine.counters.templatesExpired, 0);
    // 11 s more (22 s in): still held; then 200 s on, sessions and template are gone.
    run.rows(fx, rows.slice(3));
    assert.equal(fx.engine.counters.templatesExpired, 1);
    assert.deepEqual(templates(fx.ctl), [`${C}:0 -> ${RS2}:80`]);
  },
);

engineTest("Engine: switching persistence off or changing -M forgets the templates", (run) => {
  const fx = run.scenario(PERSISTENT_MASK_V4);
  const key = persistentKey();
  fx.ctl.editService(key, { persistence: 600 });
  assert.equal(templates(fx.ctl).length, 2, "a new timeout keeps them");
  fx.ctl.editService(key, { persistenceMask: 16 });
  assert.deepEqual(templates(fx.ctl), []);
  assert.deepEqual(persistConns(fx.ctl), { [RS]: 0, [RS2]: 0 });
  assert.throws(
    () => fx.ctl.editService(key, { persistenceMask: 33 }),
    /Persistence mask must be a prefix length from 0 to 32 for an IPv4 service \(got 33\)/,
  );
  assert.throws(
    () =>
      fx.ctl.addService({ ...key, port: 81 }, {
        scheduler: "rr",
        persistence: 1,
        persistenceMask: -1,
      }),
    /from 0 to 32/,
  );
  assert.equal(fx.ctl.listServices().length, 1, "a refused add adds nothing");
  fx.ctl.deleteService(key);
  assert.deepEqual(templates(fx.ctl), [], "a deleted service lists no templates");
});

engineTest("Engine: tunables are refused unless known and true or false", () => {
  const { ctl } = setup();
  assert.throws(() => ctl.setTunables({ expireNothing: true } as never), /Unknown tunable/);
  assert.throws(
    () => ctl.setTunables({ expireQuiescentTemplate: 1 } as never),
    /must be true or false/,
  );
  assert.deepEqual(ctl.getTunables(), { expireNodestConn: false, expireQuiescentTemplate: false });
});
