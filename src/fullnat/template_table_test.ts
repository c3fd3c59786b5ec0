/**
 * The template table against a Map model: random inserts, finds, removals, sweeps and
 * compactions (through growth and shrinking, with keys that differ in one word only), and the
 * real servers' template counts it keeps.
 */
import assert from "node:assert/strict";
import { RealServer, Service } from "./service.ts";
import { TemplateTable } from "./template_table.ts";
import { seeded } from "../../testkit/scheduler_clients.ts";

const svc = new Service(0, { protocol: "tcp", address: "2001:db8::1", port: 80 }, 6, 0, "rr", 300);
const servers = [0, 1, 2].map((i) =>
  new RealServer(i, svc, 0, `2001:db8:b::${i + 1}`, 80, 1, "fullnat")
);

/** Keys alike but for one word, so probes and backward shifts get exercised. */
function keyOf(n: number): Uint32Array {
  return Uint32Array.of(0x20010db8, 0, n % 7 === 0 ? n : 0, n);
}

Deno.test("TemplateTable agrees with a Map through growth, removals, sweeps and shrinking", () => {
  const table = new TemplateTable();
  const model = new Map<number, { rs: RealServer; expires: number }>();
  const next = seeded(7);
  const check = () => {
    assert.equal(table.size, model.size);
    for (const [n, want] of model) {
      const slot = table.find(keyOf(n), 0);
      assert.ok(slot >= 0, `key ${n} found`);
      assert.equal(table.server(slot), want.rs);
      assert.equal(table.expires(slot), want.expires);
      for (let i = 0; i < 4; i++) assert.equal(table.keyWord(slot, i), keyOf(n)[i]);
    }
    const counts = servers.map((rs) => [...model.values()].filter((v) => v.rs === rs).length);
    assert.deepEqual(servers.map((rs) => rs.persistConns), counts, "persistConns");
  };
  for (let round = 0; round < 40; round++) {
    // Grow: up to 3,000 keys at a time.
    for (let i = 0; i < 150; i++) {
      const n = next() % 3000;
      const k = keyOf(n);
      const slot = table.find(k, 0);
      if (slot >= 0) {
        assert.ok(model.has(n));
        continue;
      }
      assert.ok(!model.has(n), `key ${n} missing`);
      const rs = servers[next() % servers.length];
      const expires = next() % 1000;
      // The array is fetched after the insert, which may have grown the table.
      const at = table.insert(k, 0, rs);
      table.expiry[at] = expires;
      model.set(n, { rs, expires });
    }
    check();
    // Remove some by key.
    for (let i = 0; i < 40; i++) {
      const n = next() % 3000;
      const slot = table.find(keyOf(n), 0);
      assert.equal(slot >= 0, model.has(n));
      if (slot >= 0) {
        table.remove(slot);
        model.delete(n);
      }
    }
    check();
    // Sweep away everything that expires by a moving "now", then shrink.
    const now = round * 25;
    const removed = table.sweep((slot) => table.expires(slot) <= now);
    let want = 0;
    for (const [n, v] of model) {
      if (v.expires <= now) {
        model.delete(n);
        want++;
      }
    }
    assert.equal(removed, want);
    table.compact();
    check();
  }
  assert.ok(model.size > 0);
  table.clear();
  model.clear();
  check();
  assert.equal(table.slots, 16, "an empty table shrinks back to 16 slots");
});

Deno.test("TemplateTable: rebind moves a template's count; controls never go below zero", () => {
  const table = new TemplateTable();
  const [a, b] = servers;
  const before = [a.persistConns, b.persistConns];
  const slot = table.insert(keyOf(1), 0, a);
  table.control(slot, 1);
  table.control(slot, 1);
  assert.equal(table.controls(slot), 2);
  table.rebind(slot, b);
  assert.equal(table.server(slot), b);
  assert.equal(table.controls(slot), 0, "the new server has no session of it yet");
  table.control(slot, -1);
  assert.equal(table.controls(slot), 0);
  assert.deepEqual([a.persistConns, b.persistConns], [before[0], before[1] + 1]);
  table.remove(slot);
  assert.deepEqual([a.persistConns, b.persistConns], before);
  assert.equal(table.find(keyOf(1), 0), -1);
});
