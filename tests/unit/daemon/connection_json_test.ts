import assert from "node:assert/strict";
import { ConnectionJsonWriter, encodeConnectionPage } from "../../../src/daemon/connection_json.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import type { ConnectionView } from "../../../src/fullnat/types.ts";
import { Verdict } from "../../../src/nfqueue/handler.ts";
import { ipv4, ipv6 } from "../../../testkit/packet_builder.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const row = (over: Partial<ConnectionView> = {}): ConnectionView => ({
  protocol: "tcp",
  method: "fullnat",
  state: "ESTABLISHED",
  expiresInMs: 899_999,
  client: { address: "198.51.100.7", port: 40000 },
  virtual: { address: "192.0.2.10", port: 80 },
  local: { address: "2001:db8:b::201", port: 5000 },
  real: { address: "203.0.113.11", port: 8080 },
  ...over,
});

Deno.test("ConnectionJsonWriter writes each row exactly as JSON.stringify does", () => {
  const rows = [
    row(),
    row({ protocol: "udp", method: "nat", state: "UDP", expiresInMs: 0 }),
    // Nothing the engine lists needs escaping, but the writer must not break if it did.
    row({ state: 'odd "state"\\\n é', expiresInMs: 1.5 }),
    row({ expiresInMs: Number.MAX_SAFE_INTEGER }),
    // A persistence template: the one row with a `template` field.
    row({
      state: "NONE",
      client: { address: "198.51.100.0", port: 0 },
      local: { address: "0.0.0.0", port: 0 },
      template: true,
    }),
    // A session the kernel's conntrack carries (--offload established).
    row({ offloaded: true }),
  ];
  const writer = new ConnectionJsonWriter(16);
  for (const r of rows) writer.row(r);
  assert.equal(decode(writer.take()), rows.map((r) => JSON.stringify(r)).join(","));
  // take() starts afresh: no leading comma, no earlier rows.
  writer.row(rows[0]);
  assert.equal(decode(writer.take()), JSON.stringify(rows[0]));
  assert.equal(writer.take().length, 0);
});

Deno.test("encodeConnectionPage() pages an engine's IPv4 and IPv6 sessions and templates as listConnections() lists them", () => {
  const control = new EngineControl(
    new Engine({ clock: () => 0, localPortRange: [5000, 5999] }),
  );
  const v4 = { protocol: "tcp" as const, address: "192.0.2.10", port: 80 };
  const v6 = { protocol: "tcp" as const, address: "2001:db8:a::10", port: 80 };
  // Persistent: the five IPv4 clients share one template (one /24), the IPv6 ones have one each.
  control.addService(v4, { scheduler: "rr", persistence: 300, persistenceMask: 24 });
  control.addRealServer(v4, { address: "203.0.113.11", port: 8080, weight: 1, method: "fullnat" });
  control.addLocalAddress(v4, "203.0.114.1");
  control.addService(v6, { scheduler: "rr", persistence: 300 });
  control.addRealServer(v6, {
    address: "2001:db8:b::11",
    port: 8080,
    weight: 1,
    method: "fullnat",
  });
  control.addLocalAddress(v6, "2001:db8:b::201");
  const buf = new Uint8Array(256);
  for (let i = 0; i < 5; i++) {
    const v4syn = ipv4({ src: `198.51.100.${i + 1}`, dst: v4.address, ttl: 61 })
      .tcp({ sport: 40000 + i, dport: 80, flags: "S", seq: 1, window: 29200 }).build();
    const v6syn = ipv6({ src: `2001:db8:a::${i + 100}`, dst: v6.address, hopLimit: 61 })
      .tcp({ sport: 40000 + i, dport: 80, flags: "S", seq: 1, window: 29200 }).build();
    for (const syn of [v4syn, v6syn]) {
      buf.set(syn);
      assert.equal(control.engine.handle(buf, 0, syn.length, buf.length), Verdict.Rewritten);
    }
  }
  const writer = new ConnectionJsonWriter();
  const pages: string[] = [];
  let cursor: number | null = 0;
  while (cursor !== null) {
    const page = encodeConnectionPage(control, writer, cursor, 3);
    assert.ok(page.rows <= 3);
    if (page.rows > 0) pages.push(decode(page.json));
    cursor = page.next;
  }
  assert.deepEqual(JSON.parse(`[${pages.join(",")}]`), control.listConnections());
  const all = control.listConnections();
  assert.equal(all.filter((c) => !c.template).length, 10);
  assert.deepEqual(
    all.filter((c) => c.template).map((c) => `${c.client.address}:${c.client.port} ${c.state}`)
      .sort(),
    [
      "198.51.100.0:0 NONE",
      ...[100, 101, 102, 103, 104].map((i) => `2001:db8:a::${i}:0 NONE`),
    ].sort(),
  );
});
