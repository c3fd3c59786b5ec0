/**
 * The control contract over all packet workers ({@linkcode fanOutControl}): the daemon's
 * control socket serves this. Every worker holds the same configuration, so:
 *
 * - a change goes to worker 0 first; validation is deterministic, so if worker 0 refuses it,
 *   nothing changed anywhere and the refusal is the answer; if it accepts, the same change
 *   goes to the others (a refusal there means the workers diverged, which is reported as an
 *   internal error and logged). Changes are serialized, so all workers see them in one order.
 *   Once applied, the iptables diversion is brought up to date before the caller hears back.
 * - reads are merged: services with summed counters, connections concatenated, the
 *   diversion as the union of what every worker needs.
 *
 * @module
 */
import {
  CONFIG_CHANGES,
  type ControlMethod,
  DIVERSION_CHANGES,
  type RemoteControl,
} from "../ctl/remote.ts";
import type { ConnectionView, DiversionSpec, ServiceView, Timeouts } from "../fullnat/types.ts";
import { mergeServices, unionDiversion } from "./merge.ts";

/** What the fan-out needs of the worker pool (an interface, so tests can use plain objects). */
export interface WorkerCalls {
  readonly size: number;
  call(index: number, op: string, args?: unknown[]): Promise<unknown>;
  all(op: string, args?: unknown[]): Promise<unknown[]>;
}

/** Changes: worker 0 validates, then all others apply (counters too are per worker). */
const CHANGES: readonly ControlMethod[] = [...CONFIG_CHANGES, "zeroStats"];

/** The union of every worker's diversion spec. */
export async function collectDiversion(workers: WorkerCalls): Promise<DiversionSpec> {
  return unionDiversion(await workers.all("diversion") as DiversionSpec[]);
}

/**
 * The async control contract over `workers`. `sync` installs the current diversion (it is
 * called after every change that may alter it); `log` hears about diverged workers.
 */
export function fanOutControl(
  workers: WorkerCalls,
  sync: () => Promise<void>,
  log: (message: string) => void,
): RemoteControl {
  let changes: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const next = changes.then(op, op);
    changes = next.catch(() => {});
    return next;
  };

  const change = (op: ControlMethod) => (...args: unknown[]): Promise<unknown> =>
    serial(async () => {
      const result = await workers.call(0, op, args);
      const rest = [];
      for (let i = 1; i < workers.size; i++) rest.push(workers.call(i, op, args));
      const settled = await Promise.allSettled(rest);
      const failed = settled.findIndex((s) => s.status === "rejected");
      if (DIVERSION_CHANGES.has(op)) await sync();
      if (failed >= 0) {
        const reason = (settled[failed] as PromiseRejectedResult).reason;
        const text = `worker ${failed + 1} refused ${op} that worker 0 accepted: ${
          reason instanceof Error ? reason.message : reason
        }; the workers' configurations differ, restart the daemon`;
        log(text);
        throw new Error(text);
      }
      return result;
    });

  const remote: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const op of CHANGES) remote[op] = change(op);
  remote.listServices = async () =>
    mergeServices(await workers.all("listServices") as ServiceView[][]);
  remote.listConnections = async () =>
    (await workers.all("listConnections") as ConnectionView[][]).flat();
  remote.getTimeouts = async () => await workers.call(0, "getTimeouts") as Timeouts;
  remote.diversion = () => collectDiversion(workers);
  return remote as unknown as RemoteControl;
}
