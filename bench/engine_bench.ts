/**
 * Engine cost per packet, on the same crafted packets as the engine tests.
 * Run: deno bench -A bench/engine_bench.ts
 */
import { ipv4 } from "../tests/support/packet_builder.ts";
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine } from "../src/fullnat/engine.ts";

const VIP = "198.51.100.10";
const LIP = "203.0.113.201";
const RS = "203.0.113.11";
let now = 0;
const engine = new Engine({ clock: () => now, capacity: 1 << 20 });
const ctl = new EngineControl(engine);
const key = { protocol: "tcp" as const, address: VIP, port: 80 };
ctl.addService(key, { scheduler: "rr", persistence: 0 });
ctl.addRealServer(key, { address: RS, port: 80, weight: 1, method: "fullnat" });
ctl.addLocalAddress(key, LIP);

const syn = ipv4({ src: "198.51.100.2", dst: VIP }).tcp({
  sport: 40000,
  dport: 80,
  flags: "S",
  seq: 1,
}).mss(1460).build();
const buf = new Uint8Array(2048);
buf.set(syn);
engine.handle(buf, 0, syn.length, buf.length);
const lport = ctl.listConnections()[0].local.port;
const inPkt = ipv4({ src: "198.51.100.2", dst: VIP }).tcp({
  sport: 40000,
  dport: 80,
  flags: "PA",
  seq: 2,
  ack: 1,
})
  .payload(new Uint8Array(1400)).build();
const outPkt = ipv4({ src: RS, dst: LIP }).tcp({
  sport: 80,
  dport: lport,
  flags: "PA",
  seq: 1,
  ack: 2,
})
  .payload(new Uint8Array(1400)).build();

// Each direction restores the original bytes first, so every iteration does the full rewrite.
Deno.bench("established packet, client -> RS (1440 bytes)", () => {
  buf.set(inPkt);
  engine.handle(buf, 0, inPkt.length, buf.length);
});
Deno.bench("established packet, RS -> client (1440 bytes)", () => {
  buf.set(outPkt);
  engine.handle(buf, 0, outPkt.length, buf.length);
});

let port = 1;
const newSyn = syn.slice();
Deno.bench("new connection: SYN, schedule, local port, session insert (+ expiry)", () => {
  port = port >= 60000 ? 1 : port + 1;
  newSyn[20] = port >>> 8;
  newSyn[21] = port & 255;
  buf.set(newSyn);
  engine.handle(buf, 0, newSyn.length, buf.length);
  if (engine.table.size > 50_000) {
    now += 1_000_000;
    engine.expire();
  }
});
