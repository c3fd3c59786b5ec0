/**
 * Health checks in the admin shell, against an in-process daemon over its control socket:
 * `rs check add|list|delete`, `rs add|edit --inhibit-on-failure`, `service add|edit --quorum
 * --hysteresis --sorry-server`, each bad input refused with a message naming the option and
 * nothing changed; `config export`/`apply` round-trip them; `rs health` / `show health` print
 * what a health monitor (with stand-in runners) found.
 */
import assert from "node:assert/strict";
import { HealthMonitor, type Runner } from "../../../src/daemon/health_monitor.ts";
import type { CheckStatus } from "../../../src/health/runner.ts";
import { shellSession, startDaemon, type TestDaemon } from "./fixture.ts";

const VIP = "198.51.100.10";
const RS1 = "203.0.113.11";
const RS2 = "203.0.113.12";
const SVC = `tcp ${VIP}:80`;

/** A runner the test moves by hand. */
class HandRunner implements Runner {
  s: CheckStatus = {
    up: true,
    since: 0,
    reason: "assumed up",
    rounds: 0,
    failures: 0,
    transitions: 0,
  };
  constructor(readonly onChange: (s: CheckStatus) => void) {}
  start() {}
  stop() {}
  get status() {
    return { ...this.s };
  }
  fail(reason: string) {
    this.s = {
      ...this.s,
      up: false,
      reason,
      rounds: this.s.rounds + 1,
      failures: this.s.failures + 1,
      transitions: this.s.transitions + 1,
      since: Date.now(),
    };
    this.onChange(this.status);
  }
}

async function withShell(
  fn: (
    s: ReturnType<typeof shellSession>,
    d: TestDaemon,
    h: { monitor: HealthMonitor; runners: HandRunner[] },
  ) => Promise<void>,
) {
  const runners: HandRunner[] = [];
  let monitor!: HealthMonitor;
  const d = await startDaemon({
    ops: (control) => {
      monitor = new HealthMonitor({
        target: { setHealth: (k, u) => Promise.resolve(control.setHealth(k, u)) },
        log: () => {},
        makeRunner: (_spec, _rs, onChange) => {
          const r = new HandRunner(onChange);
          runners.push(r);
          return r;
        },
      });
      return { healthStatus: () => monitor.report() };
    },
  });
  const s = shellSession(d.socket);
  try {
    for (
      const line of [
        `service add ${SVC} -s rr`,
        `rs add ${SVC} ${RS1}:80`,
        `rs add ${SVC} ${RS2}:80 --inhibit-on-failure on`,
      ]
    ) {
      const r = await s.run(line);
      assert.deepEqual([r.code, r.err], [0, ""], line);
    }
    await fn(s, d, { monitor, runners });
  } finally {
    monitor.stop();
    await s.close();
    await d.dispose();
  }
}

const rsOf = (d: TestDaemon, address: string) =>
  d.control.listServices()[0].realServers.find((r) => r.address === address)!;

Deno.test("rs check add/list/delete change a server's checks; bad checks are refused naming the option", () =>
  withShell(async (s, d) => {
    let r = await s.run(`rs check add ${SVC} ${RS1}:80 --type tcp --delay-loop 1 --fall 2`);
    assert.deepEqual([r.code, r.err], [0, ""]);
    assert.equal(r.out, `added check 1 (tcp delayLoop 1 fall 2) to ${RS1}:80 in ${SVC}`);
    r = await s.run(
      `rs check add ${SVC} ${RS1}:80 -t http --url /health --url /ready --status 200,204 --rise 2`,
    );
    assert.equal(r.code, 0, r.err);
    const checks = rsOf(d, RS1).checks!;
    assert.equal(checks.length, 2);
    assert.deepEqual(checks[1].urls, [
      { path: "/health", statusCodes: [200, 204] },
      { path: "/ready", statusCodes: [200, 204] },
    ]);
    assert.equal(checks[1].rise, 2);

    const list = await s.run(`rs check list ${SVC}`);
    assert.match(list.out, /^SERVICE +REAL SERVER +# +CHECK$/m);
    assert.match(
      list.out,
      new RegExp(`${RS1}:80 +2 +http /health \\(200,204\\), /ready \\(200,204\\) rise 2$`, "m"),
    );
    assert.equal(JSON.parse((await s.run(`rs check list --json`)).out)[0].checks.length, 2);

    // Mistakes: exit 2, the option named, nothing changed.
    for (
      const [line, message] of [
        [`rs check add ${SVC} ${RS1}:80 --type http`, /--url: must list at least one URL/],
        [
          `rs check add ${SVC} ${RS1}:80 --type tcp --delay-loop 0`,
          /--delay-loop: must be a number of seconds from 0\.001/,
        ],
        [
          `rs check add ${SVC} ${RS1}:80 --type tcp --delay-loop soon`,
          /'soon' is not a number of seconds/,
        ],
        [`rs check add ${SVC} ${RS1}:80 --type misc`, /--command: must be given for a misc check/],
        [
          `rs check add ${SVC} ${RS1}:80 --type tcp --url /x`,
          /--url: applies to http and https checks only/,
        ],
        [
          `rs check add ${SVC} ${RS1}:80 --type http --url /x --status 99`,
          /'99' is not an HTTP status code/,
        ],
        [
          `rs check add ${SVC} ${RS1}:80 --type tcp --status 200`,
          /--status and --digest apply to a --url/,
        ],
        [`rs check add ${SVC} ${RS1}:80 --type ping`, /Allowed choices are tcp, http, https, misc/],
        [`rs check add ${SVC} ${RS1}:80`, /required option '-t, --type <type>' not specified/],
        [
          `rs check add ${SVC} 203.0.113.77:80 --type tcp`,
          /no real server 203\.0\.113\.77:80 in tcp 198\.51\.100\.10:80; its real servers: /,
        ],
        [`rs check delete ${SVC} ${RS1}:80 3`, /give the number of the check to remove, 1 to 2/],
        [`rs check delete ${SVC} ${RS2}:80 1`, /has no health checks/],
        [`rs check add ${SVC} ${RS1}:80 --type tcp --connect-port 0`, /'0' is not a port/],
      ] as const
    ) {
      const bad = await s.run(line);
      assert.equal(bad.code, 2, `${line}: ${bad.err}`);
      assert.match(bad.err, message, line);
    }
    assert.equal(rsOf(d, RS1).checks!.length, 2, "nothing changed");

    r = await s.run(`rs check delete ${SVC} ${RS1}:80 1`);
    assert.equal(r.out, `removed 1 check(s) from ${RS1}:80 in ${SVC}; 1 left`);
    assert.equal(rsOf(d, RS1).checks![0].type, "http");
    r = await s.run(`rs check delete ${SVC} ${RS1}:80 --all`);
    assert.equal(r.code, 0);
    assert.deepEqual(rsOf(d, RS1).checks, []);
  }));

Deno.test("rs add/edit --inhibit-on-failure and service add/edit --quorum --hysteresis --sorry-server", () =>
  withShell(async (s, d) => {
    assert.equal(rsOf(d, RS2).inhibitOnFailure, true, "rs add --inhibit-on-failure on");
    assert.equal((await s.run(`rs edit ${SVC} ${RS2}:80 --inhibit-on-failure off`)).code, 0);
    assert.equal(rsOf(d, RS2).inhibitOnFailure, false);
    assert.equal(rsOf(d, RS2).weight, 1, "nothing else changed");
    const bad = await s.run(`rs edit ${SVC} ${RS2}:80 --inhibit-on-failure maybe`);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /Allowed choices are on, off/);

    let r = await s.run(
      `service edit ${SVC} --quorum 2 --hysteresis 1 --sorry-server 203.0.113.99:8080`,
    );
    assert.deepEqual([r.code, r.err], [0, ""]);
    let svc = d.control.listServices()[0];
    assert.deepEqual([svc.quorum, svc.hysteresis, svc.sorryServer?.address], [
      2,
      1,
      "203.0.113.99",
    ]);
    const shown = await s.run(`service show ${SVC}`);
    assert.match(shown.out, /^quorum +2$/m);
    assert.match(shown.out, /^sorry server +203\.0\.113\.99:8080 fullnat \(standing by\)$/m);

    for (
      const [line, message, code] of [
        [`service edit ${SVC} --quorum 0`, /--quorum must be 1 or more/, 2],
        [`service edit ${SVC} --sorry-method nat`, /--sorry-method needs --sorry-server/, 2],
        [
          `service edit ${SVC} --sorry-server ${RS1}:80`,
          /the daemon refused: Sorry server 203\.0\.113\.11:80 is one of the service's real servers/,
          2,
        ],
        [`service edit ${SVC} --sorry-server 2001:db8::9:80`, /no port|not an address:port/, 2],
        [`rs add ${SVC} 203.0.113.99:8080`, /is the service's sorry server/, 2],
      ] as const
    ) {
      r = await s.run(line);
      assert.equal(r.code, code, `${line}: ${r.err}`);
      assert.match(r.err, message, line);
    }
    svc = d.control.listServices()[0];
    assert.deepEqual([svc.quorum, svc.sorryServer?.address, svc.realServers.length], [
      2,
      "203.0.113.99",
      2,
    ]);

    // config export / apply round-trip them.
    await s.run(`rs check add ${SVC} ${RS1}:80 --type http --url /health --delay-loop 5`);
    const exported = (await s.run("config export")).out;
    const doc = JSON.parse(exported);
    assert.equal(doc.services[0].quorum, 2);
    assert.deepEqual(doc.services[0].realServers[0].checks, [
      { type: "http", delayLoop: 5, urls: [{ path: "/health" }] },
    ]);
    await s.run(`service edit ${SVC} --sorry-server none --quorum 1 --hysteresis 0`);
    await s.run(`rs check delete ${SVC} ${RS1}:80 --all`);
    assert.equal(d.control.listServices()[0].sorryServer, undefined);
    const file = `${d.dir}/lb.json`;
    await Deno.writeTextFile(file, exported);
    r = await s.run(`config apply ${file}`);
    assert.equal(r.code, 0, r.err);
    assert.equal((await s.run("config export")).out, exported);
  }));

Deno.test("rs health / show health print each server's state; rs list shows the weight scheduled by", () =>
  withShell(async (s, d, h) => {
    await s.run(`rs check add ${SVC} ${RS1}:80 --type tcp --retry 1`);
    await s.run(`rs check add ${SVC} ${RS2}:80 --type tcp`);
    h.monitor.sync(d.control.listServices());
    assert.equal(h.runners.length, 2);
    h.runners[0].fail("connection refused");
    h.runners[1].fail("timeout after 5 s");
    await h.monitor.settled();

    const r = await s.run(`rs health ${SVC}`);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^SERVICE +REAL SERVER +STATE +SINCE +WEIGHT +CHECKS +ROUNDS +FAILED +CHANGES +REASON$/m,
    );
    assert.match(
      r.out,
      new RegExp(
        `${RS1}:80 +down \\(removed\\) +\\d+s ago +1 +1 +1 +1 +1 +connection refused after 2 tries$`,
        "m",
      ),
    );
    assert.match(
      r.out,
      new RegExp(`${RS2}:80 +down \\(weight 0\\) .* timeout after 5 s after 2 tries$`, "m"),
    );
    assert.match(r.out, /QUORUM LOST \(live weight 0, quorum 1, hysteresis 0\)/);
    assert.match(
      r.out,
      /checks 2 running, 2 rounds, 2 failed; servers up 0x, down 2x; quorum lost 1x/,
    );
    const json = JSON.parse((await s.run("show health --json")).out);
    assert.equal(json.services[0].realServers[0].state, "down");
    assert.equal(json.counters.transitionsDown, 2);

    const list = await s.run(`rs list ${SVC}`);
    assert.match(
      list.out,
      /REAL SERVER +METHOD +WEIGHT +CURRENT +HEALTH +CHECKS +ACTIVE +INACTIVE/,
    );
    assert.match(list.out, new RegExp(`${RS1}:80 +fullnat +1 +0 +down +1 `));
    assert.match(list.out, new RegExp(`${RS2}:80 +fullnat +1 +0 +down \\(weight 0\\) +1 `));
    // The configured weight is what config export says.
    assert.equal(
      JSON.parse((await s.run("config export")).out).services[0].realServers[0].weight,
      1,
    );
    // ipvsadm -L shows it as keepalived leaves IPVS: the removed one gone, the inhibited at 0.
    const l = await s.run("ipvsadm -L -n");
    assert.ok(!l.out.includes(`${RS1}:80`), l.out);
    assert.match(l.out, new RegExp(`-> ${RS2}:80 +FullNat +0 `));
    // -S writes the configuration: every server, its configured weight.
    const saved = await s.run("ipvsadm -S -n");
    assert.match(saved.out, new RegExp(`-a -t ${VIP}:80 -r ${RS1}:80 -b -w 1$`, "m"));
    assert.match(saved.out, new RegExp(`-a -t ${VIP}:80 -r ${RS2}:80 -b -w 1$`, "m"));
    const unknown = await s.run("rs health tcp 198.51.100.10:81");
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no service tcp 198\.51\.100\.10:81/);
  }));
