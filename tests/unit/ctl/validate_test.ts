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

Deno.test("checkArgs() carries a persistence mask and tunables, and refuses bad shapes", () => {
  assert.deepEqual(checkArgs("editService", [key, { persistenceMask: 24 }]), {
    ok: true,
    args: [key, { persistenceMask: 24 }],
  });
  const mask = checkArgs("editService", [key, { persistenceMask: "24" }]);
  assert.equal(mask.ok, false);
  assert.match(
    (mask as { message: string }).message,
    /persistenceMask must be an integer in 0..128/,
  );
  assert.deepEqual(checkArgs("setTunables", [{ expireQuiescentTemplate: true }]), {
    ok: true,
    args: [{ expireQuiescentTemplate: true }],
  });
  const unknown = checkArgs("setTunables", [{ expireEverything: true }]);
  assert.match((unknown as { message: string }).message, /unknown tunable 'expireEverything'/);
  const notFlag = checkArgs("setTunables", [{ expireQuiescentTemplate: "on" }]);
  assert.match((notFlag as { message: string }).message, /must be true or false/);
  assert.deepEqual(checkArgs("getTunables", []), { ok: true, args: [] });
});
