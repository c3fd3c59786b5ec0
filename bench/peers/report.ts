/**
 * Markdown tables of a benchmark: the figures, the ratios against the pass-through and
 * against NAT mode, the CPU, the targets, and what failed.
 *
 * @module
 */

import type { Figure, Summary, Workload } from "./results.ts";
import { ratio, runsMeasured } from "./results.ts";
import { formatTargets, type TargetResult } from "./targets.ts";

/** One row of the tables: a peer's id, its label and its medians. */
export interface Row {
  id: string;
  label: string;
  summary: Summary;
}

/** The workload that produces each figure. */
export const WORKLOAD_OF: Record<Figure, Workload> = {
  gbps: "bulk",
  gbpsDown: "download",
  cps: "conns",
  p99Ms: "conns",
  kpps: "udp",
  burstKpps: "burst",
};

/**
 * A figure's cell: the median, `n/a` (unsupported), `failed` (its workload or the peer's
 * setup failed), or `–` (not run).
 */
export function cell(s: Summary, f: Figure, digits: number): string {
  const v = s.median[f];
  if (v !== undefined) {
    const text = v.toFixed(digits);
    const measured = runsMeasured(s, f);
    return measured < s.runs ? `${text} (${measured}/${s.runs} runs)` : text;
  }
  const w = WORKLOAD_OF[f];
  if (s.unsupported.includes(w)) return "n/a";
  return s.errors.some((e) => e.startsWith(`${w}:`) || e.startsWith("setup:")) ? "failed" : "–";
}

function ratioCell(a: number | undefined, b: number | undefined): string {
  const r = ratio(a, b);
  return r === undefined ? "–" : `${r.toFixed(2)}x`;
}

function table(head: string[], rows: string[][]): string[] {
  const align = head.map((_, i) => (i === 0 ? "---" : "---:"));
  return [head, align, ...rows].map((r) => `| ${r.join(" | ")} |`);
}

/** The main table: medians of every figure, one row per peer. */
export function figuresTable(rows: readonly Row[]): string[] {
  return table(
    [
      "peer",
      "bulk TCP Gbit/s",
      "download Gbit/s",
      "new conn/s",
      "p99 latency ms",
      "UDP kpkt/s",
      "UDP burst drained kpkt/s",
    ],
    rows.map((r) => [
      r.label,
      cell(r.summary, "gbps", 2),
      cell(r.summary, "gbpsDown", 2),
      cell(r.summary, "cps", 0),
      cell(r.summary, "p99Ms", 2),
      cell(r.summary, "kpps", 1),
      cell(r.summary, "burstKpps", 1),
    ]),
  );
}

/** A peer the ratios divide by: its short name in the column heads and its medians. */
export interface Baseline {
  name: string;
  summary: Summary | undefined;
}

/** Ratios of each peer's medians to each baseline's (pass-through, NAT mode, ...). */
export function ratiosTable(rows: readonly Row[], baselines: readonly Baseline[]): string[] {
  const figs: Array<[Figure, string]> = [
    ["gbps", "bulk"],
    ["gbpsDown", "download"],
    ["cps", "conn/s"],
    ["kpps", "UDP"],
    ["burstKpps", "burst"],
  ];
  const head = ["peer"];
  for (const [, name] of figs) for (const b of baselines) head.push(`${name} / ${b.name}`);
  return table(
    head,
    rows.map((r) => {
      const cells = [r.label];
      for (const [f] of figs) {
        for (const b of baselines) {
          cells.push(ratioCell(r.summary.median[f], b.summary?.median[f]));
        }
      }
      return cells;
    }),
  );
}

function pct(x: number | undefined): string {
  return x === undefined ? "–" : `${(x * 100).toFixed(0)}%`;
}

/**
 * CPU per workload: the balancer's processes and the machine's softirq time, in percent of
 * one core, plus the balancer's process CPU per connection.
 */
export function cpuTable(rows: readonly Row[]): string[] {
  return table(
    [
      "peer",
      "balancer bulk",
      "balancer download",
      "balancer conns",
      "balancer UDP",
      "balancer burst",
      "softirq bulk",
      "softirq conns",
      "softirq UDP",
      "balancer µs/conn",
    ],
    rows.map((r) => {
      const c = r.summary.cpu;
      const cps = r.summary.median.cps;
      const perConn = c.conns !== undefined && cps !== undefined && cps > 0
        ? (c.conns.proc / cps * 1e6).toFixed(1)
        : "–";
      return [
        r.label,
        pct(c.bulk?.proc),
        pct(c.download?.proc),
        pct(c.conns?.proc),
        pct(c.udp?.proc),
        pct(c.burst?.proc),
        pct(c.bulk?.softirq),
        pct(c.conns?.softirq),
        pct(c.udp?.softirq),
        perConn,
      ];
    }),
  );
}

/** The target lines, as a fenced block. */
export function targetsBlock(results: readonly TargetResult[]): string[] {
  return ["```", ...formatTargets(results), "```"];
}

/** Every peer's errors, as a list (empty when none). */
export function errorsList(rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) for (const e of r.summary.errors) out.push(`- ${r.label}: ${e}`);
  return out;
}
