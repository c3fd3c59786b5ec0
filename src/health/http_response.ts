/**
 * Reads one HTTP/1.x response as it arrives in pieces: the status line and headers, then the
 * body as `Content-Length`, chunked or close-delimited framing says, handing body bytes to a
 * callback as they come (a digest check hashes them without holding the body). Interim 1xx
 * responses are skipped. It is a small reader for health checks, not a general client: it
 * keeps no headers beyond what framing needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResponseReader } from "./http_response.ts";
 * const body: number[] = [];
 * const r = new ResponseReader(true, (b) => body.push(...b));
 * r.push(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"));
 * assert.ok(r.done && r.status === 200 && body.length === 2);
 * ```
 *
 * @module
 */
import { concatBytes } from "../wire/bytes.ts";

/** Most bytes the status line and headers may take. */
export const MAX_HEAD_BYTES = 65536;

type Framing = "length" | "chunked" | "close" | "none";
type ChunkState = "size" | "data" | "data-end" | "trailer";

const decoder = new TextDecoder("latin1");

/** A streaming reader of one response. Feed it with push() and end(); check done and error. */
export class ResponseReader {
  /** The final status code, once the head is read. */
  status?: number;
  /** Why the response cannot be read; set once, after which the reader ignores input. */
  error?: string;
  /** True when the response is complete (the head only, when the body is not wanted). */
  done = false;

  #head: Uint8Array[] = [];
  #headBytes = 0;
  #framing: Framing = "none";
  #remaining = 0;
  #chunk: ChunkState = "size";
  #line = "";

  /**
   * @param wantBody read the body too (else done after the head)
   * @param onBody receives body bytes in order (chunked framing removed)
   */
  constructor(readonly wantBody: boolean, readonly onBody: (bytes: Uint8Array) => void) {}

  /** Feeds the next bytes from the connection. */
  push(bytes: Uint8Array): void {
    let rest: Uint8Array | undefined = bytes;
    while (rest !== undefined && rest.length > 0 && !this.done && this.error === undefined) {
      rest = this.status === undefined ? this.#pushHead(rest) : this.#pushBody(rest);
    }
  }

  /** The connection was closed by the server. */
  end(): void {
    if (this.done || this.error !== undefined) return;
    if (this.status === undefined) {
      this.error = this.#headBytes === 0
        ? "connection closed without a response"
        : "connection closed in the middle of the response headers";
    } else if (this.#framing === "close") this.done = true;
    else this.error = "connection closed before the end of the response body";
  }

  /** Takes head bytes; returns what follows the head (or undefined when more is needed). */
  #pushHead(bytes: Uint8Array): Uint8Array | undefined {
    this.#head.push(bytes);
    this.#headBytes += bytes.length;
    const all = concatBytes(this.#head, this.#headBytes);
    const end = headEnd(all);
    if (end === undefined) {
      if (this.#headBytes > MAX_HEAD_BYTES) {
        this.error = `response headers longer than ${MAX_HEAD_BYTES} bytes`;
      } else this.#head = [all];
      return undefined;
    }
    const rest = all.subarray(end.bodyStart);
    this.#head = [];
    this.#headBytes = 0;
    const lines = decoder.decode(all.subarray(0, end.headEnd)).replace(/\r$/, "").split(/\r?\n/);
    const m = /^HTTP\/1\.[01] ([1-5][0-9][0-9])(?:[ \t].*)?$/.exec(lines[0]);
    if (m === null) {
      this.error = `not an HTTP response (starts with ${JSON.stringify(lines[0].slice(0, 40))})`;
      return undefined;
    }
    const status = Number(m[1]);
    if (status >= 100 && status <= 199 && status !== 101) return rest; // interim: read the next head
    this.status = status;
    let length: number | undefined;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "transfer-encoding" && /(^|,)\s*chunked\s*$/i.test(value)) chunked = true;
      if (name === "content-length") {
        if (!/^[0-9]{1,15}$/.test(value)) {
          this.error = `bad Content-Length ${JSON.stringify(value)}`;
          return undefined;
        }
        length = Number(value);
      }
    }
    if (!this.wantBody) {
      this.done = true;
      return undefined;
    }
    if (status === 204 || status === 304) this.#framing = "none";
    else if (chunked) this.#framing = "chunked";
    else if (length !== undefined) {
      this.#framing = "length";
      this.#remaining = length;
    } else this.#framing = "close";
    if (this.#framing === "none" || (this.#framing === "length" && length === 0)) {
      this.done = true;
      return undefined;
    }
    return rest;
  }

  /** Takes body bytes; returns what is left to process (chunked framing works piecewise). */
  #pushBody(bytes: Uint8Array): Uint8Array | undefined {
    switch (this.#framing) {
      case "close":
        this.onBody(bytes);
        return undefined;
      case "length": {
        const take = Math.min(this.#remaining, bytes.length);
        this.onBody(bytes.subarray(0, take));
        this.#remaining -= take;
        if (this.#remaining === 0) this.done = true;
        return undefined;
      }
      case "chunked":
        return this.#pushChunked(bytes);
      default:
        return undefined;
    }
  }

  #pushChunked(bytes: Uint8Array): Uint8Array | undefined {
    if (this.#chunk === "data") {
      const take = Math.min(this.#remaining, bytes.length);
      this.onBody(bytes.subarray(0, take));
      this.#remaining -= take;
      if (this.#remaining === 0) this.#chunk = "data-end";
      return bytes.subarray(take);
    }
    // size, data-end and trailer are line-based.
    const nl = bytes.indexOf(0x0a);
    if (nl < 0) {
      this.#line += decoder.decode(bytes);
      if (this.#line.length > 4096) this.error = "chunked body: line too long";
      return undefined;
    }
    const line = (this.#line + decoder.decode(bytes.subarray(0, nl))).replace(/\r$/, "");
    this.#line = "";
    const rest = bytes.subarray(nl + 1);
    if (this.#chunk === "data-end") {
      if (line !== "") this.error = "chunked body: missing CRLF after a chunk";
      this.#chunk = "size";
    } else if (this.#chunk === "size") {
      const m = /^([0-9a-fA-F]{1,12})\s*(;.*)?$/.exec(line);
      if (m === null) {
        this.error = `chunked body: bad chunk size ${JSON.stringify(line.slice(0, 20))}`;
        return undefined;
      }
      this.#remaining = parseInt(m[1], 16);
      this.#chunk = this.#remaining === 0 ? "trailer" : "data";
    } else if (line === "") this.done = true; // end of trailers
    return rest;
  }
}

/** Where the head ends (the blank line, CRLF or bare LF) and the body starts. */
function headEnd(b: Uint8Array): { headEnd: number; bodyStart: number } | undefined {
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0x0a) continue;
    if (b[i + 1] === 0x0a) return { headEnd: i, bodyStart: i + 2 };
    if (b[i + 1] === 0x0d && b[i + 2] === 0x0a) return { headEnd: i, bodyStart: i + 3 };
  }
  return undefined;
}
