/**
 * Engine cost per packet (FULLNAT, IPv4 TCP, TOA, timestamp stripping and MSS clamping on,
 * as a service has them by default), on packets built like the engine's fixture tests.
 *
 *   deno bench -A bench/engine_bench.ts
 *   FULLNAT_BENCH_SHARED=1 deno bench -A bench/engine_bench.ts   (sessions in a shared file)
 *
 * Every iteration first restores the packet's original bytes (a ~1.5 KB copy, included in the
 * figures), so each one goes through the full rewrite.
 *
 * @module
 */
import { ipv4 } from "../testkit/packet_builder.ts";
import {
  C as CLIENT,
  fullnatService,
  LIP,
  RS,
  RS_PORT,
  setup,
  VIP,
} from "../testkit/engine_fixture.ts";
import { Verdict } from "../src/nfqueue/handler.ts";
import { SessionTable } from "../src/fullnat/session_table.ts";
import { SharedFile } from "../src/kernel/shared_file.ts";

// FULLNAT_BENCH_SHARED=1: the session fields in a mapped shared file, as the daemon keeps them
// (src/kernel/run_state.ts), to compare with process memory side by side.
const shared = Deno.env.get("FULLNAT_BENCH_SHARED") === "1"
  ? SharedFile.open(
    await Deno.makeTempFile({ prefix: "fullnat-bench-" }),
    SessionTable.bytes(1 << 20),
  )
  : undefined;
const { clock, engine, ctl } = setup({
  capacity: 1 << 20,
  localPortRange: [1025, 65535],
  sessionMemory: shared === undefined ? undefined : { buffer: shared.bytes, offset: 0 },
});
fullnatService(ctl);

const buf = new Uint8Array(4096);

/** Runs one packet through the engine; throws if the verdict is not the expected one. */
function run(pkt: Uint8Array, want: Verdict = Verdict.Rewritten): void {
  buf.set(pkt);
  const v = engine.handle(buf, 0, pkt.length, buf.length);
  if (v !== want) throw new Error(`engine returned verdict ${v}, expected ${want}`);
}

/** A client SYN as Linux sends it: MSS, SACK permitted, timestamp, window scale. */
function clientSyn(sport: number): Uint8Array {
  return ipv4({ src: CLIENT, dst: VIP }).tcp({ sport, dport: 80, flags: "S", seq: 1000 })
    .mss(1460).sackPermitted().timestamp(12345, 0).nop().wscale(7).build();
}

// One session through the whole handshake, so its data packets are plain established ones.
const CPORT = 40000;
run(clientSyn(CPORT));
const lport = ctl.listConnections()[0].local.port;
const synAck = ipv4({ src: RS, dst: LIP }).tcp({
  sport: RS_PORT,
  dport: lport,
  flags: "SA",
  seq: 5000,
  ack: 1001,
}).mss(1460).sackPermitted().nop().wscale(7).build();
run(synAck);
run(
  ipv4({ src: CLIENT, dst: VIP }).tcp({ sport: CPORT, dport: 80, flags: "A", seq: 1001, ack: 5001 })
    .build(),
);
// The RS sends first, so later client segments no longer carry TOA.
const outPkt = ipv4({ src: RS, dst: LIP }).tcp({
  sport: RS_PORT,
  dport: lport,
  flags: "PA",
  seq: 5001,
  ack: 1001,
}).payload(new Uint8Array(1400)).build();
run(outPkt);
const inPkt = ipv4({ src: CLIENT, dst: VIP }).tcp({
  sport: CPORT,
  dport: 80,
  flags: "PA",
  seq: 1001,
  ack: 6401,
}).payload(new Uint8Array(1400)).build();
run(inPkt);
// The RS acknowledges with three SACK blocks (data lost in between): ack and every block
// edge are translated back into the client's sequence space.
const sackAck = ipv4({ src: RS, dst: LIP }).tcp({
  sport: RS_PORT,
  dport: lport,
  flags: "A",
  seq: 6401,
  ack: 1001,
}).nop().nop().sack([[3001, 4001], [5001, 6001], [7001, 8001]]).build();
run(sackAck);

Deno.bench("established packet, client -> RS (1440 bytes)", () => run(inPkt));
Deno.bench("established packet, RS -> client (1440 bytes)", () => run(outPkt));
Deno.bench("ACK with 3 SACK blocks, RS -> client (ack + SACK edges translated)", () => {
  run(sackAck);
});

// A SYN-ACK retransmitted by the RS on a session in SYN_RECV: MSS clamped on every one.
let synAckPort = 0;
{
  run(clientSyn(40001));
  synAckPort = ctl.listConnections().find((c) => c.client.port === 40001)!.local.port;
}
const clampedSynAck = ipv4({ src: RS, dst: LIP }).tcp({
  sport: RS_PORT,
  dport: synAckPort,
  flags: "SA",
  seq: 9000,
  ack: 1001,
}).mss(1460).sackPermitted().nop().wscale(7).build();
run(clampedSynAck);
// The MSS option comes first: kind 2, length 4, value.
if (((buf[42] << 8) | buf[43]) !== 1460 - 8) throw new Error("the SYN-ACK's MSS was not clamped");
Deno.bench("SYN-ACK, RS -> client (MSS clamp)", () => run(clampedSynAck));

// What a new connection's SYN turns into: TOA inserted (8 bytes longer), timestamp gone.
run(clientSyn(40002));
// TOA (kind 254) right after the fixed header; no timestamp (kind 8, length 10) left.
const options = buf.subarray(48, engine.outLength);
if (
  engine.outLength !== clientSyn(40002).length + 8 || buf[40] !== 254 ||
  options.some((b, i) => b === 8 && options[i + 1] === 10)
) {
  throw new Error("the SYN did not get TOA or kept its timestamp");
}

// Fresh client ports from 1025 up, sessions expired in bulk now and then (counted in).
let port = 1024;
const newSyn = clientSyn(1024);
Deno.bench(
  "new connection: SYN, schedule, local port, TOA, timestamp strip, session insert (+ expiry)",
  () => {
    port = port >= 60000 ? 1025 : port + 1;
    newSyn[20] = port >>> 8;
    newSyn[21] = port & 255;
    run(newSyn);
    if (engine.table.size > 50_000) {
      clock.ms += 1_000_000;
      engine.expire();
    }
  },
);
