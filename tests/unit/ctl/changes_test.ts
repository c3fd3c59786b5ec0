/** The configuration-changed event is announced by exactly the methods the op table calls changes. */
import assert from "node:assert/strict";
import { announcing, ConfigChanges } from "../../../src/ctl/changes.ts";
import { CONFIG_METHODS, CONTROL_METHODS, type ServedControl } from "../../../src/ctl/remote.ts";

Deno.test("announcing() announces once for each configuration change and never for a read", async () => {
  // A target that accepts anything: only which calls announce is under test here.
  const target = Object.fromEntries(CONTROL_METHODS.map((m) => [m, () => undefined]));
  const changes = new ConfigChanges();
  const heard: string[] = [];
  changes.on(({ reason }) => {
    heard.push(reason);
  });
  const remote = announcing(target as unknown as ServedControl, changes);
  for (const m of CONTROL_METHODS) {
    await (remote[m] as (...args: unknown[]) => Promise<unknown>)();
  }
  assert.deepEqual(heard, CONTROL_METHODS.filter((m) => CONFIG_METHODS.has(m)));
  assert.ok(CONFIG_METHODS.has("setTimeouts") && !CONFIG_METHODS.has("zeroStats"));
});
