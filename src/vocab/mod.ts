/**
 * The vocabulary of fullnat: protocols, schedulers, forwarding methods, ports, weights and
 * address text, each one table or one set of rules. The ipvsadm front end, the admin shell, the
 * control server's checks, the configuration document, provisioning and the engine's control
 * all take their accepted values, defaults, messages and completions from here, so adding an
 * entry to a table changes them all at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FORWARD_METHODS, PROTOCOLS, SCHEDULERS } from "./mod.ts";
 * assert.ok(PROTOCOLS.length === 2 && SCHEDULERS.length === 7 && FORWARD_METHODS.length === 4);
 * ```
 *
 * @module
 */
export * from "./address.ts";
export * from "./choices.ts";
export * from "./forward_method.ts";
export * from "./persistence_mask.ts";
export * from "./port.ts";
export * from "./prefix.ts";
export * from "./protocol.ts";
export * from "./scheduler.ts";
export * from "./seconds.ts";
export * from "./weight.ts";
export * from "./json_value.ts";
