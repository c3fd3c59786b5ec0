/**
 * Runs one health check of one real server on its schedule and keeps its verdict, as a
 * keepalived checker does: a round every delayLoop seconds (counted from the end of the
 * previous round, so a slow check never overlaps itself); within a round up to 1 + retry
 * attempts, delayBeforeRetry apart, the round passing as soon as one attempt passes; `fall`
 * failed rounds in a row take an up check down, `rise` good rounds in a row bring a down check
 * up. `onChange` hears every change of `up`, and of the weight a dynamic misc check asks for.
 *
 * The runner never throws out of its loop and leaves no promise rejected: a probe that throws
 * counts as a failed attempt, an `onChange` that throws is ignored. stop() aborts the attempt
 * in flight and cancels every timer; after it, onChange is not called again.
 *
 * Time is injectable (a {@linkcode Timers} of its own) so sequences can be tested without
 * waiting; by default it uses the real clock.
 *
 * @example
 * ```ts
 * import { CheckRunner } from "./runner.ts";
 * import { normalizeCheck } from "./spec.ts";
 * const spec = normalizeCheck({ type: "tcp", delayLoop: 1, connectTimeout: 0.2, retry: 0 });
 * const runner = new CheckRunner(spec, { address: "127.0.0.1", port: 1 }, (s) =>
 *   console.log(s.up ? "up" : "down", s.reason));
 * runner.start(); // after the first round: "down connection refused"
 * runner.stop();
 * ```
 *
 * @module
 */
import { probe as realProbe, type ProbeFn } from "./probe.ts";
import type { BaseRunnerOptions, CheckSpec, CheckStatus, ProbeResult, RsTarget } from "./spec.ts";

export type { CheckStatus } from "./spec.ts";

/** The clock and timers a runner uses (the real ones unless a test passes its own). */
export interface Timers {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. */
export const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Options of a runner: the schema's, plus what tests replace. */
export interface RunnerOptions extends BaseRunnerOptions {
  /** Clock and timers; default {@linkcode REAL_TIMERS}. */
  timers?: Timers;
  /** The attempt; default {@linkcode realProbe}. */
  probe?: ProbeFn;
}

/** One check of one real server, run on its schedule. */
export class CheckRunner {
  readonly #spec: CheckSpec;
  readonly #rs: RsTarget;
  readonly #onChange: (s: CheckStatus) => void;
  readonly #timers: Timers;
  readonly #probe: ProbeFn;
  readonly #firstDelayMs: number;
  #status: CheckStatus;
  #goodStreak = 0;
  #badStreak = 0;
  /** Bumped by start() and stop(); a loop of an older generation stops at its next step. */
  #generation = 0;
  #running = false;
  #timer: unknown = undefined;
  /** Resolves the sleep in progress early (stop()). */
  #wake: (() => void) | undefined;
  #abort: AbortController | undefined;

  constructor(
    spec: CheckSpec,
    rs: RsTarget,
    onChange: (s: CheckStatus) => void,
    opts: RunnerOptions = {},
  ) {
    this.#spec = spec;
    this.#rs = { address: rs.address, port: rs.port };
    this.#onChange = onChange;
    this.#timers = opts.timers ?? REAL_TIMERS;
    this.#probe = opts.probe ?? realProbe;
    this.#firstDelayMs = Math.max(0, opts.firstDelayMs ?? 0);
    const up = opts.initiallyUp ?? true;
    this.#status = {
      up,
      since: this.#timers.now(),
      reason: up ? "not checked yet (assumed up)" : "not checked yet",
      rounds: 0,
      failures: 0,
      transitions: 0,
    };
  }

  /** The check this runner runs. */
  get spec(): CheckSpec {
    return this.#spec;
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.#running;
  }

  /** A copy of the current status. */
  get status(): CheckStatus {
    const s = this.#status;
    return { ...s, lastResult: s.lastResult === undefined ? undefined : { ...s.lastResult } };
  }

  /** Starts the rounds; the first after firstDelayMs. Does nothing when already running. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const generation = ++this.#generation;
    this.#loop(generation).catch(() => {
      // #loop catches everything itself; this only keeps a bug from becoming an unhandled
      // rejection that would end the daemon.
    });
  }

  /** Stops the rounds, aborting the attempt in flight. The status is kept. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#generation++;
    this.#abort?.abort();
    this.#abort = undefined;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #loop(generation: number): Promise<void> {
    const live = () => generation === this.#generation;
    if (!(await this.#sleep(this.#firstDelayMs, generation))) return;
    while (live()) {
      const good = await this.#round(generation);
      if (good === undefined || !live()) return;
      if (!(await this.#sleep(this.#spec.delayLoop * 1000, generation))) return;
    }
  }

  /** One round: the verdict, or undefined when stopped during it. */
  async #round(generation: number): Promise<boolean | undefined> {
    const attempts = 1 + this.#spec.retry;
    let result: ProbeResult | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0 && !(await this.#sleep(this.#spec.delayBeforeRetry * 1000, generation))) {
        return undefined;
      }
      result = await this.#attempt();
      if (generation !== this.#generation) return undefined;
      this.#status.lastResult = { ...result, at: this.#timers.now() };
      if (result.ok) break;
    }
    this.#judge(result!);
    return result!.ok;
  }

  /** One probe, which never rejects nor outlives stop(). */
  async #attempt(): Promise<ProbeResult> {
    const abort = new AbortController();
    this.#abort = abort;
    const start = this.#timers.now();
    try {
      return await this.#probe(this.#spec, this.#rs, abort.signal);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return { ok: false, reason: `check failed: ${message}`, ms: this.#timers.now() - start };
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  /** Counts the round and changes state when rise or fall is reached. */
  #judge(result: ProbeResult): void {
    const s = this.#status;
    s.rounds++;
    if (result.ok) {
      this.#goodStreak++;
      this.#badStreak = 0;
    } else {
      s.failures++;
      this.#badStreak++;
      this.#goodStreak = 0;
    }
    let changed = false;
    if (s.up && this.#badStreak >= this.#spec.fall) {
      s.up = false;
      changed = true;
    } else if (!s.up && this.#goodStreak >= this.#spec.rise) {
      s.up = true;
      changed = true;
    }
    if (changed) {
      s.since = this.#timers.now();
      s.transitions++;
    }
    // The reason explains the state: it follows the results that agree with it.
    if (result.ok === s.up) s.reason = result.reason;
    // keepalived: exit 2-255 sets the weight, exit 0 leaves it where the last one set it.
    if (result.ok && result.weight !== undefined && s.weight !== result.weight) {
      s.weight = result.weight;
      changed = true;
    }
    if (changed) this.#notify();
  }

  #notify(): void {
    try {
      this.#onChange(this.status);
    } catch {
      // A listener's failure is its own; the check goes on.
    }
  }

  /** Waits `ms`; false when stopped meanwhile (or before). */
  #sleep(ms: number, generation: number): Promise<boolean> {
    if (generation !== this.#generation) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.#wake = () => resolve(false);
      this.#timer = this.#timers.setTimeout(() => {
        this.#timer = undefined;
        this.#wake = undefined;
        resolve(generation === this.#generation);
      }, ms);
    });
  }
}
