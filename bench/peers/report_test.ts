/**
 * Unit tests of the peer benchmark's pure parts: medians, targets, parsers of iperf3, wrk and
 * /proc output, the markdown tables, the README block and the SVG chart.
 */
import assert from "node:assert/strict";
import { renderChart } from "./chart.ts";
import { parseIdleTicks, parseProcStatTicks, parseSoftirqTicks } from "./cpu.ts";
import {
  benchmarkMarkdown,
  README_BEGIN,
  README_END,
  readmeBlock,
  replaceReadmeBlock,
  type ReportInput,
} from "./docs.ts";
import { cell, figuresTable, ratiosTable, type Row } from "./report.ts";
import { median, runsMeasured, type Sample, summarize } from "./results.ts";
import { evaluateTargets, formatTargets } from "./targets.ts";
import { perConnection } from "./bench.ts";
import { parseIperfTcp, parseWrk } from "./workloads.ts";

function sample(over: Partial<Sample>): Sample {
  return { cpu: {}, errors: [], unsupported: [], ...over };
}

Deno.test("median() takes the middle value, or the mean of the middle two", () => {
  assert.deepStrictEqual(median([3, 1, 2]), 2);
  assert.deepStrictEqual(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("summarize() takes medians per figure over the runs that produced it", () => {
  const s = summarize([
    sample({ gbps: 10, cps: 100, cpu: { bulk: { proc: 0.5, softirq: 0.2 } } }),
    sample({ gbps: 30, errors: ["conns: wrk exited 1"] }),
    sample({ gbps: 20, cps: 300, cpu: { bulk: { proc: 0.7, softirq: 0.4 } } }),
  ]);
  assert.deepStrictEqual(s.median.gbps, 20);
  assert.deepStrictEqual(s.median.cps, 200);
  assert.deepStrictEqual(runsMeasured(s, "cps"), 2);
  assert.deepStrictEqual(s.median.kpps, undefined);
  assert.deepStrictEqual(s.cpu.bulk, { proc: 0.6, softirq: 0.30000000000000004 });
  assert.deepStrictEqual(s.errors, ["conns: wrk exited 1 (1/3)"]);
  assert.deepStrictEqual(s.runs, 3);
});

function summaries(figs: Record<string, Partial<Sample>>) {
  return new Map(Object.entries(figs).map(([id, f]) => [id, summarize([sample(f)])]));
}

Deno.test("evaluateTargets() passes, fails and skips on the ratios of the medians", () => {
  const res = evaluateTargets(summaries({
    nat: { gbps: 10, cps: 1000, kpps: 100 },
    fullnat: { gbps: 9.6, cps: 900, kpps: 100 },
    passthrough: { gbps: 11, cps: 1000 },
    haproxy: { gbps: 5, cps: 900 },
  }));
  const by = Object.fromEntries(res.map((r) => [r.name, r]));
  assert.deepStrictEqual(by["FULLNAT >= 0.95x NAT mode on throughput"].outcome, "PASS");
  assert.deepStrictEqual(by["FULLNAT >= 0.95x NAT mode on connections/s"].outcome, "FAIL");
  assert.deepStrictEqual(by["FULLNAT >= 0.8x pass-through on throughput"].outcome, "PASS");
  assert.deepStrictEqual(by["FULLNAT >= 0.9x pass-through on connections/s"].outcome, "PASS");
  // Equal is not "above".
  assert.deepStrictEqual(by["FULLNAT connections/s above HAProxy (send-proxy-v2)"].outcome, "FAIL");
  const w2 = by["FULLNAT 2 workers >= 1.7x 1 worker on packet rate (queued UDP burst)"];
  assert.deepStrictEqual(w2.outcome, "SKIP");
  assert.match(w2.reason ?? "", /fullnat-w2 not run/);
  assert.match(formatTargets(res)[0], /^PASS {2}FULLNAT >= 0\.95x NAT mode on throughput \(0\.96x/);
});

Deno.test("evaluateTargets() holds 2 workers to 1.7x on the burst only when one worker was busy", () => {
  const w2 = (busy: number, w2Burst = 120) =>
    evaluateTargets(summaries({
      // The live UDP figure is not what the target looks at.
      fullnat: { kpps: 10, burstKpps: 100, cpu: { burst: { proc: busy, softirq: 0.5 } } },
      "fullnat-w2": { kpps: 100, burstKpps: w2Burst, cpu: { burst: { proc: 1.7, softirq: 0.5 } } },
    })).find((t) => t.name.startsWith("FULLNAT 2 workers"))!;
  const idle = w2(0.24);
  assert.deepStrictEqual(idle.outcome, "SKIP");
  assert.match(idle.reason ?? "", /1\.20x measured, but 1 worker used 24% of a core/);
  const busy = w2(0.95);
  assert.deepStrictEqual(busy.outcome, "FAIL");
  assert.deepStrictEqual(busy.ratio, 1.2);
  assert.deepStrictEqual(w2(0.95, 175).outcome, "PASS");
});

Deno.test("evaluateTargets() pairs the runs of one round and counts the ones that pass", () => {
  const runs = (cps: (number | undefined)[]) =>
    summarize(cps.map((c) => sample(c === undefined ? { errors: ["conns: x"] } : { cps: c })));
  const res = evaluateTargets(
    new Map([
      // Round 3's NAT run failed: that round has no ratio; round 4 has only FULLNAT's.
      ["nat", runs([1000, 1000, undefined, 1000])],
      ["fullnat", runs([900, 960, 980, 990])],
    ]),
  );
  const conns = res.find((t) => t.name === "FULLNAT >= 0.95x NAT mode on connections/s")!;
  assert.deepStrictEqual(conns.perRun, [0.9, 0.96, 0.99]);
  assert.deepStrictEqual(conns.perRunPassing, 2);
  // Medians: 970 / 1000.
  assert.deepStrictEqual(conns.outcome, "PASS");
  assert.match(
    formatTargets([conns])[0],
    /^PASS {2}FULLNAT >= 0\.95x NAT mode on connections\/s \(0\.97x, bar 0\.95x; run by run 0\.90-0\.99x, 2\/3 pass\)$/,
  );
  // "Above" is strict run by run too; a single run prints no spread.
  const equal = evaluateTargets(
    new Map([["haproxy", runs([1000, 1000])], ["fullnat", runs([1000, 1001])]]),
  ).find((t) => t.name.startsWith("FULLNAT connections/s above HAProxy"))!;
  assert.deepStrictEqual(equal.perRunPassing, 1);
  assert.doesNotMatch(
    formatTargets(evaluateTargets(summaries({ nat: { cps: 1 }, fullnat: { cps: 1 } })))[1],
    /run by run/,
  );
});

Deno.test("evaluateTargets() skips a target whose figure failed for one side", () => {
  const res = evaluateTargets(summaries({
    nat: { cps: 1000 },
    fullnat: { gbps: 9, cps: 1000 },
  }));
  assert.deepStrictEqual(res[0].outcome, "SKIP");
  assert.match(res[0].reason ?? "", /gbps not measured for nat/);
  assert.deepStrictEqual(res[1].outcome, "PASS");
});

Deno.test("parseIperfTcp() reads the receiver's rate and reports iperf3's own error", () => {
  assert.deepStrictEqual(
    parseIperfTcp(JSON.stringify({ end: { sum_received: { bits_per_second: 5e9 } } })),
    5,
  );
  assert.throws(() => parseIperfTcp(JSON.stringify({ error: "unable to connect" })), /unable/);
  assert.throws(() => parseIperfTcp("garbage"), /no JSON/);
});

const WRK = `Running 2s test @ http://198.51.100.10:80/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms    2.10ms  40.00ms   95.00%
    Req/Sec     9.00k     1.00k   11.00k    70.00%
  Latency Distribution
     50%  800.00us
     75%    1.10ms
     90%    2.00ms
     99%    1.50s
  36000 requests in 2.00s, 5.00MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  17990.12
Transfer/sec:      2.50MB
`;

Deno.test("parseWrk() reads requests/s, p99 in ms and counts errors", () => {
  assert.deepStrictEqual(parseWrk(WRK), {
    requestsPerSec: 17990.12,
    p99Ms: 1500,
    errors: 20,
    requests: 36000,
  });
  assert.deepStrictEqual(parseWrk(WRK.replace("1.50s", "750.00us")).p99Ms, 0.75);
  assert.throws(() => parseWrk("unable to connect to 198.51.100.10:80"), /unexpected wrk output/);
});

Deno.test("parseProcStatTicks() adds utime and stime past a command name with spaces", () => {
  const line = "4242 (deno (main) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 9 0";
  assert.deepStrictEqual(parseProcStatTicks(line), 175);
  assert.throws(() => parseProcStatTicks("nonsense"), /not a \/proc\/PID\/stat/);
});

Deno.test("parseSoftirqTicks() takes the aggregate cpu line's softirq column", () => {
  const text = "cpu  10 20 30 40 50 60 77 0 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\n";
  assert.deepStrictEqual(parseSoftirqTicks(text), 77);
  assert.throws(() => parseSoftirqTicks("intr 1 2 3\n"), /no aggregate cpu line/);
});

function rows(): Row[] {
  return [
    {
      id: "haproxy",
      label: "HAProxy <tcp>",
      summary: summarize([sample({ gbps: 4, cps: 9000, unsupported: ["udp", "burst"] })]),
    },
    {
      id: "passthrough",
      label: "pass-through",
      summary: summarize([sample({ gbps: 8, cps: 12000, kpps: 150, burstKpps: 300 })]),
    },
    {
      id: "fullnat",
      label: "fullnat",
      summary: summarize([sample({ gbps: 7, errors: ["conns: wrk exited 1"] })]),
    },
  ];
}

Deno.test("cell() says n/a for an unsupported workload, failed for a failed one, – for one not run", () => {
  const [h, , f] = rows();
  assert.deepStrictEqual(cell(h.summary, "kpps", 1), "n/a");
  assert.deepStrictEqual(cell(f.summary, "cps", 0), "failed");
  assert.deepStrictEqual(cell(f.summary, "kpps", 1), "–");
  const broken = summarize([sample({ errors: ["setup: daemon exited 1"] })]);
  assert.deepStrictEqual(cell(broken, "kpps", 1), "failed");
  assert.deepStrictEqual(cell(h.summary, "gbps", 2), "4.00");
  assert.deepStrictEqual(
    figuresTable(rows())[2],
    "| HAProxy <tcp> | 4.00 | – | 9000 | – | n/a | n/a |",
  );
});

Deno.test("renderChart() draws one bar per measured value and escapes labels", () => {
  const svg = renderChart(rows(), "1 run & 2 s");
  assert.ok(svg.startsWith("<svg "));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  // 3 gbps + 2 cps + 1 kpps + 1 burst
  assert.deepStrictEqual(svg.match(/<rect x=/g)?.length, 7);
  assert.ok(svg.includes("HAProxy &#60;tcp&#62;"));
  assert.ok(svg.includes("1 run &#38; 2 s"));
  assert.ok(!svg.includes("<tcp>"));
  assert.match(svg, />n\/a</);
  assert.match(svg, />failed</);
});

function input(): ReportInput {
  const r = rows();
  return {
    rows: r,
    baselines: [{ name: "pass", summary: r[1].summary }],
    targets: evaluateTargets(new Map(r.map((x) => [x.id, x.summary]))),
    setup: "1 run",
    environment: ["machine: test"],
    command: "deno run -A bench/peers/run.ts --quick",
  };
}

Deno.test("replaceReadmeBlock() replaces only the text between the markers", () => {
  const readme =
    `# x\n\n## Benchmark\n\nintro\n${README_BEGIN}\nold table\n${README_END}\n\n## Next\n`;
  const out = replaceReadmeBlock(readme, readmeBlock(input()));
  assert.ok(out.startsWith("# x\n\n## Benchmark\n\nintro\n" + README_BEGIN + "\n"));
  assert.ok(out.endsWith(`${README_END}\n\n## Next\n`));
  assert.ok(!out.includes("old table"));
  assert.ok(out.includes("| pass-through | 8.00 | – | 12000 |"));
  assert.throws(() => replaceReadmeBlock("# no markers\n", ["x"]), /no .* block to replace/);
});

Deno.test("benchmarkMarkdown() holds the tables, ratios, targets and failures", () => {
  const md = benchmarkMarkdown(input());
  assert.match(md, /\| fullnat \| 0\.88x \| – \|/);
  assert.match(md, /SKIP {2}FULLNAT >= 0\.95x NAT mode on throughput \(peer nat not run\)/);
  assert.match(md, /- fullnat: conns: wrk exited 1/);
});

Deno.test("ratiosTable() has a column per figure and baseline, – where a baseline lacks it", () => {
  const r = rows();
  const t = ratiosTable(r, [
    { name: "pass", summary: r[1].summary },
    { name: "returned", summary: summarize([sample({ gbps: 3.5 })]) },
  ]);
  assert.deepStrictEqual(
    t[0],
    "| peer | bulk / pass | bulk / returned | download / pass | download / returned | " +
      "conn/s / pass | conn/s / returned | UDP / pass | UDP / returned | burst / pass | " +
      "burst / returned |",
  );
  assert.deepStrictEqual(t[4], "| fullnat | 0.88x | 2.00x | – | – | – | – | – | – | – | – |");
});

Deno.test("parseIdleTicks() counts idle and iowait as idle out of all ticks", () => {
  assert.deepStrictEqual(
    parseIdleTicks("cpu  100 5 50 800 20 0 25 0 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\n"),
    { idle: 820, total: 1000 },
  );
  assert.throws(() => parseIdleTicks("intr 1\n"), /no aggregate cpu line/);
});

Deno.test("evaluateTargets() holds FULLNAT with offload to kernel conntrack NAT", () => {
  const res = evaluateTargets(summaries({
    conntrack: { gbpsDown: 10, cps: 1000 },
    "fullnat-offload": { gbpsDown: 9.5, cps: 800 },
  }));
  const by = Object.fromEntries(res.map((r) => [r.name, r]));
  const bulk = by["FULLNAT offload >= 0.9x kernel conntrack NAT on download throughput"];
  assert.deepStrictEqual([bulk.outcome, bulk.ratio], ["PASS", 0.95]);
  const conns = by["FULLNAT offload >= 0.85x kernel conntrack NAT on connections/s"];
  assert.deepStrictEqual([conns.outcome, conns.ratio], ["FAIL", 0.8]);
  const skipped = evaluateTargets(summaries({ conntrack: { gbpsDown: 10 } }))
    .find((t) => t.name.startsWith("FULLNAT offload >= 0.9x"))!;
  assert.deepStrictEqual([skipped.outcome, skipped.reason], [
    "SKIP",
    "peer fullnat-offload not run",
  ]);
});

Deno.test("perConnection() divides the daemon's counter deltas by the sessions created", () => {
  const before = {
    engine: { sessionsCreated: 100, offloaded: 1 },
    queue: { received: 1000, batches: 50 },
  };
  const after = {
    engine: { sessionsCreated: 300, offloaded: 51, offloadFallback: 4 },
    queue: { received: 3000, batches: 150 },
    offload: { step: { requests: 60 } },
  };
  assert.deepStrictEqual(perConnection(before, after), {
    sessions: 200,
    queued: 10,
    batches: 0.5,
    offloaded: 0.25,
    fallback: 0.02,
    requests: 0.3,
  });
  // No session created: the deltas are per one, not a division by zero.
  assert.deepStrictEqual(perConnection(before, before).queued, 0);
});
