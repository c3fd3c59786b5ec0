/**
 * {@linkcode WorkerPool}: the daemon's packet workers seen from the main thread. Starts them,
 * calls ops on one or all of them (request ids, replies matched by id), and stops them.
 *
 * @module
 */
import { ControlError, type ControlErrorCode } from "../fullnat/types.ts";
import type { FromWorker, ToWorker, WorkerConfig, WorkerError } from "./worker_protocol.ts";

const WORKER_URL = new URL("./worker.ts", import.meta.url).href;

/** How long a worker may take to answer before the call fails. */
const CALL_TIMEOUT_MS = 30_000;

function fromWorkerError(e: WorkerError): Error {
  if (e.name === "ControlError" && e.code !== undefined) {
    return new ControlError(e.code as ControlErrorCode, e.message);
  }
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One worker thread and its outstanding calls. */
class WorkerHandle {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #started?: { resolve: () => void; reject: (e: Error) => void };
  #stopped: Promise<void>;
  #markStopped!: () => void;
  #dead = false;

  constructor(
    readonly index: number,
    onDirty: () => void,
    onCrash: (index: number, error: Error) => void,
  ) {
    this.#stopped = new Promise((r) => this.#markStopped = r);
    this.#worker = new Worker(WORKER_URL, { type: "module", name: `fullnat-worker-${index}` });
    this.#worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      switch (m.type) {
        case "ready":
          this.#started?.resolve();
          break;
        case "startFailed":
          this.#started?.reject(new Error(`worker ${index}: ${m.message}`));
          break;
        case "reply": {
          const p = this.#pending.get(m.id);
          if (p === undefined) break;
          this.#pending.delete(m.id);
          clearTimeout(p.timer);
          if (m.ok) p.resolve(m.result);
          else p.reject(fromWorkerError(m.error));
          break;
        }
        case "diversionDirty":
          onDirty();
          break;
        case "stopped":
          this.#finish(new Error(`worker ${index} has stopped`));
          break;
      }
    };
    this.#worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      const error = new Error(`worker ${index} crashed: ${ev.message}`);
      this.#started?.reject(error);
      this.#finish(error);
      onCrash(index, error);
    };
  }

  /** Sends the configuration; resolves once the queue is bound and the loop runs. */
  start(config: WorkerConfig): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#started = { resolve, reject };
      this.#post({ type: "init", config });
    });
  }

  /** Calls `op` on this worker's engine. */
  call(op: string, args: unknown[]): Promise<unknown> {
    if (this.#dead) return Promise.reject(new Error(`worker ${this.index} is not running`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`worker ${this.index} did not answer ${op} within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      this.#post({ type: "call", id, op, args });
    });
  }

  /** Asks the loop to stop and waits (at most `timeoutMs`) before terminating the thread. */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.#dead) this.#post({ type: "stop" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#stopped, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
    this.#worker.terminate();
    this.#finish(new Error(`worker ${this.index} was terminated`));
  }

  #post(m: ToWorker): void {
    this.#worker.postMessage(m);
  }

  #finish(error: Error): void {
    if (this.#dead) return;
    this.#dead = true;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
    this.#markStopped();
  }
}

/** Options of {@linkcode WorkerPool.start}. */
export interface WorkerPoolOptions {
  /** One configuration per worker. */
  configs: WorkerConfig[];
  /** A worker reports that the diverted traffic may have changed. */
  onDiversionDirty: () => void;
  /** A worker died unexpectedly (its queue is no longer read). */
  onCrash: (index: number, error: Error) => void;
}

/** The running workers. */
export class WorkerPool {
  readonly #workers: WorkerHandle[];

  private constructor(workers: WorkerHandle[]) {
    this.#workers = workers;
  }

  /**
   * Starts every worker and waits until each has bound its queue. If any fails, the ones
   * started are stopped and the first failure is thrown.
   */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const workers = options.configs.map((c) =>
      new WorkerHandle(c.index, options.onDiversionDirty, options.onCrash)
    );
    const results = await Promise.allSettled(workers.map((w, i) => w.start(options.configs[i])));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) {
      await Promise.all(workers.map((w) => w.stop(2000)));
      throw failed.reason;
    }
    return new WorkerPool(workers);
  }

  /** How many workers run. */
  get size(): number {
    return this.#workers.length;
  }

  /** Calls `op` on worker `index`. */
  call(index: number, op: string, args: unknown[] = []): Promise<unknown> {
    return this.#workers[index].call(op, args);
  }

  /** Calls `op` on every worker at once; resolves to their results in worker order. */
  all(op: string, args: unknown[] = []): Promise<unknown[]> {
    return Promise.all(this.#workers.map((w) => w.call(op, args)));
  }

  /** Stops every worker (each gets `timeoutMs` to finish its batch and release its queue). */
  async stop(timeoutMs = 5000): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.stop(timeoutMs)));
  }
}
