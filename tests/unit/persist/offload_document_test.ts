/**
 * The fast path's switch in the configuration document (`tunables.offload`): written only
 * when on, read back the same, refused with its path when wrong, applied as a change of its
 * own and exported as applied; the diversion the engine asks for follows it.
 */
import assert from "node:assert/strict";
import { localRemote } from "../../../src/ctl/remote.ts";
import { checkArgs } from "../../../src/ctl/validate.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { ControlError } from "../../../src/fullnat/types.ts";
import { applyConfig, readRunning } from "../../../src/persist/apply.ts";
import { checkLoadBalancer } from "../../../src/provision/load_balancer.ts";
import { formatConfig, parseConfig, validateConfig } from "../../../src/persist/document.ts";

const BASE = { version: 1, services: [] };

Deno.test("document: offload established round-trips; off is left out", () => {
  const on = parseConfig(JSON.stringify({ ...BASE, tunables: { offload: "established" } }));
  assert.equal(on.tunables.offload, "established");
  const text = formatConfig(on);
  assert.match(text, /"tunables": \{\n(.*\n){2}\s+"offload": "established"\n\s+\},/);
  assert.equal(formatConfig(parseConfig(text)), text);
  const off = parseConfig(JSON.stringify({ ...BASE, tunables: { offload: "off" } }));
  assert.equal(off.tunables.offload, undefined);
  assert.doesNotMatch(formatConfig(off), /tunables|offload/);
});

Deno.test("document: a wrong offload mode is refused with its path", () => {
  const r = validateConfig({ ...BASE, tunables: { offload: "always" } });
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.problems, [
    'tunables.offload: must be off or established (got "always")',
  ]);
});

Deno.test("apply: offload is a change of its own; export reproduces it; the diversion follows", async () => {
  const engine = new Engine({ clock: () => 1_000, capacity: 16 });
  const ctl = new EngineControl(engine);
  const remote = localRemote(ctl);
  const doc = await readRunning(remote);
  assert.equal(doc.tunables.offload, undefined);
  assert.equal(ctl.diversion().offload, undefined);
  doc.tunables = { ...doc.tunables, offload: "established" };
  const r = await applyConfig(remote, doc);
  assert.deepEqual(r.changes, ["~ tunables offload off -> established"]);
  assert.equal(engine.offload, "established");
  assert.equal(ctl.diversion().offload, true);
  assert.equal(formatConfig(await readRunning(remote)), formatConfig(doc));
  const back = await applyConfig(remote, { ...doc, tunables: { ...doc.tunables, offload: "off" } });
  assert.deepEqual(back.changes, ["~ tunables offload established -> off"]);
  assert.equal(engine.offload, "off");
  assert.deepEqual(ctl.getTunables(), { expireNodestConn: false, expireQuiescentTemplate: false });
});

Deno.test("control: setTunables checks the offload mode and changes nothing when wrong", () => {
  const ctl = new EngineControl(new Engine({ clock: () => 0, capacity: 4 }));
  assert.throws(
    () => ctl.setTunables({ offload: "sometimes" as never, expireNodestConn: true }),
    (e) => e instanceof ControlError && /Offload must be off or established/.test(e.message),
  );
  assert.deepEqual(ctl.getTunables(), { expireNodestConn: false, expireQuiescentTemplate: false });
  assert.deepEqual(checkArgs("setTunables", [{ offload: "established" }]), {
    ok: true,
    args: [{ offload: "established" }],
  });
  assert.equal(checkArgs("setTunables", [{ offload: true }]).ok, false);
});

Deno.test("provisioning: a loadBalancer section may switch the fast path on, and only to a mode", () => {
  const on = checkLoadBalancer({ version: 1, tunables: { offload: "established" }, services: [] });
  assert.ok(on.ok);
  assert.equal(on.ok && on.document.tunables.offload, "established");
  const wrong = checkLoadBalancer({ version: 1, tunables: { offload: "yes" }, services: [] });
  assert.deepEqual(!wrong.ok && wrong.problems, [{
    path: ["tunables", "offload"],
    message: 'must be off or established (got "yes")',
  }]);
});
