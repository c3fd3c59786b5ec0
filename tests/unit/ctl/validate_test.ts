import assert from "node:assert/strict";
import { checkArgs } from "../../../src/ctl/validate.ts";

const key = { protocol: "tcp", address: "198.51.100.10", port: 80 };

Deno.test("checkArgs() carries the TCP tweaks of add and edit through to the engine", () => {
  const add = checkArgs("addService", [key, {
    scheduler: "rr",
    persistence: 0,
    toa: false,
    stripTimestamps: false,
    clampMss: true,
  }]);
  assert.deepEqual(add, {
    ok: true,
    args: [key, {
      scheduler: "rr",
      persistence: 0,
      toa: false,
      stripTimestamps: false,
      clampMss: true,
    }],
  });
  const edit = checkArgs("editService", [key, { clampMss: false }]);
  assert.deepEqual(edit, { ok: true, args: [key, { clampMss: false }] });
});

Deno.test("checkArgs() refuses a tweak that is not a boolean", () => {
  const r = checkArgs("editService", [key, { toa: "no" }]);
  assert.equal(r.ok, false);
  assert.match((r as { message: string }).message, /toa must be true or false/);
});
