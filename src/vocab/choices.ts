/**
 * How a list of choices is written in messages and help texts, so every place that names the
 * accepted values of a table says it the same way.
 *
 * @module
 */

/**
 * Joins choices for a sentence: `a`, `a or b`, `a, b or c`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { orList } from "./choices.ts";
 * assert.ok(orList(["rr", "wrr"]) === "rr or wrr");
 * assert.ok(orList(["a", "b", "c"]) === "a, b or c");
 * ```
 */
export function orList(choices: readonly string[]): string {
  return joinLast(choices, "or");
}

/**
 * Joins items for a sentence: `a`, `a and b`, `a, b and c`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { andList } from "./choices.ts";
 * assert.ok(andList(["-g", "-i"]) === "-g and -i");
 * ```
 */
export function andList(items: readonly string[]): string {
  return joinLast(items, "and");
}

function joinLast(words: readonly string[], conjunction: string): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} ${conjunction} ${words[words.length - 1]}`;
}
