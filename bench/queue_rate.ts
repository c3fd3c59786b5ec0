/**
 * How many packets per second the NFQUEUE loop handles, with an Accept handler and with a
 * handler that returns every packet as Rewritten (identical bytes, so every verdict carries
 * the packet back to the kernel), and TCP throughput with GSO off and on side by side.
 *
 *   deno run -A bench/queue_rate.ts [--seconds N] [--size BYTES] [--repeat N]
 *
 * Builds client/router/server namespaces (testkit/queue_topology.ts), runs the queue loop in
 * the router (this same file, `--loop` mode), diverts iperf3 traffic through it and prints
 * the loop's packet rate, batches and average batch size, the kernel's queue drops, and TCP
 * throughput without the queue and through it for: accept (no payload back), same (payload
 * back unchanged) and dnat (a real 1:1 address rewrite of both directions with incremental
 * checksum updates), each with GSO off and on; with GSO on, rewritten packets get full
 * checksums (WASM SIMD; the "ts" row uses the plain TypeScript sum instead). TCP figures are
 * medians of `--repeat` runs (default 3). Needs root and iperf3. Namespaces are always
 * deleted.
 *
 * @module
 */

import type { DiversionSpec } from "../src/fullnat/types.ts";
import { Diversion } from "../src/kernel/diversion.ts";
import { NfQueue, type NfQueueOptions } from "../src/nfqueue/queue.ts";
import { applyDataPathSysctls } from "../src/kernel/sysctl.ts";
import { handlerByName } from "../testkit/handlers.ts";
import { lines, Topology } from "../testkit/queue_topology.ts";

const QUEUE = 31;
// Not assigned anywhere: the dnat handler translates it to the server and back.
const VIRTUAL_IP = "10.201.2.99";

/** One sample the loop prints while it runs. */
interface Sample {
  t: number;
  received: number;
  batches: number;
}

if (Deno.args[0] === "--loop") {
  await loopMode(Number(Deno.args[1]), Deno.args[2], JSON.parse(Deno.args[3] ?? "{}"));
} else {
  await benchMode();
}

/** Inside the router namespace: run the queue, print a sample every 250 ms until stdin closes. */
async function loopMode(
  queueNum: number,
  handler: string,
  options: LoopOptions,
): Promise<void> {
  applyDataPathSysctls();
  const q = NfQueue.open({ queueNum, maxLen: 8192, ...options });
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

/** Queue options the bench varies. */
type LoopOptions = Pick<NfQueueOptions, "gso" | "fullChecksum">;

interface LoopResult {
  pps: number;
  gsoPackets: number;
  checksumsCompleted: number;
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
  options: LoopOptions = { gso: false },
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
      JSON.stringify(options),
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
    gsoPackets: c.gsoPackets,
    checksumsCompleted: c.checksumsCompleted,
    received: c.received,
    batches: c.batches,
    avgBatch: c.batches > 0 ? c.received / c.batches : 0,
    queueDropped: final.kernel?.queueDropped ?? 0,
    userDropped: final.kernel?.userDropped ?? 0,
    waits: c.waits,
  };
}

async function iperf(
  topo: Topology,
  target: string,
  args: string[],
): Promise<Record<string, unknown>> {
  const r = await topo.exec(topo.client, "iperf3", "-c", target, "-J", ...args);
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
        const j = await iperf(topo, topo.serverIp, [
          "-u",
          "-b",
          "0",
          "-l",
          String(size),
          "-t",
          String(seconds),
        ]);
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
    const repeat = flag("--repeat", 3);
    console.log(
      `TCP: iperf3 single stream for ${seconds}s, median of ${repeat} runs ` +
        `(both directions through the queue)`,
    );
    const gbpsOf = (j: Record<string, unknown>) =>
      (j.end as { sum_received: { bits_per_second: number } }).sum_received.bits_per_second /
      1e9;
    const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const directRuns: number[] = [];
    for (let i = 0; i < repeat; i++) {
      directRuns.push(gbpsOf(await iperf(topo, topo.serverIp, ["-t", String(seconds)])));
    }
    console.log(`  ${"no queue".padEnd(18)}${median(directRuns).toFixed(2).padStart(7)} Gbit/s`);
    // dnat: the client talks to a virtual address the handler translates to the server and
    // back, so every packet of both directions is really rewritten.
    const dnat: DiversionSpec = {
      services: [{ protocol: "tcp", address: VIRTUAL_IP, port: 5201 }],
      localAddresses: [],
      natRealServers: [{ protocol: "tcp", address: topo.serverIp, port: 5201 }],
    };
    const dnatHandler = `dnat=${VIRTUAL_IP}>${topo.serverIp}`;
    const tcpRows: Array<[string, string, DiversionSpec, string, LoopOptions]> = [
      ["accept", "accept", tcp, topo.serverIp, { gso: false }],
      ["accept", "accept", tcp, topo.serverIp, { gso: true }],
      ["same", "same", tcp, topo.serverIp, { gso: false }],
      ["same", "same", tcp, topo.serverIp, { gso: true }],
      ["dnat", dnatHandler, dnat, VIRTUAL_IP, { gso: false }],
      ["dnat", dnatHandler, dnat, VIRTUAL_IP, { gso: true }],
      ["dnat, ts sum", dnatHandler, dnat, VIRTUAL_IP, { gso: true, fullChecksum: "scalar" }],
    ];
    console.log(
      `  ${"handler".padEnd(14)}${"GSO off".padStart(11)}${"GSO on".padStart(20)}` +
        "   (pkt/s, full checksums per s with GSO on)",
    );
    const lineFor = new Map<string, string>();
    for (const [label, handler, spec, target, options] of tcpRows) {
      const runs: number[] = [];
      let last: LoopResult | undefined;
      for (let i = 0; i < repeat; i++) {
        last = await withLoop(topo, handler, spec, async () => {
          runs.push(gbpsOf(await iperf(topo, target, ["-t", String(seconds)])));
        }, options);
      }
      const cell = `${median(runs).toFixed(2).padStart(6)} Gbit/s`;
      const extra = options.gso
        ? `   ${Math.round(last!.pps)} pkt/s, ${
          Math.round(last!.checksumsCompleted / seconds)
        } sums/s, GSO pkts ${last!.gsoPackets}`
        : "";
      const key = label;
      if (!options.gso) {
        lineFor.set(key, `  ${label.padEnd(14)}${cell.padStart(11)}`);
      } else {
        console.log(
          `${lineFor.get(key) ?? `  ${label.padEnd(14)}${"".padStart(11)}`}` +
            `${cell.padStart(20)}${extra}`,
        );
      }
    }
  } finally {
    await topo.destroy();
  }
}
