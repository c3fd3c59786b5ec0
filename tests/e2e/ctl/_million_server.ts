/**
 * The daemon side of the million-session listing test, in a process of its own so its memory
 * can be measured apart from the client's: an engine whose session table is filled with
 * `count` sessions made by its own handle() of client SYNs, served through the real fan-out
 * (paging) and control server. Serves `memory` (after a full GC) beside the contract.
 * Usage: `deno run -A --v8-flags=--expose-gc _million_server.ts SOCKET COUNT`; prints
 * `ready SECONDS` once it serves.
 */
import { ControlServer } from "../../../src/ctl/server.ts";
import { EngineOps } from "../../../src/daemon/engine_ops.ts";
import { fanOutControl, type WorkerCalls } from "../../../src/daemon/fan_out.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { Verdict } from "../../../src/nfqueue/handler.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";

const [socket, countText] = Deno.args;
const count = Number(countText);
const started = performance.now();
const engine = new Engine({
  clock: () => 0,
  capacity: count + 1024,
  localPortRange: [1025, 65535],
});
const control = new EngineControl(engine);
const key = { protocol: "tcp" as const, address: "198.51.100.10", port: 80 };
control.addService(key, { scheduler: "rr", persistence: 0 });
for (const rs of ["203.0.113.11", "203.0.113.12"]) {
  control.addRealServer(key, { address: rs, port: 8080, weight: 1, method: "fullnat" });
}
const lips = Math.ceil(count / 60000) + 1;
for (let i = 0; i < lips; i++) control.addLocalAddress(key, `203.0.114.${i + 1}`);

// Clients 10.x.y.1 with source ports 1024..60999: every session is a distinct 4-tuple.
const buf = new Uint8Array(128);
for (let i = 0; i < count; i++) {
  const client = Math.floor(i / 60000);
  const syn = ipv4({ src: `10.${client >> 8}.${client & 255}.1`, dst: key.address, ttl: 61 })
    .tcp({ sport: 1024 + (i % 60000), dport: 80, flags: "S", seq: 1, window: 29200 })
    .build();
  buf.set(syn);
  if (engine.handle(buf, 0, syn.length, buf.length) !== Verdict.Rewritten) {
    throw new Error(`SYN ${i} was not turned into a session`);
  }
}
if (engine.table.size !== count) throw new Error(`table holds ${engine.table.size}`);

// One "worker": the engine itself, answering as a packet worker does (without the thread, so
// nothing is cloned or transferred).
const ops = new EngineOps(control);
const worker: WorkerCalls = {
  size: 1,
  call: (_index, op, args = []) =>
    new Promise((resolve, reject) => {
      const reply = ops.answer(op, args);
      if (reply === undefined) reject(new Error(`unknown worker op '${op}'`));
      else resolve(reply.result);
    }),
  all: (op, args) => worker.call(0, op, args).then((r) => [r]),
};
const server = new ControlServer(fanOutControl(worker, () => Promise.resolve(), () => {}));
server.register("memory", () => {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage();
});
await server.listen({ path: socket });
console.log(`ready ${((performance.now() - started) / 1000).toFixed(1)}`);
