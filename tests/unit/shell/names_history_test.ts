import assert from "node:assert/strict";
import type { ServiceView } from "../../../src/fullnat/types.ts";
import { historyPath, loadHistory, saveHistory } from "../../../src/shell/history.ts";
import { NameCache } from "../../../src/shell/names.ts";

const svc = (port: number): ServiceView => ({
  protocol: "tcp",
  address: "198.51.100.10",
  port,
  scheduler: "rr",
  persistence: 0,
  toa: true,
  stripTimestamps: true,
  clampMss: true,
  realServers: [],
  localAddresses: [{ address: "203.0.113.201", conns: 0, portConflicts: 0 }],
  stats: { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 },
});

Deno.test("NameCache.get() fetches once per TTL and again after invalidate()", async () => {
  let fetches = 0;
  let port = 80;
  const clock = { ms: 0 };
  const cache = new NameCache(() => {
    fetches++;
    return Promise.resolve([svc(port)]);
  }, { ttlMs: 1000, now: () => clock.ms });
  assert.equal((await cache.get())[0].port, 80);
  port = 81;
  clock.ms = 999;
  assert.equal((await cache.get())[0].port, 80, "cached within the TTL");
  assert.equal(fetches, 1);
  clock.ms = 1000;
  assert.equal((await cache.get())[0].port, 81, "fetched again after the TTL");
  port = 82;
  cache.invalidate();
  assert.deepEqual((await cache.get())[0].localAddresses, ["203.0.113.201"]);
  assert.equal((await cache.get())[0].port, 82);
  assert.equal(fetches, 3);
});

Deno.test("NameCache.get() gives no names when the daemon fails or does not answer in time", async () => {
  const failing = new NameCache(() => Promise.reject(new Error("daemon is not running")));
  assert.deepEqual(await failing.get(), []);
  let release: (v: ServiceView[]) => void = () => {};
  const hanging = new NameCache(() => new Promise((r) => (release = r)), { timeoutMs: 20 });
  const started = performance.now();
  assert.deepEqual(await hanging.get(), []);
  assert.ok(performance.now() - started < 1000);
  release([svc(80)]);
});

Deno.test("history is saved oldest first, bounded, mode 0600, and loads newest first", async () => {
  const home = await Deno.makeTempDir({ prefix: "fullnat-home-" });
  try {
    const path = historyPath(home + "/");
    assert.equal(path, `${home}/.fullnat_history`);
    assert.deepEqual(loadHistory(path), [], "no file yet");
    saveHistory(path, ["third", "second", "first"], 2);
    assert.equal(await Deno.readTextFile(path!), "second\nthird\n");
    assert.equal((await Deno.stat(path!)).mode! & 0o777, 0o600);
    assert.deepEqual(loadHistory(path), ["third", "second"]);
    await Deno.writeTextFile(path!, "a\n\nb\nc\n");
    assert.deepEqual(loadHistory(path, 2), ["c", "b"]);
    assert.equal(historyPath(undefined), undefined);
    saveHistory(`${home}/missing/dir/h`, ["x"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
