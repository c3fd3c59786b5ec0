/**
 * `config history|show|rollback|confirm` and `config apply --confirm-within` against an
 * in-process daemon with a real store: versions listed, a rollback that restores exactly the
 * old export, a confirm that keeps the change, an unconfirmed change the daemon rolls back by
 * itself, and the argument checks.
 */
import assert from "node:assert/strict";
import { shellSession, startDaemon } from "./fixture.ts";

const doc = (scheduler: string, port = 80) =>
  JSON.stringify({
    version: 1,
    services: [{ protocol: "tcp", address: "198.51.100.10", port, scheduler }],
  });

async function withShell(
  fn: (
    run: ReturnType<typeof shellSession>["run"],
    files: (text: string) => Promise<string>,
  ) => Promise<void>,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ prefix: "fullnat-versions-" });
  const daemon = await startDaemon({ stateDir });
  const shell = shellSession(daemon.socket);
  let n = 0;
  const files = async (text: string) => {
    const path = `${stateDir}/doc${n++}.json`;
    await Deno.writeTextFile(path, text);
    return path;
  };
  try {
    await fn(shell.run, files);
  } finally {
    await shell.close();
    await daemon.dispose();
    await Deno.remove(stateDir, { recursive: true });
  }
}

Deno.test("config history lists versions; rollback N restores exactly version N's export", () =>
  withShell(async (run, files) => {
    assert.match((await run("config history")).out, /no configuration version is stored yet/);
    assert.equal((await run(`config apply ${await files(doc("rr"))}`)).code, 0);
    const v1 = (await run("config export")).out;
    assert.equal((await run(`config apply ${await files(doc("wlc", 443))}`)).code, 0);
    const h = await run("config history");
    assert.match(h.out, /VERSION\s+SAVED \(UTC\)\s+REASON/);
    assert.match(h.out, /^2 \*\s+\S+\s+configApply$/m);
    assert.match(h.out, /^1\s+\S+\s+configApply$/m);
    assert.equal((await run("config show 1")).out, v1);

    const r = await run("config rollback 1");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^rolled back to version 1:/);
    assert.equal((await run("config export")).out, v1);
    const json = JSON.parse((await run("config history --json")).out);
    assert.equal(json.current, 3);
    assert.equal(json.versions[0].reason, "rollback to 1");
    assert.match((await run("config rollback 3")).out, /version 3 already; nothing to change/);

    const missing = await run("config rollback 99");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no configuration version 99 \(kept: 1 to 3; see config history\)/);
    assert.equal((await run("config rollback 0")).code, 2);
    assert.equal((await run("config show x")).code, 2);
  }));

Deno.test("config apply --confirm-within: confirmed stays, unconfirmed rolls back by itself", () =>
  withShell(async (run, files) => {
    await run(`config apply ${await files(doc("rr"))}`);
    const before = (await run("config export")).out;

    // Confirmed: stays.
    const a = await run(`config apply ${await files(doc("wlc"))} --confirm-within 1`);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /run 'config confirm' by \S+ \(within 1 s\)/);
    assert.match((await run("config history")).out, /waits for 'config confirm'.*version 1/);
    const second = await run(`config apply ${await files(doc("sh"))} --confirm-within 5`);
    assert.equal(second.code, 2);
    assert.match(second.err, /already waits for confirmation/);
    assert.match((await run("config confirm")).out, /^confirmed version 2: it stays$/);
    await new Promise((r) => setTimeout(r, 1300));
    assert.match((await run("config export")).out, /"wlc"/);
    assert.match((await run("config confirm")).err, /no configuration change waits/);

    // Not confirmed: the daemon goes back to version 2 by itself.
    const afterConfirm = (await run("config export")).out;
    assert.equal((await run(`config apply ${await files(doc("sh"))} --confirm-within 1`)).code, 0);
    assert.match((await run("config export")).out, /"sh"/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await run("config export")).out, afterConfirm);
    const h = JSON.parse((await run("config history --json")).out);
    assert.equal(h.pending, null);
    assert.equal(h.versions[0].reason, "rollback to 2: not confirmed in time");
    assert.notEqual(afterConfirm, before);

    assert.equal((await run(`config apply x --confirm-within 0`)).code, 2);
    assert.equal((await run(`config apply x --confirm-within 1 --dry-run`)).code, 2);
  }));
