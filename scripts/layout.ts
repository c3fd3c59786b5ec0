/**
 * The README's layout tree, made from the code itself: one line per file of `main.ts`, `src/`,
 * `testkit/`, `bench/` and `scripts/` with the first sentence of the file's own leading comment
 * (its module doc), and one line per folder of `tests/`. `deno run -A scripts/layout.ts` prints
 * it, `--write` puts it into README.md between its markers; `tests/unit/docs/layout_test.ts`
 * fails when the README's copy is out of date or a file has no leading comment.
 *
 * @module
 */
import { join, relative } from "node:path";

/** The repository's root (this file is in `scripts/`). */
export const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");

/** Markers around the generated block in README.md. */
export const LAYOUT_BEGIN = "<!-- scripts/layout.ts: begin generated layout -->";
/** See {@linkcode LAYOUT_BEGIN}. */
export const LAYOUT_END = "<!-- scripts/layout.ts: end generated layout -->";

/** Folders whose every file gets a line. */
const FILE_ROOTS = ["src", "testkit", "bench", "scripts"];
/** Files and folders the tree leaves out. */
const SKIP = /(^|\/)(node_modules|build|\.git)(\/|$)|\.(svg|json|lock)$/;
/** Column where the summaries start, and the longest summary shown. */
const COLUMN = 36;
const WIDTH = 76;

/** One file or folder of the tree. */
interface Entry {
  path: string;
  depth: number;
  dir: boolean;
  summary: string;
}

/**
 * The first sentence of a file's leading comment (`/** ... *\/`, `# ...` after a shebang,
 * `/* ... *\/` or a Python docstring), on one line; `undefined` when it has none.
 */
export function leadingSummary(text: string): string | undefined {
  const lines = text.split("\n");
  let i = lines[0]?.startsWith("#!") ? 1 : 0;
  const body: string[] = [];
  const first = lines[i]?.trim() ?? "";
  if (first.startsWith("/*")) {
    for (; i < lines.length; i++) {
      const line = lines[i].trim().replace(/^\/\*+/, "").replace(/\*+\/$/, "").replace(/^\* ?/, "");
      if (line === "" && body.length > 0) break;
      if (line.startsWith("@")) break;
      if (line !== "") body.push(line);
      if (lines[i].includes("*/")) break;
    }
  } else if (first.startsWith("#")) {
    for (; i < lines.length && lines[i].startsWith("#"); i++) {
      const line = lines[i].replace(/^#+ ?/, "").trim();
      if (line === "" && body.length > 0) break;
      body.push(line);
    }
  } else if (first.startsWith('"""')) {
    const start = i;
    for (; i < lines.length; i++) {
      const line = lines[i].trim().replace(/^"""/, "").replace(/"""$/, "");
      if (line === "" && body.length > 0) break;
      if (line !== "") body.push(line);
      const closes = lines[i].trim().endsWith('"""') && (i > start || lines[i].trim().length > 3);
      if (closes) break;
    }
  }
  const joined = body.join(" ").replace(/\s+/g, " ").trim();
  if (joined === "") return undefined;
  // The first sentence: up to a full stop followed by a space and a capital or a backquote.
  const end = joined.search(/\.(\s+[A-Z`(]|$)/);
  return (end < 0 ? joined : joined.slice(0, end + 1)).replace(/\{@linkcode ([^}]+)\}/g, "$1");
}

async function walk(dir: string, depth: number, out: Entry[], filesToo: boolean): Promise<void> {
  const names: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e);
  names.sort((a, b) =>
    a.isDirectory === b.isDirectory ? (a.name < b.name ? -1 : 1) : a.isDirectory ? 1 : -1
  );
  for (const e of names) {
    const path = join(dir, e.name);
    const rel = relative(REPO, path);
    if (SKIP.test(rel)) continue;
    if (e.isDirectory) {
      const mod = await Deno.readTextFile(join(path, "mod.ts")).catch(() => "");
      out.push({ path: rel, depth, dir: true, summary: leadingSummary(mod) ?? "" });
      await walk(path, depth + 1, out, filesToo);
    } else if (filesToo && !e.name.endsWith("_test.ts")) {
      const summary = leadingSummary(await Deno.readTextFile(path));
      out.push({ path: rel, depth, dir: false, summary: summary ?? "" });
    }
  }
}

/** Every entry of the tree, in order. */
async function entries(): Promise<Entry[]> {
  const out: Entry[] = [];
  const main = await Deno.readTextFile(join(REPO, "main.ts"));
  out.push({ path: "main.ts", depth: 0, dir: false, summary: leadingSummary(main) ?? "" });
  for (const root of FILE_ROOTS) {
    out.push({ path: root, depth: 0, dir: true, summary: "" });
    await walk(join(REPO, root), 1, out, true);
  }
  out.push({ path: "tests", depth: 0, dir: true, summary: "" });
  await walk(join(REPO, "tests"), 1, out, false);
  return out;
}

/** The files that have no leading comment to summarise them (each needs one). */
export async function undocumented(): Promise<string[]> {
  return (await entries()).filter((e) => !e.dir && e.summary === "").map((e) => e.path);
}

/**
 * A summary cut to fit a line: the first clause when the sentence is long, else the words that
 * fit, with an ellipsis.
 */
export function shorten(summary: string, width = WIDTH): string {
  if (summary.length <= width) return summary;
  const clause = summary.search(/[:;] /);
  if (clause >= 24 && clause <= width) return summary.slice(0, clause);
  const cut = summary.lastIndexOf(" ", width - 1);
  return summary.slice(0, cut > 0 ? cut : width - 1) + "…";
}

/** The layout block as it belongs in README.md, markers included. */
export async function layoutBlock(): Promise<string> {
  const lines: string[] = [];
  for (const e of await entries()) {
    const name = "  ".repeat(e.depth) + e.path.split("/").pop() + (e.dir ? "/" : "");
    lines.push(e.summary === "" ? name : `${name.padEnd(COLUMN - 1)} ${shorten(e.summary)}`);
  }
  return [LAYOUT_BEGIN, "", "```text", ...lines, "```", "", LAYOUT_END].join("\n");
}

/** `readme` with its layout block replaced by `block`; throws when the markers are missing. */
export function replaceLayout(readme: string, block: string): string {
  const begin = readme.indexOf(LAYOUT_BEGIN);
  const end = readme.indexOf(LAYOUT_END);
  if (begin < 0 || end < begin) throw new Error(`README.md lacks the markers ${LAYOUT_BEGIN}`);
  return readme.slice(0, begin) + block + readme.slice(end + LAYOUT_END.length);
}

if (import.meta.main) {
  const block = await layoutBlock();
  const missing = await undocumented();
  if (missing.length > 0) {
    console.error(`files without a leading comment to summarise:\n  ${missing.join("\n  ")}`);
  }
  if (Deno.args.includes("--write")) {
    const path = join(REPO, "README.md");
    await Deno.writeTextFile(path, replaceLayout(await Deno.readTextFile(path), block));
    console.log("updated README.md's layout");
  } else {
    console.log(block);
  }
  if (missing.length > 0) Deno.exit(1);
}
