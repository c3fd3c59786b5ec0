/**
 * The engine on crafted packets, as fixture rows: each row is an input packet, the verdict
 * expected, and the exact bytes expected out, built independently by the test packet builder
 * (its own checksum code). A runner compares byte by byte; scapy then re-checks every output's
 * checksums as an independent oracle.
 */
import assert from "node:assert/strict";
import { ipv4, PacketBuilder } from "../../tests/support/packet_builder.ts";
import { decode } from "../../tests/support/oracle.ts";
import { EngineControl } from "./control.ts";
import { Engine, type EngineOptions } from "./engine.ts";
import { Verdict } from "./types.ts";

const C = "198.51.100.2";
const VIP = "198.51.100.10";
const LIP = "203.0.113.201";
const LIP2 = "203.0.113.202";
const RS = "203.0.113.11";
const RS2 = "203.0.113.12";

interface Row {
  what: string;
  input: PacketBuilder;
  verdict: Verdict;
  /** Expected bytes out, for Rewritten rows. */
  output?: PacketBuilder;
}

/** A clock the test moves by hand. */
class Clock {
  ms = 1_000_000;
  readonly fn = () => this.ms;
}

function setup(opts: Partial<EngineOptions> = {}) {
  const clock = new Clock();
  const engine = new Engine({
    clock: clock.fn,
    capacity: 64,
    localPortRange: [5000, 5010],
    ...opts,
  });
  const ctl = new EngineControl(engine);
  return { clock, engine, ctl };
}

function fullnatService(ctl: EngineControl, servers = [RS], lips = [LIP]) {
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  for (const rs of servers) {
    ctl.addRealServer(key, { address: rs, port: 8080, weight: 1, method: "fullnat" });
  }
  for (const l of lips) ctl.addLocalAddress(key, l);
  return key;
}

const HEADROOM = 128;
const outputs: Uint8Array[] = [];

/** Runs rows in order through one engine, comparing verdicts and bytes. */
function runRows(engine: Engine, rows: Row[]): void {
  for (const row of rows) {
    const pkt = row.input.build();
    // Place the packet at an offset inside a larger buffer, as the queue loop does.
    const buf = new Uint8Array(pkt.length + 64 + HEADROOM).fill(0xee);
    buf.set(pkt, 32);
    const v = engine.handle(buf, 32, pkt.length, pkt.length + HEADROOM);
    assert.equal(v, row.verdict, `${row.what}: verdict`);
    if (v === Verdict.Rewritten) {
      const got = buf.slice(32, 32 + engine.outLength);
      const want = row.output!.build();
      assert.deepEqual(hex(got), hex(want), `${row.what}: bytes`);
      outputs.push(got);
    } else {
      assert.deepEqual(hex(buf.slice(32, 32 + pkt.length)), hex(pkt), `${row.what}: untouched`);
    }
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

const tcp = (
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: string,
  seq: number,
  ack = 0,
) =>
  ipv4({ src, dst, ttl: 61, id: 0x1234, df: true }).tcp({
    sport,
    dport,
    flags,
    seq,
    ack,
    window: 29200,
  });

Deno.test("Engine.handle() FULLNAT: a handshake, data both ways and the close, byte by byte", () => {
  const { engine, ctl } = setup();
  fullnatService(ctl);
  const rows: Row[] = [
    {
      what: "client SYN is DNATed to the RS and SNATed to a local address",
      input: tcp(C, VIP, 40000, 80, "S", 1000).mss(1460).sackPermitted().timestamp(7, 0).nop()
        .wscale(7),
      verdict: Verdict.Rewritten,
      output: tcp(LIP, RS, 5000, 8080, "S", 1000).mss(1460).sackPermitted().timestamp(7, 0).nop()
        .wscale(7),
    },
    {
      what: "RS SYN-ACK goes back to the client from the VIP",
      input: tcp(RS, LIP, 8080, 5000, "SA", 9000, 1001).mss(1460),
      verdict: Verdict.Rewritten,
      output: tcp(VIP, C, 80, 40000, "SA", 9000, 1001).mss(1460),
    },
    {
      what: "client ACK",
      input: tcp(C, VIP, 40000, 80, "A", 1001, 9001),
      verdict: Verdict.Rewritten,
      output: tcp(LIP, RS, 5000, 8080, "A", 1001, 9001),
    },
    {
      what: "client data, odd length",
      input: tcp(C, VIP, 40000, 80, "PA", 1001, 9001).payload("GET / HTTP/1.0\r\n\r\n!"),
      verdict: Verdict.Rewritten,
      output: tcp(LIP, RS, 5000, 8080, "PA", 1001, 9001).payload("GET / HTTP/1.0\r\n\r\n!"),
    },
    {
      what: "RS data",
      input: tcp(RS, LIP, 8080, 5000, "PA", 9001, 1020).payload("HTTP/1.0 200 OK\r\n\r\nhello"),
      verdict: Verdict.Rewritten,
      output: tcp(VIP, C, 80, 40000, "PA", 9001, 1020).payload("HTTP/1.0 200 OK\r\n\r\nhello"),
    },
    {
      what: "RS FIN",
      input: tcp(RS, LIP, 8080, 5000, "FA", 9026, 1020),
      verdict: Verdict.Rewritten,
      output: tcp(VIP, C, 80, 40000, "FA", 9026, 1020),
    },
  ];
  runRows(engine, rows);
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
    inPackets: 3, // SYN (60 bytes with options), ACK (40), data (40 + 19)
    outPackets: 3, // SYN-ACK (44), data (40 + 24), FIN (40)
    inBytes: 60 + 40 + 59,
    outBytes: 44 + 64 + 40,
  });
});

Deno.test("Engine.handle() passes through, drops and counts what is not a session", () => {
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
  runRows(engine, rows);
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
      c.otherProtocol,
      c.notIpv4,
    ],
    [2, 2, 1, 1, 1, 1, 1],
  );
  assert.equal(engine.table.size, 0);
});

Deno.test("Engine.handle() accepts malformed packets unchanged under the accept policy", () => {
  const { engine, ctl } = setup({ malformedPolicy: "accept" });
  fullnatService(ctl);
  runRows(engine, [{
    what: "bad data offset",
    input: ipv4({ src: C, dst: VIP }).tcp({ sport: 1, dport: 80, flags: "S", dataOffset: 15 }),
    verdict: Verdict.Accept,
  }]);
  assert.equal(engine.counters.malformedL4, 1);
});

Deno.test("Engine.handle() NAT mode translates only the destination, and the source on the way out", () => {
  const { engine, ctl } = setup();
  const key = { protocol: "tcp" as const, address: VIP, port: 80 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "nat" });
  runRows(engine, [
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
});

Deno.test("Engine.handle() UDP: rewrites ports and checksum, keeps a zero checksum zero", () => {
  const { engine, ctl } = setup();
  const key = { protocol: "udp" as const, address: VIP, port: 53 };
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: RS, port: 5353, weight: 1, method: "fullnat" });
  ctl.addLocalAddress(key, LIP);
  const udp = (src: string, dst: string, sport: number, dport: number, checksum?: number) =>
    ipv4({ src, dst, ttl: 64 }).udp({ sport, dport, checksum }).payload("query?");
  runRows(engine, [
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
});

Deno.test("Engine.handle() refuses a SYN it cannot place with a RST to the client", () => {
  const { engine, ctl } = setup();
  fullnatService(ctl, [RS], []);
  runRows(engine, [{
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

Deno.test("Engine.handle() under the drop policy drops a SYN for a service with no usable server", () => {
  const { engine, ctl } = setup({ rejectPolicy: "drop" });
  const key = fullnatService(ctl);
  ctl.editRealServer(key, { address: RS, port: 8080, weight: 0 });
  runRows(engine, [{ what: "quiesced", input: tcp(C, VIP, 1, 80, "S", 1), verdict: Verdict.Drop }]);
  assert.equal(engine.counters.noRealServer, 1);
});

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

Deno.test("Engine: a deleted local address serves its sessions until they end, then leaves the diversion", () => {
  const { engine, ctl, clock } = setup();
  const key = fullnatService(ctl);
  const syn = tcp(C, VIP, 40000, 80, "S", 1).build();
  engine.handle(syn.slice(), 0, syn.length, syn.length);
  ctl.deleteLocalAddress(key, LIP);
  assert.deepEqual(ctl.diversion().localAddresses, [LIP], "still diverted while used");
  runRows(engine, [
    {
      what: "established reply still translated",
      input: tcp(RS, LIP, 8080, 5000, "SA", 9, 2),
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
});

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

Deno.test("Engine: deleting a service flushes its sessions", () => {
  const { engine, ctl } = setup();
  const key = fullnatService(ctl);
  const syn = tcp(C, VIP, 40000, 80, "S", 1).build();
  engine.handle(syn, 0, syn.length, syn.length);
  ctl.deleteService(key);
  assert.equal(engine.table.size, 0);
  assert.equal(engine.counters.sessionsFlushed, 1);
  assert.deepEqual(ctl.diversion(), { services: [], localAddresses: [], natRealServers: [] });
});

Deno.test("scapy agrees every rewritten packet has valid IP and L4 checksums", async () => {
  assert.ok(outputs.length >= 10, `outputs collected: ${outputs.length}`);
  const decoded = await decode(outputs);
  decoded.forEach((d, i) => {
    assert.equal(d.ipChecksumOk, true, `packet ${i}: ${d.summary}`);
    assert.equal(d.l4ChecksumOk ?? true, true, `packet ${i}: ${d.summary}`);
  });
});
