/**
 * Opening the connection a tcp, http or https check probes with: from a chosen source address
 * and port (keepalived's bind_to / bind_port), optionally wrapped in TLS without certificate
 * checks (keepalived's SSL_GET does not verify either), bounded by a deadline and an abort
 * signal, with socket errors turned into the short reasons a status shows.
 *
 * It uses `node:net` / `node:tls` because `Deno.connect` cannot choose the local address;
 * Deno's `net.connect({localAddress, localPort})` binds before connecting (the server sees the
 * bound address as the peer; tests/unit/health/probe_test.ts checks it).
 *
 * @example
 * ```ts
 * import { describeSocketError } from "./probe_socket.ts";
 * console.log(describeSocketError({ code: "ECONNREFUSED" })); // "connection refused"
 * ```
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { formatEndpoint, isIpv6 } from "../vocab/mod.ts";

/** Where and how to connect. */
export interface ConnectTarget {
  host: string;
  port: number;
  /** Source address (bind_to). */
  localAddress?: string;
  /** Source port (bind_port). */
  localPort?: number;
  /** Wrap in TLS; `servername` is sent as SNI when given. */
  tls?: { servername?: string };
}

/** A connected socket, or why there is none. */
export type ConnectOutcome =
  | { ok: true; socket: net.Socket }
  | { ok: false; reason: string };

/** A socket error as a status shows it: `connection refused`, `host unreachable`. */
export function describeSocketError(
  e: unknown,
  target?: Pick<ConnectTarget, "localAddress" | "localPort">,
): string {
  const err = e as { code?: string; syscall?: string; message?: string };
  if (err?.syscall === "bind" || err?.code === "EADDRNOTAVAIL") {
    const source = target?.localAddress === undefined
      ? `port ${target?.localPort ?? 0}`
      : formatEndpoint(target.localAddress, target.localPort ?? 0).replace(/:0$/, "");
    if (err.code === "EADDRINUSE") return `cannot bind to ${source}: address in use`;
    return `cannot bind to ${source}: not a local address (${err.code ?? "error"})`;
  }
  if (
    target?.localPort !== undefined && target.localPort !== 0 &&
    (err?.code === "EINVAL" || err?.code === "EADDRINUSE")
  ) {
    // The same source port to the same server again while the last connection lingers.
    return `cannot connect from source port ${target.localPort}: in use (${err.code})`;
  }
  switch (err?.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "EHOSTUNREACH":
      return "host unreachable";
    case "ENETUNREACH":
      return "network unreachable";
    case "ETIMEDOUT":
      return "connection timed out";
    case "EPIPE":
      return "connection closed by the server";
    case "EADDRINUSE":
      return "source address and port in use";
  }
  const message = err?.message ?? String(e);
  return err?.code !== undefined && !message.includes(err.code)
    ? `${err.code}: ${message}`
    : message;
}

/**
 * Closes a probe's connection. With a fixed source port (bind_port) it resets instead: a
 * normal close from this side leaves the connection in TIME_WAIT for a minute, and the next
 * probe from the same port to the same server could not connect until it ends.
 */
export function closeSocket(socket: net.Socket, fixedSourcePort: boolean): void {
  if (fixedSourcePort && !socket.destroyed) socket.resetAndDestroy();
  else socket.destroy();
}

/** Seconds as reasons write them: `5 s`, `0.5 s`. */
export function formatSeconds(seconds: number): string {
  return `${Number(seconds.toFixed(3))} s`;
}

/** Milliseconds as reasons write them: `3 ms`, `0.4 ms`. */
export function formatMs(ms: number): string {
  return ms < 10 ? `${Number(ms.toFixed(1))} ms` : `${Math.round(ms)} ms`;
}

/**
 * Connects (and, for TLS, completes the handshake) before `deadline` (a `performance.now()`
 * time). Never rejects: a failure, the deadline or `signal` gives `{ok: false, reason}`, and
 * the socket is destroyed.
 */
export function connectSocket(
  target: ConnectTarget,
  deadline: number,
  signal: AbortSignal,
  timeoutText: string,
): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ok: false, reason: "aborted" });
    if (target.localAddress !== undefined && isIpv6(target.localAddress) !== isIpv6(target.host)) {
      return resolve({
        ok: false,
        reason: `cannot bind to ${target.localAddress}: not of the IP version of ${target.host}`,
      });
    }
    const options: net.NetConnectOpts = { host: target.host, port: target.port };
    if (target.localAddress !== undefined) options.localAddress = target.localAddress;
    if (target.localPort !== undefined) options.localPort = target.localPort;
    let socket: net.Socket;
    let settled = false;
    const finish = (outcome: ConnectOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.removeListener("error", onError);
      if (!outcome.ok) socket.destroy();
      else socket.on("error", () => {}); // the caller's listeners take over; never unhandled
      resolve(outcome);
    };
    const onError = (e: unknown) => {
      const tlsFailure = target.tls !== undefined && !isSocketLevel(e);
      const code = (e as { code?: string })?.code;
      finish({
        ok: false,
        reason: tlsFailure
          ? `TLS handshake failed${code === undefined ? "" : ` (${code})`}`
          : describeSocketError(e, target),
      });
    };
    const onAbort = () => finish({ ok: false, reason: "aborted" });
    try {
      if (target.tls) {
        const raw = net.connect(options);
        const tlsOptions: tls.ConnectionOptions = { socket: raw, rejectUnauthorized: false };
        if (target.tls.servername !== undefined) tlsOptions.servername = target.tls.servername;
        raw.on("error", onError);
        socket = tls.connect(tlsOptions, () => finish({ ok: true, socket }));
        socket.on("close", () => raw.destroy());
      } else {
        socket = net.connect(options, () => finish({ ok: true, socket }));
      }
    } catch (e) {
      // Bad options (an address of the wrong family) throw synchronously in node:net.
      settled = true;
      return resolve({ ok: false, reason: describeSocketError(e, target) });
    }
    socket.on("error", onError);
    const timer = setTimeout(
      () => finish({ ok: false, reason: timeoutText }),
      Math.max(0, deadline - performance.now()),
    );
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** True for errors of the TCP connection itself rather than of the TLS layer on top. */
function isSocketLevel(e: unknown): boolean {
  const err = e as { code?: string; syscall?: string };
  return err?.syscall !== undefined || /^E[A-Z]+$/.test(err?.code ?? "");
}
