/**
 * Real-server weights: the share of new connections a server gets relative to the others of
 * its service; 0 quiesces it (existing connections go on, new ones go elsewhere).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isWeight, WEIGHT_MAX } from "./weight.ts";
 * assert.ok(isWeight(0) && isWeight(WEIGHT_MAX) && !isWeight(WEIGHT_MAX + 1));
 * ```
 *
 * @module
 */

/**
 * The smallest weight: 0 quiesces a server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEIGHT_MIN } from "./weight.ts";
 * assert.ok(WEIGHT_MIN === 0);
 * ```
 */
export const WEIGHT_MIN = 0;

/**
 * The largest weight ipvsadm takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEIGHT_MAX } from "./weight.ts";
 * assert.ok(WEIGHT_MAX === 65535);
 * ```
 */
export const WEIGHT_MAX = 65535;

/**
 * The weight of a real server added without one (ipvsadm's default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_WEIGHT } from "./weight.ts";
 * assert.ok(DEFAULT_WEIGHT === 1);
 * ```
 */
export const DEFAULT_WEIGHT = 1;

/**
 * True when `value` is a whole number from {@linkcode WEIGHT_MIN} to {@linkcode WEIGHT_MAX}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isWeight } from "./weight.ts";
 * assert.ok(isWeight(3) && !isWeight(-1) && !isWeight(1.5));
 * ```
 */
export function isWeight(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= WEIGHT_MIN &&
    value <= WEIGHT_MAX;
}

/**
 * The largest connection threshold (`ipvsadm -x`, `-y`): ipvsadm's INT_MAX; 0 is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { THRESHOLD_MAX } from "./weight.ts";
 * assert.ok(THRESHOLD_MAX === 2147483647);
 * ```
 */
export const THRESHOLD_MAX = 2 ** 31 - 1;

/**
 * True when `value` is a whole number from 0 to {@linkcode THRESHOLD_MAX}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isThreshold } from "./weight.ts";
 * assert.ok(isThreshold(0) && isThreshold(100) && !isThreshold(-1));
 * ```
 */
export function isThreshold(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= THRESHOLD_MAX;
}
