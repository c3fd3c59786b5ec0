/**
 * Engines that follow one another over the same memory, as a restarted daemon's workers do:
 * the owner records and the session fields live in one buffer that "outlives" each engine, so
 * the tests of session takeover and of carried-over state build a second engine over what the
 * first left.
 *
 * @module
 */
import { EngineControl } from "../src/fullnat/control.ts";
import { Engine, type EngineOptions } from "../src/fullnat/engine.ts";
import { OwnerLog, type OwnerSnapshot } from "../src/fullnat/owner_log.ts";
import { SessionTable } from "../src/fullnat/session_table.ts";
import { type Clock, SECRET } from "./engine_fixture.ts";

/** Sessions the shared memory holds. */
export const RESTART_CAPACITY = 64;

/** Memory that outlives an engine: the owner records, then the session fields. */
export interface SurvivingMemory {
  buffer: ArrayBuffer;
  owners(): OwnerLog;
}

/** Fresh memory for a first engine. */
export function survivingMemory(): SurvivingMemory {
  const ownerBytes = OwnerLog.bytes();
  const buffer = new ArrayBuffer(ownerBytes + SessionTable.bytes(RESTART_CAPACITY));
  return { buffer, owners: () => new OwnerLog(new Uint8Array(buffer, 0, ownerBytes)) };
}

/**
 * An engine over `mem` on `clock`, its control, and the owner records the previous engine left
 * (what `restoreSessions` takes).
 */
export function engineOver(
  mem: SurvivingMemory,
  clock: Clock,
  options: Partial<EngineOptions> = {},
): { engine: Engine; ctl: EngineControl; previous: OwnerSnapshot } {
  const owners = mem.owners();
  const previous = owners.snapshot();
  const engine = new Engine({
    clock: clock.fn,
    capacity: RESTART_CAPACITY,
    isnSecret: SECRET,
    sessionMemory: { buffer: mem.buffer, offset: OwnerLog.bytes() },
    owners,
    ...options,
  });
  return { engine, ctl: new EngineControl(engine), previous };
}
