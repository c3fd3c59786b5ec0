/**
 * Turns the text of a provisioning file into a plain value, YAML or JSON, and remembers where
 * each part came from so problems can name a line.
 *
 * JSON is chosen by a `.json` file name or a leading `{`; it is read with `JSON.parse` so that
 * what is accepted is exactly JSON. Everything else is read as YAML 1.2 (core schema: `no` and
 * `off` stay strings, duplicate keys are errors), which network engineers find easier to write.
 *
 * @module
 */

import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { PathStep, Problem } from "./problems.ts";

/** The two accepted notations. */
export type SourceFormat = "yaml" | "json";

/** A parsed provisioning file. */
export interface Source {
  format: SourceFormat;
  /** The plain value (objects, arrays, strings, numbers, booleans, null). */
  value: unknown;
  /** The 1-based line where the node at `path` starts, when known. */
  lineOf(path: readonly PathStep[]): number | undefined;
}

/** Picks the notation from the file name and the first character that is not white space. */
export function detectFormat(text: string, name = ""): SourceFormat {
  if (/\.json$/i.test(name)) return "json";
  if (/\.ya?ml$/i.test(name)) return "yaml";
  return text.trimStart().startsWith("{") ? "json" : "yaml";
}

/** Line lookups through the YAML parser's node ranges (JSON is valid YAML for this purpose). */
function lineIndex(text: string): (path: readonly PathStep[]) => number | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: false });
  if (doc.errors.length > 0) return () => undefined;
  return (path) => {
    // Walk as deep as the path goes; a missing leaf is reported at its parent's line.
    let node: unknown = doc.contents;
    for (const step of path) {
      let next: unknown;
      if (isMap(node)) next = node.get(step, true);
      else if (isSeq(node) && typeof step === "number") next = node.get(step, true);
      if (next === undefined || next === null) break;
      node = next;
    }
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range === undefined ? undefined : lineCounter.linePos(range[0]).line;
  };
}

/** The line and column V8 puts in a JSON.parse error, if any. */
function jsonErrorLine(text: string, message: string): number | undefined {
  const lineMatch = /line (\d+)/.exec(message);
  if (lineMatch) return Number(lineMatch[1]);
  const posMatch = /position (\d+)/.exec(message);
  if (!posMatch) return undefined;
  return text.slice(0, Number(posMatch[1])).split("\n").length;
}

/**
 * Parses `text` (named `name`, used only to pick the notation). Returns the value or the syntax
 * problems, every one of them.
 */
export function parseSource(
  text: string,
  name = "",
): { ok: true; source: Source } | { ok: false; problems: Problem[] } {
  const format = detectFormat(text, name);
  if (format === "json") {
    try {
      const value = JSON.parse(text);
      return { ok: true, source: { format, value, lineOf: lineIndex(text) } };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return {
        ok: false,
        problems: [{
          path: [],
          message: `not valid JSON: ${message}`,
          line: jsonErrorLine(text, message),
        }],
      };
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        path: [],
        message: `not valid YAML: ${e.message.split("\n")[0]}`,
        line: e.linePos?.[0].line,
      })),
    };
  }
  const value = doc.toJS({ maxAliasCount: 100 });
  return { ok: true, source: { format, value, lineOf: lineIndex(text) } };
}
