/**
 * The health check's HTTP response reader fed in every split: framing by Content-Length,
 * chunked (with extensions and trailers) and connection close, skipped 1xx responses, and the
 * errors for what is not a complete HTTP response.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_HEAD_BYTES, ResponseReader } from "../../../src/health/http_response.ts";

const enc = new TextEncoder();

/** Feeds `text` in pieces of `size` bytes; returns the reader and the body it passed on. */
function read(text: string, size: number, wantBody = true, close = false) {
  const bytes = enc.encode(text);
  const body: number[] = [];
  const r = new ResponseReader(wantBody, (b) => body.push(...b));
  for (let i = 0; i < bytes.length && !r.done && r.error === undefined; i += size) {
    r.push(bytes.subarray(i, i + size));
  }
  if (close) r.end();
  return { r, body: new TextDecoder().decode(Uint8Array.from(body)) };
}

const SPLITS = [1, 2, 3, 7, 1000];

Deno.test("Content-Length body, in any split; bytes after it are ignored", () => {
  for (const n of SPLITS) {
    const { r, body } = read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", n);
    assert.ok(r.done && r.error === undefined, `split ${n}`);
    assert.deepEqual([r.status, body], [200, "hello"]);
  }
});

Deno.test("chunked body with extensions and trailers, in any split", () => {
  const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n";
  for (const n of SPLITS) {
    const { r, body } = read(text, n);
    assert.ok(r.done && r.error === undefined, `split ${n}: ${r.error}`);
    assert.deepEqual(body, "hello world");
  }
});

Deno.test("a body without length ends with the connection", () => {
  const { r, body } = read("HTTP/1.0 200 OK\r\n\r\nuntil close", 4, true, true);
  assert.ok(r.done);
  assert.deepEqual(body, "until close");
});

Deno.test("without a body wanted the head is enough; 204 and 304 have no body", () => {
  assert.ok(read("HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n", 3, false).r.done);
  assert.ok(read("HTTP/1.1 204 No Content\r\n\r\n", 3).r.done);
  assert.ok(read("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 3).r.done);
});

Deno.test("interim 100 responses are skipped; bare LF line ends are accepted", () => {
  const { r, body } = read(
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\nContent-Length: 2\n\nno",
    5,
  );
  assert.deepEqual([r.done, r.status, body], [true, 404, "no"]);
});

Deno.test("what is not a complete response is an error, never done", () => {
  const cases: [string, RegExp][] = [
    ["SSH-2.0-OpenSSH\r\n\r\n", /^not an HTTP response/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", /before the end of the response body/],
    ["HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", /^bad Content-Length/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /bad chunk size/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", /missing CRLF/],
    ["HTTP/1.1 200 OK\r\nServer: x", /in the middle of the response headers/],
    ["", /closed without a response/],
  ];
  for (const [text, error] of cases) {
    const { r } = read(text, 3, true, true);
    assert.ok(!r.done, JSON.stringify(text));
    assert.match(r.error ?? "", error);
  }
});

Deno.test("an endless head is refused after MAX_HEAD_BYTES", () => {
  const r = new ResponseReader(true, () => {});
  r.push(enc.encode("HTTP/1.1 200 OK\r\n"));
  const line = enc.encode("X-Filler: " + "a".repeat(1000) + "\r\n");
  for (let i = 0; i < MAX_HEAD_BYTES / 1000 + 2 && r.error === undefined; i++) r.push(line);
  assert.match(r.error ?? "", /headers longer than/);
});
