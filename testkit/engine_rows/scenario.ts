/**
 * A scenario of engine rows: the engine options and configuration it needs and its rows, so
 * the unit tests (src/fullnat/engine_*_test.ts) and the benchmark (bench/engine_rows_bench.ts)
 * replay the very same packets. One file of scenarios per design section.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import type { EngineOptions } from "../../src/fullnat/engine.ts";
import type { Row } from "../engine_fixture.ts";

/** Rows of one design section on a freshly set-up engine. */
export interface Scenario {
  /** The design section the rows exercise, as "4.3 TOA". */
  section: string;
  /** What the rows show, for test and bench names. */
  what: string;
  /** Engine options beyond the fixture's defaults. */
  options?: Partial<EngineOptions>;
  /** Adds the services, real servers and local addresses the rows need. */
  configure(ctl: EngineControl): void;
  /** The rows in order, for an engine whose clock reads `ms` when the first row runs. */
  rows(ms: number): Row[];
}
