/**
 * TUNNEL mode (ipvsadm `-i`) on the rows of testkit/engine_rows/tunnel.ts, byte by byte, each
 * packet then judged by the scapy oracle (inner checksums included), and the control plane's
 * refusals and counters around it.
 */
import assert from "node:assert/strict";
import {
  TUN_SRC,
  TUN_SRC6,
  TUNNEL_IPV4,
  TUNNEL_IPV6,
  TUNNEL_MTU_V4,
  TUNNEL_UDP_AND_DROPS,
} from "../../testkit/engine_rows/tunnel.ts";
import {
  GUE_PORT,
  TUNNEL_ENCAP_V6,
  TUNNEL_GRE_V4,
  TUNNEL_GUE_V4,
} from "../../testkit/engine_rows/tunnel_encap.ts";
import type { RealServerSpec } from "./service_spec.ts";
import { C, engineTest, RS, setup, tcp, VIP } from "../../testkit/engine_fixture.ts";
import { Verdict } from "../nfqueue/handler.ts";

engineTest(
  "Engine.handle() TUNNEL wraps client packets in IPIP and leaves replies alone",
  (run) => {
    const { engine, ctl } = run.scenario(TUNNEL_IPV4);
    const c = engine.counters;
    assert.equal(c.tunnelEncapsulated, 5);
    assert.equal(c.tunnelReplySeen, 1);
    assert.equal(c.toaInserted, 0, "no TOA in TUNNEL mode, though the service has TOA on");
    const [conn] = ctl.listConnections();
    assert.equal(conn.method, "tunnel");
    // Client-only state (IPVS's INPUT-ONLY table): the client's FIN leads to FIN_WAIT.
    assert.equal(conn.state, "FIN_WAIT");
    assert.equal(conn.local.address, conn.client.address, "no local address: the client's own");
    const [svc] = ctl.listServices();
    assert.equal(svc.realServers[0].method, "tunnel");
    assert.equal(svc.stats.inPackets, 5);
    assert.equal(svc.stats.outPackets, 0);
  },
);

engineTest("Engine.handle() TUNNEL answers fragmentation needed past the MTU (IPv4)", (run) => {
  const { engine } = run.scenario(TUNNEL_MTU_V4);
  assert.equal(engine.counters.tunnelFragNeeded, 1);
  assert.equal(engine.counters.tunnelEncapsulated, 2);
});

engineTest("Engine.handle() TUNNEL wraps IPv6 in IPv6, packet too big past the MTU", (run) => {
  const { engine } = run.scenario(TUNNEL_IPV6);
  assert.equal(engine.counters.tunnelFragNeeded, 1);
  assert.equal(engine.counters.tunnelEncapsulated, 2);
});

engineTest("Engine.handle() TUNNEL wraps UDP; drops GSO and sourceless families", (run) => {
  const { engine } = run.scenario(TUNNEL_UDP_AND_DROPS);
  assert.equal(engine.counters.tunnelGsoDropped, 1);
  assert.equal(engine.counters.tunnelNoSource, 1);
});

Deno.test("EngineControl refuses a TUNNEL server on another port than the service's", () => {
  const { ctl } = setup({ tunnelSources: [TUN_SRC] });
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  assert.throws(
    () => ctl.addRealServer(key, { address: RS, port: 8080, weight: 1, method: "tunnel" }),
    /port 8080 cannot be used with tunnelling \(tunnel\)/,
  );
  ctl.addRealServer(key, { address: RS, port: 8080, weight: 1, method: "fullnat" });
  assert.throws(
    () => ctl.editRealServer(key, { address: RS, port: 8080, method: "tunnel" }),
    /with tunnelling/,
  );
  assert.equal(ctl.listServices()[0].realServers[0].method, "fullnat", "nothing changed");
});

Deno.test("Engine refuses tunnel sources that are not one unicast address per family", () => {
  assert.throws(() => setup({ tunnelSources: ["nope"] }), /not a unicast IPv4 or IPv6/);
  assert.throws(() => setup({ tunnelSources: [TUN_SRC, "192.0.2.1"] }), /one per family/);
  assert.throws(() => setup({ tunnelSources: ["224.0.0.1"] }), /not a unicast/);
  const { engine } = setup({ tunnelSources: [TUN_SRC, TUN_SRC6] });
  assert.ok(engine.tunnelSource4 !== undefined && engine.tunnelSource6 !== undefined);
});

Deno.test("Engine.handle() TUNNEL drops a packet with no room for the outer header, counted", () => {
  const { engine, ctl } = setup({ tunnelSources: [TUN_SRC] });
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "tunnel" });
  const syn = tcp(C, VIP, 40000, 80, "S", 5).build();
  // The queue's buffer ends 10 bytes past the packet: the 20-byte IPIP header cannot fit.
  const buf = new Uint8Array(syn.length + 10);
  buf.set(syn);
  assert.equal(engine.handle(buf, 0, syn.length, buf.length), Verdict.Drop);
  assert.equal(engine.counters.tunnelNoRoom, 1);
  assert.equal(engine.counters.tunnelGsoDropped, 0, "not a GSO packet");
  assert.deepEqual(buf.subarray(0, syn.length), syn, "the packet is left as it was");
});

engineTest(
  "Engine.handle() TUNNEL gue: UDP to the tunnel port, GUE header, flow-stable source port",
  (run) => {
    const { engine, ctl } = run.scenario(TUNNEL_GUE_V4);
    assert.equal(engine.counters.tunnelEncapsulated, 4);
    const servers = ctl.listServices().map((s) => s.realServers[0]);
    assert.deepEqual(servers.map((r) => [r.tunnelType, r.tunnelPort, r.tunnelChecksum]), [
      ["gue", GUE_PORT, undefined],
      ["gue", GUE_PORT, true],
    ]);
  },
);

engineTest("Engine.handle() TUNNEL gre: protocol 47 with and without its checksum", (run) => {
  const { engine } = run.scenario(TUNNEL_GRE_V4);
  assert.equal(engine.counters.tunnelEncapsulated, 2);
});

engineTest("Engine.handle() TUNNEL gue and gre over IPv6; the MTU less their headers", (run) => {
  const { engine } = run.scenario(TUNNEL_ENCAP_V6);
  assert.equal(engine.counters.tunnelEncapsulated, 3);
  assert.equal(engine.counters.tunnelFragNeeded, 1);
});

Deno.test("EngineControl checks tunnel options as ipvsadm does, and an edit keeps or drops them", () => {
  const { ctl } = setup({ tunnelSources: [TUN_SRC] });
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  const rs = { address: RS, port: 80, weight: 1 };
  const refusals: [Partial<RealServerSpec>, RegExp][] = [
    [{ method: "fullnat", tunnelType: "gue" }, /apply to tunnel real servers only, not fullnat/],
    [{ method: "tunnel", tunnelType: "gue" }, /A gue tunnel needs its UDP port/],
    [{ method: "tunnel", tunnelPort: 6080 }, /An ipip tunnel takes no port/],
    [{ method: "tunnel", tunnelType: "gre", tunnelPort: 6080 }, /A gre tunnel takes no port/],
    [{ method: "tunnel", tunnelChecksum: true }, /An ipip tunnel has no checksum/],
    [
      { method: "tunnel", tunnelType: "vxlan" as "gre" },
      /Tunnel type vxlan is not ipip, gue or gre/,
    ],
    [
      { method: "tunnel", tunnelType: "gue", tunnelPort: 0 },
      /Tunnel port must be an integer from 1 to 65535/,
    ],
  ];
  for (const [extra, pattern] of refusals) {
    assert.throws(() => ctl.addRealServer(key, { ...rs, method: "tunnel", ...extra }), pattern);
  }
  assert.equal(ctl.listServices()[0].realServers.length, 0, "nothing added");
  ctl.addRealServer(key, { ...rs, method: "tunnel", tunnelType: "gue", tunnelPort: 6080 });
  const view = () => {
    const r = ctl.listServices()[0].realServers[0];
    return [r.method, r.tunnelType, r.tunnelPort, r.tunnelChecksum];
  };
  // Another option alone keeps the type and port.
  ctl.editRealServer(key, { address: RS, port: 80, tunnelChecksum: true });
  assert.deepEqual(view(), ["tunnel", "gue", 6080, true]);
  // Another type starts from its own defaults: gre takes no port.
  ctl.editRealServer(key, { address: RS, port: 80, tunnelType: "gre" });
  assert.deepEqual(view(), ["tunnel", "gre", undefined, undefined]);
  // Leaving tunnelling drops them.
  ctl.editRealServer(key, { address: RS, port: 80, method: "dr" });
  assert.deepEqual(view(), ["dr", undefined, undefined, undefined]);
  assert.throws(
    () => ctl.editRealServer(key, { address: RS, port: 80, tunnelChecksum: true }),
    /apply to tunnel real servers only, not dr/,
  );
});
