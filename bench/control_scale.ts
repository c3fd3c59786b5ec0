/**
 * Scale probe of a running daemon's control path: applies a document of N services, lists them
 * with `ipvsadm -L -n`, exports the configuration, then opens and closes many control
 * connections, printing seconds and the daemon's resident memory (from /proc) at each step.
 * Usage: `deno run -A bench/control_scale.ts SOCKET DAEMON_PID [SERVICES] [CONNECTIONS]`.
 */
import { ControlClient } from "../src/ctl/client.ts";
import { runIpvsadm } from "../src/ctl/ipvsadm/run.ts";
import { rssMiB, serviceDocument } from "../testkit/scale.ts";

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  console.log(`${what}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return r;
}

if (import.meta.main) {
  const [socket, pidText, nText = "10000", connText = "1200"] = Deno.args;
  const pid = Number(pidText);
  const n = Number(nText);
  const client = await ControlClient.connect(socket);
  console.log(`daemon RSS at start: ${rssMiB(pid).toFixed(1)} MiB`);
  const doc = serviceDocument(n);
  console.log(`document: ${n} services, ${(doc.length / 1048576).toFixed(2)} MiB`);
  try {
    const r = await timed(`config apply ${n}`, () => client.call("configApply", doc, {}));
    console.log(`  changes: ${(r as { changes: string[] }).changes.length}`);
  } catch (e) {
    console.log(`  config apply failed: ${e instanceof Error ? e.message : e}`);
  }
  try {
    const out = await timed("ipvsadm -L -n", () => runIpvsadm(["-L", "-n"], client));
    console.log(`  lines: ${out.stdout.split("\n").length}, exit ${out.exitCode} ${out.stderr}`);
  } catch (e) {
    console.log(`  listing failed: ${e instanceof Error ? e.message : e}`);
  }
  try {
    const text = await timed("config export", () => client.call("configExport"));
    console.log(`  bytes: ${String(text).length}`);
  } catch (e) {
    console.log(`  export failed: ${e instanceof Error ? e.message : e}`);
  }
  await client.close();
  const before = rssMiB(pid);
  const conns = Number(connText);
  await timed(`${conns} connections`, async () => {
    for (let i = 0; i < conns; i++) {
      const c = await ControlClient.connect(socket);
      await c.getTimeouts();
      await c.close();
    }
  });
  await new Promise((r) => setTimeout(r, 2000));
  const after = rssMiB(pid);
  console.log(
    `daemon RSS around ${conns} connections: ${before.toFixed(1)} -> ${after.toFixed(1)} MiB ` +
      `(+${(after - before).toFixed(1)})`,
  );
}
