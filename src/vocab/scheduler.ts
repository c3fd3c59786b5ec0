/**
 * Schedulers: the names ipvsadm's `-s` takes, which of them this build implements, and the
 * default. The IPVS schedulers fullnat does not implement are listed too, so a runbook that asks
 * for one is told it is not supported here rather than that no such scheduler exists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_SCHEDULER, SCHEDULERS } from "./scheduler.ts";
 * assert.ok(SCHEDULERS.join(",") === "rr,wrr,lc,wlc,dh,sh,mh" && DEFAULT_SCHEDULER === "wrr");
 * ```
 *
 * @module
 */
import { orList } from "./choices.ts";

/** One row of {@linkcode SCHEDULER_TABLE}. */
export interface SchedulerEntry {
  /** The name `-s` takes and listings print. */
  readonly name: string;
  /** What it does, in a few words. */
  readonly title: string;
  /** True when this build schedules with it. */
  readonly supported: boolean;
}

/**
 * Every scheduler IPVS knows, the supported ones first in the order messages name them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULER_TABLE } from "./scheduler.ts";
 * assert.ok(SCHEDULER_TABLE.some((s) => s.name === "sed" && !s.supported));
 * ```
 */
export const SCHEDULER_TABLE = [
  { name: "rr", title: "round robin", supported: true },
  { name: "wrr", title: "weighted round robin", supported: true },
  { name: "lc", title: "least connection", supported: true },
  { name: "wlc", title: "weighted least connection", supported: true },
  { name: "dh", title: "destination hashing", supported: true },
  { name: "sh", title: "source hashing", supported: true },
  { name: "mh", title: "maglev hashing", supported: true },
  { name: "lblc", title: "locality-based least connection", supported: false },
  { name: "lblcr", title: "locality-based least connection with replication", supported: false },
  { name: "sed", title: "shortest expected delay", supported: false },
  { name: "nq", title: "never queue", supported: false },
  { name: "fo", title: "weighted failover", supported: false },
  { name: "ovf", title: "weighted overflow", supported: false },
] as const satisfies readonly SchedulerEntry[];

/**
 * Scheduler names this build implements.
 *
 * @example
 * ```ts
 * import type { SchedulerName } from "./scheduler.ts";
 * const s: SchedulerName = "rr";
 * ```
 */
export type SchedulerName = Extract<typeof SCHEDULER_TABLE[number], { supported: true }>["name"];

/**
 * The implemented schedulers, in table order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULERS } from "./scheduler.ts";
 * assert.ok(SCHEDULERS.includes("wrr"));
 * ```
 */
export const SCHEDULERS: readonly SchedulerName[] = SCHEDULER_TABLE
  .filter((s) => s.supported).map((s) => s.name as SchedulerName);

/**
 * The scheduler of a service created without one. ipvsadm's default is wlc; fullnat's stays wrr,
 * as it was before wlc existed here, because configuration documents that leave the scheduler
 * out would otherwise change meaning on upgrade.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_SCHEDULER } from "./scheduler.ts";
 * assert.ok(DEFAULT_SCHEDULER === "wrr");
 * ```
 */
export const DEFAULT_SCHEDULER: SchedulerName = "wrr";

/**
 * The implemented schedulers as a sentence names them: `rr, wrr, ... or mh`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULER_CHOICES } from "./scheduler.ts";
 * assert.ok(SCHEDULER_CHOICES === "rr, wrr, lc, wlc, dh, sh or mh");
 * ```
 */
export const SCHEDULER_CHOICES: string = orList(SCHEDULERS);

/**
 * True when `value` names a scheduler this build implements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSchedulerName } from "./scheduler.ts";
 * assert.ok(isSchedulerName("wlc") && !isSchedulerName("sed"));
 * ```
 */
export function isSchedulerName(value: unknown): value is SchedulerName {
  return (SCHEDULERS as readonly unknown[]).includes(value);
}

/**
 * The table row of any scheduler IPVS knows, implemented or not; undefined for other names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schedulerEntry } from "./scheduler.ts";
 * assert.ok(schedulerEntry("sed")?.supported === false);
 * assert.ok(schedulerEntry("fastest") === undefined);
 * ```
 */
export function schedulerEntry(name: string): SchedulerEntry | undefined {
  return SCHEDULER_TABLE.find((s) => s.name === name);
}

/**
 * The scheduler flags ipvsadm's `-b` / `--sched-flags` takes (comma-separated), with the
 * scheduler each belongs to and what it switches on. In IPVS they are two service flag bits
 * shared by sh and mh (`IP_VS_SVC_F_SCHED1` fallback, `IP_VS_SVC_F_SCHED2` port), named after
 * the scheduler that reads them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULER_FLAG_TABLE } from "./scheduler.ts";
 * assert.ok(SCHEDULER_FLAG_TABLE.filter((f) => f.scheduler === "sh").length === 2);
 * ```
 */
export const SCHEDULER_FLAG_TABLE = [
  {
    name: "sh-fallback",
    scheduler: "sh",
    bit: "fallback",
    title: "a client hashed to a server of weight 0 is sent to another one",
  },
  {
    name: "sh-port",
    scheduler: "sh",
    bit: "port",
    title: "the client port is hashed with the client address",
  },
  {
    name: "mh-fallback",
    scheduler: "mh",
    bit: "fallback",
    title: "a client hashed to an unavailable server is sent to another one",
  },
  {
    name: "mh-port",
    scheduler: "mh",
    bit: "port",
    title: "the client port is hashed with the client address",
  },
] as const satisfies readonly {
  name: string;
  scheduler: SchedulerName;
  bit: "fallback" | "port";
  title: string;
}[];

/**
 * A scheduler flag name: `sh-fallback`, `sh-port`, `mh-fallback` or `mh-port`.
 *
 * @example
 * ```ts
 * import type { SchedulerFlag } from "./scheduler.ts";
 * const f: SchedulerFlag = "sh-port";
 * ```
 */
export type SchedulerFlag = typeof SCHEDULER_FLAG_TABLE[number]["name"];

/**
 * Every scheduler flag name, in table order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULER_FLAGS } from "./scheduler.ts";
 * assert.ok(SCHEDULER_FLAGS.includes("mh-port"));
 * ```
 */
export const SCHEDULER_FLAGS: readonly SchedulerFlag[] = SCHEDULER_FLAG_TABLE.map((f) => f.name);

/**
 * The flags `scheduler` takes, in table order (none for most).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flagsOfScheduler } from "./scheduler.ts";
 * assert.deepEqual(flagsOfScheduler("sh"), ["sh-fallback", "sh-port"]);
 * assert.deepEqual(flagsOfScheduler("rr"), []);
 * ```
 */
export function flagsOfScheduler(scheduler: string): SchedulerFlag[] {
  return SCHEDULER_FLAG_TABLE.filter((f) => f.scheduler === scheduler).map((f) => f.name);
}

/**
 * Why `flags` cannot go with `scheduler` (an unknown flag, or one of another scheduler), or
 * undefined when they can. The flags come back in table order without repeats from
 * {@linkcode normalizeSchedulerFlags}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schedulerFlagProblem } from "./scheduler.ts";
 * assert.ok(schedulerFlagProblem("sh", ["sh-port"]) === undefined);
 * assert.ok(schedulerFlagProblem("rr", ["sh-port"])?.includes("rr takes no scheduler flags"));
 * ```
 */
export function schedulerFlagProblem(
  scheduler: string,
  flags: readonly unknown[],
): string | undefined {
  const allowed = flagsOfScheduler(scheduler);
  for (const f of flags) {
    if (typeof f !== "string" || !(SCHEDULER_FLAGS as readonly string[]).includes(f)) {
      return `unknown scheduler flag ${JSON.stringify(f)}: the flags are ${
        orList(SCHEDULER_FLAGS)
      }`;
    }
    if (!(allowed as string[]).includes(f)) {
      const owner = SCHEDULER_FLAG_TABLE.find((e) => e.name === f)!.scheduler;
      return `scheduler flag ${f} belongs to ${owner}: ${scheduler} takes ${
        allowed.length === 0 ? "no scheduler flags" : orList(allowed)
      }`;
    }
  }
  return undefined;
}

/**
 * `flags` in table order without repeats, so equal sets compare and print equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeSchedulerFlags } from "./scheduler.ts";
 * assert.deepEqual(normalizeSchedulerFlags(["sh-port", "sh-fallback", "sh-port"]), [
 *   "sh-fallback",
 *   "sh-port",
 * ]);
 * ```
 */
export function normalizeSchedulerFlags(flags: readonly SchedulerFlag[]): SchedulerFlag[] {
  return SCHEDULER_FLAGS.filter((f) => flags.includes(f));
}

/**
 * The Maglev lookup table sizes mh accepts: the primes IPVS's `ip_vs_mh.c` offers (chosen
 * there at build time by `CONFIG_IP_VS_MH_TAB_INDEX`, 8 to 17), each the largest prime below a
 * power of two. Maglev wants the table much larger than the number of servers (the paper
 * says M > 100 N) for an even share; a larger table costs memory and rebuild time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MH_TABLE_SIZES } from "./scheduler.ts";
 * assert.ok(MH_TABLE_SIZES[0] === 251 && MH_TABLE_SIZES.at(-1) === 131071);
 * ```
 */
export const MH_TABLE_SIZES: readonly number[] = [
  251,
  509,
  1021,
  2039,
  4093,
  8191,
  16381,
  32749,
  65521,
  131071,
];

/**
 * The Maglev table size of an mh service created without one: IPVS's default
 * (`CONFIG_IP_VS_MH_TAB_INDEX=12`, the prime below 2^12).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MH_TABLE_SIZE } from "./scheduler.ts";
 * assert.ok(DEFAULT_MH_TABLE_SIZE === 4093);
 * ```
 */
export const DEFAULT_MH_TABLE_SIZE = 4093;

/**
 * True when `n` is one of {@linkcode MH_TABLE_SIZES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMhTableSize } from "./scheduler.ts";
 * assert.ok(isMhTableSize(251) && !isMhTableSize(256));
 * ```
 */
export function isMhTableSize(n: unknown): n is number {
  return typeof n === "number" && MH_TABLE_SIZES.includes(n);
}

/**
 * The refusal of a table size that is not one of {@linkcode MH_TABLE_SIZES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mhTableSizeProblem } from "./scheduler.ts";
 * assert.ok(mhTableSizeProblem(256).startsWith("mh table size must be one of 251, 509"));
 * ```
 */
export function mhTableSizeProblem(got: unknown): string {
  return `mh table size must be one of ${MH_TABLE_SIZES.join(", ")} (got ${String(got)})`;
}
