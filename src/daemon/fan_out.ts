/**
 * The control contract over all packet workers ({@linkcode fanOutControl}): the daemon's
 * control socket serves this. Every worker holds the same configuration, so:
 *
 * - a change goes to worker 0 first; validation is deterministic, so if worker 0 refuses it,
 *   nothing changed anywhere and the refusal is the answer; if it accepts, the same change
 *   goes to the others (a refusal there means the workers diverged, which is reported as an
 *   internal error and logged). Changes are serialized, so all workers see them in one order.
 *   Once a configuration change is applied it is announced (the daemon's change event, which
 *   brings the iptables diversion up to date and saves) before the caller hears back.
 * - reads are merged: services with summed counters, connections paged worker by worker
 *   (each page JSON bytes a worker wrote, handed to the control socket as they are), the
 *   diversion as the union of what every worker needs.
 *
 * @module
 */
import { CONFIG_METHODS } from "../ctl/remote.ts";
import type {
  ControlMethod,
  EncodedConnections,
  PagedConnections,
  RemoteControl,
} from "../ctl/remote.ts";
import type {
  ConnectionView,
  DiversionSpec,
  HealthUpdate,
  ServiceKey,
  Timeouts,
} from "../fullnat/types.ts";
import { mergeServices, unionDiversion } from "./merge.ts";
import {
  CONNECTION_PAGE_ROWS,
  WORKER_HEALTH_OP,
  WORKER_PAGE_OP,
  type WorkerArgs,
  type WorkerOp,
  type WorkerResult,
} from "./worker_protocol.ts";

/** What the fan-out needs of the worker pool (an interface, so tests can use plain objects). */
export interface WorkerCalls {
  readonly size: number;
  call(index: number, op: string, args?: unknown[]): Promise<unknown>;
  all(op: string, args?: unknown[]): Promise<unknown[]>;
}

/** {@linkcode WorkerCalls} typed by the worker op table. */
interface TypedWorkers {
  readonly size: number;
  call<K extends WorkerOp>(index: number, op: K, args: WorkerArgs<K>): Promise<WorkerResult<K>>;
  all<K extends WorkerOp>(op: K, args: WorkerArgs<K>): Promise<WorkerResult<K>[]>;
}

/**
 * Types the untyped transport. Its one cast is where the types are honest: what a worker
 * answers for op K is `WorkerResult<K>`, structured-cloned.
 */
function typed(workers: WorkerCalls): TypedWorkers {
  return {
    size: workers.size,
    call: <K extends WorkerOp>(index: number, op: K, args: WorkerArgs<K>) =>
      workers.call(index, op, args) as Promise<WorkerResult<K>>,
    all: <K extends WorkerOp>(op: K, args: WorkerArgs<K>) =>
      workers.all(op, args) as Promise<WorkerResult<K>[]>,
  };
}

/** The union of every worker's diversion spec. */
export async function collectDiversion(workers: WorkerCalls): Promise<DiversionSpec> {
  return unionDiversion(await typed(workers).all("diversion", []));
}

/** The engine-wide timeouts (every worker has the same; worker 0's). */
export function collectTimeouts(workers: WorkerCalls): Promise<Timeouts> {
  return typed(workers).call(0, "getTimeouts", []);
}

/**
 * What the daemon's health monitor drives: a service's health found by its checks, applied on
 * every worker (not a configuration change: nothing is saved or re-diverted).
 */
export interface HealthControl {
  setHealth(key: ServiceKey, update: HealthUpdate): Promise<void>;
}

/** The methods that go to every worker: the configuration changes and zeroing counters. */
type ChangeMethod = Extract<
  ControlMethod,
  | "addService"
  | "editService"
  | "deleteService"
  | "addRealServer"
  | "editRealServer"
  | "deleteRealServer"
  | "addLocalAddress"
  | "deleteLocalAddress"
  | "clear"
  | "zeroStats"
  | "setTimeouts"
  | "setTunables"
>;

/**
 * The async control contract over `workers`, with the connection listing paged. `announce`
 * hears of every configuration change once it is applied (the daemon's change event); `log`
 * hears about diverged workers.
 */
export function fanOutControl(
  workers: WorkerCalls,
  announce: (reason: string) => Promise<void>,
  log: (message: string) => void,
): RemoteControl & PagedConnections & EncodedConnections & HealthControl {
  const w = typed(workers);
  let changes: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const next = changes.then(op, op);
    changes = next.catch(() => {});
    return next;
  };

  const change = <K extends ChangeMethod>(op: K, args: WorkerArgs<K>): Promise<void> =>
    serial(async () => {
      await w.call(0, op, args);
      const rest = [];
      for (let i = 1; i < w.size; i++) rest.push(w.call(i, op, args));
      const settled = await Promise.allSettled(rest);
      const failed = settled.findIndex((s) => s.status === "rejected");
      if (CONFIG_METHODS.has(op)) await announce(op);
      if (failed >= 0) {
        const reason = (settled[failed] as PromiseRejectedResult).reason;
        const text = `worker ${failed + 1} refused ${op} that worker 0 accepted: ${
          reason instanceof Error ? reason.message : reason
        }; the workers' configurations differ, restart the daemon`;
        log(text);
        throw new Error(text);
      }
    });

  /**
   * A health update, in line with the configuration changes (so it never lands between a
   * change's worker 0 and the others): worker 0 first, then the others, as a change.
   */
  const setHealth = (key: ServiceKey, update: HealthUpdate): Promise<void> =>
    serial(async () => {
      await w.call(0, WORKER_HEALTH_OP, [key, update]);
      const rest = [];
      for (let i = 1; i < w.size; i++) rest.push(w.call(i, WORKER_HEALTH_OP, [key, update]));
      const settled = await Promise.allSettled(rest);
      const failed = settled.findIndex((s) => s.status === "rejected");
      if (failed >= 0) {
        const reason = (settled[failed] as PromiseRejectedResult).reason;
        const text = `worker ${failed + 1} refused a health update that worker 0 accepted: ${
          reason instanceof Error ? reason.message : reason
        }; the workers' configurations differ, restart the daemon`;
        log(text);
        throw new Error(text);
      }
    });

  /** Every worker's sessions, a bounded page at a time, as JSON: no one holds the whole table. */
  async function* connectionJson(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < w.size; i++) {
      let cursor: number | null = 0;
      while (cursor !== null) {
        const page: WorkerResult<typeof WORKER_PAGE_OP> = await w.call(i, WORKER_PAGE_OP, [
          cursor,
          CONNECTION_PAGE_ROWS,
        ]);
        if (page.rows > 0) yield page.json;
        cursor = page.next;
      }
    }
  }

  /** The same pages as rows, for callers in this process. */
  async function* connectionPages(): AsyncGenerator<ConnectionView[]> {
    const decoder = new TextDecoder();
    for await (const json of connectionJson()) {
      const rows: ConnectionView[] = JSON.parse(`[${decoder.decode(json)}]`);
      yield rows;
    }
  }

  return {
    addService: (...a) => change("addService", a),
    editService: (...a) => change("editService", a),
    deleteService: (...a) => change("deleteService", a),
    addRealServer: (...a) => change("addRealServer", a),
    editRealServer: (...a) => change("editRealServer", a),
    deleteRealServer: (...a) => change("deleteRealServer", a),
    addLocalAddress: (...a) => change("addLocalAddress", a),
    deleteLocalAddress: (...a) => change("deleteLocalAddress", a),
    clear: () => change("clear", []),
    zeroStats: (...a) => change("zeroStats", a),
    setTimeouts: (...a) => change("setTimeouts", a),
    setTunables: (...a) => change("setTunables", a),
    listServices: async () => mergeServices(await w.all("listServices", [])),
    listConnections: async () => {
      const all: ConnectionView[] = [];
      for await (const page of connectionPages()) for (const c of page) all.push(c);
      return all;
    },
    getTimeouts: () => w.call(0, "getTimeouts", []),
    getTunables: () => w.call(0, "getTunables", []),
    diversion: () => collectDiversion(workers),
    connectionPages,
    connectionJson,
    setHealth,
  };
}
