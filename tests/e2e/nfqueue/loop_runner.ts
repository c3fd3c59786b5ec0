/**
 * Starts router_loop.ts inside the router namespace with the diversion installed, and
 * collects its counters when done.
 *
 * @module
 */

import type { DiversionSpec } from "../../../src/fullnat/types.ts";
import type { NfQueueCounters } from "../../../src/nfqueue/counters.ts";
import { Diversion } from "../../../src/kernel/diversion.ts";
import type { NfQueueOptions } from "../../../src/nfqueue/queue.ts";
import type { KernelQueueStats } from "../../../src/nfqueue/proc_stats.ts";
import type { SysctlChange } from "../../../src/kernel/sysctl.ts";
import { lines, type Topology } from "../../../testkit/queue_topology.ts";

/** What the loop reported at the end. */
export interface LoopReport {
  counters: NfQueueCounters;
  kernel?: KernelQueueStats;
  /** Timer ticks seen meanwhile: the event loop kept running. */
  ticks: number;
}

/** A running loop. */
export interface RunningLoop {
  sysctl: SysctlChange[];
  /** Stops the loop, removes the diversion and returns the loop's report. */
  finish(): Promise<LoopReport>;
}

const SCRIPT = new URL("./router_loop.ts", import.meta.url).pathname;

/**
 * Starts the loop with `handler` (and queue `options` beyond the number, e.g. `gso`), then
 * diverts `spec` into its queue.
 */
export async function startLoop(
  topo: Topology,
  queueNum: number,
  handler: string,
  spec: DiversionSpec,
  options: Omit<NfQueueOptions, "queueNum"> = {},
): Promise<RunningLoop> {
  const child = topo.spawn(
    topo.router,
    [
      ...[Deno.execPath(), "run", "-A", SCRIPT, String(queueNum), handler, "sysctl"],
      JSON.stringify(options),
    ],
    { stdin: "piped", stdout: "piped" },
  );
  const out = lines(child.stdout);
  const first = await out.next();
  if (first.done) throw new Error("router loop exited before binding its queue");
  const ready = JSON.parse(first.value);
  if (!ready.ready) throw new Error(`router loop failed: ${ready.error}`);
  const diversion = new Diversion({ queueNum, prefix: "FNQT", netns: topo.router });
  await diversion.install(spec);
  return {
    sysctl: ready.sysctl,
    async finish() {
      await diversion.remove();
      await child.stdin.close();
      const last = await out.next();
      await child.status;
      if (last.done) throw new Error("router loop exited without a report");
      return JSON.parse(last.value) as LoopReport;
    },
  };
}
