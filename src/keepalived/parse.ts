/**
 * A keepalived.conf as a tree of statements: a keyword, its arguments, the `file:line` it
 * stands on, and its `{ ... }` block if it has one. `include` (and keepalived's variants
 * `includer`, `includem`, `includew`, `includeb`, `includea`) is replaced by the statements of
 * the files it names, wherever it stands, inside a block too; patterns are relative to the
 * including file's directory, as keepalived takes them, and may use glob wildcards and braces.
 *
 * Unlike keepalived's plain `include`, which says nothing when a file is missing, a named file
 * that cannot be read is a problem (its services would silently be missing); a wildcard that
 * matches nothing is a note. Includes nest at most {@linkcode MAX_INCLUDE_DEPTH} deep and a file
 * that includes itself, directly or not, is reported instead of read again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { loadConfig } from "./parse.ts";
 * import { memorySource } from "./source.ts";
 * const src = memorySource({
 *   "lb/keepalived.conf": "virtual_server 192.0.2.10 80 {\n  include rs/*.conf\n}\n",
 *   "lb/rs/a.conf": "real_server 10.0.0.1 80\n",
 * });
 * const tree = await loadConfig("lb/keepalived.conf", src, new Findings());
 * assert.equal(tree[0].block?.[0].keyword, "real_server");
 * assert.deepEqual(tree[0].block?.[0].at, { file: "lb/rs/a.conf", line: 1 });
 * ```
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import type { Findings, Where } from "./findings.ts";
import { expandInclude } from "./glob.ts";
import type { KeepalivedSource } from "./source.ts";
import { type Token, tokenize } from "./tokens.ts";

/** One statement: `keyword args... [{ block }]`. */
export interface Statement {
  keyword: string;
  args: string[];
  /** Where its keyword stands. */
  at: Where;
  /** The statements between its braces, when it has a block (possibly empty). */
  block?: Statement[];
}

/** How deep includes may nest (the main file is depth 0). */
export const MAX_INCLUDE_DEPTH = 10;

/** The include keyword and keepalived's variants (which differ only in how errors are logged). */
export const INCLUDE_KEYWORDS: ReadonlySet<string> = new Set([
  "include",
  "includer",
  "includem",
  "includew",
  "includeb",
  "includea",
]);

/** Options of {@linkcode loadConfig}. */
export interface LoadOptions {
  /** The main file's text when it does not come from `source` (standard input). */
  text?: string;
}

/**
 * Reads `path` from `source` with everything it includes. Problems (unreadable files, unbalanced
 * braces, include cycles, unsupported preprocessor lines) go to `findings`; what could be read
 * is returned.
 */
export async function loadConfig(
  path: string,
  source: KeepalivedSource,
  findings: Findings,
  options: LoadOptions = {},
): Promise<Statement[]> {
  findings.seeFile(path);
  const loader = new Loader(source, findings);
  const text = options.text ?? await source.read(path);
  return await loader.file(path, text, 0, [await source.identity(path)]);
}

class Loader {
  constructor(readonly source: KeepalivedSource, readonly findings: Findings) {}

  async file(path: string, text: string, depth: number, stack: string[]): Promise<Statement[]> {
    const tree = buildStatements(tokenize(text, path, this.findings), this.findings);
    return await this.expand(tree, path, depth, stack);
  }

  async expand(
    statements: Statement[],
    file: string,
    depth: number,
    stack: string[],
  ): Promise<Statement[]> {
    const out: Statement[] = [];
    for (const st of statements) {
      if (INCLUDE_KEYWORDS.has(st.keyword)) {
        out.push(...await this.include(st, file, depth, stack));
        continue;
      }
      if (st.block !== undefined) st.block = await this.expand(st.block, file, depth, stack);
      out.push(st);
    }
    return out;
  }

  async include(st: Statement, file: string, depth: number, stack: string[]) {
    const f = this.findings;
    if (st.args.length !== 1 || st.block !== undefined) {
      f.problem(st.at, `${st.keyword} takes one file name or pattern`);
      return [];
    }
    const pattern = st.args[0];
    if (depth + 1 > MAX_INCLUDE_DEPTH) {
      f.problem(
        st.at,
        `${st.keyword} ${pattern}: includes nest deeper than ${MAX_INCLUDE_DEPTH} levels`,
      );
      return [];
    }
    const full = isAbsolute(pattern) ? pattern : join(dirname(file), pattern);
    const match = await expandInclude(this.source, full);
    if (match.files.length === 0) {
      f.note(st.at, `${st.keyword} ${pattern}: no file matches; nothing included`);
      return [];
    }
    const out: Statement[] = [];
    for (const path of match.files) {
      const identity = await this.source.identity(path);
      if (stack.includes(identity)) {
        f.problem(st.at, `${st.keyword} ${pattern}: ${path} is already being read (include cycle)`);
        continue;
      }
      let text: string;
      try {
        text = await this.source.read(path);
      } catch (e) {
        f.problem(st.at, `${st.keyword} ${pattern}: ${readError(path, e)}`);
        continue;
      }
      f.seeFile(path);
      out.push(...await this.file(path, text, depth + 1, [...stack, identity]));
    }
    return out;
  }
}

function readError(path: string, e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return `${path}: no such file`;
  if (e instanceof Deno.errors.IsADirectory) return `${path} is a directory`;
  if (e instanceof Deno.errors.PermissionDenied) return `${path}: permission denied`;
  return `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * Groups tokens into statements and blocks. A `{` at the start of a line opens the block of
 * the statement on the line before it (keepalived reads that layout too).
 */
export function buildStatements(tokens: Token[], findings: Findings): Statement[] {
  let i = 0;
  const block = (opener?: Where): Statement[] => {
    const out: Statement[] = [];
    let endedLine: Statement | undefined;
    while (i < tokens.length) {
      const t = tokens[i];
      if (t.kind === "eol") {
        i++;
        continue;
      }
      if (t.kind === "close") {
        i++;
        if (opener !== undefined) return out;
        findings.problem(t.at, "'}' closes no block");
        continue;
      }
      if (t.kind === "open") {
        i++;
        const owner = endedLine;
        endedLine = undefined;
        if (owner !== undefined && owner.block === undefined) owner.block = block(t.at);
        else {
          findings.problem(t.at, "'{' follows no keyword");
          block(t.at);
        }
        continue;
      }
      const words: string[] = [];
      while (i < tokens.length) {
        const w = tokens[i];
        if (w.kind !== "word") break;
        words.push(w.text);
        i++;
      }
      const st: Statement = { keyword: words[0], args: words.slice(1), at: t.at };
      out.push(st);
      endedLine = undefined;
      const next = tokens[i];
      if (next?.kind === "open") {
        i++;
        st.block = block(next.at);
      } else if (next?.kind === "eol") endedLine = st;
    }
    if (opener !== undefined) findings.problem(opener, "this '{' is never closed");
    return out;
  };
  return block();
}
