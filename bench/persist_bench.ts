/**
 * Costs of the durable configuration with 100 services of 10 real servers and 2 local addresses:
 * exporting and formatting, one save (an fsync'd SQLite transaction, paid once per mutating
 * control op), checking and applying a whole document, and a re-apply that changes nothing.
 * Run with `deno bench -A bench/persist_bench.ts`.
 */
import { localRemote } from "../src/ctl/remote.ts";
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine } from "../src/fullnat/engine.ts";
import { applyConfig, readRunning } from "../src/persist/apply.ts";
import { type ConfigDocument, formatConfig, parseConfig } from "../src/persist/document.ts";
import { ConfigStore } from "../src/persist/store.ts";

function bigDocument(): ConfigDocument {
  const text = JSON.stringify({
    version: 1,
    services: Array.from({ length: 100 }, (_, i) => ({
      protocol: "tcp",
      address: `198.51.${100 + (i >> 8)}.${i & 255 || 1}`,
      port: 80 + i,
      scheduler: "wrr",
      realServers: Array.from({ length: 10 }, (_, j) => ({
        address: `203.0.113.${10 + j}`,
        port: 8000 + i,
        weight: 1 + j,
      })),
      localAddresses: ["203.0.113.201", "203.0.113.202"],
    })),
  });
  return parseConfig(text);
}

const doc = bigDocument();
const fresh = () => localRemote(new EngineControl(new Engine({ clock: () => 0, capacity: 16 })));
const running = fresh();
await applyConfig(running, doc);
const dir = Deno.makeTempDirSync({ prefix: "fullnat-bench-" });
const store = ConfigStore.open(`${dir}/config.db`);
const text = formatConfig(doc);
globalThis.addEventListener("unload", () => {
  store.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.bench("export + format, 100 services", async () => {
  formatConfig(await readRunning(running));
});
Deno.bench("ConfigStore.save, 100 services (fsync'd transaction)", () => {
  store.save(text, "bench");
});
Deno.bench("parse + validate, 100 services", () => {
  parseConfig(text);
});
Deno.bench("applyConfig to an empty engine, 100 services", async () => {
  await applyConfig(fresh(), doc);
});
Deno.bench("applyConfig with nothing to change, 100 services", async () => {
  await applyConfig(running, doc);
});
