/**
 * The control contract as seen from another process: every {@linkcode ControlTarget} method,
 * asynchronous. The daemon's socket client implements it; so does {@linkcode localRemote} for
 * code that holds the engine itself (tests, an in-process admin shell). Every side (client,
 * server, fan-out, worker) types its ops from {@linkcode OpArgs} and {@linkcode OpResult}, so
 * they cannot drift apart.
 *
 * @module
 */

import type { ConnectionView, ControlTarget } from "../fullnat/types.ts";

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

/** The arguments of contract method `K`. */
export type OpArgs<K extends ControlMethod> = Parameters<ControlTarget[K]>;

/** What contract method `K` answers. */
export type OpResult<K extends ControlMethod> = ReturnType<ControlTarget[K]>;

/** The async mirror of {@linkcode ControlTarget}. */
export type RemoteControl = {
  [K in ControlMethod]: (...args: OpArgs<K>) => Promise<OpResult<K>>;
};

/**
 * The connection listing page by page, so that no process on the way holds the whole table:
 * the daemon's fan-out pages through its workers, the socket client yields the frames as they
 * arrive.
 */
export interface PagedConnections {
  connectionPages(): AsyncIterable<ConnectionView[]>;
}

/** What the control server can serve: the contract with sync or async methods. */
export type ServedControl = {
  [K in ControlMethod]: (...args: OpArgs<K>) => OpResult<K> | Promise<OpResult<K>>;
};

/** True when `control` can page its connection listing. */
export function hasPagedConnections<T extends object>(
  control: T,
): control is T & PagedConnections {
  return typeof (control as Partial<PagedConnections>).connectionPages === "function";
}

/**
 * The connections of `control` page by page: paged where it can, else its whole listing as
 * one page.
 */
export async function* connectionPages(
  control: RemoteControl | ServedControl,
): AsyncGenerator<ConnectionView[]> {
  if (hasPagedConnections(control)) yield* control.connectionPages();
  else yield await control.listConnections();
}

// Fails to compile if ControlTarget gains a method that the list above lacks.
type MissingMethods = Exclude<keyof ControlTarget, ControlMethod>;
const _allMethodsListed: MissingMethods extends never ? true : MissingMethods = true;
void _allMethodsListed;

/** True when `op` names a contract method (and not, say, "constructor" or "toString"). */
export function isControlMethod(op: string): op is ControlMethod {
  return (CONTROL_METHODS as readonly string[]).includes(op);
}

/** Calls `fn` and hands back its outcome as a promise (a throw becomes a rejection). */
function settle<T>(fn: () => T | Promise<T>): Promise<T> {
  return new Promise((resolve) => resolve(fn()));
}

/**
 * Wraps a target whose methods answer at once or later (an engine, the daemon's fan-out) so it
 * can be driven through the async contract.
 */
export function localRemote(target: ServedControl): RemoteControl {
  return {
    addService: (...a) => settle(() => target.addService(...a)),
    editService: (...a) => settle(() => target.editService(...a)),
    deleteService: (...a) => settle(() => target.deleteService(...a)),
    addRealServer: (...a) => settle(() => target.addRealServer(...a)),
    editRealServer: (...a) => settle(() => target.editRealServer(...a)),
    deleteRealServer: (...a) => settle(() => target.deleteRealServer(...a)),
    addLocalAddress: (...a) => settle(() => target.addLocalAddress(...a)),
    deleteLocalAddress: (...a) => settle(() => target.deleteLocalAddress(...a)),
    clear: () => settle(() => target.clear()),
    zeroStats: (...a) => settle(() => target.zeroStats(...a)),
    listServices: () => settle(() => target.listServices()),
    listConnections: () => settle(() => target.listConnections()),
    getTimeouts: () => settle(() => target.getTimeouts()),
    setTimeouts: (...a) => settle(() => target.setTimeouts(...a)),
    diversion: () => settle(() => target.diversion()),
  };
}
