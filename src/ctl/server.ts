/**
 * The daemon's control API: a Unix socket speaking the line protocol of `protocol.ts`.
 * It serves the methods of a synchronous {@linkcode ControlTarget} (by allowlist, with their
 * arguments checked) and any extra ops the daemon registers. A bad request gets an error reply
 * and changes nothing; the server keeps serving every other client.
 *
 * @module
 */

import { dirname } from "node:path";
import type { ControlTarget } from "../fullnat/types.ts";
import {
  type ControlRequest,
  type ControlResponse,
  decodeRequest,
  encodeLine,
  errorBody,
  errorResponse,
  LineSplitter,
  PROTOCOL_ERROR,
  writeAll,
} from "./protocol.ts";
import { isControlMethod } from "./remote.ts";
import { defaultSocketPath } from "./socket_path.ts";
import { checkArgs } from "./validate.ts";

/** An extra op the daemon serves beside the contract (e.g. `stats`). */
export type OpHandler = (...args: unknown[]) => unknown;

/** Options of {@linkcode ControlServer.listen}. */
export interface ListenOptions {
  /** Socket path; default {@linkcode defaultSocketPath}. */
  path?: string;
  /** File mode for the socket (e.g. 0o660 to let an admin group in); default: the umask's. */
  mode?: number;
}

const isMissing = (e: unknown) => e instanceof Deno.errors.NotFound;

/**
 * Makes `path` free for a new socket: creates its directory, removes a stale socket that no
 * process answers on, and refuses when another daemon is live there or the path is not a socket.
 */
async function claimSocketPath(path: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (isMissing(e)) return;
    throw e;
  }
  if (!info.isSocket) {
    throw new Error(`control socket path ${path} exists and is not a socket; not replacing it`);
  }
  let live: Deno.Conn | undefined;
  try {
    live = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    if (!(e instanceof Deno.errors.ConnectionRefused) && !isMissing(e)) throw e;
  }
  if (live !== undefined) {
    live.close();
    throw new Error(`another fullnat daemon is already serving on ${path}`);
  }
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
}

/** Options of the {@linkcode ControlServer} constructor. */
export interface ControlServerOptions {
  /** Told about failures that are neither a client's fault nor reportable to one. */
  onError?: (error: unknown) => void;
}

/** Serves a {@linkcode ControlTarget} on a Unix socket. */
export class ControlServer {
  readonly #target: ControlTarget;
  readonly #onError: (error: unknown) => void;
  readonly #extra = new Map<string, OpHandler>();
  readonly #connections = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #listener?: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  #path?: string;
  #inode?: number | null;
  #closed = false;

  /** Wraps `target`; only its contract methods become callable. */
  constructor(target: ControlTarget, options: ControlServerOptions = {}) {
    this.#target = target;
    this.#onError = options.onError ??
      ((e) => console.error("fullnat control:", e instanceof Error ? e.message : e));
  }

  /** The socket path while listening. */
  get path(): string | undefined {
    return this.#path;
  }

  /**
   * Adds an op beside the contract methods (e.g. `"stats"`). Its arguments arrive as sent;
   * the handler checks them. A contract method's name cannot be taken.
   */
  register(op: string, handler: OpHandler): this {
    if (isControlMethod(op) || this.#extra.has(op)) {
      throw new Error(`control op '${op}' is already defined`);
    }
    this.#extra.set(op, handler);
    return this;
  }

  /** Answers one request; never throws. Exposed so an in-process caller can skip the socket. */
  async handle(request: ControlRequest): Promise<ControlResponse> {
    const { id, op, args } = request;
    try {
      if (isControlMethod(op)) {
        const checked = checkArgs(op, args);
        if (!checked.ok) return errorResponse(id, "invalid-argument", checked.message);
        const method = this.#target[op] as (...a: unknown[]) => unknown;
        // Awaited: a target may finish a change asynchronously (the daemon installs iptables
        // rules before it answers).
        const result = await method.apply(this.#target, checked.args);
        return { id, ok: true, result: result ?? null };
      }
      const handler = this.#extra.get(op);
      if (handler === undefined) {
        return errorResponse(id, PROTOCOL_ERROR.unknownOp, `unknown op '${op}'`);
      }
      const result = await handler(...args);
      return { id, ok: true, result: result ?? null };
    } catch (e) {
      const body = errorBody(e);
      return errorResponse(id, body.code, body.message);
    }
  }

  /** Binds the socket and starts serving in the background. */
  async listen(options: ListenOptions = {}): Promise<void> {
    if (this.#listener !== undefined || this.#closed) {
      throw new Error("control server already started");
    }
    const path = options.path ?? defaultSocketPath();
    await claimSocketPath(path);
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#path = path;
    if (options.mode !== undefined) await Deno.chmod(path, options.mode);
    this.#inode = (await Deno.lstat(path)).ino;
    this.#track(this.#acceptLoop(this.#listener));
  }

  /** Stops accepting, drops every connection and removes the socket file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#connections) {
      try {
        conn.close();
      } catch {
        // Already closed by the peer.
      }
    }
    await Promise.allSettled([...this.#tasks]);
    await this.#removeSocketFile();
  }

  async #removeSocketFile(): Promise<void> {
    if (this.#path === undefined) return;
    try {
      // Remove only our own socket: another daemon may have claimed the path since.
      const info = await Deno.lstat(this.#path);
      if (info.isSocket && info.ino === this.#inode) await Deno.remove(this.#path);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch((e) => this.#onError(e));
    this.#tasks.add(tracked);
    tracked.then(() => this.#tasks.delete(tracked));
  }

  /** Sends a reply; one that cannot be serialized becomes an `internal` error reply. */
  async #reply(conn: Deno.Conn, response: ControlResponse): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = encodeLine(response);
    } catch (e) {
      const message = `result not serializable: ${e instanceof Error ? e.message : e}`;
      bytes = encodeLine(errorResponse(response.id, PROTOCOL_ERROR.internal, message));
    }
    await writeAll(conn, bytes);
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        if (this.#closed) {
          conn.close();
          break;
        }
        this.#connections.add(conn);
        this.#track(this.#serve(conn));
      }
    } catch (e) {
      if (!this.#closed) throw e;
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const splitter = new LineSplitter();
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        let lines: string[];
        try {
          lines = splitter.push(buffer.subarray(0, n));
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          await this.#reply(conn, errorResponse(null, PROTOCOL_ERROR.badRequest, message));
          break;
        }
        // One at a time per connection: replies come back in request order.
        for (const line of lines) {
          const decoded = decodeRequest(line);
          const response = decoded.ok ? await this.handle(decoded.request) : decoded.response;
          await this.#reply(conn, response);
        }
      }
    } catch (e) {
      // A client that vanished mid-reply is its own problem, not the daemon's.
      const gone = e instanceof Deno.errors.BrokenPipe ||
        e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BadResource ||
        e instanceof Deno.errors.Interrupted;
      if (!gone && !this.#closed) throw e;
    } finally {
      this.#connections.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}
