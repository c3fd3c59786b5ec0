/**
 * The control socket's wire format: one JSON object per line, UTF-8, each way.
 *
 * - request: `{"id": 1, "op": "addService", "args": [...]}`
 * - success: `{"id": 1, "ok": true, "result": ...}` (`null` when the op returns nothing)
 * - failure: `{"id": 1, "ok": false, "error": {"code": "...", "message": "..."}}`
 * - a listing streams: frames `{"id": 1, "rows": [...]}` (or `{"id": 1, "text": "..."}`), each
 *   at most {@linkcode FRAME_BYTES} or one row long, then the final success or failure line; the
 *   result a caller sees is the rows (or texts) joined.
 * - a message longer than {@linkcode FRAME_BYTES} (a large document to apply, a long change
 *   list) travels as pieces of its JSON text, `{"part": "..."}` lines ended by
 *   `{"part": "...", "end": true}`; the receiver joins them and reads the result as one line.
 *
 * No line is ever longer than {@linkcode MAX_LINE_BYTES}; a request assembled from parts may be
 * at most {@linkcode MAX_REQUEST_BYTES}. A peer breaking either limit is refused and dropped.
 *
 * Error codes are the {@linkcode ControlErrorCode}s for refused control operations, plus
 * `bad-request` (not JSON, not a request), `unknown-op` and `internal` (the op itself failed
 * unexpectedly). A reply to a line whose id could not be read carries `"id": null`.
 *
 * @module
 */

import { ControlError, type ControlErrorCode } from "../fullnat/types.ts";

/** A request id: chosen by the client, echoed by the server. */
export type RequestId = number | string;

/** One call. */
export interface ControlRequest {
  id: RequestId;
  op: string;
  args: unknown[];
}

/** Why a call failed, as sent on the wire. */
export interface ErrorBody {
  code: string;
  message: string;
}

/** One reply. */
export type ControlResponse =
  | { id: RequestId | null; ok: true; result: unknown }
  | { id: RequestId | null; ok: false; error: ErrorBody };

/** Error codes of the transport itself (beside the control error codes). */
export const PROTOCOL_ERROR = {
  badRequest: "bad-request",
  unknownOp: "unknown-op",
  internal: "internal",
} as const;

/** Longest line either side accepts; a longer one is refused and the connection closed. */
export const MAX_LINE_BYTES = 1 << 20;

/** Largest request the daemon assembles from parts; a larger one is refused. */
export const MAX_REQUEST_BYTES = 64 << 20;

/**
 * Size a sender aims a line at: rows are packed into frames of about this many characters,
 * and a longer message is cut into parts (at most 6 bytes per character once JSON-escaped,
 * so a part stays under {@linkcode MAX_LINE_BYTES}).
 */
export const FRAME_BYTES = 128 * 1024;

/** One frame of a streamed result. */
export type ResponseFrame =
  | { id: RequestId; rows: unknown[] }
  | { id: RequestId; text: string };

const CONTROL_ERROR_CODES: readonly string[] = [
  "invalid-argument",
  "service-exists",
  "no-service",
  "dest-exists",
  "no-dest",
  "laddr-exists",
  "no-laddr",
  "unsupported",
] satisfies readonly ControlErrorCode[];

/** An error reported by the daemon that is not a refused control operation. */
export class RemoteError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "RemoteError";
  }
}

const encoder = new TextEncoder();

/** Serializes one message as a line. */
export function encodeLine(message: ControlRequest | ControlResponse): Uint8Array {
  return encoder.encode(JSON.stringify(message) + "\n");
}

/**
 * Serializes a message's JSON text as the lines that carry it: itself, or, when longer than
 * {@linkcode FRAME_BYTES}, the `part` lines that cut it.
 */
export function encodeMessage(json: string): Uint8Array {
  if (json.length <= FRAME_BYTES) return encoder.encode(json + "\n");
  let out = "";
  for (let at = 0; at < json.length; at += FRAME_BYTES) {
    const piece = json.slice(at, at + FRAME_BYTES);
    const end = at + FRAME_BYTES >= json.length;
    out += JSON.stringify(end ? { part: piece, end } : { part: piece }) + "\n";
  }
  return encoder.encode(out);
}

/** A `rows` frame from rows already serialized one by one. */
export function rowsFrame(id: RequestId, rows: readonly string[]): Uint8Array {
  return encoder.encode(`{"id":${JSON.stringify(id)},"rows":[${rows.join(",")}]}\n`);
}

/** A `text` frame. */
export function textFrame(id: RequestId, text: string): Uint8Array {
  return encodeMessage(JSON.stringify({ id, text }));
}

/**
 * Joins the `part` lines of a message cut by {@linkcode encodeMessage}; other lines pass
 * through. Refuses a message that would grow past `limit` characters.
 */
export class PartJoiner {
  #parts: string[] = [];
  #size = 0;

  constructor(readonly limit: number) {}

  /** The complete message a line ends (itself when not a part), or undefined while partial. */
  push(line: string): string | undefined {
    if (!line.startsWith('{"part":')) {
      if (this.#parts.length > 0) throw new RangeError("a message's parts were interrupted");
      return line;
    }
    let value: { part?: unknown; end?: unknown };
    try {
      value = JSON.parse(line);
    } catch {
      throw new RangeError("a message part is not valid JSON");
    }
    if (typeof value.part !== "string") throw new RangeError("a message part has no text");
    this.#size += value.part.length;
    if (this.#size > this.limit) {
      throw new RangeError(`message longer than ${this.limit} bytes`);
    }
    this.#parts.push(value.part);
    if (value.end !== true) return undefined;
    const whole = this.#parts.join("");
    this.#parts = [];
    this.#size = 0;
    return whole;
  }
}

/** Builds a failure reply. */
export function errorResponse(
  id: RequestId | null,
  code: string,
  message: string,
): ControlResponse {
  return { id, ok: false, error: { code, message } };
}

const isId = (v: unknown): v is RequestId =>
  (typeof v === "number" && Number.isFinite(v)) || typeof v === "string";

/** Reads a request line, or the reply that refuses it. */
export function decodeRequest(
  line: string,
): { ok: true; request: ControlRequest } | { ok: false; response: ControlResponse } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return {
      ok: false,
      response: errorResponse(null, PROTOCOL_ERROR.badRequest, "request is not valid JSON"),
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      response: errorResponse(null, PROTOCOL_ERROR.badRequest, "request is not a JSON object"),
    };
  }
  const r = value as Record<string, unknown>;
  const id = isId(r.id) ? r.id : null;
  if (id === null) {
    return {
      ok: false,
      response: errorResponse(null, PROTOCOL_ERROR.badRequest, "request has no valid id"),
    };
  }
  if (typeof r.op !== "string") {
    return {
      ok: false,
      response: errorResponse(id, PROTOCOL_ERROR.badRequest, "request has no op string"),
    };
  }
  const args = r.args === undefined ? [] : r.args;
  if (!Array.isArray(args)) {
    return {
      ok: false,
      response: errorResponse(id, PROTOCOL_ERROR.badRequest, "request args must be an array"),
    };
  }
  return { ok: true, request: { id, op: r.op, args } };
}

/** Reads a reply or frame line; undefined when it is neither. */
export function decodeResponse(line: string): ControlResponse | ResponseFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (!isId(r.id) && r.id !== null) return undefined;
  if (isId(r.id) && Array.isArray(r.rows)) return { id: r.id, rows: r.rows };
  if (isId(r.id) && typeof r.text === "string") return { id: r.id, text: r.text };
  if (r.ok === true) return { id: r.id, ok: true, result: r.result ?? null };
  const e = r.error as Record<string, unknown> | undefined;
  if (r.ok === false && typeof e?.code === "string" && typeof e.message === "string") {
    return { id: r.id, ok: false, error: { code: e.code, message: e.message } };
  }
  return undefined;
}

/** The wire form of an error thrown by an op: control errors keep their code. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof ControlError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: PROTOCOL_ERROR.internal, message };
}

/** The error to throw for a failure reply: a {@linkcode ControlError} when it is one. */
export function errorFromBody(body: ErrorBody): Error {
  return CONTROL_ERROR_CODES.includes(body.code)
    ? new ControlError(body.code as ControlErrorCode, body.message)
    : new RemoteError(body.code, body.message);
}

/** Cuts a byte stream into lines (without their newline); refuses over-long lines. */
export class LineSplitter {
  #decoder = new TextDecoder();
  #pending = "";

  /** Feeds bytes; returns the complete lines, or throws when a line exceeds the limit. */
  push(chunk: Uint8Array): string[] {
    this.#pending += this.#decoder.decode(chunk, { stream: true });
    const lines = this.#pending.split("\n");
    this.#pending = lines.pop() ?? "";
    // Characters, not bytes, are counted: close enough for a guard against runaway input.
    if ([this.#pending, ...lines].some((l) => l.length > MAX_LINE_BYTES)) {
      throw new RangeError(`line longer than ${MAX_LINE_BYTES} bytes`);
    }
    return lines.map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "");
  }
}

/** Writes all of `bytes` (a socket write may take only part of them). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}
