/**
 * What the validators of parsed JSON (the configuration document, health checks, the keepalived
 * importer's merge) share: telling an object from the other JSON values, and quoting a value in
 * a message (`(got "24")`, `(got nothing)`) the same way everywhere.
 *
 * @module
 */

/** A parsed JSON object. */
export type JsonObject = Record<string, unknown>;

/** True for a plain object: not null, not an array. */
export const isJsonObject = (v: unknown): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A value as a problem message quotes it: JSON text, or `nothing` when it is missing. */
export function showValue(v: unknown): string {
  if (v === undefined) return "nothing";
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
