/**
 * Opens a queue inside a namespace for the open/lifecycle tests:
 *
 *   deno run -A open_probe.ts QUEUE_NUM once|hold|lifecycle
 *
 * Prints one JSON line: {"ok":true,...} or {"error":message,"name":...}. `hold` then keeps
 * the queue until stdin closes; `lifecycle` exercises run/stop/close and reports timings.
 *
 * @module
 */

import { NfQueue } from "../../../src/nfqueue/queue.ts";
import { acceptHandler } from "../../../testkit/handlers.ts";

const [queueArg, mode] = Deno.args;
const queueNum = Number(queueArg);

function fail(err: unknown): never {
  console.log(JSON.stringify({ error: (err as Error).message, name: (err as Error).name }));
  Deno.exit(0);
}

let q: NfQueue;
try {
  q = NfQueue.open({ queueNum });
} catch (err) {
  fail(err);
}

if (mode === "once") {
  console.log(JSON.stringify({ ok: true, kernel: q.kernelStats() }));
  q.close();
} else if (mode === "hold") {
  console.log(JSON.stringify({ ok: true, portId: q.portId }));
  for await (const _ of Deno.stdin.readable) {
    // Hold until EOF.
  }
  q.close();
} else {
  const loop = q.run(acceptHandler());
  const running = q.running;
  let secondRun = "";
  await q.run(acceptHandler()).catch((e) => secondRun = (e as Error).message);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  q.stop();
  await loop;
  const stopMs = performance.now() - t0;
  // close() while running defers the close until the loop returns.
  const loop2 = q.run(acceptHandler());
  await new Promise((r) => setTimeout(r, 50));
  q.close();
  await loop2;
  const afterClose = q.kernelStats();
  let runAfterClose = "";
  await q.run(acceptHandler()).catch((e) => runAfterClose = (e as Error).message);
  let reopened = false;
  try {
    NfQueue.open({ queueNum }).close();
    reopened = true;
  } catch (err) {
    fail(err);
  }
  console.log(JSON.stringify({
    ok: true,
    running,
    secondRun,
    stopMs,
    afterClose: afterClose ?? null,
    runAfterClose,
    reopened,
  }));
}
