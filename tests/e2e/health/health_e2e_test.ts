/**
 * End to end: keepalived-style health checks built into the daemon, on one shared topology.
 * Three nginx real servers (one process each, so one can be killed) behind a TCP service, each
 * with a TCP and an HTTP check (delayLoop 1 s, connectTimeout 0.5 s, retry 0, fall 2, rise 2);
 * the third has inhibitOnFailure; a fourth nginx is the sorry server. Cases, in order:
 *
 * - an nginx killed: detected (connection refused), no new connection reaches it; restarted,
 *   it is back after `rise` good rounds and takes connections again;
 * - an RS answering HTTP 500 on its health URL: taken out, while downloads already running on
 *   it finish byte for byte; back when it answers 200 again;
 * - an RS link blackholed (iptables DROP in the RS namespace): detected by connect timeout;
 * - every RS down: the quorum is lost and the sorry server answers; `ipvsadm -L -n` shows the
 *   inhibited RS at weight 0 and the sorry server, `config export` still the configured
 *   weights; all back: the sorry server leaves.
 *
 * Detection time = fault made to the DOWN line in the daemon's log (then connections are
 * checked); recovery time = fault mended to the UP line. Both are printed for the record.
 */
import assert from "node:assert/strict";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import {
  curl,
  type NginxServer,
  parseRootBody,
  sha256Hex,
  startNginx,
} from "../../../testkit/servers.ts";

const CHECK_TIMING = { delayLoop: 1, connectTimeout: 0.5, retry: 0, fall: 2, rise: 2 };
/** The worst a detection may take: fall rounds of delayLoop + connectTimeout, and slack. */
const DETECT_LIMIT_MS = CHECK_TIMING.fall * (CHECK_TIMING.delayLoop +
      CHECK_TIMING.connectTimeout) *
    1000 + 2000;
const RECOVER_LIMIT_MS = CHECK_TIMING.rise * (CHECK_TIMING.delayLoop +
      CHECK_TIMING.connectTimeout) *
    1000 + 2000;

/** Serves `/health` from a file, so a test turns it into a 500 by removing the file. */
const HEALTH_LOCATION = `    location = /health {
      default_type text/plain;
      try_files /health.txt =500;
    }`;

async function startRs(topo: Topology, address: string): Promise<NginxServer> {
  const n = await startNginx({
    netns: topo.rs,
    addrs: [address],
    bulkBytes: 1 << 20,
    extraLocations: HEALTH_LOCATION,
  });
  await setHealthy(n, true);
  return n;
}

async function setHealthy(n: NginxServer, ok: boolean): Promise<void> {
  if (ok) await Deno.writeTextFile(`${n.dir}/www/health.txt`, "ok\n");
  else await Deno.remove(`${n.dir}/www/health.txt`);
}

/** Waits for a daemon log line matching `re` written after `from` characters. */
async function waitLog(lb: Balancer, re: RegExp, from: number, timeoutMs = 15_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const text = lb.log().slice(from);
    const m = re.exec(text);
    if (m) return { at: performance.now(), line: text.slice(m.index).split("\n")[0] };
    if (performance.now() > deadline) {
      throw new Error(`no daemon log line matching ${re} within ${timeoutMs} ms:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `n` new connections to the VIP (one curl, Connection: close); the server that answered each. */
async function newConnections(topo: Topology, vip: string, n: number): Promise<string[]> {
  const url = `http://${vip}/`;
  const r = await topo.exec("client", [
    "curl",
    "-s",
    "--max-time",
    "20",
    "--connect-timeout",
    "2",
    "-H",
    "Connection: close",
    ...Array.from({ length: n }, () => url),
  ]);
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => {
    const body = parseRootBody(l);
    assert.ok(body, `not an answer of ours: ${l}`);
    return body.server;
  });
}

const count = (list: string[], x: string) => list.filter((s) => s === x).length;

Deno.test("e2e health checks: kill, restart, HTTP 500, blackhole, sorry server, inhibit listing", async (t) => {
  const topo = await createTopology({ rsCount: 4 });
  const [rs1, rs2, rs3, sorry] = topo.addrs.realServers;
  const vip = topo.addrs.vips[0];
  const figures: string[] = [];
  const nginx = new Map<string, NginxServer>();
  let lb: Balancer | undefined;
  let code: number | undefined;
  try {
    for (const a of [rs1, rs2, rs3, sorry]) nginx.set(a, await startRs(topo, a));
    // A small client receive window: a slow download's data crosses the balancer until its
    // end, instead of waiting in the client's socket buffer.
    await topo.exec("client", ["sysctl", "-qw", "net.ipv4.tcp_rmem=4096 32768 65536"]);
    lb = await startBalancer(topo);
    const checks = [
      { type: "tcp", ...CHECK_TIMING },
      { type: "http", ...CHECK_TIMING, urls: [{ path: "/health", statusCodes: [200] }] },
    ];
    const doc = {
      version: 1,
      services: [{
        protocol: "tcp",
        address: vip,
        port: 80,
        scheduler: "rr",
        sorryServer: { address: sorry, port: 80, method: "fullnat" },
        realServers: [
          { address: rs1, port: 80, checks },
          { address: rs2, port: 80, checks },
          { address: rs3, port: 80, checks, inhibitOnFailure: true },
        ],
        localAddresses: [topo.addrs.localAddrs[0]],
      }],
    };
    const file = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(file, JSON.stringify(doc));
    const applied = await lb.cli("config", "apply", file);
    await Deno.remove(file);
    assert.equal(applied.code, 0, applied.stderr);
    await waitLog(lb, /health: 6 check\(s\) running, 6 started/, 0);
    const exported = (await lb.cli("config", "export")).stdout;
    // Let every check run its first rounds.
    await new Promise((r) => setTimeout(r, 1500));
    const first = await newConnections(topo, vip, 9);
    assert.deepEqual([count(first, rs1), count(first, rs2), count(first, rs3)], [3, 3, 3]);

    await t.step(
      "an nginx killed is taken out; restarted, it is back after rise rounds",
      async () => {
        const from = lb!.log().length;
        const t0 = performance.now();
        await nginx.get(rs1)!.stop();
        const down = await waitLog(lb!, new RegExp(`rs ${rs1}:80 DOWN \\(.*refused.*\\)`), from);
        const detect = down.at - t0;
        figures.push(`killed nginx (connection refused): detected in ${detect.toFixed(0)} ms`);
        assert.ok(detect < DETECT_LIMIT_MS, `detection took ${detect} ms`);
        assert.match(down.line, /: out of rotation$/);
        await new Promise((r) => setTimeout(r, 100));
        const after = await newConnections(topo, vip, 20);
        assert.equal(after.length, 20, "every new connection answered");
        assert.equal(count(after, rs1), 0, "none reached the killed server");
        const listing = await lb!.ipvsadmOk("-L", "-n");
        assert.ok(!listing.includes(`${rs1}:80`), `removed from the listing:\n${listing}`);

        const from2 = lb!.log().length;
        nginx.set(rs1, await startRs(topo, rs1));
        const t1 = performance.now();
        const up = await waitLog(lb!, new RegExp(`rs ${rs1}:80 UP`), from2);
        const recover = up.at - t1;
        figures.push(`restarted nginx: back in rotation after ${recover.toFixed(0)} ms (rise 2)`);
        assert.ok(recover < RECOVER_LIMIT_MS, `recovery took ${recover} ms`);
        // rise 2 means two good rounds: at least one delayLoop after the first.
        assert.ok(recover >= CHECK_TIMING.delayLoop * 1000 * 0.9, `back too soon: ${recover} ms`);
        await new Promise((r) => setTimeout(r, 100));
        const back = await newConnections(topo, vip, 9);
        assert.equal(count(back, rs1), 3, `rr over three again: ${back}`);
      },
    );

    await t.step(
      "an RS answering HTTP 500 is taken out; downloads already on it finish",
      async () => {
        const n2 = nginx.get(rs2)!;
        // Three slow downloads, one per server (rr), held open across the failure.
        const downloads = [0, 1, 2].map(() =>
          curl(topo.client, `http://${vip}/bulk.bin`, {
            maxTimeSec: 30,
            args: ["--limit-rate", "250k"],
          })
        );
        await new Promise((r) => setTimeout(r, 500));
        const from = lb!.log().length;
        const t0 = performance.now();
        await setHealthy(n2, false);
        const down = await waitLog(lb!, new RegExp(`rs ${rs2}:80 DOWN \\(http: HTTP 500`), from);
        const detect = down.at - t0;
        figures.push(`HTTP 500 on the health URL: detected in ${detect.toFixed(0)} ms`);
        assert.ok(detect < DETECT_LIMIT_MS, `detection took ${detect} ms`);
        await new Promise((r) => setTimeout(r, 100));
        const pagesBefore = (await n2.accessLog()).filter((e) => e.path === "/").length;
        const after = await newConnections(topo, vip, 20);
        assert.equal(after.length, 20);
        assert.equal(count(after, rs2), 0, "no new connection to the failed server");
        const pagesAfter = (await n2.accessLog()).filter((e) => e.path === "/").length;
        assert.equal(pagesAfter, pagesBefore, "its access log saw no new page request");
        // The downloads, one of them on rs2, complete whole after it was taken out.
        const done = await Promise.all(downloads);
        const sum = sha256Hex;
        for (const d of done) {
          assert.equal(d.status, 200, d.stderr);
          assert.equal(d.bytes.length, n2.bulkBytes);
          assert.equal(sum(d.bytes), n2.bulkSha256);
        }
        const onRs2 = (await n2.accessLog()).filter((e) => e.path === "/bulk.bin");
        assert.equal(onRs2.length, 1, "one download was on the failed server");
        assert.equal(onRs2[0].bodyBytes, n2.bulkBytes, "and it finished whole");
        // They started 500 ms before the fault: still running when it was detected.
        const longest = Math.max(...done.map((d) => d.timeSec)) * 1000;
        assert.ok(
          longest > detect + 600,
          `downloads of ${done.map((d) => d.timeSec)} s outlast the detection (${detect} ms)`,
        );

        const from2 = lb!.log().length;
        await setHealthy(n2, true);
        const t1 = performance.now();
        const up = await waitLog(lb!, new RegExp(`rs ${rs2}:80 UP`), from2);
        figures.push(`HTTP 200 again: back after ${(up.at - t1).toFixed(0)} ms`);
        assert.ok(up.at - t1 < RECOVER_LIMIT_MS);
      },
    );

    await t.step("an RS link blackholed is detected by connect timeout", async () => {
      const from = lb!.log().length;
      const t0 = performance.now();
      const drop = ["iptables", "-w", "-I", "INPUT", "-d", rs2, "-j", "DROP"];
      const added = await topo.exec("rs", drop);
      assert.equal(added.code, 0, added.stderr);
      const down = await waitLog(
        lb!,
        new RegExp(`rs ${rs2}:80 DOWN \\(.*(no answer|timed? ?out|timeout)`, "i"),
        from,
      );
      const detect = down.at - t0;
      figures.push(`blackholed link (connect timeout 0.5 s): detected in ${detect.toFixed(0)} ms`);
      assert.ok(detect < DETECT_LIMIT_MS, `detection took ${detect} ms`);
      await new Promise((r) => setTimeout(r, 100));
      const after = await newConnections(topo, vip, 12);
      assert.equal(after.length, 12, "no new connection went into the black hole");
      assert.equal(count(after, rs2), 0);

      const from2 = lb!.log().length;
      const removed = await topo.exec("rs", [
        "iptables",
        "-w",
        "-D",
        "INPUT",
        "-d",
        rs2,
        "-j",
        "DROP",
      ]);
      assert.equal(removed.code, 0, removed.stderr);
      const t1 = performance.now();
      const up = await waitLog(lb!, new RegExp(`rs ${rs2}:80 UP`), from2);
      figures.push(`link restored: back after ${(up.at - t1).toFixed(0)} ms`);
      assert.ok(up.at - t1 < RECOVER_LIMIT_MS);
    });

    await t.step(
      "every RS down: the sorry server answers; inhibited RS listed at weight 0",
      async () => {
        const from = lb!.log().length;
        const t0 = performance.now();
        for (const a of [rs1, rs2, rs3]) await setHealthy(nginx.get(a)!, false);
        const lost = await waitLog(
          lb!,
          /quorum lost: live weight 0 < quorum 1 - hysteresis 0; sorry server/,
          from,
        );
        figures.push(
          `all RS failing: sorry server in rotation after ${(lost.at - t0).toFixed(0)} ms`,
        );
        assert.ok(lost.at - t0 < DETECT_LIMIT_MS + 1000);
        await new Promise((r) => setTimeout(r, 100));
        const answers = await newConnections(topo, vip, 6);
        assert.deepEqual(answers, Array(6).fill(sorry), "the sorry server answers alone");

        const listing = await lb!.ipvsadmOk("-L", "-n");
        assert.match(
          listing,
          new RegExp(`-> ${rs3.replaceAll(".", "\\.")}:80 +FullNat +0 `),
          listing,
        );
        assert.match(
          listing,
          new RegExp(`-> ${sorry.replaceAll(".", "\\.")}:80 +FullNat +1 `),
          listing,
        );
        assert.ok(!listing.includes(`${rs1}:80`) && !listing.includes(`${rs2}:80`), listing);
        // The configuration is what the operator set: no weight rewritten, no sorry as an RS.
        assert.equal((await lb!.cli("config", "export")).stdout, exported);

        const health = JSON.parse((await lb!.cli("rs", "health", "--json")).stdout);
        const svc = health.services[0];
        assert.equal(svc.quorumUp, false);
        assert.deepEqual(svc.realServers.map((r: { state: string }) => r.state), [
          "down",
          "down",
          "down",
        ]);
        assert.equal(svc.sorryServer.active, true);
        const status = JSON.parse((await lb!.cli("status", "--json")).stdout);
        assert.ok(
          status.health.checksRun > 0 && status.health.checksFailed > 0,
          JSON.stringify(status.health),
        );
        assert.ok(status.health.quorumLost >= 1);
        const table = await lb!.cli("rs", "health");
        assert.match(table.stdout, /QUORUM LOST/);

        const from2 = lb!.log().length;
        for (const a of [rs1, rs2, rs3]) await setHealthy(nginx.get(a)!, true);
        const t1 = performance.now();
        const regained = await waitLog(
          lb!,
          /quorum regained: .*sorry server .* out of rotation/,
          from2,
        );
        figures.push(
          `RS healthy again: sorry server out after ${(regained.at - t1).toFixed(0)} ms`,
        );
        // Every server back (rise 2 each), then only real servers answer.
        for (const a of [rs1, rs2, rs3]) await waitLog(lb!, new RegExp(`rs ${a}:80 UP`), from2);
        await new Promise((r) => setTimeout(r, 100));
        const back = await newConnections(topo, vip, 9);
        assert.equal(count(back, sorry), 0, `sorry server left: ${back}`);
        assert.deepEqual([count(back, rs1), count(back, rs2), count(back, rs3)], [3, 3, 3]);
      },
    );

    console.log(`\nhealth check figures (delayLoop 1 s, connectTimeout 0.5 s, fall 2, rise 2):`);
    for (const f of figures) console.log(`  ${f}`);
  } finally {
    code = await lb?.stop();
    for (const n of nginx.values()) await n.stop();
    await topo.destroy();
  }
  assert.equal(code, 0, "the daemon stopped cleanly");
});
