/** The README's layout tree is the one scripts/layout.ts makes from the code as it is now. */
import assert from "node:assert/strict";
import {
  LAYOUT_BEGIN,
  LAYOUT_END,
  layoutBlock,
  leadingSummary,
  REPO,
  shorten,
  undocumented,
} from "../../../scripts/layout.ts";

Deno.test("leadingSummary() takes the first sentence of a module doc, a shell comment or a docstring", () => {
  assert.equal(
    leadingSummary("/**\n * The engine. It rewrites\n * packets.\n *\n * @module\n */\nexport {};"),
    "The engine.",
  );
  assert.equal(
    leadingSummary("#!/usr/bin/env bash\n# Sets up the box. Run as root.\nset -e"),
    "Sets up the box.",
  );
  assert.equal(
    leadingSummary('"""Decodes packets with scapy."""\nimport sys'),
    "Decodes packets with scapy.",
  );
  assert.equal(leadingSummary("export const x = 1;"), undefined);
});

Deno.test("shorten() keeps a short summary, cuts a long one at its first clause or a word", () => {
  assert.equal(shorten("Short."), "Short.");
  assert.equal(
    shorten("The control socket's wire format: one JSON object per line", 40),
    "The control socket's wire format",
  );
  assert.equal(shorten("one two three four five six seven", 12), "one two…");
});

Deno.test("every file of the layout has a leading comment that says what it is", async () => {
  assert.deepEqual(await undocumented(), []);
});

Deno.test("README.md's layout tree is up to date (regenerate: deno run -A scripts/layout.ts --write)", async () => {
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const begin = readme.indexOf(LAYOUT_BEGIN);
  const end = readme.indexOf(LAYOUT_END);
  assert.ok(begin >= 0 && end > begin, "README.md has no layout markers");
  assert.equal(readme.slice(begin, end + LAYOUT_END.length), await layoutBlock());
});
