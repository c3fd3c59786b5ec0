/**
 * The admin shell's idle timeout: an interactive session in which nothing is typed for the
 * timeout is logged out, as bash does with `TMOUT`. It covers the serial console as well as
 * SSH (where sshd's `ChannelTimeout` does the same, src/mgmt/sshd_config.ts). The clock stops
 * while a command runs: a long listing or a capture is not idleness.
 *
 * The timeout, in seconds (0: none), is the first of: the `TMOUT` environment variable (bash's
 * name, which operators know), the file `/etc/fullnat/idle-timeout` (written by `fullnat mgmt
 * apply` from the configuration, readable by the admin), {@linkcode DEFAULT_IDLE_TIMEOUT_S}.
 *
 * @module
 */

import { DEFAULT_IDLE_TIMEOUT_S } from "../mgmt/types.ts";

export { DEFAULT_IDLE_TIMEOUT_S };

/** Where `fullnat mgmt apply` leaves the configured timeout for the shell. */
export const IDLE_TIMEOUT_FILE = "/etc/fullnat/idle-timeout";

const seconds = (text: string | undefined): number | undefined => {
  const t = text?.trim();
  return t !== undefined && /^[0-9]{1,6}$/.test(t) ? Number(t) : undefined;
};

/** The idle timeout in seconds, from `TMOUT`, then the file's text, then the default. */
export function idleTimeoutSeconds(
  tmout: string | undefined,
  fileText: string | undefined,
): number {
  return seconds(tmout) ?? seconds(fileText) ?? DEFAULT_IDLE_TIMEOUT_S;
}

/** Reads the timeout as the shell does (environment and file). */
export function configuredIdleTimeout(file = IDLE_TIMEOUT_FILE): number {
  let tmout: string | undefined;
  let text: string | undefined;
  try {
    tmout = Deno.env.get("TMOUT");
  } catch {
    // No environment access: the file decides.
  }
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    // Absent or unreadable: the default.
  }
  return idleTimeoutSeconds(tmout, text);
}

/** The timers an {@linkcode IdleTimer} uses (the real ones, or a test's fake ones). */
export interface IdleTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: IdleTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
};

/**
 * Calls `onIdle` once when `ms` pass with no {@linkcode activity} while armed. `busy` stops
 * the clock (a command runs); `activity` restarts it.
 */
export class IdleTimer {
  #handle: unknown;
  #busy = false;
  #fired = false;
  #stopped = false;

  constructor(
    readonly ms: number,
    private readonly onIdle: () => void,
    private readonly timers: IdleTimers = realTimers,
  ) {
    this.activity();
  }

  /** Something was typed, or a prompt shown: the clock starts again from zero. */
  activity(): void {
    this.#clear();
    if (this.ms <= 0 || this.#busy || this.#fired || this.#stopped) return;
    this.#handle = this.timers.setTimeout(() => {
      this.#handle = undefined;
      this.#fired = true;
      this.onIdle();
    }, this.ms);
  }

  /** A command started (true: the clock stops) or ended (false: it starts again). */
  busy(running: boolean): void {
    this.#busy = running;
    this.activity();
  }

  /** The session ends: no more timer. */
  stop(): void {
    this.#stopped = true;
    this.#clear();
  }

  #clear(): void {
    if (this.#handle !== undefined) this.timers.clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
