/**
 * Small checks on the plain values a YAML or JSON file yields: mappings with a fixed set of
 * keys (with a suggestion for a misspelt one), lists, strings, whole numbers.
 *
 * @module
 */

import type { Problems } from "./problems.ts";

/** A mapping read from the file. */
export type Mapping = Record<string, unknown>;

/** True for a mapping (not a list, not null). */
export function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a value is, in the words of the file's author. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the text ${JSON.stringify(value)}`;
  return `${typeof value === "number" ? "the number" : "the value"} ${String(value)}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The allowed key closest to a misspelt one, if one is close enough to be a likely typo. */
export function suggest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * Checks that `value` is a mapping whose keys are all in `allowed`; reports each unknown key
 * (with a suggestion) and returns the mapping, or undefined when it is not one.
 */
export function mapping(
  value: unknown,
  problems: Problems,
  allowed: readonly string[],
): Mapping | undefined {
  if (!isMapping(value)) {
    problems.add([], `must be a mapping (key: value lines), not ${describe(value)}`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const hint = suggest(key, allowed);
    problems.add(
      [key],
      `unknown setting${hint ? `; did you mean ${JSON.stringify(hint)}?` : ""} (allowed here: ${
        allowed.join(", ")
      })`,
    );
  }
  return value;
}

/** A list, or undefined with a problem recorded. */
export function list(value: unknown, problems: Problems): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  problems.add([], `must be a list, not ${describe(value)}`);
  return undefined;
}

/** A string, or undefined with a problem recorded. */
export function text(value: unknown, problems: Problems, what = "text"): string | undefined {
  if (typeof value === "string") return value;
  problems.add([], `must be ${what}, not ${describe(value)}`);
  return undefined;
}

/** A whole number in `[min, max]`, or undefined with a problem recorded. */
export function wholeNumber(
  value: unknown,
  problems: Problems,
  min: number,
  max: number,
): number | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) {
    return value;
  }
  problems.add([], `must be a whole number from ${min} to ${max}, not ${describe(value)}`);
  return undefined;
}

/** A boolean, or undefined with a problem recorded. */
export function bool(value: unknown, problems: Problems): boolean | undefined {
  if (typeof value === "boolean") return value;
  problems.add([], `must be true or false, not ${describe(value)}`);
  return undefined;
}
