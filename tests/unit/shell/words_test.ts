import assert from "node:assert/strict";
import { splitPartial, splitWords } from "../../../src/shell/words.ts";

Deno.test("splitWords() splits on blanks and groups quoted text without expanding anything", () => {
  assert.deepEqual(splitWords("  service  add\ttcp 192.0.2.1:80  "), {
    ok: true,
    words: ["service", "add", "tcp", "192.0.2.1:80"],
  });
  assert.deepEqual(splitWords(`config apply "my file.json" 'a b' c\\ d ""`), {
    ok: true,
    words: ["config", "apply", "my file.json", "a b", "c d", ""],
  });
  // Nothing is expanded: variables, globs, tilde and braces are plain text.
  assert.deepEqual(splitWords("show $HOME * ~ {a,b} ?"), {
    ok: true,
    words: ["show", "$HOME", "*", "~", "{a,b}", "?"],
  });
  assert.deepEqual(splitWords(`x "a\\"b" 'it'"'"'s'`), { ok: true, words: ["x", 'a"b', "it's"] });
  assert.deepEqual(splitWords(""), { ok: true, words: [] });
  assert.deepEqual(splitWords("   # just a comment"), { ok: true, words: [] });
  assert.deepEqual(splitWords("service list # trailing"), { ok: true, words: ["service", "list"] });
  assert.deepEqual(splitWords("a#b"), { ok: true, words: ["a#b"] });
  // Control characters (Ctrl-\ in raw mode, say) are dropped, not taken as text.
  assert.deepEqual(splitWords("\x1cstatus\x00 x\x7f"), { ok: true, words: ["status", "x"] });
});

Deno.test("splitWords() refuses shell operators and '!' with a message saying what to do", () => {
  for (const line of ["a ; b", "a|b", "a && b", "a > f", "a < f", "a `id`", "a $(id)", "a &"]) {
    const r = splitWords(line);
    assert.equal(r.ok, false, line);
    if (!r.ok) {
      assert.match(r.message, /is shell syntax; this admin shell runs only fullnat commands/);
    }
  }
  for (const line of ["!sh", "!", "!!", "  !ls -l"]) {
    const r = splitWords(line);
    assert.equal(r.ok, false, line);
    if (!r.ok) assert.match(r.message, /^there is no system shell here/);
  }
  // Quoted, the same characters are values; '!' later on a line is ordinary.
  assert.deepEqual(splitWords(`a ';|&<>' "x!y" b!`), {
    ok: true,
    words: ["a", ";|&<>", "x!y", "b!"],
  });
  assert.deepEqual(splitWords("a 'open"), {
    ok: false,
    message: "unterminated ' quote: close it with '",
  });
});

Deno.test("splitPartial() separates complete words from the word being typed", () => {
  assert.deepEqual(splitPartial("service ad"), {
    words: ["service"],
    current: "ad",
    invalid: false,
  });
  assert.deepEqual(splitPartial("service add "), {
    words: ["service", "add"],
    current: "",
    invalid: false,
  });
  assert.deepEqual(splitPartial("config apply 'my fi"), {
    words: ["config", "apply"],
    current: "my fi",
    invalid: false,
  });
  assert.equal(splitPartial("service list | s").invalid, true);
  assert.deepEqual(splitPartial(""), { words: [], current: "", invalid: false });
});
