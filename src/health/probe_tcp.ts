/**
 * The tcp check (keepalived's TCP_CHECK): the real server is up when a TCP connection to it
 * completes within connectTimeout. The connection is closed at once (reset when bindPort fixes
 * the source port, see closeSocket); nothing is sent.
 *
 * @example
 * ```ts
 * import { probeTcp } from "./probe_tcp.ts";
 * import { normalizeCheck } from "./spec.ts";
 * const r = await probeTcp(normalizeCheck({ type: "tcp", connectTimeout: 0.2 }),
 *   { address: "127.0.0.1", port: 1 }, new AbortController().signal);
 * console.log(r.reason); // "connection refused"
 * ```
 *
 * @module
 */
import { closeSocket, connectSocket, formatMs, formatSeconds } from "./probe_socket.ts";
import { type CheckSpec, checkTarget, type ProbeResult, type RsTarget } from "./spec.ts";

/** One tcp attempt. Never rejects. */
export async function probeTcp(
  spec: CheckSpec,
  rs: RsTarget,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const start = performance.now();
  const { address, port } = checkTarget(spec, rs);
  const outcome = await connectSocket(
    { host: address, port, localAddress: spec.bindTo, localPort: spec.bindPort },
    start + spec.connectTimeout * 1000,
    signal,
    `no answer within ${formatSeconds(spec.connectTimeout)}`,
  );
  const ms = performance.now() - start;
  if (!outcome.ok) return { ok: false, reason: outcome.reason, ms };
  closeSocket(outcome.socket, spec.bindPort !== undefined);
  return { ok: true, reason: `connected in ${formatMs(ms)}`, ms };
}
