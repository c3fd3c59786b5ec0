/**
 * Polling for conditions that become true asynchronously (a server listening, a log line
 * written, a session expiring).
 *
 * @module
 */

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (default 5000). */
  timeoutMs?: number;
  /** Pause between attempts in milliseconds (default 25). */
  intervalMs?: number;
  /** What is being waited for, for the error message. */
  what?: string;
}

/**
 * Calls `predicate` until it returns (or resolves to) a truthy value and returns that value.
 * A predicate that throws counts as "not yet"; on timeout the last error is reported.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = undefined;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? "" : `; last error: ${String(lastError)}`;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${opts.what ?? "condition"}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `p`, or `"timeout"` once `ms` passed first (`p` goes on; its result is then ignored). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
