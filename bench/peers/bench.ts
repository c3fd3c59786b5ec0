/**
 * Runs peers through the workloads: one fresh topology per peer and run, runs interleaved
 * peer by peer (run 1 of every peer, then run 2 of every peer, ...) so that drift of the
 * machine hits all peers alike. A failure is recorded in the peer's sample and the next
 * peer goes on.
 *
 * @module
 */

import { createTopology, type Topology } from "../../testkit/netns.ts";
import { settle, startCpuMeter } from "./cpu.ts";
import type { DaemonStatus, Peer, PeerInstance } from "./peers.ts";
import { type RealServer, startRealServer } from "./real_server.ts";
import {
  type PerConnection,
  type Sample,
  summarize,
  type Summary,
  type Workload,
  WORKLOADS,
} from "./results.ts";
import { runBurst } from "./burst.ts";
import { runBulk, runConns, runUdp, SECOND_CLIENT_ADDR, type WorkloadParams } from "./workloads.ts";

/** Namespace prefix of the benchmark's topologies (distinct from the tests' `fn`). */
export const BENCH_PREFIX = "fnbench";

/** Options of {@linkcode runBenchmark}. */
export interface BenchOptions {
  peers: readonly Peer[];
  runs: number;
  params: WorkloadParams;
  /** Workloads to run (default all). */
  workloads?: readonly Workload[];
  daemonArgs?: readonly string[];
  passthroughArgs?: readonly string[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** Everything a benchmark produced. */
export interface BenchResult {
  /** Samples per peer id, one per run, in run order. */
  samples: Map<string, Sample[]>;
  /** Medians per peer id. */
  summaries: Map<string, Summary>;
}

function message(e: unknown): string {
  // One line for a table cell, keeping what follows a first line such as "daemon exited with 1:".
  const text = (e instanceof Error ? e.message : String(e)).split("\n").map((l) => l.trim());
  return text.filter((l) => l !== "").join(" / ").slice(0, 300);
}

/**
 * Client-side settings so a connection-per-request load is not limited by the client's ports,
 * and the second address of the UDP workload.
 */
async function tuneClient(topo: Topology): Promise<void> {
  await topo.exec("client", ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535"], {
    check: true,
  });
  await topo.exec("client", ["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"], { check: true });
  await topo.exec("client", [
    "ip",
    "addr",
    "add",
    `${SECOND_CLIENT_ADDR}/24`,
    "dev",
    topo.ifaces.client,
  ], { check: true });
}

/** Runs one peer once: topology, real server, peer, each workload, teardown. */
export async function runPeerOnce(
  peer: Peer,
  opts: Omit<BenchOptions, "peers" | "runs">,
): Promise<Sample> {
  const sample: Sample = { cpu: {}, errors: [], unsupported: [] };
  const log = opts.log ?? (() => {});
  let topo: Topology | undefined;
  let rs: RealServer | undefined;
  let inst: PeerInstance | undefined;
  try {
    topo = await createTopology({ prefix: BENCH_PREFIX, rsCount: 1, ...peer.topology });
    await tuneClient(topo);
    rs = await startRealServer(topo);
    inst = await peer.setup({
      topo,
      rs,
      daemonArgs: opts.daemonArgs ?? [],
      passthroughArgs: opts.passthroughArgs ?? [],
    });
    for (const w of opts.workloads ?? WORKLOADS) {
      const to = inst.endpoints[w];
      if (to === undefined) {
        sample.unsupported.push(w);
        continue;
      }
      // Counters are read outside the CPU meter's window (each read starts a process).
      const before = w === "conns" ? await inst.status?.().catch(() => undefined) : undefined;
      // The burst measures its own CPU, over the drains only (the balancer is frozen between).
      const meter = w === "burst" ? undefined : await startCpuMeter(topo.lb);
      try {
        if (w === "bulk") {
          sample.gbps = await runBulk(topo, to, opts.params);
        } else if (w === "download") {
          sample.gbpsDown = await runBulk(topo, to, opts.params, true);
        } else if (w === "conns") {
          const f = await runConns(topo, to, opts.params);
          sample.cps = f.requestsPerSec;
          sample.p99Ms = f.p99Ms;
          // A few reset connections under overload are part of the figure; many are a fault.
          if (f.errors > f.requests * 0.01) {
            sample.errors.push(`conns: ${f.errors} errors in ${f.requests} requests`);
          }
        } else if (w === "udp") {
          sample.kpps = await runUdp(topo, to, rs, opts.params);
        } else {
          const r = await runBurst(topo, to, rs, [topo.addrs.client, SECOND_CLIENT_ADDR], {
            bursts: opts.params.bursts,
            perSender: opts.params.burstPerSender,
            payload: opts.params.udpPayload,
          });
          sample.burstKpps = r.kpps;
          sample.cpu.burst = r.cpu;
          sample.burstUneven = r.unevenShare;
          if (r.dropped > 0) sample.errors.push(`burst: the kernel dropped ${r.dropped} packets`);
        }
        if (meter !== undefined) sample.cpu[w] = await meter.stop();
        if (before !== undefined) {
          const after = await inst.status?.().catch(() => undefined);
          if (after !== undefined) sample.perConn = perConnection(before, after);
        }
      } catch (e) {
        sample.errors.push(`${w}: ${message(e)}`);
      }
      log(`    ${peer.id} ${w}: ${describe(sample, w)}`);
    }
  } catch (e) {
    sample.errors.push(`setup: ${message(e)}`);
  } finally {
    if (inst !== undefined) {
      await inst.teardown().catch((e) => sample.errors.push(`teardown: ${message(e)}`));
    }
    await rs?.stop().catch((e) => sample.errors.push(`real server: ${message(e)}`));
    await topo?.destroy().catch((e) => sample.errors.push(`namespaces: ${message(e)}`));
  }
  return sample;
}

/** What the daemon did per new session between two `status` reads. */
export function perConnection(before: DaemonStatus, after: DaemonStatus): PerConnection {
  const d = (f: (s: DaemonStatus) => number | undefined) => (f(after) ?? 0) - (f(before) ?? 0);
  const sessions = Math.max(1, d((s) => s.engine.sessionsCreated));
  return {
    sessions,
    queued: d((s) => s.queue.received) / sessions,
    batches: d((s) => s.queue.batches) / sessions,
    offloaded: d((s) => s.engine.offloaded) / sessions,
    fallback: d((s) => s.engine.offloadFallback) / sessions,
    requests: d((s) => s.offload?.step.requests) / sessions,
  };
}

function describePerConn(p: PerConnection | undefined): string {
  if (p === undefined) return "";
  return `; per connection: ${p.queued.toFixed(2)} packets queued in ${
    p.batches.toFixed(2)
  } batches, ${p.offloaded.toFixed(3)} offloaded, ${
    p.fallback.toFixed(2)
  } packets of offloaded sessions queued, ${p.requests.toFixed(3)} netlink requests`;
}

function describe(s: Sample, w: Workload): string {
  const err = s.errors.find((e) => e.startsWith(`${w}:`));
  if (err) return `FAILED ${err}`;
  const cpu = s.cpu[w];
  const c = cpu
    ? ` (balancer ${(cpu.proc * 100).toFixed(0)}% cpu, softirq ${(cpu.softirq * 100).toFixed(0)}%)`
    : "";
  if (w === "bulk") return `${s.gbps?.toFixed(2)} Gbit/s${c}`;
  if (w === "download") return `${s.gbpsDown?.toFixed(2)} Gbit/s${c}`;
  if (w === "conns") {
    return `${s.cps?.toFixed(0)} conn/s, p99 ${s.p99Ms?.toFixed(2)} ms${c}${
      describePerConn(s.perConn)
    }`;
  }
  if (w === "burst") {
    const uneven = s.burstUneven === undefined
      ? ""
      : `, one queue empty early for ${(s.burstUneven * 100).toFixed(0)}% of the drain`;
    return `${s.burstKpps?.toFixed(1)} kpkt/s drained${c}${uneven}`;
  }
  return `${s.kpps?.toFixed(1)} kpkt/s${c}`;
}

/** Runs every peer `runs` times, interleaved, and folds the results into medians. */
export async function runBenchmark(opts: BenchOptions): Promise<BenchResult> {
  const samples = new Map<string, Sample[]>(opts.peers.map((p) => [p.id, []]));
  const log = opts.log ?? (() => {});
  for (let run = 1; run <= opts.runs; run++) {
    for (const peer of opts.peers) {
      log(`run ${run}/${opts.runs}: ${peer.label}`);
      const s = await runPeerOnce(peer, opts);
      for (const e of s.errors.filter((e) => !/^(bulk|download|conns|udp|burst):/.test(e))) {
        log(`    ${e}`);
      }
      samples.get(peer.id)!.push(s);
      // Let the previous peer's sockets, timers, softirq backlog and namespace teardown die
      // down, so they do not run into the next peer's figures.
      const idle = await settle();
      if (idle < 0.9) log(`    (machine still ${((1 - idle) * 100).toFixed(0)}% busy after 10 s)`);
    }
  }
  const summaries = new Map([...samples].map(([id, s]) => [id, summarize(s)]));
  return { samples, summaries };
}
