/**
 * What session sync costs and how far a backup lags (README "HA pair", issue 14 point 5), on
 * the HA bed (testkit/ha_bed.ts) without keepalived: lb1 holds the VIP and the local address,
 * lb2 only listens.
 *
 *   deno run -A bench/sync_bench.ts [--seconds N] [--runs N] [--connections N] [--lag N]
 *
 * 1. New connections/s through lb1's daemon, with sync off and on side by side in one run
 *    (alternating, which goes first too, `--runs` each): wrk with `Connection: close` against nginx on the real
 *    server, `--connections` at once, `--seconds` each. Sync on: lb1 runs a master sync daemon
 *    on sync0, lb2 a backup. Prints, per mode, the median connections/s, lb1's CPU (cores, and
 *    microseconds per connection: the packet path's cost with the master's scans beside it),
 *    lb2's CPU, and with sync on the master's entries/s, messages/s and bytes/s, and the same
 *    per 1,000 new connections/s.
 * 2. The backup's lag: `--lag` connections opened one by one (20 ms apart) and held; for each,
 *    the time from its handshake completing at the client to lb2's session count reaching it
 *    (lb2's count of its own service's sessions polled every 2 ms on its control socket). Prints p50, p90, p99 and the maximum.
 *
 * Needs root, wrk and nginx; everything it creates is deleted.
 *
 * @module
 */
import { ControlClient } from "../src/ctl/client.ts";
import { type Balancer, startBalancer } from "../testkit/balancer.ts";
import {
  createHaBed,
  HA_ADDRS,
  type HaBed,
  haDocument,
  startFleetServer,
} from "../testkit/ha_bed.ts";
import { startNginx } from "../testkit/servers.ts";
import { startCpuMeter } from "./peers/cpu.ts";
import { parseWrk } from "./peers/workloads.ts";

const A = HA_ADDRS;
const PORT = 80;
/** The lag's own service, so the load's sessions (expiring, refreshed) do not blur its count. */
const LAG_PORT = 81;
const SELF = decodeURIComponent(new URL(import.meta.url).pathname);

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

/** The lag client, run in the client namespace: opens N connections 20 ms apart, holds them. */
async function lagClient(n: number): Promise<void> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < n; i++) {
    conns.push(await Deno.connect({ hostname: A.vip, port: LAG_PORT }));
    console.log("made");
    await new Promise((r) => setTimeout(r, 20));
  }
  // Held until the bench has seen them all on the backup and closes stdin.
  await Deno.stdin.readable.getReader().read();
  for (const c of conns) c.close();
}

interface Sample {
  cps: number;
  lb1Cores: number;
  lb2Cores: number;
  entries: number;
  messages: number;
  bytes: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};

async function masterCounters(lb: Balancer): Promise<{ e: number; m: number; b: number }> {
  const st = JSON.parse((await lb.cli("status", "--json")).stdout);
  const m = (st.sync ?? []).find((s: { master?: unknown }) => s.master)?.master;
  return { e: m?.entries ?? 0, m: m?.messages ?? 0, b: m?.bytes ?? 0 };
}

async function setSync(lb1: Balancer, lb2: Balancer, on: boolean): Promise<void> {
  const running = async (lb: Balancer) => (await lb.ipvsadmOk("-L", "--daemon")).trim() !== "";
  if (on) {
    if (await running(lb1)) return;
    await lb1.ipvsadmOk("--start-daemon", "master", "--mcast-interface", "sync0", "--syncid", "7");
    await lb2.ipvsadmOk("--start-daemon", "backup", "--mcast-interface", "sync0", "--syncid", "7");
  } else {
    if (await running(lb1)) await lb1.ipvsadmOk("--stop-daemon", "master");
    if (await running(lb2)) await lb2.ipvsadmOk("--stop-daemon", "backup");
  }
}

async function load(
  bed: HaBed,
  lb1: Balancer,
  seconds: number,
  connections: number,
): Promise<Sample> {
  const before = await masterCounters(lb1);
  const cpu1 = await startCpuMeter(bed.names.lb1);
  const cpu2 = await startCpuMeter(bed.names.lb2);
  const r = await bed.exec("client", [
    "wrk",
    "-t",
    "1",
    "-c",
    String(connections),
    "-d",
    `${seconds}s`,
    "--timeout",
    "2s",
    "--latency",
    "-H",
    "Connection: close",
    `http://${A.vip}:${PORT}/`,
  ]);
  const [u1, u2] = [await cpu1.stop(), await cpu2.stop()];
  // The master's last scan of this load lands within a tick.
  await new Promise((r) => setTimeout(r, 500));
  const after = await masterCounters(lb1);
  const f = parseWrk(r.stdout);
  return {
    cps: f.requestsPerSec,
    lb1Cores: u1.proc,
    lb2Cores: u2.proc,
    entries: (after.e - before.e) / seconds,
    messages: (after.m - before.m) / seconds,
    bytes: (after.b - before.b) / seconds,
  };
}

async function lag(bed: HaBed, lb2: Balancer, n: number): Promise<number[]> {
  const ctl = await ControlClient.connect(lb2.socket);
  // Sessions the lag's service on lb2 has had: a synced one counts once, when installed.
  const installed = async () =>
    (await ctl.listServices()).find((v) => v.port === LAG_PORT)!.stats.conns;
  const base = await installed();
  const seenAt: number[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const s = await installed() - base;
      const now = performance.now();
      while (seenAt.length < Math.min(s, n)) seenAt.push(now);
      if (seenAt.length >= n) break;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const child = bed.spawn("client", [Deno.execPath(), "run", "-A", SELF, "lag-client", `${n}`], {
    stdin: "piped",
    stdout: "piped",
  });
  const text = child.stdout.pipeThrough(new TextDecoderStream());
  const madeAt: number[] = [];
  let rest = "";
  for await (const chunk of text) {
    rest += chunk;
    const lines = rest.split("\n");
    rest = lines.pop()!;
    // Stamped as the line arrives, on this process's clock (the pipe takes microseconds).
    const now = performance.now();
    for (const _ of lines) madeAt.push(now);
    if (madeAt.length >= n) break;
  }
  const deadline = Date.now() + 10_000;
  while (seenAt.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  polling = false;
  await poller;
  await ctl.close();
  await child.stdin.close();
  await child.status;
  if (seenAt.length < n) throw new Error(`lb2 saw ${seenAt.length} of ${n} sessions`);
  return madeAt.map((t, i) => seenAt[i] - t);
}

async function main(): Promise<void> {
  const seconds = Number(flag("--seconds", "5"));
  const runs = Number(flag("--runs", "2"));
  const connections = Number(flag("--connections", "16"));
  const lagN = Number(flag("--lag", "300"));
  const bed = await createHaBed("fnsb");
  const dir = await Deno.makeTempDir({ prefix: "fullnat-syncbench-" });
  const lbs: Balancer[] = [];
  try {
    const doc = JSON.parse(
      haDocument([{ protocol: "tcp", port: PORT }, { protocol: "tcp", port: LAG_PORT }]),
    );
    delete doc.sync;
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(doc));
    for (const box of ["lb1", "lb2"] as const) {
      const lb = await startBalancer({ lb: bed.names[box] });
      lbs.push(lb);
      const r = await lb.cli("config", "apply", `${dir}/config.json`);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const [lb1, lb2] = lbs;
    // lb1 holds the floating addresses as keepalived would give them.
    await bed.exec("lb1", ["ip", "addr", "add", `${A.vip}/32`, "dev", "eth0"], { check: true });
    await bed.exec("lb1", ["ip", "addr", "add", `${A.laddr}/32`, "dev", "eth1"], { check: true });
    const nginx = await startNginx({ netns: bed.names.rs, addrs: [A.rs], port: PORT });
    await startFleetServer(bed, LAG_PORT);
    try {
      const by: Record<"off" | "on", Sample[]> = { off: [], on: [] };
      await load(bed, lb1, 2, connections); // warm-up
      for (let i = 0; i < runs; i++) {
        // Alternating which goes first, so a drift of the shared machine favours neither.
        for (const mode of i % 2 === 0 ? ["off", "on"] as const : ["on", "off"] as const) {
          await setSync(lb1, lb2, mode === "on");
          const s = await load(bed, lb1, seconds, connections);
          by[mode].push(s);
          console.log(
            `run ${i + 1} sync ${mode}: ${Math.round(s.cps)} conns/s, lb1 ${
              s.lb1Cores.toFixed(2)
            } cores, lb2 ${s.lb2Cores.toFixed(2)} cores, ${Math.round(s.entries)} entries/s, ` +
              `${Math.round(s.messages)} messages/s, ${Math.round(s.bytes)} B/s`,
          );
        }
      }
      console.log(
        `\nmedians over ${runs} runs of ${seconds} s, ${connections} connections at once`,
      );
      for (const mode of ["off", "on"] as const) {
        const m = (k: keyof Sample) => median(by[mode].map((s) => s[k]));
        const cps = m("cps");
        const line = `sync ${mode}: ${Math.round(cps)} conns/s; lb1 ${m("lb1Cores").toFixed(2)} ` +
          `cores = ${Math.round(m("lb1Cores") / cps * 1e6)} us/conn; lb2 ${
            m("lb2Cores").toFixed(2)
          } cores`;
        const sync = mode === "off"
          ? ""
          : `; synced ${Math.round(m("entries"))} sessions/s in ${
            Math.round(m("messages"))
          } messages/s, ${Math.round(m("bytes") / 1024)} KiB/s = per 1,000 new conns/s: ${
            Math.round(m("entries") / cps * 1000)
          } entries/s, ${Math.round(m("bytes") / cps * 1000 / 1024)} KiB/s (${
            (m("bytes") / cps * 1000 * 8 / 1e6).toFixed(2)
          } Mbit/s)`;
        console.log(line + sync);
      }
      const off = median(by.off.map((s) => s.cps));
      const on = median(by.on.map((s) => s.cps));
      console.log(`sync on / off: ${(on / off).toFixed(3)} of the connection rate`);

      await setSync(lb1, lb2, true);
      const lags = await lag(bed, lb2, lagN);
      console.log(
        `\nbackup lag over ${lagN} connections (20 ms apart): p50 ${
          Math.round(pct(lags, 0.5))
        } ms, p90 ${Math.round(pct(lags, 0.9))} ms, p99 ${Math.round(pct(lags, 0.99))} ms, max ${
          Math.round(Math.max(...lags))
        } ms (master scan tick 200 ms)`,
      );
    } finally {
      await nginx.stop();
    }
  } finally {
    for (const lb of lbs) await lb.stop();
    await bed.destroy();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "lag-client") await lagClient(Number(Deno.args[1]));
  else await main();
}
