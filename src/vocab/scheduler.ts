/**
 * Schedulers: the names ipvsadm's `-s` takes, which of them this build implements, and the
 * default. The IPVS schedulers fullnat does not implement are listed too, so a runbook that asks
 * for one is told it is not supported here rather than that no such scheduler exists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_SCHEDULER, SCHEDULERS } from "./scheduler.ts";
 * assert.ok(SCHEDULERS.join(",") === "rr,wrr" && DEFAULT_SCHEDULER === "wrr");
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
 * assert.ok(SCHEDULER_TABLE.some((s) => s.name === "wlc" && !s.supported));
 * ```
 */
export const SCHEDULER_TABLE = [
  { name: "rr", title: "round robin", supported: true },
  { name: "wrr", title: "weighted round robin", supported: true },
  { name: "lc", title: "least connection", supported: false },
  { name: "wlc", title: "weighted least connection", supported: false },
  { name: "lblc", title: "locality-based least connection", supported: false },
  { name: "lblcr", title: "locality-based least connection with replication", supported: false },
  { name: "dh", title: "destination hashing", supported: false },
  { name: "sh", title: "source hashing", supported: false },
  { name: "sed", title: "shortest expected delay", supported: false },
  { name: "nq", title: "never queue", supported: false },
  { name: "fo", title: "weighted failover", supported: false },
  { name: "ovf", title: "weighted overflow", supported: false },
  { name: "mh", title: "maglev hashing", supported: false },
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
 * The scheduler of a service created without one. ipvsadm's default is wlc, which fullnat does
 * not implement; wrr is the closest it has and keeps `ipvsadm -A -t VIP:port` runbooks working.
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
 * The implemented schedulers as a sentence names them: `rr or wrr`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULER_CHOICES } from "./scheduler.ts";
 * assert.ok(SCHEDULER_CHOICES === "rr or wrr");
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
 * assert.ok(isSchedulerName("rr") && !isSchedulerName("wlc"));
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
 * assert.ok(schedulerEntry("sh")?.supported === false);
 * assert.ok(schedulerEntry("fastest") === undefined);
 * ```
 */
export function schedulerEntry(name: string): SchedulerEntry | undefined {
  return SCHEDULER_TABLE.find((s) => s.name === name);
}
