/**
 * Golden tests of the keepalived.conf import: every configuration under `fixtures/DIALECT/`
 * (a `NAME.conf`, or a directory with a `keepalived.conf` and what it includes) is imported and
 * its report (notes, problems, and the document or "nothing is imported") compared with the
 * `.golden` file beside it. `UPDATE_GOLDEN=1 deno test -A tests/unit/keepalived/golden_test.ts`
 * rewrites the golden files after a deliberate change; review the diff.
 *
 * Each converted document must then validate, apply to an engine and export byte for byte as
 * converted (checks, thresholds, per-service timeouts, quorum, sorry server...).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatImportReport, fsSource, importKeepalived } from "../../../src/keepalived/mod.ts";
import { applyConfig, scratchEngine } from "../../../src/persist/apply.ts";
import { configFromViews, formatConfig, validateConfig } from "../../../src/persist/document.ts";
import { localRemote } from "../../../src/ctl/remote.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const DIALECTS = ["mainline", "alibaba", "dpvs"];
const UPDATE = Deno.env.get("UPDATE_GOLDEN") === "1";

/** Every fixture: its main file relative to FIXTURES, and its golden file. */
function fixtures(): { main: string; golden: string }[] {
  const out: { main: string; golden: string }[] = [];
  for (const dialect of DIALECTS) {
    const entries = [...Deno.readDirSync(join(FIXTURES, dialect))].sort((a, b) =>
      a.name < b.name ? -1 : 1
    );
    for (const e of entries) {
      if (e.isFile && e.name.endsWith(".conf")) {
        out.push({
          main: `${dialect}/${e.name}`,
          golden: `${dialect}/${e.name.replace(/\.conf$/, ".golden")}`,
        });
      } else if (e.isDirectory) {
        out.push({
          main: `${dialect}/${e.name}/keepalived.conf`,
          golden: `${dialect}/${e.name}/keepalived.golden`,
        });
      }
    }
  }
  return out;
}

const all = fixtures();

Deno.test("keepalived fixtures: at least three of each dialect, failing ones among them", () => {
  for (const d of DIALECTS) {
    assert.ok(all.filter((x) => x.main.startsWith(`${d}/`)).length >= 3, d);
  }
});

for (const { main, golden } of all) {
  Deno.test(`importKeepalived() ${main} matches ${golden}`, async () => {
    const result = await importKeepalived(main, fsSource(FIXTURES));
    const text = formatImportReport(result);
    const path = join(FIXTURES, golden);
    if (UPDATE) {
      await Deno.writeTextFile(path, text);
      return;
    }
    const expected = await Deno.readTextFile(path).catch(() =>
      "(no golden file: run with UPDATE_GOLDEN=1)"
    );
    assert.equal(text, expected);
    // A document comes back exactly when nothing is wrong.
    assert.equal(result.document !== undefined, result.problems.length === 0);
  });

  // The converted document is one this fullnat takes as it is, runs, and exports unchanged:
  // every field the import writes (checks, thresholds, quorum, ...) round-trips.
  Deno.test(`${main}: the converted document validates, applies and exports unchanged`, async () => {
    const result = await importKeepalived(main, fsSource(FIXTURES));
    if (result.text === undefined) return;
    const checked = validateConfig(JSON.parse(result.text));
    assert.deepEqual(checked.ok ? [] : checked.problems, []);
    if (!checked.ok) return;
    const engine = scratchEngine();
    await applyConfig(localRemote(engine), checked.document);
    const exported = configFromViews(
      engine.listServices(),
      engine.getTimeouts(),
      engine.getTunables(),
    );
    assert.equal(formatConfig(exported), formatConfig(checked.document));
  });
}
