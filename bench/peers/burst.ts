/**
 * The queued-burst workload: how fast a balancer empties its queues when it, and nothing
 * else, sets the pace.
 *
 * The live UDP workload cannot show what a worker can do on a small machine: the senders,
 * the real server and the kernel share the cores with the workers, so a worker waits for
 * packets most of the time. Here the balancer's processes are frozen (SIGSTOP) while two
 * senders, one per client address (so two workers get one flow each), fill its queues; then
 * the senders are done, the balancer is thawed, and the time until the kernel reports every
 * queue empty is the time it took to take, rewrite and return (and so forward) the burst.
 * Repeated `bursts` times after one burst that is not counted (it warms the balancer's JIT
 * and session tables up, as the live workloads' first second does); the figure is all
 * packets over all drain times, in kpkt/s.
 *
 * Only balancers with an NFQUEUE can hold a burst (the pass-through and fullnat).
 *
 * @module
 */

import { freezeNamespace, queuesSeenBy } from "../../testkit/freeze.ts";
import type { Topology } from "../../testkit/netns.ts";
import { udpFlood } from "../../testkit/udp.ts";
import { waitFor } from "../../testkit/wait.ts";
import { startCpuMeter } from "./cpu.ts";
import type { RealServer } from "./real_server.ts";
import type { CpuUse } from "./results.ts";
import type { Endpoint } from "./workloads.ts";

/**
 * Queue length the queue-based peers are given, so that one queue holds a whole burst of both
 * senders (the default, 16384, would cut the 1-worker case short).
 */
export const BURST_QUEUE_MAXLEN = 65536;

/** Parameters of one burst workload. */
export interface BurstParams {
  /** Bursts to run. */
  bursts: number;
  /** Datagrams per sender and burst (two senders). */
  perSender: number;
  /** UDP payload bytes. */
  payload: number;
}

/** What the workload measured. */
export interface BurstResult {
  /** Packets drained per second over all bursts, thousands. */
  kpps: number;
  /** Packets queued over all bursts. */
  queued: number;
  /** Summed drain time, ms. */
  drainMs: number;
  /**
   * Share of the drain time during which some queue was already empty and another not, when
   * there are several queues (0: they finished together).
   */
  unevenShare: number;
  /** Packets the kernel dropped because a queue or socket buffer was full. */
  dropped: number;
  /** The balancer's CPU while draining. */
  cpu: CpuUse;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

interface OneBurst {
  queued: number;
  dropped: number;
  ms: number;
  /** When the first queue was empty, ms after the thaw. */
  firstEmptyMs: number;
  /** Process and softirq CPU seconds spent while draining. */
  cpuSeconds: CpuUse;
}

async function oneBurst(
  topo: Topology,
  to: Endpoint,
  sources: readonly string[],
  p: BurstParams,
): Promise<OneBurst> {
  const frozen = await freezeNamespace(topo.lb);
  const pid = frozen.pids[0];
  const queues = () => queuesSeenBy(pid);
  let meter;
  let t0: number;
  let queued: number;
  let dropped: number;
  try {
    const lost = () => sum(queues().map((q) => q.queueDropped + q.userDropped));
    const lostBefore = lost();
    await Promise.all(
      sources.map((src) => udpFlood(topo.client, to.host, to.port, p.perSender, p.payload, src)),
    );
    queued = sum(queues().map((q) => q.queueTotal));
    dropped = lost() - lostBefore;
    meter = await startCpuMeter(topo.lb);
    t0 = performance.now();
  } finally {
    frozen.thaw();
  }
  let firstEmptyMs: number | undefined;
  // Polled every millisecond: the drain time is over-, never under-estimated.
  for (;;) {
    const left = queues().map((q) => q.queueTotal);
    if (firstEmptyMs === undefined && left.some((n) => n === 0)) {
      firstEmptyMs = performance.now() - t0;
    }
    if (sum(left) === 0) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  const ms = performance.now() - t0;
  const cpu = await meter.stop();
  const seconds = ms / 1000;
  return {
    queued,
    dropped,
    ms,
    firstEmptyMs: firstEmptyMs ?? ms,
    cpuSeconds: { proc: cpu.proc * seconds, softirq: cpu.softirq * seconds },
  };
}

/** Runs the workload; throws when a burst was not forwarded whole. */
export async function runBurst(
  topo: Topology,
  to: Endpoint,
  rs: RealServer,
  sources: readonly string[],
  p: BurstParams,
): Promise<BurstResult> {
  await rs.resetBurstCounter();
  const warmup = await oneBurst(topo, to, sources, p);
  const bursts: OneBurst[] = [];
  for (let b = 0; b < p.bursts; b++) bursts.push(await oneBurst(topo, to, sources, p));
  const queued = sum(bursts.map((b) => b.queued));
  if (queued === 0) throw new Error("nothing was queued: the traffic is not diverted");
  // Forwarding happens inside the verdict call, so arrivals trail the drain only by the
  // real server's receive softirq.
  const expected = warmup.queued + queued;
  const arrived = await waitFor(async () => {
    const n = await rs.burstArrived();
    return n >= expected ? n : undefined;
  }, { timeoutMs: 3000, what: `${expected} burst datagrams at the real server` })
    .catch(() => rs.burstArrived());
  if (arrived < expected) {
    throw new Error(`${expected} datagrams queued but ${arrived} reached the real server`);
  }
  const drainMs = sum(bursts.map((b) => b.ms));
  const seconds = drainMs / 1000;
  return {
    kpps: queued / seconds / 1000,
    queued,
    drainMs,
    unevenShare: sum(bursts.map((b) => b.ms - b.firstEmptyMs)) / drainMs,
    dropped: sum(bursts.map((b) => b.dropped)),
    cpu: {
      proc: sum(bursts.map((b) => b.cpuSeconds.proc)) / seconds,
      softirq: sum(bursts.map((b) => b.cpuSeconds.softirq)) / seconds,
    },
  };
}
