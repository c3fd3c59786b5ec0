/**
 * End to end, real traffic: sessions outlive the daemon (README "Sessions outlive the
 * daemon"). A daemon killed with SIGKILL in the middle of a 200 MB download and a 200 MB
 * upload through FULLNAT is started again on the same run directory: both transfers complete
 * byte-identical. A table the new daemon cannot trust is moved aside and it serves new
 * connections; a deliberate stop (SIGTERM) leaves no rules and no table behind.
 */
import assert from "node:assert/strict";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { fetchHashStream, sendHashStream, startHashServer } from "../../../testkit/hash_stream.ts";
import { curl, startNginx } from "../../../testkit/servers.ts";

const MB = 1 << 20;

/** Our chains in the balancer's raw table (both families' rules live there). */
async function ourRules(topo: Topology): Promise<string[]> {
  const r = await topo.exec("lb", ["iptables", "-w", "-t", "raw", "-S"]);
  return r.stdout.split("\n").filter((l) => l.includes("FULLNAT"));
}

function runDirFiles(runDir: string): string[] {
  try {
    return [...Deno.readDirSync(runDir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

async function fullnatService(lb: Balancer, vip: string, port: number, rs: string, lip: string) {
  await lb.ipvsadmOk("-A", "-t", `${vip}:${port}`, "-s", "rr");
  await lb.ipvsadmOk("-a", "-t", `${vip}:${port}`, "-r", `${rs}:${port}`, "-b");
  await lb.ipvsadmOk("-P", "-t", `${vip}:${port}`, "-z", lip);
}

Deno.test("e2e: kill -9 mid-transfer and start again: 200 MB down and up complete byte-identical; SIGTERM leaves nothing", async () => {
  const topo = await createTopology();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-survive-" });
  const runDir = `${dir}/run`;
  const args = ["--run-dir", runDir, "--state-dir", `${dir}/state`];
  let lb: Balancer | undefined;
  try {
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    const lip = topo.addrs.localAddrs[0];
    await startHashServer(topo, "source", rs, 9000);
    await startHashServer(topo, "sink", rs, 9001);
    lb = await startBalancer(topo, args);
    await fullnatService(lb, vip, 9000, rs, lip);
    await fullnatService(lb, vip, 9001, rs, lip);
    assert.deepEqual(runDirFiles(runDir), [
      "sysctls.json",
      "worker-0.counters",
      "worker-0.sessions",
    ]);

    const started = performance.now();
    let finishedAt = 0;
    const down = fetchHashStream(topo, vip, 9000, 200 * MB, 7, 180).finally(() =>
      finishedAt = Math.max(finishedAt, performance.now())
    );
    const up = sendHashStream(topo, vip, 9001, 200 * MB, 9, 180).finally(() =>
      finishedAt = Math.max(finishedAt, performance.now())
    );
    // Both connections open and carrying data.
    for (let i = 0; i < 100; i++) {
      const s = await lb.status();
      if (s.engine.forwarded > 2000 && s.sessions >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const killedAt = performance.now();
    await lb.kill();
    lb = undefined;
    assert.ok((await ourRules(topo)).length > 0, "a crash leaves the diversion in place");
    lb = await startBalancer(topo, args);
    const backAt = performance.now();
    const [d, u] = await Promise.all([down, up]);
    assert.ok(d.got !== undefined && d.got === d.expected, `download: ${d.output}`);
    assert.ok(u.got !== undefined && u.got === u.sent, `upload: ${u.output}`);
    assert.ok(finishedAt > backAt, "the transfers were still running when the daemon came back");
    const took = /worker 0: took over (\d+) session\(s\) in (\d+) ms/.exec(lb.log());
    assert.ok(took && Number(took[1]) >= 2, `log: ${lb.log()}`);
    console.log(
      `killed ${Math.round(killedAt - started)} ms into the transfers; daemon answering again ` +
        `${Math.round(backAt - killedAt)} ms after the kill (takeover ${took[2]} ms); both ` +
        `200 MB transfers done ${Math.round(finishedAt - started)} ms after they began`,
    );

    // A deliberate stop: rules removed and the tables with them.
    assert.equal(await lb.stop(), 0);
    lb = undefined;
    assert.deepEqual(await ourRules(topo), []);
    assert.deepEqual(runDirFiles(runDir), []);
  } finally {
    if (lb) await lb.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("e2e: a session table the daemon cannot trust is moved aside, logged, and new connections flow", async () => {
  const topo = await createTopology();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-refuse-" });
  const runDir = `${dir}/run`;
  const args = ["--run-dir", runDir, "--state-dir", `${dir}/state`];
  let lb: Balancer | undefined;
  const nginx = await startNginx({ netns: topo.rs, addrs: topo.addrs.realServers });
  try {
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    lb = await startBalancer(topo, args);
    await lb.ipvsadmOk("-A", "-t", `${vip}:80`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-t", `${vip}:80`, "-r", `${rs}:80`, "-b");
    await lb.ipvsadmOk("-P", "-t", `${vip}:80`, "-z", topo.addrs.localAddrs[0]);
    assert.equal((await curl(topo.client, `http://${vip}/`)).status, 200);
    await lb.kill();
    lb = undefined;
    // Garbage over the header: not a table any more.
    const f = await Deno.open(`${runDir}/worker-0.sessions`, { write: true });
    await f.write(new TextEncoder().encode("this is not a session table"));
    f.close();
    lb = await startBalancer(topo, args);
    assert.match(
      lb.log(),
      /worker 0: session table not taken over: it is not a fullnat session table; moved to \S+worker-0\.sessions\.refused-/,
    );
    const files = runDirFiles(runDir);
    // The kernel settings to put back at the final stop (kernel/sysctl_carry.ts) are there too.
    assert.equal(files.length, 4, files.join(" "));
    assert.ok(files.includes("worker-0.counters"));
    assert.ok(files.some((n) => n.startsWith("worker-0.sessions.refused-")));
    for (let i = 0; i < 3; i++) {
      const r = await curl(topo.client, `http://${vip}/`);
      assert.equal(r.status, 200, r.stderr);
    }
  } finally {
    if (lb) await lb.stop();
    await nginx.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("e2e: --workers other than the run directory's is refused, naming what to do; nothing changes", async () => {
  const topo = await createTopology();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-workers-" });
  const runDir = `${dir}/run`;
  const args = ["--run-dir", runDir, "--state-dir", `${dir}/state`];
  let lb: Balancer | undefined;
  try {
    lb = await startBalancer(topo, args);
    await lb.kill();
    lb = undefined;
    await assert.rejects(
      () => startBalancer(topo, [...args, "--workers", "2"]),
      /holds the live sessions of 1 worker\(s\), and this daemon was started with --workers 2.*Start with --workers 1/s,
    );
    assert.deepEqual(runDirFiles(runDir), [
      "sysctls.json",
      "worker-0.counters",
      "worker-0.sessions",
    ]);
    lb = await startBalancer(topo, args);
  } finally {
    if (lb) await lb.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
