/**
 * Health checks of real servers (keepalived's checkers): what a check is and how the
 * configuration document writes it (spec.ts), one attempt of a tcp, http, https or misc check
 * (probe.ts), and the runner that repeats attempts on a schedule and decides up and down
 * (runner.ts). Independent of the daemon, which creates one runner per check and acts on its
 * changes.
 *
 * @example
 * ```ts
 * import { CheckRunner, normalizeCheck } from "./mod.ts";
 * const runner = new CheckRunner(normalizeCheck({ type: "tcp" }),
 *   { address: "192.0.2.11", port: 80 }, (s) => console.log(s.up, s.reason));
 * console.log(runner.status.up); // true: assumed up until checked
 * ```
 *
 * @module
 */
export * from "./spec.ts";
export { probe, type ProbeFn } from "./probe.ts";
export { CheckRunner, REAL_TIMERS, type RunnerOptions, type Timers } from "./runner.ts";
