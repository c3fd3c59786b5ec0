/**
 * The engine's fixture rows (testkit/engine_rows/), replayed as a benchmark: each iteration
 * sets up a fresh engine as the tests do and runs one scenario's rows through it, comparing
 * verdicts and bytes as the tests do (so the figures include the comparison; the oracle is
 * not run). Prints the cost of each scenario, and ns per row.
 *
 *   deno bench -A bench/engine_rows_bench.ts
 *
 * @module
 */
import { runRows, setup } from "../testkit/engine_fixture.ts";
import { SCENARIOS } from "../testkit/engine_rows/mod.ts";

for (const sc of SCENARIOS) {
  const rowCount = sc.rows(0).length;
  let elapsed = 0;
  let runs = 0;
  Deno.bench(`${sc.section}: ${sc.what} (${rowCount} rows)`, () => {
    const { engine, ctl, clock } = setup(sc.options);
    sc.configure(ctl);
    const rows = sc.rows(clock.ms);
    const t0 = performance.now();
    runRows(engine, rows);
    elapsed += performance.now() - t0;
    runs++;
  });
  globalThis.addEventListener("unload", () => {
    if (runs > 0) {
      console.log(`${sc.section}: ${((elapsed * 1e6) / (runs * rowCount)).toFixed(0)} ns per row`);
    }
  });
}
