/**
 * A packet worker's sessions as the control socket sends them: each page of rows written as
 * JSON straight into one reusable byte buffer. Listing a million sessions then builds no
 * string and no object per row (beyond its address texts), and the main thread writes the
 * bytes it is handed to the socket without parsing them: a listing that made a row object, a
 * JSON string and a frame string per session grew the daemon's heap by tens of megabytes
 * that it kept (see `tests/e2e/ctl/million_sessions_test.ts`).
 *
 * The bytes of a row are exactly `JSON.stringify(row)` of its {@linkcode ConnectionView}.
 *
 * @module
 */
import type { EngineControl } from "../fullnat/control.ts";
import type { ConnectionView, Endpoint } from "../fullnat/types.ts";

/** One page of a worker's sessions, as JSON. */
export interface EncodedConnectionPage {
  /** The rows' JSON texts, comma-separated, without brackets (UTF-8; empty for no rows). */
  json: Uint8Array<ArrayBuffer>;
  /** How many rows `json` holds. */
  rows: number;
  /** Where the next page starts; null after the last. */
  next: number | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const encoder = new TextEncoder();

/** Writes JSON rows into a buffer that grows as needed and is reused from page to page. */
export class ConnectionJsonWriter {
  #buf: Uint8Array;
  #at = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#buf = new Uint8Array(initialBytes);
  }

  /** Appends one row (after a comma unless it is the first since the last take). */
  row(c: ConnectionView): void {
    if (this.#at > 0) this.#byte(0x2c);
    this.#raw('{"protocol":');
    this.#string(c.protocol);
    this.#raw(',"method":');
    this.#string(c.method);
    this.#raw(',"state":');
    this.#string(c.state);
    this.#raw(',"expiresInMs":');
    this.#number(c.expiresInMs);
    this.#raw(',"client":');
    this.#endpoint(c.client);
    this.#raw(',"virtual":');
    this.#endpoint(c.virtual);
    this.#raw(',"local":');
    this.#endpoint(c.local);
    this.#raw(',"real":');
    this.#endpoint(c.real);
    if (c.template) this.#raw(',"template":true');
    if (c.offloaded) this.#raw(',"offloaded":true');
    this.#byte(0x7d);
  }

  /** The rows written since the last take, in a buffer of their own (transferable); resets. */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.#buf.slice(0, this.#at);
    this.#at = 0;
    return out;
  }

  #endpoint(e: Endpoint): void {
    this.#raw('{"address":');
    this.#string(e.address);
    this.#raw(',"port":');
    this.#number(e.port);
    this.#byte(0x7d);
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + bytes));
    grown.set(this.#buf.subarray(0, this.#at));
    this.#buf = grown;
  }

  #byte(b: number): void {
    this.#room(1);
    this.#buf[this.#at++] = b;
  }

  /** Text known to be printable ASCII that needs no escaping (the writer's own keys). */
  #raw(text: string): void {
    this.#room(text.length);
    for (let i = 0; i < text.length; i++) this.#buf[this.#at++] = text.charCodeAt(i);
  }

  #string(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
        // Addresses and state names never get here; anything else is escaped as JSON does.
        this.#utf8(JSON.stringify(text));
        return;
      }
    }
    this.#room(text.length + 2);
    this.#buf[this.#at++] = QUOTE;
    for (let i = 0; i < text.length; i++) this.#buf[this.#at++] = text.charCodeAt(i);
    this.#buf[this.#at++] = QUOTE;
  }

  #number(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) {
      this.#utf8(JSON.stringify(n));
      return;
    }
    let digits = 1;
    for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
    this.#room(digits);
    for (let i = this.#at + digits - 1, v = n; i >= this.#at; i--, v = Math.floor(v / 10)) {
      this.#buf[i] = 0x30 + (v % 10);
    }
    this.#at += digits;
  }

  #utf8(text: string): void {
    this.#room(text.length * 3);
    this.#at += encoder.encodeInto(text, this.#buf.subarray(this.#at)).written;
  }
}

/**
 * At most `max` sessions of `control`'s engine from slot `cursor` on, as JSON written by
 * `writer`, and where to continue.
 */
export function encodeConnectionPage(
  control: EngineControl,
  writer: ConnectionJsonWriter,
  cursor: number,
  max: number,
): EncodedConnectionPage {
  let rows = 0;
  const { next } = control.listConnectionsPage(cursor, max, (row) => {
    writer.row(row);
    rows++;
  });
  return { json: writer.take(), rows, next };
}
