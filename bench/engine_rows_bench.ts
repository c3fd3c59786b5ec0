/**
 * The engine's fixture rows (testkit/engine_rows/), replayed as a benchmark of the engine
 * alone: every row's packet is built once up front; each iteration sets up a fresh engine as
 * the tests do (untimed), then times only copying each prebuilt packet into the buffer and
 * `handle()`. A row's `before` step (a clock move, a control operation) runs between the timed
 * spans. Verdicts are checked after the timing, so a replay that went astray fails the run.
 * Prints ns per row for each scenario.
 *
 *   deno bench -A bench/engine_rows_bench.ts
 *
 * @module
 */
import { HEADROOM, rowBytes, setup } from "../testkit/engine_fixture.ts";
import { SCENARIOS } from "../testkit/engine_rows/mod.ts";

const buf = new Uint8Array(8192);

for (const sc of SCENARIOS) {
  const rows = sc.rows(setup().clock.ms);
  const packets = rows.map(rowBytes);
  const want = rows.map((r) => r.verdict);
  const got = new Int32Array(rows.length);
  let elapsed = 0;
  let runs = 0;
  const name = `${sc.section}: ${sc.what} (${rows.length} rows)`;
  Deno.bench(name, (b) => {
    const fx = setup(sc.options);
    sc.configure(fx.ctl);
    const engine = fx.engine;
    let spent = 0;
    b.start();
    let t0 = performance.now();
    for (let i = 0; i < packets.length; i++) {
      const before = rows[i].before;
      if (before !== undefined) {
        spent += performance.now() - t0;
        before(fx);
        t0 = performance.now();
      }
      const p = packets[i];
      buf.set(p);
      got[i] = engine.handle(buf, 0, p.length, p.length + HEADROOM, rows[i].skbInfo);
    }
    spent += performance.now() - t0;
    b.end();
    elapsed += spent;
    runs++;
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== want[i]) throw new Error(`${name}, ${rows[i].what}: verdict ${got[i]}`);
    }
  });
  globalThis.addEventListener("unload", () => {
    if (runs > 0) {
      const ns = (elapsed * 1e6) / (runs * rows.length);
      console.log(`${sc.section}: ${sc.what}: ${ns.toFixed(0)} ns per row`);
    }
  });
}
