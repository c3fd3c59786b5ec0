/**
 * One attempt of a health check, whatever its type: {@linkcode probe} hands the check to the
 * tcp, http/https or misc prober and always resolves (a prober that throws gives a failed
 * result with the error as the reason), so the runner needs no error handling of its own.
 *
 * @example
 * ```ts
 * import { probe } from "./probe.ts";
 * import { normalizeCheck } from "./spec.ts";
 * const r = await probe(normalizeCheck({ type: "tcp", connectTimeout: 0.2 }),
 *   { address: "127.0.0.1", port: 1 }, new AbortController().signal);
 * console.log(r.ok, r.reason); // false "connection refused"
 * ```
 *
 * @module
 */
import { probeHttp } from "./probe_http.ts";
import { probeMisc } from "./probe_misc.ts";
import { probeTcp } from "./probe_tcp.ts";
import type { CheckSpec, ProbeResult, RsTarget } from "./spec.ts";

export type { ProbeResult, RsTarget } from "./spec.ts";

/** A function that makes one attempt (the runner takes another one in tests). */
export type ProbeFn = (spec: CheckSpec, rs: RsTarget, signal: AbortSignal) => Promise<ProbeResult>;

/** Makes one attempt of the check against the real server. Never rejects. */
export async function probe(
  spec: CheckSpec,
  rs: RsTarget,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const start = performance.now();
  try {
    switch (spec.type) {
      case "tcp":
        return await probeTcp(spec, rs, signal);
      case "http":
      case "https":
        return await probeHttp(spec, rs, signal);
      case "misc":
        return await probeMisc(spec, rs, signal);
      default:
        return { ok: false, reason: `unknown check type ${String(spec.type)}`, ms: 0 };
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, reason: `check failed: ${message}`, ms: performance.now() - start };
  }
}
