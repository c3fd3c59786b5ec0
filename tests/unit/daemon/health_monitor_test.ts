/**
 * The daemon's health monitor with fake runners: runners follow the configuration, checks
 * combine (all must be up), transitions reach the workers and the log, quorum and hysteresis
 * follow keepalived, and the report and counters say what happened.
 */
import assert from "node:assert/strict";
import {
  HealthMonitor,
  nextQuorumUp,
  type Runner,
  type RunnerFactory,
} from "../../../src/daemon/health_monitor.ts";
import type { CheckStatus, RunnerOptions } from "../../../src/health/runner.ts";
import { type CheckSpec, normalizeCheck } from "../../../src/health/spec.ts";
import {
  ControlError,
  type HealthUpdate,
  type RealServerView,
  type ServiceKey,
  type ServiceView,
} from "../../../src/fullnat/types.ts";

const KEY: ServiceKey = { protocol: "tcp", address: "198.51.100.10", port: 80 };
const ZERO = { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 };
const TCP = normalizeCheck({ type: "tcp", delayLoop: 2, fall: 2 });
const HTTP = normalizeCheck({ type: "http", delayLoop: 4, urls: [{ path: "/health" }] });

class FakeRunner implements Runner {
  started = false;
  stopped = false;
  #status: CheckStatus;
  constructor(
    readonly spec: CheckSpec,
    readonly rs: { address: string; port: number },
    readonly onChange: (s: CheckStatus) => void,
    readonly opts: RunnerOptions,
  ) {
    this.#status = {
      up: opts.initiallyUp ?? true,
      since: 0,
      reason: "not checked yet",
      rounds: 0,
      failures: 0,
      transitions: 0,
    };
  }
  start() {
    this.started = true;
  }
  stop() {
    this.stopped = true;
  }
  get status(): CheckStatus {
    return { ...this.#status };
  }
  /** One round's verdict, as the real runner reports a change. */
  round(up: boolean, reason: string, weight?: number) {
    const s = this.#status;
    s.rounds++;
    if (!up) s.failures++;
    const changed = s.up !== up || s.weight !== weight;
    if (s.up !== up) s.transitions++;
    s.up = up;
    s.reason = reason;
    if (weight === undefined) delete s.weight;
    else s.weight = weight;
    if (changed) this.onChange(this.status);
  }
}

interface Bed {
  monitor: HealthMonitor;
  runners: FakeRunner[];
  sent: { key: ServiceKey; update: HealthUpdate }[];
  logs: string[];
  /** Makes setHealth fail with this error from now on. */
  fail?: Error;
}

function bed(): Bed {
  const b: Bed = { monitor: undefined as never, runners: [], sent: [], logs: [] };
  const makeRunner: RunnerFactory = (spec, rs, onChange, opts) => {
    const r = new FakeRunner(spec, rs, onChange, opts);
    b.runners.push(r);
    return r;
  };
  b.monitor = new HealthMonitor({
    target: {
      setHealth: (key, update) => {
        if (b.fail) return Promise.reject(b.fail);
        b.sent.push({ key, update });
        return Promise.resolve();
      },
    },
    log: (m) => b.logs.push(m),
    makeRunner,
    random: () => 0.5,
    now: () => 1_000,
  });
  return b;
}

function rs(address: string, checks: CheckSpec[] = [], extra: Partial<RealServerView> = {}) {
  return {
    address,
    port: 80,
    weight: 1,
    method: "fullnat" as const,
    checks,
    inhibitOnFailure: false,
    up: true,
    activeConns: 0,
    inactiveConns: 0,
    stats: { ...ZERO },
    ...extra,
  };
}

function view(realServers: RealServerView[], extra: Partial<ServiceView> = {}): ServiceView {
  return {
    ...KEY,
    scheduler: "wrr",
    persistence: 0,
    toa: true,
    stripTimestamps: true,
    clampMss: true,
    quorum: 1,
    hysteresis: 0,
    quorumUp: true,
    realServers,
    localAddresses: [],
    stats: { ...ZERO },
    ...extra,
  };
}

Deno.test("HealthMonitor.sync() keeps one runner per server and check, spread over delayLoop", () => {
  const b = bed();
  b.monitor.sync([view([rs("203.0.113.11", [TCP, HTTP]), rs("203.0.113.12", [TCP])])]);
  assert.equal(b.runners.length, 3);
  assert.ok(b.runners.every((r) => r.started));
  assert.deepEqual(b.runners.map((r) => r.opts.firstDelayMs), [1000, 2000, 1000]);
  assert.deepEqual(b.runners.map((r) => r.rs.address), [
    "203.0.113.11",
    "203.0.113.11",
    "203.0.113.12",
  ]);
  assert.deepEqual(b.logs, ["health: 3 check(s) running, 3 started"]);

  // Same configuration again: nothing restarts.
  b.monitor.sync([view([rs("203.0.113.11", [TCP, HTTP]), rs("203.0.113.12", [TCP])])]);
  assert.equal(b.runners.length, 3);
  assert.ok(b.runners.every((r) => !r.stopped));

  // A changed check restarts, a deleted server's stop, an unchanged one stays.
  const tcp5 = normalizeCheck({ type: "tcp", delayLoop: 5 });
  b.monitor.sync([view([rs("203.0.113.11", [tcp5, HTTP])])]);
  assert.deepEqual(b.runners.map((r) => r.stopped), [true, false, true, false]);
  assert.equal(b.runners[3].spec.delayLoop, 5);
  assert.equal(b.logs.at(-1), "health: 2 check(s) running, 1 started, 2 stopped");

  // The service goes: everything stops.
  b.monitor.sync([]);
  assert.ok(b.runners.every((r) => r.stopped));
  assert.equal(b.monitor.counters().checks, 0);
});

Deno.test("HealthMonitor: a server is up only while every check is; each change reaches the workers and the log", async () => {
  const b = bed();
  b.monitor.sync([view([rs("203.0.113.11", [TCP, HTTP]), rs("203.0.113.12")])]);
  const [tcp, http] = b.runners;
  tcp.round(false, "connection refused");
  await b.monitor.settled();
  assert.deepEqual(b.sent, [{
    key: KEY,
    update: {
      servers: [{ address: "203.0.113.11", port: 80, up: false, weight: null }],
      quorumUp: true,
    },
  }]);
  assert.equal(
    b.logs.at(-1),
    "health: tcp 198.51.100.10:80 rs 203.0.113.11:80 DOWN (tcp: connection refused after 2 tries): out of rotation",
  );
  http.round(false, "HTTP 500 on /health (expected 200-299)");
  tcp.round(true, "connected in 1 ms");
  await b.monitor.settled();
  assert.equal(b.sent.length, 1, "still down: the http check is");
  http.round(true, "HTTP 200 on /health");
  await b.monitor.settled();
  assert.equal(b.sent.length, 2);
  assert.equal(b.sent[1].update.servers?.[0].up, true);
  assert.match(b.logs.at(-1)!, /rs 203\.0\.113\.11:80 UP \(tcp: connected in 1 ms\)$/);
  const c = b.monitor.counters();
  assert.deepEqual(
    [c.checks, c.checksRun, c.checksFailed, c.transitionsUp, c.transitionsDown],
    [2, 4, 2, 1, 1],
  );
});

Deno.test("HealthMonitor: inhibitOnFailure is said in the log; a dynamic weight is sent", async () => {
  const b = bed();
  const misc = normalizeCheck({ type: "misc", command: "/bin/true", dynamic: true });
  b.monitor.sync([view([rs("203.0.113.11", [misc], { inhibitOnFailure: true })])]);
  b.runners[0].round(true, "exit 7", 5);
  await b.monitor.settled();
  assert.deepEqual(b.sent[0].update.servers, [
    { address: "203.0.113.11", port: 80, up: true, weight: 5 },
  ]);
  assert.match(b.logs.at(-1)!, /rs 203\.0\.113\.11:80 weight 5 \(exit 7\)/);
  b.runners[0].round(false, "exit 1");
  assert.match(b.logs.at(-2)!, /DOWN \(exit 1\): weight 0$/);
  assert.match(b.logs.at(-1)!, /quorum lost/);
});

Deno.test("nextQuorumUp() follows keepalived: lost below quorum - hysteresis or at 0, regained at quorum + hysteresis", () => {
  assert.equal(nextQuorumUp(true, 2, 3, 1), true);
  assert.equal(nextQuorumUp(true, 1, 3, 1), false);
  assert.equal(nextQuorumUp(true, 0, 1, 5), false, "nothing alive is always lost");
  assert.equal(nextQuorumUp(false, 3, 3, 1), false, "inside the band stays lost");
  assert.equal(nextQuorumUp(false, 4, 3, 1), true);
  assert.equal(nextQuorumUp(false, 1, 1, 0), true);
});

Deno.test("HealthMonitor: quorum with hysteresis puts the sorry server in and takes it out", async () => {
  const b = bed();
  const servers = ["11", "12", "13", "14"].map((n) => rs(`203.0.113.${n}`, [TCP]));
  const sorry = {
    address: "203.0.113.99",
    port: 80,
    method: "fullnat" as const,
    active: false,
    currentWeight: 0,
    activeConns: 0,
    inactiveConns: 0,
    stats: { ...ZERO },
  };
  b.monitor.sync([view(servers, { quorum: 3, hysteresis: 1, sorryServer: sorry })]);
  const [r1, r2, r3, r4] = b.runners;
  r1.round(false, "timeout");
  r2.round(false, "timeout");
  await b.monitor.settled();
  assert.ok(b.sent.every((s) => s.update.quorumUp === true), "live 2 >= 3 - 1 keeps it");
  r3.round(false, "timeout");
  await b.monitor.settled();
  assert.equal(b.sent.at(-1)?.update.quorumUp, false, "live 1 < 2: lost");
  assert.equal(
    b.logs.at(-1),
    "health: tcp 198.51.100.10:80 quorum lost: live weight 1 < quorum 3 - hysteresis 1; " +
      "sorry server 203.0.113.99:80 in rotation",
  );
  r1.round(true, "ok");
  r2.round(true, "ok");
  await b.monitor.settled();
  assert.equal(b.sent.at(-1)?.update.quorumUp, false, "live 3 < 3 + 1 stays lost");
  r3.round(true, "ok");
  await b.monitor.settled();
  assert.equal(b.sent.at(-1)?.update.quorumUp, true);
  assert.match(
    b.logs.at(-1)!,
    /quorum regained: live weight 4 >= quorum 3 \+ hysteresis 1; sorry server 203\.0\.113\.99:80 out of rotation/,
  );
  void r4;
  const report = b.monitor.report();
  assert.equal(report.services[0].quorumUp, true);
  assert.equal(report.services[0].liveWeight, 4);
  assert.deepEqual(report.services[0].sorryServer, {
    address: "203.0.113.99",
    port: 80,
    method: "fullnat",
    active: false,
  });
  assert.deepEqual([report.counters.quorumLost, report.counters.quorumRegained], [1, 1]);
});

Deno.test("HealthMonitor: every server down loses the quorum even at quorum 1; a service without health has none", async () => {
  const b = bed();
  b.monitor.sync([
    view([rs("203.0.113.11", [TCP])]),
    view([rs("203.0.113.12", [], { weight: 0 })], { port: 81 }),
  ]);
  b.runners[0].round(false, "connection refused");
  await b.monitor.settled();
  assert.equal(b.sent.at(-1)?.update.quorumUp, false);
  assert.match(
    b.logs.at(-1)!,
    /quorum lost: live weight 0 < quorum 1 - hysteresis 0; no sorry server/,
  );
  // Port 81: all weight 0 but no checks, no sorry server: no quorum to lose.
  assert.ok(b.sent.every((s) => s.key.port === 80));
});

Deno.test("HealthMonitor.sync() sends what the workers do not hold yet, and a removed failing check brings the server up", async () => {
  const b = bed();
  b.monitor.sync([view([rs("203.0.113.11", [TCP])])]);
  b.runners[0].round(false, "connection refused");
  await b.monitor.settled();
  // The workers lost the state (e.g. their view says up again): sync sends it again.
  b.monitor.sync([view([rs("203.0.113.11", [TCP])], { quorumUp: true })]);
  await b.monitor.settled();
  assert.equal(b.sent.length, 2);
  assert.deepEqual(b.sent[1].update.servers?.[0].up, false);
  // Views that match send nothing.
  b.monitor.sync([view([rs("203.0.113.11", [TCP], { up: false })], { quorumUp: false })]);
  await b.monitor.settled();
  assert.equal(b.sent.length, 2);
  // The check removed: up at once, said, and sent.
  b.monitor.sync([view([rs("203.0.113.11", [], { up: false })], { quorumUp: false })]);
  await b.monitor.settled();
  assert.equal(b.sent.at(-1)?.update.servers?.[0].up, true);
  assert.match(b.logs.join("\n"), /rs 203\.0\.113\.11:80 UP \(no checks\)/);
  // A new check on a server that is down starts down (it must rise first).
  b.monitor.sync([view([rs("203.0.113.12", [TCP])])]);
  b.runners.at(-1)!.round(false, "refused");
  b.monitor.sync([view([rs("203.0.113.12", [HTTP], { up: false })], { quorumUp: false })]);
  assert.equal(b.runners.at(-1)!.opts.initiallyUp, false);
});

Deno.test("HealthMonitor: a refused update for a deleted server is dropped quietly; others are logged and counted", async () => {
  const b = bed();
  b.monitor.sync([view([rs("203.0.113.11", [TCP])])]);
  b.fail = new ControlError("no-dest", "No such destination");
  b.runners[0].round(false, "refused");
  await b.monitor.settled();
  assert.equal(b.monitor.counters().updateErrors, 0);
  b.fail = new Error("worker 1 refused");
  b.runners[0].round(true, "ok");
  await b.monitor.settled();
  assert.equal(b.monitor.counters().updateErrors, 1);
  assert.match(
    b.logs.at(-1)!,
    /updating tcp 198\.51\.100\.10:80 on the workers failed: worker 1 refused/,
  );
});

Deno.test("HealthMonitor.report() gives each server's state, reason, checks and counts", () => {
  const b = bed();
  b.monitor.sync([view([rs("203.0.113.11", [HTTP]), rs("203.0.113.12")])]);
  b.runners[0].round(false, "HTTP 500 on /health (expected 200-299)");
  const r = b.monitor.report();
  const [a, c] = r.services[0].realServers;
  assert.equal(a.state, "down");
  assert.equal(a.reason, "HTTP 500 on /health (expected 200-299) after 2 tries");
  assert.deepEqual([a.rounds, a.failures, a.transitions], [1, 1, 1]);
  assert.equal(a.checks[0].check, "http /health delayLoop 4");
  assert.equal(c.state, "up");
  assert.equal(c.reason, "no checks");
  b.monitor.stop();
  assert.ok(b.runners.every((x) => x.stopped));
  assert.equal(b.monitor.counters().checksRun, 1, "stopped runners still count");
});

Deno.test("HealthMonitor.follow() syncs without blocking, folds calls during a sync into one, logs a failed listing", async () => {
  const b = bed();
  let lists = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const list = async () => {
    lists++;
    await gate;
    return [view([rs("203.0.113.11", [TCP])])];
  };
  b.monitor.follow(list);
  b.monitor.follow(list);
  b.monitor.follow(list);
  assert.equal(lists, 1, "one listing at a time");
  release();
  await b.monitor.followed();
  assert.equal(lists, 2, "the calls made meanwhile became one more sync");
  assert.equal(b.runners.length, 1);
  b.monitor.follow(() => Promise.reject(new Error("worker 0 is gone")));
  await b.monitor.followed();
  assert.match(
    b.logs.at(-1)!,
    /health: reading the configuration failed, checks not updated: worker 0 is gone/,
  );
  assert.equal(b.runners[0].stopped, false, "a failed listing stops nothing");
});
