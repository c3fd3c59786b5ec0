/**
 * The admin shell's idle timeout: where the number comes from (TMOUT, then the file `fullnat
 * mgmt apply` writes, then 15 minutes), and the timer: it fires once after the timeout without
 * activity, a key press starts it again, a running command stops it, and 0 disables it.
 */
import assert from "node:assert/strict";
import { DEFAULT_IDLE_TIMEOUT_S, idleTimeoutSeconds, IdleTimer } from "../../../src/shell/idle.ts";
import { FakeTimers } from "../../../testkit/fake_timers.ts";

Deno.test("idle timeout: TMOUT, then the configured file, then 900 s", () => {
  assert.equal(DEFAULT_IDLE_TIMEOUT_S, 900);
  assert.equal(idleTimeoutSeconds(undefined, undefined), 900);
  assert.equal(idleTimeoutSeconds(undefined, "300\n"), 300);
  assert.equal(idleTimeoutSeconds("60", "300\n"), 60);
  assert.equal(idleTimeoutSeconds("0", "300\n"), 0, "TMOUT=0 turns it off, as in bash");
  // What is not whole seconds is ignored, not read as 0 (which would disable the timeout).
  assert.equal(idleTimeoutSeconds("soon", "ten"), 900);
  assert.equal(idleTimeoutSeconds("", "-5"), 900);
});

Deno.test("idle timer: fires once after the timeout; typing restarts it; commands stop it", async () => {
  const timers = new FakeTimers();
  let fired = 0;
  const idle = new IdleTimer(60_000, () => fired++, timers);
  await timers.advance(59_000);
  assert.equal(fired, 0);
  idle.activity(); // a key press
  await timers.advance(59_000);
  assert.equal(fired, 0, "the clock started again at the key press");
  idle.busy(true); // a long command runs
  await timers.advance(600_000);
  assert.equal(fired, 0, "no timeout while a command runs");
  idle.busy(false); // its prompt is back
  await timers.advance(59_999);
  assert.equal(fired, 0);
  await timers.advance(1);
  assert.equal(fired, 1);
  idle.activity();
  await timers.advance(600_000);
  assert.equal(fired, 1, "once only: the session is over");
});

Deno.test("idle timer: 0 never fires; stop() cancels", async () => {
  const timers = new FakeTimers();
  let fired = 0;
  new IdleTimer(0, () => fired++, timers);
  const stopped = new IdleTimer(1000, () => fired++, timers);
  stopped.stop();
  stopped.activity();
  await timers.advance(10_000);
  assert.equal(fired, 0);
  assert.equal(timers.pending, 0);
});
