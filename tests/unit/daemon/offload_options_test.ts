/** `--offload` and `--offload-min-bytes`: read into the daemon's options, refused when wrong. */
import assert from "node:assert/strict";
import { applyOffloadFlags, defaultDaemonOptions } from "../../../src/daemon/options.ts";

const fresh = () => defaultDaemonOptions(() => undefined);

Deno.test("--offload: default leaves the saved configuration's mode; a given one is kept", () => {
  const d = fresh();
  assert.equal(d.offload, undefined);
  assert.equal(d.offloadMinBytes, 0);
  applyOffloadFlags(d, undefined, "0");
  assert.equal(d.offload, undefined);
  applyOffloadFlags(d, "established", "65536");
  assert.deepEqual([d.offload, d.offloadMinBytes], ["established", 65536]);
  applyOffloadFlags(d, "off", "0");
  assert.equal(d.offload, "off");
});

Deno.test("--offload: a wrong mode or byte count is refused and changes nothing", () => {
  const d = fresh();
  assert.throws(
    () => applyOffloadFlags(d, "always", "0"),
    /--offload must be off or established \(got "always"\)/,
  );
  assert.throws(
    () => applyOffloadFlags(d, "established", "64k"),
    /--offload-min-bytes must be a whole number \(got "64k"\)/,
  );
  assert.deepEqual([d.offload, d.offloadMinBytes], [undefined, 0]);
});
