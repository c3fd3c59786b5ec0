/**
 * The real daemon (in a network namespace of its own) at the scale a new user reaches at
 * once: a document of 10,000 services applied, listed with `ipvsadm -L -n` and exported, each
 * checked for correctness with its seconds printed (never asserted); then 1,200 control
 * connections opened and closed, with the daemon's resident memory printed and held to a
 * generous bound.
 */
import assert from "node:assert/strict";
import { rssMiB, serviceDocument } from "../../../testkit/scale.ts";
import { ControlClient } from "../../../src/ctl/client.ts";
import { runIpvsadm } from "../../../src/ctl/ipvsadm/run.ts";
import { parseConfig } from "../../../src/persist/document.ts";

const SERVICES = 10_000;
const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

async function sh(...args: string[]): Promise<void> {
  const out = await new Deno.Command(args[0], { args: args.slice(1) }).output();
  if (out.code !== 0) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

async function seconds<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  console.log(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return r;
}

Deno.test("daemon: 10,000 services apply, list and export in one piece; rounds of 1,200 connections leave memory alone", async () => {
  const ns = `fnscale${Deno.pid}`;
  const dir = await Deno.makeTempDir({ prefix: "fullnat-scale-" });
  const socket = `${dir}/control.sock`;
  await sh("ip", "netns", "add", ns);
  let child: Deno.ChildProcess | undefined;
  let client: ControlClient | undefined;
  try {
    await sh("ip", "-n", ns, "link", "set", "lo", "up");
    child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        Deno.execPath(),
        "run",
        "-A",
        MAIN,
        "daemon",
        "--socket",
        socket,
        "--state-dir",
        `${dir}/state`,
        "--run-dir",
        `${dir}/run`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 300 && client === undefined; i++) {
      client = await ControlClient.connect(socket).catch(() => undefined);
      if (client === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(client, "the daemon answers");

    const doc = serviceDocument(SERVICES);
    const applied = await seconds(
      `config apply, ${SERVICES} services`,
      () => client!.call("configApply", doc, {}),
    ) as { changes: string[] };
    assert.equal(applied.changes.length, SERVICES * 3);

    const listed = await seconds("ipvsadm -L -n", () => runIpvsadm(["-L", "-n"], client!));
    assert.equal(listed.exitCode, 0, listed.stderr);
    const lines = listed.stdout.split("\n");
    assert.equal(lines.filter((l) => l.startsWith("TCP  ")).length, SERVICES);
    assert.equal(lines.filter((l) => l.startsWith("  -> 172.")).length, SERVICES);

    const exported = await seconds("config export", () => client!.call("configExport"));
    assert.equal(typeof exported, "string");
    assert.equal(parseConfig(exported as string).services.length, SERVICES);

    const pid = Number(
      new TextDecoder().decode(
        (await new Deno.Command("pgrep", { args: ["-f", `daemon --socket ${socket}`] }).output())
          .stdout,
      ).trim().split("\n").at(-1),
    );
    const connections = async () => {
      for (let i = 0; i < 1200; i++) {
        const c = await ControlClient.connect(socket);
        await c.getTimeouts();
        await c.close();
      }
      await new Promise((r) => setTimeout(r, 1500));
    };
    // The daemon's RSS saws up and down with V8's collections, and with the 10,000 services'
    // 500 MiB heap a collection may not come for several rounds: measured 492-552 MiB with no
    // trend over five rounds on one machine, 506, 525, 548, 564 MiB on a fresh one. So the
    // lowest of two rounds is held against the lowest of the next two, to a bound a leak of
    // 45 KB per connection (2,400 connections apart) would break.
    const rounds: number[] = [];
    for (let k = 0; k < 4; k++) {
      await connections();
      rounds.push(rssMiB(pid));
    }
    const before = Math.min(rounds[0], rounds[1]);
    const after = Math.min(rounds[2], rounds[3]);
    console.log(
      `  daemon RSS after each of 4 rounds of 1,200 connections: ` +
        `${rounds.map((r) => r.toFixed(1)).join(", ")} MiB`,
    );
    assert.ok(after - before < 100, `grew ${(after - before).toFixed(1)} MiB`);
  } finally {
    await client?.close();
    if (child !== undefined) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
    }
    await sh("ip", "netns", "del", ns).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
