/**
 * The words of a keepalived.conf, as keepalived's own reader (`lib/parser.c`) splits them: a
 * statement per line, words separated by blanks, `{` and `}` (outside quotes) tokens of their
 * own wherever they stand, comments from `#` or `!` (outside double quotes) to the end of the
 * line, `\#` and `\!` for the characters themselves, and quoted strings (`"..."` or `'...'`)
 * that keep their blanks and join the text around them into one word. Every token keeps its
 * line, for messages.
 *
 * What keepalived's reader does beyond this (`$NAME=` definitions, `@id` conditional lines,
 * `~SEQ`, a `\` joining lines) is not supported: such lines are reported as problems instead of
 * being read wrongly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { tokenize } from "./tokens.ts";
 * const t = tokenize('real_server 10.0.0.1 80 { # web\n misc_path "/bin/check a"\n}', "k.conf", new Findings());
 * assert.deepEqual(t.map((x) => x.kind === "word" ? x.text : x.kind), [
 *   "real_server", "10.0.0.1", "80", "open", "eol", "misc_path", "/bin/check a", "eol", "close", "eol",
 * ]);
 * ```
 *
 * @module
 */
import type { Findings, Where } from "./findings.ts";

/** A word, a brace, or the end of a line. */
export type Token =
  | { kind: "word"; text: string; at: Where }
  | { kind: "open" | "close" | "eol"; at: Where };

/** Why a line that uses keepalived's preprocessor cannot be read, or undefined. */
function preprocessorLine(line: string): string | undefined {
  if (/^@\^?\S/.test(line)) {
    return "conditional configuration (@ID lines) is not supported: keep only the lines for this box";
  }
  if (/^\$[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) {
    return "parameter definitions ($NAME=...) are not supported: substitute the values first";
  }
  if (/^~(SEQ|LST)\b/.test(line)) {
    return "~SEQ and ~LST are not supported: write the lines out";
  }
  return undefined;
}

/**
 * Splits `text` (the contents of `file`) into tokens. Lines keepalived's preprocessor would
 * rewrite, and unterminated quotes, are reported to `findings` and left out.
 */
export function tokenize(text: string, file: string, findings: Findings): Token[] {
  const tokens: Token[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const at: Where = { file, line: i + 1 };
    const line = raw.replace(/\r$/, "");
    const trimmed = line.trimStart();
    const why = preprocessorLine(trimmed);
    if (why !== undefined) {
      findings.problem(at, why);
      return;
    }
    // keepalived reads include lines before it splits braces: `include {a,b}/*.conf`.
    const include = /^include[rmwba]?(\s|$)/.test(trimmed);
    if (!splitLine(line, at, tokens, findings, include)) return;
    tokens.push({ kind: "eol", at });
  });
  return tokens;
}

/** Appends the tokens of one line; false (and a problem) when the line cannot be read. */
function splitLine(
  line: string,
  at: Where,
  out: Token[],
  findings: Findings,
  bracesAreText = false,
): boolean {
  const before = out.length;
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  const flush = () => {
    if (inWord) out.push({ kind: "word", text: word, at });
    word = "";
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (
        c === "\\" && i + 1 < line.length && (line[i + 1] === quote || line[i + 1] === "\\")
      ) {
        word += line[++i];
      } else word += c;
      continue;
    }
    if (c === "#" || c === "!") break;
    if (c === "\\") {
      const next = line[i + 1];
      if (next === undefined) {
        out.length = before;
        findings.problem(
          at,
          "a '\\' at the end of a line (joining lines) is not supported: write the statement on one line",
        );
        return false;
      }
      if (next === "#" || next === "!") i++;
      word += line[i];
      inWord = true;
      continue;
    }
    if (c === " " || c === "\t") {
      flush();
      continue;
    }
    if ((c === "{" || c === "}") && !bracesAreText) {
      flush();
      out.push({ kind: c === "{" ? "open" : "close", at });
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
      continue;
    }
    word += c;
    inWord = true;
  }
  if (quote !== undefined) {
    out.length = before;
    findings.problem(at, `missing closing ${quote}: the line is not read`);
    return false;
  }
  flush();
  return true;
}
