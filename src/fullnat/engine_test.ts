/**
 * The engine on crafted packets, as fixture rows: each row is an input packet, the verdict
 * expected, and the exact bytes expected out, built independently by the test packet builder
 * (its own checksum code). A runner compares byte by byte; scapy then re-checks every output's
 * checksums as an independent oracle.
 */
import assert from "node:assert/strict";
import { ipv4 } from "../../testkit/packet_builder.ts";
import { FULLNAT_HANDSHAKE } from "../../testkit/engine_rows/fullnat_transmit.ts";
import {
  C,
  engineTest,
  firstIsn,
  fullnatService,
  LIP,
  LIP2,
  type Row,
  RS,
  RS2,
  setup,
  tcp,
  VIP,
} from "../../testkit/engine_fixture.ts";
import { Verdict } from "../nfqueue/handler.ts";

engineTest("Engine.handle() FULLNAT: handshake, data both ways and close, byte by byte", (run) => {
  const sc = FULLNAT_HANDSHAKE;
  const { engine, ctl, clock } = setup(sc.options);
  sc.configure(ctl);
  run.rows(engine, sc.rows(clock.ms));
  const [conn] = ctl.listConnections();
  assert.equal(conn.state, "FIN_WAIT");
  assert.deepEqual([conn.client, conn.virtual, conn.local, conn.real], [
    { address: C, port: 40000 },
    { address: VIP, port: 80 },
    { address: LIP, port: 5000 },
    { address: RS, port: 8080 },
  ]);
  const [svc] = ctl.listServices();
  assert.deepEqual(svc.stats, {
    conns: 1,
    inPackets: 4, // SYN (60+8 TOA), ACK (40+8), data (40+8+19), ACK with SACK (40+12)
    outPackets: 4, // SYN-ACK (44), data (40+24), ACK with SACK (40+24), FIN (40)
    inBytes: 68 + 48 + 67 + 52,
    outBytes: 44 + 64 + 64 + 40,
  });
  const c = engine.counters;
  assert.deepEqual(
    [c.toaInserted, c.timestampsStripped, c.mssClamped, c.sackBlocksTranslated],
    [3, 1, 1, 2],
  );
});

engineTest("Engine.handle() passes through, drops and counts what is not a session", (run) => {
  const { engine, ctl } = setup();
  fullnatService(ctl);
  const truncated = tcp(C, VIP, 40001, 80, "S", 1).build().slice(0, 30);
  const rows: Row[] = [
    {
      what: "another port of the VIP",
      input: tcp(C, VIP, 40000, 81, "S", 1),
      verdict: Verdict.Accept,
    },
    {
      what: "traffic to a local address with no session",
      input: tcp(RS, LIP, 22, 6000, "A", 1),
      verdict: Verdict.Accept,
    },
    {
      what: "a non-SYN with no session",
      input: tcp(C, VIP, 40000, 80, "A", 1, 1),
      verdict: Verdict.Drop,
    },
    {
      what: "a SYN-ACK with no session",
      input: tcp(C, VIP, 40000, 80, "SA", 1, 1),
      verdict: Verdict.Drop,
    },
    {
      what: "an IPv4 fragment",
      input: ipv4({ src: C, dst: VIP, mf: true }).tcp({ sport: 1, dport: 80, flags: "S" }),
      verdict: Verdict.Drop,
    },
    {
      what: "a TCP data offset past the end",
      input: ipv4({ src: C, dst: VIP }).tcp({ sport: 1, dport: 80, flags: "S", dataOffset: 15 }),
      verdict: Verdict.Drop,
    },
    {
      what: "ICMP to the VIP",
      input: ipv4({ src: C, dst: VIP }).icmp({ type: 8 }),
      verdict: Verdict.Accept,
    },
  ];
  run.rows(engine, rows);
  const buf = new Uint8Array(256);
  buf.set(truncated);
  assert.equal(
    engine.handle(buf, 0, truncated.length, 256),
    Verdict.Drop,
    "total length beyond the bytes",
  );
  assert.equal(engine.handle(buf, 0, 0, 256), Verdict.Accept, "empty");
  const c = engine.counters;
  assert.deepEqual(
    [
      c.passedThrough,
      c.tcpNoSession,
      c.fragments,
      c.malformedL4,
      c.malformedIp,
      c.icmpPassed,
      c.notIp,
    ],
    [2, 2, 1, 1, 1, 1, 1],
  );
  assert.equal(engine.table.size, 0);
});

engineTest("Engine.handle() accepts malformed packets unchanged under the accept policy", (run) => {
  const { engine, ctl } = setup({ malformedPolicy: "accept" });
  fullnatService(ctl);
  run.rows(engine, [{
    what: "bad data offset",
    input: ipv4({ src: C, dst: VIP }).tcp({ sport: 1, dport: 80, flags: "S", dataOffset: 15 }),
    verdict: Verdict.Accept,
  }]);
  assert.equal(engine.counters.malformedL4, 1);
});

engineTest(
  "Engine.handle() NAT mode translates only the destination, and the source on the way out",
  (run) => {
    const { engine, ctl } = setup();
    const key = { protocol: "tcp" as const, address: VIP, port: 80 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "nat" });
    run.rows(engine, [
      {
        what: "client SYN keeps its source",
        input: tcp(C, VIP, 40000, 80, "S", 5),
        verdict: Verdict.Rewritten,
        output: tcp(C, RS, 40000, 80, "S", 5),
      },
      {
        what: "RS reply to the client directly gets the VIP as source",
        input: tcp(RS, C, 80, 40000, "SA", 77, 6),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 77, 6),
      },
    ]);
    assert.deepEqual(ctl.diversion().natRealServers, [{ protocol: "tcp", address: RS, port: 80 }]);
    assert.equal(ctl.listConnections()[0].method, "nat");
  },
);

engineTest(
  "Engine.handle() UDP: rewrites ports and checksum, keeps a zero checksum zero",
  (run) => {
    const { engine, ctl } = setup();
    const key = { protocol: "udp" as const, address: VIP, port: 53 };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS, port: 5353, weight: 1, method: "fullnat" });
    ctl.addLocalAddress(key, LIP);
    const udp = (src: string, dst: string, sport: number, dport: number, checksum?: number) =>
      ipv4({ src, dst, ttl: 64 }).udp({ sport, dport, checksum }).payload("query?");
    run.rows(engine, [
      {
        what: "query",
        input: udp(C, VIP, 3333, 53),
        verdict: Verdict.Rewritten,
        output: udp(LIP, RS, 5000, 5353),
      },
      {
        what: "answer",
        input: udp(RS, LIP, 5353, 5000),
        verdict: Verdict.Rewritten,
        output: udp(VIP, C, 53, 3333),
      },
      {
        what: "no-checksum datagram",
        input: udp(C, VIP, 3333, 53, 0),
        verdict: Verdict.Rewritten,
        output: udp(LIP, RS, 5000, 5353, 0),
      },
    ]);
    assert.equal(ctl.listConnections()[0].state, "UDP");
  },
);

engineTest("Engine.handle() refuses a SYN it cannot place with a RST to the client", (run) => {
  const { engine, ctl } = setup();
  fullnatService(ctl, [RS], []);
  run.rows(engine, [{
    what: "no local address: reset from the VIP acknowledging the SYN",
    input: tcp(C, VIP, 40000, 80, "S", 0xfffffffe).mss(1460).payload("x"),
    verdict: Verdict.Rewritten,
    output: ipv4({ src: VIP, dst: C, ttl: 64, id: 0, df: true }).tcp({
      sport: 80,
      dport: 40000,
      flags: "RA",
      seq: 0,
      ack: 0, // 0xfffffffe + SYN + 1 byte wraps to 0
      window: 0,
    }),
  }]);
  assert.equal(engine.counters.noLocalAddress, 1);
  assert.equal(engine.counters.resetsSent, 1);
  assert.equal(engine.table.size, 0);
});

engineTest(
  "Engine.handle() under the drop policy drops a SYN for a service with no usable server",
  (run) => {
    const { engine, ctl } = setup({ rejectPolicy: "drop" });
    const key = fullnatService(ctl);
    ctl.editRealServer(key, { address: RS, port: 8080, weight: 0 });
    run.rows(engine, [{
      what: "quiesced",
      input: tcp(C, VIP, 1, 80, "S", 1),
      verdict: Verdict.Drop,
    }]);
    assert.equal(engine.counters.noRealServer, 1);
  },
);

Deno.test("Engine local ports: round robin over addresses, no reuse of a live tuple, exhaustion counted", () => {
  const { engine, ctl } = setup({ localPortRange: [5000, 5001], portTries: 8 });
  fullnatService(ctl, [RS], [LIP, LIP2]);
  const seen: string[] = [];
  for (let p = 1; p <= 4; p++) {
    const pkt = tcp(C, VIP, 40000 + p, 80, "S", 1).build();
    assert.equal(engine.handle(pkt, 0, pkt.length, pkt.length), Verdict.Rewritten);
  }
  for (const conn of ctl.listConnections()) seen.push(`${conn.local.address}:${conn.local.port}`);
  assert.deepEqual(seen.sort(), [`${LIP}:5000`, `${LIP}:5001`, `${LIP2}:5000`, `${LIP2}:5001`]);
  const pkt = tcp(C, VIP, 40010, 80, "S", 1).build();
  const buf = new Uint8Array(pkt.length + 128);
  buf.set(pkt);
  assert.equal(
    engine.handle(buf, 0, pkt.length, buf.length),
    Verdict.Rewritten,
    "answered with a reset",
  );
  assert.equal(engine.counters.portExhausted, 1);
  const la = ctl.listServices()[0].localAddresses;
  assert.equal(la[0].portConflicts + la[1].portConflicts, 8);
});

Deno.test("Engine.expire() removes sessions after their state's timeout and frees the tuple", () => {
  const { engine, ctl, clock } = setup();
  fullnatService(ctl);
  ctl.setTimeouts({ tcpSynRecv: 5, tcpEstablished: 20 });
  const syn = tcp(C, VIP, 40000, 80, "S", 1).build();
  engine.handle(syn.slice(), 0, syn.length, syn.length);
  clock.ms += 4_999;
  assert.equal(engine.expire(), 0);
  const ack = tcp(C, VIP, 40000, 80, "A", 2, 1).build();
  engine.handle(ack, 0, ack.length, ack.length);
  assert.equal(ctl.listConnections()[0].state, "ESTABLISHED");
  assert.equal(ctl.listServices()[0].realServers[0].activeConns, 1);
  clock.ms += 19_999;
  assert.equal(engine.expire(), 0);
  clock.ms += 1;
  assert.equal(engine.expire(), 1);
  assert.equal(engine.table.size, 0);
  assert.equal(ctl.listServices()[0].realServers[0].activeConns, 0);
  assert.equal(ctl.listServices()[0].localAddresses[0].conns, 0);
  // The same client port gets a fresh session and the next local port.
  engine.handle(syn.slice(), 0, syn.length, syn.length);
  assert.equal(ctl.listConnections()[0].local.port, 5001);
});

engineTest(
  "Engine: a deleted local address serves its sessions until they end, then leaves the diversion",
  (run) => {
    const { engine, ctl, clock } = setup();
    const key = fullnatService(ctl);
    const syn = tcp(C, VIP, 40000, 80, "S", 1).build();
    const synBuf = new Uint8Array(syn.length + 8);
    synBuf.set(syn);
    engine.handle(synBuf, 0, syn.length, synBuf.length);
    ctl.deleteLocalAddress(key, LIP);
    assert.deepEqual(ctl.diversion().localAddresses, [LIP], "still diverted while used");
    run.rows(engine, [
      {
        what: "established reply still translated",
        input: tcp(RS, LIP, 8080, 5000, "SA", 9, (firstIsn(clock.ms) + 1) >>> 0),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 9, 2),
      },
    ]);
    const syn2 = tcp(C, VIP, 40001, 80, "S", 1).build();
    const buf = new Uint8Array(syn2.length + 128);
    buf.set(syn2);
    engine.handle(buf, 0, syn2.length, buf.length);
    assert.equal(engine.counters.noLocalAddress, 1, "a new connection is refused");
    clock.ms += 60_000;
    engine.expire();
    assert.deepEqual(ctl.diversion().localAddresses, [], "released after its last session");
  },
);

Deno.test("Engine: persistence sends a client back to the same real server", () => {
  const { engine, ctl } = setup();
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 300 });
  for (const rs of [RS, RS2]) {
    ctl.addRealServer(key, { address: rs, port: 80, weight: 1, method: "nat" });
  }
  for (let p = 1; p <= 4; p++) {
    const pkt = tcp(C, VIP, 40000 + p, 80, "S", 1).build();
    engine.handle(pkt, 0, pkt.length, pkt.length);
  }
  const other = tcp("198.51.100.3", VIP, 40000, 80, "S", 1).build();
  engine.handle(other, 0, other.length, other.length);
  const byClient = ctl.listConnections().map((c) => `${c.client.address} ${c.real.address}`);
  assert.deepEqual(new Set(byClient), new Set([`${C} ${RS}`, `198.51.100.3 ${RS2}`]));
});

engineTest(
  "Engine: a deleted service serves its sessions until they end, then leaves the diversion",
  (run) => {
    const { engine, ctl, clock } = setup();
    const key = fullnatService(ctl);
    const D = (firstIsn(clock.ms) - 1) >>> 0;
    run.rows(engine, [{
      what: "SYN",
      input: tcp(C, VIP, 40000, 80, "S", 1),
      verdict: Verdict.Rewritten,
    }]);
    ctl.deleteService(key);
    assert.deepEqual(ctl.listServices(), [], "no longer listed");
    assert.equal(engine.table.size, 1, "its session stays");
    assert.deepEqual(ctl.diversion().services, [key], "still diverted while used");
    run.rows(engine, [
      {
        what: "the established session is still translated",
        input: tcp(RS, LIP, 8080, 5000, "SA", 9, (D + 2) >>> 0),
        verdict: Verdict.Rewritten,
        output: tcp(VIP, C, 80, 40000, "SA", 9, 2),
      },
      {
        what: "a new connection finds no service: the kernel gets it",
        input: tcp(C, VIP, 40001, 80, "S", 1),
        verdict: Verdict.Accept,
      },
    ]);
    clock.ms += 60_000;
    assert.equal(engine.expire(), 1);
    assert.deepEqual(ctl.diversion(), { services: [], localAddresses: [], natRealServers: [] });
    // The same service can come back while nothing is left of the old one.
    fullnatService(ctl);
    assert.equal(ctl.listServices().length, 1);
  },
);
