/**
 * Splits an admin shell command line into words. This is deliberately not a POSIX shell: there
 * is no expansion of any kind (no variables, globs, `~`, history `!`, command substitution) and
 * no operators (pipes, redirections, `;`, `&`). Quotes and backslashes only group characters,
 * so a value with spaces can be typed. Shell operators are refused with a message, so nobody
 * mistakes the admin shell for one that runs programs.
 *
 * @module
 */

/** The words of a line, or why the line cannot be read. */
export type SplitResult = { ok: true; words: string[] } | { ok: false; message: string };

/** Where a line ends up after reading it as far as it goes (for completion). */
export interface PartialLine {
  /** Words that are complete (a separator follows them). */
  words: string[];
  /** The word under the cursor, unquoted; "" right after a separator. */
  current: string;
  /** An operator or other text that makes the line unusable; completion then offers nothing. */
  invalid: boolean;
}

/** Characters that would be operators in a system shell; refused when not quoted. */
const OPERATORS = new Set([";", "|", "&", "<", ">", "`"]);

interface Scan {
  words: string[];
  current: string;
  /** True once the current word has begun (so `""` counts as an empty word). */
  started: boolean;
  quote: "'" | '"' | undefined;
  error?: string;
}

function scan(line: string): Scan {
  const s: Scan = { words: [], current: "", started: false, quote: undefined };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    // Control keys a terminal in raw mode passes through (Ctrl-\, stray escapes) are no
    // text anyone meant to type.
    if (c !== "\t" && (c < " " || c === "\x7f")) continue;
    if (s.quote !== undefined) {
      if (c === s.quote) s.quote = undefined;
      else if (c === "\\" && s.quote === '"' && i + 1 < line.length) s.current += line[++i];
      else s.current += c;
      continue;
    }
    if (c === " " || c === "\t") {
      if (s.started) s.words.push(s.current);
      s.current = "";
      s.started = false;
    } else if (c === "'" || c === '"') {
      s.quote = c;
      s.started = true;
    } else if (c === "\\") {
      s.started = true;
      if (i + 1 < line.length) s.current += line[++i];
    } else if (OPERATORS.has(c) || (c === "$" && line[i + 1] === "(")) {
      const what = c === "$" ? "$(" : c;
      s.error ??= `'${what}' is shell syntax; this admin shell runs only fullnat commands ` +
        `(quote the character if it is part of a value; type 'help' for the commands)`;
      s.current += c;
      s.started = true;
    } else if (c === "!" && !s.started && s.words.length === 0) {
      s.error ??= "there is no system shell here ('!' runs nothing); " +
        "type 'help' for the commands this shell offers";
      s.current += c;
      s.started = true;
    } else if (c === "#" && !s.started) {
      // A comment runs to the end of the line, as in scripts fed to `fullnat shell`.
      break;
    } else {
      s.current += c;
      s.started = true;
    }
  }
  return s;
}

/** Splits a complete line into words, or says what is wrong with it. */
export function splitWords(line: string): SplitResult {
  const s = scan(line);
  if (s.error !== undefined) return { ok: false, message: s.error };
  if (s.quote !== undefined) {
    return { ok: false, message: `unterminated ${s.quote} quote: close it with ${s.quote}` };
  }
  if (s.started) s.words.push(s.current);
  return { ok: true, words: s.words };
}

/** Reads a line that is still being typed: complete words plus the word at the end. */
export function splitPartial(line: string): PartialLine {
  const s = scan(line);
  return { words: s.words, current: s.current, invalid: s.error !== undefined };
}
