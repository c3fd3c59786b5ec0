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

/**
 * Every method of the contract, by name, and whether it changes the configuration (`change`:
 * announced, synced into iptables and saved) or only reads or zeroes counters (`read`). The
 * type requires every method of the contract, so a new one cannot be left out of either list.
 */
const CONTROL_OP_KINDS = {
  addService: "change",
  editService: "change",
  deleteService: "change",
  addRealServer: "change",
  editRealServer: "change",
  deleteRealServer: "change",
  addLocalAddress: "change",
  deleteLocalAddress: "change",
  clear: "change",
  zeroStats: "read",
  listServices: "read",
  listConnections: "read",
  getTimeouts: "read",
  setTimeouts: "change",
  getTunables: "read",
  setTunables: "change",
  diversion: "read",
} as const satisfies Record<keyof ControlTarget, "change" | "read">;

/** One method name of the contract. */
export type ControlMethod = keyof typeof CONTROL_OP_KINDS;

/** Every method of the contract: the allowlist of ops the daemon serves. */
export const CONTROL_METHODS: readonly ControlMethod[] = Object.keys(
  CONTROL_OP_KINDS,
) as ControlMethod[];

/** The methods that change the configuration (zeroing counters does not). */
export const CONFIG_METHODS: ReadonlySet<ControlMethod> = new Set(
  CONTROL_METHODS.filter((m) => CONTROL_OP_KINDS[m] === "change"),
);

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

/**
 * The connection listing as the control socket sends it, page by page: each page the rows'
 * JSON texts, comma-separated, as UTF-8 bytes. The daemon's workers write these straight from
 * their session tables, so the listing is never turned into objects or strings on the way.
 */
export interface EncodedConnections {
  connectionJson(): AsyncIterable<Uint8Array>;
}

/** True when `control` can hand out its connection listing already encoded. */
export function hasEncodedConnections<T extends object>(
  control: T,
): control is T & EncodedConnections {
  return typeof (control as Partial<EncodedConnections>).connectionJson === "function";
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

/**
 * Calls contract method `op` of `target` with `args`, typed by the method: the one place a
 * method is looked up by name.
 */
export function callControl<K extends ControlMethod>(
  target: ServedControl,
  op: K,
  args: OpArgs<K>,
): OpResult<K> | Promise<OpResult<K>> {
  const method: ServedControl[K] = target[op];
  return method.apply(target, args);
}

/**
 * The async contract over whatever `resolve` yields when a call is made: an engine or the
 * daemon's fan-out (see {@linkcode localRemote}), or a connection opened only once a command
 * needs one. A throw, sync or async, becomes a rejection.
 */
export function forwardControl(
  resolve: () => ServedControl | Promise<ServedControl>,
): RemoteControl {
  const call = async <K extends ControlMethod>(op: K, args: OpArgs<K>): Promise<OpResult<K>> =>
    await callControl(await resolve(), op, args);
  return {
    addService: (...a) => call("addService", a),
    editService: (...a) => call("editService", a),
    deleteService: (...a) => call("deleteService", a),
    addRealServer: (...a) => call("addRealServer", a),
    editRealServer: (...a) => call("editRealServer", a),
    deleteRealServer: (...a) => call("deleteRealServer", a),
    addLocalAddress: (...a) => call("addLocalAddress", a),
    deleteLocalAddress: (...a) => call("deleteLocalAddress", a),
    clear: (...a) => call("clear", a),
    zeroStats: (...a) => call("zeroStats", a),
    listServices: (...a) => call("listServices", a),
    listConnections: (...a) => call("listConnections", a),
    getTimeouts: (...a) => call("getTimeouts", a),
    setTimeouts: (...a) => call("setTimeouts", a),
    getTunables: (...a) => call("getTunables", a),
    setTunables: (...a) => call("setTunables", a),
    diversion: (...a) => call("diversion", a),
  };
}

/**
 * Wraps a target whose methods answer at once or later (an engine, the daemon's fan-out) so it
 * can be driven through the async contract.
 */
export function localRemote(target: ServedControl): RemoteControl {
  return forwardControl(() => target);
}
