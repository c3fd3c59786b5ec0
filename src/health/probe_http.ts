/**
 * The http and https checks (keepalived's HTTP_GET and SSL_GET): each URL of the check is
 * fetched in order with `GET path HTTP/1.1`, `Connection: close`, on a connection of its own
 * (from bindTo/bindPort when set); the check passes when every URL answers with an accepted
 * status and, when the URL gives a digest, a body whose MD5 equals it (the digest keepalived's
 * `genhash` prints; chunked framing is removed before hashing, as it is not part of the
 * content). Each URL's whole exchange (connect, TLS, request, response) is bounded by
 * connectTimeout. https does not verify the certificate, as SSL_GET does not; it sends
 * virtualHost as the TLS server name when set.
 *
 * The Host header is virtualHost, else `address:port` of the probed endpoint. Without a
 * digest the body is not read: the verdict comes with the status line.
 *
 * @example
 * ```ts
 * import { probeHttp } from "./probe_http.ts";
 * import { normalizeCheck } from "./spec.ts";
 * const spec = normalizeCheck({ type: "http", connectTimeout: 0.2, urls: [{ path: "/" }] });
 * const r = await probeHttp(spec, { address: "127.0.0.1", port: 1 }, new AbortController().signal);
 * console.log(r.reason); // "connection refused"
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import type net from "node:net";
import { formatEndpoint } from "../vocab/mod.ts";
import { ResponseReader } from "./http_response.ts";
import {
  closeSocket,
  connectSocket,
  describeSocketError,
  formatMs,
  formatSeconds,
} from "./probe_socket.ts";
import {
  type CheckSpec,
  checkTarget,
  describeStatusCodes,
  type ProbeResult,
  type RsTarget,
  statusAccepted,
  type UrlSpec,
} from "./spec.ts";

/** The User-Agent of check requests, so real servers can leave checks out of their logs. */
export const CHECK_USER_AGENT = "fullnat-healthcheck";

/** One http/https attempt over all URLs of the check. Never rejects. */
export async function probeHttp(
  spec: CheckSpec,
  rs: RsTarget,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const start = performance.now();
  const urls = spec.urls ?? [];
  if (urls.length === 0) return { ok: false, reason: "no URL to check", ms: 0 };
  let last = "";
  for (const url of urls) {
    const r = await fetchUrl(spec, rs, url, signal);
    if (!r.ok) return { ok: false, reason: r.reason, ms: performance.now() - start };
    last = r.reason;
  }
  const ms = performance.now() - start;
  const what = urls.length === 1 ? last : `HTTP ok on ${urls.length} URLs`;
  return { ok: true, reason: `${what} in ${formatMs(ms)}`, ms };
}

/** GETs one URL and judges the answer. */
async function fetchUrl(
  spec: CheckSpec,
  rs: RsTarget,
  url: UrlSpec,
  signal: AbortSignal,
): Promise<{ ok: boolean; reason: string }> {
  const { address, port } = checkTarget(spec, rs);
  const deadline = performance.now() + spec.connectTimeout * 1000;
  const within = formatSeconds(spec.connectTimeout);
  const connected = await connectSocket(
    {
      host: address,
      port,
      localAddress: spec.bindTo,
      localPort: spec.bindPort,
      tls: spec.type === "https" ? { servername: spec.virtualHost } : undefined,
    },
    deadline,
    signal,
    `no answer within ${within}`,
  );
  if (!connected.ok) return connected;
  const host = spec.virtualHost ?? formatEndpoint(address, port);
  const request =
    `GET ${url.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${CHECK_USER_AGENT}\r\n` +
    `Accept: */*\r\nConnection: close\r\n\r\n`;
  const hash = url.digest === undefined ? undefined : createHash("md5");
  const reader = new ResponseReader(hash !== undefined, (b) => hash?.update(b));
  const failure = await exchange(connected.socket, request, reader, deadline, signal, {
    localPort: spec.bindPort,
  });
  if (failure !== undefined) {
    return {
      ok: false,
      reason: failure === "timeout"
        ? `no response to GET ${url.path} within ${within}`
        : `${failure} on ${url.path}`,
    };
  }
  const status = reader.status!;
  if (!statusAccepted(url, status)) {
    return {
      ok: false,
      reason: `HTTP ${status} on ${url.path} (expected ${describeStatusCodes(url)})`,
    };
  }
  if (hash !== undefined) {
    const got = hash.digest("hex");
    if (got !== url.digest) {
      return { ok: false, reason: `digest mismatch on ${url.path} (got ${got})` };
    }
  }
  return { ok: true, reason: `HTTP ${status} on ${url.path}` };
}

/**
 * Sends the request and feeds the reader until it is done. Resolves undefined when the reader
 * has a response, else "timeout", "aborted" or what went wrong. Always destroys the socket.
 */
function exchange(
  socket: net.Socket,
  request: string,
  reader: ResponseReader,
  deadline: number,
  signal: AbortSignal,
  source: { localPort?: number },
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (failure: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      closeSocket(socket, source.localPort !== undefined);
      resolve(failure);
    };
    const check = () => {
      if (reader.error !== undefined) finish(reader.error);
      else if (reader.done) finish(undefined);
    };
    const onAbort = () => finish("aborted");
    socket.on("data", (chunk: Uint8Array) => {
      reader.push(chunk);
      check();
    });
    socket.on("end", () => {
      reader.end();
      check();
    });
    socket.on("close", () => {
      reader.end();
      check();
    });
    socket.on("error", (e: unknown) => {
      if (settled) return;
      reader.end();
      if (reader.done) finish(undefined);
      else finish(describeSocketError(e, source));
    });
    const timer = setTimeout(() => finish("timeout"), Math.max(0, deadline - performance.now()));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    socket.write(request);
  });
}
