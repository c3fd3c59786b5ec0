/**
 * The daemon's `status` control op: every counter the data path keeps, in one document.
 *
 * @module
 */
import type { EngineCounters } from "../fullnat/counters.ts";
import type { Engine } from "../fullnat/engine.ts";
import type { DiversionSpec } from "../fullnat/types.ts";
import type { Diversion } from "../nfqueue/diversion.ts";
import type { KernelQueueStats } from "../nfqueue/proc_stats.ts";
import type { NfQueue } from "../nfqueue/queue.ts";
import type { NfQueueCounters } from "../nfqueue/counters.ts";

/** What `status` returns. */
export interface StatusReport {
  sessions: number;
  sessionCapacity: number;
  engine: EngineCounters;
  queue: NfQueueCounters & { queueNum: number };
  /** The kernel's own figures for the queue (drops it did before we saw anything). */
  kernel: KernelQueueStats | null;
  diversion: DiversionSpec;
}

/** Snapshot of the counters. */
export function statusReport(engine: Engine, queue: NfQueue, diversion: Diversion): StatusReport {
  return {
    sessions: engine.table.size,
    sessionCapacity: engine.table.capacity,
    engine: { ...engine.counters },
    queue: { ...queue.counters, queueNum: queue.queueNum },
    kernel: queue.kernelStats() ?? null,
    diversion: diversion.spec,
  };
}
