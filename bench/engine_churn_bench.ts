/**
 * Engine cost per packet when the session table is large and packets hit sessions in no
 * particular order, as on a busy balancer (a connection-per-request load at 20k conn/s keeps
 * well over 100k sessions live through their closing timeouts), against the same packets on
 * one hot session. The difference is what the table's memory layout costs in cache misses.
 *
 *   deno bench -A bench/engine_churn_bench.ts
 *
 * @module
 */
import { ipv4 } from "../testkit/packet_builder.ts";
import { fullnatService, LIPS, RS, RS_PORT, setup, VIP } from "../testkit/engine_fixture.ts";
import { Verdict } from "../src/nfqueue/handler.ts";

const SESSIONS = 150_000;

const { engine, ctl } = setup({ capacity: 1 << 20, localPortRange: [1025, 65535] });
fullnatService(ctl, [RS], LIPS);

const buf = new Uint8Array(2048);
function run(pkt: Uint8Array): void {
  buf.set(pkt);
  const v = engine.handle(buf, 0, pkt.length, buf.length);
  if (v !== Verdict.Rewritten) throw new Error(`engine returned verdict ${v}`);
}

// Clients 10.x.y.z, one port each; every session goes through SYN, SYN-ACK and the RS's
// first data, so the client ACKs measured below are plain established packets.
const clientOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
// The measured packet: one template whose source address is set per session (the engine
// checks no checksum, so it needs no fixing), so the bench itself touches little memory.
const ack = ipv4({ src: clientOf(1), dst: VIP }).tcp({
  sport: 40000,
  dport: 80,
  flags: "A",
  seq: 1001,
  ack: 5011,
}).build();
function runAck(i: number): void {
  buf.set(ack);
  const a = clients[i];
  buf[13] = (a >>> 16) & 255;
  buf[14] = (a >>> 8) & 255;
  buf[15] = a & 255;
  const v = engine.handle(buf, 0, ack.length, buf.length);
  if (v !== Verdict.Rewritten) throw new Error(`engine returned verdict ${v}`);
}
const clients = new Uint32Array(SESSIONS);
const synAckTemplate = (lip: string, lport: number, data: boolean) =>
  ipv4({ src: RS, dst: lip }).tcp({
    sport: RS_PORT,
    dport: lport,
    flags: data ? "PA" : "SA",
    seq: data ? 5001 : 5000,
    ack: 1001,
  }).payload(new Uint8Array(data ? 10 : 0)).build();
for (let i = 0; i < SESSIONS; i++) {
  const client = clientOf(i + 1);
  run(
    ipv4({ src: client, dst: VIP }).tcp({ sport: 40000, dport: 80, flags: "S", seq: 1000 }).build(),
  );
  const lip = `${buf[12]}.${buf[13]}.${buf[14]}.${buf[15]}`;
  const lport = (buf[20] << 8) | buf[21];
  run(synAckTemplate(lip, lport, false));
  run(synAckTemplate(lip, lport, true));
  clients[i] = i + 1;
}
if (engine.table.size !== SESSIONS) throw new Error(`${engine.table.size} sessions`);

// A fixed pseudo-random visiting order, the same for every run.
const order = new Uint32Array(1 << 20);
let x = 12345;
for (let i = 0; i < order.length; i++) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  order[i] = x % SESSIONS;
}
let n = 0;

Deno.bench("established ACK, client -> RS, always the same session", { group: "ack" }, () => {
  runAck(0);
});
Deno.bench(
  `established ACK, client -> RS, a random one of ${SESSIONS} sessions`,
  { group: "ack", baseline: true },
  () => {
    runAck(order[n++ & (order.length - 1)]);
  },
);
