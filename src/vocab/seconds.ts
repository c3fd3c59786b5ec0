/**
 * Durations in whole seconds (session timeouts, client persistence): the bounds the command
 * line and the engine put on them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMAND_MAX_SECONDS, ENGINE_MAX_SECONDS } from "./seconds.ts";
 * assert.ok(ENGINE_MAX_SECONDS < COMMAND_MAX_SECONDS); // the engine refuses what it cannot time exactly
 * ```
 *
 * @module
 */

/**
 * The longest timeout or persistence a command takes: 31 days, ipvsadm's own bound, which the
 * shell keeps so both front ends refuse the same values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMAND_MAX_SECONDS } from "./seconds.ts";
 * assert.ok(COMMAND_MAX_SECONDS === 86400 * 31);
 * ```
 */
export const COMMAND_MAX_SECONDS = 86400 * 31;

/**
 * The longest timeout or persistence the engine (and so the control contract and the
 * configuration document) accepts: about 23 days, which keeps the engine's millisecond
 * expiry times exact.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ENGINE_MAX_SECONDS } from "./seconds.ts";
 * assert.ok(ENGINE_MAX_SECONDS === 2_000_000);
 * ```
 */
export const ENGINE_MAX_SECONDS = 2_000_000;
