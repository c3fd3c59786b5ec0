/**
 * Reading a statement's arguments as keepalived takes them (integers, seconds with fractions,
 * booleans `on|off|true|false|yes|no` or none for true, addresses, ports), each failure a
 * problem at the statement's line that names the keyword and what it takes:
 * `weight abc: must be an integer from 0 to 65535`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { readInteger } from "./values.ts";
 * const f = new Findings();
 * const at = { file: "k.conf", line: 3 };
 * assert.equal(readInteger({ keyword: "weight", args: ["5"], at }, f, 0, 65535), 5);
 * assert.equal(readInteger({ keyword: "weight", args: ["x"], at }, f, 0, 65535), undefined);
 * assert.deepEqual(f.problemLines(), ["k.conf:3: weight x: must be an integer from 0 to 65535"]);
 * ```
 *
 * @module
 */
import { parseAddress, PORT_MAX, PORT_MIN } from "../vocab/mod.ts";
import type { Findings } from "./findings.ts";
import type { Statement } from "./parse.ts";

/** `keyword args...` as written, for messages. */
export function spelled(st: Statement): string {
  return [st.keyword, ...st.args.map((a) => (/[\s"]/.test(a) || a === "" ? `"${a}"` : a))].join(
    " ",
  );
}

/** False (and a problem) when the statement has a block it should not have. */
export function noBlock(st: Statement, f: Findings): boolean {
  if (st.block === undefined) return true;
  f.problem(st.at, `${st.keyword} takes no { } block`);
  return false;
}

/** The one argument of `st`, or undefined with a problem. */
export function readOne(st: Statement, f: Findings, what = "a value"): string | undefined {
  if (!noBlock(st, f)) return undefined;
  if (st.args.length === 1) return st.args[0];
  f.problem(
    st.at,
    st.args.length === 0
      ? `${st.keyword} needs ${what}`
      : `${spelled(st)}: ${st.keyword} takes one value`,
  );
  return undefined;
}

/** False (and a problem) when `st` has arguments or a block. */
export function readNone(st: Statement, f: Findings): boolean {
  if (!noBlock(st, f)) return false;
  if (st.args.length === 0) return true;
  f.problem(st.at, `${spelled(st)}: ${st.keyword} takes no value`);
  return false;
}

/** A decimal integer from `min` to `max`. */
export function readInteger(
  st: Statement,
  f: Findings,
  min: number,
  max: number,
): number | undefined {
  const text = readOne(st, f, `an integer from ${min} to ${max}`);
  if (text === undefined) return undefined;
  const n = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (n >= min && n <= max) return n;
  f.problem(st.at, `${spelled(st)}: must be an integer from ${min} to ${max}`);
  return undefined;
}

/** Largest number of seconds a timer takes (a year). */
export const MAX_TIMER_SECONDS = 31_536_000;

/**
 * Seconds, with a fraction down to the millisecond (keepalived's `<TIMER>`); at least `min`.
 */
export function readSeconds(st: Statement, f: Findings, min: number): number | undefined {
  const text = readOne(st, f, "a number of seconds");
  if (text === undefined) return undefined;
  const n = /^[0-9]{1,9}(\.[0-9]{1,3})?$/.test(text) ? Number(text) : NaN;
  if (n >= min && n <= MAX_TIMER_SECONDS) return n;
  f.problem(
    st.at,
    `${spelled(st)}: must be a number of seconds from ${min} to ${MAX_TIMER_SECONDS}, ` +
      `at most 3 decimals`,
  );
  return undefined;
}

const TRUE_WORDS = ["on", "true", "yes"];
const FALSE_WORDS = ["off", "false", "no"];

/** A keepalived boolean: no value is true, else on|off|true|false|yes|no. */
export function readFlag(st: Statement, f: Findings): boolean | undefined {
  if (!noBlock(st, f)) return undefined;
  if (st.args.length === 0) return true;
  const word = st.args.length === 1 ? st.args[0].toLowerCase() : "";
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  f.problem(st.at, `${spelled(st)}: takes nothing (on) or one of on, off, true, false, yes, no`);
  return undefined;
}

/** A numeric IPv4 or IPv6 address, in canonical text. */
export function readAddressText(
  text: string,
  st: Statement,
  f: Findings,
): { address: string; family: 4 | 6 } | undefined {
  const parsed = parseAddress(text);
  if (parsed !== undefined) return { address: parsed.address, family: parsed.family };
  f.problem(
    st.at,
    `${spelled(st)}: ${JSON.stringify(text)} is not a numeric IPv4 or IPv6 address ` +
      `(names are not resolved)`,
  );
  return undefined;
}

/** A port number 1-65535 from text. */
export function readPortText(text: string, st: Statement, f: Findings): number | undefined {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (n >= PORT_MIN && n <= PORT_MAX) return n;
  const hint = text.endsWith(";") ? " (keepalived has no ';': one entry per line)" : "";
  f.problem(
    st.at,
    `${spelled(st)}: ${JSON.stringify(text)} is not a port from ${PORT_MIN} to ${PORT_MAX}${hint}`,
  );
  return undefined;
}
