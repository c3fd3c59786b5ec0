/**
 * One packet worker of `fullnat daemon`, run as a Deno Worker (a blocking receive loop
 * belongs off the control thread): its own NFQUEUE, its own {@linkcode Engine} whose local
 * ports come from the worker's slice of the range, its own expiry timer and raw socket for
 * expiry RSTs. No session state is shared with other workers: the iptables steering sends
 * both directions of every session to the worker that created it.
 *
 * The main thread drives it with the messages of `worker_protocol.ts`: control calls are
 * applied to this worker's engine in the order they arrive.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { EngineControl } from "../fullnat/control.ts";
import { Engine } from "../fullnat/engine.ts";
import { ControlError } from "../fullnat/types.ts";
import { NfQueue } from "../nfqueue/queue.ts";
import { BatchClock } from "./batch_clock.ts";
import { RawSender } from "../kernel/raw_sender.ts";
import { EngineOps } from "./engine_ops.ts";
import { attachRunState, type RunState } from "../kernel/run_state.ts";
import { boxClock } from "../kernel/shared_file.ts";
import { restoreSessions } from "../fullnat/session_restore.ts";
import { exportTemplates, importTemplates } from "../fullnat/template_export.ts";
import {
  clearTemplates,
  readTemplates,
  templatesFile,
  writeTemplates,
} from "../kernel/template_carry.ts";
import {
  carryCounters,
  clearCounters,
  countersFile,
  readCounters,
  snapshotCounters,
  writeCounters,
} from "../kernel/counter_carry.ts";
import { anyOffloaded, recallOffloaded } from "../fullnat/offload.ts";
import { openKernelOffloadPort } from "./offload_kernel.ts";
import { OffloadStep } from "./offload_step.ts";
import {
  type FromWorker,
  type ResumeReport,
  type ToWorker,
  WORKER_OFFLOAD_END_OP,
  WORKER_RESUME_OP,
  WORKER_STATUS_OP,
  type WorkerConfig,
  type WorkerError,
  type WorkerStatus,
} from "./worker_protocol.ts";

const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer);

interface Running {
  config: WorkerConfig;
  engine: Engine;
  ops: EngineOps;
  queue: NfQueue;
  sender: RawSender;
  clock: BatchClock;
  state: RunState | undefined;
  timer: ReturnType<typeof setInterval> | undefined;
  /** Times writing the counters for the next process failed. */
  counterWriteFailures: number;
  /** Times writing the persistence templates for the next process failed. */
  templateWriteFailures: number;
  /** The fast path's step while it is on and the kernel port opened. */
  offload: OffloadStep | undefined;
  /** Why the port would not open (not retried until the fast path is switched off and on). */
  offloadProblem: string | undefined;
  offloadTimer: ReturnType<typeof setInterval> | undefined;
  offloadTicks: number;
}

/** Offload steps between two reconciling dumps. */
const RECONCILE_EVERY = 50;
/** Most sessions handed to the kernel per step (one netlink batch). */
const OFFLOAD_BATCH = 256;
/** Most session slots one step's candidate scan looks at. */
const OFFLOAD_SCAN_BUDGET = 65536;

let running: Running | undefined;

function start(config: WorkerConfig): void {
  const sender = RawSender.open();
  let queue: NfQueue;
  try {
    queue = NfQueue.open({
      queueNum: config.queueNum,
      maxLen: config.queueMaxLen,
      receiveBufferBytes: config.queueBufferBytes,
    });
  } catch (e) {
    sender.close();
    throw e;
  }
  let state: RunState | undefined;
  try {
    state = config.runDir === null ? undefined : attachRunState(config.runDir, {
      capacity: config.capacity,
      workers: config.workers,
      index: config.index,
      localPorts: config.localPorts,
    });
  } catch (e) {
    queue.close();
    sender.close();
    throw e;
  }
  // The box's monotonic clock: session expiry times stay meaningful to the next process.
  const clock = new BatchClock(boxClock());
  const engine = new Engine({
    clock: clock.now,
    capacity: config.capacity,
    localPortRange: config.localPorts,
    rejectPolicy: config.rejectPolicy,
    noSessionPolicy: config.noSessionPolicy,
    emit: sender.send,
    resetOnExpiry: config.resetOnExpiry,
    mtu: config.mtu,
    tunnelSources: config.tunnelSources,
    thresholdShares: config.workers,
    isnSecret: state?.isnSecret,
    sessionMemory: state?.sessionMemory,
    owners: state?.owners,
  });
  // The queue is bound (packets wait in the kernel) but not read until resume(): sessions
  // taken over need the configuration restored first.
  running = {
    config,
    engine,
    ops: new EngineOps(new EngineControl(engine)),
    queue,
    sender,
    clock,
    state,
    timer: undefined,
    counterWriteFailures: 0,
    templateWriteFailures: 0,
    offload: undefined,
    offloadProblem: undefined,
    offloadTimer: undefined,
    offloadTicks: 0,
  };
}

/**
 * One tick of the fast path: while the engine's mode is `established`, an offload step (and
 * every {@linkcode RECONCILE_EVERY} ticks a reconciling dump); once it is off, the kernel's
 * entries are deleted and their sessions taken back (also those a previous process left).
 */
function offloadTick(r: Running): void {
  const on = r.engine.offload === "established";
  if (!on) {
    r.offloadProblem = undefined;
    if (r.offload === undefined && !anyOffloaded(r.engine)) return;
    const step = r.offload ?? openStep(r);
    if (step !== undefined) {
      step.withdrawAll();
      step.close();
    } else recallOffloaded(r.engine);
    r.offload = undefined;
    return;
  }
  if (r.offload === undefined && r.offloadProblem === undefined) {
    r.offload = openStep(r);
    // A previous process's entries: counted from the first dump on, lost ones ended.
    r.offload?.reconcile();
  }
  if (r.offload === undefined) return;
  r.offload.step();
  if (++r.offloadTicks % RECONCILE_EVERY === 0) r.offload.reconcile();
}

/** The offload step over a fresh kernel port, or undefined (the problem noted and logged). */
function openStep(r: Running): OffloadStep | undefined {
  try {
    return new OffloadStep(r.engine, openKernelOffloadPort(r.config.index), {
      worker: r.config.index,
      minBytes: r.config.offloadMinBytes,
      batch: OFFLOAD_BATCH,
      scanBudget: OFFLOAD_SCAN_BUDGET,
    });
  } catch (e) {
    r.offloadProblem = e instanceof Error ? e.message : String(e);
    console.error(`worker ${r.config.index}: offload: ${r.offloadProblem}`);
    return undefined;
  }
}

/** The daemon stops for good: the kernel's entries go, their sessions come back (then end). */
function endOffload(r: Running): number {
  clearInterval(r.offloadTimer);
  r.offloadTimer = undefined;
  if (r.offload === undefined && !anyOffloaded(r.engine)) return 0;
  const step = r.offload ?? openStep(r);
  const n = step?.withdrawAll() ?? recallOffloaded(r.engine);
  step?.close();
  r.offload = undefined;
  return n;
}

/** Takes over the run state's sessions, then starts the packet loop and the expiry timer. */
function resume(r: Running): ResumeReport {
  if (r.timer !== undefined) throw new Error("worker already resumed");
  const t0 = performance.now();
  const { engine, state, config } = r;
  const report: ResumeReport = {
    index: config.index,
    kept: 0,
    dropped: {},
    expired: 0,
    standIns: 0,
    refused: state?.refused === undefined
      ? null
      : { reason: state.refused, path: state.refusedPath ?? "" },
    counters: null,
    countersProblem: null,
    templates: null,
    templatesProblem: null,
    ms: 0,
  };
  const runDir = config.runDir;
  if (state?.previous !== undefined && runDir !== null) {
    const restored = restoreSessions(engine, state.previous);
    report.kept = restored.kept;
    report.dropped = restored.dropped;
    report.standIns = restored.standIns;
    state.previous = undefined;
    const saved = readCounters(countersFile(runDir, config.index));
    if (saved.counters !== undefined) report.counters = carryCounters(engine, saved.counters);
    report.countersProblem = saved.problem ?? null;
    carryTemplates(engine, runDir, config.index, report);
  } else if (runDir !== null) {
    // A table started afresh: counters of sessions that are gone do not carry over, nor do
    // the templates (a reboot forgets them, as IPVS's).
    clearCounters(runDir, config.index);
    clearTemplates(runDir, config.index);
  }
  report.expired = engine.expire();
  saveCounters(r);
  saveTemplates(r);
  r.timer = setInterval(() => {
    engine.expire();
    saveCounters(r);
    if (engine.registry.templatesChanged) saveTemplates(r);
    if (engine.registry.diversionDirty) {
      engine.registry.diversionDirty = false;
      post({ type: "diversionDirty" });
    }
  }, config.expiryIntervalMs);
  r.offloadTimer = setInterval(() => offloadTick(r), config.offloadIntervalMs);
  r.queue.run(engine, r.clock).then(
    () => finish(),
    (e) => {
      // A fatal socket error: report it as this worker's crash.
      finish();
      throw e;
    },
  );
  report.ms = Math.round(performance.now() - t0);
  return report;
}

/** Writes the worker's counters for the next process, when sessions outlive this one. */
function saveCounters(r: Running): void {
  if (r.config.runDir === null) return;
  try {
    writeCounters(countersFile(r.config.runDir, r.config.index), snapshotCounters(r.engine));
  } catch (e) {
    // Counting goes on; only the carry-over of the last second is at stake.
    r.counterWriteFailures++;
    if (r.counterWriteFailures === 1) {
      console.error(`worker ${r.config.index}: saving counters failed: ${e}`);
    }
  }
}

/** Takes back the persistence templates the previous process wrote, into `report`. */
function carryTemplates(engine: Engine, dir: string, index: number, report: ResumeReport): void {
  const saved = readTemplates(templatesFile(dir, index));
  report.templatesProblem = saved.problem ?? null;
  if (saved.bytes === undefined) return;
  try {
    // The same box's monotonic clock: the time the daemon was away counts.
    report.templates = importTemplates(engine, saved.bytes, true);
  } catch (e) {
    report.templatesProblem = `${templatesFile(dir, index)}: ${e instanceof Error ? e.message : e}`;
  }
}

/** Writes the worker's persistence templates for the next process, when sessions outlive this one. */
function saveTemplates(r: Running): void {
  r.engine.registry.templatesChanged = false;
  if (r.config.runDir === null) return;
  try {
    // No file while there is nothing to carry (most balancers have no persistent service).
    const any = r.engine.registry.liveServices().some((s) =>
      s.persistence > 0 && s.templates.size > 0
    );
    if (any) {
      writeTemplates(templatesFile(r.config.runDir, r.config.index), exportTemplates(r.engine));
    } else clearTemplates(r.config.runDir, r.config.index);
  } catch (e) {
    // Persistence goes on; only its carry-over across a restart is at stake.
    r.templateWriteFailures++;
    if (r.templateWriteFailures === 1) {
      console.error(`worker ${r.config.index}: saving persistence templates failed: ${e}`);
    }
  }
}

function finish(): void {
  if (running === undefined) return;
  clearInterval(running.timer);
  clearInterval(running.offloadTimer);
  // A restart keeps the kernel's entries (and the sessions' flags) for the next process.
  running.offload?.close();
  if (running.timer !== undefined) {
    saveCounters(running);
    saveTemplates(running);
  }
  running.queue.close();
  running.sender.close();
  // The mapping goes with the process; what it holds stays in the file for the next one.
  running = undefined;
  post({ type: "stopped" });
  self.close();
}

function status(r: Running): WorkerStatus {
  return {
    index: r.config.index,
    queueNum: r.queue.queueNum,
    localPorts: r.config.localPorts,
    sessions: r.engine.table.size,
    sessionCapacity: r.engine.table.capacity,
    templates: r.engine.registry.liveServices().reduce((n, s) => n + s.templates.size, 0),
    engine: { ...r.engine.counters },
    queue: { ...r.queue.counters },
    kernel: r.queue.kernelStats() ?? null,
    emitter: { ...r.sender.counters },
    offload: r.offload === undefined ? null : { ...r.offload.counters },
    offloadProblem: r.offloadProblem ?? null,
  };
}

function toWorkerError(e: unknown): WorkerError {
  if (e instanceof ControlError) return { name: e.name, code: e.code, message: e.message };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

function call(id: number, op: string, args: unknown[]): void {
  try {
    if (running === undefined) throw new Error("worker is not running");
    if (op === WORKER_RESUME_OP) {
      post({ type: "reply", id, ok: true, result: resume(running) });
      return;
    }
    if (op === WORKER_OFFLOAD_END_OP) {
      post({ type: "reply", id, ok: true, result: endOffload(running) });
      return;
    }
    if (op === WORKER_STATUS_OP) {
      post({ type: "reply", id, ok: true, result: status(running) });
      return;
    }
    const reply = running.ops.answer(op, args);
    if (reply === undefined) throw new Error(`unknown worker op '${op}'`);
    post({ type: "reply", id, ok: true, result: reply.result ?? null }, reply.transfer);
  } catch (e) {
    post({ type: "reply", id, ok: false, error: toWorkerError(e) });
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case "init":
      try {
        start(m.config);
        post({ type: "ready" });
      } catch (e) {
        post({ type: "startFailed", message: e instanceof Error ? e.message : String(e) });
      }
      break;
    case "call":
      call(m.id, m.op, m.args);
      break;
    case "stop":
      if (running === undefined) {
        post({ type: "stopped" });
        self.close();
      } else if (running.timer === undefined) {
        // Never resumed: no loop to stop.
        finish();
      } else running.queue.stop();
      break;
  }
};
