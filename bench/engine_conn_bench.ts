/**
 * Engine cost of one whole short connection at a steady 20k conn/s, as the peer benchmark's
 * connection load drives it: one client address whose ports come round every few seconds,
 * nine packets from SYN to the last ACK (the request and the response each in one segment,
 * the server closing first), and the clock moving 50 µs per connection. The client's 64k ports
 * come round every 3.2 s, within the 7 s closing timeouts, so every port keeps a live session
 * that its next SYN reopens, as on the benchmark's balancer. Expiry runs once per simulated
 * second, as in the daemon's worker, and its cost is in the figures.
 *
 *   deno bench -A bench/engine_conn_bench.ts
 *
 * The figure to compare with the balancer's CPU per connection in docs/benchmark.md.
 *
 * @module
 */
import type { PacketBuilder } from "../testkit/packet_builder.ts";
import {
  C,
  fullnatService,
  LIPS,
  RS,
  RS_PORT,
  setup,
  tcp,
  VIP,
} from "../testkit/engine_fixture.ts";
import { Verdict } from "../src/nfqueue/handler.ts";

const MS_PER_CONN = 0.05;
const EXPIRE_EVERY = 20_000;
const PORT_LOW = 1024;
const PORT_SPAN = 65536 - PORT_LOW;

const { clock, engine, ctl } = setup({ capacity: 1 << 20, localPortRange: [1025, 65535] });
fullnatService(ctl, [RS], LIPS);

// Ports, sequence numbers and the local address are set per connection in `connection()`.
const fromClient = (flags: string, payload = 0) =>
  tcp(C, VIP, 40000, 80, flags, 1).payload(new Uint8Array(payload));
const fromServer = (flags: string, payload = 0) =>
  tcp(RS, LIPS[0], RS_PORT, 5000, flags, 1).payload(new Uint8Array(payload));

/** One connection's packets in order; `true` marks the real server's. */
const script: [PacketBuilder, boolean][] = [
  [
    fromClient("S").mss(1460).sackPermitted().timestamp(12345, 0).nop().wscale(7),
    false,
  ],
  [fromServer("SA").mss(1460).sackPermitted().nop().wscale(7), true],
  [fromClient("A"), false],
  [fromClient("PA", 90), false],
  [fromServer("PA", 250), true],
  [fromServer("FA"), true],
  [fromClient("A"), false],
  [fromClient("FA"), false],
  [fromServer("A"), true],
];
const packets = script.map(([p, rs]) => ({ bytes: p.build(), rs }));
const buf = new Uint8Array(2048);
let conn = 0;

/** Runs the next connection's nine packets; throws on any verdict but Rewritten. */
function connection(): void {
  const cport = PORT_LOW + conn % PORT_SPAN;
  // A new ISN each time the port comes round, as the client's stack would choose.
  const isn = Math.imul(conn, 2654435761) >>> 0;
  let lip0 = 0, lip1 = 0, lip2 = 0, lip3 = 0, lport = 0;
  for (let i = 0; i < packets.length; i++) {
    const { bytes, rs } = packets[i];
    buf.set(bytes);
    if (rs) {
      buf[16] = lip0, buf[17] = lip1, buf[18] = lip2, buf[19] = lip3;
      buf[22] = lport >>> 8, buf[23] = lport;
    } else {
      buf[20] = cport >>> 8, buf[21] = cport;
      buf[24] = isn >>> 24, buf[25] = isn >>> 16, buf[26] = isn >>> 8, buf[27] = isn;
    }
    const v = engine.handle(buf, 0, bytes.length, buf.length);
    if (v !== Verdict.Rewritten) throw new Error(`packet ${i}: verdict ${v}`);
    if (i === 0) {
      lip0 = buf[12], lip1 = buf[13], lip2 = buf[14], lip3 = buf[15];
      lport = (buf[20] << 8) | buf[21];
    }
  }
  clock.ms += MS_PER_CONN;
  if (++conn % EXPIRE_EVERY === 0) engine.expire();
}

// Steady state first: enough connections for the closing states to fill and start expiring.
for (let i = 0; i < 400_000; i++) connection();
const live = engine.table.size;
if (live < PORT_SPAN) throw new Error(`only ${live} live sessions at steady state`);

Deno.bench(`one connection, 9 packets, ~${Math.round(live / 1000)}k sessions live`, () => {
  connection();
});
