/**
 * The queue loop of the end-to-end tests, run inside the router namespace:
 *
 *   deno run -A router_loop.ts QUEUE_NUM HANDLER [sysctl] [OPTIONS_JSON]
 *
 * Prints one JSON line when the queue is bound ({"ready":true,...} or {"error":...}), runs
 * until its stdin closes, then prints {"counters":...,"kernel":...} and exits.
 *
 * @module
 */

import { NfQueue } from "../../../src/nfqueue/queue.ts";
import { applyDataPathSysctls } from "../../../src/kernel/sysctl.ts";
import { handlerByName } from "../../../testkit/handlers.ts";

const [queueArg, handlerName, sysctl, optionsJson] = Deno.args;
let queue: NfQueue;
try {
  const changes = sysctl === "sysctl" ? applyDataPathSysctls() : [];
  // Extra NfQueueOptions (gso, fullChecksum...) as JSON.
  const extra = JSON.parse(optionsJson ?? "{}");
  queue = NfQueue.open({ ...extra, queueNum: Number(queueArg) });
  console.log(JSON.stringify({ ready: true, portId: queue.portId, sysctl: changes }));
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message, name: (err as Error).name }));
  Deno.exit(0);
}

// A timer on the same event loop proves the loop does not starve it.
let ticks = 0;
const timer = setInterval(() => ticks++, 50);
const loop = queue.run(handlerByName(handlerName));
// Stop when the parent closes our stdin.
for await (const _ of Deno.stdin.readable) {
  // Nothing to read; only EOF matters.
}
const kernel = queue.kernelStats();
queue.stop();
await loop;
clearInterval(timer);
queue.close();
console.log(JSON.stringify({ counters: queue.counters, kernel, ticks }));
