/**
 * The client side of the control socket: a {@linkcode RemoteControl} that sends each call to
 * the daemon and resolves with its reply. One connection carries any number of calls at once;
 * replies are matched to calls by id. A streamed listing is either joined into the result or,
 * through {@linkcode ControlClient.connectionPages}, handed over frame by frame as it arrives
 * (the next frame is read only once the consumer took the last one).
 *
 * @module
 */

import type {
  ConnectionView,
  DiversionSpec,
  Endpoint,
  RealServerSpec,
  ServiceKey,
  ServiceOptions,
  ServiceView,
  Timeouts,
  Tunables,
} from "../fullnat/types.ts";
import { Channel } from "./channel.ts";
import {
  type ControlResponse,
  decodeResponse,
  encodeMessage,
  errorFromBody,
  LineSplitter,
  PartJoiner,
  type ResponseFrame,
  writeAll,
} from "./protocol.ts";
import type { ControlMethod, PagedConnections, RemoteControl } from "./remote.ts";
import { defaultSocketPath } from "./socket_path.ts";

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  /** Takes the rows of each frame as it arrives; without it they are joined into the result. */
  onRows?: (rows: unknown[]) => Promise<void>;
  rows?: unknown[];
  texts?: string[];
}

/** Why connecting failed, in words an admin can act on. */
function connectError(path: string, error: unknown): Error {
  if (error instanceof Deno.errors.NotFound) {
    return new Error(
      `fullnat daemon is not running (no control socket at ${path}); start it with: fullnat daemon`,
    );
  }
  if (error instanceof Deno.errors.ConnectionRefused) {
    return new Error(
      `fullnat daemon is not running (nothing answers on ${path}); start it with: fullnat daemon`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return new Error(`cannot open the fullnat control socket ${path}: permission denied`);
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new Error(`cannot reach the fullnat daemon at ${path}: ${detail}`);
}

/** A connection to the daemon's control socket. */
export class ControlClient implements RemoteControl, PagedConnections {
  readonly #conn: Deno.Conn;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #writing: Promise<void> = Promise.resolve();
  #closedError?: Error;
  readonly #reading: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reading = this.#readLoop();
  }

  /**
   * Connects to the daemon at `path` (default {@linkcode defaultSocketPath}). When no daemon
   * is there the error says so and how to start one.
   */
  static async connect(path: string = defaultSocketPath()): Promise<ControlClient> {
    try {
      return new ControlClient(await Deno.connect({ transport: "unix", path }));
    } catch (e) {
      throw connectError(path, e);
    }
  }

  /**
   * Calls any op the daemon serves, including ones it registered beside the contract.
   * Resolves with the raw result; rejects with a `ControlError` when the daemon refused a
   * control operation, or a `RemoteError` for other failures.
   */
  call(op: string, ...args: unknown[]): Promise<unknown> {
    return this.#send(op, args);
  }

  /** The daemon's connections, frame by frame as they arrive: nothing holds the whole table. */
  async *connectionPages(): AsyncGenerator<ConnectionView[]> {
    const channel = new Channel<ConnectionView[]>();
    this.#send("listConnections", [], (rows) => channel.push(rows as ConnectionView[])).then(
      () => channel.end(),
      (e) => channel.end(e),
    );
    yield* channel;
  }

  #send(op: string, args: unknown[], onRows?: Pending["onRows"]): Promise<unknown> {
    if (this.#closedError !== undefined) return Promise.reject(this.#closedError);
    // Trailing undefined arguments would arrive as null; leave them out instead.
    let count = args.length;
    while (count > 0 && args[count - 1] === undefined) count--;
    const id = this.#nextId++;
    let line: Uint8Array;
    try {
      line = encodeMessage(JSON.stringify({ id, op, args: args.slice(0, count) }));
    } catch (e) {
      return Promise.reject(e);
    }
    const reply = new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onRows });
    });
    this.#writing = this.#writing.then(() => writeAll(this.#conn, line)).catch((e) => {
      this.#fail(new Error(`lost the fullnat control connection: ${e?.message ?? e}`));
    });
    return reply;
  }

  /**
   * Closes the connection; calls still waiting are rejected. The promise settles once the
   * connection is fully released (awaiting it is optional).
   */
  close(): Promise<void> {
    this.#fail(new Error("control connection closed"));
    return this.#reading;
  }

  async #invoke<T>(op: ControlMethod, args: unknown[]): Promise<T> {
    const result = await this.call(op, ...args);
    // The wire says null for "nothing"; the contract says undefined.
    return (result === null ? undefined : result) as T;
  }

  #fail(error: Error): void {
    if (this.#closedError !== undefined) return;
    this.#closedError = error;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  async #settle(message: ControlResponse | ResponseFrame): Promise<void> {
    if (typeof message.id !== "number") return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    if ("rows" in message) {
      if (pending.onRows !== undefined) await pending.onRows(message.rows);
      else {
        pending.rows ??= [];
        for (const row of message.rows) pending.rows.push(row);
      }
      return;
    }
    if ("text" in message) {
      (pending.texts ??= []).push(message.text);
      return;
    }
    this.#pending.delete(message.id);
    if (!message.ok) pending.reject(errorFromBody(message.error));
    else if (pending.rows !== undefined && Array.isArray(message.result)) {
      pending.resolve(pending.rows.concat(message.result));
    } else if (pending.texts !== undefined && typeof message.result === "string") {
      pending.resolve(pending.texts.join("") + message.result);
    } else pending.resolve(message.result);
  }

  async #readLoop(): Promise<void> {
    const splitter = new LineSplitter();
    // The daemon cuts long messages into parts; what they join to is its to bound.
    const joiner = new PartJoiner(Infinity);
    const buffer = new Uint8Array(16 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        for (const line of splitter.push(buffer.subarray(0, n))) {
          const whole = joiner.push(line);
          const message = whole === undefined ? undefined : decodeResponse(whole);
          if (message !== undefined) await this.#settle(message);
        }
      }
      this.#fail(new Error("the fullnat daemon closed the control connection"));
    } catch (e) {
      this.#fail(
        new Error(`lost the fullnat control connection: ${e instanceof Error ? e.message : e}`),
      );
    }
  }

  /** See {@linkcode ControlTarget.addService}. */
  addService(key: ServiceKey, options: ServiceOptions): Promise<void> {
    return this.#invoke("addService", [key, options]);
  }
  /** See {@linkcode ControlTarget.editService}. */
  editService(key: ServiceKey, options: Partial<ServiceOptions>): Promise<void> {
    return this.#invoke("editService", [key, options]);
  }
  /** See {@linkcode ControlTarget.deleteService}. */
  deleteService(key: ServiceKey): Promise<void> {
    return this.#invoke("deleteService", [key]);
  }
  /** See {@linkcode ControlTarget.addRealServer}. */
  addRealServer(key: ServiceKey, server: RealServerSpec): Promise<void> {
    return this.#invoke("addRealServer", [key, server]);
  }
  /** See {@linkcode ControlTarget.editRealServer}. */
  editRealServer(key: ServiceKey, server: Partial<RealServerSpec> & Endpoint): Promise<void> {
    return this.#invoke("editRealServer", [key, server]);
  }
  /** See {@linkcode ControlTarget.deleteRealServer}. */
  deleteRealServer(key: ServiceKey, server: Endpoint): Promise<void> {
    return this.#invoke("deleteRealServer", [key, server]);
  }
  /** See {@linkcode ControlTarget.addLocalAddress}. */
  addLocalAddress(key: ServiceKey, address: string): Promise<void> {
    return this.#invoke("addLocalAddress", [key, address]);
  }
  /** See {@linkcode ControlTarget.deleteLocalAddress}. */
  deleteLocalAddress(key: ServiceKey, address: string): Promise<void> {
    return this.#invoke("deleteLocalAddress", [key, address]);
  }
  /** See {@linkcode ControlTarget.clear}. */
  clear(): Promise<void> {
    return this.#invoke("clear", []);
  }
  /** See {@linkcode ControlTarget.zeroStats}. */
  zeroStats(key?: ServiceKey): Promise<void> {
    return this.#invoke("zeroStats", [key]);
  }
  /** See {@linkcode ControlTarget.listServices}. */
  listServices(): Promise<ServiceView[]> {
    return this.#invoke("listServices", []);
  }
  /** See {@linkcode ControlTarget.listConnections}. */
  listConnections(): Promise<ConnectionView[]> {
    return this.#invoke("listConnections", []);
  }
  /** See {@linkcode ControlTarget.getTimeouts}. */
  getTimeouts(): Promise<Timeouts> {
    return this.#invoke("getTimeouts", []);
  }
  /** See {@linkcode ControlTarget.setTimeouts}. */
  setTimeouts(timeouts: Partial<Timeouts>): Promise<void> {
    return this.#invoke("setTimeouts", [timeouts]);
  }
  /** See {@linkcode ControlTarget.getTunables}. */
  getTunables(): Promise<Tunables> {
    return this.#invoke("getTunables", []);
  }
  /** See {@linkcode ControlTarget.setTunables}. */
  setTunables(tunables: Partial<Tunables>): Promise<void> {
    return this.#invoke("setTunables", [tunables]);
  }
  /** See {@linkcode ControlTarget.diversion}. */
  diversion(): Promise<DiversionSpec> {
    return this.#invoke("diversion", []);
  }
}
