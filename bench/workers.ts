/**
 * UDP packet rate through `fullnat daemon` with 1 and with 2 packet workers, side by side in
 * one run (issue 6 target: 2 workers >= 1.7x one worker).
 *
 *   deno run -A bench/workers.ts [--seconds N] [--size BYTES] [--runs N] [--workers 1,2]
 *                                [--pps N]
 *
 * Builds the test topology (testkit/netns.ts), starts the real daemon in `lb` for each
 * worker count, configures two FULLNAT services (TCP for iperf3's control connection, UDP for
 * the flood) on ports 5201 and 5202, and floods both at once with `iperf3 -u -b 0` from two
 * client addresses, 198.51.100.2 and .3, which the steering sends to different workers when
 * there are two. `--pps N` offers N packets/s per client instead of as many as iperf3 can send
 * (the senders share the box's cores with the workers). Prints, per worker count, the median
 * over the runs of the packets the daemon forwarded per second (its own counter, over the
 * flood's wall time), per worker, and the kernel's queue drops, then the ratio. Needs root and
 * iperf3; everything it creates is deleted.
 *
 * @module
 */
import { createTopology, type Topology } from "../testkit/netns.ts";
import { waitFor } from "../testkit/wait.ts";
import { type Balancer, startBalancer } from "../testkit/balancer.ts";

const PORTS = [5201, 5202];
const CLIENTS = ["198.51.100.2", "198.51.100.3"];

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const seconds = Number(flag("--seconds", "5"));
const size = Number(flag("--size", "64"));
const runs = Number(flag("--runs", "3"));
const workerCounts = flag("--workers", "1,2").split(",").map(Number);
const pps = Number(flag("--pps", "0"));
const rate = pps > 0 ? String(pps * size * 8) : "0";

interface Sample {
  forwarded: number;
  kernelDropped: number;
  perWorker: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function configure(lb: Balancer, topo: Topology): Promise<void> {
  const vip = topo.addrs.vips[0];
  const rs = topo.addrs.realServers[0];
  for (const port of PORTS) {
    for (const p of ["-t", "-u"]) {
      await lb.ipvsadmOk("-A", p, `${vip}:${port}`, "-s", "rr");
      await lb.ipvsadmOk("-a", p, `${vip}:${port}`, "-r", `${rs}:${port}`, "-b", "-w", "1");
      await lb.ipvsadmOk("-P", p, `${vip}:${port}`, "-z", topo.addrs.localAddrs[0]);
    }
  }
}

interface StatusJson {
  engine: Record<string, number>;
  kernel: { queueDropped: number; userDropped: number } | null;
  workers: { engine: Record<string, number> }[];
}

async function flood(topo: Topology, lb: Balancer): Promise<Sample> {
  const before = await lb.status() as unknown as StatusJson;
  const t0 = performance.now();
  await Promise.all(CLIENTS.map((from, i) =>
    topo.exec("client", [
      "iperf3",
      "-c",
      topo.addrs.vips[0],
      "-p",
      String(PORTS[i]),
      "-B",
      from,
      "-u",
      "-b",
      rate,
      "-l",
      String(size),
      "-t",
      String(seconds),
    ], { check: true })
  ));
  const elapsed = (performance.now() - t0) / 1000;
  const after = await lb.status() as unknown as StatusJson;
  const kd = (s: StatusJson) => (s.kernel?.queueDropped ?? 0) + (s.kernel?.userDropped ?? 0);
  return {
    forwarded: (after.engine.forwarded - before.engine.forwarded) / elapsed,
    kernelDropped: kd(after) - kd(before),
    perWorker: after.workers.map((w, i) =>
      (w.engine.forwarded - (before.workers[i]?.engine.forwarded ?? 0)) / elapsed
    ),
  };
}

const topo = await createTopology({ prefix: "fnbw" });
const table: { workers: number; forwarded: number; samples: Sample[] }[] = [];
try {
  await topo.exec("client", ["ip", "addr", "add", `${CLIENTS[1]}/24`, "dev", "eth0"], {
    check: true,
  });
  for (const port of PORTS) {
    topo.spawn("rs", ["iperf3", "-s", "-B", topo.addrs.realServers[0], "-p", String(port)]);
  }
  await waitFor(async () => {
    const r = await topo.exec("rs", ["ss", "-ltnH"]);
    return PORTS.every((p) => r.stdout.includes(`:${p}`));
  }, { timeoutMs: 5000 });
  console.log(
    `UDP flood: 2 x iperf3 -u -b ${rate} -l ${size} -t ${seconds} from ${CLIENTS.join(" and ")}, ` +
      `FULLNAT, ${runs} runs per worker count (median)`,
  );
  for (const n of workerCounts) {
    const lb = await startBalancer(topo, ["--workers", String(n), "--no-persist"]);
    try {
      await configure(lb, topo);
      const samples: Sample[] = [];
      for (let r = 0; r < runs; r++) {
        const s = await flood(topo, lb);
        samples.push(s);
        console.log(
          `  workers ${n} run ${r + 1}: forwarded ${Math.round(s.forwarded)} pkt/s (per worker ${
            s.perWorker.map(Math.round).join(" / ")
          }), kernel queue drops ${s.kernelDropped}`,
        );
      }
      table.push({
        workers: n,
        forwarded: median(samples.map((s) => s.forwarded)),
        samples,
      });
    } finally {
      const code = await lb.stop();
      if (code !== 0) console.error(`daemon exited with ${code}:\n${lb.log()}`);
    }
  }
} finally {
  await topo.destroy();
}

const base = table[0];
console.log("\n| workers | forwarded pkt/s (median) | per worker | ratio |");
console.log("| ------: | -----------------------: | ---------- | ----: |");
for (const row of table) {
  const mid = row.samples.find((s) => s.forwarded === row.forwarded) ?? row.samples[0];
  console.log(
    `| ${row.workers} | ${Math.round(row.forwarded)} | ${
      mid.perWorker.map(Math.round).join(" / ")
    } | ${(row.forwarded / base.forwarded).toFixed(2)} |`,
  );
}
console.log(`\ncores: ${navigator.hardwareConcurrency}`);
