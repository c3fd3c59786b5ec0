/**
 * Issue 18 point 3 in the engine, on crafted packets: per-server connection thresholds
 * (overload set and lifted at IPVS's counts, every scheduler passing an overloaded server
 * over), per-service timeouts (expiry at the service's own time on the engine's clock),
 * one-packet UDP sessions (no session or port kept once answered, the reply still
 * translated), `expireNodestConn`, and the end of a drain (`endServerSessions`).
 */
import assert from "node:assert/strict";
import {
  C,
  engineTest,
  type Fixture,
  LIP,
  RS,
  RS2,
  RS_PORT,
  setup,
  tcp,
  VIP,
} from "../../testkit/engine_fixture.ts";
import { ipv4 } from "../../testkit/packet_builder.ts";
import { get16, get32 } from "../wire/bytes.ts";
import { Verdict } from "../nfqueue/handler.ts";
import type { SchedulerName } from "../vocab/mod.ts";
import { OPS_REPLY_WINDOW_MS } from "./service.ts";

const key = (protocol: "tcp" | "udp", port: number) => ({ protocol, address: VIP, port });

/** A service with RS and RS2 (weight 1 each) and one local address. */
function twoServers(fx: Fixture, protocol: "tcp" | "udp", scheduler: SchedulerName, port = 80) {
  const k = key(protocol, port);
  fx.ctl.addService(k, { scheduler, persistence: 0 });
  for (const a of [RS, RS2]) {
    fx.ctl.addRealServer(k, { address: a, port: RS_PORT, weight: 1, method: "fullnat" });
  }
  fx.ctl.addLocalAddress(k, LIP);
  return k;
}

/** What the engine made of one packet: verdict, and the rewritten bytes when rewritten. */
function send(fx: Fixture, pkt: Uint8Array): { verdict: Verdict; out: Uint8Array } {
  const buf = new Uint8Array(pkt.length + 128);
  buf.set(pkt);
  const verdict = fx.engine.handle(buf, 0, pkt.length, buf.length);
  return { verdict, out: buf.slice(0, verdict === Verdict.Rewritten ? fx.engine.outLength : 0) };
}

const dst = (p: Uint8Array) => [p[16], p[17], p[18], p[19]].join(".");
const src = (p: Uint8Array) => [p[12], p[13], p[14], p[15]].join(".");

/** A client SYN from port `cport`; returns the real server it went to (or undefined). */
function syn(fx: Fixture, cport: number, port = 80): string | undefined {
  const r = send(fx, tcp(C, VIP, cport, port, "S", 1000).build());
  return r.verdict === Verdict.Rewritten && dst(r.out) !== C ? dst(r.out) : undefined;
}

const udpPkt = (s: string, d: string, sport: number, dport: number) =>
  ipv4({ src: s, dst: d, ttl: 64 }).udp({ sport, dport }).payload("query?").build();

function server(fx: Fixture, k: ReturnType<typeof key>, address: string) {
  const svc = fx.ctl.listServices().find((s) => s.port === k.port && s.protocol === k.protocol)!;
  return svc.realServers.find((r) => r.address === address)!;
}

Deno.test("thresholds: overloaded at the upper count, passed over, lifted under the lower", () => {
  const fx = setup({ capacity: 64, localPortRange: [5000, 5063] });
  const k = twoServers(fx, "tcp", "rr");
  fx.ctl.editRealServer(k, { address: RS, port: RS_PORT, upperThreshold: 3, lowerThreshold: 2 });
  const to = [];
  for (let i = 0; i < 8; i++) to.push(syn(fx, 40000 + i));
  // rr alternates until RS holds 3 sessions; from then on RS2 takes every new one.
  assert.deepEqual(to, [RS, RS2, RS, RS2, RS, RS2, RS2, RS2]);
  assert.equal(server(fx, k, RS).overloaded, true);
  const c = fx.engine.counters;
  assert.deepEqual([c.overloads, c.overloadRedirected, c.overloadRefused], [1, 3, 0]);

  // Ending RS's sessions one by one: still overloaded at 2 (not below the lower threshold 2).
  assert.equal(sessionsOf(fx, RS).length, 3);
  fx.engine.removeSession(sessionsOf(fx, RS)[0]);
  assert.equal(server(fx, k, RS).overloaded, true, "2 sessions: not below 2");
  fx.engine.removeSession(sessionsOf(fx, RS)[0]);
  assert.equal(server(fx, k, RS).overloaded, false, "1 session: below 2, lifted");
  assert.deepEqual([syn(fx, 41000), syn(fx, 41001)], [RS, RS2], "RS takes new sessions again");
});

/** The session ids of real server `address`. */
function sessionsOf(fx: Fixture, address: string): number[] {
  const t = fx.engine.table;
  const out: number[] = [];
  for (let id = 0; id < t.highWater; id++) {
    if (t.live(id) && fx.engine.registry.servers[t.server[id]]!.address === address) out.push(id);
  }
  return out;
}

Deno.test("thresholds: with no lower threshold the mark lifts under 3/4 of the upper one", () => {
  const fx = setup({ capacity: 64, localPortRange: [5000, 5063] });
  const k = twoServers(fx, "tcp", "rr");
  fx.ctl.editRealServer(k, { address: RS, port: RS_PORT, upperThreshold: 4 });
  for (let i = 0; i < 8; i++) syn(fx, 40000 + i);
  assert.equal(server(fx, k, RS).inactiveConns, 4);
  assert.equal(server(fx, k, RS).overloaded, true);
  fx.engine.removeSession(sessionsOf(fx, RS)[0]);
  assert.equal(server(fx, k, RS).overloaded, true, "3 * 4 = 12 is not below 4 * 3");
  fx.engine.removeSession(sessionsOf(fx, RS)[0]);
  assert.equal(server(fx, k, RS).overloaded, false, "2 * 4 < 12");
  // Raising the upper threshold lifts an overload at once, as IPVS's __ip_vs_update_dest.
  for (let i = 0; i < 4; i++) syn(fx, 42000 + i);
  assert.equal(server(fx, k, RS).overloaded, true);
  fx.ctl.editRealServer(k, { address: RS, port: RS_PORT, upperThreshold: 10 });
  assert.equal(server(fx, k, RS).overloaded, false);
});

Deno.test("thresholds: every scheduler passes an overloaded server over; hashed ones refuse without fallback", () => {
  for (const scheduler of ["rr", "wrr", "lc", "wlc", "sh", "dh", "mh"] as const) {
    // The server this scheduler picks first, found on an engine of its own.
    const probe = setup();
    twoServers(probe, "tcp", scheduler);
    const first = syn(probe, 40000)!;
    const other = first === RS ? RS2 : RS;

    const fx = setup({ capacity: 64, localPortRange: [5000, 5063] });
    const k = twoServers(fx, "tcp", scheduler);
    fx.ctl.editRealServer(k, { address: first, port: RS_PORT, upperThreshold: 1 });
    assert.equal(syn(fx, 40000), first, scheduler);
    assert.equal(server(fx, k, first).overloaded, true, `${scheduler}: 1 of 1`);
    const hashed = scheduler === "sh" || scheduler === "dh" || scheduler === "mh";
    for (let i = 1; i <= 4; i++) {
      // The same client (and VIP) hashes to the same server: refused without fallback.
      assert.equal(syn(fx, 40000 + i), hashed ? undefined : other, `${scheduler} ${i}`);
    }
    assert.equal(server(fx, k, first).inactiveConns, 1, `${scheduler}: held at 1`);
    const c = fx.engine.counters;
    assert.deepEqual(
      [c.overloadRefused, c.overloadRedirected],
      hashed ? [4, 0] : [0, 4],
      scheduler,
    );
    if (scheduler === "dh") continue;
    if (hashed) {
      fx.ctl.editService(k, { schedulerFlags: [`${scheduler}-fallback`] });
      assert.equal(syn(fx, 40010), other, `${scheduler}-fallback: elsewhere`);
    }
  }
});

Deno.test("thresholds are split between the engines of a daemon (thresholdShares)", () => {
  const fx = setup({ thresholdShares: 2, capacity: 64, localPortRange: [5000, 5063] });
  const k = twoServers(fx, "tcp", "rr");
  fx.ctl.editRealServer(k, { address: RS, port: RS_PORT, upperThreshold: 5, lowerThreshold: 3 });
  const to = [];
  for (let i = 0; i < 8; i++) to.push(syn(fx, 40000 + i));
  // This engine's share of 5 is 3.
  assert.equal(to.filter((a) => a === RS).length, 3);
  // Listed as configured.
  assert.deepEqual(
    [server(fx, k, RS).upperThreshold, server(fx, k, RS).lowerThreshold],
    [5, 3],
  );
  assert.throws(
    () => fx.ctl.editRealServer(k, { address: RS, port: RS_PORT, lowerThreshold: 6 }),
    /Lower threshold 6 is higher than upper threshold 5/,
  );
  assert.throws(
    () => fx.ctl.editRealServer(k, { address: RS, port: RS_PORT, upperThreshold: -1 }),
    /Upper threshold must be an integer from 0 to 2147483647/,
  );
});

Deno.test("per-service timeouts: a TCP service's own ESTABLISHED time, on the engine's clock", () => {
  const fx = setup();
  const k = twoServers(fx, "tcp", "rr");
  fx.ctl.editService(k, { timeouts: { tcpEstablished: 900 } });
  twoServers(fx, "tcp", "rr", 81);
  const open = (port: number, cport: number) => {
    const s = send(fx, tcp(C, VIP, cport, port, "S", 1000).build()).out;
    const lport = get16(s, 20);
    const rs = dst(s);
    send(fx, tcp(rs, LIP, RS_PORT, lport, "SA", 5000, 1001).build());
    send(fx, tcp(C, VIP, cport, port, "A", 1001, 5001).build());
  };
  open(80, 40000);
  open(81, 40001);
  const states = () => fx.ctl.listConnections().map((x) => [x.virtual.port, x.state]);
  assert.deepEqual(states(), [[80, "ESTABLISHED"], [81, "ESTABLISHED"]]);
  assert.equal(fx.ctl.listConnections()[0].expiresInMs, 900_000);
  assert.equal(fx.ctl.listConnections()[1].expiresInMs, 90_000, "the global 90 s");
  fx.clock.ms += 91_000;
  assert.equal(fx.engine.expire(), 1);
  assert.deepEqual(states(), [[80, "ESTABLISHED"]]);
  fx.clock.ms += 900_000 - 91_000;
  assert.equal(fx.engine.expire(), 1, "at its own 900 s");
  // The global timeouts apply to what the service does not set itself.
  fx.ctl.setTimeouts({ tcpEstablished: 120, tcpSynRecv: 5 });
  assert.equal(fx.engine.registry.services[0]!.tcpTimeoutMs[1], 900_000);
  assert.equal(fx.engine.registry.services[0]!.tcpTimeoutMs[3], 5_000);
  assert.equal(fx.engine.registry.services[1]!.tcpTimeoutMs[1], 120_000);
  // 0 takes the key out again; keys of the other protocol are refused.
  fx.ctl.editService(k, { timeouts: { tcpEstablished: 0 } });
  assert.deepEqual(fx.ctl.listServices()[0].timeouts, {});
  assert.equal(fx.engine.registry.services[0]!.tcpTimeoutMs[1], 120_000);
  assert.throws(
    () => fx.ctl.editService(k, { timeouts: { udp: 30 } }),
    /Timeout udp applies to UDP services only/,
  );
  assert.throws(() => fx.ctl.editService(k, { onePacket: true }), /for UDP services only/);
});

Deno.test("per-service timeouts: a UDP service's own timeout", () => {
  const fx = setup();
  const k = twoServers(fx, "udp", "rr", 53);
  fx.ctl.editService(k, { timeouts: { udp: 20 } });
  send(fx, udpPkt(C, VIP, 3333, 53));
  assert.equal(fx.ctl.listConnections()[0].expiresInMs, 20_000);
  fx.clock.ms += 20_001;
  assert.equal(fx.engine.expire(), 1);
});

engineTest("one-packet UDP: a session per datagram, the reply translated, no port kept", (run) => {
  const fx = setup({ capacity: 64, localPortRange: [5000, 5063] });
  const k = twoServers(fx, "udp", "rr", 53);
  fx.ctl.editService(k, { onePacket: true });
  // Two queries from one client port: each scheduled on its own, each with a port of its own.
  const q1 = send(fx, udpPkt(C, VIP, 3333, 53));
  const q2 = send(fx, udpPkt(C, VIP, 3333, 53));
  run.keep(q1.out, q2.out);
  assert.deepEqual([dst(q1.out), dst(q2.out)], [RS, RS2], "rr per datagram");
  const [p1, p2] = [get16(q1.out, 20), get16(q2.out, 20)];
  assert.notEqual(p1, p2);
  assert.equal(fx.engine.table.size, 2);
  assert.equal(fx.ctl.listConnections()[0].expiresInMs, OPS_REPLY_WINDOW_MS);
  // The replies come back translated, and each ends its session.
  const a2 = send(fx, udpPkt(RS2, LIP, RS_PORT, p2));
  assert.equal(a2.verdict, Verdict.Rewritten);
  assert.deepEqual([src(a2.out), dst(a2.out), get16(a2.out, 20), get16(a2.out, 22)], [
    VIP,
    C,
    53,
    3333,
  ]);
  assert.equal(fx.engine.table.size, 1);
  const a1 = send(fx, udpPkt(RS, LIP, RS_PORT, p1));
  run.keep(a1.out, a2.out);
  assert.equal(fx.engine.table.size, 0, "no session and no port held");
  // A second reply to an answered query finds no session: left to the kernel.
  assert.equal(send(fx, udpPkt(RS, LIP, RS_PORT, p1)).verdict, Verdict.Accept);
  const c = fx.engine.counters;
  assert.deepEqual([c.onePacketScheduled, c.onePacketAnswered], [2, 2]);
  // A query nobody answers holds its port for the reply window only.
  send(fx, udpPkt(C, VIP, 3334, 53));
  fx.clock.ms += OPS_REPLY_WINDOW_MS;
  assert.equal(fx.engine.expire(), 1);
  assert.equal(fx.engine.table.size, 0);
  // A service's own UDP timeout is its reply window.
  fx.ctl.editService(k, { timeouts: { udp: 7 } });
  send(fx, udpPkt(C, VIP, 3335, 53));
  assert.equal(fx.ctl.listConnections()[0].expiresInMs, 7_000);
  // Turned off: datagrams of one client port share a session again.
  fx.ctl.editService(k, { onePacket: false, timeouts: { udp: 0 } });
  send(fx, udpPkt(C, VIP, 4000, 53));
  send(fx, udpPkt(C, VIP, 4000, 53));
  assert.equal(fx.engine.table.size, 2);
});

engineTest(
  "one-packet UDP: 1,000 answered queries from one client port use no lasting port",
  (run) => {
    const fx = setup({ capacity: 64, localPortRange: [5000, 5003] });
    const k = twoServers(fx, "udp", "rr", 53);
    fx.ctl.editService(k, { onePacket: true });
    for (let i = 0; i < 1000; i++) {
      const q = send(fx, udpPkt(C, VIP, 3333, 53));
      assert.equal(q.verdict, Verdict.Rewritten, `query ${i}`);
      const a = send(fx, udpPkt(dst(q.out), LIP, RS_PORT, get16(q.out, 20)));
      assert.equal(a.verdict, Verdict.Rewritten, `answer ${i}`);
      if (i === 999) run.keep(q.out, a.out);
    }
    // Four local ports were enough for all of them.
    assert.equal(fx.engine.table.size, 0);
    assert.equal(fx.engine.counters.portExhausted, 0);
  },
);

Deno.test("expireNodestConn: a UDP flow to a deleted server ends and moves; without it, it stays", () => {
  for (const on of [false, true]) {
    const fx = setup({ tunables: { expireNodestConn: on } });
    const k = twoServers(fx, "udp", "rr", 53);
    const first = dst(send(fx, udpPkt(C, VIP, 3333, 53)).out);
    fx.ctl.deleteRealServer(k, { address: first, port: RS_PORT });
    const again = send(fx, udpPkt(C, VIP, 3333, 53));
    if (!on) {
      assert.equal(dst(again.out), first, "off: the flow keeps its deleted server");
      fx.clock.ms += 200_000;
      send(fx, udpPkt(C, VIP, 3333, 53));
      fx.clock.ms += 200_000;
      assert.equal(fx.engine.expire(), 0, "off: it never expires while the client sends");
      continue;
    }
    assert.notEqual(dst(again.out), first, "on: scheduled anew to a live server");
    assert.equal(fx.engine.counters.nodestExpired, 1);
    assert.equal(fx.engine.table.size, 1);
    assert.deepEqual(fx.ctl.diversion().services.length, 1);
  }
});

Deno.test("expireNodestConn: a TCP segment of a deleted server's session ends it, answered with a RST", () => {
  const fx = setup();
  fx.ctl.setTunables({ expireNodestConn: true });
  assert.deepEqual(fx.ctl.getTunables(), {
    expireNodestConn: true,
    expireQuiescentTemplate: false,
  });
  const k = twoServers(fx, "tcp", "rr");
  const s = send(fx, tcp(C, VIP, 40000, 80, "S", 1000).build()).out;
  send(fx, tcp(dst(s), LIP, RS_PORT, get16(s, 20), "SA", 5000, 1001).build());
  send(fx, tcp(C, VIP, 40000, 80, "A", 1001, 5001).build());
  fx.ctl.deleteRealServer(k, { address: dst(s), port: RS_PORT });
  // The server's own segments still pass (IPVS checks the client's direction only).
  const fromRs = send(fx, tcp(dst(s), LIP, RS_PORT, get16(s, 20), "A", 5001, 1001).build());
  assert.equal(fromRs.verdict, Verdict.Rewritten);
  const r = send(fx, tcp(C, VIP, 40000, 80, "PA", 1001, 5001).build());
  assert.equal(r.verdict, Verdict.Rewritten);
  assert.equal(r.out[33] & 0x04, 0x04, "a RST back to the client");
  assert.equal(get32(r.out, 24), 5001, "at the sequence number it acknowledged");
  assert.equal(fx.engine.table.size, 0);
  assert.equal(fx.engine.counters.nodestExpired, 1);
  assert.throws(() => fx.ctl.setTunables({ bogus: true } as never), /Unknown tunable bogus/);
});

engineTest(
  "endServerSessions: TCP reset at both ends, UDP ended, other servers untouched",
  (run) => {
    const emitted: Uint8Array[] = [];
    const fx = setup({ emit: (b, o, n) => void emitted.push(b.slice(o, o + n)) });
    const k = twoServers(fx, "tcp", "rr");
    const s = send(fx, tcp(C, VIP, 40000, 80, "S", 1000).build()).out;
    const rs = dst(s);
    send(fx, tcp(rs, LIP, RS_PORT, get16(s, 20), "SA", 5000, 1001).build());
    send(fx, tcp(C, VIP, 40000, 80, "A", 1001, 5001).build());
    syn(fx, 40001); // to the other server
    syn(fx, 40002); // to `rs`, never answered: just ends
    assert.equal(fx.engine.table.size, 3);
    const r = fx.ctl.endServerSessions(k, { address: rs, port: RS_PORT });
    assert.deepEqual(r, { ended: 2, reset: 1 });
    assert.equal(emitted.length, 2, "one RST to each end");
    assert.deepEqual(emitted.map((p) => dst(p)).sort(), [C, rs].sort());
    for (const p of emitted) assert.equal(p[33] & 0x04, 0x04);
    run.keep(...emitted);
    assert.equal(fx.engine.table.size, 1);
    assert.equal(fx.ctl.listConnections()[0].real.address === rs, false);
    const c = fx.engine.counters;
    assert.deepEqual([c.serverSessionsEnded, c.serverSessionResets], [2, 1]);
  },
);
