/**
 * fullnat-provision.service's shell check (image/rootfs/usr/local/sbin/fullnat-provision-check):
 * provisioning is skipped, with no Deno start, only when the seed holds one provisioning file
 * whose SHA-256 is the one recorded for the seed last applied completely; in every other case
 * (no record, another seed, both notations, no seed) it runs, as `firstboot` itself decides.
 * The record is written by the real `writeState`, so the two halves agree on its name and form.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildSeed } from "../../../src/provision/seed.ts";
import { APPLIED_SEED_FILE, writeState } from "../../../src/provision/state.ts";
import type { ProvisionState } from "../../../src/provision/state.ts";

const SCRIPT = new URL(
  "../../../image/rootfs/usr/local/sbin/fullnat-provision-check",
  import.meta.url,
).pathname;

async function check(state: string, seed: string): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("sh", { args: [SCRIPT, state, seed], stdout: "piped" })
    .output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

const stateOf = (sum: string, complete: boolean): ProvisionState =>
  ({
    sha256: sum,
    seed: "/dev/vdb",
    processedAt: "2026-12-06T00:00:00Z",
    sections: {},
    complete,
    text: "",
    applied: {},
  }) as unknown as ProvisionState;

Deno.test("provision check: skips only a seed recorded as applied completely", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-provision-check-" });
  try {
    const content = new TextEncoder().encode("version: 1\nhostname: check\n");
    const seed = join(dir, "seed.img");
    await buildSeed(content, "yaml", seed);
    const state = join(dir, "state");

    assert.equal((await check(state, seed)).code, 0, "no record: run");

    await writeState(state, stateOf(await sha256(content), false));
    await assert.rejects(Deno.stat(join(state, APPLIED_SEED_FILE)), Deno.errors.NotFound);
    assert.equal((await check(state, seed)).code, 0, "incomplete: run again");

    await writeState(state, stateOf(await sha256(content), true));
    const skipped = await check(state, seed);
    assert.equal(skipped.code, 1, "the same seed, applied: skip");
    assert.match(
      skipped.out,
      /seed .*seed\.img \(fullnat\.yaml, sha256 [0-9a-f]{12}\) was already applied/,
    );

    const other = join(dir, "other.img");
    await buildSeed(new TextEncoder().encode("version: 1\nhostname: other\n"), "yaml", other);
    assert.equal((await check(state, other)).code, 0, "another seed: run");

    const json = join(dir, "json.img");
    await buildSeed(content, "json", json);
    assert.equal((await check(state, json)).code, 1, "the same bytes as fullnat.json: skip");

    // Both notations on one volume: provisioning reports it, so it must run.
    const both = join(dir, "both.img");
    await buildSeed(content, "yaml", both);
    const extra = join(dir, "fullnat.json");
    await Deno.writeFile(extra, content);
    const mc = await new Deno.Command("mcopy", {
      args: ["-i", both, extra, "::/fullnat.json"],
      env: { MTOOLS_SKIP_CHECK: "1" },
    }).output();
    assert.equal(mc.code, 0);
    assert.equal((await check(state, both)).code, 0, "both files: run");

    assert.equal((await check(state, join(dir, "missing.img"))).code, 0, "no seed: run");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
