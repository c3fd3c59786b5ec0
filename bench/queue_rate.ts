/**
 * How many packets per second the NFQUEUE loop handles, with an Accept handler and with a
 * handler that returns every packet as Rewritten (identical bytes, so every verdict carries
 * the packet back to the kernel).
 *
 *   deno run -A bench/queue_rate.ts [--seconds N] [--size BYTES]
 *
 * Builds client/router/server namespaces (tests/nfqueue/topology.ts), runs the queue loop in
 * the router (this same file, `--loop` mode), diverts iperf3 traffic through it and prints
 * the loop's packet rate, batches and average batch size, the kernel's queue drops, and TCP
 * throughput with and without the queue. Needs root and iperf3. Namespaces are always
 * deleted.
 *
 * @module
 */

import type { DiversionSpec } from "../src/fullnat/types.ts";
import { Diversion } from "../src/nfqueue/diversion.ts";
import { NfQueue } from "../src/nfqueue/queue.ts";
import { applyDataPathSysctls } from "../src/nfqueue/sysctl.ts";
import { handlerByName } from "../tests/nfqueue/handlers.ts";
import { lines, Topology } from "../tests/nfqueue/topology.ts";

const QUEUE = 31;

/** One sample the loop prints while it runs. */
interface Sample {
  t: number;
  received: number;
  batches: number;
}

if (Deno.args[0] === "--loop") {
  await loopMode(Number(Deno.args[1]), Deno.args[2], Deno.args[3] === "gso");
} else {
  await benchMode();
}

/** Inside the router namespace: run the queue, print a sample every 250 ms until stdin closes. */
async function loopMode(queueNum: number, handler: string, gso: boolean): Promise<void> {
  applyDataPathSysctls();
  const q = NfQueue.open({ queueNum, maxLen: 8192, gso });
  console.log(JSON.stringify({ ready: true }));
  const sample = () =>
    console.log(JSON.stringify({
      t: performance.now(),
      received: q.counters.received,
      batches: q.counters.batches,
    }));
  // The samples are printed by a timer on the same event loop as the queue: if the loop
  // starved the event loop, they would bunch up.
  const timer = setInterval(sample, 250);
  const loop = q.run(handlerByName(handler));
  for await (const _ of Deno.stdin.readable) {
    // Until EOF.
  }
  clearInterval(timer);
  const kernel = q.kernelStats();
  q.stop();
  await loop;
  q.close();
  console.log(JSON.stringify({ done: true, counters: q.counters, kernel }));
}

interface LoopResult {
  pps: number;
  received: number;
  batches: number;
  avgBatch: number;
  queueDropped: number;
  userDropped: number;
  waits: number;
}

async function withLoop(
  topo: Topology,
  handler: string,
  spec: DiversionSpec,
  traffic: () => Promise<void>,
  gso = false,
): Promise<LoopResult> {
  const child = topo.spawn(
    topo.router,
    [
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--loop",
      String(QUEUE),
      handler,
      gso ? "gso" : "",
    ],
    { stdin: "piped", stdout: "piped" },
  );
  const out = lines(child.stdout);
  const ready = await out.next();
  if (ready.done || !JSON.parse(ready.value).ready) throw new Error("loop did not start");
  const diversion = new Diversion({ queueNum: QUEUE, prefix: "FNQB", netns: topo.router });
  await diversion.install(spec);
  const samples: Sample[] = [];
  let final: { counters: Record<string, number>; kernel?: Record<string, number> } | undefined;
  const reader = (async () => {
    for await (const line of out) {
      const msg = JSON.parse(line);
      if (msg.done) final = msg;
      else samples.push(msg);
    }
  })();
  try {
    await traffic();
  } finally {
    await diversion.remove();
    await child.stdin.close();
    await reader;
    await child.status;
  }
  if (final === undefined) throw new Error("loop gave no report");
  // Rate over the samples during which packets kept arriving (the busy window).
  let best = 0;
  const busy = samples.filter((s, i) => i > 0 && s.received > samples[i - 1].received);
  if (busy.length >= 2) {
    const first = samples[samples.indexOf(busy[0]) - 1];
    const last = busy[busy.length - 1];
    best = (last.received - first.received) / ((last.t - first.t) / 1000);
  }
  const c = final.counters;
  return {
    pps: best,
    received: c.received,
    batches: c.batches,
    avgBatch: c.batches > 0 ? c.received / c.batches : 0,
    queueDropped: final.kernel?.queueDropped ?? 0,
    userDropped: final.kernel?.userDropped ?? 0,
    waits: c.waits,
  };
}

async function iperf(topo: Topology, args: string[]): Promise<Record<string, unknown>> {
  const r = await topo.exec(topo.client, "iperf3", "-c", topo.serverIp, "-J", ...args);
  if (r.code !== 0 && r.stdout.trim() === "") throw new Error(`iperf3 failed (${r.code})`);
  return JSON.parse(r.stdout);
}

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

async function benchMode(): Promise<void> {
  const seconds = flag("--seconds", 5);
  const size = flag("--size", 64);
  const topo = await Topology.create("bench");
  try {
    topo.spawn(topo.server, ["iperf3", "-s", "-B", topo.serverIp]);
    await topo.waitListening(topo.server, 5201);
    const udp: DiversionSpec = {
      services: [{ protocol: "udp", address: topo.serverIp, port: 5201 }],
      localAddresses: [],
      natRealServers: [],
    };
    const tcp: DiversionSpec = {
      services: [{ protocol: "tcp", address: topo.serverIp, port: 5201 }],
      localAddresses: [],
      natRealServers: [{ protocol: "tcp", address: topo.serverIp, port: 5201 }],
    };
    console.log(
      `UDP flood: iperf3 -u -b 0 -l ${size} for ${seconds}s, client -> router (queue) -> server`,
    );
    const rows: string[] = [];
    for (const handler of ["accept", "same"]) {
      let sent = 0;
      const r = await withLoop(topo, handler, udp, async () => {
        const j = await iperf(topo, ["-u", "-b", "0", "-l", String(size), "-t", String(seconds)]);
        const end = j.end as { sum?: { packets?: number } };
        sent = end.sum?.packets ?? 0;
      });
      rows.push(
        `  ${handler.padEnd(8)} ${Math.round(r.pps).toString().padStart(8)} pkt/s  ` +
          `received ${r.received}  batches ${r.batches}  avg batch ${r.avgBatch.toFixed(1)}  ` +
          `waits ${r.waits}  sender sent ${sent}  kernel queue_dropped ${r.queueDropped} ` +
          `user_dropped ${r.userDropped}`,
      );
      console.log(rows[rows.length - 1]);
    }
    console.log(`TCP: iperf3 single stream for ${seconds}s (both directions through the queue)`);
    const direct = await iperf(topo, ["-t", String(seconds)]);
    const gbps = (j: Record<string, unknown>) =>
      ((j.end as { sum_received: { bits_per_second: number } }).sum_received.bits_per_second /
        1e9).toFixed(2);
    console.log(`  no queue  ${gbps(direct)} Gbit/s`);
    // With gso the queue sees unsegmented super-packets; only Accept is measured that way,
    // since a rewritten GSO packet needs a full checksum that the "same" handler leaves out.
    for (const [handler, gso] of [["accept", false], ["same", false], ["accept", true]] as const) {
      let result = "";
      const r = await withLoop(topo, handler, tcp, async () => {
        result = gbps(await iperf(topo, ["-t", String(seconds)]));
      }, gso);
      console.log(
        `  ${(handler + (gso ? "+gso" : "")).padEnd(10)}  ${result} Gbit/s  ` +
          `${Math.round(r.pps)} pkt/s  avg batch ${r.avgBatch.toFixed(1)}`,
      );
    }
  } finally {
    await topo.destroy();
  }
}
