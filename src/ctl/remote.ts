/**
 * The control contract as seen from another process: every {@linkcode ControlTarget} method,
 * asynchronous. The daemon's socket client implements it; so does {@linkcode localRemote} for
 * code that holds the engine itself (tests, an in-process admin shell).
 *
 * @module
 */

import type { ControlTarget } from "../fullnat/types.ts";

/** The async mirror of {@linkcode ControlTarget}. */
export type RemoteControl = {
  [K in keyof ControlTarget]: (
    ...args: Parameters<ControlTarget[K]>
  ) => Promise<ReturnType<ControlTarget[K]>>;
};

/** Every method of the contract, by name: the allowlist of ops the daemon serves. */
export const CONTROL_METHODS = [
  "addService",
  "editService",
  "deleteService",
  "addRealServer",
  "editRealServer",
  "deleteRealServer",
  "addLocalAddress",
  "deleteLocalAddress",
  "clear",
  "zeroStats",
  "listServices",
  "listConnections",
  "getTimeouts",
  "setTimeouts",
  "diversion",
] as const satisfies readonly (keyof ControlTarget)[];

/** One method name of the contract. */
export type ControlMethod = typeof CONTROL_METHODS[number];

/**
 * The methods that can change what traffic must be diverted into the queue (services, real
 * servers, local addresses).
 */
export const DIVERSION_CHANGES: ReadonlySet<ControlMethod> = new Set<ControlMethod>([
  "addService",
  "editService",
  "deleteService",
  "addRealServer",
  "editRealServer",
  "deleteRealServer",
  "addLocalAddress",
  "deleteLocalAddress",
  "clear",
]);

/** The methods that change the configuration: the diversion changes and the timeouts. */
export const CONFIG_CHANGES: ReadonlySet<ControlMethod> = new Set<ControlMethod>([
  ...DIVERSION_CHANGES,
  "setTimeouts",
]);

// Fails to compile if ControlTarget gains a method that the list above lacks.
type MissingMethods = Exclude<keyof ControlTarget, ControlMethod>;
const _allMethodsListed: MissingMethods extends never ? true : MissingMethods = true;
void _allMethodsListed;

/** True when `op` names a contract method (and not, say, "constructor" or "toString"). */
export function isControlMethod(op: string): op is ControlMethod {
  return (CONTROL_METHODS as readonly string[]).includes(op);
}

/** Wraps a synchronous target so it can be driven through the async contract. */
export function localRemote(target: ControlTarget): RemoteControl {
  const remote = {} as Record<ControlMethod, (...args: unknown[]) => Promise<unknown>>;
  for (const method of CONTROL_METHODS) {
    remote[method] = (...args: unknown[]) => {
      try {
        const fn = target[method] as (...a: unknown[]) => unknown;
        return Promise.resolve(fn.apply(target, args));
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  return remote as unknown as RemoteControl;
}
