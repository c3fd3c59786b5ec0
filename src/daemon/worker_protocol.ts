/**
 * Messages between the daemon's main thread and its packet workers (`worker.ts`). Every
 * message is structured-cloned, so only plain data crosses; a page of sessions crosses as bytes
 * whose buffer is transferred, not copied.
 *
 * @module
 */
import type { OffloadStepCounters } from "./offload_step.ts";
import type { EncodedConnectionPage } from "./connection_json.ts";
import type { EngineCounters } from "../fullnat/counters.ts";
import type { ControlTarget, Endpoint, HealthUpdate, ServiceKey } from "../fullnat/types.ts";
import type { NfQueueCounters } from "../nfqueue/counters.ts";
import type { KernelQueueStats } from "../nfqueue/proc_stats.ts";
import type { RawSenderCounters } from "../kernel/raw_sender.ts";
import type { SyncConn } from "../sync/wire.ts";
import type { InstallOutcome } from "../sync/session_sync.ts";

/** What a worker needs to start. */
export interface WorkerConfig {
  /** Worker number, 0-based. */
  index: number;
  /** The NFQUEUE this worker reads. */
  queueNum: number;
  /** This worker's slice of the local port range. */
  localPorts: [number, number];
  /** Session table capacity of this worker. */
  capacity: number;
  rejectPolicy: "reset" | "drop";
  /** What to do with a non-SYN TCP segment to a service that matches no session. */
  noSessionPolicy: "reset" | "drop";
  /** Send RSTs to both ends of an ESTABLISHED session that expires. */
  resetOnExpiry: boolean;
  /** Milliseconds between expiry scans. */
  expiryIntervalMs: number;
  /** Largest packet a TOA may grow a client segment to. */
  mtu: number;
  /** Outer source addresses of TUNNEL packets (`--tunnel-source`). */
  tunnelSources: string[];
  /** Kernel queue length limit of this worker's queue. */
  queueMaxLen: number;
  /** Receive buffer of this worker's queue socket, bytes. */
  queueBufferBytes: number;
  /** Workers in all (the run state's shape). */
  workers: number;
  /**
   * Directory of the state that outlives the process (`src/kernel/run_state.ts`); null keeps
   * the sessions in process memory.
   */
  runDir: string | null;
  /** Bytes a session carries before the fast path takes it (`--offload-min-bytes`). */
  offloadMinBytes: number;
  /** Milliseconds between offload steps (`offload_step.ts`), while the fast path is on. */
  offloadIntervalMs: number;
}

/** Main thread to worker. */
export type ToWorker =
  | { type: "init"; config: WorkerConfig }
  | { type: "call"; id: number; op: string; args: unknown[] }
  | { type: "stop" };

/** A refused or failed call, rebuilt as a ControlError on the main thread when it is one. */
export interface WorkerError {
  name: string;
  code?: string;
  message: string;
}

/** Worker to main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "startFailed"; message: string }
  | { type: "reply"; id: number; ok: true; result: unknown }
  | { type: "reply"; id: number; ok: false; error: WorkerError }
  /** Sessions of a retired object expired: what must be diverted may have shrunk. */
  | { type: "diversionDirty" }
  | { type: "stopped" };

/** One worker's part of the `status` report. */
export interface WorkerStatus {
  index: number;
  queueNum: number;
  localPorts: [number, number];
  sessions: number;
  sessionCapacity: number;
  /** Persistence templates held (all services). */
  templates: number;
  engine: EngineCounters;
  queue: NfQueueCounters;
  /** The kernel's figures for this worker's queue. */
  kernel: KernelQueueStats | null;
  /** Packets the engine originated (expiry RSTs) and their raw-socket sends. */
  emitter: RawSenderCounters;
  /**
   * The offload step's own counters while the fast path runs in this worker, else null (the
   * engine's `offload*` counters are in `engine`).
   */
  offload: OffloadStepCounters | null;
  /** Why this worker cannot offload although the fast path is on, else null. */
  offloadProblem: string | null;
}

/**
 * The op that deletes the worker's conntrack entries and takes their sessions back, when the
 * daemon stops for good (its rules go, so entries left behind would match untranslated).
 */
export const WORKER_OFFLOAD_END_OP = "offloadEnd";

/** The extra op a worker serves beside the control contract. */
export const WORKER_STATUS_OP = "workerStatus";

/** The op that pages through a worker's sessions, encoded as the control socket sends them. */
export const WORKER_PAGE_OP = "listConnectionsPage";

/**
 * The op that starts a worker's packet loop once the configuration is restored: it first
 * takes over the sessions of the run state (if any) and expires those whose time ran out.
 */
export const WORKER_RESUME_OP = "resume";

/**
 * The op that ends every session of one real server of a service at once (the end of a drain,
 * `drains.ts`): TCP sessions reset at both ends, UDP sessions ended.
 */
export const WORKER_END_SESSIONS_OP = "endServerSessions";

/**
 * The op that applies what the daemon's health checks found to one service (`setHealth` of
 * the engine's control). Not part of the control socket's contract: only the daemon's health
 * monitor sends it, to every worker, so no client can forge a server's health.
 */
export const WORKER_HEALTH_OP = "setHealth";

/**
 * The op by which a sync master collects the sessions due to be sent (`src/sync/session_sync.ts`
 * `SyncScanner`): up to `maxSlots` slots of the table further, at most `maxEntries` entries;
 * `restart` forgets what was sent before (a master daemon that starts); `refreshMs` sends each
 * session of its own again at least that often (0: never unchanged).
 */
export const WORKER_SYNC_SCAN_OP = "syncScan";

/** The op by which a sync backup installs received sessions; answers the outcomes counted. */
export const WORKER_SYNC_INSTALL_OP = "syncInstall";

/** What a worker found in its run state when it resumed. */
export interface ResumeReport {
  index: number;
  /** Sessions taken over from the previous process. */
  kept: number;
  /** Sessions not taken over, by reason. */
  dropped: Record<string, number>;
  /** Of those kept, how many had expired while no daemon ran (expired and reset at once). */
  expired: number;
  /** Deleted services, servers and local addresses recreated to drain their sessions. */
  standIns: number;
  /** Why the file found was moved aside, and where to; null when none was. */
  refused: { reason: string; path: string } | null;
  /** Counters carried over from the previous process (`counter_carry.ts`); null when none were. */
  counters: { engine: number; services: number; servers: number } | null;
  /** Why the previous process's counters could not be carried over, if they could not. */
  countersProblem: string | null;
  /**
   * Persistence templates carried over from the previous process (`template_carry.ts`): how
   * many were taken back and how many left, by reason; null when there were none.
   */
  templates: { kept: number; dropped: Record<string, number> } | null;
  /** Why the previous process's templates could not be carried over, if they could not. */
  templatesProblem: string | null;
  /** Milliseconds the takeover took. */
  ms: number;
}

/** Everything a worker answers, by op: the control contract, its status, a page of sessions. */
export interface WorkerOps extends ControlTarget {
  [WORKER_STATUS_OP](): WorkerStatus;
  [WORKER_PAGE_OP](cursor: number, max: number): EncodedConnectionPage;
  [WORKER_RESUME_OP](): ResumeReport;
  [WORKER_END_SESSIONS_OP](key: ServiceKey, server: Endpoint): { ended: number; reset: number };
  [WORKER_HEALTH_OP](key: ServiceKey, update: HealthUpdate): void;
  [WORKER_SYNC_SCAN_OP](
    maxSlots: number,
    maxEntries: number,
    restart: boolean,
    refreshMs: number,
  ): SyncConn[];
  [WORKER_SYNC_INSTALL_OP](conns: SyncConn[]): Partial<Record<InstallOutcome, number>>;
}

/** One op a worker serves. */
export type WorkerOp = keyof WorkerOps;

/** The arguments of worker op `K`. */
export type WorkerArgs<K extends WorkerOp> = Parameters<WorkerOps[K]>;

/** What worker op `K` answers (structured-cloned). */
export type WorkerResult<K extends WorkerOp> = ReturnType<WorkerOps[K]>;

/** Sessions per page a worker sends the main thread: bounded, and few round trips. */
export const CONNECTION_PAGE_ROWS = 256;
