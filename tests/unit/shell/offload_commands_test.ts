/**
 * `tunable offload off|established`: the kernel fast path's switch in the shell, shown with
 * the other tunables, in the saved configuration only while on, refused when misspelt.
 */
import assert from "node:assert/strict";
import { shellSession, startDaemon } from "./fixture.ts";

Deno.test("tunable offload sets the mode, tunable show lists it, config export keeps it", async () => {
  const d = await startDaemon();
  const s = shellSession(d.socket);
  try {
    assert.match((await s.run("tunable show")).out, /^offload +off +- +hand established/m);
    assert.doesNotMatch((await s.run("config export")).out, /offload/);
    const on = await s.run("tunable offload established");
    assert.deepEqual([on.code, on.err], [0, ""]);
    assert.equal(d.control.getTunables().offload, "established");
    assert.match((await s.run("tunable show")).out, /^offload +established /m);
    assert.deepEqual(JSON.parse((await s.run("tunable show --json")).out), {
      expireNodestConn: false,
      expireQuiescentTemplate: false,
      offload: "established",
    });
    assert.match((await s.run("config export")).out, /"offload": "established"/);
    const wrong = await s.run("tunable offload always");
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /off, established/);
    assert.equal(d.control.getTunables().offload, "established", "unchanged");
    assert.equal((await s.run("tunable offload off")).code, 0);
    assert.equal(d.control.getTunables().offload, undefined);
  } finally {
    await s.close();
    await d.dispose();
  }
});
