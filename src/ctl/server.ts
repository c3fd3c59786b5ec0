/**
 * The daemon's control API: a Unix socket speaking the line protocol of `protocol.ts`.
 * It serves the methods of a {@linkcode ServedControl} (by allowlist, with their arguments
 * checked) and any extra ops the daemon registers. A bad request gets an error reply and
 * changes nothing; the server keeps serving every other client.
 *
 * Listings stream: rows go out in bounded frames as they come (the connection listing page by
 * page from the target, when it pages), each write awaited, so a slow reader slows the listing
 * instead of growing the daemon. A connection's read buffer comes from a small pool and goes
 * back to it when the connection closes: a daemon that served a thousand short-lived clients
 * holds no more memory than one that served a few.
 *
 * @module
 */

import { dirname } from "node:path";
import {
  type ControlRequest,
  type ControlResponse,
  decodeRequest,
  encodeMessage,
  errorBody,
  errorResponse,
  FRAME_BYTES,
  LineSplitter,
  MAX_REQUEST_BYTES,
  PartJoiner,
  PROTOCOL_ERROR,
  type RequestId,
  textFrame,
  writeAll,
} from "./protocol.ts";
import {
  callControl,
  type EncodedConnections,
  hasEncodedConnections,
  hasPagedConnections,
  isControlMethod,
  type PagedConnections,
  type ServedControl,
} from "./remote.ts";
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
 * What the server serves: the contract, and the connection listing paged or already encoded
 * when the target has it so.
 */
export type ServerTarget =
  & ServedControl
  & Partial<PagedConnections>
  & Partial<EncodedConnections>;

const encoder = new TextEncoder();

/** Bytes read from a connection at a time. */
const READ_BUFFER_BYTES = 16 * 1024;
/** Read buffers kept for reuse once their connections close. */
const POOLED_BUFFERS = 32;

/** Read buffers shared by all connections over time (see the module comment). */
class BufferPool {
  readonly #free: Uint8Array[] = [];
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(READ_BUFFER_BYTES);
  }
  give(buffer: Uint8Array): void {
    if (this.#free.length < POOLED_BUFFERS) this.#free.push(buffer);
  }
}

const gone = (e: unknown) =>
  e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset ||
  e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted;

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

/** Serves a {@linkcode ServedControl} on a Unix socket. */
export class ControlServer {
  readonly #target: ServerTarget;
  readonly #buffers = new BufferPool();
  readonly #onError: (error: unknown) => void;
  readonly #extra = new Map<string, OpHandler>();
  readonly #connections = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #listener?: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  #path?: string;
  #inode?: number | null;
  #closed = false;

  /** Wraps `target`; only its contract methods become callable. */
  constructor(target: ServerTarget, options: ControlServerOptions = {}) {
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
        // Awaited: a target may finish a change asynchronously (the daemon installs iptables
        // rules before it answers).
        const result = await callControl(this.#target, op, checked.args);
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
    let json: string;
    try {
      json = JSON.stringify(response);
    } catch (e) {
      const message = `result not serializable: ${e instanceof Error ? e.message : e}`;
      json = JSON.stringify(errorResponse(response.id, PROTOCOL_ERROR.internal, message));
    }
    await writeAll(conn, encodeMessage(json));
  }

  /**
   * Answers one request on `conn`: a listing as frames of rows then the final reply, a long
   * text as text frames, anything else as one reply.
   */
  async #answer(conn: Deno.Conn, request: ControlRequest): Promise<void> {
    const { id, op, args } = request;
    const target = this.#target;
    if (op === "listConnections" && args.length === 0) {
      if (hasEncodedConnections(target)) {
        await this.#streamEncoded(conn, id, target.connectionJson());
        return;
      }
      if (hasPagedConnections(target)) {
        await this.#stream(conn, id, target.connectionPages());
        return;
      }
    }
    const response = await this.handle(request);
    if (response.ok && Array.isArray(response.result)) {
      await this.#stream(conn, id, [response.result]);
    } else if (
      response.ok && typeof response.result === "string" && response.result.length > FRAME_BYTES
    ) {
      const text = response.result;
      for (let at = 0; at < text.length; at += FRAME_BYTES) {
        await writeAll(conn, textFrame(id, text.slice(at, at + FRAME_BYTES)));
      }
      await this.#reply(conn, { id, ok: true, result: "" });
    } else await this.#reply(conn, response);
  }

  /**
   * Sends `pages` as `rows` frames of about {@linkcode FRAME_BYTES} each, then the final reply.
   * A failure part-way ends the stream with an error reply (the client drops what it got).
   */
  async #stream(conn: Deno.Conn, id: RequestId, pages: AsyncIterable<unknown[]> | unknown[][]) {
    let rows: string[] = [];
    let size = 0;
    // One write buffer for the whole stream: a fresh one per frame would leave the allocator
    // holding about as much memory as the listing is long.
    const out = new Uint8Array(FRAME_BYTES * 4);
    const flush = async () => {
      if (rows.length === 0) return;
      const frame = `{"id":${JSON.stringify(id)},"rows":[${rows.join(",")}]}\n`;
      rows = [];
      size = 0;
      const { read, written } = encoder.encodeInto(frame, out);
      if (read === frame.length) await writeAll(conn, out.subarray(0, written));
      else await writeAll(conn, encodeMessage(frame.slice(0, -1)));
    };
    await this.#endStream(conn, id, async () => {
      for await (const page of pages) {
        for (const row of page) {
          const json = JSON.stringify(row);
          rows.push(json);
          size += json.length + 1;
          if (size >= FRAME_BYTES) await flush();
        }
      }
      await flush();
    });
  }

  /**
   * Runs `send` (a stream's frames) and ends the stream: with the final success reply, or, when
   * sending failed part-way for a reason other than the client leaving, with an error reply.
   */
  async #endStream(conn: Deno.Conn, id: RequestId, send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (e) {
      if (gone(e)) throw e;
      const body = errorBody(e);
      await this.#reply(conn, errorResponse(id, body.code, body.message));
      return;
    }
    await this.#reply(conn, { id, ok: true, result: [] });
  }

  /**
   * Sends pages of rows already encoded as JSON (see {@linkcode EncodedConnections}) as `rows`
   * frames of whole pages, about {@linkcode FRAME_BYTES} each, then the final reply; the bytes
   * are copied into one reusable frame buffer and written, never parsed or turned into strings.
   * A page longer than a frame goes out as a frame of its own (a page's row count keeps it far
   * below the line limit). A failure part-way ends the stream with an error reply.
   */
  async #streamEncoded(conn: Deno.Conn, id: RequestId, pages: AsyncIterable<Uint8Array>) {
    const head = encoder.encode(`{"id":${JSON.stringify(id)},"rows":[`);
    const tail = encoder.encode("]}\n");
    const out = new Uint8Array(FRAME_BYTES + head.length + tail.length);
    out.set(head);
    let at = head.length;
    const flush = async () => {
      if (at === head.length) return;
      out.set(tail, at);
      await writeAll(conn, out.subarray(0, at + tail.length));
      at = head.length;
    };
    await this.#endStream(conn, id, async () => {
      for await (const page of pages) {
        if (page.length === 0) continue;
        if (at > head.length && at + 1 + page.length > FRAME_BYTES) await flush();
        if (head.length + page.length > FRAME_BYTES) {
          await writeAll(conn, head);
          await writeAll(conn, page);
          await writeAll(conn, tail);
          continue;
        }
        if (at > head.length) out[at++] = 0x2c;
        out.set(page, at);
        at += page.length;
      }
      await flush();
    });
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
    const joiner = new PartJoiner(MAX_REQUEST_BYTES);
    const buffer = this.#buffers.take();
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        let requests: string[];
        try {
          requests = [];
          for (const line of splitter.push(buffer.subarray(0, n))) {
            const whole = joiner.push(line);
            if (whole !== undefined) requests.push(whole);
          }
        } catch (e) {
          // Refused before it is buffered any further: the peer is not speaking the protocol.
          const message = e instanceof Error ? e.message : String(e);
          await this.#reply(conn, errorResponse(null, PROTOCOL_ERROR.badRequest, message));
          break;
        }
        // One at a time per connection: replies come back in request order.
        for (const line of requests) {
          const decoded = decodeRequest(line);
          if (decoded.ok) await this.#answer(conn, decoded.request);
          else await this.#reply(conn, decoded.response);
        }
      }
    } catch (e) {
      // A client that vanished mid-reply is its own problem, not the daemon's.
      if (!gone(e) && !this.#closed) throw e;
    } finally {
      this.#connections.delete(conn);
      this.#buffers.give(buffer);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}
