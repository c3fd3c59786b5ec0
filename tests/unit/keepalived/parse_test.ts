/**
 * The keepalived.conf reader: tokens (comments, quotes, braces anywhere, preprocessor lines),
 * statements and blocks, includes (relative paths, globs, braces, nesting, cycles, depth), and
 * `file:line` on everything.
 */
import assert from "node:assert/strict";
import { Findings } from "../../../src/keepalived/findings.ts";
import { expandBraces, expandInclude } from "../../../src/keepalived/glob.ts";
import { loadConfig, MAX_INCLUDE_DEPTH, type Statement } from "../../../src/keepalived/parse.ts";
import { memorySource } from "../../../src/keepalived/source.ts";
import { tokenize } from "../../../src/keepalived/tokens.ts";

const words = (text: string, f = new Findings()) =>
  tokenize(text, "k.conf", f).map((t) => (t.kind === "word" ? t.text : `<${t.kind}>`));

/** A tree as nested arrays of `keyword args@line`, for compact comparisons. */
const shape = (sts: Statement[]): unknown[] =>
  sts.map((s) => {
    const head = `${[s.keyword, ...s.args].join(" ")}@${s.at.file}:${s.at.line}`;
    return s.block === undefined ? head : [head, shape(s.block)];
  });

Deno.test("tokenize() drops # and ! comments anywhere, outside quotes only", () => {
  assert.deepEqual(words("weight 1 # one\n! whole line\ninhibit_on_failure ! why"), [
    "weight",
    "1",
    "<eol>",
    "<eol>",
    "inhibit_on_failure",
    "<eol>",
  ]);
  assert.deepEqual(words('misc_path "/bin/check --tag #1 !"'), [
    "misc_path",
    "/bin/check --tag #1 !",
    "<eol>",
  ]);
  assert.deepEqual(words("auth_pass ab\\#c\\!d"), ["auth_pass", "ab#c!d", "<eol>"]);
});

Deno.test("tokenize() joins quoted text with its neighbours into one word, keeps blanks", () => {
  assert.deepEqual(words(`misc_path '/usr/bin/x "a b"' tail"ed" ""`), [
    "misc_path",
    '/usr/bin/x "a b"',
    "tailed",
    "",
    "<eol>",
  ]);
  assert.deepEqual(words('path "a\\"b"'), ["path", 'a"b', "<eol>"]);
});

Deno.test("tokenize() splits braces from words wherever they stand, but not on include lines", () => {
  assert.deepEqual(words("url{path /}"), ["url", "<open>", "path", "/", "<close>", "<eol>"]);
  assert.deepEqual(words("include {a,b}/*.conf"), ["include", "{a,b}/*.conf", "<eol>"]);
});

Deno.test("tokenize() reports preprocessor lines, joined lines and open quotes at their line", () => {
  const f = new Findings();
  words('weight 1\n@lb1 weight 2\n$PORT=80\n~SEQ(i,1,3)\nweight \\\nmisc_path "/x\n', f);
  assert.deepEqual(f.problemLines(), [
    "k.conf:2: conditional configuration (@ID lines) is not supported: keep only the lines for this box",
    "k.conf:3: parameter definitions ($NAME=...) are not supported: substitute the values first",
    "k.conf:4: ~SEQ and ~LST are not supported: write the lines out",
    "k.conf:5: a '\\' at the end of a line (joining lines) is not supported: write the statement on one line",
    'k.conf:6: missing closing ": the line is not read',
  ]);
});

Deno.test("loadConfig() builds blocks, including a { on the next line, and reports unbalanced ones", async () => {
  const f = new Findings();
  const src = memorySource({
    "k.conf": "virtual_server 192.0.2.1 80\n{\n  real_server 10.0.0.1 80 { weight 2 }\n}\n}\n" +
      "virtual_server_group g {\n",
  });
  const tree = await loadConfig("k.conf", src, f);
  assert.deepEqual(shape(tree), [
    ["virtual_server 192.0.2.1 80@k.conf:1", [[
      "real_server 10.0.0.1 80@k.conf:3",
      ["weight 2@k.conf:3"],
    ]]],
    ["virtual_server_group g@k.conf:6", []],
  ]);
  assert.deepEqual(f.problemLines(), [
    "k.conf:5: '}' closes no block",
    "k.conf:6: this '{' is never closed",
  ]);
});

Deno.test("loadConfig() includes relative to the including file, with globs, braces, inside blocks", async () => {
  const src = memorySource({
    "etc/keepalived.conf": "include conf.d/*.conf\ninclude {x,y}.conf\n",
    "etc/conf.d/b.conf": "virtual_server 192.0.2.2 80 {\n  include ../rs/*.conf\n}\n",
    "etc/conf.d/a.conf": "virtual_server 192.0.2.1 80 {\n}\n",
    "etc/conf.d/.hidden.conf": "nope\n",
    "etc/conf.d/sub/c.conf": "nope\n",
    "etc/rs/one.conf": "real_server 10.0.0.1 80\n",
    "etc/y.conf": "global_defs {\n}\n",
  });
  const f = new Findings();
  const tree = await loadConfig("etc/keepalived.conf", src, f);
  assert.deepEqual(shape(tree), [
    ["virtual_server 192.0.2.1 80@etc/conf.d/a.conf:1", []],
    ["virtual_server 192.0.2.2 80@etc/conf.d/b.conf:1", [
      "real_server 10.0.0.1 80@etc/rs/one.conf:1",
    ]],
    ["global_defs@etc/y.conf:1", []],
  ]);
  assert.deepEqual(f.problemLines(), [
    "etc/keepalived.conf:2: include {x,y}.conf: etc/x.conf: no such file",
  ]);
});

Deno.test("loadConfig() notes a wildcard that matches nothing, refuses cycles and deep nesting", async () => {
  const files: Record<string, string> = {
    "k.conf": "include none/*.conf\ninclude a.conf\ninclude d0.conf\n",
    "a.conf": "include b.conf\nvirtual_server_group from-a {\n}\n",
    "b.conf": "include ./a.conf\n",
  };
  for (let i = 0; i <= MAX_INCLUDE_DEPTH; i++) files[`d${i}.conf`] = `include d${i + 1}.conf\n`;
  files[`d${MAX_INCLUDE_DEPTH + 1}.conf`] = "global_defs {\n}\n";
  const f = new Findings();
  const tree = await loadConfig("k.conf", memorySource(files), f);
  assert.deepEqual(shape(tree), [["virtual_server_group from-a@a.conf:2", []]]);
  assert.deepEqual(f.noteLines(), [
    "k.conf:1: include none/*.conf: no file matches; nothing included",
  ]);
  assert.deepEqual(f.problemLines(), [
    "b.conf:1: include ./a.conf: a.conf is already being read (include cycle)",
    `d${MAX_INCLUDE_DEPTH - 1}.conf:1: include d${MAX_INCLUDE_DEPTH}.conf: includes nest deeper ` +
    `than ${MAX_INCLUDE_DEPTH} levels`,
  ]);
});

Deno.test("expandBraces() expands nested alternatives in written order, leaves odd braces alone", () => {
  assert.deepEqual(expandBraces("{a,b{1,2}}/x"), ["a/x", "b1/x", "b2/x"]);
  assert.deepEqual(expandBraces("a{b}c"), ["a{b}c"]);
  assert.deepEqual(expandBraces("a{b,c"), ["a{b,c"]);
});

Deno.test("expandInclude() matches ?, [..] and [!..], sorted, files only", async () => {
  const src = memorySource({
    "d/a1.conf": "",
    "d/a2.conf": "",
    "d/b1.conf": "",
    "d/a3.conf/x": "",
  });
  assert.deepEqual((await expandInclude(src, "d/a?.conf")).files, ["d/a1.conf", "d/a2.conf"]);
  assert.deepEqual((await expandInclude(src, "d/[!a]*.conf")).files, ["d/b1.conf"]);
  assert.deepEqual((await expandInclude(src, "*/b1.conf")).files, ["d/b1.conf"]);
  assert.deepEqual(await expandInclude(src, "d/z.conf"), { files: ["d/z.conf"], wildcard: false });
});
