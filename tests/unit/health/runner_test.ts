/**
 * The check runner's schedule and verdicts: rounds every delayLoop after the previous one
 * ends, retries delayBeforeRetry apart within a round, fall and rise counted over consecutive
 * rounds, onChange on every transition and dynamic weight change, failures of the probe and of
 * the listener contained, and stop() aborting the attempt in flight. Sequences run on fake
 * time; the last tests run real checks against loopback servers with real timers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ProbeFn } from "../../../src/health/probe.ts";
import { CheckRunner, type CheckStatus } from "../../../src/health/runner.ts";
import { normalizeCheck, type ProbeResult } from "../../../src/health/spec.ts";
import { startCheckServer } from "../../../testkit/check_servers.ts";
import { FakeTimers, settle } from "../../../testkit/fake_timers.ts";
import { waitFor } from "../../../testkit/wait.ts";

const RS = { address: "192.0.2.11", port: 80 };
const T0 = 1_000_000;

/** A probe whose answer the test sets; records when each attempt started (ms after T0). */
function scripted(timers: FakeTimers, costMs = 0) {
  const state = {
    next: { ok: true, reason: "good", ms: 1 } as ProbeResult | Error,
    calls: [] as number[],
    aborted: 0,
  };
  const fn: ProbeFn = (_spec, _rs, signal) => {
    state.calls.push(timers.now() - T0);
    const out = state.next;
    const answer = (): ProbeResult => {
      if (out instanceof Error) throw out;
      return out;
    };
    if (costMs === 0) return Promise.resolve().then(answer);
    return new Promise((resolve, reject) => {
      const h = timers.setTimeout(() => {
        try {
          resolve(answer());
        } catch (e) {
          reject(e);
        }
      }, costMs);
      signal.addEventListener("abort", () => {
        state.aborted++;
        timers.clearTimeout(h);
        resolve({ ok: false, reason: "aborted", ms: 0 });
      });
    });
  };
  return { state, fn };
}

const bad = (reason = "bad"): ProbeResult => ({ ok: false, reason, ms: 1 });
const good = (reason = "good", weight?: number): ProbeResult =>
  weight === undefined ? { ok: true, reason, ms: 1 } : { ok: true, reason, ms: 1, weight };

function setup(
  check: Record<string, unknown>,
  opts: { firstDelayMs?: number; initiallyUp?: boolean; costMs?: number } = {},
) {
  const timers = new FakeTimers(T0);
  const probe = scripted(timers, opts.costMs);
  const changes: CheckStatus[] = [];
  const runner = new CheckRunner(
    normalizeCheck({ type: "tcp", ...check }),
    RS,
    (s) => changes.push(s),
    { timers, probe: probe.fn, firstDelayMs: opts.firstDelayMs, initiallyUp: opts.initiallyUp },
  );
  return { timers, probe: probe.state, changes, runner };
}

Deno.test("runner: retries within a round, fall rounds to go down, rise to come back", async () => {
  const { timers, probe, changes, runner } = setup(
    { delayLoop: 10, retry: 1, delayBeforeRetry: 2, fall: 2, rise: 1 },
    { firstDelayMs: 5 },
  );
  probe.next = bad("connection refused");
  runner.start();
  assert.equal(runner.status.up, true, "assumed up before the first round");
  await timers.advance(12_004);
  assert.deepEqual(probe.calls, [5, 2005], "first round: attempt, retry 2 s later");
  assert.deepEqual([runner.status.up, runner.status.rounds, runner.status.failures], [true, 1, 1]);
  assert.equal(changes.length, 0, "one failed round is not enough with fall 2");
  await timers.advance(2001);
  assert.deepEqual(probe.calls, [5, 2005, 12005, 14005], "next round delayLoop after the last");
  assert.equal(changes.length, 1);
  assert.deepEqual(
    [changes[0].up, changes[0].since - T0, changes[0].reason, changes[0].transitions],
    [false, 14005, "connection refused", 1],
  );
  assert.equal(changes[0].lastResult?.reason, "connection refused");
  probe.next = good("connected in 1 ms");
  await timers.advance(10_000);
  assert.deepEqual(probe.calls.slice(4), [24005], "a good attempt ends the round");
  assert.deepEqual(
    changes.map((c) => [c.up, c.reason, c.rounds, c.failures, c.transitions]),
    [[false, "connection refused", 2, 2, 1], [true, "connected in 1 ms", 3, 2, 2]],
  );
  runner.stop();
});

Deno.test("runner: a retry that succeeds saves the round", async () => {
  const { timers, probe, changes, runner } = setup({
    delayLoop: 10,
    retry: 2,
    delayBeforeRetry: 1,
  });
  probe.next = bad();
  runner.start();
  await timers.advance(1500); // first attempt at 0, retry at 1000
  probe.next = good();
  await timers.advance(1000); // third attempt at 2000 passes
  assert.deepEqual(probe.calls, [0, 1000, 2000]);
  assert.deepEqual([runner.status.rounds, runner.status.failures, runner.status.up], [1, 0, true]);
  assert.equal(changes.length, 0);
  runner.stop();
});

Deno.test("runner: fall and rise count consecutive rounds only", async () => {
  const { timers, probe, changes, runner } = setup(
    { delayLoop: 1, retry: 0, fall: 2, rise: 3 },
    { firstDelayMs: 500 }, // rounds at 500, 1500, ...: one per advance(1000)
  );
  runner.start();
  for (const ok of [false, true, false, true, false, false]) {
    probe.next = ok ? good() : bad();
    await timers.advance(1000);
  }
  assert.deepEqual(changes.map((c) => [c.up, c.rounds]), [[false, 6]]);
  for (const ok of [true, true, false, true, true, true]) {
    probe.next = ok ? good() : bad();
    await timers.advance(1000);
  }
  assert.deepEqual(changes.map((c) => [c.up, c.rounds]), [[false, 6], [true, 12]]);
  assert.equal(runner.status.failures, 5);
  runner.stop();
});

Deno.test("runner: initiallyUp false waits for rise good rounds", async () => {
  const { timers, changes, runner } = setup({ delayLoop: 2, rise: 2 }, { initiallyUp: false });
  assert.deepEqual([runner.status.up, runner.status.reason], [false, "not checked yet"]);
  runner.start();
  await timers.advance(1);
  assert.equal(changes.length, 0);
  await timers.advance(2000);
  assert.deepEqual(changes.map((c) => [c.up, c.transitions, c.since - T0]), [[true, 1, 2000]]);
  runner.stop();
});

Deno.test("runner: a dynamic misc check reports each change of the weight it asks for", async () => {
  const timers = new FakeTimers(T0);
  const probe = scripted(timers);
  const changes: CheckStatus[] = [];
  const runner = new CheckRunner(
    normalizeCheck({ type: "misc", command: "x", dynamic: true, delayLoop: 1 }),
    RS,
    (s) => changes.push(s),
    { timers, probe: probe.fn, firstDelayMs: 500 },
  );
  runner.start();
  for (const w of [undefined, 3, 3, 5, undefined, 0]) {
    probe.state.next = good(`exit ${w === undefined ? 0 : w + 2}`, w);
    await timers.advance(1000);
  }
  // Exit 0 leaves the weight where the last exit 2-255 set it, as keepalived does.
  assert.deepEqual(changes.map((c) => [c.up, c.weight, c.transitions]), [
    [true, 3, 0],
    [true, 5, 0],
    [true, 0, 0],
  ]);
  assert.equal(runner.status.weight, 0);
  runner.stop();
});

Deno.test("runner: a probe or listener that throws is contained", async () => {
  const timers = new FakeTimers(T0);
  const probe = scripted(timers);
  let heard = 0;
  const runner = new CheckRunner(
    normalizeCheck({ type: "tcp", delayLoop: 1, retry: 0 }),
    RS,
    () => {
      heard++;
      throw new Error("listener bug");
    },
    { timers, probe: probe.fn },
  );
  probe.state.next = new Error("boom");
  runner.start();
  await timers.advance(1);
  assert.deepEqual([runner.status.up, runner.status.reason], [false, "check failed: boom"]);
  probe.state.next = good();
  await timers.advance(1000);
  assert.deepEqual([heard, runner.status.up, runner.status.rounds], [2, true, 2]);
  runner.stop();
});

Deno.test("runner: stop() aborts the attempt in flight, cancels timers and silences onChange", async () => {
  const { timers, probe, changes, runner } = setup({ delayLoop: 5, retry: 0 }, { costMs: 3000 });
  probe.next = bad();
  runner.start();
  await timers.advance(1000); // attempt started at 0, runs until 3000
  assert.deepEqual(probe.calls, [0]);
  runner.stop();
  await settle();
  assert.equal(probe.aborted, 1);
  assert.equal(timers.pending, 0);
  await timers.advance(60_000);
  assert.deepEqual([probe.calls.length, changes.length, runner.status.rounds], [1, 0, 0]);
  assert.equal(runner.running, false);
});

Deno.test("runner: start() after stop() resumes; a second start() does not double the rounds", async () => {
  const { timers, probe, runner } = setup({ delayLoop: 1 });
  runner.start();
  runner.start();
  await timers.advance(2500);
  assert.deepEqual(probe.calls, [0, 1000, 2000]);
  runner.stop();
  await timers.advance(5000);
  runner.start();
  await timers.advance(1500);
  assert.deepEqual(probe.calls, [0, 1000, 2000, 7500, 8500]);
  runner.stop();
});

Deno.test("runner: the next round starts delayLoop after a slow round ends", async () => {
  const { timers, probe, runner } = setup({ delayLoop: 10, retry: 0 }, { costMs: 3000 });
  runner.start();
  await timers.advance(30_000);
  assert.deepEqual(probe.calls, [0, 13_000, 26_000]);
  runner.stop();
});

Deno.test("runner (real timers): an http check follows a server switched bad and good", async () => {
  const server = startCheckServer({ status: 200, body: "ok" });
  const changes: CheckStatus[] = [];
  const runner = new CheckRunner(
    normalizeCheck({
      type: "http",
      delayLoop: 0.05,
      connectTimeout: 1,
      retry: 0,
      rise: 2,
      fall: 2,
      urls: [{ path: "/health", statusCodes: [200] }],
    }),
    { address: "127.0.0.1", port: server.port },
    (s) => changes.push(s),
  );
  try {
    runner.start();
    await waitFor(() => runner.status.rounds >= 2, { what: "two good rounds" });
    assert.equal(changes.length, 0);
    server.answer = { status: 500, body: "broken" };
    await waitFor(() => changes.length === 1, { what: "down" });
    assert.deepEqual(
      [changes[0].up, changes[0].reason],
      [false, "HTTP 500 on /health (expected 200)"],
    );
    server.answer = { status: 200, body: "ok" };
    await waitFor(() => changes.length === 2, { what: "up again" });
    assert.equal(changes[1].up, true);
    assert.match(changes[1].reason, /^HTTP 200 on \/health in /);
    assert.equal(changes[1].transitions, 2);
  } finally {
    runner.stop();
    await server.stop();
  }
});

Deno.test("runner (real timers): stop() closes the connection of the attempt in flight", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const runner = new CheckRunner(
    normalizeCheck({ type: "http", connectTimeout: 30, urls: [{ path: "/" }] }),
    { address: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
    () => assert.fail("no change expected"),
  );
  try {
    runner.start();
    const conn = await listener.accept();
    const start = performance.now();
    runner.stop();
    // The request arrives, then EOF once the runner's abort destroys the socket.
    const buf = new Uint8Array(4096);
    let n: number | null;
    do n = await conn.read(buf); while (n !== null);
    conn.close();
    assert.ok(performance.now() - start < 1000);
    assert.equal(runner.status.rounds, 0);
    assert.equal(runner.status.lastResult, undefined);
  } finally {
    runner.stop();
    listener.close();
  }
});

Deno.test("runner (real timers): detection time of a refused port, delayLoop 1 retry 1 delayBeforeRetry 0.5", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let downAt = 0;
  const runner = new CheckRunner(
    normalizeCheck({ type: "tcp", delayLoop: 1, retry: 1, delayBeforeRetry: 0.5, fall: 1 }),
    { address: "127.0.0.1", port },
    (s) => {
      if (!s.up) downAt = Date.now();
    },
  );
  try {
    runner.start();
    await waitFor(() => runner.status.rounds === 1, { what: "a good round", intervalMs: 2 });
    // The worst case: the port closes just after a good round ended; time is counted from the
    // end of that round, so a late poll here cannot shorten it.
    listener.close();
    const goodAt = runner.status.lastResult!.at;
    await waitFor(() => downAt > 0, { what: "down", timeoutMs: 5000, intervalMs: 5 });
    const took = downAt - goodAt;
    console.log(`refused port detected as down after ${Math.round(took)} ms`);
    assert.ok(took >= 1490 && took < 2500, `took ${took} ms, expected about 1500`);
    assert.equal(runner.status.reason, "connection refused");
    assert.equal(runner.status.lastResult?.ok, false);
  } finally {
    runner.stop();
    try {
      listener.close();
    } catch {
      // Closed by the test already.
    }
  }
});
