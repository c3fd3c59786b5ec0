/**
 * The side-by-side benchmark: fullnat against direct routing, the kernel's conntrack NAT,
 * HAProxy and the bare NFQUEUE pass-through, on bulk TCP, new connections/s with p99 latency,
 * a UDP packet rate, and CPU. Needs root, iperf3, wrk, haproxy and nginx (scripts/setup.sh).
 *
 *   deno run -A bench/peers/run.ts                 # 3 interleaved runs, writes docs/ + README
 *   deno run -A bench/peers/run.ts --quick         # 1 short run, prints only
 *   deno run -A bench/peers/run.ts --runs 5 --seconds 8 --peers fullnat,nat,passthrough
 *   deno run -A bench/peers/run.ts --daemon-args "--workers 2"
 *
 * @module
 */

import { Command, CommanderError, InvalidArgumentError } from "commander";
import { dirname } from "node:path";
import { runBenchmark } from "./bench.ts";
import { renderChart } from "./chart.ts";
import {
  benchmarkMarkdown,
  README_BEGIN,
  readmeBlock,
  replaceReadmeBlock,
  type ReportInput,
} from "./docs.ts";
import { allPeers, daemonHasWorkers } from "./peers.ts";
import { cpuTable, errorsList, figuresTable, ratiosTable, type Row } from "./report.ts";
import { evaluateTargets, formatTargets } from "./targets.ts";
import { type Workload, WORKLOADS } from "./results.ts";

const REPO = new URL("../../", import.meta.url).pathname;

function positiveInt(what: string, min: number, max: number) {
  return (text: string): number => {
    if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}.`);
    }
    return Number(text);
  };
}

/**
 * The names a comma-separated flag picks out of `known` (all of them when the flag is absent);
 * exits with a message naming the unknown ones.
 */
function subset(
  flag: string,
  what: string,
  text: string | undefined,
  known: readonly string[],
): string[] {
  if (text === undefined) return [...known];
  const want = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const unknown = want.filter((w) => !known.includes(w));
  if (unknown.length > 0 || want.length === 0) {
    console.error(
      `${flag}: unknown ${what} ${unknown.join(", ") || "(none given)"}; known: ${
        known.join(", ")
      }`,
    );
    Deno.exit(2);
  }
  return known.filter((k) => want.includes(k));
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== "");
}

async function firstLine(cmd: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return (dec.decode(out.stdout) + dec.decode(out.stderr)).trim().split("\n")[0];
  } catch {
    return `${cmd[0]}: not found`;
  }
}

async function environment(): Promise<string[]> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown CPU";
  const head = await firstLine(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]);
  const dirty =
    (await firstLine(["git", "-C", REPO, "status", "--porcelain", "--", "src", "main.ts"]))
      .length > 0;
  return [
    `machine: ${navigator.hardwareConcurrency} CPUs (${model}), Linux ${Deno.osRelease()}`,
    `code: commit ${head}${dirty ? " plus uncommitted changes in src/ or main.ts" : ""}`,
    `tools: deno ${Deno.version.deno}; ${await firstLine(["iperf3", "--version"])}; ${
      (await firstLine(["wrk", "-v"])).replace(/ \[.*$/, "")
    }; ${(await firstLine(["haproxy", "-v"])).replace(/ - https.*$/, "")}; ${await firstLine([
      "/usr/sbin/nginx",
      "-v",
    ])}`,
  ];
}

/** Lines of markdown as `deno fmt` lays them out with the project's line width. */
async function denoFmtMarkdown(lines: readonly string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-bench-fmt-" });
  try {
    const file = `${dir}/block.md`;
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", "--line-width", "100", file],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
    return ["", ...(await Deno.readTextFile(file)).trimEnd().split("\n"), ""];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function main(): Promise<void> {
  const program = new Command("bench/peers/run.ts")
    .description(
      "fullnat side by side with direct routing, conntrack NAT, HAProxy and the pass-through",
    )
    .option("--quick", "one short run (2 s per workload); prints, writes nothing unless --write")
    .option("--runs <n>", "interleaved runs per peer (default 3)", positiveInt("--runs", 1, 50))
    .option("--seconds <s>", "seconds per workload (default 5)", positiveInt("--seconds", 1, 120))
    .option(
      "--connections <n>",
      "concurrent wrk connections (default 32)",
      positiveInt("--connections", 2, 4096),
    )
    .option("--peers <ids>", "comma-separated subset of peers to run")
    .option(
      "--workloads <names>",
      `comma-separated subset of workloads to run (${WORKLOADS.join(", ")})`,
    )
    .option("--daemon-args <flags>", "extra flags for every `fullnat daemon` peer", "")
    .option(
      "--baseline <dir>",
      "another checkout of fullnat (a git worktree of the commit before a change): its NAT and " +
        "FULLNAT run beside this checkout's as nat-before and fullnat-before, with ratios",
    )
    .option("--passthrough-args <flags>", "extra flags for the pass-through (--gso|--no-gso)", "")
    .option("--write", "write docs/ and README even with --quick")
    .option("--no-write", "print only")
    .option("--out <dir>", "where benchmark.md and benchmark.svg go (default docs/)")
    .option("--json <file>", "also write every raw sample as JSON")
    .showHelpAfterError();
  // Mistakes in the command line exit 2, as the rest of the project's commands do.
  program.exitOverride();
  try {
    program.parse(["deno", "run.ts", ...Deno.args]);
  } catch (e) {
    if (e instanceof CommanderError) Deno.exit(e.exitCode === 0 ? 0 : 2);
    throw e;
  }
  const o = program.opts<{
    quick?: boolean;
    runs?: number;
    seconds?: number;
    connections?: number;
    peers?: string;
    workloads?: string;
    daemonArgs: string;
    baseline?: string;
    passthroughArgs: string;
    write?: boolean;
    out?: string;
    json?: string;
  }>();
  const write = o.write ?? !o.quick;
  const runs = o.runs ?? (o.quick ? 1 : 3);
  const seconds = o.seconds ?? (o.quick ? 2 : 5);
  const connections = o.connections ?? 32;

  if (Deno.uid() !== 0) {
    console.error("bench/peers/run.ts needs root (it builds network namespaces): run it as root.");
    Deno.exit(2);
  }
  const workers = await daemonHasWorkers();
  if (o.baseline !== undefined) {
    try {
      await Deno.stat(`${o.baseline}/main.ts`);
    } catch {
      console.error(`--baseline ${o.baseline}: no main.ts there; give a checkout of fullnat`);
      Deno.exit(2);
    }
  }
  let peers = allPeers({ workers, baseline: o.baseline });
  const peerIds = subset("--peers", "peer", o.peers, peers.map((p) => p.id));
  peers = peers.filter((p) => peerIds.includes(p.id));
  const workloads = subset("--workloads", "workload", o.workloads, WORKLOADS) as Workload[];
  const daemonArgs = words(o.daemonArgs);
  const params = {
    seconds,
    connections,
    threads: 2,
    udpPayload: 64,
    bursts: o.quick ? 2 : 8,
    burstPerSender: o.quick ? 10_000 : 30_000,
  };
  const setup = `${runs} run${runs > 1 ? "s" : ""} per peer, interleaved; ${seconds} s per ` +
    `workload; wrk ${connections} connections, 2 threads; UDP payload 64 bytes; ` +
    `${params.bursts} bursts of 2 x ${params.burstPerSender} datagrams` +
    (daemonArgs.length > 0 ? `; daemon flags ${daemonArgs.join(" ")}` : "");
  const command = ["deno run -A bench/peers/run.ts", ...Deno.args].join(" ");
  console.log(`${command}\n${setup}\npeers: ${peers.map((p) => p.id).join(", ")}`);
  if (!workers) console.log("(the daemon has no --workers flag: no 2-worker row)");

  const result = await runBenchmark({
    peers,
    runs,
    params,
    workloads,
    daemonArgs,
    passthroughArgs: words(o.passthroughArgs),
    log: (l) => console.log(l),
  });

  const rows: Row[] = peers.map((p) => ({
    id: p.id,
    label: p.label,
    summary: result.summaries.get(p.id)!,
  }));
  const targets = evaluateTargets(result.summaries);
  const input: ReportInput = {
    rows,
    baselines: [
      { name: "pass", summary: result.summaries.get("passthrough") },
      { name: "returned", summary: result.summaries.get("passthrough-payload") },
      { name: "NAT", summary: result.summaries.get("nat") },
      { name: "kernel NAT", summary: result.summaries.get("conntrack") },
      ...(o.baseline === undefined ? [] : [
        { name: "NAT before", summary: result.summaries.get("nat-before") },
        { name: "FULLNAT before", summary: result.summaries.get("fullnat-before") },
      ]),
    ],
    targets,
    setup,
    environment: await environment(),
    command,
  };
  console.log(
    [
      "",
      ...figuresTable(rows),
      "",
      ...ratiosTable(rows, input.baselines),
      "",
      ...cpuTable(rows),
      "",
      ...formatTargets(targets),
      ...errorsList(rows),
    ].join("\n"),
  );

  if (o.json !== undefined) {
    await Deno.mkdir(dirname(o.json), { recursive: true });
    await Deno.writeTextFile(o.json, JSON.stringify(Object.fromEntries(result.samples), null, 2));
  }
  if (!write) return;
  const out = o.out ?? `${REPO}docs`;
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/benchmark.md`, benchmarkMarkdown(input));
  await Deno.writeTextFile(
    `${out}/benchmark.svg`,
    renderChart(rows, `${setup}; ${input.environment[0].replace(/^machine: /, "")}`),
  );
  console.log(`wrote ${out}/benchmark.md and ${out}/benchmark.svg`);
  if (o.out === undefined) {
    const readmePath = `${REPO}README.md`;
    const readme = await Deno.readTextFile(readmePath);
    if (readme.includes(README_BEGIN)) {
      const block = await denoFmtMarkdown(readmeBlock(input));
      await Deno.writeTextFile(readmePath, replaceReadmeBlock(readme, block));
      console.log("updated README.md's Benchmark section");
    }
  }
}

if (import.meta.main) await main();
