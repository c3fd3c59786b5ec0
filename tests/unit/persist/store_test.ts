/**
 * ConfigStore over SQLite: versions and history, one transaction per save (a failing write
 * and a process killed mid-write both leave the previous version), and unreadable files.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { ConfigStore, setAside, StoreUnreadableError } from "../../../src/persist/store.ts";

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function clock() {
  let t = Date.UTC(2025, 0, 1);
  return () => new Date(t += 1000);
}

Deno.test("ConfigStore keeps the newest version and a bounded history with timestamps", () =>
  withDir((dir) => {
    const path = `${dir}/state/config.db`;
    const store = ConfigStore.open(path, { keep: 3, now: clock() });
    assert.equal(store.load(), undefined);
    for (let i = 1; i <= 5; i++) assert.equal(store.save(`doc ${i}`, `op${i}`), i);
    assert.deepEqual(store.load(), {
      id: 5,
      savedAt: "2025-01-01T00:00:05.000Z",
      reason: "op5",
      text: "doc 5",
    });
    assert.deepEqual(store.history().map((v) => v.id), [5, 4, 3]);
    assert.equal(store.get(2), undefined, "pruned");
    assert.equal(store.get(4)?.text, "doc 4");
    store.close();
    // Reopened, the same versions are there.
    const again = ConfigStore.open(path);
    assert.equal(again.load()?.text, "doc 5");
    again.close();
  }));

Deno.test("ConfigStore.save() that fails mid-transaction leaves the previous version", () =>
  withDir((dir) => {
    const path = `${dir}/config.db`;
    const store = ConfigStore.open(path, { keep: 2 });
    store.save("first", "a");
    store.save("second", "b");
    // The third save inserts, then prunes version 1; make the prune fail after the insert.
    const side = new DatabaseSync(path);
    side.exec(
      "CREATE TRIGGER no_prune BEFORE DELETE ON config_versions BEGIN SELECT RAISE(ABORT, 'disk said no'); END",
    );
    side.close();
    assert.throws(() => store.save("third", "c"), /disk said no/);
    assert.equal(store.load()?.text, "second");
    assert.deepEqual(store.history().map((v) => v.id), [2, 1]);
    // The store still works afterwards.
    const side2 = new DatabaseSync(path);
    side2.exec("DROP TRIGGER no_prune");
    side2.close();
    store.save("third", "c");
    assert.equal(store.load()?.text, "third");
    store.close();
  }));

Deno.test("ConfigStore: a process killed inside a save leaves the previous version after reopening", () =>
  withDir(async (dir) => {
    const path = `${dir}/config.db`;
    const store = ConfigStore.open(path);
    store.save("before the crash", "a");
    store.close();
    // A writer that spills a large uncommitted version into the file, then dies.
    const script = `
      import { DatabaseSync } from "node:sqlite";
      const db = new DatabaseSync(${JSON.stringify(path)});
      db.exec("PRAGMA cache_size = 1");
      db.exec("BEGIN IMMEDIATE");
      const big = "x".repeat(4_000_000);
      db.prepare("INSERT INTO config_versions (saved_at, reason, document) VALUES (?, ?, ?)")
        .run("now", "crash", big);
      db.prepare("DELETE FROM config_versions WHERE id = 1").run();
      console.log("spilled");
      Deno.kill(Deno.pid, "SIGKILL");
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "spilled");
    assert.equal(out.signal, "SIGKILL");
    // The dead writer left a hot journal behind: the unfinished transaction reached the file.
    assert.ok(existsSync(`${path}-journal`), "hot journal left behind");
    const reopened = ConfigStore.open(path);
    assert.equal(reopened.load()?.text, "before the crash");
    assert.deepEqual(reopened.history().map((v) => v.reason), ["a"]);
    reopened.close();
  }));

Deno.test("ConfigStore.open() refuses a file that is not a store; setAside() keeps it", () =>
  withDir((dir) => {
    const path = `${dir}/config.db`;
    Deno.writeTextFileSync(path, "this is not a database, it is a note ".repeat(200));
    assert.throws(() => ConfigStore.open(path), (e: unknown) => {
      assert.ok(e instanceof StoreUnreadableError);
      assert.match(e.message, /config\.db is unreadable: .*not a database/);
      return true;
    });
    const aside = setAside(path, new Date(Date.UTC(2025, 0, 2, 3, 4, 5)));
    assert.equal(aside, `${path}.bad-2025-01-02T03-04-05-000Z`);
    assert.equal(existsSync(path), false);
    assert.match(readFileSync(aside, "utf8"), /^this is not a database/);
    const fresh = ConfigStore.open(path);
    assert.equal(fresh.load(), undefined);
    fresh.close();
  }));
