/**
 * The file names an `include` pattern stands for, as keepalived finds them with glob(3)
 * (`GLOB_BRACE`): csh braces (`{web,mail}.conf`, nested too), then `*`, `?` and `[...]` in any
 * path segment. Each brace alternative's matches come sorted, alternatives in their written
 * order; directories are left out (keepalived skips them); a wildcard does not match a leading
 * `.`, as glob(3) does not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandBraces, hasWildcard } from "./glob.ts";
 * assert.deepEqual(expandBraces("conf.d/{web,mail}.conf"), ["conf.d/web.conf", "conf.d/mail.conf"]);
 * assert.ok(hasWildcard("conf.d/*.conf") && !hasWildcard("conf.d/web.conf"));
 * ```
 *
 * @module
 */
import type { KeepalivedSource } from "./source.ts";

/** The patterns a brace expression stands for, in written order (no braces: itself). */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf("{");
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth === 0) {
        close = i;
        break;
      }
    } else if (c === "," && depth === 1) commas.push(i);
  }
  // An unbalanced or comma-less brace is literal text, as glob(3) takes it.
  if (close < 0 || commas.length === 0) {
    const rest = expandBraces(pattern.slice(open + 1));
    return rest.map((r) => pattern.slice(0, open + 1) + r);
  }
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = [open, ...commas, close];
  const out: string[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const alternative = pattern.slice(bounds[k] + 1, bounds[k + 1]);
    out.push(...expandBraces(head + alternative + tail));
  }
  return out;
}

/** True when the text has a glob wildcard (`*`, `?` or `[`). */
export function hasWildcard(text: string): boolean {
  return /[*?[]/.test(text);
}

/** A regular expression matching one path segment against a glob segment. */
function segmentRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = segment.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * The files one brace-free pattern matches, sorted. A pattern without wildcards comes back as
 * itself, whether or not the file exists (reading it says).
 */
async function matchPattern(source: KeepalivedSource, pattern: string): Promise<string[]> {
  if (!hasWildcard(pattern)) return [pattern];
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  let prefixes = [absolute ? "/" : ""];
  const join = (base: string, name: string) =>
    base === "" ? name : base.endsWith("/") ? base + name : `${base}/${name}`;
  for (let i = absolute ? 1 : 0; i < segments.length; i++) {
    const seg = segments[i];
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const base of prefixes) {
      if (!hasWildcard(seg)) {
        next.push(join(base, seg));
        continue;
      }
      const re = segmentRegExp(seg);
      const entries = await source.list(base === "" ? "." : base);
      const names = entries
        .filter((e) => re.test(e.name) && !(e.name.startsWith(".") && !seg.startsWith(".")))
        .filter((e) => (last ? !e.isDirectory : e.isDirectory))
        .map((e) => e.name)
        .sort();
      for (const n of names) next.push(join(base, n));
    }
    prefixes = next;
  }
  // A literal last segment after a wildcard one: keep only the files that exist.
  const lastSeg = segments[segments.length - 1];
  if (hasWildcard(lastSeg)) return prefixes;
  const existing: string[] = [];
  for (const path of prefixes) {
    const slash = path.lastIndexOf("/");
    const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
    const entries = await source.list(dir);
    if (entries.some((e) => e.name === path.slice(slash + 1) && !e.isDirectory)) {
      existing.push(path);
    }
  }
  return existing;
}

/** What an include pattern stands for. */
export interface IncludeMatch {
  /** Every file, in include order. */
  files: string[];
  /** True when the pattern had wildcards (so no match is not a missing file). */
  wildcard: boolean;
}

/** The files `pattern` stands for (see the module doc). */
export async function expandInclude(
  source: KeepalivedSource,
  pattern: string,
): Promise<IncludeMatch> {
  const files: string[] = [];
  const alternatives = expandBraces(pattern);
  for (const alt of alternatives) files.push(...await matchPattern(source, alt));
  return { files, wildcard: alternatives.some(hasWildcard) };
}
