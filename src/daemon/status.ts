/**
 * The daemon's `status` control op: every counter the data path keeps, in one document. The
 * top-level figures are sums over the packet workers (so a one-worker daemon reports exactly
 * its engine and queue); `workers` keeps each worker's own.
 *
 * @module
 */
import type { EngineCounters } from "../fullnat/counters.ts";
import type { DiversionSpec } from "../fullnat/types.ts";
import type { KernelQueueStats } from "../nfqueue/proc_stats.ts";
import type { NfQueueCounters } from "../nfqueue/counters.ts";
import type { RawSenderCounters } from "../kernel/raw_sender.ts";
import type { DrainView } from "./drains.ts";
import type { VersionsStatus } from "../persist/versions.ts";
import { sumCounters } from "./merge.ts";
import type { WorkerStatus } from "./worker_protocol.ts";
import type { OffloadStepCounters } from "./offload_step.ts";
import type { HealthCounters } from "./health_monitor.ts";

/** The kernel's queue figures that add up across queues. */
export type KernelTotals = Pick<
  KernelQueueStats,
  "queueTotal" | "queueDropped" | "userDropped" | "idSequence"
>;

/** What `status` returns. */
export interface StatusReport {
  sessions: number;
  sessionCapacity: number;
  /** Persistence templates held, all workers. */
  templates: number;
  engine: EngineCounters;
  /** Summed queue counters; `queueNum` is worker 0's queue, `queues` how many there are. */
  queue: NfQueueCounters & { queueNum: number; queues: number };
  /** The kernel's own figures summed over the workers' queues (drops before we saw anything). */
  kernel: KernelTotals | null;
  /** Packets the engines originated (expiry RSTs): sent, and sends that failed. */
  emitter: Pick<RawSenderCounters, "sent" | "sendErrors">;
  diversion: DiversionSpec;
  /** The health checks' counters (absent from a daemon before health checks). */
  health?: HealthCounters;
  /** Each worker's own figures. */
  workers: WorkerStatus[];
  /** Drains running and recently finished (`rs drain`); left out by daemons without them. */
  drains?: DrainView[];
  /** Commit-confirm and rollbacks (src/persist/versions.ts); absent from older daemons. */
  config?: VersionsStatus;
  /**
   * The offload steps' counters summed over the workers running one (`--offload
   * established`), and the first worker's reason for running none; absent while it is off.
   */
  offload?: { step: Partial<OffloadStepCounters>; problem: string | null };
}

/** Builds the report from the workers' statuses (in worker order) and the installed diversion. */
export function statusReport(
  workers: WorkerStatus[],
  diversion: DiversionSpec,
  health?: HealthCounters,
): StatusReport {
  const kernels = workers.map((w) => w.kernel).filter((k): k is KernelQueueStats => k !== null);
  const kernel: KernelTotals | null = kernels.length === 0 ? null : sumCounters(
    kernels.map((k) => ({
      queueTotal: k.queueTotal,
      queueDropped: k.queueDropped,
      userDropped: k.userDropped,
      idSequence: k.idSequence,
    })),
  );
  const emitted = sumCounters(workers.map((w) => w.emitter));
  return {
    sessions: workers.reduce((n, w) => n + w.sessions, 0),
    sessionCapacity: workers.reduce((n, w) => n + w.sessionCapacity, 0),
    templates: workers.reduce((n, w) => n + (w.templates ?? 0), 0),
    engine: sumCounters(workers.map((w) => w.engine)),
    queue: {
      ...sumCounters(workers.map((w) => w.queue)),
      queueNum: workers[0]?.queueNum ?? 0,
      queues: workers.length,
    },
    kernel,
    emitter: { sent: emitted.sent ?? 0, sendErrors: emitted.sendErrors ?? 0 },
    diversion,
    ...(health !== undefined && { health }),
    ...(diversion.offload === true && {
      offload: {
        step: sumCounters(
          workers.map((w) => w.offload).filter((o): o is OffloadStepCounters => o != null),
        ),
        problem: workers.find((w) => w.offloadProblem != null)?.offloadProblem ?? null,
      },
    }),
    workers,
  };
}
