/**
 * What taking over a full session table costs a new daemon (README "Sessions outlive the
 * daemon"): 1M live FULLNAT sessions are made through the engine in memory that "outlives" it,
 * then a second engine restores the configuration and takes them over; prints the time, and
 * the per-session figures of the run state.
 *
 *   deno run -A bench/takeover_bench.ts [SESSIONS]
 *
 * @module
 */
import { ipv4 } from "../testkit/packet_builder.ts";
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine } from "../src/fullnat/engine.ts";
import { OwnerLog } from "../src/fullnat/owner_log.ts";
import { restoreSessions } from "../src/fullnat/session_restore.ts";
import { SessionTable } from "../src/fullnat/session_table.ts";
import { runStateBytes } from "../src/kernel/run_state.ts";
import { Verdict } from "../src/nfqueue/handler.ts";

const n = Number(Deno.args[0] ?? 1_000_000);
const capacity = 1 << 20;
const lips = Array.from({ length: 17 }, (_, i) => `203.0.113.${100 + i}`);
const key = { protocol: "tcp" as const, address: "198.51.100.10", port: 80 };
const buffer = new ArrayBuffer(OwnerLog.bytes() + SessionTable.bytes(capacity));
let now = 1_000_000;

function engine() {
  const owners = new OwnerLog(new Uint8Array(buffer, 0, OwnerLog.bytes()));
  const previous = owners.snapshot();
  const e = new Engine({
    clock: () => now,
    capacity,
    localPortRange: [1025, 65535],
    sessionMemory: { buffer, offset: OwnerLog.bytes() },
    owners,
  });
  const ctl = new EngineControl(e);
  ctl.addService(key, { scheduler: "rr", persistence: 0 });
  ctl.addRealServer(key, { address: "203.0.113.11", port: 8080, weight: 1, method: "fullnat" });
  for (const l of lips) ctl.addLocalAddress(key, l);
  return { e, previous };
}

const a = engine();
const syn = ipv4({ src: "198.51.100.2", dst: key.address }).tcp({ sport: 1, dport: 80, flags: "S" })
  .build();
const buf = new Uint8Array(2048);
let made = 0;
const t0 = performance.now();
for (let c = 0; made < n; c++) {
  for (let port = 1024; port < 65536 && made < n; port++) {
    buf.set(syn);
    buf[15] = 2 + c; // client address 198.51.100.(2 + c)
    buf[20] = port >>> 8;
    buf[21] = port & 255;
    // A fresh header checksum for the changed source address.
    buf[10] = 0;
    buf[11] = 0;
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += (buf[i] << 8) | buf[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    buf[10] = (~s >>> 8) & 255;
    buf[11] = ~s & 255;
    if (a.e.handle(buf, 0, syn.length, buf.length) !== Verdict.Rewritten) {
      throw new Error(`session ${made} not made`);
    }
    made++;
  }
}
const madeMs = performance.now() - t0;
now += 1000;
const t1 = performance.now();
const b = engine();
const report = restoreSessions(b.e, b.previous);
const takeMs = performance.now() - t1;
if (report.kept !== n) throw new Error(`kept ${report.kept} of ${n}: ${JSON.stringify(report)}`);
const mib = (x: number) => (x / (1 << 20)).toFixed(1);
console.log(`made ${n} sessions in ${madeMs.toFixed(0)} ms`);
console.log(`took them over (configuration applied first) in ${takeMs.toFixed(0)} ms`);
console.log(
  `run state: ${SessionTable.bytes(1)} bytes per session, ${mib(OwnerLog.bytes())} MiB of owner ` +
    `records, ${mib(runStateBytes(capacity))} MiB file for ${capacity} sessions (sparse: only ` +
    `pages sessions touched take memory)`,
);
